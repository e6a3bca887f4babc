"""Posting deposit interest for a date, set-based.

`post_deposit_interest(D)` posts, for every open account whose posting period ends on D, the
interest of that period (and the overdraft interest charged on negative days) computed by the
pure core. The work is set-based:

1. per product version whose posting period ends on D, ONE query computes every account's
   credit and debit balance-days over its period (`interest_from_balance_days` turns those
   two sums into the period's interest when the period is a single compounding window at one
   rate, the everyday case; otherwise the same query returns each account's balance runs for
   `interest_for_period`);
2. the postings are written in batches of up to 2,000 accounts: per batch one lock statement,
   one INSERT of the account transactions (each naming its entry), one UPDATE of the cached
   balances, one `book_entries` call and one commit. The journal gets one entry per office and
   batch, built by the product's posting rules from the batch's totals (interest expense to
   deposit control; overdraft portfolio to interest income); the per-account detail is in the
   account transactions, and the reconciliation ties the two.

Idempotent per account and period: the interest transaction carries the key
`interest_posting_key(account, period)` (unique per account), accounts already posted are
skipped when read and again under their lock, so two runs (even concurrent) post once.
Rounding remainders are not carried between periods (each period rounds down on its own).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

import msgspec
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledger.model import JournalEntry
from products.deposits import (
    BalanceSegment,
    InterestSettings,
    PeriodInterest,
    TransactionKind,
    interest_for_period,
    interest_from_balance_days,
    interest_posting_key,
    is_single_window,
)
from products.deposits.periods import Period, PostingPeriod, posting_period_containing
from products.posting_rules import EventKind
from servicing.deposits import posting
from servicing.deposits import repository as repo
from servicing.deposits.terms import ProductTerms, product_terms, today
from servicing.errors import InvalidInput, translate_database_error
from servicing.ids import uuid7
from servicing.journal import book_entries
from servicing.unit_of_work import UnitOfWorkFactory

BATCH_ACCOUNTS_MAX: Final = 2_000
BATCHES_IN_FLIGHT_MAX: Final = 2
"""Batches being written while the next one is computed (they lock disjoint accounts)."""
YIELD_EVERY_ACCOUNTS: Final = 100
EARNING_STATUSES: Final = ("active", "frozen", "blocked")
"""Interest is not a client movement: frozen and blocked accounts still earn (and pay) it."""
_ZERO: Final = Decimal(0)


class InterestRun(msgspec.Struct, frozen=True, kw_only=True):
    posting_date: date
    accounts_considered: int
    accounts_posted: int
    already_posted: int
    interest_posted: Decimal
    overdraft_interest_charged: Decimal
    entries_booked: int


class _Due(msgspec.Struct, frozen=True, kw_only=True):
    account_id: int
    office_id: int
    terms: ProductTerms
    period: Period
    interest: PeriodInterest


_ACCOUNTS = """
acc AS (
    SELECT a.id, a.office_id, a.interest_rate_annual_percent AS rate, a.balance,
           greatest(CAST(:first AS date), a.activated_on) AS first_day
      FROM deposit_account a
     WHERE a.product_id = :product_id AND a.product_version = :version
       AND a.status IN ('active', 'frozen', 'blocked') AND a.activated_on <= :last
       -- posted already: its interest of the period is value-dated on the period's last day
       AND NOT EXISTS (SELECT 1 FROM deposit_transaction k WHERE k.account_id = a.id AND k.value_date = :last
                         AND k.kind IN ('interest', 'overdraft_interest'))),
moves AS (  -- interest counts from the day after its value date, everything else from its value date
    SELECT t.account_id, t.signed_amount,
           CASE WHEN t.kind IN ('interest', 'overdraft_interest') THEN t.value_date + 1 ELSE t.value_date END AS day
      FROM deposit_transaction t JOIN acc ON acc.id = t.account_id
     WHERE t.signed_amount <> 0 AND t.value_date >= acc.first_day - 1
),
opening AS (  -- the cached balance (checked by verify) less what counts from the period's first day on
    SELECT acc.id AS account_id, acc.first_day AS day,
           acc.balance - coalesce(sum(m.signed_amount) FILTER (WHERE m.day >= acc.first_day), 0) AS delta
      FROM acc LEFT JOIN moves m ON m.account_id = acc.id
     GROUP BY acc.id, acc.first_day, acc.balance
),
days AS (
    SELECT account_id, day, sum(delta) AS delta FROM (
        SELECT account_id, day, delta FROM opening
        UNION ALL
        SELECT m.account_id, m.day, m.signed_amount FROM moves m JOIN acc ON acc.id = m.account_id
         WHERE m.day BETWEEN acc.first_day AND :last
    ) changes GROUP BY account_id, day
),
runs AS (
    SELECT account_id, day AS first_day,
           coalesce(lead(day) OVER (PARTITION BY account_id ORDER BY day), CAST(:last AS date) + 1) - 1 AS last_day,
           sum(delta) OVER (PARTITION BY account_id ORDER BY day) AS balance
      FROM days
)"""

_BALANCE_DAYS = text(f"""
WITH {_ACCOUNTS}
SELECT acc.id AS account_id, acc.office_id, acc.rate, acc.first_day,
       coalesce(sum(greatest(r.balance, 0) * (r.last_day - r.first_day + 1)), 0) AS credit_days,
       coalesce(sum(greatest(-r.balance, 0) * (r.last_day - r.first_day + 1)), 0) AS debit_days
  FROM acc LEFT JOIN runs r ON r.account_id = acc.id
 GROUP BY acc.id, acc.office_id, acc.rate, acc.first_day
""")

_RUNS = text(f"""
WITH {_ACCOUNTS}
SELECT acc.id AS account_id, acc.office_id, acc.rate, acc.first_day, r.first_day AS run_first, r.last_day AS run_last,
       r.balance
  FROM acc LEFT JOIN runs r ON r.account_id = acc.id
 ORDER BY acc.id, r.first_day
""")


async def _versions(uow_factory: UnitOfWorkFactory, posting_date: date) -> list[tuple[int, int]]:
    async with uow_factory() as uow:
        rows = (await uow.session.execute(text(
            "SELECT DISTINCT product_id, product_version FROM deposit_account"
            " WHERE status IN ('active', 'frozen', 'blocked') AND activated_on <= :day ORDER BY 1, 2"),
            {"day": posting_date})).all()
    return [(row.product_id, row.product_version) for row in rows]


async def _dues(uow_factory: UnitOfWorkFactory, terms: ProductTerms, posting_date: date
                ) -> tuple[int, AsyncIterator[_Due]]:
    """How many accounts of one product version are due, and their interest, computed as it
    is consumed (so computing the next batch overlaps with writing the previous one)."""
    posting_kind = PostingPeriod(terms.product.interest.posting_period.value)
    whole = posting_period_containing(posting_date, posting_kind, None)
    if whole.last_day != posting_date:
        return 0, _none()
    settings_of: dict[Decimal, InterestSettings] = {}

    def settings(rate: Decimal) -> InterestSettings:
        found = settings_of.get(rate)
        if found is None:
            found = settings_of[rate] = terms.interest_settings(repo._plain(rate))
        return found

    params = {"product_id": terms.product_id, "version": terms.version, "first": whole.first_day, "last": posting_date}
    single = is_single_window(settings(Decimal(0)), whole)
    async with uow_factory() as uow:
        rows = (await uow.session.execute(_BALANCE_DAYS if single else _RUNS, params)).all()

    async def from_balance_days() -> AsyncIterator[_Due]:
        for number, row in enumerate(rows, start=1):
            period = Period(first_day=row.first_day, last_day=posting_date)
            result = interest_from_balance_days(
                credit_balance_days=Decimal(row.credit_days), debit_balance_days=Decimal(row.debit_days),
                settings=settings(row.rate), period=period)
            yield _Due(account_id=row.account_id, office_id=row.office_id, terms=terms, period=period,
                       interest=result)
            if number % YIELD_EVERY_ACCOUNTS == 0:
                await asyncio.sleep(0)  # let the batch being written send its next statement

    if single:
        return len(rows), from_balance_days()
    by_account: dict[int, list[Any]] = {}
    for row in rows:
        by_account.setdefault(row.account_id, []).append(row)

    async def from_runs() -> AsyncIterator[_Due]:
        for number, account_rows in enumerate(by_account.values(), start=1):
            first = account_rows[0]
            period = Period(first_day=first.first_day, last_day=posting_date)
            segments = tuple(BalanceSegment(first_day=r.run_first, last_day=r.run_last, balance=Decimal(r.balance))
                             for r in account_rows if r.run_first is not None)
            result = interest_for_period(segments, settings(first.rate), period)
            yield _Due(account_id=first.account_id, office_id=first.office_id, terms=terms, period=period,
                       interest=result)
            if number % YIELD_EVERY_ACCOUNTS == 0:
                await asyncio.sleep(0)

    return len(by_account), from_runs()


async def _none() -> AsyncIterator[_Due]:
    return
    yield  # an empty async generator


async def _post_batch(uow_factory: UnitOfWorkFactory, batch: Sequence[_Due], posting_date: date, actor: str
                      ) -> tuple[int, int, Decimal, Decimal]:
    """Post one batch: (accounts posted, entries, interest, overdraft interest)."""
    keys = {due.account_id: interest_posting_key(str(due.account_id), due.period) for due in batch}
    overdraft_keys = [interest_posting_key(str(due.account_id), due.period, "overdraft_interest") for due in batch]
    async with uow_factory() as uow:
        session = uow.session
        locked: dict[int, Decimal] = dict((await session.execute(text(
            "SELECT id, balance FROM deposit_account WHERE id = ANY(CAST(:ids AS bigint[])) ORDER BY id FOR UPDATE"),
            {"ids": list(keys)})).all())
        done = set((await session.execute(text(
            "SELECT account_id FROM deposit_transaction WHERE account_id = ANY(CAST(:ids AS bigint[]))"
            " AND idempotency_key = ANY(CAST(:keys AS varchar[]))"),
            {"ids": list(keys), "keys": [*keys.values(), *overdraft_keys]})).scalars())
        new: list[repo.NewTransaction] = []
        balances: dict[int, Decimal] = {}
        totals: dict[int, list[Decimal]] = {}  # office -> [interest, overdraft interest]
        entry_ids: dict[int, UUID] = {}
        terms = batch[0].terms
        description = f"Intérêts {batch[0].period.last_day:%m/%Y} (arrêté du {posting_date:%d/%m/%Y})"
        for due in batch:
            assert due.terms is terms, "a batch holds one product version"
            if due.account_id in done:
                continue
            earned, charged = due.interest.earned_posted, due.interest.charged_posted
            office_totals = totals.setdefault(due.office_id, [_ZERO, _ZERO])
            office_totals[0] += earned
            office_totals[1] += charged
            entry_id = entry_ids.setdefault(due.office_id, uuid7())
            balance = repo._plain(locked[due.account_id])
            for kind, amount, key_kind in ((TransactionKind.INTEREST, earned, "interest"),
                                           (TransactionKind.OVERDRAFT_INTEREST, charged, "overdraft_interest")):
                if not amount:
                    continue
                balance += amount if kind is TransactionKind.INTEREST else -amount
                new.append(repo.NewTransaction(
                    account_id=due.account_id, kind=kind, amount=amount, balance_after=balance,
                    value_date=posting_date, actor=actor, journal_entry_id=entry_id if terms.posts else None,
                    description=description, idempotency_key=interest_posting_key(str(due.account_id), due.period,
                                                                                  key_kind)))
            balances[due.account_id] = balance
        # One entry per office for the batch, from the product's rules applied to the totals: the
        # GL gets the run's interest, each account its own transaction naming that entry.
        entries: list[JournalEntry] = []
        for office_id, (earned, charged) in totals.items():
            lines = posting.movement_lines([
                (terms, posting.interest_event(EventKind.INTEREST_POSTING, terms, earned) if earned else None),
                (terms, posting.interest_event(EventKind.OVERDRAFT_INTEREST, terms, charged) if charged else None),
            ])
            entry = posting.movement_entry(lines, entry_id=entry_ids[office_id], office_id=office_id,
                                           value_date=posting_date, description=description, actor=actor,
                                           account_id=None,
                                           run=f"{terms.product_id}/{terms.version}:{posting_date.isoformat()}")
            if entry is not None:
                entries.append(entry)
        earned_total = sum((t[0] for t in totals.values()), _ZERO)
        charged_total = sum((t[1] for t in totals.values()), _ZERO)
        if not new:
            return 0, 0, _ZERO, _ZERO
        try:
            await repo.insert_transactions(session, new, balances)
            await book_entries(uow, entries)
            await uow.commit()
        except DBAPIError as error:
            raise translate_database_error(error) or error from error
    return len(balances), len(entries), earned_total, charged_total


def _collect(task: asyncio.Task[tuple[int, int, Decimal, Decimal]], totals: list[Any]) -> bool:
    """Add a finished batch's figures (its error, if any, is raised here)."""
    for index, value in enumerate(task.result()):
        totals[index] += value
    return True


async def post_deposit_interest(uow_factory: UnitOfWorkFactory, posting_date: date, actor: str, *,
                                batch_accounts: int = BATCH_ACCOUNTS_MAX) -> InterestRun:
    assert 1 <= batch_accounts <= BATCH_ACCOUNTS_MAX, batch_accounts
    if posting_date > today():
        raise InvalidInput("interest is posted for a day that has ended", field="posting_date")
    considered = 0
    totals: list[Any] = [0, 0, _ZERO, _ZERO]  # accounts posted, entries, interest, overdraft interest
    in_flight: list[asyncio.Task[tuple[int, int, Decimal, Decimal]]] = []
    for product_id, version in await _versions(uow_factory, posting_date):
        async with uow_factory() as uow:
            terms = await product_terms(uow.session, product_id, version)
        read, dues = await _dues(uow_factory, terms, posting_date)
        considered += read
        batch: list[_Due] = []
        async for due in dues:
            if due.interest.earned_posted or due.interest.charged_posted:
                batch.append(due)
            if len(batch) == batch_accounts:
                in_flight.append(asyncio.create_task(_post_batch(uow_factory, batch, posting_date, actor)))
                batch = []
                if len(in_flight) >= BATCHES_IN_FLIGHT_MAX:
                    await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                    in_flight = [task for task in in_flight if not task.done() or not _collect(task, totals)]
        if batch:
            in_flight.append(asyncio.create_task(_post_batch(uow_factory, batch, posting_date, actor)))
    for task in in_flight:
        await task
        _collect(task, totals)
    posted, entries, earned, charged = totals[0], totals[1], totals[2], totals[3]
    async with uow_factory() as uow:
        already = await uow.session.scalar(text(
            "SELECT count(DISTINCT account_id) FROM deposit_transaction"
            " WHERE kind IN ('interest', 'overdraft_interest') AND value_date = :day"),
            {"day": posting_date}) or 0
    return InterestRun(posting_date=posting_date, accounts_considered=considered, accounts_posted=posted,
                       already_posted=max(0, already - posted), interest_posted=earned,
                       overdraft_interest_charged=charged, entries_booked=entries)
