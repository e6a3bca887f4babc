"""Posting benchmark (issue: the ledger foundation). Run: python bench/ledger_posting.py [--quick]

On a fresh database it measures, in one run, and prints `name: value unit` lines:
  raw_sql_entries_per_s   plain SQL over asyncpg, 16 connections, one transaction per two-line entry,
                          into trigger-free copies of the journal tables (the machine's physical baseline)
  service_entries_per_s   the journal service (group commit), 16 concurrent tasks, same two accounts
  http_entries_per_s      POST /api/v1/journal-entries, 16 concurrent clients, server in its own process
                          (signed in as an accountant: the token check and the audit record are included)
  batch_lines_per_s       the atomic batch command, calls of 5,000 two-line entries (the most a call
                          takes); batch_half_calls_lines_per_s the same with calls of 2,500
and the ratios service/raw and http/raw. Every entry posted by the service and HTTP phases
lands on the same two accounts: the worst case for contention on cached balances.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import itertools
import json
import os
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")

import asyncpg  # noqa: E402

from chart_of_accounts import AccountType, AccountUsage, GLAccount  # noqa: E402
from ledger.limits import ENTRIES_PER_BATCH_MAX  # noqa: E402
from ledger.model import Line, Side  # noqa: E402
from servicing import chart, offices  # noqa: E402
from servicing.commands import CreateGLAccounts, CreateOffice, PostJournalEntry  # noqa: E402
from servicing.config import Settings  # noqa: E402
from servicing.database import Database, _asyncpg_dsn, drop_database  # noqa: E402
from servicing.heap import freeze_startup_heap  # noqa: E402
from servicing.journal import JournalService  # noqa: E402
from servicing.unit_of_work import UnitOfWorkFactory  # noqa: E402
from servicing.verification import verify_journal  # noqa: E402

CONCURRENCY = 16
DATABASE_NAME = "grandlivre_bench"


def say(line: str) -> None:
    print(line, flush=True)


def progress(line: str) -> None:
    print(f"# {line}", file=sys.stderr, flush=True)


async def raw_sql(database: Database, entries: int, office_id: int, cash_id: int, deposits_id: int) -> float:
    dsn = _asyncpg_dsn(database.admin_url)
    setup = await asyncpg.connect(dsn)
    await setup.execute("""
        DROP TABLE IF EXISTS raw_journal_line, raw_journal_entry;
        CREATE TABLE raw_journal_entry (LIKE journal_entry INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING INDEXES);
        CREATE TABLE raw_journal_line (LIKE journal_line INCLUDING DEFAULTS INCLUDING INDEXES);
    """)
    await setup.close()
    connections = [await asyncpg.connect(dsn) for _ in range(CONCURRENCY)]
    per_connection = entries // CONCURRENCY
    positions = itertools.count(1)

    async def worker(connection: asyncpg.Connection) -> None:
        for _ in range(per_connection):
            entry_id = uuid4()
            async with connection.transaction():
                await connection.execute(
                    "INSERT INTO raw_journal_entry (id, office_id, value_date, description, actor, line_count, "
                    "chain_position, entry_hash) VALUES ($1, $2, $3, 'Versement', 'bench', 2, $4, $5)",
                    entry_id, office_id, date(2026, 10, 5), next(positions), hashlib.sha256(entry_id.bytes).digest())
                await connection.executemany(
                    "INSERT INTO raw_journal_line (entry_id, line_no, account_id, office_id, value_date, side, amount, currency) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, 'XOF')",
                    [(entry_id, 1, cash_id, office_id, date(2026, 10, 5), "D", Decimal(1000)),
                     (entry_id, 2, deposits_id, office_id, date(2026, 10, 5), "C", Decimal(1000))])

    started = time.perf_counter()
    await asyncio.gather(*[worker(c) for c in connections])
    elapsed = time.perf_counter() - started
    for connection in connections:
        await connection.close()
    return per_connection * CONCURRENCY / elapsed


def command(office_id: int, amount: int) -> PostJournalEntry:
    return PostJournalEntry(
        office_id=office_id, value_date=date(2026, 10, 5), description="Versement espèces", actor="bench",
        lines=(Line(account_code="B.CASH", side=Side.DEBIT, amount=Decimal(amount), currency="XOF"),
               Line(account_code="B.DEP", side=Side.CREDIT, amount=Decimal(amount), currency="XOF")),
    )


async def service(journal: JournalService, entries: int, office_id: int) -> float:
    per_task = entries // CONCURRENCY

    async def task(number: int) -> None:
        for i in range(per_task):
            await journal.post(command(office_id, 1000 + number + i))

    started = time.perf_counter()
    await asyncio.gather(*[task(n) for n in range(CONCURRENCY)])
    return per_task * CONCURRENCY / (time.perf_counter() - started)


BATCH_ENTRIES_PER_CALL = ENTRIES_PER_BATCH_MAX


def batch_composition(entries_per_call: int) -> str:
    return (f"calls of {entries_per_call:,} balanced two-line XOF entries, one office, two accounts, all checks, "
            "one transaction per call")


async def batch(journal: JournalService, lines: int, office_id: int, entries_per_call: int) -> float:
    calls = max(1, lines // 2 // entries_per_call)
    commands = [command(office_id, 100 + i) for i in range(entries_per_call)]
    await journal.post_batch(commands)  # warm-up: prepared statements, caches
    started = time.perf_counter()
    for _ in range(calls):
        await journal.post_batch(commands)
    return calls * entries_per_call * 2 / (time.perf_counter() - started)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class KeepAliveClient:
    """A minimal HTTP/1.1 keep-alive client over asyncio streams. httpx spends about a
    millisecond of CPU per request, which on a 2-core machine measures the client rather
    than the server; this costs a few tens of microseconds."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, token: str) -> None:
        self.reader = reader
        self.writer = writer
        self.token = token

    @classmethod
    async def open(cls, port: int, token: str = "") -> KeepAliveClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer, token)

    async def request(self, method: str, path: str, body: bytes = b"", *,
                      idempotency_key: str | None = None) -> tuple[int, bytes]:
        key = f"Idempotency-Key: {idempotency_key}\r\n" if idempotency_key else ""
        head = (f"{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {self.token}\r\n{key}"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return int(status_line.split()[1]), await self.reader.readexactly(length)

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


@contextlib.asynccontextmanager
async def running_server(settings: Settings, database_name: str, *arguments: str) -> AsyncIterator[int]:
    """`grandlivre serve` in its own process on a free port, once it answers /health; yields the port."""
    port = free_port()
    environment = dict(os.environ, GRANDLIVRE_HOME=str(settings.home), GRANDLIVRE_DATABASE=database_name)
    server = subprocess.Popen(
        [sys.executable, "-c", "from api.cli import main; main()", "serve", "--port", str(port), *arguments],
        cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(300):
            try:
                probe = await KeepAliveClient.open(port)
                status, _body = await probe.request("GET", "/health")
                await probe.close()
                if status == 200:
                    break
            except (OSError, asyncio.IncompleteReadError, IndexError):
                await asyncio.sleep(0.1)
        else:
            raise RuntimeError("the server did not start")
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


async def http(settings: Settings, entries: int, office_id: int, workers: int, token: str) -> float:
    async with running_server(settings, DATABASE_NAME, "--workers", str(workers)) as port:
        clients = [await KeepAliveClient.open(port, token) for _ in range(CONCURRENCY)]
        per_client = entries // CONCURRENCY
        payload = json.dumps({
            "office_id": office_id, "value_date": "2026-10-05", "description": "Versement espèces",
            "lines": [{"account_code": "B.CASH", "side": "debit", "amount": "1000", "currency": "XOF"},
                      {"account_code": "B.DEP", "side": "credit", "amount": "1000", "currency": "XOF"}]}).encode()

        async def client_task(client: KeepAliveClient, count: int) -> None:
            for _ in range(count):
                status, answer = await client.request("POST", "/api/v1/journal-entries", payload)
                assert status == 201, answer

        await asyncio.gather(*[client_task(c, 20) for c in clients])  # warm-up
        started = time.perf_counter()
        await asyncio.gather(*[client_task(c, per_client) for c in clients])
        rate = per_client * CONCURRENCY / (time.perf_counter() - started)
        for client in clients:
            await client.close()
        return rate


async def bench_token(uow_factory: UnitOfWorkFactory, office_id: int) -> str:
    """An accountant of the bench office, signed in (2FA counted as done): the HTTP figure
    includes the token check and the audit record of every posting."""
    from servicing.staff import users
    from servicing.staff.config import StaffSettings
    from servicing.staff.passwords import PasswordHashing
    from servicing.staff.sessions import AuthService

    hashing = PasswordHashing(memory_kib=8_192, time_cost=1)
    user = await users.create_user(uow_factory, hashing, users.CreateStaffUser(
        username="bench", display_name="Bench", office_id=office_id, roles=("accountant",),
        password="mesure du débit 2026", actor="bench", must_change_password=False))
    auth = AuthService(uow_factory, StaffSettings(), hashing)
    return (await auth.open_session(user.user_id, totp_satisfied=True)).access_token


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short run (a few seconds per figure)")
    parser.add_argument("--workers", type=int, default=1, help="server processes for the HTTP figure")
    parser.add_argument("--only", choices=("raw", "service", "http", "batch"), action="append",
                        help="run only these phases (repeatable; the ratios need raw)")
    arguments = parser.parse_args()
    scale = 1 if arguments.quick else 5
    settings = Settings.from_environment()
    settings = Settings(database_url=settings.database_url, home=settings.home, database_name=DATABASE_NAME)
    located = await Database.locate(settings)
    await drop_database(located.admin_url, DATABASE_NAME)
    database = await Database.locate(settings)
    await database.migrate_async()
    progress(f"fresh database {DATABASE_NAME} migrated")
    engine = database.app_engine(pool_size=CONCURRENCY)
    uow_factory = UnitOfWorkFactory(engine)
    office = await offices.create_office(uow_factory(), CreateOffice(
        code="BENCH", name="Siège", opened_on=date(2026, 1, 1), actor="bench"))
    accounts = await chart.create_accounts(uow_factory(), CreateGLAccounts(actor="bench", accounts=(
        GLAccount(code="B", name="Bench", type=AccountType.ASSET, usage=AccountUsage.HEADER),
        GLAccount(code="B.CASH", name="Caisse", type=AccountType.ASSET, usage=AccountUsage.DETAIL, parent_code="B"),
        GLAccount(code="B.DEP", name="Dépôts", type=AccountType.LIABILITY, usage=AccountUsage.DETAIL, parent_code="B"),
    )))
    ids = {account.code: account_id for account_id, account in accounts}

    phases = set(arguments.only or ("raw", "service", "http", "batch"))
    raw = service_rate = http_rate = None
    if "raw" in phases:
        progress("raw SQL baseline...")
        raw = await raw_sql(database, 4_000 * scale, office.office_id, ids["B.CASH"], ids["B.DEP"])
        say(f"raw_sql_entries_per_s: {raw:.0f} entries/s")

    journal = JournalService(uow_factory, idempotency_retention_days=30)
    await journal.start()
    freeze_startup_heap()  # as `grandlivre serve` does once started (servicing.heap)
    if "service" in phases:
        progress("service layer...")
        await service(journal, 800, office.office_id)  # warm-up
        service_rate = await service(journal, 4_000 * scale, office.office_id)
        say(f"service_entries_per_s: {service_rate:.0f} entries/s")

    if "http" in phases:
        progress("HTTP API (server in its own process)...")
        http_rate = await http(settings, 2_000 * scale, office.office_id, arguments.workers,
                               await bench_token(uow_factory, office.office_id))
        say(f"http_entries_per_s: {http_rate:.0f} entries/s")

    if "batch" in phases:
        progress("batch command...")
        batch_rate = await batch(journal, 100_000 * scale, office.office_id, BATCH_ENTRIES_PER_CALL)
        say(f"batch_lines_per_s: {batch_rate:.0f} lines/s ({batch_composition(BATCH_ENTRIES_PER_CALL)}, "
            "the most a call takes)")
        half = BATCH_ENTRIES_PER_CALL // 2
        half_rate = await batch(journal, 100_000 * scale, office.office_id, half)
        say(f"batch_half_calls_lines_per_s: {half_rate:.0f} lines/s ({batch_composition(half)})")
    await journal.aclose()

    if raw and service_rate:
        say(f"ratio service/raw: {service_rate / raw:.2f}")
    if raw and http_rate:
        say(f"ratio http/raw: {http_rate / raw:.2f}")
    report = await verify_journal(uow_factory)
    progress(f"verify after the run: {'OK' if report.ok else 'FAILED'} ({report.lines_checked} lines)")
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
