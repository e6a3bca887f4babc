"""Loan applications: record (terms derived from the product and frozen), pre-check every
eligibility rule, submit, and decide (approve per validation level, reject with reasons,
undo an approval before disbursement).

The maker-checker rule is the application's own workflow: whoever recorded the application
never decides on it, and each validation level (reference data: amount bands, the staff role
that decides them) is approved by a different user holding that level's role. Levels chain:
an amount needs every level whose lower bound it reaches, lowest first, so a large loan goes
through the branch before the credit committee.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Final

import msgspec
from sqlalchemy import func, select, text

from ledger.errors import LedgerError
from ledger.money import check_amount
from products.errors import ProductError
from products.loans.apr import AprMethod, compute_apr, periods_per_year
from products.loans.eligibility import (
    EligibilityFacts,
    Guarantee,
    Outcome,
    blocking_failures,
    check_eligibility,
)
from products.loans.errors import TermsError
from products.loans.model import Schedule
from products.loans.product import LoanProduct, LoanTermOverrides
from products.loans.requirements import LoanRequirements, loan_requirements
from products.loans.schedule import generate_schedule
from products.loans.terms import LoanTerms
from products.loans.tranches import trimmed_plan
from products.posting_rules import ProductKind
from products.reference.db.tables import (
    ActivitySectorRow,
    DecisionReasonRow,
    LoanPurposeRow,
    ValidationLevelRow,
)
from servicing.clients import kyc
from servicing.errors import Conflict, InvalidInput, NotFound
from servicing.loans.db.tables import LoanDecisionRow, LoanGuarantorRow, LoanRow
from servicing.loans.deposit_link import deposits_available
from servicing.loans.model import (
    CO_SIGNERS_MAX,
    COLLATERAL_MAX,
    GUARANTORS_MAX,
    ApplicationDetails,
    Decision,
    GuarantorIn,
    LoanApplication,
    LoanRecord,
    LoanStatus,
    PreCheck,
)
from servicing.products.service import get_product, product_for_new_account
from servicing.products.terms import loan_terms_for
from servicing.reference.queries import credit_parameters_in_force, usury_cap_in_force
from servicing.staff.errors import PermissionDenied, SelfApprovalRefused
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWork, UnitOfWorkFactory

COUNTED_STATUSES: Final = ("submitted", "approved", "active")
"""Loans that count toward the per-client, per-product and per-guarantor limits."""
TEXT_MAX: Final = 1000


class EligibilityRefused(LedgerError):
    """Submission refused: `problems` lists every blocking rule that failed."""

    code = "loan-not-eligible"
    status_hint = 422

    def __init__(self, message: str, problems: list[dict[str, str]]) -> None:
        super().__init__(message, field=problems[0].get("field") if problems else None)
        self.problems = problems


class Checker(msgspec.Struct, frozen=True, kw_only=True):
    """Who decides: their name and user id (to compare with the maker and earlier levels)."""

    username: str
    user_id: int


# --------------------------------------------------------------------------- helpers

def _overrides(app: LoanApplication) -> LoanTermOverrides:
    return LoanTermOverrides(
        disbursement_date=app.expected_disbursement_date, principal_amount=app.principal_amount,
        repayment_count=app.repayment_count, interest_rate_percent=app.interest_rate_percent,
        repayment_every=app.repayment_every, first_repayment_date=app.first_repayment_date,
        grace_on_principal_periods=app.grace_on_principal_periods,
        grace_on_interest_payment_periods=app.grace_on_interest_payment_periods, tranches=app.tranches)


def _api_field(field: str | None) -> str | None:
    """The product names the officer's choices ``overrides.<term>``; the application names them ``<term>``."""
    if field is not None and field.startswith("overrides."):
        return field.removeprefix("overrides.")
    return field


def _renamed(error: LedgerError) -> LedgerError:
    error.field = _api_field(error.field)
    return error


def _check_amounts(app: LoanApplication, currency: str) -> None:
    check_amount(app.principal_amount, currency, field="principal_amount")
    if len(app.guarantors) > GUARANTORS_MAX:
        raise InvalidInput(f"at most {GUARANTORS_MAX} guarantors", field="guarantors")
    if len(app.details.collateral) > COLLATERAL_MAX:
        raise InvalidInput(f"at most {COLLATERAL_MAX} collateral items", field="collateral")
    if len(app.details.co_signers) > CO_SIGNERS_MAX or len(set(app.details.co_signers)) != len(app.details.co_signers):
        raise InvalidInput(f"at most {CO_SIGNERS_MAX} distinct co-signers", field="co_signers")
    for index, guarantor in enumerate(app.guarantors):
        check_amount(guarantor.amount, currency, field=f"guarantors[{index}].amount")
        if (guarantor.client_id is None) == (guarantor.name is None):
            raise InvalidInput("a guarantor is either a client (client_id) or an outsider (name)",
                               field=f"guarantors[{index}]")
        if guarantor.client_id == app.client_id:
            raise InvalidInput("the borrower cannot guarantee their own loan", field=f"guarantors[{index}].client_id")
    for index, item in enumerate(app.details.collateral):
        check_amount(item.value, currency, field=f"collateral[{index}].value")
    if app.client_id in app.details.co_signers:
        raise InvalidInput("the borrower cannot co-sign their own loan", field="co_signers")


async def _client(uow: UnitOfWork, client_id: int, scope: OfficeScope | None, field: str = "client_id") -> Any:
    row = (await uow.session.execute(text(
        "SELECT c.id, c.office_id, c.status, c.client_type, c.income_monthly, c.income_currency, "
        "EXISTS (SELECT 1 FROM client_group_member m WHERE m.member_id = c.id) AS group_member "
        "FROM client c WHERE c.id = :id"), {"id": client_id})).one_or_none()
    if row is None or (scope is not None and not scope.includes(row.office_id)):
        raise NotFound(f"no client {client_id}", field=field)
    return row


async def _check_references(uow: UnitOfWork, app: LoanApplication) -> None:
    session = uow.session
    for index, guarantor in enumerate(app.guarantors):
        if guarantor.client_id is not None:
            await _client(uow, guarantor.client_id, None, f"guarantors[{index}].client_id")
    for index, co_signer in enumerate(app.details.co_signers):
        await _client(uow, co_signer, None, f"co_signers[{index}]")
    for row_type, value, field in ((LoanPurposeRow, app.details.loan_purpose_id, "loan_purpose_id"),
                                   (ActivitySectorRow, app.details.activity_sector_id, "activity_sector_id")):
        if value is not None:
            active = await session.scalar(select(row_type.active).where(row_type.id == value))
            if not active:
                raise InvalidInput(f"no active {field.removesuffix('_id').replace('_', ' ')} {value}", field=field)


async def _derive(uow_factory: UnitOfWorkFactory, app: LoanApplication, cycle: int, office_id: int,
                  version: int) -> LoanTerms:
    try:
        derived = await loan_terms_for(uow_factory(), app.product_id, _overrides(app), cycle, version=version,
                                       office_id=office_id)
    except (ProductError, TermsError) as error:
        raise _renamed(error) from error
    return derived.terms


async def _next_cycle(uow: UnitOfWork, client_id: int, product_id: int, exclude: int | None) -> int:
    done = await uow.session.scalar(select(func.count()).select_from(LoanRow).where(
        LoanRow.client_id == client_id, LoanRow.product_id == product_id, LoanRow.status.in_(("active", "closed")),
        LoanRow.id != (exclude or 0)))
    return int(done or 0) + 1


def _monthly(terms: LoanTerms, schedule: Schedule) -> Decimal:
    """The first full instalment expressed per month (weekly x 52 / 12...), for the debt ratio."""
    amount = max((row.total_amount for row in schedule.instalments), default=Decimal(0))
    return (amount * periods_per_year(terms) / 12).quantize(Decimal(1))


# --------------------------------------------------------------------------- record

async def create_application(uow_factory: UnitOfWorkFactory, app: LoanApplication, *, actor: str, actor_user_id: int,
                             scope: OfficeScope) -> LoanRecord:
    """Record an application (draft): the terms derived from the product's current version for
    the borrower's cycle and frozen; refusals name the field and nothing is written."""
    async with uow_factory() as uow:
        client = await _client(uow, app.client_id, scope)
    try:
        record = await product_for_new_account(uow_factory(), ProductKind.LOAN, app.product_id,
                                               app.expected_disbursement_date)
    except ProductError as error:
        raise _renamed(error) from error
    product = record.settings
    assert isinstance(product, LoanProduct)
    _check_amounts(app, product.currency)
    async with uow_factory() as uow:
        cycle = await _next_cycle(uow, app.client_id, app.product_id, None) if product.track_loan_cycle else 1
    terms = await _derive(uow_factory, app, min(cycle, 1000), client.office_id, record.version)
    requirements = loan_requirements(product, terms.principal_amount)
    async with uow_factory() as uow:
        await _check_references(uow, app)
        row = LoanRow(
            client_id=app.client_id, office_id=client.office_id, product_id=app.product_id,
            product_version=record.version, currency=product.currency, status=LoanStatus.DRAFT.value,
            loan_cycle=min(cycle, 1000), principal_requested=app.principal_amount,
            expected_disbursement_date=app.expected_disbursement_date,
            requested=msgspec.to_builtins(app), terms=msgspec.to_builtins(terms),
            details=msgspec.to_builtins(app.details), requirements=msgspec.to_builtins(requirements),
            maker_user_id=actor_user_id, created_by=actor, updated_by=actor)
        uow.session.add(row)
        await uow.session.flush()
        for position, guarantor in enumerate(app.guarantors):
            uow.session.add(LoanGuarantorRow(loan_id=row.id, position=position, client_id=guarantor.client_id,
                                             name=guarantor.name, amount=guarantor.amount))
        await uow.session.flush()
        loan = await load_record(uow, row.id)
        await uow.commit()
    return loan


# --------------------------------------------------------------------------- read

def _decision(row: LoanDecisionRow) -> Decision:
    return Decision(decision=row.decision, level_order=row.level_order, level_label=row.level_label,
                    principal_approved=row.principal_approved, reason_ids=tuple(row.reason_ids), note=row.note,
                    decided_by=row.decided_by, decided_at=row.decided_at)


def _plain(value: Decimal) -> Decimal:
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


async def load_record(uow: UnitOfWork, loan_id: int, *, scope: OfficeScope | None = None,
                      for_update: bool = False) -> LoanRecord:
    row = await load_row(uow, loan_id, scope=scope, for_update=for_update)
    guarantors = (await uow.session.scalars(select(LoanGuarantorRow).where(
        LoanGuarantorRow.loan_id == loan_id).order_by(LoanGuarantorRow.position))).all()
    decisions = (await uow.session.scalars(select(LoanDecisionRow).where(
        LoanDecisionRow.loan_id == loan_id).order_by(LoanDecisionRow.id))).all()
    return LoanRecord(
        loan_id=row.id, client_id=row.client_id, office_id=row.office_id, product_id=row.product_id,
        product_version=row.product_version, currency=row.currency.strip(), status=LoanStatus(row.status),
        loan_cycle=row.loan_cycle, principal_requested=_plain(row.principal_requested),
        principal_approved=_plain(row.principal_approved) if row.principal_approved is not None else None,
        expected_disbursement_date=row.expected_disbursement_date,
        terms=msgspec.convert(row.terms, LoanTerms), requirements=msgspec.convert(row.requirements, LoanRequirements),
        guarantors=tuple(GuarantorIn(client_id=g.client_id, name=g.name, amount=_plain(g.amount)) for g in guarantors),
        details=msgspec.convert(row.details, ApplicationDetails), approval_levels_done=row.approval_levels,
        decisions=tuple(_decision(d) for d in decisions), disbursed_on=row.disbursed_on,
        schedule=msgspec.convert(row.schedule, Schedule) if row.schedule is not None else None,
        created_at=row.created_at, created_by=row.created_by, submitted_at=row.submitted_at,
        submitted_by=row.submitted_by, booked_classification=row.booked_classification, term_bucket=row.term_bucket)


async def load_row(uow: UnitOfWork, loan_id: int, *, scope: OfficeScope | None = None,
                   for_update: bool = False) -> LoanRow:
    """The loan's row (locked when asked); a loan outside the user's offices is unknown to them."""
    statement = select(LoanRow).where(LoanRow.id == loan_id)
    if for_update:
        statement = statement.with_for_update()
    row = await uow.session.scalar(statement)
    if row is None or (scope is not None and not scope.includes(row.office_id)):
        raise NotFound(f"no loan {loan_id}", field="loan_id")
    return row


async def get_loan(uow: UnitOfWork, loan_id: int, *, scope: OfficeScope) -> LoanRecord:
    async with uow:
        return await load_record(uow, loan_id, scope=scope)


async def list_loans(uow: UnitOfWork, *, office_id: int, status: Sequence[LoanStatus] | None = None,
                     client_id: int | None = None, after_id: int = 0, limit: int = 50) -> list[LoanRecord]:
    """Loans of an office and its branches, by id, from ``after_id``."""
    async with uow:
        statement = select(LoanRow.id).where(
            LoanRow.id > after_id,
            text(f"loan.office_id IN (SELECT o.id FROM office o WHERE {int(office_id)} = ANY(o.lineage))"),
        ).order_by(LoanRow.id).limit(limit)
        if status:
            statement = statement.where(LoanRow.status.in_([s.value for s in status]))
        if client_id is not None:
            statement = statement.where(LoanRow.client_id == client_id)
        ids = (await uow.session.scalars(statement)).all()
        return [await load_record(uow, loan_id) for loan_id in ids]


def application_of(record: LoanRecord) -> LoanApplication:
    """The application as recorded, with the amount now under decision."""
    terms = record.terms
    return LoanApplication(
        client_id=record.client_id, product_id=record.product_id,
        expected_disbursement_date=record.expected_disbursement_date,
        principal_amount=record.principal_approved or record.principal_requested,
        repayment_count=terms.repayment_count, interest_rate_percent=terms.interest_rate_percent,
        repayment_every=terms.repayment_every, first_repayment_date=terms.first_repayment_date,
        grace_on_principal_periods=terms.grace_on_principal_periods,
        grace_on_interest_payment_periods=terms.grace_on_interest_payment_periods, tranches=terms.tranches,
        guarantors=record.guarantors, details=record.details)


# --------------------------------------------------------------------------- eligibility

async def pre_check(uow_factory: UnitOfWorkFactory, app: LoanApplication, *, scope: OfficeScope,
                    loan_id: int | None = None, version: int | None = None) -> PreCheck:
    """Every eligibility rule for this application (recorded or not), without writing anything."""
    async with uow_factory() as uow:
        client = await _client(uow, app.client_id, scope)
    if version is None:
        try:
            version = (await product_for_new_account(uow_factory(), ProductKind.LOAN, app.product_id,
                                                     app.expected_disbursement_date)).version
        except ProductError as error:
            raise _renamed(error) from error
    record = await get_product(uow_factory(), ProductKind.LOAN, app.product_id, version)
    product = record.settings
    assert isinstance(product, LoanProduct)
    _check_amounts(app, product.currency)
    async with uow_factory() as uow:
        cycle = await _next_cycle(uow, app.client_id, app.product_id, loan_id) if product.track_loan_cycle else 1
    terms: LoanTerms | None = None
    problem: LedgerError | None = None
    try:
        terms = await _derive(uow_factory, app, min(cycle, 1000), client.office_id, version)
    except (ProductError, TermsError) as error:
        problem = error
    report = await kyc.kyc_report(uow_factory(), app.client_id, on=app.expected_disbursement_date)
    kyc_missing = report.missing_fields + tuple(" or ".join(alts) for alts in report.missing_documents)
    requirements = loan_requirements(product, app.principal_amount) if terms is not None else None
    async with uow_factory() as uow:
        facts = await _facts(uow, app, product, client, terms, problem, requirements, loan_id,
                             report.complete, kyc_missing)
    results = check_eligibility(facts)
    return PreCheck(eligible=not blocking_failures(results), rules=results)


async def _facts(uow: UnitOfWork, app: LoanApplication, product: LoanProduct, client: Any, terms: LoanTerms | None,
                 problem: LedgerError | None, requirements: LoanRequirements | None, loan_id: int | None,
                 kyc_complete: bool, kyc_missing: tuple[str, ...]) -> EligibilityFacts:
    session = uow.session
    exclude = loan_id or 0
    held_versions = (await session.execute(select(LoanRow.product_id, LoanRow.product_version).where(
        LoanRow.client_id == app.client_id, LoanRow.status.in_(COUNTED_STATUSES), LoanRow.id != exclude))).all()
    held = [product_id for product_id, _version in held_versions]
    # The mix works both ways: this product may exclude a held one, or a held one exclude this.
    restricted = {p for p in held if p in product.product_mix.restricted_product_ids}
    for held_id, held_version in set(held_versions):
        if app.product_id in (await get_product_in(uow, held_id, held_version)).product_mix.restricted_product_ids:
            restricted.add(held_id)
    guarantees = []
    for guarantor in app.guarantors:
        count = 0
        if guarantor.client_id is not None:
            count = int(await session.scalar(
                select(func.count()).select_from(LoanGuarantorRow).join(LoanRow, LoanRow.id == LoanGuarantorRow.loan_id)
                .where(LoanGuarantorRow.client_id == guarantor.client_id, LoanRow.status.in_(COUNTED_STATUSES),
                       LoanRow.id != exclude)) or 0)
        guarantees.append(Guarantee(client_id=guarantor.client_id, amount=guarantor.amount, loans_guaranteed=count))
    parameters = await credit_parameters_in_force(session)
    cap = None
    if parameters is not None:
        cap_row = await usury_cap_in_force(session, parameters[1].institution_type, app.expected_disbursement_date)
        cap = _plain(cap_row.rate_annual_percent) if cap_row is not None else None
    apr = monthly = None
    if terms is not None:
        schedule = generate_schedule(terms)
        apr = compute_apr(terms, schedule).annual_percent(AprMethod.ACTUARIAL)
        # The debt ratio counts what the client already repays each month on their active loans.
        active = (await session.execute(select(LoanRow.terms, LoanRow.schedule).where(
            LoanRow.client_id == app.client_id, LoanRow.status == LoanStatus.ACTIVE.value,
            LoanRow.id != exclude))).all()
        monthly = _monthly(terms, schedule) + sum(
            (_monthly(msgspec.convert(t, LoanTerms), msgspec.convert(s, Schedule)) for t, s in active if s is not None),
            Decimal(0))
    analysis = requirements.financial_analysis if requirements is not None else product.financial_analysis
    limits = product.limits

    def tighter(own: int | None, institution: int | None) -> int | None:
        values = [v for v in (own, institution) if v is not None]
        return min(values) if values else None

    general = parameters[1] if parameters is not None else None
    income = client.income_monthly if client.income_currency is None or client.income_currency.strip() == product.currency else None
    return EligibilityFacts(
        currency=product.currency, principal=app.principal_amount,
        terms_problem=problem.message if problem is not None else None,
        terms_problem_field=_api_field(problem.field) if problem is not None else None,
        client_status=client.status, client_is_group=client.client_type == "group",
        group_lending=product.group_lending.value, client_is_group_member=bool(client.group_member),
        kyc_complete=kyc_complete, kyc_missing=kyc_missing,
        client_loans=len(held), client_loans_of_product=sum(1 for p in held if p == app.product_id),
        client_restricted_products=tuple(sorted(restricted)),
        loans_per_client_max=tighter(limits.loans_per_client_max, general.loans_per_client_max if general else None),
        loans_per_group_member_max=tighter(limits.loans_per_group_member_max,
                                           general.loans_per_group_member_max if general else None),
        loans_per_guarantor_max=tighter(limits.loans_per_guarantor_max,
                                        general.loans_per_guarantor_max if general else None),
        concurrent_loans_of_product_max=product.product_mix.concurrent_loans_max,
        requirements=requirements, guarantors=tuple(guarantees), co_signers=len(app.details.co_signers),
        collateral_value=sum((c.value for c in app.details.collateral), Decimal(0)),
        monthly_income=income, monthly_instalment=monthly,
        debt_ratio_max_percent=analysis.debt_ratio_max_percent if analysis is not None else None,
        apr_annual_percent=apr, usury_cap_percent=cap,
        product_apr_max_percent=analysis.apr_max_percent if analysis is not None else None,
        deposits_available=await deposits_available(uow, app.client_id, product.currency))


# --------------------------------------------------------------------------- workflow

async def submit(uow_factory: UnitOfWorkFactory, loan_id: int, *, actor: str, scope: OfficeScope) -> LoanRecord:
    """Draft -> submitted, refused (422 listing every failed blocking rule) while one fails."""
    async with uow_factory() as uow:
        record = await load_record(uow, loan_id, scope=scope)
    _require_status(record, (LoanStatus.DRAFT,), "submitted")
    check = await pre_check(uow_factory, application_of(record), scope=scope, loan_id=loan_id,
                            version=record.product_version)
    failed = [r for r in check.rules if r.blocking and r.outcome is Outcome.FAILED]
    if failed:
        raise EligibilityRefused(f"{len(failed)} eligibility rule(s) fail: {failed[0].rule}: {failed[0].reason}",
                                 [{"field": r.field or "loan_id", "code": r.rule, "message": r.reason} for r in failed])
    async with uow_factory() as uow:
        row = await load_row(uow, loan_id, for_update=True)
        if row.status != LoanStatus.DRAFT.value:
            raise Conflict(f"loan {loan_id} is {row.status}", field="loan_id")
        row.status = LoanStatus.SUBMITTED.value
        row.submitted_at = func.now()
        row.submitted_by = actor
        row.updated_at = func.now()
        row.updated_by = actor
        await uow.session.flush()
        loan = await load_record(uow, loan_id)
        await uow.commit()
    return loan


def _require_status(record: LoanRecord, allowed: tuple[LoanStatus, ...], action: str) -> None:
    if record.status not in allowed:
        names = " or ".join(s.value for s in allowed)
        raise Conflict(f"loan {record.loan_id} is {record.status.value}; only a {names} loan can be {action}",
                       field="loan_id")


async def _levels(uow: UnitOfWork, currency: str, amount: Decimal) -> list[ValidationLevelRow]:
    """Validation levels the amount reaches, lowest first (empty: a single approval)."""
    return list((await uow.session.scalars(select(ValidationLevelRow).where(
        ValidationLevelRow.active.is_(True), ValidationLevelRow.currency == currency,
        ValidationLevelRow.amount_min <= amount).order_by(ValidationLevelRow.level_order))).all())


async def _check_reasons(uow: UnitOfWork, reason_ids: Sequence[int], decision: str) -> None:
    for index, reason_id in enumerate(reason_ids):
        row = await uow.session.get(DecisionReasonRow, reason_id)
        if row is None or not row.active or row.decision != decision:
            raise InvalidInput(f"no active {decision} reason {reason_id}", field=f"reason_ids[{index}]")


async def _checks_checker(uow: UnitOfWork, row: LoanRow, checker: Checker) -> None:
    if checker.user_id == row.maker_user_id:
        raise SelfApprovalRefused("whoever recorded the application cannot decide on it", field="loan_id")


async def approve(uow_factory: UnitOfWorkFactory, loan_id: int, *, checker: Checker, scope: OfficeScope,
                  principal_amount: Decimal | None = None, reason_ids: Sequence[int] = (), note: str = "") -> LoanRecord:
    """Approve the next validation level; the last one makes the loan approved. A lower amount
    re-derives the frozen terms from the loan's product version (refused outside the product)."""
    async with uow_factory() as uow:
        record = await load_record(uow, loan_id, scope=scope)
    _require_status(record, (LoanStatus.SUBMITTED,), "approved")
    current = record.principal_approved or record.principal_requested
    terms = record.terms
    if principal_amount is not None and principal_amount != current:
        check_amount(principal_amount, record.currency, field="principal_amount")
        if principal_amount > current:
            raise InvalidInput(f"an approval can lower the amount, not raise it above {current}",
                               field="principal_amount")
        app = msgspec.structs.replace(application_of(record), principal_amount=principal_amount,
                                      tranches=trimmed_plan(record.terms.tranches, principal_amount))
        terms = await _derive(uow_factory, app, record.loan_cycle, record.office_id, record.product_version)
    amount = principal_amount or current
    async with uow_factory() as uow:
        row = await load_row(uow, loan_id, for_update=True)
        if row.status != LoanStatus.SUBMITTED.value:
            raise Conflict(f"loan {loan_id} is {row.status}", field="loan_id")
        await _checks_checker(uow, row, checker)
        await _check_reasons(uow, reason_ids, "approve")
        levels = await _levels(uow, row.currency, amount)
        done = row.approval_levels
        level = levels[done] if done < len(levels) else None
        if level is not None:
            roles = await uow.session.scalar(text("SELECT roles FROM staff_user WHERE id = :id"), {"id": checker.user_id})
            if level.role_name not in (roles or []):
                raise PermissionDenied(f"level {level.level_order} ({level.label}) is approved by the role "
                                       f"{level.role_name}", field="loan_id")
            earlier = await uow.session.scalar(select(func.count()).select_from(LoanDecisionRow).where(
                LoanDecisionRow.loan_id == loan_id, LoanDecisionRow.decided_by_user_id == checker.user_id,
                LoanDecisionRow.decision == "approve",
                LoanDecisionRow.id > await _last_undo(uow, loan_id)))
            if earlier:
                raise SelfApprovalRefused("each validation level is approved by a different person", field="loan_id")
        uow.session.add(LoanDecisionRow(
            loan_id=loan_id, level_order=level.level_order if level else None, level_label=level.label if level else None,
            decision="approve", principal_approved=amount, reason_ids=list(reason_ids), note=note[:TEXT_MAX],
            decided_by=checker.username, decided_by_user_id=checker.user_id))
        row.approval_levels = done + 1
        row.principal_approved = amount
        row.terms = msgspec.to_builtins(terms)
        product = (await get_product_in(uow, row.product_id, row.product_version))
        row.requirements = msgspec.to_builtins(loan_requirements(product, amount))
        if done + 1 >= max(len(levels), 1):
            row.status = LoanStatus.APPROVED.value
        row.updated_at = func.now()
        row.updated_by = checker.username
        await uow.session.flush()
        loan = await load_record(uow, loan_id)
        await uow.commit()
    return loan


_PRODUCT_VERSIONS: dict[tuple[str, int, int], LoanProduct] = {}
PRODUCT_VERSIONS_CACHED_MAX: Final = 512


async def get_product_in(uow: UnitOfWork, product_id: int, version: int) -> LoanProduct:
    """A loan product version's settings, inside an open unit of work. A version never changes
    (PostgreSQL refuses it), so each is read once per database and process: every loan
    movement needs it, and this saves a round trip and a decoding per movement."""
    key = (uow.session.bind.url.render_as_string(hide_password=True), product_id, version)
    cached = _PRODUCT_VERSIONS.get(key)
    if cached is not None:
        return cached
    settings = await uow.session.scalar(text(
        "SELECT settings FROM product_version WHERE product_id = :p AND version = :v"), {"p": product_id, "v": version})
    assert settings is not None, (product_id, version)
    product = msgspec.convert(settings, LoanProduct, strict=False)
    if len(_PRODUCT_VERSIONS) >= PRODUCT_VERSIONS_CACHED_MAX:
        _PRODUCT_VERSIONS.clear()
    _PRODUCT_VERSIONS[key] = product
    return product


async def _last_undo(uow: UnitOfWork, loan_id: int) -> int:
    """Id of the loan's last undone approval (0: none): approvals count from there."""
    last = await uow.session.scalar(select(func.max(LoanDecisionRow.id)).where(
        LoanDecisionRow.loan_id == loan_id, LoanDecisionRow.decision == "undo"))
    return int(last or 0)


async def _decide(uow_factory: UnitOfWorkFactory, loan_id: int, *, checker: Checker, scope: OfficeScope,
                  decision: str, allowed: tuple[LoanStatus, ...], action: str, new_status: LoanStatus, note: str,
                  reason_ids: Sequence[int] = (), maker_may_decide: bool = False,
                  restart_levels: bool = True) -> LoanRecord:
    """Record a decision that moves an application from one of `allowed` to `new_status`, under
    the loan's lock: the decision row (who, why), the new status and, when the application
    goes back in the queue, the validation levels counted from zero again."""
    async with uow_factory() as uow:
        row = await load_row(uow, loan_id, scope=scope, for_update=True)
        if row.status not in {status.value for status in allowed}:
            names = " or ".join(status.value for status in allowed)
            raise Conflict(f"loan {loan_id} is {row.status}; only a {names} loan can be {action}", field="loan_id")
        if not maker_may_decide:
            await _checks_checker(uow, row, checker)
        if reason_ids:
            await _check_reasons(uow, reason_ids, decision)
        uow.session.add(LoanDecisionRow(loan_id=loan_id, decision=decision, reason_ids=list(reason_ids),
                                        note=note[:TEXT_MAX], decided_by=checker.username,
                                        decided_by_user_id=checker.user_id))
        row.status = new_status.value
        if restart_levels:
            row.approval_levels = 0
        row.updated_at = func.now()
        row.updated_by = checker.username
        await uow.session.flush()
        loan = await load_record(uow, loan_id)
        await uow.commit()
    return loan


async def reject(uow_factory: UnitOfWorkFactory, loan_id: int, *, checker: Checker, scope: OfficeScope,
                 reason_ids: Sequence[int], note: str = "") -> LoanRecord:
    if not reason_ids:
        raise InvalidInput("a rejection gives at least one decision reason", field="reason_ids")
    return await _decide(uow_factory, loan_id, checker=checker, scope=scope, decision="reject",
                         allowed=(LoanStatus.DRAFT, LoanStatus.SUBMITTED), action="rejected",
                         new_status=LoanStatus.REJECTED, note=note, reason_ids=reason_ids, restart_levels=False)


async def send_back(uow_factory: UnitOfWorkFactory, loan_id: int, *, checker: Checker, scope: OfficeScope,
                    note: str) -> LoanRecord:
    """Submitted -> draft, with the decider's note: the officer completes the file and submits again."""
    return await _decide(uow_factory, loan_id, checker=checker, scope=scope, decision="send_back",
                         allowed=(LoanStatus.SUBMITTED,), action="sent back", new_status=LoanStatus.DRAFT, note=note)


async def undo_approval(uow_factory: UnitOfWorkFactory, loan_id: int, *, checker: Checker, scope: OfficeScope,
                        note: str = "") -> LoanRecord:
    """Approved (not yet disbursed: disbursing moves the loan out of approved) -> submitted again;
    every level must approve anew. Whoever may decide may undo, the maker included: undoing
    grants nothing, it only sends the file back through every validation level."""
    return await _decide(uow_factory, loan_id, checker=checker, scope=scope, decision="undo",
                         allowed=(LoanStatus.APPROVED,), action="un-approved", new_status=LoanStatus.SUBMITTED,
                         note=note, maker_may_decide=True)


def today() -> date:
    return date.today()
