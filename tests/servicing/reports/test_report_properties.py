"""Every report agrees with a brute-force recomputation from the lines: random small
journals are posted through the journal service across a region and its two branches, on
random dates and in two currencies, then each report is asked for a random office and
period and compared with sums done here by hand. The year-end close is checked the same
way: the balance sheet balances before and after it and the income statement does not move."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chart_of_accounts import AccountType, AccountUsage, GLAccount
from ledger.model import Line, Side
from servicing import chart, offices
from servicing.commands import CreateGLAccounts, CreateOffice, PostJournalEntry
from servicing.reports import service
from servicing.reports.general_ledger import LedgerQuery, general_ledger
from servicing.reports.year_end import CloseYear, close_year

_worlds = itertools.count(1)
FIRST_DAY = date(2024, 1, 1)
LAST_DAY = date(2025, 12, 31)
DETAIL = {"CASH": AccountType.ASSET, "BANK": AccountType.ASSET, "DEP": AccountType.LIABILITY,
          "CAP": AccountType.EQUITY, "INC1": AccountType.INCOME, "INC2": AccountType.INCOME,
          "EXP": AccountType.EXPENSE}
PARENT = {"CASH": "H", "BANK": "H", "INC1": "HI", "INC2": "HI"}
SIGN = {kind: (1 if kind in (AccountType.ASSET, AccountType.EXPENSE) else -1) for kind in AccountType}

days = st.integers(0, (LAST_DAY - FIRST_DAY).days).map(lambda n: FIRST_DAY + timedelta(days=n))
postings = st.tuples(
    st.integers(0, 2),  # office: the region, branch A, branch B
    days,
    st.sampled_from(["XOF", "EUR"]),
    st.sampled_from(sorted(DETAIL)),
    st.sampled_from(sorted(DETAIL)),
    st.integers(1, 10**6),
).filter(lambda p: p[3] != p[4])


async def make_world(uow_factory, head_office):  # type: ignore[no-untyped-def]
    n = next(_worlds)
    region = await offices.create_office(uow_factory(), CreateOffice(
        code=f"PR{n}-{id(head_office) % 10**6}", name="Région", parent_id=head_office.office_id,
        opened_on=FIRST_DAY, actor="tests"))
    branches = [await offices.create_office(uow_factory(), CreateOffice(
        code=f"{region.code}-{letter}", name=f"Agence {letter}", parent_id=region.office_id, opened_on=FIRST_DAY,
        actor="tests")) for letter in "AB"]
    prefix = f"P{region.office_id}"
    accounts = [GLAccount(code=f"{prefix}.H", name="Trésorerie", type=AccountType.ASSET, usage=AccountUsage.HEADER),
                GLAccount(code=f"{prefix}.HI", name="Produits", type=AccountType.INCOME, usage=AccountUsage.HEADER),
                GLAccount(code=f"{prefix}.RES", name="Résultat", type=AccountType.EQUITY, usage=AccountUsage.DETAIL)]
    accounts += [GLAccount(code=f"{prefix}.{name}", name=name, type=kind, usage=AccountUsage.DETAIL,
                           parent_code=f"{prefix}.{PARENT[name]}" if name in PARENT else None)
                 for name, kind in DETAIL.items()]
    await chart.create_accounts(uow_factory(), CreateGLAccounts(accounts=tuple(accounts), actor="tests"))
    return prefix, [region.office_id] + [b.office_id for b in branches]


def amount_of(currency: str, units: int) -> Decimal:
    return Decimal(units) if currency == "XOF" else Decimal(units).scaleb(-2)


class Book:
    """The posted lines, and sums over them done the slow, obvious way."""

    def __init__(self) -> None:
        self.lines: list[tuple[int, date, str, str, Side, Decimal, object, int]] = []

    def balance(self, offices_in: set[int], account: str, currency: str, *, since: date | None = None,
                through: date, sign: int = 1, exclude_close: bool = False) -> Decimal:
        total = Decimal(0)
        for office, day, code, cur, side, amount, source, _n in self.lines:
            if office in offices_in and code == account and cur == currency and day <= through and (
                    since is None or day >= since) and not (exclude_close and source == "close"):
                total += amount if side is Side.DEBIT else -amount
        return sign * total


def subtree(office_ids: list[int], pick: int) -> set[int]:
    return set(office_ids) if pick == 0 else {office_ids[pick]}


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(postings, min_size=1, max_size=12), office_pick=st.integers(0, 2), start=days, end=days)
async def test_reports_agree_with_the_lines(journal, uow_factory, head_office, entries, office_pick, start, end) -> None:  # type: ignore[no-untyped-def]
    start, end = min(start, end), max(start, end)
    prefix, office_ids = await make_world(uow_factory, head_office)
    book = Book()
    commands = [PostJournalEntry(
        office_id=office_ids[office], value_date=day, description="Écriture aléatoire", actor="tests",
        lines=(Line(account_code=f"{prefix}.{debit}", side=Side.DEBIT, amount=amount_of(cur, units), currency=cur),
               Line(account_code=f"{prefix}.{credit}", side=Side.CREDIT, amount=amount_of(cur, units), currency=cur)),
    ) for office, day, cur, debit, credit, units in entries]
    for booked in await journal.post_batch(commands):
        for number, line in enumerate(booked.entry.lines, start=1):
            book.lines.append((booked.entry.office_id, booked.entry.value_date, line.account_code, line.currency,
                               line.side, line.amount, booked.entry.entry_id, number))
    scope_offices = subtree(office_ids, office_pick)
    office_id = office_ids[office_pick]
    currencies = sorted({line[3] for line in book.lines if line[0] in scope_offices})
    codes = {f"{prefix}.{name}": kind for name, kind in DETAIL.items()}
    before = start - timedelta(days=1)

    # Trial balance: every column of every detail row, the header roll-up and the totals.
    found = (await service.trial_balance(uow_factory(), service.ReportScope(
        office_id=office_id, date_from=start, date_to=end))).report
    rows = {(r.account_code, r.currency): r for r in found.rows}
    for code, currency in itertools.product(codes, currencies):
        opening = book.balance(scope_offices, code, currency, through=before)
        closing = book.balance(scope_offices, code, currency, through=end)
        row = rows.get((code, currency))
        moved = book.balance(scope_offices, code, currency, since=start, through=end)
        if row is None:
            assert opening == closing == moved == 0
            continue
        assert row.opening_debit - row.opening_credit == opening
        assert row.closing_debit - row.closing_credit == closing
        assert row.period_debit - row.period_credit == moved
        assert min(row.opening_debit, row.opening_credit, row.closing_debit, row.closing_credit) == 0
    for total in found.totals:
        assert total.balanced, total
    for header, children in (("H", ("CASH", "BANK")), ("HI", ("INC1", "INC2"))):
        for currency in currencies:
            row = rows.get((f"{prefix}.{header}", currency))
            expected = sum(book.balance(scope_offices, f"{prefix}.{c}", currency, through=end) for c in children)
            assert (row.closing_debit - row.closing_credit if row else 0) == expected

    # General ledger of the cash header, two lines a page: the running balance continues across pages.
    query = LedgerQuery(account_code=f"{prefix}.H", office_id=office_id, date_from=start, date_to=end)
    lines, cursor = [], None
    while True:
        page = await general_ledger(uow_factory(), query, limit=2, cursor=cursor)
        lines += page.lines
        cursor = page.next_cursor
        if cursor is None:
            break
    expected_lines = sorted(
        (line for line in book.lines if line[0] in scope_offices and line[2] in (f"{prefix}.CASH", f"{prefix}.BANK")
         and start <= line[1] <= end), key=lambda line: (line[1], line[6], line[7]))
    assert [(line.entry_id, line.line_no) for line in lines] == [(line[6], line[7]) for line in expected_lines]
    running = {c.currency: c.balance for c in page.opening}
    for line in lines:
        running[line.currency] = running.get(line.currency, Decimal(0)) + line.debit - line.credit
        assert line.balance == running[line.currency]
    assert {c.currency: c.balance for c in page.closing if c.balance} == {
        c: b for c, b in running.items() if b}

    # Balance sheet and income statement.
    await check_statements(uow_factory, book, prefix, office_id, scope_offices, start, end, exclude_close=False)

    # Year-end close of 2024 for the region and its branches.
    income_before = await service.income_statement(uow_factory(), service.ReportScope(
        office_id=office_id, date_from=date(2024, 1, 1), date_to=date(2024, 12, 31)))
    books_2024 = [line for line in book.lines if line[1].year == 2024 and line[0] in office_ids
                  and codes[line[2]] in (AccountType.INCOME, AccountType.EXPENSE)]
    if not books_2024:
        return
    closed = await close_year(uow_factory, journal, CloseYear(
        year=2024, office_id=office_ids[0], actor="tests", today=date(2025, 1, 1),
        retained_earnings_account=f"{prefix}.RES"))
    for booked in closed.entries:
        for number, line in enumerate(booked.entry.lines, start=1):
            book.lines.append((booked.entry.office_id, booked.entry.value_date, line.account_code, line.currency,
                               line.side, line.amount, "close", number))
    year_end = date(2024, 12, 31)
    for office, (code, kind), currency in itertools.product(office_ids, codes.items(), ("XOF", "EUR")):
        if kind in (AccountType.INCOME, AccountType.EXPENSE):
            assert book.balance({office}, code, currency, through=year_end) == 0
    income_after = await service.income_statement(uow_factory(), service.ReportScope(
        office_id=office_id, date_from=date(2024, 1, 1), date_to=year_end))
    assert income_after.statements == income_before.statements
    await check_statements(uow_factory, book, prefix, office_id, scope_offices, start, end, exclude_close=True)


async def check_statements(uow_factory, book, prefix, office_id, scope_offices, start, end, *, exclude_close):  # type: ignore[no-untyped-def]
    sheets = (await service.balance_sheet(uow_factory(), service.ReportScope(office_id=office_id, date_to=end))).sheets
    for sheet in sheets:
        assert sheet.balanced, sheet
        for section in (sheet.assets, sheet.liabilities, sheet.equity):
            for line in section.lines:
                kind = AccountType(section.type)
                assert line.amount == book.balance(scope_offices, line.account_code, sheet.currency, through=end,
                                                   sign=SIGN[kind])
        result = sum(book.balance(scope_offices, f"{prefix}.{name}", sheet.currency, through=end, sign=-1)
                     for name, kind in DETAIL.items() if kind in (AccountType.INCOME, AccountType.EXPENSE))
        assert sheet.current_year_result == result
    statements = (await service.income_statement(uow_factory(), service.ReportScope(
        office_id=office_id, date_from=start, date_to=end))).statements
    nets: dict[str, Decimal] = defaultdict(Decimal)
    for name, kind in DETAIL.items():
        if kind in (AccountType.INCOME, AccountType.EXPENSE):
            for currency in ("XOF", "EUR"):
                nets[currency] += book.balance(scope_offices, f"{prefix}.{name}", currency, since=start, through=end,
                                               sign=-1, exclude_close=exclude_close)
    assert {s.currency: s.net_result for s in statements} == {c: n for c, n in nets.items()
                                                               if c in {s.currency for s in statements}}
    for currency, net in nets.items():
        if currency not in {s.currency for s in statements}:
            assert net == 0
