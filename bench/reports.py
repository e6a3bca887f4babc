"""Report benchmark (issue: accounting reports at 10 million lines).
Run: python bench/reports.py [--lines N] [--reload]

Builds (once; reused while it holds the requested number of lines) a journal of N lines (default
10,000,000) over 1,000 detail accounts, 20 offices and 3 years, in the database
`grandlivre_bench_reports` of the embedded server (or DATABASE_URL's). Entries are chained and
hashed exactly as the writer does (`ledger.chain`) and loaded with COPY; the derived account
balances, period totals and chain heads are then built set-based, as migration 0003 does. The
load time is printed but is not a target. Then it prints `name: value unit` lines:
  trial_balance_ms        trial balance of the head office and its branches as of a random date
                          (median of 20), through the report service the API uses
  general_ledger_page_ms  one account, one month, first page of 100 lines with running balance
  balance_sheet_ms        balance sheet at a random date (median of 5)
  balance_as_of_ms        one account's balance at a random past date (median of 200)
  verify_lines_per_s      a full `verify` (chain, entry balances, cached balances, period totals)
  raw_sum_ms              SELECT account_id, sum(...) FROM journal_line GROUP BY account_id
  ratio trial_balance/raw_sum
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
import warnings
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")

import asyncpg  # noqa: E402

from chart_of_accounts import AccountType, AccountUsage, GLAccount  # noqa: E402
from ledger.chain import GENESIS, ChainedEntry, ChainedLine, canonical_bytes, chain_hash  # noqa: E402
from servicing import chart, offices  # noqa: E402
from servicing.commands import CreateGLAccounts, CreateOffice  # noqa: E402
from servicing.config import Settings  # noqa: E402
from servicing.database import Database, _asyncpg_dsn  # noqa: E402
from servicing.unit_of_work import UnitOfWorkFactory  # noqa: E402
from servicing.verification import verify_journal  # noqa: E402

DATABASE_NAME = os.environ.get("GRANDLIVRE_BENCH_DATABASE", "grandlivre_bench_reports")
OFFICES = 20
DETAIL_ACCOUNTS = 1_000
FIRST_DAY = date(2023, 1, 1)
DAYS = 3 * 365 + 1
CHUNK = 100_000
TYPES = ((AccountType.ASSET, 400), (AccountType.LIABILITY, 250), (AccountType.EQUITY, 50),
         (AccountType.INCOME, 150), (AccountType.EXPENSE, 150))


def say(line: str) -> None:
    print(line, flush=True)


def progress(line: str) -> None:
    print(f"# {line}", file=sys.stderr, flush=True)


async def _median_ms(action: Callable[[], Awaitable[Any]], runs: int) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        await action()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


async def _structure(uow_factory: UnitOfWorkFactory) -> tuple[list[int], list[tuple[int, str]]]:
    """Offices (the head office and 19 branches) and the chart: one header per type, 1,000 details."""
    async with uow_factory() as uow:
        head = await uow.session.scalar(_text("SELECT id FROM office WHERE parent_id IS NULL"))
    office_ids = [head] if head else []
    if not office_ids:
        created = await offices.create_office(uow_factory(), CreateOffice(
            code="SIEGE", name="Siège", parent_id=None, region="Dakar", opened_on=date(2022, 1, 1), actor="bench"))
        office_ids.append(created.office_id)
    for n in range(1, OFFICES):
        created = await offices.create_office(uow_factory(), CreateOffice(
            code=f"AG{n:02d}", name=f"Agence {n}", parent_id=office_ids[0], region="Thiès",
            opened_on=date(2022, 1, 1), actor="bench"))
        office_ids.append(created.office_id)
    accounts: list[GLAccount] = []
    for kind, count in TYPES:
        accounts.append(GLAccount(code=f"R{kind.value}", name=f"Comptes {kind.value}", type=kind,
                                  usage=AccountUsage.HEADER))
        accounts.extend(GLAccount(code=f"R{kind.value}.{n:04d}", name=f"{kind.value} {n}", type=kind,
                                  usage=AccountUsage.DETAIL, parent_code=f"R{kind.value}") for n in range(count))
    await chart.create_accounts(uow_factory(), CreateGLAccounts(accounts=tuple(accounts), actor="bench"))
    async with uow_factory() as uow:
        rows = (await uow.session.execute(_text(
            "SELECT id, type FROM gl_account WHERE NOT is_header AND code LIKE 'R%' ORDER BY id"))).all()
    return office_ids, [(row.id, row.type) for row in rows]


def _text(sql: str) -> Any:
    from sqlalchemy import text

    return text(sql)


def _uuid7(moment: datetime, rng: random.Random) -> UUID:
    """Time-ordered ids, as the journal's writer makes them (uuid7): millisecond time, then random."""
    millis = int(moment.timestamp() * 1000)
    value = (millis << 80) | (0x7 << 76) | (rng.getrandbits(12) << 64) | (0b10 << 62) | rng.getrandbits(62)
    return UUID(int=value)


def _entries(count: int, office_ids: list[int], account_ids: list[int], seed: int):  # type: ignore[no-untyped-def]
    """Chunks of (entry records, line records), every entry two lines, hashed onto its office's chain."""
    rng = random.Random(seed)
    tips = {office: (0, GENESIS) for office in office_ids}
    booked_base = datetime(2026, 1, 1, tzinfo=UTC)
    made = 0
    while made < count:
        entry_records: list[tuple[Any, ...]] = []
        line_records: list[tuple[Any, ...]] = []
        for _ in range(min(CHUNK, count - made)):
            made += 1
            entry_id = _uuid7(booked_base + timedelta(microseconds=made), rng)
            office = rng.choice(office_ids)
            day = FIRST_DAY + timedelta(days=rng.randrange(DAYS))
            booked_at = booked_base + timedelta(microseconds=made)
            debit, credit = rng.sample(account_ids, 2)
            amount = Decimal(rng.randrange(100, 5_000_000))
            position, previous = tips[office]
            position += 1
            lines = (ChainedLine(1, debit, office, day, "D", amount, "XOF"),
                     ChainedLine(2, credit, office, day, "C", amount, "XOF"))
            description = f"Opération {made}"
            digest = chain_hash(previous, canonical_bytes(ChainedEntry(
                entry_id, office, position, day, booked_at, description, None, None, "bench", None, None, 2), lines))
            tips[office] = (position, digest)
            entry_records.append((entry_id, office, day, booked_at, description, "bench", 2, position, digest))
            line_records.extend((entry_id, line.line_no, line.account_id, office, day, line.side, amount, "XOF")
                                for line in lines)
        yield entry_records, line_records


DERIVED = """
INSERT INTO account_balance (account_id, currency, debit_total, credit_total, line_count)
SELECT account_id, currency, coalesce(sum(amount) FILTER (WHERE side = 'D'), 0),
       coalesce(sum(amount) FILTER (WHERE side = 'C'), 0), count(*)
  FROM journal_line GROUP BY account_id, currency;
INSERT INTO account_period_total (grain, account_id, period_start, office_id, currency, debit_total, credit_total,
                                  line_count)
SELECT p.grain, l.account_id, p.period_start, l.office_id, l.currency,
       coalesce(sum(l.amount) FILTER (WHERE l.side = 'D'), 0), coalesce(sum(l.amount) FILTER (WHERE l.side = 'C'), 0),
       count(*)
  FROM journal_line l
 CROSS JOIN LATERAL (VALUES ('Y', date_trunc('year', l.value_date)::date),
                            ('M', date_trunc('month', l.value_date)::date), ('D', l.value_date)) AS p (grain, period_start)
 GROUP BY 1, 2, 3, 4, 5;
UPDATE journal_chain_head h SET position = e.chain_position, entry_hash = e.entry_hash
  FROM (SELECT DISTINCT ON (office_id) office_id, chain_position, entry_hash FROM journal_entry
         ORDER BY office_id, chain_position DESC) e
 WHERE h.office_id = e.office_id;
"""


async def load(database: Database, uow_factory: UnitOfWorkFactory, lines: int) -> None:
    started = time.perf_counter()
    office_ids, accounts = await _structure(uow_factory)
    account_ids = [account_id for account_id, _ in accounts]
    connection = await asyncpg.connect(_asyncpg_dsn(database.admin_url))
    try:
        await connection.execute("SET session_replication_role = replica")
        loaded = 0
        for entry_records, line_records in _entries(lines // 2, office_ids, account_ids, seed=20261123):
            async with connection.transaction():
                await connection.copy_records_to_table(
                    "journal_entry", records=entry_records,
                    columns=["id", "office_id", "value_date", "booked_at", "description", "actor", "line_count",
                             "chain_position", "entry_hash"])
                await connection.copy_records_to_table(
                    "journal_line", records=line_records,
                    columns=["entry_id", "line_no", "account_id", "office_id", "value_date", "side", "amount",
                             "currency"])
            loaded += len(line_records)
            progress(f"loaded {loaded:,} of {lines:,} lines ({time.perf_counter() - started:.0f} s)")
        progress("building account balances, period totals and chain heads")
        await connection.execute("SET work_mem = '512MB'")
        await connection.execute(DERIVED)
        progress("vacuum analyze")
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
    say(f"load_s: {time.perf_counter() - started:.1f} s")


async def measure(database: Database, uow_factory: UnitOfWorkFactory) -> None:
    """Each figure goes through the report service the API calls (office = the head office
    and its 19 branches), not through hand-written SQL."""
    from ledger.db.totals import account_totals
    from servicing.reports.general_ledger import LedgerQuery, general_ledger
    from servicing.reports.service import ReportScope, balance_sheet, trial_balance

    rng = random.Random(7)
    async with uow_factory() as uow:
        detail = (await uow.session.execute(_text(
            "SELECT id, code FROM gl_account WHERE NOT is_header AND code LIKE 'R%' ORDER BY id"))).all()
        head = await uow.session.scalar(_text("SELECT id FROM office WHERE parent_id IS NULL"))
        lines = int(await uow.session.scalar(_text("SELECT count(*) FROM journal_line")) or 0)
    say(f"journal_lines: {lines} lines")

    def random_day() -> date:
        return FIRST_DAY + timedelta(days=rng.randrange(DAYS))

    async def trial_balance_as_of() -> None:
        report = await trial_balance(uow_factory(), ReportScope(office_id=head, date_to=random_day()))
        assert all(total.balanced for total in report.report.totals), "a trial balance balances"

    async def balance_sheet_at() -> None:
        report = await balance_sheet(uow_factory(), ReportScope(office_id=head, date_to=random_day()))
        assert all(sheet.balanced for sheet in report.sheets)

    async def balance_as_of() -> None:
        account_id = rng.choice(detail).id
        async with uow_factory() as uow:
            await account_totals(uow.session, through=random_day(), account_ids=[account_id])

    async def general_ledger_page() -> None:
        day = random_day()
        first = date(day.year, day.month, 1)
        last = date(day.year + day.month // 12, day.month % 12 + 1, 1) - timedelta(days=1)
        page = await general_ledger(uow_factory(), LedgerQuery(
            account_code=rng.choice(detail).code, office_id=head, date_from=first, date_to=last), limit=100, cursor=None)
        assert page.lines

    async def raw_sum() -> None:
        async with uow_factory() as uow:
            await uow.session.execute(_text(
                "SELECT account_id, sum(CASE side WHEN 'D' THEN amount ELSE -amount END) FROM journal_line"
                " GROUP BY account_id"))

    progress("full verify")
    started = time.perf_counter()
    report = await verify_journal(uow_factory)
    seconds = time.perf_counter() - started
    say(f"verify_lines_per_s: {report.lines_checked / seconds:.0f} lines/s "
        f"({'ok' if report.ok else 'FAILED'}, {seconds:.1f} s)")
    for problem in report.problems[:5]:
        progress(f"verify problem: {problem}")
    # The full verify above has read the journal once, as the nightly verify does: the reports
    # below run on a warm cache, as they would during a working day.
    trial_balance_ms = await _median_ms(trial_balance_as_of, 20)
    say(f"trial_balance_ms: {trial_balance_ms:.1f} ms")
    say(f"general_ledger_page_ms: {await _median_ms(general_ledger_page, 20):.1f} ms")
    say(f"balance_sheet_ms: {await _median_ms(balance_sheet_at, 5):.1f} ms")
    say(f"balance_as_of_ms: {await _median_ms(balance_as_of, 200):.2f} ms")
    raw_sum_ms = await _median_ms(raw_sum, 3)
    say(f"raw_sum_ms: {raw_sum_ms:.1f} ms")
    say(f"ratio trial_balance/raw_sum: {trial_balance_ms / raw_sum_ms:.3f} "
        f"(the trial balance is {raw_sum_ms / trial_balance_ms:.1f}x faster than the raw full scan)")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--reload", action="store_true", help="drop and rebuild the benchmark journal")
    args = parser.parse_args()
    settings = Settings(database_url=os.environ.get("DATABASE_URL") or None, home=ROOT / ".grandlivre",
                        database_name=DATABASE_NAME, pool_size=4)
    database = await Database.locate(settings)
    size = await _journal_size(database)
    if args.reload or (size not in (0, args.lines)):
        from servicing.database import drop_database

        progress(f"dropping the benchmark database ({size:,} lines, {args.lines:,} wanted)")
        await drop_database(database.admin_url, DATABASE_NAME)
        database = await Database.locate(settings)
        size = 0
    await database.migrate_async()
    engine = database.app_engine(pool_size=4)
    uow_factory = UnitOfWorkFactory(engine)
    try:
        if size == 0:
            await load(database, uow_factory, args.lines)
        else:
            progress(f"reusing the benchmark journal of {size:,} lines")
        await measure(database, uow_factory)
    finally:
        await engine.dispose()


async def _journal_size(database: Database) -> int:
    connection = await asyncpg.connect(_asyncpg_dsn(database.admin_url))
    try:
        exists = await connection.fetchval("SELECT to_regclass('journal_line') IS NOT NULL")
        return int(await connection.fetchval("SELECT count(*) FROM journal_line")) if exists else 0
    finally:
        await connection.close()


if __name__ == "__main__":
    asyncio.run(main())
