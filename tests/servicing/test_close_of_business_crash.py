"""Kill-and-resume on a real process: `grandlivre close-day` is killed (SIGKILL) in the middle of
a catch-up over four months, then run again. The days all close once, every step is recorded
once per day, and the journal holds exactly the entries an uninterrupted run posts: one
interest posting per account and month end, of the amounts worked out by hand below.

It runs on a database of its own (business days are institution-wide)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import text

from chart_of_accounts import AccountType, AccountUsage, GLAccount
from servicing import chart, offices
from servicing.close_of_business.steps import STEPS
from servicing.commands import CreateGLAccounts, CreateOffice
from servicing.config import Settings
from servicing.database import Database, drop_database
from servicing.deposits import accounts, movements
from servicing.deposits.commands import Deposit, OpenDepositAccount
from servicing.reference.defaults import seed_reference_defaults
from servicing.unit_of_work import UnitOfWorkFactory
from servicing.verification import verify_journal
from tests.deposit_support import deposit_world, onboarded_client

ROOT = Path(__file__).resolve().parents[2]
OPENED = date(2026, 1, 1)
THROUGH = date(2026, 4, 30)


@pytest.fixture
async def own_database(settings) -> AsyncIterator[tuple[Settings, UnitOfWorkFactory]]:  # type: ignore[no-untyped-def]
    mine = Settings(database_url=settings.database_url, home=settings.home,
                    database_name=f"{settings.database_name}_cob", pool_size=4)
    database = await Database.locate(mine)
    await database.migrate_async()
    engine = database.app_engine(pool_size=4)
    try:
        yield mine, UnitOfWorkFactory(engine)
    finally:
        await engine.dispose()
        await drop_database(database.admin_url, mine.database_name)


def _command(settings: Settings, *arguments: str) -> list[str]:
    return [sys.executable, "-c", "from api.cli import main; main()", *arguments]


def _environment(settings: Settings) -> dict[str, str]:
    environment = dict(os.environ, GRANDLIVRE_HOME=str(settings.home), GRANDLIVRE_DATABASE=settings.database_name)
    if settings.database_url:
        environment["DATABASE_URL"] = settings.database_url
    return environment


async def _run_until_killed(settings: Settings, kill_after: str) -> None:
    """Start the catch-up and SIGKILL it as soon as it reports `kill_after`."""
    process = await asyncio.create_subprocess_exec(
        *_command(settings, "close-day", "--date", THROUGH.isoformat()), cwd=ROOT, env=_environment(settings),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    assert process.stdout is not None
    seen = []
    try:
        async with asyncio.timeout(300):
            while line := (await process.stdout.readline()).decode():
                seen.append(line)
                if kill_after in line:
                    process.send_signal(signal.SIGKILL)
                    break
    finally:
        await process.wait()
    assert process.returncode == -signal.SIGKILL, "".join(seen[-20:])


async def test_a_killed_close_of_business_resumes_with_the_entries_of_an_uninterrupted_run(own_database) -> None:  # type: ignore[no-untyped-def]
    settings, uow_factory = own_database
    await seed_reference_defaults(uow_factory, "tests")
    office = await offices.create_office(uow_factory(), CreateOffice(
        code="AG-COB", name="Agence", opened_on=OPENED, actor="tests"))
    await chart.create_accounts(uow_factory(), CreateGLAccounts(actor="tests", accounts=(
        GLAccount(code="C", name="Caisses", type=AccountType.ASSET, usage=AccountUsage.HEADER),
        GLAccount(code="C.1", name="Caisse", type=AccountType.ASSET, usage=AccountUsage.DETAIL, parent_code="C"))))
    world = SimpleNamespace(office_id=office.office_id, prefix="COB", cash="C.1")
    product = await deposit_world(uow_factory, world)
    account_id = (await accounts.open_account(uow_factory, OpenDepositAccount(
        client_id=await onboarded_client(uow_factory, office.office_id, "COB"), product_id=product.product_id,
        actor="tests", opened_on=OPENED))).account.account_id
    await accounts.activate(uow_factory(), account_id, "tests", activated_on=OPENED)
    await movements.deposit(uow_factory(), Deposit(account_id=account_id, amount=Decimal(1_000_000), actor="tests",
                                                   value_date=OPENED))

    first = await asyncio.create_subprocess_exec(
        *_command(settings, "close-day", "--date", OPENED.isoformat()), cwd=ROOT, env=_environment(settings),
        stdout=asyncio.subprocess.DEVNULL)
    assert await first.wait() == 0
    await _run_until_killed(settings, "2026-03-02 3/")  # after February's interest, in the middle of a day
    async with uow_factory() as uow:
        closed = await uow.session.scalar(text("SELECT max(business_date) FROM business_day"))
    assert OPENED < closed < THROUGH, closed
    resumed = await asyncio.create_subprocess_exec(
        *_command(settings, "close-day", "--date", THROUGH.isoformat()), cwd=ROOT, env=_environment(settings),
        stdout=asyncio.subprocess.DEVNULL)
    assert await resumed.wait() == 0

    async with uow_factory() as uow:
        days = (await uow.session.execute(text(
            "SELECT count(*), min(business_date), max(business_date) FROM business_day"))).one()
        steps = (await uow.session.execute(text(
            "SELECT count(*), count(DISTINCT (business_date, step)) FROM business_day_step"))).one()
        interest = (await uow.session.execute(text(
            "SELECT value_date, amount FROM deposit_transaction WHERE account_id = :a AND kind = 'interest'"
            " ORDER BY value_date"), {"a": account_id})).all()
    assert tuple(days) == ((THROUGH - OPENED).days + 1, OPENED, THROUGH)
    assert steps[0] == steps[1] == days[0] * len(STEPS)
    # 6 % a year on 365 days, each month rounded down to the franc and credited, the fraction
    # left carried into the next month (docs/deposit-interest.md):
    # January   1,000,000 x 6 % x 31/365 = 5,095.8904          -> 5,095, carry 0.8904
    # February  1,005,095 x 6 % x 28/365 = 4,626.1907 + 0.8904 -> 4,627, carry 0.0811
    # March     1,009,722 x 6 % x 31/365 = 5,145.4327 + 0.0811 -> 5,145, carry 0.5138
    # April     1,014,867 x 6 % x 30/365 = 5,004.8236 + 0.5138 -> 5,005
    assert [(d.isoformat(), int(a)) for d, a in interest] == [
        ("2026-01-31", 5095), ("2026-02-28", 4627), ("2026-03-31", 5145), ("2026-04-30", 5005)]
    assert (await verify_journal(uow_factory)).ok
