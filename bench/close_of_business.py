"""Close-of-business benchmark (issue 9). Run: python bench/close_of_business.py [--quick] [--loans N]

On a fresh database it builds a loan portfolio (100,000 active loans, 10,000 with --quick) over
two products (cash and accrual-periodic rules) and 8 branches, loads the bceao-sfd delinquency
grid, then closes one business day through the real run (`servicing.close_of_business.run`)
and prints `name: value unit` lines (progress on stderr):
  cob_seconds              the whole run for the busy day (every step in `steps.STEPS`)
  cob_loans_per_s          active loans / cob_seconds            target: 100,000 loans in < 60 s
  step_<name>_seconds      one line per step of STEPS, as the run recorded it (no per-step code here)
  cob_quiet_day_seconds    the next day, on which nothing falls due for 95% of the loans   target < 10 s

The portfolio, each part cloned set-based from one loan made through the services
(`bench/loans.py`'s `clone_loans`: each clone has its own disbursement transaction and its own
journal entry), monthly instalments:
  - 5% fall due on the busy day and are collected from their borrowers' funded deposit accounts;
  - 80% are current, their first instalment due 6 to 25 days after the quiet day;
  - 15% are in arrears, never repaid, in each bucket of the grid: 1-30, 31-90, 91-180, 181-360
    and > 360 days; a third of them linked to an empty deposit account (an insufficient-funds
    alert each day).
"""

from __future__ import annotations

import argparse
import asyncio
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
from bench.loans import bench_user, clone_loans, disbursed_loan, link_funded_accounts, setup  # noqa: E402
from chart_of_accounts import AccountType, AccountUsage, GLAccount  # noqa: E402
from products.accounting import ProductAccounting  # noqa: E402
from products.catalogue.common import AmountRange, CountRange, ProductIdentity  # noqa: E402
from products.loans.product import LoanProduct  # noqa: E402
from products.posting_rules import ROLE_ACCOUNT_TYPES, AccountingRule, ProductKind, roles_used  # noqa: E402
from servicing import chart  # noqa: E402
from servicing.close_of_business.run import close_business_days  # noqa: E402
from servicing.close_of_business.steps import STEPS  # noqa: E402
from servicing.commands import CreateGLAccounts  # noqa: E402
from servicing.config import Settings  # noqa: E402
from servicing.database import Database, drop_database  # noqa: E402
from servicing.loans import applications  # noqa: E402
from servicing.products import service as products  # noqa: E402
from servicing.reference.grid_templates import load_grid_template  # noqa: E402
from servicing.staff.scope import OfficeScope  # noqa: E402
from servicing.unit_of_work import UnitOfWorkFactory  # noqa: E402
from servicing.verification import verify_journal  # noqa: E402
from tests.deposit_support import onboarded_client  # noqa: E402

DATABASE_NAME = "grandlivre_bench_cob"
LOANS = 100_000
QUICK_LOANS = 10_000
TARGET_SECONDS = 60.0
QUIET_TARGET_SECONDS = 10.0
TODAY = date.today()
BUSY_DAY = next(TODAY - timedelta(days=n) for n in range(1, 8) if (TODAY - timedelta(days=n)).weekday() < 4)
"""The latest day before today from Monday to Thursday: due dates falling on it are not moved off
a weekend, and the quiet day after it is a working day too."""
QUIET_DAY = BUSY_DAY + timedelta(days=1)


def _months_back(day: date, months: int) -> date:
    """The same day `months` months earlier (monthly instalments then fall due on `day`)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, min(day.day, 28))


class Part(msgspec.Struct, frozen=True):
    """A slice of the portfolio: its share, when its loans were disbursed, and how they pay."""

    name: str
    share: float
    disbursed_on: date
    payer: str
    """'funded': linked to a funded deposit account (collected); 'empty': linked to an empty one
    (insufficient funds); 'none': repaid at the counter, or not at all."""


def portfolio() -> list[Part]:
    due = _months_back(BUSY_DAY, 1)
    parts = [Part("due on the busy day", 0.05, due, "funded")]
    parts += [Part(f"current, first due in {n} days", 0.20, QUIET_DAY + timedelta(days=n) - timedelta(days=30), "none")
              for n in (6, 11, 17, 25)]
    arrears = {"1-30 days": (20, 0.05), "31-90 days": (60, 0.04), "91-180 days": (130, 0.025),
               "181-360 days": (270, 0.02), "> 360 days": (420, 0.015)}
    for n, (bucket, (days, share)) in enumerate(arrears.items()):
        parts.append(Part(f"arrears {bucket}", share, BUSY_DAY - timedelta(days=days + 30),
                          "empty" if n % 3 == 0 else "none"))
    assert abs(sum(part.share for part in parts) - 1) < 1e-9
    return parts


async def accrual_product(uow_factory: UnitOfWorkFactory) -> int:
    """A second loan product under the accrual-periodic rule, on the bench's chart (the accounts
    the cash product lacks are added under the same headers)."""
    roles = sorted(roles_used(ProductKind.LOAN, AccountingRule.ACCRUAL_PERIODIC))
    codes = {role: f"BL.{role.value}" for role in roles}
    async with uow_factory() as uow:
        existing = set((await uow.session.scalars(text("SELECT code FROM gl_account WHERE code LIKE 'BL.%'"))).all())
    missing = tuple(GLAccount(code=code, name=code, type=AccountType(sorted(ROLE_ACCOUNT_TYPES[role])[0]),
                              usage=AccountUsage.DETAIL, parent_code=f"BLH.{sorted(ROLE_ACCOUNT_TYPES[role])[0]}")
                    for role, code in codes.items() if code not in existing)
    if missing:
        await chart.create_accounts(uow_factory(), CreateGLAccounts(accounts=missing, actor="bench"))
    product = await products.create_product(uow_factory(), LoanProduct(
        identity=ProductIdentity(name="Prêt bench engagements", short_name="PBE", open_date=date(2020, 1, 1)),
        currency="XOF",
        principal=AmountRange(minimum=Decimal(50_000), default=Decimal(600_000), maximum=Decimal(10_000_000)),
        repayment_count=CountRange(minimum=3, default=12, maximum=60),
        interest_rate_percent=AmountRange(minimum=Decimal(6), default=Decimal(18), maximum=Decimal(24)),
        accounting=ProductAccounting(rule=AccountingRule.ACCRUAL_PERIODIC, accounts=codes)), "bench")
    return product.product_id


async def build(uow_factory: UnitOfWorkFactory, total: int) -> int:
    office_id, borrowers, cash_product, cash, _gl = await setup(uow_factory)
    accrual = await accrual_product(uow_factory)
    user_id, _token = await bench_user(uow_factory, office_id)
    offices = [o for _c, o in borrowers]
    scope = OfficeScope(office_id=office_id, office_ids=frozenset({office_id, *offices}), whole_institution=True)
    payers = {kind: [(await onboarded_client(uow_factory, o, f"{kind[:2].upper()}{n}"), o)
                     for n, o in enumerate(offices)] for kind in ("funded", "empty")}
    payers["none"] = borrowers
    made = 0
    for part in portfolio():
        for product_id in (cash_product, accrual):
            count = round(total * part.share / 2)
            client_id = payers[part.payer][0][0]
            template = await disbursed_loan(uow_factory, scope, client_id=client_id, product_id=product_id,
                                            user_id=user_id, cash=cash, on=part.disbursed_on,
                                            principal=Decimal(600_000), count=12)
            progress(f"{part.name} ({'cash' if product_id == cash_product else 'accrual'}): {count} loans "
                     f"disbursed {part.disbursed_on}")
            if part.payer == "funded":
                async with uow_factory() as uow:
                    schedule = (await applications.load_record(uow, template)).schedule
                assert schedule is not None and schedule.instalments[0].due_date == BUSY_DAY, schedule
            made += 1 + len(await clone_loans(uow_factory, template, count - 1, payers[part.payer]))
    progress("deposit accounts: funded for the loans collected, empty for the insufficient-funds ones...")
    await link_funded_accounts(uow_factory, payers["funded"], BUSY_DAY - timedelta(days=400))
    await _open_empty_accounts(uow_factory, payers["empty"])
    await load_grid_template(uow_factory, "bceao-sfd", "bench")
    return made


async def _open_empty_accounts(uow_factory: UnitOfWorkFactory, borrowers: list[tuple[int, int]]) -> None:
    """A current account per borrower, active and empty, linked to all its loans."""
    from servicing.deposits import accounts
    from servicing.deposits.commands import OpenDepositAccount

    async with uow_factory() as uow:
        product_id = await uow.session.scalar(text(
            "SELECT id FROM product WHERE kind = 'deposit' ORDER BY id LIMIT 1"))
    opened = BUSY_DAY - timedelta(days=400)
    for client_id, _office in borrowers:
        account_id = (await accounts.open_account(uow_factory, OpenDepositAccount(
            client_id=client_id, product_id=product_id, actor="bench", opened_on=opened))).account.account_id
        await accounts.activate(uow_factory(), account_id, "bench", activated_on=opened)
        async with uow_factory() as uow:
            await uow.session.execute(text(
                "INSERT INTO loan_deposit_link (loan_id, deposit_account_id, linked_on, linked_by)"
                " SELECT id, :account, :on, 'bench' FROM loan WHERE client_id = :client AND status = 'active'"),
                {"account": account_id, "on": opened, "client": client_id})
            await uow.commit()


async def close(uow_factory: UnitOfWorkFactory, day: date) -> tuple[float, dict[str, float], dict[str, int]]:
    started = time.perf_counter()
    run = await close_business_days(uow_factory, day, "bench", today=TODAY, progress=lambda s: progress(f"  {s}"))
    seconds = time.perf_counter() - started
    assert [d.business_date for d in run.days] == [day], run
    steps = run.days[0].steps
    return seconds, {s.step: s.seconds for s in steps}, {s.step: s.items for s in steps}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_LOANS:,} loans instead of {LOANS:,}")
    parser.add_argument("--loans", type=int, default=None, help="active loans in the portfolio")
    arguments = parser.parse_args()
    total = arguments.loans or (QUICK_LOANS if arguments.quick else LOANS)
    settings = Settings.from_environment()
    settings = Settings(database_url=settings.database_url, home=settings.home, database_name=DATABASE_NAME)
    located = await Database.locate(settings)
    await drop_database(located.admin_url, DATABASE_NAME)
    database = await Database.locate(settings)
    await database.migrate_async()
    progress(f"fresh database {DATABASE_NAME} migrated; building {total:,} active loans...")
    engine = database.app_engine(pool_size=4)
    uow_factory = UnitOfWorkFactory(engine)
    built = time.perf_counter()
    loans = await build(uow_factory, total)
    admin = database.admin_engine()
    async with admin.begin() as connection:
        for table in ("loan", "loan_transaction", "loan_deposit_link", "deposit_account", "journal_entry",
                      "journal_line"):
            await connection.execute(text(f"ANALYZE {table}"))
    await admin.dispose()
    progress(f"{loans:,} active loans built in {time.perf_counter() - built:.0f} s")

    progress(f"closing the busy day {BUSY_DAY} ({len(STEPS)} steps)...")
    seconds, per_step, items = await close(uow_factory, BUSY_DAY)
    rate = loans / seconds
    say(f"cob_loans_per_s: {rate:.0f} loans/s")
    say(f"cob_seconds: {seconds:.2f} s ({loans:,} loans; target for 100,000 loans < {TARGET_SECONDS:.0f} s: "
        f"{'met' if 100_000 / rate < TARGET_SECONDS else 'NOT met'})")
    for step in STEPS:
        say(f"step_{step.name}_seconds: {per_step[step.name]:.2f} s ({items[step.name]:,} processed)")

    progress(f"closing the quiet day {QUIET_DAY}...")
    quiet, quiet_steps, quiet_items = await close(uow_factory, QUIET_DAY)
    say(f"cob_quiet_day_seconds: {quiet:.2f} s (target < {QUIET_TARGET_SECONDS:.0f} s: "
        f"{'met' if quiet < QUIET_TARGET_SECONDS else 'NOT met'})")
    progress("quiet day per step: " + ", ".join(f"{name} {quiet_steps[name]:.2f} s ({quiet_items[name]:,})"
                                                 for name in quiet_steps))
    async with uow_factory() as uow:
        ages = (await uow.session.execute(text(
            "SELECT bucket_label, count(*) FROM loan_arrears_state GROUP BY 1 ORDER BY min(days_overdue)"))).all()
    progress("loans per bucket after the quiet day: " + ", ".join(f"{label}: {n:,}" for label, n in ages))
    report = await verify_journal(uow_factory)
    progress(f"verify after the runs: {'OK' if report.ok else 'FAILED'} {report.problems[:3]}")
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
