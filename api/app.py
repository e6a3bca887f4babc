"""The Litestar application: routes, dependencies, problem details, the permission guard,
the audit hook, and a lifespan that finds (or starts) the database, migrates it and starts
the journal and audit writers. No logic."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, Router, get
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from api.asgi import GrandLivre
from api.audit_hook import before_send
from api.controllers.approvals import ApprovalController, ApprovalRuleController
from api.controllers.audit import AuditLogController
from api.controllers.auth import AuthController
from api.controllers.business_days import BusinessDaysController
from api.controllers.chart import GLAccountController
from api.controllers.clients import ClientController, KycRequirementController
from api.controllers.closures import AccountingClosureController
from api.controllers.deposits import DEPOSIT_ROUTES
from api.controllers.journal import JournalEntryController
from api.controllers.loan_deposits import LOAN_DEPOSIT_CONTROLLERS
from api.controllers.loan_rescheduling import LoanReschedulingController
from api.controllers.loan_write_offs import LoanWriteOffController, ProvisioningReportController
from api.controllers.loans import LOAN_CONTROLLERS
from api.controllers.offices import OfficeController
from api.controllers.outbox import OutboxController
from api.controllers.portfolio_risk import PortfolioRiskController
from api.controllers.products import PRODUCT_ROUTES
from api.controllers.reference import REFERENCE_CONTROLLERS
from api.controllers.reports import ReportController
from api.controllers.simulations import LoanSimulationController
from api.controllers.term_deposits import TermDepositController, TermDepositReconciliationController
from api.controllers.users import RoleController, UserController
from api.controllers.year_end import YearEndCloseController
from api.deps import (
    provide_actor,
    provide_auth,
    provide_idempotency_key,
    provide_journal,
    provide_maker_checker,
    provide_office_scope,
    provide_principal,
    provide_uow_factory,
)
from api.errors import EXCEPTION_HANDLERS
from api.guards import PUBLIC, permission_middleware
from servicing.clients.documents import DocumentConfig
from servicing.config import Settings
from servicing.database import Database
from servicing.deposits.approvals import approvable_movements
from servicing.deposits.movements import MovementWriter
from servicing.heap import freeze_startup_heap
from servicing.journal import JournalService
from servicing.loans.repayment_writer import RepaymentWriter
from servicing.staff.approvable import journal_entry_posting
from servicing.staff.audit import AuditWriter
from servicing.staff.config import StaffSettings
from servicing.staff.maker_checker import MakerChecker
from servicing.staff.passwords import PasswordHashing
from servicing.staff.sessions import AuthService
from servicing.unit_of_work import UnitOfWorkFactory

REQUEST_BODY_BYTES_MAX = 8 * 1024 * 1024


@get("/health", tags=["System"], summary="Liveness", opt=PUBLIC, security=[])
async def health() -> dict[str, str]:
    return {"status": "ok"}


def _cors() -> CORSConfig | None:
    """CORS is closed unless GRANDLIVRE_CORS_ORIGINS lists the origins of a staff front end."""
    origins = [o.strip() for o in os.environ.get("GRANDLIVRE_CORS_ORIGINS", "").split(",") if o.strip()]
    return CORSConfig(allow_origins=origins, allow_credentials=False, allow_headers=["Authorization", "Content-Type",
                      "Idempotency-Key"]) if origins else None


def create_served_app() -> GrandLivre:
    """The application `grandlivre serve` runs: once started, its start-up heap is frozen
    (`servicing.heap`)."""
    return create_app(freeze_heap=True)


def create_app(settings: Settings | None = None, *, database: Database | None = None, migrate: bool = True,
               staff_settings: StaffSettings | None = None, freeze_heap: bool = False) -> GrandLivre:
    settings = settings or Settings.from_environment()
    staff_settings = staff_settings or StaffSettings.from_environment()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        located = database or await Database.locate(settings)
        if migrate and not os.environ.get("GRANDLIVRE_SKIP_MIGRATIONS"):
            await located.migrate_async()
        engine = located.app_engine()
        uow_factory = UnitOfWorkFactory(engine)
        journal = JournalService(uow_factory, idempotency_retention_days=settings.idempotency_retention_days)
        await journal.start()
        audit_writer = AuditWriter(engine)
        await audit_writer.start()
        maker_checker = MakerChecker(uow_factory)
        maker_checker.register(journal_entry_posting(journal))
        for approvable in approvable_movements(uow_factory):
            maker_checker.register(approvable)
        hashing = PasswordHashing(memory_kib=staff_settings.argon2_memory_kib, time_cost=staff_settings.argon2_time_cost)
        app.state.uow_factory = uow_factory
        app.state.journal = journal
        app.state.auth = AuthService(uow_factory, staff_settings, hashing)
        app.state.audit_writer = audit_writer
        app.state.maker_checker = maker_checker
        app.state.client_documents = DocumentConfig.from_settings(settings)
        app.state.deposit_writer = MovementWriter(uow_factory)
        app.state.loan_repayments = RepaymentWriter(uow_factory)
        if freeze_heap:
            freeze_startup_heap()
        try:
            yield
        finally:
            await app.state.deposit_writer.aclose()
            await app.state.loan_repayments.aclose()
            await audit_writer.aclose()
            await journal.aclose()
            await engine.dispose()

    return GrandLivre(
        route_handlers=[
            health, OfficeController, GLAccountController, JournalEntryController, AccountingClosureController,
            ReportController, YearEndCloseController, BusinessDaysController, OutboxController, PortfolioRiskController, LoanSimulationController, *PRODUCT_ROUTES,
            AuthController, UserController, RoleController, ApprovalController, ApprovalRuleController, AuditLogController,
            ClientController, KycRequirementController, *DEPOSIT_ROUTES, TermDepositController,
            TermDepositReconciliationController, *LOAN_CONTROLLERS, LoanReschedulingController, *LOAN_DEPOSIT_CONTROLLERS,
            *REFERENCE_CONTROLLERS, LoanWriteOffController, ProvisioningReportController,
        ],
        dependencies={
            "uow_factory": Provide(provide_uow_factory, sync_to_thread=False),
            "journal": Provide(provide_journal, sync_to_thread=False),
            "actor": Provide(provide_actor, sync_to_thread=False),
            "principal": Provide(provide_principal, sync_to_thread=False),
            "office_scope": Provide(provide_office_scope, sync_to_thread=False),
            "auth": Provide(provide_auth, sync_to_thread=False),
            "maker_checker": Provide(provide_maker_checker, sync_to_thread=False),
            "header_idempotency_key": Provide(provide_idempotency_key, sync_to_thread=False),
        },
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=[lifespan],
        middleware=[permission_middleware],
        before_send=[before_send],
        cors_config=_cors(),
        openapi_config=OpenAPIConfig(
            title="Grand Livre", version="0.1.0", path="/schema",
            openapi_router=Router("/schema", route_handlers=[], include_in_schema=False, opt=PUBLIC),
            components=Components(security_schemes={"BearerToken": SecurityScheme(
                type="http", scheme="bearer", description="Access token from POST /api/v1/auth/sign-in")}),
            security=[{"BearerToken": []}],
        ),
        request_max_body_size=REQUEST_BODY_BYTES_MAX,
    )
