"""Posting deposit interest for a date, set-based.

`post_deposit_interest(D)` posts, for every open account whose posting period ends on D, the
interest of that period (and the overdraft interest charged on negative days) computed by the
pure core. The work is set-based:

1. per product version whose posting period ends on D, ONE query computes every account's
   credit and debit balance-days over its period (`interest_from_balance_days` turns those
   two sums into the period's interest when the period is a single compounding window at one
   rate, the everyday case; otherwise the same query returns each account's balance runs for
   `interest_for_period`);
2. the postings are written in batches of up to 2,000 accounts: per batch ONE statement locks
   the accounts still due (in id order), stores each one's new balance, rounding carry and
   settled period end, inserts the interest transactions (each naming its entry, its balance
   after computed from the locked balance) and answers the totals actually settled per office;
   then one `book_entries` call and one commit. The journal gets one entry per office and batch,
   built by the product's posting rules from the batch's totals (interest expense to deposit
   control; overdraft portfolio to interest income); the per-account detail is in the account
   transactions, and the reconciliation ties the two.

Rounding remainders are carried: each period's interest is computed with the account's carry
(`interest_carry_earned` / `interest_carry_charged`, below one rounding step) in its base and
added before rounding, and the new carry is stored with the posting, so a year of monthly
postings pays what one exact computation would, to the unit. A period that rounds to nothing
still settles (its carry changes).

Idempotent per account and period: `interest_posted_through` (the last period end settled) is
read with the accounts and checked again under their lock, so two runs (even concurrent) settle
a period once; the interest transaction also carries the key
`interest_posting_key(account, period)` (unique per account).
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
    InterestCarry,
    InterestSettings,
    PostedInterest,
    interest_for_period,
    interest_from_balance_days_many,
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
from servicing.staff.scope import office_set_condition
from servicing.unit_of_work import UnitOfWorkFactory

BATCH_ACCOUNTS_MAX: Final = 2_000
BATCHES_IN_FLIGHT_MAX: Final = 2
"""Batches being written while the next one is computed (they lock disjoint accounts)."""
YIELD_EVERY_ACCOUNTS: Final = 100
READ_ACCOUNTS_MAX: Final = 10_000
"""The balance-days query reads the due accounts by id ranges of this many, the next range read
while the previous one is computed and written (it no longer delays the first write)."""
EARNING_STATUSES: Final = ("active", "frozen", "blocked")
"""Interest is not a client movement: frozen and blocked accounts still earn (and pay) it."""
_ZERO: Final = Decimal(0)
_NO_CARRY: Final = InterestCarry()
_UNSET: Final = object()


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
    earned_posted: Decimal
    charged_posted: Decimal
    carry_in: InterestCarry
    carry_out: InterestCarry


_DUE = f"""
      FROM deposit_account a
     WHERE a.product_id = :product_id AND a.product_version = :version AND {office_set_condition("a.office_id")}
       AND a.status IN ('active', 'frozen', 'blocked') AND a.activated_on <= :last
       -- settled already (posted, or carried when it rounded to nothing) by an earlier run
       AND (a.interest_posted_through IS NULL OR a.interest_posted_through < :last)"""

_DUE_IDS = text(f"SELECT a.id {_DUE} ORDER BY a.id")

_ACCOUNTS = f"""
acc AS (
    SELECT a.id, a.office_id, a.interest_rate_annual_percent AS rate, a.balance,
           a.interest_carry_earned AS carry_earned, a.interest_carry_charged AS carry_charged,
           greatest(CAST(:first AS date), a.activated_on) AS first_day
    {_DUE}
       AND a.id BETWEEN :low AND :high),
moves AS (  -- interest counts from the day after its value date, everything else from its value date
    SELECT t.account_id, t.signed_amount,
           CASE WHEN t.kind IN ('interest', 'overdraft_interest') THEN t.value_date + 1 ELSE t.value_date END AS day
      FROM deposit_transaction t JOIN acc ON acc.id = t.account_id
     WHERE t.account_id BETWEEN :low AND :high  -- the chunk's accounts, not the whole table
       AND t.signed_amount <> 0 AND t.value_date >= acc.first_day - 1
       AND t.value_date >= CAST(:first AS date) - 1
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
SELECT acc.id AS account_id, acc.office_id, acc.rate, acc.first_day, acc.carry_earned, acc.carry_charged,
       -- each day's base is its balance plus the carry's net amount (below one unit), as in the pure core
       coalesce(sum(greatest(r.balance + acc.carry_earned - acc.carry_charged, 0) * (r.last_day - r.first_day + 1)),
                0) AS credit_days,
       coalesce(sum(greatest(acc.carry_charged - acc.carry_earned - r.balance, 0) * (r.last_day - r.first_day + 1)),
                0) AS debit_days
  FROM acc LEFT JOIN runs r ON r.account_id = acc.id
 GROUP BY acc.id, acc.office_id, acc.rate, acc.first_day, acc.carry_earned, acc.carry_charged
""")

_RUNS = text(f"""
WITH {_ACCOUNTS}
SELECT acc.id AS account_id, acc.office_id, acc.rate, acc.first_day, acc.carry_earned, acc.carry_charged,
       r.first_day AS run_first, r.last_day AS run_last, r.balance
  FROM acc LEFT JOIN runs r ON r.account_id = acc.id
 ORDER BY acc.id, r.first_day
""")

_WORK_MEM = text("SET LOCAL work_mem = '64MB'")
"""The balance-days query sorts and hashes every due account: in memory, not in temporary files."""


async def _versions(uow_factory: UnitOfWorkFactory, posting_date: date, offices: Sequence[int] | None
                    ) -> tuple[list[tuple[int, int]], int]:
    """The product versions with earning accounts, and how many accounts an earlier run settled."""
    async with uow_factory() as uow:
        rows = (await uow.session.execute(text(
            "SELECT product_id, product_version, count(*) FILTER (WHERE interest_posted_through >= :day) AS settled"
            "  FROM deposit_account a WHERE status IN ('active', 'frozen', 'blocked') AND activated_on <= :day"
            f"   AND {office_set_condition('a.office_id')} GROUP BY 1, 2 ORDER BY 1, 2"),
            {"day": posting_date, "offices": offices})).all()
    return [(row.product_id, row.product_version) for row in rows], sum(row.settled for row in rows)


def _carry(row: Any) -> InterestCarry:
    earned, charged = row.carry_earned, row.carry_charged  # numeric columns: Decimal already
    return InterestCarry(earned=earned, charged=charged) if earned or charged else _NO_CARRY


async def _dues(uow_factory: UnitOfWorkFactory, terms: ProductTerms, posting_date: date, offices: Sequence[int] | None = None
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

    params = {"product_id": terms.product_id, "version": terms.version, "first": whole.first_day, "last": posting_date,
              "offices": offices}
    single = is_single_window(settings(Decimal(0)), whole)
    async with uow_factory() as uow:
        ids = list((await uow.session.scalars(_DUE_IDS, params)).all())
    ranges = [(ids[start], ids[min(start + READ_ACCOUNTS_MAX, len(ids)) - 1])
              for start in range(0, len(ids), READ_ACCOUNTS_MAX)]

    async def read(low: int, high: int) -> Sequence[Any]:
        async with uow_factory() as uow:
            await uow.session.execute(_WORK_MEM)
            return (await uow.session.execute(_BALANCE_DAYS if single else _RUNS,
                                              {**params, "low": low, "high": high})).all()

    async def chunks() -> AsyncIterator[Sequence[Any]]:
        """Each id range's rows, the next range read (on its own connection) while this one's
        are computed and written."""
        pending = asyncio.create_task(read(*ranges[0])) if ranges else None
        try:
            for index in range(len(ranges)):
                assert pending is not None
                rows = await pending
                pending = asyncio.create_task(read(*ranges[index + 1])) if index + 1 < len(ranges) else None
                yield rows
        finally:
            if pending is not None:
                pending.cancel()

    async def from_balance_days() -> AsyncIterator[_Due]:
        """Chunk by chunk: the accounts of a chunk sharing a rate and a first day are computed
        together (`interest_from_balance_days_many`), then yielded in order."""
        periods: dict[date, Period] = {}
        async for rows in chunks():
            async for due in _from_balance_days(rows, periods):
                yield due

    async def _from_balance_days(rows: Sequence[Any], periods: dict[date, Period]) -> AsyncIterator[_Due]:
        for start in range(0, len(rows), YIELD_EVERY_ACCOUNTS):
            chunk = rows[start:start + YIELD_EVERY_ACCOUNTS]
            carries = [_carry(row) for row in chunk]
            groups: dict[tuple[Decimal, date], list[int]] = {}
            for index, row in enumerate(chunk):
                groups.setdefault((row.rate, row.first_day), []).append(index)
            results: list[PostedInterest | None] = [None] * len(chunk)
            for (rate, first_day), indices in groups.items():
                period = periods.get(first_day)
                if period is None:
                    period = periods[first_day] = Period(first_day=first_day, last_day=posting_date)
                computed = interest_from_balance_days_many(
                    [(Decimal(chunk[i].credit_days), Decimal(chunk[i].debit_days), carries[i]) for i in indices],
                    settings=settings(rate), period=period)
                for index, result in zip(indices, computed, strict=True):
                    results[index] = result
            for index, row in enumerate(chunk):
                result = results[index]
                assert result is not None
                yield _Due(account_id=row.account_id, office_id=row.office_id, terms=terms,
                           period=periods[row.first_day], earned_posted=result.earned_posted,
                           charged_posted=result.charged_posted, carry_in=carries[index],
                           carry_out=result.carry_out)
            await asyncio.sleep(0)  # let the batch being written send its next statement

    if single:
        return len(ids), from_balance_days()

    async def from_runs() -> AsyncIterator[_Due]:
        async for rows in chunks():
            async for due in _from_runs(rows):
                yield due

    async def _from_runs(rows: Sequence[Any]) -> AsyncIterator[_Due]:
        by_account: dict[int, list[Any]] = {}
        for row in rows:
            by_account.setdefault(row.account_id, []).append(row)
        for number, account_rows in enumerate(by_account.values(), start=1):
            first = account_rows[0]
            period = Period(first_day=first.first_day, last_day=posting_date)
            segments = tuple(BalanceSegment(first_day=r.run_first, last_day=r.run_last, balance=Decimal(r.balance))
                             for r in account_rows if r.run_first is not None)
            result = interest_for_period(segments, settings(first.rate), period, _carry(first))
            yield _Due(account_id=first.account_id, office_id=first.office_id, terms=terms, period=period,
                       earned_posted=result.earned_posted, charged_posted=result.charged_posted,
                       carry_in=result.carry_in, carry_out=result.carry_out)
            if number % YIELD_EVERY_ACCOUNTS == 0:
                await asyncio.sleep(0)

    return len(ids), from_runs()


async def _none() -> AsyncIterator[_Due]:
    return
    yield  # an empty async generator


_SETTLE = text("""
WITH due AS (
    -- amounts travel as text: asyncpg encodes a Decimal in binary several times slower than str()
    SELECT * FROM unnest(CAST(:account_ids AS bigint[]), CAST(CAST(:earned AS text[]) AS numeric[]),
                         CAST(CAST(:charged AS text[]) AS numeric[]), CAST(CAST(:carries_earned AS text[]) AS numeric[]),
                         CAST(CAST(:carries_charged AS text[]) AS numeric[]),
                         CAST(:entry_ids AS uuid[]), CAST(:earned_keys AS varchar[]), CAST(:charged_keys AS varchar[]))
           AS d (id, earned, charged, carry_earned, carry_charged, entry_id, earned_key, charged_key)),
locked AS MATERIALIZED (  -- in id order (a transfer locks its two accounts the same way): no deadlock
    SELECT d.* FROM deposit_account a JOIN due d ON d.id = a.id
     WHERE a.id = ANY(CAST(:account_ids AS bigint[]))  -- by the primary key, not a scan
       AND (a.interest_posted_through IS NULL OR a.interest_posted_through < CAST(:day AS date))
     ORDER BY a.id FOR UPDATE OF a),
settled AS (  -- an account a concurrent run settled meanwhile is not in `locked`: it is skipped
    UPDATE deposit_account a SET balance = a.balance + l.earned - l.charged,
           interest_carry_earned = l.carry_earned, interest_carry_charged = l.carry_charged,
           interest_posted_through = CAST(:day AS date)
      FROM locked l
     WHERE a.id = l.id  -- one probe of the primary key per locked account
    RETURNING a.id, a.office_id, a.balance, l.earned, l.charged, l.entry_id, l.earned_key, l.charged_key),
posted AS (  -- interest first, then the overdraft interest: each row's balance after it
    INSERT INTO deposit_transaction (account_id, kind, amount, signed_amount, balance_after, value_date,
        journal_entry_id, idempotency_key, description, actor)
    SELECT s.id, p.kind, p.amount, p.signed_amount, p.balance_after, CAST(:day AS date), s.entry_id, p.idempotency_key,
           :description, :actor
      FROM settled s CROSS JOIN LATERAL (VALUES
               ('interest', s.earned, s.earned, s.balance + s.charged, s.earned_key),
               ('overdraft_interest', s.charged, -s.charged, s.balance, s.charged_key))
           AS p (kind, amount, signed_amount, balance_after, idempotency_key)
     WHERE p.amount > 0)
SELECT s.office_id, s.entry_id, count(*) FILTER (WHERE s.earned > 0 OR s.charged > 0) AS accounts_posted,
       coalesce(sum(s.earned), 0) AS earned, coalesce(sum(s.charged), 0) AS charged
  FROM settled s GROUP BY s.office_id, s.entry_id
""")
"""One statement per batch: lock the accounts still due, store each one's new balance, carry
and settled date, insert its interest transactions (the balance after each computed from the
locked balance) and answer, per office, the totals of what was actually settled: the journal
entries are built from those, so they equal the transactions to the unit even when a
concurrent run settled some of the batch first."""


async def _post_batch(uow_factory: UnitOfWorkFactory, batch: Sequence[_Due], posting_date: date, actor: str
                      ) -> tuple[int, int, Decimal, Decimal]:
    """Settle one batch: (accounts posted, entries, interest, overdraft interest). Accounts
    whose amounts round to nothing still get their carry and their settled date."""
    terms = batch[0].terms
    description = f"Intérêts {batch[0].period.last_day:%m/%Y} (arrêté du {posting_date:%d/%m/%Y})"[:500]
    entry_of_office: dict[int, UUID | None] = {}
    account_ids: list[int] = []
    earned: list[str] = []
    charged: list[str] = []
    carries_earned: list[str] = []
    carries_charged: list[str] = []
    entry_ids: list[UUID | None] = []
    earned_keys: list[str | None] = []
    charged_keys: list[str | None] = []
    for due in sorted(batch, key=lambda due: due.account_id):
        assert due.terms is terms, "a batch holds one product version"
        entry_id = entry_of_office.get(due.office_id, _UNSET)
        if entry_id is _UNSET:  # a product that posts nothing: its transactions name no entry
            entry_id = entry_of_office[due.office_id] = uuid7() if terms.posts else None
        account_ids.append(due.account_id)
        earned.append(str(due.earned_posted))
        charged.append(str(due.charged_posted))
        carries_earned.append(str(due.carry_out.earned))
        carries_charged.append(str(due.carry_out.charged))
        entry_ids.append(entry_id)  # type: ignore[arg-type]
        account = str(due.account_id)
        earned_keys.append(interest_posting_key(account, due.period, "interest") if due.earned_posted else None)
        charged_keys.append(interest_posting_key(account, due.period, "overdraft_interest")
                            if due.charged_posted else None)
    async with uow_factory() as uow:
        try:
            settled = (await uow.session.execute(_SETTLE, {
                "day": posting_date, "description": description, "actor": actor, "account_ids": account_ids,
                "earned": earned, "charged": charged, "carries_earned": carries_earned,
                "carries_charged": carries_charged, "entry_ids": entry_ids, "earned_keys": earned_keys,
                "charged_keys": charged_keys})).all()
            # One entry per office for the batch, from the product's rules applied to the totals
            # settled: the GL gets the run's interest, each account its own transaction naming it.
            entries: list[JournalEntry] = []
            for row in settled:
                if not (row.earned or row.charged):
                    continue
                lines = posting.movement_lines([
                    (terms, posting.interest_event(EventKind.INTEREST_POSTING, terms, row.earned)
                     if row.earned else None),
                    (terms, posting.interest_event(EventKind.OVERDRAFT_INTEREST, terms, row.charged)
                     if row.charged else None),
                ])
                entry = posting.movement_entry(lines, entry_id=row.entry_id, office_id=row.office_id,
                                               value_date=posting_date, description=description, actor=actor,
                                               account_id=None,
                                               run=f"{terms.product_id}/{terms.version}:{posting_date.isoformat()}")
                assert (entry is None) == (row.entry_id is None), "the transactions name the entry booked"
                if entry is not None:
                    entries.append(entry)
            await book_entries(uow, entries)
            await uow.commit()
        except DBAPIError as error:
            raise translate_database_error(error) or error from error
    return (sum(row.accounts_posted for row in settled), len(entries), sum((row.earned for row in settled), _ZERO),
            sum((row.charged for row in settled), _ZERO))


def _collect(task: asyncio.Task[tuple[int, int, Decimal, Decimal]], totals: list[Any]) -> bool:
    """Add a finished batch's figures (its error, if any, is raised here)."""
    for index, value in enumerate(task.result()):
        totals[index] += value
    return True


async def post_deposit_interest(uow_factory: UnitOfWorkFactory, posting_date: date, actor: str, *,
                                batch_accounts: int = BATCH_ACCOUNTS_MAX, offices: Sequence[int] | None = None) -> InterestRun:
    """Post the interest of every deposit account whose posting period ends on ``posting_date``
    (of exactly ``offices`` when given: the offices closing the day)."""
    assert 1 <= batch_accounts <= BATCH_ACCOUNTS_MAX, batch_accounts
    if posting_date > today():
        raise InvalidInput("interest is posted for a day that has ended", field="posting_date")
    considered = 0
    totals: list[Any] = [0, 0, _ZERO, _ZERO]  # accounts posted, entries, interest, overdraft interest
    in_flight: list[asyncio.Task[tuple[int, int, Decimal, Decimal]]] = []
    versions, already = await _versions(uow_factory, posting_date, offices)
    for product_id, version in versions:
        async with uow_factory() as uow:
            terms = await product_terms(uow.session, product_id, version)
        read, dues = await _dues(uow_factory, terms, posting_date, offices)
        considered += read
        batch: list[_Due] = []
        async for due in dues:
            if due.earned_posted or due.charged_posted or due.carry_out != due.carry_in:
                batch.append(due)  # nothing to post and the same carry: settling would change nothing
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
    return InterestRun(posting_date=posting_date, accounts_considered=considered, accounts_posted=posted,
                       already_posted=already, interest_posted=earned,
                       overdraft_interest_charged=charged, entries_booked=entries)
