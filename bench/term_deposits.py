"""Term-deposit benchmark (issue 10). Run: python bench/term_deposits.py [--deposits N] [--maturing M]

In the database `grandlivre_bench_term_deposits` of the embedded server (or DATABASE_URL's,
rebuilt at each run): the SFD chart, the demo references and the demo 12-month term-deposit
product, one client, and one deposit opened and funded through the service. That deposit is
then copied set-based to N deposits (default 100,000) activated on the 1st of a month over the
previous year, and M more (default 10,000) that all mature on the run's maturity date (the
copies have their account, term and deposit rows but no funding entry: the runs measured post
from there). Prints `name: value unit`:
  interest_posting_deposits_per_s   `post_interest` at a month end over every deposit (one period each;
                                    the earlier periods are caught up first, not measured)
  maturity_deposits_per_s           `mature` of the M deposits maturing the same day (last interest + payout;
                                    the earlier periods posted first, not measured)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import warnings
from datetime import date
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")

from sqlalchemy import text  # noqa: E402

from products.deposits.term_deposit import MaturityInstruction  # noqa: E402
from products.term_deposits.product import TermLength  # noqa: E402
from servicing import chart, offices  # noqa: E402
from servicing.clients import service as clients  # noqa: E402
from servicing.clients.commands import ChangeClientStatus, CreateClient  # noqa: E402
from servicing.clients.model import ClientProfile, ClientStatus, ClientType, Gender  # noqa: E402
from servicing.commands import CreateOffice  # noqa: E402
from servicing.config import Settings  # noqa: E402
from servicing.database import Database, drop_database  # noqa: E402
from servicing.products import demo  # noqa: E402
from servicing.staff.scope import OfficeScope  # noqa: E402
from servicing.term_deposits import runs, service  # noqa: E402
from servicing.term_deposits.model import FundTermDeposit, OpenTermDeposit, Settlement  # noqa: E402
from servicing.unit_of_work import UnitOfWorkFactory  # noqa: E402

DATABASE_NAME = os.environ.get("GRANDLIVRE_BENCH_DATABASE", "grandlivre_bench_term_deposits")
ACTOR = "bench"
INTEREST_RUN_ON = date(2026, 12, 31)
MATURITY_ON = date(2026, 12, 15)

_COPY = """
INSERT INTO term_deposit_account (office_id, client_id, product_id, product_version, currency, principal, term_count,
    term_unit, rate_percent, base_rate_percent, incentives_applied, status, current_term, maturity_instruction,
    payout_payment_type_id, client_attributes, opened_on, created_by, updated_by)
SELECT office_id, client_id, product_id, product_version, currency, principal + 1000 * (n % 50), term_count, term_unit,
       rate_percent, base_rate_percent, incentives_applied, 'active', 1, maturity_instruction, payout_payment_type_id,
       client_attributes, CAST(:start AS date) + (n % :spread) * interval '1 month', created_by, updated_by
  FROM term_deposit_account, generate_series(1, :count) AS n
 WHERE id = :template;
INSERT INTO term_deposit_term (account_id, term_no, product_id, product_version, principal, term_count, term_unit,
    rate_percent, base_rate_percent, incentives_applied, starts_on, maturity_date, created_by)
SELECT a.id, 1, a.product_id, a.product_version, a.principal, a.term_count, a.term_unit, a.rate_percent,
       a.base_rate_percent, a.incentives_applied, a.opened_on, a.opened_on + interval '12 months', a.created_by
  FROM term_deposit_account a WHERE a.id > :template AND NOT EXISTS (
       SELECT 1 FROM term_deposit_term t WHERE t.account_id = a.id);
INSERT INTO term_deposit_transaction (account_id, term_no, kind, amount, value_date, payment_type_id, created_by)
SELECT a.id, 1, 'deposit', a.principal, a.opened_on, a.payout_payment_type_id, a.created_by
  FROM term_deposit_account a WHERE a.id > :template AND NOT EXISTS (
       SELECT 1 FROM term_deposit_transaction x WHERE x.account_id = a.id);
"""


async def _copy(uow_factory: UnitOfWorkFactory, template: int, count: int, start: date, spread: int) -> None:
    async with uow_factory() as uow:
        for statement in filter(str.strip, _COPY.split(";")):
            await uow.session.execute(text(statement), {"template": template, "count": count, "start": start,
                                                        "spread": spread})
        await uow.commit()


async def setup(uow_factory: UnitOfWorkFactory) -> tuple[int, int]:
    """The demo product, one client and one funded deposit; answers (template account, office)."""
    await chart.load_chart_template(uow_factory(), "sfd-uemoa", ACTOR)
    office = await offices.create_office(uow_factory(), CreateOffice(
        code="BENCH", name="Agence banc d'essai", region="Dakar", opened_on=date(2024, 1, 1), actor=ACTOR))
    products = await demo.ensure_demo_products(uow_factory, lambda _message: None)
    product_id = products["Dépôt à terme 12 mois"]
    person = await clients.create_client(uow_factory(), CreateClient(actor=ACTOR, profile=ClientProfile(
        client_type=ClientType.INDIVIDUAL, office_id=office.office_id, first_name="Awa", last_name="Diop",
        birth_date=date(1985, 3, 2), gender=Gender.FEMALE)))
    await clients.change_status(uow_factory(), ChangeClientStatus(client_id=person.client.client_id,
                                                                  status=ClientStatus.ACTIVE, actor=ACTOR))
    async with uow_factory() as uow:
        cash = await uow.session.scalar(text("SELECT id FROM payment_type WHERE name = 'Espèces'"))
    scope = OfficeScope(office_id=office.office_id, office_ids=frozenset({office.office_id}), whole_institution=True)
    opened = await service.open_account(uow_factory(), OpenTermDeposit(
        client_id=person.client.client_id, product_id=product_id, deposit_amount=Decimal(1_000_000),
        term=TermLength(count=12), opened_on=date(2026, 1, 1), maturity_instruction=MaturityInstruction.PAY_OUT,
        payout=Settlement(payment_type_id=cash)), ACTOR, scope)
    await service.fund(uow_factory(), opened.account_id, FundTermDeposit(
        activated_on=date(2026, 1, 1), source=Settlement(payment_type_id=cash)), ACTOR, scope)
    return opened.account_id, office.office_id


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deposits", type=int, default=100_000)
    parser.add_argument("--maturing", type=int, default=10_000)
    args = parser.parse_args()
    settings = Settings(database_url=os.environ.get("DATABASE_URL") or None, home=ROOT / ".grandlivre",
                        database_name=DATABASE_NAME, pool_size=4)
    database = await Database.locate(settings)
    await drop_database(database.admin_url, DATABASE_NAME)
    database = await Database.locate(settings)
    await database.migrate_async()
    engine = database.app_engine(pool_size=4)
    uow_factory = UnitOfWorkFactory(engine)
    try:
        template, _office = await setup(uow_factory)
        started = time.perf_counter()
        # Activated on the 1st of each month of 2026: every one has a period ending in December.
        await _copy(uow_factory, template, args.deposits, date(2026, 1, 1), 11)
        print(f"load_s: {time.perf_counter() - started:.1f} s", file=sys.stderr)
        # Catch up to the previous month end first (not measured): the run measured is a month end.
        await runs.post_interest(uow_factory, date(2026, 11, 30), ACTOR)
        started = time.perf_counter()
        run = await runs.post_interest(uow_factory, INTEREST_RUN_ON, ACTOR)
        seconds = time.perf_counter() - started
        print(f"interest_posting_deposits_per_s: {run.accounts_seen / seconds:.0f} deposits/s "
              f"({run.entries_booked} entries)")
        async with uow_factory() as uow:  # the ones copied so far have matured or will: close them out of the way
            last = await uow.session.scalar(text("SELECT max(id) FROM term_deposit_account"))
        await _copy(uow_factory, last, args.maturing, date(2025, 12, 15), 1)
        async with uow_factory() as uow:
            await uow.session.execute(text(
                "UPDATE term_deposit_account SET status = 'held', maturity_instruction = 'hold' WHERE id <= :last"),
                {"last": last})
            await uow.commit()
        await runs.post_interest(uow_factory, date(2026, 12, 13), ACTOR)  # all but the last period
        started = time.perf_counter()
        matured = await runs.mature(uow_factory, MATURITY_ON, ACTOR)
        seconds = time.perf_counter() - started
        print(f"maturity_deposits_per_s: {matured.accounts_seen / seconds:.0f} deposits/s "
              f"({matured.entries_booked} entries)")
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
