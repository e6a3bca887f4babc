"""The interest run and the maturity run over every due term deposit, set-based.

Both runs go over the due deposits in batches (keyset on the account id). Per batch, in one
database transaction:

1. one statement locks the batch's accounts (`FOR UPDATE`), a second reads, for each, where its
   current term's interest stands (`PostingState`: last period end posted, principal plus net
   interest credited, the rounding carry kept on the last interest transaction); read after the
   lock, so a concurrent run of the same date that committed first is seen and nothing is posted
   twice (the unique index on account, term and period end is the backstop);
2. the interest of each period due is computed in closed form (`postings_due`: a term deposit's
   balance is constant between postings; one multiplication per period when the product
   compounds at its posting period), with the withholding tax in force on the period end;
3. one INSERT writes every transaction of the batch (each naming its journal entry), and one
   `book_entries` call books one entry per office, product version, currency and value date,
   built by the product's posting rules from the batch's totals (gross interest to the expense,
   net to the deposit control account, tax to the tax payable account); the per-deposit detail
   is in the transactions, and the reconciliation ties the two.

While one batch is written, the next one is locked and computed (two batches in flight, on
disjoint accounts).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.limits import ENTRIES_PER_BATCH_MAX
from ledger.model import JournalEntry, Reference
from products.accounting import ProductAccounting, build_entry
from products.deposits.interest import InterestCarry
from products.deposits.term import maturity_date
from products.deposits.term_deposit import MaturityInstruction, apply_maturity_instruction
from products.errors import ProductError
from products.events import EventPart, ProductEvent
from products.posting_rules import Component, EventKind, ProductKind
from products.term_deposits.account import PostingState, TermSchedule, account_terms
from products.term_deposits.product import (
    ClientAttribute,
    TermDepositProduct,
    TermLength,
    TermUnit,
    term_deposit_rate,
)
from servicing.deposits import repository as repo
from servicing.deposits.terms import today
from servicing.ids import uuid7
from servicing.journal import book_entries
from servicing.staff.scope import office_set_condition
from servicing.term_deposits import service as td
from servicing.term_deposits.model import AccountStatus, DepositAccountTransfers, RunSummary, TransactionKind
from servicing.term_deposits.taxes import WithholdingTax, withholding_tax
from servicing.term_deposits.transfers import OPEN_STATUSES
from servicing.unit_of_work import UnitOfWork, UnitOfWorkFactory

BATCH_SIZE_DEFAULT: Final = 5_000
BATCH_SIZE_MAX: Final = 10_000
BATCHES_IN_FLIGHT_MAX: Final = 2
YIELD_EVERY_DEPOSITS: Final = 250
"""Computing a batch gives the event loop a turn this often, so the batch being written meanwhile
is not left waiting for a whole batch's computation between two of its statements."""
RUN_SOURCE_TYPE: Final = "term-deposit-run"
_ONE_DAY: Final = timedelta(days=1)
_ZERO: Final = Decimal(0)

_INTEREST_COLUMNS: Final = """
       a.id, a.office_id, a.currency, a.status, a.current_term, a.product_id, t.product_version, t.principal,
       t.term_count, t.term_unit, t.rate_percent, t.starts_on, t.maturity_date"""
_MATURITY_COLUMNS: Final = _INTEREST_COLUMNS + """,
       a.client_id, a.maturity_instruction, a.payout_payment_type_id, a.payout_deposit_account_id,
       a.client_attributes"""
_LOCK: Final = """
SELECT {columns}
  FROM term_deposit_account a
  JOIN term_deposit_term t ON t.account_id = a.id AND t.term_no = a.current_term
 WHERE a.id > :after AND t.account_id > :after  -- both index scans start at the batch, not at the first deposit
   AND {condition}
 ORDER BY a.id LIMIT :limit
   FOR UPDATE OF a"""

_STATES: Final = text("""
SELECT c.id, s.last_end, s.base, s.carry
  FROM unnest(CAST(:ids AS int[]), CAST(:terms AS int[])) AS c(id, term)
  LEFT JOIN LATERAL (  -- the term's last interest posting: one probe of term_deposit_interest_once
      SELECT x.period_end AS last_end, x.interest_base_after AS base, x.interest_carry AS carry
        FROM term_deposit_transaction x
       WHERE x.account_id = c.id AND x.term_no = c.term AND x.kind = 'interest'
       ORDER BY x.period_end DESC LIMIT 1) s ON true""")

class _GroupKey(msgspec.Struct, frozen=True):
    office_id: int
    product_id: int
    version: int
    currency: str
    value_date: date
    payment_type_id: int | None = None
    payout_code: str | None = None


class _Totals:
    def __init__(self) -> None:
        self.gross = _ZERO
        self.tax = _ZERO
        self.entry_id = uuid7()


class _Work:
    """A batch's transactions and the totals its entries are built from."""

    def __init__(self) -> None:
        self.transactions: list[td._Txn] = []
        self.interest: dict[tuple[Any, ...], _Totals] = {}
        self.payouts: dict[_GroupKey, _Totals] = {}
        self.statuses: list[td._StatusChange] = []
        self.terms: list[dict[str, Any]] = []
        self.transfers: list[tuple[Any, Decimal, date]] = []
        self.amount = _ZERO

    def payout_of(self, key: _GroupKey) -> _Totals:
        totals = self.payouts.get(key)
        if totals is None:
            totals = self.payouts[key] = _Totals()
        return totals


async def _states(session: AsyncSession, rows: Sequence[Any]) -> dict[int, Any]:
    found = (await session.execute(_STATES, {"ids": [r.id for r in rows],
                                             "terms": [r.current_term for r in rows]})).all()
    return {r.id: r for r in found}


class _Schedules:
    """One `TermSchedule` per product version, rate, start and term, shared by the deposits that
    have them in common (the principal does not enter the schedule)."""

    def __init__(self) -> None:
        self._found: dict[tuple[Any, ...], TermSchedule] = {}

    def of(self, row: Any, product: TermDepositProduct) -> TermSchedule:
        key = (row.product_id, row.product_version, row.rate_percent, row.starts_on, row.term_count, row.term_unit)
        found = self._found.get(key)
        if found is None:
            terms = account_terms(product, principal=Decimal(1), activated_on=row.starts_on,
                                  term=TermLength(count=row.term_count, unit=TermUnit(row.term_unit)),
                                  rate_percent=td._plain(row.rate_percent))
            found = self._found[key] = TermSchedule(terms)
        return found


def _state_of(principal: Decimal, stored: Any, schedule: TermSchedule) -> PostingState:
    """Where the term stands; interest posted before the carry was kept (no carry on the last
    posting) is replayed from the activation, without tax as it was posted."""
    if stored.last_end is None:
        return PostingState(posted_through=None, balance=principal)
    if stored.carry is not None and stored.base is not None:
        return PostingState(posted_through=stored.last_end, balance=stored.base,
                            carry=InterestCarry(earned=stored.carry))
    replayed = schedule.postings_due(PostingState(posted_through=None, balance=principal), through=stored.last_end,
                                     tax_percent_on=lambda _day: _ZERO)
    return replayed[-1].after if replayed else PostingState(posted_through=None, balance=principal)


def _add_interest(work: _Work, row: Any, schedule: TermSchedule, state: PostingState, through: date,
                  tax: WithholdingTax) -> PostingState:
    for due in schedule.postings_due(state, through=through, tax_percent_on=tax.percent_on):
        state = due.after
        if due.gross <= 0:
            continue
        key = (row.office_id, row.product_id, row.product_version, row.currency, due.period.last_day)
        totals = work.interest.get(key)
        if totals is None:
            totals = work.interest[key] = _Totals()
        totals.gross += due.gross
        totals.tax += due.tax
        work.amount += due.gross
        work.transactions.append(td._Txn(
            account_id=row.id, term_no=row.current_term, kind=TransactionKind.INTEREST, amount=due.gross,
            value_date=due.period.last_day, period_end=due.period.last_day, entry_id=totals.entry_id,
            withholding_tax=due.tax, interest_carry=due.after.carry.earned, interest_base_after=due.after.balance))
    return state


def _event(kind: EventKind, currency: str, parts: Sequence[tuple[Component, Decimal]],
           payment_type_id: int | None = None) -> ProductEvent | None:
    kept = tuple(EventPart(component=c, amount=a) for c, a in parts if a > 0)
    if not kept:
        return None
    return ProductEvent(kind=kind, currency=currency, parts=kept, payment_type_id=payment_type_id)


def _entry(accounting: ProductAccounting, event: ProductEvent | None, key: _GroupKey, entry_id: UUID,
           description: str, actor: str, run: str) -> JournalEntry | None:
    if event is None:
        return None
    return build_entry(ProductKind.TERM_DEPOSIT, accounting, event, entry_id=entry_id, office_id=key.office_id,
                       value_date=key.value_date, description=description[:500], actor=actor,
                       reference=Reference(source_type=RUN_SOURCE_TYPE, source_id=run[:100]))


def _entries(work: _Work, products: dict[tuple[int, int], TermDepositProduct], on: date, actor: str
             ) -> list[JournalEntry]:
    """One entry per group (office, product version, currency, value date) from its totals: under
    accrual accounting the gross interest is accrued first (expense to interest payable)."""
    entries: list[JournalEntry] = []
    for group, totals in work.interest.items():
        key = _GroupKey(*group)
        product = products[(key.product_id, key.version)]
        run = f"interest:{key.product_id}/{key.version}:{on.isoformat()}"
        label = f"DAT {product.identity.short_name} : intérêts au {key.value_date:%d/%m/%Y} (arrêté du {on:%d/%m/%Y})"
        accrual = _entry(product.accounting, _event(EventKind.DEPOSIT_INTEREST_ACCRUAL, key.currency,
                                                    [(Component.INTEREST, totals.gross)]),
                         key, uuid7(), label, actor, run)
        posting = _entry(product.accounting, _event(EventKind.INTEREST_POSTING, key.currency, [
            (Component.INTEREST, totals.gross - totals.tax), (Component.WITHHOLDING_TAX, totals.tax)]),
            key, totals.entry_id, label, actor, run)
        entries += [e for e in (accrual, posting) if e is not None]
    for key, totals in work.payouts.items():
        product = products[(key.product_id, key.version)]
        accounting = td._with_payment_type(product.accounting, key.payment_type_id, key.payout_code)
        run = f"maturity:{key.product_id}/{key.version}:{on.isoformat()}"
        label = f"DAT {product.identity.short_name} : paiement à l'échéance du {key.value_date:%d/%m/%Y}"
        entry = _entry(accounting, _event(EventKind.WITHDRAWAL, key.currency, [(Component.AMOUNT, totals.gross)],
                                          key.payment_type_id), key, totals.entry_id, label, actor, run)
        if entry is not None:
            entries.append(entry)
    return entries


async def _write(uow: UnitOfWork, work: _Work, products: dict[tuple[int, int], TermDepositProduct], on: date,
                 actor: str, transfers: DepositAccountTransfers | None) -> int:
    if work.transfers:
        # The deposit accounts paid into, in id order, before the journal's locks: a deposit
        # movement locks its account, then books its entry; booking first and locking each
        # account after (in term-deposit order) could wait on an account whose movement waits
        # on the journal rows held here: a deadlock.
        await repo.lock_accounts(uow.session, [row.payout_deposit_account_id for row, _amount, _on in work.transfers])
    entries = _entries(work, products, on, actor)
    booked = {entry.entry_id for entry in entries}
    named = {totals.entry_id for totals in (*work.interest.values(), *work.payouts.values())}
    transactions = work.transactions if named <= booked else [  # a group that posted nothing names no entry
        t if t.entry_id in booked else msgspec.structs.replace(t, entry_id=None) for t in work.transactions]
    for start in range(0, len(entries), ENTRIES_PER_BATCH_MAX):
        await book_entries(uow, entries[start:start + ENTRIES_PER_BATCH_MAX])
    for row, amount, value_date in work.transfers:  # payouts to deposit accounts: one transfer each
        product = products[(row.product_id, row.product_version)]
        transactions.append(await td._transfer_out(uow, row, product, amount, value_date, actor, transfers))
    await _insert_transactions(uow, transactions, actor)
    if work.terms:
        await _insert_terms(uow.session, work.terms, actor)
    await td._set_statuses(uow.session, work.statuses, actor)
    await td._commit(uow)
    return len(entries) + len(work.transfers)


_INSERT_TRANSACTIONS: Final = text("""
INSERT INTO term_deposit_transaction (account_id, term_no, kind, amount, value_date, period_end, payment_type_id,
    entry_id, idempotency_key, created_by, withholding_tax, interest_carry, interest_base_after, deposit_account_id)
SELECT x.a, x.t, x.k, CAST(x.am AS numeric), x.d, x.p, x.pt, x.e, x.ik, :actor, CAST(x.w AS numeric),
       CAST(x.c AS numeric), CAST(x.b AS numeric), x.da
  FROM unnest(CAST(:accounts AS int[]), CAST(:terms AS int[]), CAST(:kinds AS varchar[]), CAST(:amounts AS text[]),
              CAST(:dates AS date[]), CAST(:periods AS date[]), CAST(:payment_types AS int[]),
              CAST(:entries AS uuid[]), CAST(:keys AS varchar[]), CAST(:taxes AS text[]), CAST(:carries AS text[]),
              CAST(:bases AS text[]), CAST(:deposit_accounts AS bigint[]))
    AS x(a, t, k, am, d, p, pt, e, ik, w, c, b, da)""")
"""A batch's transactions in one statement, column by column. Amounts travel as text, cast to
numeric in SQL: str() of a Decimal costs a fraction of asyncpg's binary numeric encoding (which
binary COPY needs too), and the run is bound by its Python time, not by PostgreSQL's."""


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


async def _insert_transactions(uow: UnitOfWork, transactions: Sequence[td._Txn], actor: str) -> None:
    if not transactions:
        return
    await uow.session.execute(_INSERT_TRANSACTIONS, {
        "actor": actor, "accounts": [t.account_id for t in transactions], "terms": [t.term_no for t in transactions],
        "kinds": [t.kind.value for t in transactions], "amounts": [str(t.amount) for t in transactions],
        "dates": [t.value_date for t in transactions], "periods": [t.period_end for t in transactions],
        "payment_types": [t.payment_type_id for t in transactions], "entries": [t.entry_id for t in transactions],
        "keys": [t.idempotency_key for t in transactions],
        "taxes": [str(t.withholding_tax) for t in transactions],
        "carries": [_text(t.interest_carry) for t in transactions],
        "bases": [_text(t.interest_base_after) for t in transactions],
        "deposit_accounts": [t.deposit_account_id for t in transactions]})


async def _insert_terms(session: AsyncSession, terms: Sequence[dict[str, Any]], actor: str) -> None:
    """The renewals' new terms, in one statement."""
    await session.execute(text("""
        INSERT INTO term_deposit_term (account_id, term_no, product_id, product_version, principal, term_count,
            term_unit, rate_percent, base_rate_percent, incentives_applied, starts_on, maturity_date, created_by)
        SELECT c.id, c.no, c.product, c.version, c.principal, c.count, c.unit, c.rate, c.base,
               CAST(c.incentives AS jsonb), c.starts, c.maturity, :actor
          FROM unnest(CAST(:ids AS int[]), CAST(:nos AS int[]), CAST(:products AS int[]), CAST(:versions AS int[]),
                      CAST(:principals AS numeric[]), CAST(:counts AS int[]), CAST(:units AS varchar[]),
                      CAST(:rates AS numeric[]), CAST(:bases AS numeric[]), CAST(:incentives AS text[]),
                      CAST(:starts AS date[]), CAST(:maturities AS date[]))
            AS c(id, no, product, version, principal, count, unit, rate, base, incentives, starts, maturity)"""), {
        "ids": [t["account_id"] for t in terms], "nos": [t["term_no"] for t in terms],
        "products": [t["product_id"] for t in terms], "versions": [t["version"] for t in terms],
        "principals": [t["principal"] for t in terms], "counts": [t["term"].count for t in terms],
        "units": [t["term"].unit.value for t in terms], "rates": [t["rate"] for t in terms],
        "bases": [t["base_rate"] for t in terms],
        "incentives": [msgspec.json.encode(t["incentives"]).decode() for t in terms],
        "starts": [t["starts_on"] for t in terms], "maturities": [t["maturity"] for t in terms], "actor": actor})


async def _batches(uow_factory: UnitOfWorkFactory, condition: str, columns: str, params: dict[str, Any],
                   batch_size: int, work_on: Any) -> tuple[int, int, Decimal]:
    """Lock a batch, compute it, write it: while one batch is written the next is locked and
    computed (at most `BATCHES_IN_FLIGHT_MAX`, on disjoint accounts)."""
    assert 1 <= batch_size <= BATCH_SIZE_MAX, batch_size
    after, seen, booked, amount = 0, 0, 0, _ZERO
    in_flight: list[asyncio.Task[tuple[int, Decimal]]] = []

    products: dict[tuple[int, int], TermDepositProduct] = {}  # versions are immutable: read once per run

    async def one(uow: UnitOfWork, rows: Sequence[Any]) -> tuple[int, Decimal]:
        missing = {(r.product_id, r.product_version) for r in rows} - products.keys()
        if missing:
            products.update(await td._products(uow.session, missing))
        work = await work_on(uow, rows, products)
        return await _write(uow, work, products, params["on"], params["actor"], work_on.transfers), work.amount

    try:
        while True:
            uow = uow_factory()
            await uow.__aenter__()
            try:
                rows = (await uow.session.execute(text(_LOCK.format(
                    condition=f"{condition} AND {office_set_condition('a.office_id')}", columns=columns)),
                    {"offices": None, **params, "after": after, "limit": batch_size})).all()
            except BaseException:
                await uow.__aexit__(None, None, None)
                raise
            if not rows:
                await uow.__aexit__(None, None, None)
                break
            seen += len(rows)
            after = rows[-1].id
            in_flight.append(asyncio.create_task(_run_locked(uow, one, rows)))
            if len(in_flight) >= BATCHES_IN_FLIGHT_MAX:
                done, _pending = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    entries, total = task.result()
                    booked += entries
                    amount += total
                in_flight = [task for task in in_flight if task not in done]
    finally:
        results = await asyncio.gather(*in_flight, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
        booked += result[0]
        amount += result[1]
    return seen, booked, amount


async def _run_locked(uow: UnitOfWork, one: Any, rows: Sequence[Any]) -> tuple[int, Decimal]:
    try:
        result: tuple[int, Decimal] = await one(uow, rows)
    finally:
        await uow.__aexit__(None, None, None)
    return result


async def post_interest(uow_factory: UnitOfWorkFactory, on: date, actor: str,
                        batch_size: int = BATCH_SIZE_DEFAULT, *, offices: Sequence[int] | None = None) -> RunSummary:
    """Post the interest of every posting period that ended on or before ``on`` and is not
    posted yet, over every active deposit (of ``office`` and its branches, when given: an
    office closing its business day alone). Running it again (even at the same time) posts
    nothing more."""
    async with uow_factory() as uow:
        tax = await withholding_tax(uow.session)

    schedules = _Schedules()

    async def work_on(uow: UnitOfWork, rows: Sequence[Any], products: dict[tuple[int, int], TermDepositProduct]
                      ) -> _Work:
        work = _Work()
        states = await _states(uow.session, rows)
        for number, row in enumerate(rows, start=1):
            schedule = schedules.of(row, products[(row.product_id, row.product_version)])
            _add_interest(work, row, schedule, _state_of(row.principal, states[row.id], schedule), on, tax)
            if number % YIELD_EVERY_DEPOSITS == 0:
                await asyncio.sleep(0)  # let the batch being written send its next statement meanwhile
        return work

    work_on.transfers = None  # type: ignore[attr-defined]
    seen, booked, amount = await _batches(uow_factory, "a.status = 'active' AND t.starts_on <= :on",
                                          _INTEREST_COLUMNS, {"on": on, "actor": actor, "offices": offices},
                                          batch_size, work_on)
    return RunSummary(on=on, accounts_seen=seen, entries_booked=booked, amount=amount)


async def mature(uow_factory: UnitOfWorkFactory, on: date, actor: str, batch_size: int = BATCH_SIZE_DEFAULT,
                 transfers: DepositAccountTransfers | None = None, *, offices: Sequence[int] | None = None) -> RunSummary:
    """Apply the client's instruction to every deposit matured on or before ``on`` (and to held
    deposits whose instruction was changed since): the last interest is posted first, then the
    deposit is paid out (by its payment type, or to the client's deposit account), renewed at
    the rate of the chart valid that day (principal only, the interest paid out; or principal
    and interest), or held."""
    held_for_review: list[int] = []
    schedules = _Schedules()
    async with uow_factory() as uow:
        tax = await withholding_tax(uow.session)

    async def work_on(uow: UnitOfWork, rows: Sequence[Any], products: dict[tuple[int, int], TermDepositProduct]
                      ) -> _Work:
        session = uow.session
        work = _Work()
        states = await _states(session, rows)
        payment_types = {r.payout_payment_type_id for r in rows if r.payout_payment_type_id is not None}
        codes = {pt: await td._payment_type_account(session, pt, "payout.payment_type_id") for pt in payment_types}
        current = {pid: await td._current_product(session, pid) for pid in {r.product_id for r in rows}}
        receiving = await _receiving_accounts(session, rows)
        for number, row in enumerate(rows, start=1):
            if number % YIELD_EVERY_DEPOSITS == 0:
                await asyncio.sleep(0)  # let the batch being written send its next statement meanwhile
            if row.payout_deposit_account_id is not None and not _can_receive(row, receiving, on):
                held_for_review.append(row.id)  # the account to pay into cannot take it: a person decides
                work.statuses.append(td._StatusChange(account_id=row.id, status=AccountStatus.HELD))
                continue
            product = products[(row.product_id, row.product_version)]
            schedule = schedules.of(row, product)
            state = _state_of(row.principal, states[row.id], schedule)
            if row.status == AccountStatus.ACTIVE.value:
                state = _add_interest(work, row, schedule, state, row.maturity_date - _ONE_DAY, tax)
            credited = state.balance - row.principal
            _apply_instruction(work, row, product, current[row.product_id], credited, on,
                               codes.get(row.payout_payment_type_id), held_for_review)
        return work

    work_on.transfers = transfers  # type: ignore[attr-defined]
    seen, booked, amount = await _batches(
        uow_factory,
        "((a.status = 'active' AND t.maturity_date <= :on) OR (a.status = 'held' AND a.maturity_instruction <> 'hold'))",
        _MATURITY_COLUMNS, {"on": on, "actor": actor, "offices": offices}, batch_size, work_on)
    return RunSummary(on=on, accounts_seen=seen, entries_booked=booked, amount=amount,
                      held_for_review=tuple(held_for_review))


async def _receiving_accounts(session: AsyncSession, rows: Sequence[Any]) -> dict[int, Any]:
    """The deposit accounts maturities pay into, read once per batch."""
    ids = sorted({r.payout_deposit_account_id for r in rows if r.payout_deposit_account_id is not None})
    if not ids:
        return {}
    found = (await session.execute(text(
        "SELECT id, client_id, currency, status, activated_on FROM deposit_account WHERE id = ANY(CAST(:ids AS bigint[]))"),
        {"ids": ids})).all()
    return {r.id: r for r in found}


def _can_receive(row: Any, receiving: dict[int, Any], on: date) -> bool:
    """Whether the payout can go to the named deposit account on its date (the transfer's own
    checks, made before the batch is written so one account cannot stop the run)."""
    account = receiving.get(row.payout_deposit_account_id)
    settled_on = row.maturity_date if row.status == AccountStatus.ACTIVE.value else on
    return (account is not None and account.client_id == row.client_id and account.currency.strip() == row.currency
            and account.status in OPEN_STATUSES and account.activated_on is not None
            and account.activated_on <= settled_on <= today())


def _apply_instruction(work: _Work, row: Any, product: TermDepositProduct,
                       current: tuple[int, TermDepositProduct], credited: Decimal, on: date,
                       payout_code: str | None, held_for_review: list[int]) -> None:
    instruction = MaturityInstruction(row.maturity_instruction)
    # A deposit matures on its maturity date; one held since then is settled on the run's date.
    settled_on = row.maturity_date if row.status == AccountStatus.ACTIVE.value else on
    if instruction is MaturityInstruction.HOLD:
        work.statuses.append(td._StatusChange(account_id=row.id, status=AccountStatus.HELD))
        return
    terms = td._terms_of(row, product)
    term = TermLength(count=row.term_count, unit=TermUnit(row.term_unit))
    version, latest = current
    renewal_quote = None
    if instruction is not MaturityInstruction.PAY_OUT:
        principal = terms.principal + (credited if instruction is MaturityInstruction.RENEW_PRINCIPAL_AND_INTEREST
                                       else _ZERO)
        try:
            renewal_quote = term_deposit_rate(latest, on=settled_on, term=term, amount=principal,
                                              client={ClientAttribute(k): v for k, v in row.client_attributes.items()})
        except ProductError:
            held_for_review.append(row.id)
            work.statuses.append(td._StatusChange(account_id=row.id, status=AccountStatus.HELD))
            return
    outcome = apply_maturity_instruction(terms, instruction, interest_credited=credited,
                                         renewal_rate_percent=renewal_quote.rate_percent if renewal_quote else None)
    if outcome.amount_paid_out > 0:
        work.amount += outcome.amount_paid_out
        if row.payout_deposit_account_id is not None:
            work.transfers.append((row, outcome.amount_paid_out, settled_on))
        else:
            totals = work.payout_of(_GroupKey(row.office_id, row.product_id, row.product_version, row.currency,
                                              settled_on, row.payout_payment_type_id, payout_code))
            totals.gross += outcome.amount_paid_out
            work.transactions.append(td._Txn(
                account_id=row.id, term_no=row.current_term, kind=TransactionKind.PAYOUT,
                amount=outcome.amount_paid_out, value_date=settled_on, payment_type_id=row.payout_payment_type_id,
                entry_id=totals.entry_id))
    if outcome.renewed is None:
        work.statuses.append(td._StatusChange(account_id=row.id, status=AccountStatus.CLOSED, closed_on=settled_on))
        return
    assert renewal_quote is not None
    renewed = outcome.renewed
    new_term = row.current_term + 1
    work.terms.append({
        "account_id": row.id, "term_no": new_term, "product_id": row.product_id, "version": version,
        "principal": renewed.principal, "term": term, "rate": renewed.rate_annual_percent,
        "base_rate": renewal_quote.base_rate_percent, "incentives": td._incentives(latest, renewal_quote),
        "starts_on": settled_on, "maturity": maturity_date(settled_on, renewed.term, renewed.month_end_rule)})
    work.transactions.append(td._Txn(account_id=row.id, term_no=new_term, kind=TransactionKind.RENEWAL,
                                     amount=renewed.principal, value_date=settled_on))
    work.statuses.append(td._StatusChange(account_id=row.id, status=AccountStatus.ACTIVE, current_term=new_term))
