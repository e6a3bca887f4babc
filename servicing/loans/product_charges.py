"""Close-of-business step ``loan_charges``: the product charges that fall due by the calendar
(`products.loans.product_charges`: an instalment fee on the outstanding principal, a monthly or
an annual fee) are added to each active loan when their date comes.

Each occurrence goes through the path of a charge added by hand (`movements.add_charge`, the
route ``POST /api/v1/loans/{id}/charges``): the loan locked, the charge on the instalment whose
period holds its date, its VAT (the charge's tax rate, unless the institution is exempt, at the
rate in force on the occurrence's date: `servicing.reference.charge_taxes`) owed beside it, one journal entry through
the product's rules (fee or penalty receivable under accrual; nothing until paid under cash).
The occurrence's key (``product-charge:<charge id>:<date>``) is the transaction's
Idempotency-Key, so a date is charged once however often the step runs, and a run resumed after
a crash charges only what it had not.

Charges taken at disbursement (``disbursement``, ``tranche_disbursement`` and ``application``)
and fees fixed on the instalments are in the schedule; overdue penalties are the
``loan_penalties`` step's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Final

import msgspec
from sqlalchemy import select, text

from products.loans.model import Schedule
from products.loans.product_charges import ProductCharge, is_automatic, occurrences_due
from products.loans.terms import LoanTerms
from products.posting_rules import Component
from products.reference.db.tables import ChargeRow, TaxRateRow
from products.reference.model import ChargeCalculation, ChargeTime
from products.reference.taxes import ChargeTax
from servicing.close_of_business.model import StepOutcome
from servicing.errors import Conflict, InvalidInput
from servicing.loans.applications import get_product_in, load_row
from servicing.loans.schedules import plain
from servicing.reference.charge_taxes import tax_of
from servicing.staff.scope import OfficeScope, office_set_condition
from servicing.unit_of_work import UnitOfWork, UnitOfWorkFactory

INSTITUTION: Final = OfficeScope(office_id=0, office_ids=frozenset(), whole_institution=True)
"""The close of business acts for the whole institution."""


def _product_charge(charge: ChargeRow, tax: ChargeTax | None) -> ProductCharge:
    return ProductCharge(
        charge_id=charge.id, name=charge.name, charge_time=ChargeTime(charge.charge_time),
        calculation=ChargeCalculation(charge.calculation), amount=plain(charge.amount),
        vat_percent=Decimal(0) if tax is None else tax.rate_percent,
        vat_valid_from=None if tax is None else tax.valid_from, vat_valid_to=None if tax is None else tax.valid_to,
        amount_min=None if charge.amount_min is None else plain(charge.amount_min),
        amount_max=None if charge.amount_max is None else plain(charge.amount_max), is_penalty=charge.is_penalty,
        due_month=charge.due_month, due_day=charge.due_day)


async def automatic_charges(uow: UnitOfWork, charge_ids: Iterable[int]) -> dict[int, ProductCharge]:
    """The active loan charges among ``charge_ids`` that fall due by the calendar, by id."""
    ids = sorted(set(charge_ids))
    if not ids:
        return {}
    rows = (await uow.session.execute(select(ChargeRow, TaxRateRow).outerjoin(
        TaxRateRow, TaxRateRow.id == ChargeRow.tax_rate_id).where(
        ChargeRow.id.in_(ids), ChargeRow.active, ChargeRow.applies_to == "loan"))).all()
    found = {}
    for charge, rate in rows:
        product_charge = _product_charge(charge, tax_of(rate))
        if is_automatic(product_charge):
            found[charge.id] = product_charge
    return found


async def _charges_by_version(uow: UnitOfWork) -> dict[tuple[int, int], tuple[ProductCharge, ...]]:
    """The automatic charges of each loan product version with an active loan (most have none)."""
    versions = (await uow.session.execute(text(
        "SELECT DISTINCT product_id, product_version FROM loan WHERE status = 'active'"))).all()
    wanted: dict[tuple[int, int], tuple[int, ...]] = {}
    for product_id, version in versions:
        product = await get_product_in(uow, product_id, version)
        wanted[(product_id, version)] = product.charge_ids
    charges = await automatic_charges(uow, (c for ids in wanted.values() for c in ids))
    return {key: tuple(charges[c] for c in ids if c in charges) for key, ids in wanted.items()
            if any(c in charges for c in ids)}


async def charge_loans(uow_factory: UnitOfWorkFactory, day: date, actor: str, *,
                       offices: Sequence[int] | None = None) -> StepOutcome:
    """Add to every active loan (of ``office`` and its branches when given: an office closing its
    day alone) the automatic charges due by ``day`` not charged yet."""
    from servicing.loans import movements
    from servicing.loans.model import AddCharge

    async with uow_factory() as uow:
        by_version = await _charges_by_version(uow)
        if not by_version:
            return StepOutcome(items=0, entries=0)
        loan_ids = [int(i) for i in (await uow.session.scalars(text(
            "SELECT id FROM loan l WHERE status = 'active' AND disbursed_on < :day"
            " AND (product_id, product_version) IN (SELECT * FROM unnest(CAST(:products AS int[]),"
            f" CAST(:versions AS int[]))) AND {office_set_condition('l.office_id')} ORDER BY id"),
            {"day": day, "products": [p for p, _v in by_version], "versions": [v for _p, v in by_version],
             "offices": offices})).all()]
    charged = skipped = entries = 0
    amount = Decimal(0)
    for loan_id in loan_ids:
        async with uow_factory() as uow:
            row = await load_row(uow, loan_id)
            history = await movements._history(uow, loan_id)
            product = await get_product_in(uow, row.product_id, row.product_version)
            assert row.schedule is not None and row.disbursed_on is not None
            schedule, position = movements.position_from_history(
                msgspec.convert(row.terms, LoanTerms), msgspec.convert(row.schedule, Schedule), product, history, day)
            done = {t.idempotency_key for t in history if t.kind == "charge" and t.idempotency_key}
            due = [o for o in occurrences_due(
                by_version[(row.product_id, row.product_version)], disbursed_on=row.disbursed_on,
                last_due_date=schedule.instalments[-1].due_date, on=day,
                instalment_due_dates=[i.due_date for i in schedule.instalments],
                outstanding_principal=position.component(Component.PRINCIPAL).outstanding,
                rounding=product.rounding, currency=row.currency.strip()) if o.key not in done]
        for occurrence in due:
            try:
                written = await movements.add_charge(uow_factory, loan_id, AddCharge(
                    value_date=day, amount=occurrence.amount, charge_id=occurrence.charge_id,
                    due_date=occurrence.due_on), actor=actor, scope=INSTITUTION, idempotency_key=occurrence.key,
                    today=day)
            except (InvalidInput, Conflict):
                skipped += 1  # closed meanwhile, or a transaction dated after the day: not charged
                continue
            charged += 1
            entries += written.journal_entry_id is not None
            amount += occurrence.amount + occurrence.vat_amount
    detail = {"charges": str(charged), "amount": str(amount)}
    if skipped:
        detail["skipped"] = str(skipped)
    return StepOutcome(items=len(loan_ids), entries=entries, detail=detail)
