"""Fees and VAT in a schedule.

A fee is flat or a percentage of a base (see `FeeCalculation`), rounded the product's
way; VAT on a fee is the fee's ``vat_percent`` of the rounded fee, rounded again, when the
fee falls due within the VAT rate's validity (`FeeSpec.vat_percent_on`). Instalment
fees join every instalment, dated fees join the instalment whose period holds their date
(from the day after the previous due date to the due date, inclusive), and disbursement
fees are due on the (first) disbursement date. Tranche-specific disbursement fees are left
to the loan account (issue 5 onwards): a simulation charges upfront fees once.
"""

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Final

from products.loans.model import FeeCharge
from products.loans.terms import FeeCalculation, FeeSpec, FeeTrigger
from products.rounding import Rounder

_HUNDRED: Final = Decimal(100)


def fee_amount(
    fee: FeeSpec, rounder: Rounder, *, amount_base: Decimal, instalment_base: Decimal, interest_base: Decimal
) -> Decimal:
    """The rounded amount of one fee given the bases its calculation may use."""
    if fee.calculation is FeeCalculation.FLAT:
        assert fee.flat_amount is not None, fee
        return rounder.round(fee.flat_amount)
    assert fee.rate_percent is not None, fee
    if fee.calculation is FeeCalculation.PERCENT_OF_AMOUNT:
        base = amount_base
    elif fee.calculation is FeeCalculation.PERCENT_OF_INSTALMENT:
        base = instalment_base
    else:
        assert fee.calculation is FeeCalculation.PERCENT_OF_INTEREST, fee
        base = interest_base
    return rounder.round(base * fee.rate_percent / _HUNDRED)


def vat_on(amount: Decimal, vat_percent: Decimal, rounder: Rounder) -> Decimal:
    """VAT on an already rounded amount, rounded the product's way."""
    if vat_percent == 0 or amount == 0:
        return rounder.zero()
    return rounder.round(amount * vat_percent / _HUNDRED)


def instalment_fee_charges(
    fees: Sequence[FeeSpec],
    rounder: Rounder,
    *,
    number: int,
    from_date: date,
    due_date: date,
    is_last: bool,
    loan_principal: Decimal,
    principal: Decimal,
    interest: Decimal,
) -> list[FeeCharge]:
    """Charges that fall on instalment ``number``: every instalment fee, and dated fees in its period.

    A dated fee after the last due date (possible when the last date moved to an earlier
    working day, or a fixed instalment ended the loan early) joins the last instalment.
    """
    charges: list[FeeCharge] = []
    for fee in fees:
        if fee.trigger is FeeTrigger.INSTALMENT:
            amount = fee_amount(
                fee,
                rounder,
                amount_base=principal,
                instalment_base=principal + interest,
                interest_base=interest,
            )
        elif fee.trigger is FeeTrigger.SPECIFIED_DUE_DATE:
            assert fee.due_date is not None, fee
            in_period = from_date < fee.due_date <= due_date
            if not (in_period or (is_last and fee.due_date > due_date)):
                continue
            amount = fee_amount(
                fee,
                rounder,
                amount_base=loan_principal,
                instalment_base=principal + interest,
                interest_base=interest,
            )
        else:
            continue
        charges.append(
            FeeCharge(
                name=fee.name,
                kind=fee.kind,
                trigger=fee.trigger,
                instalment_number=number,
                due_date=due_date,
                amount=amount,
                vat_amount=vat_on(amount, fee.vat_percent_on(due_date), rounder),
            )
        )
    return charges


def disbursement_fee_charges(
    fees: Sequence[FeeSpec],
    rounder: Rounder,
    *,
    disbursement_date: date,
    principal: Decimal,
    total_interest: Decimal,
) -> list[FeeCharge]:
    """Upfront charges, due on the disbursement date (instalment number 0)."""
    charges: list[FeeCharge] = []
    for fee in fees:
        if fee.trigger is not FeeTrigger.DISBURSEMENT:
            continue
        amount = fee_amount(
            fee, rounder, amount_base=principal, instalment_base=principal, interest_base=total_interest
        )
        charges.append(
            FeeCharge(
                name=fee.name,
                kind=fee.kind,
                trigger=fee.trigger,
                instalment_number=0,
                due_date=disbursement_date,
                amount=amount,
                vat_amount=vat_on(amount, fee.vat_percent_on(disbursement_date), rounder),
            )
        )
    return charges
