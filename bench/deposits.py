"""Deposit accounts benchmark (issue 7). Run: python bench/deposits.py [--quick]

On a fresh database it prints `name: value unit` lines:
  raw_sql_entries_per_s            the ledger benchmark's raw SQL baseline (bench/ledger_posting.py's raw_sql)
  deposit_tx_per_s                 deposits and withdrawals through POST /api/v1/deposit-accounts/{id}/...,
                                   16 concurrent clients on 1,000 accounts, each with an Idempotency-Key,
                                   server in its own process, signed in as a teller: each request locks the
                                   account, books its journal entry and appends its transactions
  ratio deposit_tx/raw             target >= 0.2
  interest_posting_accounts_per_s  a month-end interest run over 100,000 accounts (loaded set-based),
                                   one journal entry per account; target >= 20,000 accounts/s
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import sys
import time
import warnings
from datetime import date
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")

from ledger_posting import KeepAliveClient, raw_sql, running_server  # noqa: E402  (bench/ is the script's folder)
from sqlalchemy import text  # noqa: E402

from chart_of_accounts import AccountType, AccountUsage, GLAccount  # noqa: E402
from ledger.model import JournalEntry, Line, Reference, Side  # noqa: E402
from products.accounting import ProductAccounting  # noqa: E402
from products.catalogue.common import ProductIdentity  # noqa: E402
from products.deposits.product import DepositProduct, Overdraft  # noqa: E402
from products.posting_rules import AccountingRole, AccountingRule, ProductKind, roles_used  # noqa: E402
from servicing import chart, offices  # noqa: E402
from servicing.clients import service as clients  # noqa: E402
from servicing.clients.commands import ChangeClientStatus, CreateClient  # noqa: E402
from servicing.clients.model import ClientProfile, ClientStatus, ClientType  # noqa: E402
from servicing.commands import CreateGLAccounts, CreateOffice  # noqa: E402
from servicing.config import Settings  # noqa: E402
from servicing.database import Database, drop_database  # noqa: E402
from servicing.deposits.interest import post_deposit_interest  # noqa: E402
from servicing.ids import uuid7  # noqa: E402
from servicing.journal import book_entries  # noqa: E402
from servicing.products import service as products  # noqa: E402
from servicing.reference import defaults as reference_defaults  # noqa: E402
from servicing.unit_of_work import UnitOfWorkFactory  # noqa: E402
from servicing.verification import verify_journal  # noqa: E402

CONCURRENCY = 16
HTTP_ACCOUNTS = 1_000
INTEREST_ACCOUNTS = 100_000
DATABASE_NAME = "grandlivre_bench_deposits"
MONTH_START = date(2026, 10, 1)
MONTH_END = date(2026, 10, 31)
R = AccountingRole
ACCOUNTS = {R.FUND_SOURCE: ("BD.CASH", AccountType.ASSET), R.DEPOSIT_CONTROL: ("BD.DEP", AccountType.LIABILITY),
            R.OVERDRAFT_PORTFOLIO: ("BD.OVD", AccountType.ASSET),
            R.INTEREST_ON_DEPOSITS_EXPENSE: ("BD.IEXP", AccountType.EXPENSE),
            R.FEE_INCOME: ("BD.FEE", AccountType.INCOME), R.INTEREST_INCOME: ("BD.IINC", AccountType.INCOME),
            R.VAT_PAYABLE: ("BD.VAT", AccountType.LIABILITY), R.PENALTY_INCOME: ("BD.PEN", AccountType.INCOME)}


def say(line: str) -> None:
    print(line, flush=True)


def progress(line: str) -> None:
    print(f"# {line}", file=sys.stderr, flush=True)


async def setup(uow_factory: UnitOfWorkFactory) -> tuple[int, int, int, dict[str, int]]:
    """An office, the GL accounts, a current-account product (cash accounting) and a client."""
    await reference_defaults.seed_reference_defaults(uow_factory, "bench")  # XOF enabled, payment types...
    office = await offices.create_office(uow_factory(), CreateOffice(
        code="BENCHD", name="Agence bench", opened_on=date(2026, 1, 1), actor="bench"))
    headers = {kind: f"BDH.{kind.value}" for kind in AccountType}
    gl = [GLAccount(code=code, name=code, type=kind, usage=AccountUsage.HEADER) for kind, code in headers.items()]
    gl += [GLAccount(code=code, name=code, type=kind, usage=AccountUsage.DETAIL, parent_code=headers[kind])
           for code, kind in ACCOUNTS.values()]
    created = await chart.create_accounts(uow_factory(), CreateGLAccounts(accounts=tuple(gl), actor="bench"))
    ids = {account.code: account_id for account_id, account in created}
    needed = roles_used(ProductKind.DEPOSIT, AccountingRule.CASH)
    product = await products.create_product(uow_factory(), DepositProduct(
        identity=ProductIdentity(name="Compte courant bench", short_name="CCB"), currency="XOF",
        interest_rate_annual_percent=Decimal("3.5"), overdraft=Overdraft(limit_amount=Decimal(100_000)),
        accounting=ProductAccounting(rule=AccountingRule.CASH, accounts={r: ACCOUNTS[r][0] for r in needed})),
        "bench")
    created_client = await clients.create_client(uow_factory(), CreateClient(profile=ClientProfile(
        client_type=ClientType.INDIVIDUAL, office_id=office.office_id, first_name="Bench", last_name="Client",
        national_id="BENCH-1"), actor="bench"))
    client_id = created_client.client.client_id
    await clients.change_status(uow_factory(), ChangeClientStatus(
        client_id=client_id, status=ClientStatus.ACTIVE, actor="bench"))
    return office.office_id, client_id, product.product_id, ids


async def load_accounts(uow_factory: UnitOfWorkFactory, office_id: int, client_id: int, product_id: int,
                        count: int) -> list[int]:
    """`count` active accounts, each with an opening deposit of 100,000 value-dated the 1st of the
    month, loaded set-based (a migration of balances): one journal entry for the total, which
    every opening transaction names, so `verify` and the reconciliation hold."""
    async with uow_factory() as uow:
        session = uow.session
        ids = list((await session.execute(text(
            "INSERT INTO deposit_account (client_id, product_id, product_version, currency, office_id, status,"
            " interest_rate_annual_percent, overdraft_limit, minimum_balance, opened_on, created_by, updated_by)"
            " SELECT :client, :product, 1, 'XOF', :office, 'pending', 3.5, 100000, 0, :day, 'bench', 'bench'"
            " FROM generate_series(1, :count) RETURNING id"),
            {"client": client_id, "product": product_id, "office": office_id, "day": MONTH_START,
             "count": count})).scalars())
        await session.execute(text(
            "UPDATE deposit_account SET status = 'active', activated_on = :day, balance = 100000"
            " WHERE id = ANY(CAST(:ids AS bigint[]))"), {"day": MONTH_START, "ids": ids})
        await uow.commit()
    entry_id = uuid7()
    total = Decimal(100_000 * count)
    async with uow_factory() as uow:
        await book_entries(uow, [JournalEntry(
            entry_id=entry_id, office_id=office_id, value_date=MONTH_START, description="Reprise des soldes",
            actor="bench", reference=Reference(source_type="deposit-migration", source_id=str(count)),
            lines=(Line(account_code=ACCOUNTS[R.FUND_SOURCE][0], side=Side.DEBIT, amount=total, currency="XOF"),
                   Line(account_code=ACCOUNTS[R.DEPOSIT_CONTROL][0], side=Side.CREDIT, amount=total,
                        currency="XOF")))])
        await uow.session.execute(text(
            "INSERT INTO deposit_transaction (account_id, kind, amount, signed_amount, balance_after, value_date,"
            " journal_entry_id, description, actor)"
            " SELECT id, 'deposit', 100000, 100000, 100000, :day, :entry, 'Reprise du solde', 'bench'"
            " FROM unnest(CAST(:ids AS bigint[])) AS id"), {"day": MONTH_START, "entry": entry_id, "ids": ids})
        await uow.commit()
    return ids


async def bench_token(uow_factory: UnitOfWorkFactory, office_id: int) -> str:
    from servicing.staff import users
    from servicing.staff.config import StaffSettings
    from servicing.staff.passwords import PasswordHashing
    from servicing.staff.sessions import AuthService

    hashing = PasswordHashing(memory_kib=8_192, time_cost=1)
    user = await users.create_user(uow_factory, hashing, users.CreateStaffUser(
        username="bench-teller", display_name="Caissier bench", office_id=office_id, roles=("teller",),
        password="mesure du débit 2026", actor="bench", must_change_password=False))
    auth = AuthService(uow_factory, StaffSettings(), hashing)
    return (await auth.open_session(user.user_id, totp_satisfied=True)).access_token


async def http(settings: Settings, account_ids: list[int], movements: int, token: str) -> float:
    keys = itertools.count(1)
    async with running_server(settings, DATABASE_NAME) as port:
        clients = [await KeepAliveClient.open(port, token) for _ in range(CONCURRENCY)]
        per_client = movements // CONCURRENCY
        deposit = json.dumps({"amount": "1500", "description": "Versement"}).encode()
        withdrawal = json.dumps({"amount": "1000", "description": "Retrait"}).encode()

        async def client_task(client: KeepAliveClient, count: int, seed: int) -> None:
            chooser = random.Random(seed)
            for n in range(count):
                account_id = chooser.choice(account_ids)
                kind, body = ("deposits", deposit) if n % 2 == 0 else ("withdrawals", withdrawal)
                status, answer = await client.request(
                    "POST", f"/api/v1/deposit-accounts/{account_id}/{kind}", body, idempotency_key=f"bench-{next(keys)}")
                assert status == 201, answer

        await asyncio.gather(*[client_task(c, 10, n) for n, c in enumerate(clients)])  # warm-up
        started = time.perf_counter()
        await asyncio.gather(*[client_task(c, per_client, 100 + n) for n, c in enumerate(clients)])
        rate = per_client * CONCURRENCY / (time.perf_counter() - started)
        for client in clients:
            await client.close()
        return rate


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short run (fewer movements, 20,000 accounts)")
    arguments = parser.parse_args()
    settings = Settings.from_environment()
    settings = Settings(database_url=settings.database_url, home=settings.home, database_name=DATABASE_NAME)
    located = await Database.locate(settings)
    await drop_database(located.admin_url, DATABASE_NAME)
    database = await Database.locate(settings)
    await database.migrate_async()
    progress(f"fresh database {DATABASE_NAME} migrated")
    engine = database.app_engine(pool_size=CONCURRENCY)
    uow_factory = UnitOfWorkFactory(engine)
    office_id, client_id, product_id, gl_ids = await setup(uow_factory)

    progress("raw SQL baseline (bench/ledger_posting.py)...")
    raw = await raw_sql(database, 4_000 if arguments.quick else 16_000, office_id,
                        gl_ids[ACCOUNTS[R.FUND_SOURCE][0]], gl_ids[ACCOUNTS[R.DEPOSIT_CONTROL][0]])
    say(f"raw_sql_entries_per_s: {raw:.0f} entries/s")

    progress(f"{HTTP_ACCOUNTS} accounts for the HTTP phase...")
    http_accounts = await load_accounts(uow_factory, office_id, client_id, product_id, HTTP_ACCOUNTS)
    progress("HTTP API, 16 concurrent clients (server in its own process)...")
    rate = await http(settings, http_accounts, 1_600 if arguments.quick else 6_400,
                      await bench_token(uow_factory, office_id))
    say(f"deposit_tx_per_s: {rate:.0f} tx/s")
    say(f"ratio deposit_tx/raw: {rate / raw:.2f}")

    count = 20_000 if arguments.quick else INTEREST_ACCOUNTS
    progress(f"loading {count} accounts set-based...")
    await load_accounts(uow_factory, office_id, client_id, product_id, count)
    admin = database.admin_engine()
    async with admin.begin() as connection:
        await connection.execute(text("ANALYZE deposit_account"))
        await connection.execute(text("ANALYZE deposit_transaction"))
    await admin.dispose()
    progress("month-end interest run...")
    started = time.perf_counter()
    run = await post_deposit_interest(uow_factory, MONTH_END, "bench")
    elapsed = time.perf_counter() - started
    assert run.accounts_posted >= count, run
    say(f"interest_posting_accounts_per_s: {run.accounts_posted / elapsed:.0f} accounts/s")
    progress(f"{run.accounts_posted} accounts, {run.entries_booked} entries, interest {run.interest_posted} "
             f"in {elapsed:.1f} s")
    again = await post_deposit_interest(uow_factory, MONTH_END, "bench")
    progress(f"second run for the same date posted {again.accounts_posted} accounts")
    report = await verify_journal(uow_factory)
    progress(f"verify after the run: {'OK' if report.ok else 'FAILED'} {report.problems[:3]}")
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
