"""The demo's term deposits: a few hundred deposits of the Thiès branch's clients, opened
through 2026 on two products (the catalogue's 12-month DAT, and a "DAT flexible" of 3 to 24
months whose chart has three term bands and two amount bands, women's incentive added, a fixed
rate for clients over 60 replacing it), with every maturity instruction; some funded from the
client's current account. Then their months are run (the interest run and the maturity run at
every month end through yesterday) and the term-deposit reconciliation is printed.

Everything goes through the services, so the demo exercises the API's rules. Idempotent: a
second run finds its deposits, opens nothing, and its runs post nothing already posted.
"""

from __future__ import annotations

import calendar
import random
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Final

import msgspec
from sqlalchemy import text

from ledger.errors import LedgerError
from products.catalogue.common import ProductIdentity
from products.deposits.errors import DepositError
from products.deposits.term_deposit import MaturityInstruction
from products.errors import ProductError
from products.posting_rules import ProductKind
from products.term_deposits.product import (
    ClientAttribute,
    Incentive,
    IncentiveKind,
    Operator,
    RateChart,
    RateSlab,
    TermDepositProduct,
    TermLength,
)
from products.term_deposits.product import MaturityInstruction as ProductInstruction
from servicing.products import demo as demo_products
from servicing.products import service as products
from servicing.staff.scope import OfficeScope
from servicing.term_deposits import runs, service
from servicing.term_deposits.model import FundTermDeposit, OpenTermDeposit, Reconciliation, Settlement
from servicing.unit_of_work import UnitOfWorkFactory

TELLER: Final = "demo-dat"
DEPOSITS: Final = 300
FIRST_DAY: Final = date(2026, 1, 2)
LAST_OPENING_DAY: Final = date(2026, 12, 31)
"""The opening dates are drawn over FIRST_DAY..LAST_OPENING_DAY whatever the day the demo runs,
and the deposits drawn after yesterday are not opened: a run on a later day opens the same
deposits on the same dates, and more of them (a draw over "through yesterday" moved every opening
date from one day to the next); what they post depends, by design, on how far the run goes."""
FLEXIBLE: Final = "DAT flexible 3 à 24 mois"
D = Decimal


def flexible_product(base: TermDepositProduct) -> TermDepositProduct:
    """3 to 24 months by steps of 3; 3-6 months 3.5 %, 9-12 months 4.5 % (5 % from 2 000 000),
    15-24 months 5.5 %; women +0.5 point; clients over 60 a fixed 6 % (replaces the rate)."""
    women = Incentive(attribute=ClientAttribute.GENDER, operator=Operator.EQUAL, value="female",
                      kind=IncentiveKind.INCENTIVE, rate_percent=D("0.5"))
    seniors = Incentive(attribute=ClientAttribute.AGE, operator=Operator.GREATER_THAN, value="60",
                        kind=IncentiveKind.FIXED, rate_percent=D(6))
    bonus = (women, seniors)
    return msgspec.structs.replace(
        base, identity=ProductIdentity(name=FLEXIBLE, short_name="DATFLEX", code="DAT-FLEX",
                                       description="DAT de 3 à 24 mois par pas de 3 mois",
                                       open_date=demo_products.DEMO_OPEN_DATE),
        lock_in=TermLength(count=1), term_min=TermLength(count=3), term_max=TermLength(count=24),
        term_multiple=TermLength(count=3), maturity_instructions=tuple(ProductInstruction), charge_ids=(),
        accounting=msgspec.structs.replace(base.accounting, charge_accounts={}),
        rate_charts=(RateChart(valid_from=demo_products.DEMO_OPEN_DATE, name="Grille flexible 2026", slabs=(
            RateSlab(term_from=3, term_to=6, rate_percent=D("3.5"), description="3 à 6 mois : 3,5 %",
                     incentives=bonus),
            RateSlab(term_from=7, term_to=12, amount_to=D(1_999_999), rate_percent=D("4.5"),
                     description="9 à 12 mois : 4,5 %", incentives=bonus),
            RateSlab(term_from=7, term_to=12, amount_from=D(2_000_000), rate_percent=D(5),
                     description="9 à 12 mois, 2 000 000 et plus : 5 %", incentives=bonus),
            RateSlab(term_from=13, term_to=24, rate_percent=D("5.5"), description="15 à 24 mois : 5,5 %",
                     incentives=bonus),
        )),))


async def _products(uow_factory: UnitOfWorkFactory, progress: Callable[[str], None]) -> tuple[int, int]:
    ids = await demo_products.ensure_demo_products(uow_factory, progress)
    twelve = ids["Dépôt à terme 12 mois"]
    existing = {r.settings.identity.name: r.product_id
                for r in await products.list_products(uow_factory(), ProductKind.TERM_DEPOSIT)}
    if FLEXIBLE in existing:
        return twelve, existing[FLEXIBLE]
    base = (await products.get_product(uow_factory(), ProductKind.TERM_DEPOSIT, twelve)).settings
    assert isinstance(base, TermDepositProduct)
    record = await products.create_product(uow_factory(), flexible_product(base), demo_products.DEMO_ACTOR)
    progress(f"product {FLEXIBLE!r} (term_deposit) created")
    return twelve, record.product_id


def _month_ends(first: date, last: date) -> list[date]:
    days, year, month = [], first.year, first.month
    while True:
        end = date(year, month, calendar.monthrange(year, month)[1])
        if end > last:
            break
        days.append(end)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return [*days, last] if not days or days[-1] != last else days


async def run_term_deposit_demo(uow_factory: UnitOfWorkFactory, office_id: int, today: date,
                                progress: Callable[[str], None]) -> Reconciliation:
    """Open the demo's deposits (once), run their months through yesterday, and reconcile."""
    twelve, flexible = await _products(uow_factory, progress)
    scope = OfficeScope(office_id=office_id, office_ids=frozenset({office_id}), whole_institution=True)
    async with uow_factory() as uow:
        existing = await uow.session.scalar(text(
            "SELECT count(*) FROM term_deposit_account WHERE created_by = :actor"), {"actor": TELLER})
        clients = (await uow.session.execute(text("""
            SELECT c.id, (SELECT min(d.id) FROM deposit_account d WHERE d.client_id = c.id AND d.status = 'active')
                   AS current_account
              FROM client c WHERE c.office_id = :office AND c.status = 'active' ORDER BY c.id LIMIT 500"""),
            {"office": office_id})).all()
        payment_types = dict((await uow.session.execute(text(
            "SELECT name, id FROM payment_type WHERE active ORDER BY id"))).all())
    yesterday = today - timedelta(days=1)
    if not existing and clients:
        opened = await _open(uow_factory, scope, clients, payment_types, twelve, flexible, yesterday)
        progress(f"term deposits: {opened} opened and funded (Thiès branch, through {yesterday.isoformat()})")
    elif existing:
        progress(f"term deposits: {existing} demo deposits already there")
    interest = maturities = 0
    for day in _month_ends(FIRST_DAY, yesterday):
        posted = await runs.post_interest(uow_factory, day, TELLER)
        matured = await runs.mature(uow_factory, day, TELLER)
        interest += posted.entries_booked
        maturities += matured.accounts_seen
    progress(f"term deposits: month-end runs through {yesterday.isoformat()}: {interest} interest entries, "
             f"{maturities} maturities applied")
    report = await service.reconciliation(uow_factory(), yesterday, scope)
    for row in report.by_control_account:
        progress(f"term-deposit reconciliation {row.currency} control {row.control_account_code}: "
                 f"{row.accounts} deposits {row.deposits_total}, GL {row.gl_balance}, difference {row.difference}")
    return report


class DrawnDeposit(msgspec.Struct, frozen=True, kw_only=True):
    n: int
    opened_on: date
    twelve_month_product: bool
    months: int
    amount: Decimal


def deposits_drawn(last_day: date) -> list[DrawnDeposit]:
    """The demo's deposits opened through ``last_day``, from a seeded draw over the fixed
    FIRST_DAY..LAST_OPENING_DAY: every deposit is drawn, opened or not, so the draws of the next
    ones, and the deposits of any earlier day, do not depend on the day of the run."""
    rng = random.Random(2026)
    span = (LAST_OPENING_DAY - FIRST_DAY).days
    drawn = []
    for n in range(DEPOSITS):
        on = FIRST_DAY + timedelta(days=rng.randrange(span))
        twelve = n % 3 == 0
        months = 12 if twelve else rng.choice([3, 3, 6, 6, 9, 12, 18, 24])
        amount = D(rng.choice([150, 300, 500, 750, 1_000, 1_500, 2_500, 5_000])) * 1000
        if on <= last_day:
            drawn.append(DrawnDeposit(n=n, opened_on=on, twelve_month_product=twelve, months=months, amount=amount))
    return drawn


async def _open(uow_factory: UnitOfWorkFactory, scope: OfficeScope, clients: list, payment_types: dict[str, int],  # type: ignore[type-arg]
                twelve: int, flexible: int, last_day: date) -> int:
    cash = payment_types.get("Espèces") or next(iter(payment_types.values()))
    mobile = payment_types.get("Mobile money", cash)
    instructions = list(MaturityInstruction)
    opened = 0
    for drawn in deposits_drawn(last_day):
        n, on, months, amount = drawn.n, drawn.opened_on, drawn.months, drawn.amount
        client = clients[n % len(clients)]
        product_id = twelve if drawn.twelve_month_product else flexible
        instruction = instructions[n % len(instructions)]
        # Paid to the current account (opened in October): deposits opened since, funded from it in November.
        to_current = client.current_account is not None and n % 4 == 1 and on >= date(2026, 10, 1)
        payout = (Settlement(deposit_account_id=client.current_account) if to_current
                  else Settlement(payment_type_id=mobile if n % 2 else cash))
        try:
            account = await service.open_account(uow_factory(), OpenTermDeposit(
                client_id=client.id, product_id=product_id, deposit_amount=amount, term=TermLength(count=months),
                opened_on=on, maturity_instruction=instruction, payout=payout), TELLER, scope)
        except (LedgerError, ProductError, DepositError):
            continue  # a product bound the draw missed (the demo draws, the product decides)
        source = Settlement(payment_type_id=cash)
        if to_current and on >= date(2026, 11, 1):  # after the current accounts' October: funded from them
            source = Settlement(deposit_account_id=client.current_account)
        try:
            await service.fund(uow_factory(), account.account_id, FundTermDeposit(activated_on=on, source=source),
                               TELLER, scope)
        except LedgerError:  # not enough on the current account: the client brings cash
            await service.fund(uow_factory(), account.account_id, FundTermDeposit(
                activated_on=on, source=Settlement(payment_type_id=cash)), TELLER, scope)
        opened += 1
    return opened
