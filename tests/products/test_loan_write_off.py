"""Write-off and recovery: covered vs not covered losses, receivables written off, VAT on recoveries."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from products.events import LoanClassification, TermBucket
from products.loans.write_off import recovery, write_off, write_off_due
from products.posting_rules import AccountingRule
from products.rounding import Rounding, compile_rounding
from tests.products.cob_support import journal

D = Decimal
XOF = compile_rounding(Rounding(), "XOF")
DOUBTFUL, SHORT = LoanClassification.DOUBTFUL, TermBucket.SHORT


def test_a_write_off_charges_the_provision_first() -> None:
    # Doubtful loan: 300,000 principal, 240,000 provision (80 %), 12,000 interest and 3,000 penalties receivable.
    loss = write_off(principal_outstanding=D(300_000), provision_booked=D(240_000), interest_receivable=D(12_000),
                     penalties_receivable=D(3_000))
    assert (loss.principal_covered, loss.principal_not_covered, loss.provision_released) == (D(240_000), D(60_000), 0)
    # Pertes couvertes: Dr 2991 240,000; pertes non couvertes and receivables: Dr 665 60,000 + 12,000 + 3,000;
    # Cr 292 (doubtful portfolio) 300,000, Cr 2927 interest receivable 12,000, Cr 2073 penalties 3,000.
    assert journal(loss.event("XOF", classification=DOUBTFUL, term=SHORT)) == [
        ("D", "2991", "240000"), ("D", "665", "75000"),
        ("C", "2073", "3000"), ("C", "292", "300000"), ("C", "2927", "12000")]
    # Cash accounting never recognised the interest and penalties: only the principal is written off.
    assert journal(loss.event("XOF", classification=DOUBTFUL, term=SHORT), AccountingRule.CASH) == [
        ("D", "2991", "240000"), ("D", "665", "60000"), ("C", "292", "300000")]
    assert loss.release_event("XOF", classification=DOUBTFUL, term=SHORT) is None


def test_provision_beyond_the_principal_is_released() -> None:
    # 100 % of principal and interest was provisioned (315,000); the principal absorbs 300,000, 15,000 is released.
    loss = write_off(principal_outstanding=D(300_000), provision_booked=D(315_000), interest_receivable=D(15_000))
    assert (loss.principal_covered, loss.principal_not_covered, loss.provision_released) == (D(300_000), 0, D(15_000))
    assert journal(loss.release_event("XOF", classification=DOUBTFUL, term=SHORT)) == [
        ("D", "2991", "15000"), ("C", "761", "15000")]


def test_write_off_by_rule_and_recovery() -> None:
    # RCSFD: beyond 24 months (730 days) a loan in souffrance is irrecoverable.
    assert (write_off_due(730, 730), write_off_due(731, 730), write_off_due(5000, None)) == (False, True, False)
    # 11,800 recovered with 18 % VAT included: 11,800 x 18 / 118 = 1,800 VAT, 10,000 recovery income.
    money = recovery(D(11_800), D(18), XOF)
    assert (money.income, money.vat) == (D(10_000), D(1_800))
    assert journal(money.event("XOF")) == [("D", "1012", "11800"), ("C", "343", "1800"), ("C", "762", "10000")]
    assert recovery(D(5_000), D(0), XOF).vat == 0


amounts = st.integers(0, 5_000_000).map(D)


@given(principal=amounts, provision=amounts, interest=amounts, fees=amounts, penalties=amounts)
def test_a_write_off_moves_exactly_what_is_outstanding(principal, provision, interest, fees, penalties) -> None:  # type: ignore[no-untyped-def]
    loss = write_off(principal_outstanding=principal, provision_booked=provision, interest_receivable=interest,
                     fees_receivable=fees, penalties_receivable=penalties)
    assert loss.principal_covered + loss.principal_not_covered == principal
    assert loss.principal_covered + loss.provision_released == provision
    assert min(loss.principal_covered, loss.principal_not_covered, loss.provision_released) >= 0
    assert loss.principal_not_covered == 0 or loss.provision_released == 0
    event = loss.event("XOF", classification=DOUBTFUL, term=SHORT)
    credited = sum((D(amount) for side, _account, amount in journal(event) if side == "C"), D(0))
    assert credited == principal + interest + fees + penalties
