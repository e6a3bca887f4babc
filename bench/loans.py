"""Loan benchmark (issue 8). Run: python bench/loans.py [--quick]

On a fresh database it prints `name: value unit` lines (progress on stderr):
  raw_sql_entries_per_s   the physical baseline of bench/ledger_posting.py (plain SQL, 16 connections)
  repayments_per_s        POST /api/v1/loans/{id}/repayments, 16 concurrent clients (server in its own
                          process, signed in as a head-office branch manager), each on a random loan among
                          10,000 active ones spread over 8 branches
  ratio repayments/raw    target >= 0.1
  loan_position_ms        GET /api/v1/loans/{id}: one loan's live position, schedule and record, for a loan
                          of 60 monthly instalments disbursed five years ago and repaid every month (median)
                          target < 20 ms
  collect_loans_per_s     `grandlivre collect` for one date over every active loan (10,000, or
                          --collect-loans N: the template cloned up to N), each linked to its
                          borrower's funded deposit account, everything due collected; target 2,000/s

The 10,000 loans are one loan made through the services (application, disbursement) cloned
set-based, each clone with its own disbursement transaction and its own journal entry booked
through the journal (like a migration of a portfolio), so `verify` and the reconciliation hold.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import statistics
import sys
import time
import warnings
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")

import msgspec  # noqa: E402
from sqlalchemy import text  # noqa: E402

from bench.deposits import progress, say  # noqa: E402
from bench.ledger_posting import CONCURRENCY, KeepAliveClient, raw_sql, running_server  # noqa: E402
from chart_of_accounts import AccountType, AccountUsage, GLAccount  # noqa: E402
from ledger.model import JournalEntry, Line, Reference, Side  # noqa: E402
from products.accounting import ProductAccounting  # noqa: E402
from products.catalogue.common import AmountRange, CountRange, ProductIdentity  # noqa: E402
from products.loans.product import LoanProduct  # noqa: E402
from products.posting_rules import ROLE_ACCOUNT_TYPES, AccountingRule, ProductKind, roles_used  # noqa: E402
from servicing import chart, offices  # noqa: E402
from servicing.commands import CreateGLAccounts, CreateOffice  # noqa: E402
from servicing.config import Settings  # noqa: E402
from servicing.database import Database, drop_database  # noqa: E402
from servicing.ids import uuid7  # noqa: E402
from servicing.journal import book_entries  # noqa: E402
from servicing.loans import applications, movements  # noqa: E402
from servicing.loans.collection import collect  # noqa: E402
from servicing.loans.model import Disburse, FundsChannel, LoanApplication, Repay  # noqa: E402
from servicing.products import service as products  # noqa: E402
from servicing.reference import defaults as reference_defaults  # noqa: E402
from servicing.staff.scope import OfficeScope  # noqa: E402
from servicing.unit_of_work import UnitOfWorkFactory  # noqa: E402
from servicing.verification import verify_journal  # noqa: E402
from tests.deposit_support import onboarded_client  # noqa: E402

DATABASE_NAME = "grandlivre_bench_loans"
ACTIVE_LOANS = 10_000
POSITION_REQUESTS = 60
HISTORY_MONTHS = 60
REPAYMENTS_TARGET_RATIO = 0.1
POSITION_TARGET_MS = 20.0
CLONE_BATCH = 2_500
BRANCHES = 8
"""The loans are spread over the branches of an institution: each office's journal is one hash
chain, so postings in one office are serialised at its chain head (by design: the chain makes
the journal tamper-evident); offices post in parallel."""
TODAY = date.today()


async def setup(uow_factory: UnitOfWorkFactory) -> tuple[int, list[tuple[int, int]], int, int, dict[str, int]]:
    """The head office and its branches, GL accounts, a cash-rule loan product open since 2020
    (no fees: every TEG passes), an active client per branch, the cash payment type."""
    await reference_defaults.seed_reference_defaults(uow_factory, "bench")
    office = await offices.create_office(uow_factory(), CreateOffice(
        code="BENCHL", name="Agence bench prêts", opened_on=date(2020, 1, 1), actor="bench"))
    roles = sorted(roles_used(ProductKind.LOAN, AccountingRule.CASH))
    headers = {kind: f"BLH.{kind.value}" for kind in AccountType}
    codes = {role: f"BL.{role.value}" for role in roles}
    gl = [GLAccount(code=code, name=code, type=kind, usage=AccountUsage.HEADER) for kind, code in headers.items()]
    for role, code in codes.items():
        kind = AccountType(sorted(ROLE_ACCOUNT_TYPES[role])[0])
        gl.append(GLAccount(code=code, name=code, type=kind, usage=AccountUsage.DETAIL, parent_code=headers[kind]))
    created = await chart.create_accounts(uow_factory(), CreateGLAccounts(accounts=tuple(gl), actor="bench"))
    ids = {account.code: account_id for account_id, account in created}
    product = await products.create_product(uow_factory(), LoanProduct(
        identity=ProductIdentity(name="Prêt bench", short_name="PB", open_date=date(2020, 1, 1)), currency="XOF",
        principal=AmountRange(minimum=Decimal(50_000), default=Decimal(600_000), maximum=Decimal(10_000_000)),
        repayment_count=CountRange(minimum=3, default=12, maximum=HISTORY_MONTHS),
        interest_rate_percent=AmountRange(minimum=Decimal(6), default=Decimal(12), maximum=Decimal(24)),
        accounting=ProductAccounting(rule=AccountingRule.CASH, accounts={r: codes[r] for r in roles})), "bench")
    borrowers = []
    for n in range(BRANCHES):
        branch = await offices.create_office(uow_factory(), CreateOffice(
            code=f"BL-{n + 1:02d}", name=f"Agence bench {n + 1}", parent_id=office.office_id,
            opened_on=date(2020, 1, 1), actor="bench"))
        # KYC-complete (verified identity card): collection takes from the borrower's own account.
        borrowers.append((await onboarded_client(uow_factory, branch.office_id, f"BL{n + 1}"), branch.office_id))
    async with uow_factory() as uow:
        cash = await uow.session.scalar(text("SELECT id FROM payment_type WHERE name = 'Espèces'"))
    return office.office_id, borrowers, product.product_id, int(cash), ids


async def bench_user(uow_factory: UnitOfWorkFactory, office_id: int) -> tuple[int, str]:
    from servicing.staff import users
    from servicing.staff.config import StaffSettings
    from servicing.staff.passwords import PasswordHashing
    from servicing.staff.sessions import AuthService

    hashing = PasswordHashing(memory_kib=8_192, time_cost=1)
    user = await users.create_user(uow_factory, hashing, users.CreateStaffUser(
        username="bench-loans", display_name="Caissier bench", office_id=office_id, roles=("branch_manager",),
        password="mesure du débit 2026", actor="bench", must_change_password=False))
    auth = AuthService(uow_factory, StaffSettings(), hashing)
    return user.user_id, (await auth.open_session(user.user_id, totp_satisfied=True)).access_token


async def disbursed_loan(uow_factory: UnitOfWorkFactory, scope: OfficeScope, *, client_id: int, product_id: int,
                         user_id: int, cash: int, on: date, principal: Decimal, count: int) -> int:
    """A loan recorded and disbursed through the services; the decision (eligibility, four eyes)
    is not what is measured, so the application is marked approved directly."""
    record = await applications.create_application(uow_factory, LoanApplication(
        client_id=client_id, product_id=product_id, expected_disbursement_date=on, principal_amount=principal,
        repayment_count=count), actor="bench", actor_user_id=user_id, scope=scope)
    async with uow_factory() as uow:
        await uow.session.execute(text(
            "UPDATE loan SET status = 'approved', principal_approved = principal_requested, approval_levels = 1 "
            "WHERE id = :id"), {"id": record.loan_id})
        await uow.commit()
    await movements.disburse(uow_factory, record.loan_id, Disburse(value_date=on, channel=FundsChannel(
        payment_type_id=cash)), actor="bench", scope=scope)
    return record.loan_id


async def clone_loans(uow_factory: UnitOfWorkFactory, template_id: int, count: int,
                      borrowers: list[tuple[int, int]]) -> list[int]:
    """`count` copies of an active loan, spread over the (client, office) borrowers, each with
    its own disbursement transaction and its own entry in its office's journal."""
    async with uow_factory() as uow:
        ids = []
        for n, (client_id, office_id) in enumerate(borrowers):
            share = count // len(borrowers) + (1 if n < count % len(borrowers) else 0)
            ids += list((await uow.session.execute(text(
                "INSERT INTO loan (client_id, office_id, product_id, product_version, currency, status, loan_cycle,"
                " principal_requested, principal_approved, expected_disbursement_date, requested, terms, details,"
                " requirements, approval_levels, schedule, disbursed_on, maker_user_id, created_by, updated_by,"
                " booked_classification, term_bucket)"
                " SELECT :client, :office, product_id, product_version, currency, status, loan_cycle,"
                " principal_requested, principal_approved, expected_disbursement_date, requested, terms, details,"
                " requirements, approval_levels, schedule, disbursed_on, maker_user_id, created_by, updated_by,"
                " booked_classification, term_bucket FROM loan, generate_series(1, :count) WHERE id = :id"
                " RETURNING id, office_id"),
                {"count": share, "id": template_id, "client": client_id, "office": office_id})).all())
        template = (await uow.session.execute(text(
            "SELECT t.* FROM loan_transaction t WHERE t.loan_id = :id AND t.kind = 'disbursement'"),
            {"id": template_id})).one()
        lines = (await uow.session.execute(text(
            "SELECT a.code, l.side, l.amount, l.currency FROM journal_line l JOIN gl_account a ON a.id = l.account_id"
            " WHERE l.entry_id = :entry ORDER BY l.line_no"), {"entry": template.journal_entry_id})).all()
        await uow.commit()
    entry_lines = tuple(Line(account_code=code, side=Side.DEBIT if side == "D" else Side.CREDIT, amount=amount, currency=currency.strip())
                        for code, side, amount, currency in lines)
    for start in range(0, len(ids), CLONE_BATCH):
        chunk = [loan_id for loan_id, _office in ids[start:start + CLONE_BATCH]]
        entries = [JournalEntry(entry_id=uuid7(), office_id=office_id, value_date=template.value_date,
                                description=f"Décaissement prêt n° {loan_id}", actor="bench", lines=entry_lines,
                                reference=Reference(source_type=movements.SOURCE_TYPE, source_id=f"{loan_id}/1"))
                   for loan_id, office_id in ids[start:start + CLONE_BATCH]]
        async with uow_factory() as uow:
            await book_entries(uow, entries)
            await uow.session.execute(text(
                "INSERT INTO loan_transaction (loan_id, sequence_number, kind, value_date, currency, amount, principal,"
                " interest, fee, vat, classification, payment_type_id, allocation, journal_entry_id, created_by)"
                " SELECT x.loan_id, 1, 'disbursement', :day, :currency, :amount, :principal, 0, 0, 0, 'healthy',"
                " :payment_type, '[]'::jsonb, x.entry_id, 'bench'"
                " FROM unnest(CAST(:loans AS integer[]), CAST(:entries AS uuid[])) AS x (loan_id, entry_id)"),
                {"day": template.value_date, "currency": template.currency, "amount": template.amount,
                 "principal": template.principal, "payment_type": template.payment_type_id, "loans": chunk,
                 "entries": [e.entry_id for e in entries]})
            await uow.commit()
        progress(f"  {start + len(chunk)}/{len(ids)} loans cloned")
    return [loan_id for loan_id, _office in ids]


async def repayments_http(port: int, token: str, loan_ids: list[int], cash: int, requests: int) -> float:
    keys = itertools.count(1)
    clients = [await KeepAliveClient.open(port, token) for _ in range(CONCURRENCY)]
    body = json.dumps({"value_date": TODAY.isoformat(), "amount": "5000", "payment_type_id": cash,
                       "receipt_number": "BENCH"}).encode()

    async def client_task(client: KeepAliveClient, count: int, seed: int) -> None:
        chooser = random.Random(seed)
        for _ in range(count):
            status, answer = await client.request("POST", f"/api/v1/loans/{chooser.choice(loan_ids)}/repayments",
                                                  body, idempotency_key=f"bench-{next(keys)}")
            assert status == 201, answer

    await asyncio.gather(*[client_task(c, 10, n) for n, c in enumerate(clients)])  # warm-up
    per_client = requests // CONCURRENCY
    started = time.perf_counter()
    await asyncio.gather(*[client_task(c, per_client, 100 + n) for n, c in enumerate(clients)])
    rate = per_client * CONCURRENCY / (time.perf_counter() - started)
    for client in clients:
        await client.close()
    return rate


async def position_http(port: int, token: str, loan_id: int) -> float:
    client = await KeepAliveClient.open(port, token)
    timings: list[float] = []
    for n in range(POSITION_REQUESTS + 5):
        started = time.perf_counter()
        status, answer = await client.request("GET", f"/api/v1/loans/{loan_id}?as_of={TODAY.isoformat()}")
        elapsed = (time.perf_counter() - started) * 1000
        assert status == 200, answer
        if n >= 5:  # warm-up
            timings.append(elapsed)
    await client.close()
    view = msgspec.json.decode(answer)
    progress(f"position of loan {loan_id}: {len(view['loan']['schedule']['instalments'])} instalments, "
             f"outstanding {view['position']['outstanding']}, days overdue {view['position']['days_overdue']}")
    return statistics.median(timings)


async def long_history_loan(uow_factory: UnitOfWorkFactory, scope: OfficeScope, **loan: int) -> int:
    """60 monthly instalments disbursed five years and a month ago, repaid every month."""
    disbursed_on = date(TODAY.year - 5, TODAY.month, 1) - timedelta(days=31)
    loan_id = await disbursed_loan(uow_factory, scope, on=disbursed_on, principal=Decimal(3_000_000),
                                   count=HISTORY_MONTHS, **loan)
    async with uow_factory() as uow:
        schedule = (await applications.load_record(uow, loan_id)).schedule
    assert schedule is not None
    for instalment in schedule.instalments:
        if instalment.due_date > TODAY:
            break
        await movements.repay(uow_factory, loan_id, Repay(
            value_date=instalment.due_date, amount=instalment.total_amount - (1_000 if instalment.number % 7 == 0 else 0),
            channel=FundsChannel(payment_type_id=loan["cash"])), actor="bench", scope=scope)
    return loan_id


COLLECT_TARGET_PER_S = 2_000


async def link_funded_accounts(uow_factory: UnitOfWorkFactory, borrowers: list[tuple[int, int]], opened: date) -> None:
    """Each borrower gets a current account (a deposit product on the bench's chart) holding far
    more than its loans owe, linked to all its loans (set-based: the link is what collection reads)."""
    from products.deposits.product import DepositProduct
    from servicing.deposits import accounts
    from servicing.deposits import movements as deposit_movements
    from servicing.deposits.commands import Deposit, OpenDepositAccount

    roles = sorted(roles_used(ProductKind.DEPOSIT, AccountingRule.CASH))
    codes = {role: f"BD.{role.value[:24]}" for role in roles if role.value != "fund_source"}
    await chart.create_accounts(uow_factory(), CreateGLAccounts(actor="bench", accounts=tuple(
        GLAccount(code=code, name=code, type=AccountType(sorted(ROLE_ACCOUNT_TYPES[role])[0]),
                  usage=AccountUsage.DETAIL, parent_code=f"BLH.{sorted(ROLE_ACCOUNT_TYPES[role])[0]}")
        for role, code in codes.items())))
    codes = {**codes, **{role: f"BL.{role.value}" for role in roles if role.value == "fund_source"}}
    product = await products.create_product(uow_factory(), DepositProduct(
        identity=ProductIdentity(name="Compte courant bench", short_name="CCB", open_date=date(2020, 1, 1)),
        currency="XOF", accounting=ProductAccounting(rule=AccountingRule.CASH, accounts=codes)), "bench")
    for client_id, _office_id in borrowers:
        account_id = (await accounts.open_account(uow_factory, OpenDepositAccount(
            client_id=client_id, product_id=product.product_id, actor="bench", opened_on=opened))).account.account_id
        await accounts.activate(uow_factory(), account_id, "bench", activated_on=opened)
        await deposit_movements.deposit(uow_factory(), Deposit(account_id=account_id, amount=Decimal(10) ** 12,
                                                               actor="bench", value_date=opened))
        async with uow_factory() as uow:
            await uow.session.execute(text(
                "INSERT INTO loan_deposit_link (loan_id, deposit_account_id, linked_on, linked_by)"
                " SELECT id, :account, :on, 'bench' FROM loan WHERE client_id = :client AND status = 'active'"),
                {"account": account_id, "on": opened, "client": client_id})
            await uow.commit()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short run (fewer repayments)")
    parser.add_argument("--collect-loans", type=int, default=ACTIVE_LOANS,
                        help="active loans due on the collection day (the issue's figure is 100,000)")
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
    office_id, borrowers, product_id, cash, gl_ids = await setup(uow_factory)
    user_id, token = await bench_user(uow_factory, office_id)
    scope = OfficeScope(office_id=office_id, office_ids=frozenset({office_id, *(o for _c, o in borrowers)}),
                        whole_institution=True)
    client_id = borrowers[0][0]

    progress("raw SQL baseline (bench/ledger_posting.py)...")
    raw = await raw_sql(database, 4_000 if arguments.quick else 16_000, office_id, gl_ids["BL.fund_source"],
                        gl_ids["BL.loan_portfolio"])
    say(f"raw_sql_entries_per_s: {raw:.0f} entries/s")

    progress(f"{ACTIVE_LOANS} active loans in {BRANCHES} branches: one through the services, cloned set-based...")
    template = await disbursed_loan(uow_factory, scope, client_id=client_id, product_id=product_id, user_id=user_id,
                                    cash=cash, on=TODAY - timedelta(days=40), principal=Decimal(600_000), count=12)
    loan_ids = [template, *await clone_loans(uow_factory, template, ACTIVE_LOANS - 1, borrowers)]
    progress(f"a loan with {HISTORY_MONTHS} monthly instalments and five years of monthly repayments...")
    history_loan = await long_history_loan(uow_factory, scope, client_id=client_id, product_id=product_id,
                                           user_id=user_id, cash=cash)
    admin = database.admin_engine()
    async with admin.begin() as connection:
        for table in ("loan", "loan_transaction", "journal_entry", "journal_line"):
            await connection.execute(text(f"ANALYZE {table}"))
    await admin.dispose()

    async with running_server(settings, DATABASE_NAME) as port:
        progress("HTTP repayments, 16 concurrent clients (server in its own process)...")
        rate = await repayments_http(port, token, loan_ids, cash, 1_600 if arguments.quick else 6_400)
        say(f"repayments_per_s: {rate:.0f} repayments/s")
        ratio = rate / raw
        say(f"ratio repayments/raw: {ratio:.2f} (target >= {REPAYMENTS_TARGET_RATIO}: "
            f"{'met' if ratio >= REPAYMENTS_TARGET_RATIO else 'NOT met'})")
        progress("live position of the five-year loan...")
        position_ms = await position_http(port, token, history_loan)
        say(f"loan_position_ms: {position_ms:.1f} ms (target < {POSITION_TARGET_MS:.0f} ms: "
            f"{'met' if position_ms < POSITION_TARGET_MS else 'NOT met'})")

    if arguments.collect_loans > len(loan_ids):
        progress(f"{arguments.collect_loans - len(loan_ids)} more loans for the collection...")
        loan_ids += await clone_loans(uow_factory, template, arguments.collect_loans - len(loan_ids), borrowers)
    progress("a funded deposit account per borrower, linked to its loans...")
    await link_funded_accounts(uow_factory, borrowers, TODAY - timedelta(days=60))
    progress(f"automatic collection over {len(loan_ids)} loans due by {TODAY}...")
    started = time.perf_counter()
    collected = await collect(uow_factory, TODAY, actor="bench", progress=lambda s: progress(
        f"  {s.loans_seen} loans, {s.loans_seen / s.seconds if s.seconds else 0:.0f} loans/s"))
    seconds = time.perf_counter() - started
    per_s = collected.loans_seen / seconds
    say(f"collect_loans_per_s: {per_s:.0f} loans/s ({collected.loans_seen} loans with something due, "
        f"{collected.loans_collected_in_full} collected in full; target >= {COLLECT_TARGET_PER_S}: "
        f"{'met' if per_s >= COLLECT_TARGET_PER_S else 'NOT met'})")

    report = await verify_journal(uow_factory)
    progress(f"verify after the run: {'OK' if report.ok else 'FAILED'} {report.problems[:3]}")
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
