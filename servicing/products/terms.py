"""The terms of one loan account from its product: the product version's settings, the
borrower's cycle, the officer's choices, and the product's charges as schedule fees.
The loan application and simulation work calls `loan_terms_for`; the pure derivation is
`products.loans.product.derive_loan_terms`."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Final

import msgspec
from sqlalchemy import select

from products.errors import ProductError
from products.loans.derivation import derive_loan_terms, term_months
from products.loans.limits import HOLIDAY_SHIFT_DAYS_MAX, HOLIDAYS_MAX
from products.loans.product import LoanProduct, LoanTermOverrides
from products.loans.terms import FeeCalculation, FeeSpec, FeeTrigger, LoanTerms
from products.posting_rules import ProductKind
from products.reference.db.tables import ChargeRow, TaxRateRow
from products.reference.taxes import ChargeTax
from servicing.products.service import get_product
from servicing.reference.calendar import office_calendar
from servicing.reference.charge_taxes import tax_of
from servicing.unit_of_work import UnitOfWork

SCHEDULE_TRIGGERS: Final = {
    # The file's application fee is collected when the loan is paid out, with the disbursement fees.
    "application": FeeTrigger.DISBURSEMENT,
    "disbursement": FeeTrigger.DISBURSEMENT,
    "tranche_disbursement": FeeTrigger.DISBURSEMENT,
    "instalment_fee": FeeTrigger.INSTALMENT,
}
"""Charge times that put a fee in the repayment schedule; the others are charged by loan servicing
when their date or event comes: monthly and annual fees and instalment fees on the outstanding
principal by the close of business (`servicing.loans.product_charges`), overdue penalties by its
penalty step."""

SCHEDULE_CALCULATIONS: Final = {
    "flat": FeeCalculation.FLAT,
    "percent_of_amount": FeeCalculation.PERCENT_OF_AMOUNT,
    "percent_of_instalment": FeeCalculation.PERCENT_OF_INSTALMENT,
    "percent_of_amount_and_interest": FeeCalculation.PERCENT_OF_INSTALMENT,
    "percent_of_interest": FeeCalculation.PERCENT_OF_INTEREST,
}


class DerivedTerms(msgspec.Struct, frozen=True, kw_only=True):
    product_id: int
    version: int
    cycle: int
    terms: LoanTerms
    unscheduled_charge_ids: tuple[int, ...]
    """Charges of the product that the schedule does not carry (charged on their event)."""


def fee_spec(charge: ChargeRow, tax: ChargeTax | None) -> FeeSpec | None:
    """A charge as the schedule engine applies it, or None when it is not a schedule fee. Its
    VAT is the tax that applies (`servicing.reference.charge_taxes.tax_of`), with the rate's
    validity: each fee is taxed at the rate in force on its own due date."""
    trigger = SCHEDULE_TRIGGERS.get(charge.charge_time)
    calculation = SCHEDULE_CALCULATIONS.get(charge.calculation)
    if trigger is None or calculation is None or charge.is_penalty:
        return None
    flat = calculation is FeeCalculation.FLAT
    amount = _plain(charge.amount)
    return FeeSpec(name=charge.name[:80], trigger=trigger, calculation=calculation,
                   flat_amount=amount if flat else None, rate_percent=None if flat else amount,
                   vat_percent=Decimal(0) if tax is None else tax.rate_percent,
                   vat_valid_from=None if tax is None else tax.valid_from,
                   vat_valid_to=None if tax is None else tax.valid_to,
                   each_tranche=charge.charge_time == "tranche_disbursement")


def _plain(value: Decimal) -> Decimal:
    """A numeric(22, 4) column's value without its trailing zeros: 1.0000 -> 1, 2.5000 -> 2.5."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


async def loan_terms_for(uow: UnitOfWork, product_id: int, overrides: LoanTermOverrides, cycle: int = 1,
                         version: int | None = None, office_id: int | None = None) -> DerivedTerms:
    """Terms of a loan on a product version (the current one unless given). With an office,
    its working week and holidays move due dates by the product's holiday rule. Refusals
    name ``overrides.<field>``; nothing is written."""
    if not 1 <= cycle <= 1000:
        raise ProductError("cycle", "must be between 1 and 1000")
    record = await get_product(uow, ProductKind.LOAN, product_id, version)
    product = record.settings
    assert isinstance(product, LoanProduct)
    specs: dict[int, FeeSpec] = {}
    unscheduled: list[int] = []
    async with uow:
        rows = (await uow.session.execute(select(ChargeRow, TaxRateRow).outerjoin(
            TaxRateRow, TaxRateRow.id == ChargeRow.tax_rate_id).where(ChargeRow.id.in_(product.charge_ids)))).all()
        for charge, rate in rows:  # inside the unit of work: the rows expire when it ends
            spec = fee_spec(charge, tax_of(rate))
            if spec is None:
                unscheduled.append(charge.id)
            else:
                specs[charge.id] = spec
    scheduled = msgspec.structs.replace(product, charge_ids=tuple(c for c in product.charge_ids if c in specs))
    terms = derive_loan_terms(scheduled, overrides, cycle, charges=specs)
    if office_id is not None:
        # The horizon comes from the terms themselves: a first derivation without holidays.
        last = terms.disbursement_date + timedelta(days=int(
            term_months(terms.repayment_count, terms.repayment_every, terms.repayment_frequency_unit) * 31)
            + terms.first_repayment_days_min + HOLIDAY_SHIFT_DAYS_MAX + 62)
        async with uow:
            calendar = await office_calendar(uow.session, office_id, terms.disbursement_date, last)
        closed, holidays = calendar.loan_terms_days()
        if len(holidays) > HOLIDAYS_MAX:
            raise ProductError("office_id", f"more than {HOLIDAYS_MAX} holidays fall within this loan's term")
        terms = derive_loan_terms(scheduled, overrides, cycle, charges=specs, holidays=holidays,
                                  non_working_weekdays=closed)
    return DerivedTerms(product_id=product_id, version=record.version, cycle=cycle, terms=terms,
                        unscheduled_charge_ids=tuple(sorted(unscheduled)))
