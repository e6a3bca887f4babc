"""The Litestar application: routes, dependencies, problem details, and a lifespan that
finds (or starts) the database, migrates it and starts the journal writers. No logic."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, get
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from api.controllers.chart import GLAccountController
from api.controllers.closures import AccountingClosureController
from api.controllers.journal import JournalEntryController
from api.controllers.offices import OfficeController
from api.controllers.reports import ReportController
from api.controllers.simulations import LoanSimulationController
from api.deps import provide_actor, provide_idempotency_key, provide_journal, provide_uow_factory
from api.errors import EXCEPTION_HANDLERS
from servicing.config import Settings
from servicing.database import Database
from servicing.journal import JournalService
from servicing.unit_of_work import UnitOfWorkFactory

REQUEST_BODY_BYTES_MAX = 8 * 1024 * 1024


@get("/health", tags=["System"], summary="Liveness")
async def health() -> dict[str, str]:
    return {"status": "ok"}


def create_app(settings: Settings | None = None, *, database: Database | None = None, migrate: bool = True) -> Litestar:
    settings = settings or Settings.from_environment()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        located = database or await Database.locate(settings)
        if migrate and not os.environ.get("GRANDLIVRE_SKIP_MIGRATIONS"):
            await located.migrate_async()
        engine = located.app_engine()
        uow_factory = UnitOfWorkFactory(engine)
        journal = JournalService(uow_factory, idempotency_retention_days=settings.idempotency_retention_days)
        await journal.start()
        app.state.uow_factory = uow_factory
        app.state.journal = journal
        try:
            yield
        finally:
            await journal.aclose()
            await engine.dispose()

    return Litestar(
        route_handlers=[
            health, OfficeController, GLAccountController, JournalEntryController, AccountingClosureController,
            ReportController, LoanSimulationController,
        ],
        dependencies={
            "uow_factory": Provide(provide_uow_factory, sync_to_thread=False),
            "journal": Provide(provide_journal, sync_to_thread=False),
            "actor": Provide(provide_actor, sync_to_thread=False),
            "header_idempotency_key": Provide(provide_idempotency_key, sync_to_thread=False),
        },
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(title="Grand Livre", version="0.1.0", path="/schema"),
        request_max_body_size=REQUEST_BODY_BYTES_MAX,
    )
