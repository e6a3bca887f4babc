"""The pure report core: CSV escaping, the trial balance's roll-up and totals, the closing
entry. No database."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chart_of_accounts.model import AccountType
from ledger.invariants import totals_per_currency
from ledger.model import JournalEntry, Side
from servicing.reports.chart_tree import ChartTree, ReportAccount, Totals
from servicing.reports.closing_entry import closing_lines
from servicing.reports.csv_export import cell_text, to_csv
from servicing.reports.statements import build_balance_sheet
from servicing.reports.trial_balance import build_trial_balance


@pytest.mark.parametrize(("value", "text"), [
    ("=SUM(A1:A9)", "'=SUM(A1:A9)"),
    ("+33 6 12", "'+33 6 12"),
    ("-cmd|' /C calc'!A0", "'-cmd|' /C calc'!A0"),
    ("@import", "'@import"),
    ("\tindent", "'\tindent"),
    ("\rreturn", "'\rreturn"),
    ("-1500", "-1500"),
    ("-1500.50", "-1500.50"),
    (Decimal("-1500.50"), "-1500.50"),
    (Decimal("1E+3"), "1000"),
    ("Versement espèces", "Versement espèces"),
    (None, ""),
    (True, "true"),
])
def test_cells_are_escaped_against_formula_injection_but_numbers_stay_numbers(value, text) -> None:  # type: ignore[no-untyped-def]
    assert cell_text(value) == text


def test_csv_is_semicolon_separated_utf8_with_a_bom_and_quotes_what_needs_it() -> None:
    document = to_csv(["compte", "libellé", "montant"], [["1011", "Caisse; siège \"A\"", Decimal("-12.50")]])
    assert document.startswith("\ufeff")
    assert document.encode("utf-8").startswith(b"\xef\xbb\xbf")
    assert list(csv.reader(io.StringIO(document[1:]), delimiter=";")) == [
        ["compte", "libellé", "montant"], ["1011", "Caisse; siège \"A\"", "-12.50"]]


def account(account_id: int, code: str, kind: AccountType, parent: int | None = None, *,
            header: bool = False) -> ReportAccount:
    return ReportAccount(account_id=account_id, code=code, name=code, type=kind, is_header=header, parent_id=parent)


TREE = ChartTree([
    account(1, "1", AccountType.ASSET, header=True),
    account(2, "10", AccountType.ASSET, 1, header=True),
    account(3, "101", AccountType.ASSET, 2),
    account(4, "102", AccountType.ASSET, 2),
    account(5, "25", AccountType.LIABILITY),
    account(6, "70", AccountType.INCOME),
    account(7, "60", AccountType.EXPENSE),
    account(8, "59", AccountType.EQUITY),
])
DETAILS = [3, 4, 5, 6, 7]


def test_headers_roll_up_their_children_and_come_first() -> None:
    opening = [Totals(3, "XOF", Decimal(500), Decimal(0)), Totals(5, "XOF", Decimal(0), Decimal(500))]
    period = [Totals(4, "XOF", Decimal(200), Decimal(0)), Totals(3, "XOF", Decimal(0), Decimal(50)),
              Totals(5, "XOF", Decimal(0), Decimal(150))]
    report = build_trial_balance(TREE, opening, period)
    assert [(r.account_code, r.depth) for r in report.rows] == [("1", 0), ("10", 1), ("101", 2), ("102", 2), ("25", 0)]
    top = report.rows[0]
    assert (top.opening_debit, top.period_debit, top.period_credit, top.closing_debit) == (500, 200, 50, 650)
    (total,) = report.totals
    assert total.balanced and total.closing_debit == total.closing_credit == 650


balanced_pairs = st.lists(st.tuples(st.sampled_from(DETAILS), st.sampled_from(DETAILS),
                                    st.integers(1, 10**9), st.sampled_from(["XOF", "EUR"]), st.booleans()),
                          max_size=30)


def totals_of(pairs, *, opening: bool) -> list[Totals]:  # type: ignore[no-untyped-def]
    found = []
    for debit, credit, units, currency, is_opening in pairs:
        if is_opening is opening:
            amount = Decimal(units) if currency == "XOF" else Decimal(units).scaleb(-2)
            found += [Totals(debit, currency, amount, Decimal(0)), Totals(credit, currency, Decimal(0), amount)]
    return found


@given(pairs=balanced_pairs, show_zero=st.booleans())
def test_balanced_movements_give_equal_columns_in_every_currency(pairs, show_zero) -> None:  # type: ignore[no-untyped-def]
    report = build_trial_balance(TREE, totals_of(pairs, opening=True), totals_of(pairs, opening=False),
                                 show_zero=show_zero)
    assert all(total.balanced for total in report.totals)
    for row in report.rows:
        assert row.opening_debit - row.opening_credit + row.period_debit - row.period_credit == (
            row.closing_debit - row.closing_credit)
    for sheet in build_balance_sheet(TREE, totals_of(pairs, opening=True) + totals_of(pairs, opening=False)):
        assert sheet.balanced


@given(pairs=balanced_pairs)
def test_the_closing_entry_balances_and_zeroes_income_and_expenses(pairs) -> None:  # type: ignore[no-untyped-def]
    totals = [t for t in totals_of(pairs, opening=True) + totals_of(pairs, opening=False) if t.account_id in (6, 7)]
    codes = {6: "70", 7: "60"}
    lines = closing_lines(totals, codes, "59")
    if not lines:
        return
    entry = JournalEntry(entry_id=UUID(int=1), office_id=1, value_date=date(2025, 12, 31),
                         description="Clôture", lines=lines, actor="tests")
    assert all(debit == credit for debit, credit in totals_per_currency(entry).values())
    after: dict[tuple[str, str], Decimal] = {}
    for t in totals:
        key = (codes[t.account_id], t.currency)
        after[key] = after.get(key, Decimal(0)) + t.debit_total - t.credit_total
    for line in lines:
        key = (line.account_code, line.currency)
        after[key] = after.get(key, Decimal(0)) + (line.amount if line.side is Side.DEBIT else -line.amount)
    assert all(balance == 0 for (code, _c), balance in after.items() if code != "59")


def test_a_forged_general_ledger_cursor_is_refused_naming_the_cursor() -> None:
    from servicing.errors import InvalidInput
    from servicing.reports.general_ledger import LedgerQuery, _decode, _encode, _fingerprint, _Position

    query = LedgerQuery(account_code="1011", office_id=1, date_from=date(2026, 1, 1), date_to=date(2026, 1, 31))
    good = _Position(_fingerprint(query), date(2026, 1, 5), UUID(int=5), 2, {"XOF": Decimal(100)})
    assert _decode(_encode(good), query) == good
    for forged in (_Position(_fingerprint(query), date(2026, 1, 5), UUID(int=5), 70_000, {"XOF": Decimal(1)}),
                   _Position(_fingerprint(query), date(2026, 1, 5), UUID(int=5), 1, {"XOF": Decimal("1e99")}),
                   _Position(_fingerprint(query), date(2026, 1, 5), UUID(int=5), 1, {"x;y": Decimal(1)})):
        with pytest.raises(InvalidInput) as refused:
            _decode(_encode(forged), query)
        assert refused.value.field == "cursor"
