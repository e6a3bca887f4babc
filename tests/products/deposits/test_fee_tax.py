"""VAT/TAF on deposit fees, by hand."""

from __future__ import annotations

from decimal import Decimal

from products.deposits.balances import BALANCE_SIGN, REVERSAL_OF, TransactionKind, fee_tax
from products.rounding import Rounding, compile_rounding


def test_taf_on_a_fee_in_whole_francs_and_in_cents() -> None:
    francs = compile_rounding(Rounding(decimals=0), "XOF")
    assert fee_tax(Decimal(200), Decimal(17), francs) == 34
    assert fee_tax(Decimal(250), Decimal("19.25"), francs) == 48  # 48.125
    assert fee_tax(Decimal(0), Decimal(17), francs) == 0
    cents = compile_rounding(Rounding(decimals=2), "EUR")
    assert fee_tax(Decimal("2.50"), Decimal(20), cents) == Decimal("0.50")


def test_every_reversal_cancels_its_original() -> None:
    assert BALANCE_SIGN[TransactionKind.FEE_TAX] == -1
    for original, reversal in REVERSAL_OF.items():
        assert BALANCE_SIGN[original] + BALANCE_SIGN[reversal] == 0
