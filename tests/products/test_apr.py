"""TEG (APR): hand-checked rates, the components counted, the usury check."""

from datetime import date
from decimal import Decimal

import numpy_financial as npf
import pytest

from products.loans.apr import AprMethod, check_usury, compute_apr, solve_period_rate
from products.loans.errors import TermsError
from products.loans.schedule import generate_schedule
from products.loans.terms import FeeCalculation, FeeKind, FeeSpec, FeeTrigger, RepaymentFrequencyUnit
from tests.products.factories import eur_terms, xof_terms


def upfront_fee(percent: str, *, kind: FeeKind = FeeKind.FEE, vat_percent: str = "0") -> FeeSpec:
    return FeeSpec(
        name="Frais de dossier",
        trigger=FeeTrigger.DISBURSEMENT,
        calculation=FeeCalculation.PERCENT_OF_AMOUNT,
        rate_percent=Decimal(percent),
        vat_percent=Decimal(vat_percent),
        kind=kind,
    )


def test_single_yearly_repayment_with_fee() -> None:
    """Lend 1,000,000 XOF for one year at 10 %, 2 % fee upfront: the borrower gets 980,000
    and repays 1,100,000 a year later. 1,100,000 / 980,000 = 1.1224490: TEG 12.2449 %, the
    same proportional and actuarial with one period a year.
    """
    terms = xof_terms(
        principal_amount=Decimal(1_000_000),
        interest_rate_percent=Decimal(10),
        repayment_count=1,
        repayment_frequency_unit=RepaymentFrequencyUnit.YEARS,
        fees=(upfront_fee("2"),),
    )
    apr = compute_apr(terms, generate_schedule(terms))
    assert apr.proportional_annual_percent == Decimal("12.2449")
    assert apr.actuarial_annual_percent == Decimal("12.2449")


def test_no_fee_monthly_loan_proportional_is_nominal_actuarial_is_compounded() -> None:
    """Without fees the period rate is the nominal 1 %, lifted to 1.000008 % because the EMI
    888.4879 is rounded up to 888.49: proportional 12 x 1.000008 % = 12.0001 %; actuarial
    1.01^12 - 1 = 12.68250 %, lifted by 12 x 0.00000008 / 1.01 to 12.6826 %."""
    apr = compute_apr(eur_terms(), generate_schedule(eur_terms()))
    assert apr.period_rate_percent == Decimal("1.0000")
    assert apr.proportional_annual_percent == Decimal("12.0001")
    assert apr.actuarial_annual_percent == Decimal("12.6826")


def test_fee_raises_the_teg_as_numpy_financial_irr_says() -> None:
    """2 % upfront on 10,000 over 12 x 888.49 (last 888.47): numpy-financial's irr on the same
    flows gives the monthly rate; x 12 is the proportional TEG, (1 + r)^12 - 1 the actuarial."""
    terms = eur_terms(fees=(upfront_fee("2"),))
    schedule = generate_schedule(terms)
    flows = [-9_800.0] + [float(row.total_amount) for row in schedule.instalments]
    monthly = npf.irr(flows)
    apr = compute_apr(terms, schedule)
    assert abs(apr.proportional_annual_percent - Decimal(f"{monthly * 1200:.4f}")) <= Decimal("0.0001")
    assert abs(apr.actuarial_annual_percent - Decimal(f"{((1 + monthly) ** 12 - 1) * 100:.4f}")) <= Decimal(
        "0.0001"
    )


def test_taxes_and_vat_are_not_counted() -> None:
    """A tax-kind fee and VAT on the fee change nothing to the TEG (UEMOA usury law, 2013)."""
    plain = eur_terms(fees=(upfront_fee("2"),))
    taxed = eur_terms(fees=(upfront_fee("2", vat_percent="18"), upfront_fee("1", kind=FeeKind.TAX)))
    assert (
        compute_apr(plain, generate_schedule(plain)).actuarial_annual_percent
        == compute_apr(taxed, generate_schedule(taxed)).actuarial_annual_percent
    )
    components = {c.kind: c for c in compute_apr(taxed, generate_schedule(taxed)).components}
    assert components["tax"].counted is False
    assert components["vat"].counted is False
    assert components["vat"].amount == Decimal("36.00")
    assert components["interest"].amount == Decimal("661.86")
    assert components["fee"].counted is True


def test_usury_check_against_the_sfd_cap() -> None:
    """24 % a year cap (UEMOA SFDs): 2 % a month plus a 3 % fee is over it; 12 % is not."""
    cheap = eur_terms()
    dear = xof_terms(fees=(upfront_fee("3"),))
    cap = Decimal(24)
    cheap_check = check_usury(
        compute_apr(cheap, generate_schedule(cheap)), cap_annual_percent=cap, method=AprMethod.ACTUARIAL
    )
    dear_apr = compute_apr(dear, generate_schedule(dear))
    assert cheap_check.exceeds_cap is False
    assert check_usury(dear_apr, cap_annual_percent=cap, method=AprMethod.PROPORTIONAL).exceeds_cap is True
    assert dear_apr.proportional_annual_percent > cap


def test_apr_of_tranches_discounts_each_disbursement() -> None:
    """A later tranche is discounted from its own date: the TEG of a fee-free two-tranche loan
    is still the nominal 2 % a month (to rounding)."""
    from products.loans.terms import TrancheSpec

    terms = xof_terms(
        tranches=(
            TrancheSpec(expected_date=date(2025, 1, 1), amount=Decimal(600_000)),
            TrancheSpec(expected_date=date(2025, 3, 1), amount=Decimal(600_000)),
        )
    )
    apr = compute_apr(terms, generate_schedule(terms))
    assert abs(apr.period_rate_percent - Decimal(2)) < Decimal("0.001")


def test_solver_on_textbook_flows() -> None:
    """-100 now, +110 in one period: 10 %. -100, +60, +60: r solves 60/(1+r) + 60/(1+r)^2 = 100,
    r = 0.1306624... (quadratic: 100x^2 - 60x - 60 = 0 with x = 1 + r)."""
    one = solve_period_rate([Decimal(0), Decimal(1)], [Decimal(-100), Decimal(110)])
    assert round(one, 12) == Decimal("0.1")
    two = solve_period_rate([Decimal(0), Decimal(1), Decimal(2)], [Decimal(-100), Decimal(60), Decimal(60)])
    assert round(two, 7) == Decimal("0.1306624")


def test_fees_eating_the_disbursement_are_refused() -> None:
    terms = eur_terms(fees=(upfront_fee("100"),))
    with pytest.raises(TermsError) as error:
        compute_apr(terms, generate_schedule(terms))
    assert error.value.field == "fees"
