"""The tax a charge carries: none when the rate is missing, inactive or the institution is
exempt; within its validity only (both ends inclusive), for every fee that reads it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from products.loans.terms import FeeSpec, FeeTrigger
from products.reference.taxes import ChargeTax, charge_tax, tax_rate_on

D = Decimal
FROM, TO = date(2026, 1, 1), date(2026, 6, 30)


def test_no_tax_without_an_active_rate_or_for_an_exempt_institution() -> None:
    assert charge_tax(None, valid_from=FROM, valid_to=None, active=True, institution_exempt=False) is None
    assert charge_tax(D(18), valid_from=FROM, valid_to=None, active=False, institution_exempt=False) is None
    assert charge_tax(D(18), valid_from=FROM, valid_to=None, active=True, institution_exempt=True) is None
    assert charge_tax(D("18.0000"), valid_from=FROM, valid_to=TO, active=True, institution_exempt=False) == ChargeTax(
        rate_percent=D(18), valid_from=FROM, valid_to=TO)
    assert tax_rate_on(None, FROM) == 0


def test_a_rate_applies_within_its_validity_only() -> None:
    tax = ChargeTax(rate_percent=D("17.5"), valid_from=FROM, valid_to=TO)
    assert [tax.rate_on(d) for d in (date(2025, 12, 31), FROM, TO, date(2026, 7, 1))] == [0, D("17.5"), D("17.5"), 0]
    assert ChargeTax(rate_percent=D(17)).rate_on(date(1990, 1, 1)) == D(17)


def test_a_schedule_fee_is_taxed_at_the_rate_in_force_on_its_due_date() -> None:
    fee = FeeSpec(name="Frais", trigger=FeeTrigger.INSTALMENT, flat_amount=D(100), vat_percent=D(17),
                  vat_valid_from=FROM)
    assert (fee.vat_percent_on(date(2025, 12, 31)), fee.vat_percent_on(FROM)) == (0, D(17))
    assert FeeSpec(name="Frais", trigger=FeeTrigger.INSTALMENT, flat_amount=D(100),
                   vat_percent=D(17)).vat_percent_on(FROM) == D(17)  # terms frozen before validity: always
