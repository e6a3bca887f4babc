"""Posting a chunk of loan transactions of the close of business with few journal entries.

The accrual and penalty steps touch up to every active loan each night. One journal entry
per loan and day would be 100,000 entries a night, so a chunk's transactions share ONE
balanced entry per office, product version, currency and day. The entry is built by the
product's posting rules (`products.accounting.posting_lines`) from the chunk's events summed
per classification, term and charge; each loan transaction keeps its own share of it, per
account and side (`loan_entry_share`), computed by the same rules from its own event. Python
checks that the shares add up to the entry before writing; the loan reconciliation checks it
again in the database (`servicing.loans.reconciliation`): each loan against its shares, each
shared entry against the sum of its shares.

Writing is set-based: one statement for the chunk's transactions, their shares and the penalty
keys (`_WRITE_CHUNK`), one `book_entries` call for the entries, then one commit (the caller's).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Final

import msgspec
from sqlalchemy import text

from ledger.limits import ENTRIES_PER_BATCH_MAX, LINES_PER_ENTRY_MAX
from ledger.model import JournalEntry, Line, Reference, Side
from products.accounting import ProductAccounting, posting_lines
from products.events import EventPart, LoanClassification, ProductEvent, TermBucket
from products.posting_rules import Component, EventKind, ProductKind
from servicing.close_of_business.narration import narrated
from servicing.ids import uuid7
from servicing.journal import book_entries
from servicing.rows import named_rows
from servicing.unit_of_work import UnitOfWork, UnitOfWorkFactory

SOURCE_TYPE: Final = "loan-close-of-business"
"""Reference of the shared entries: ``<step>:<product>/<version>:<day>`` as source id."""
_ZERO: Final = Decimal(0)
_SIDE_CODE: Final = {Side.DEBIT: "D", Side.CREDIT: "C"}


class GroupKey(msgspec.Struct, frozen=True, kw_only=True):
    """What one shared entry covers."""

    office_id: int
    product_id: int
    product_version: int
    currency: str


class PenaltyKey(msgspec.Struct, frozen=True, kw_only=True):
    instalment: int
    period: int
    charged_on: date
    base: Decimal


class Posting(msgspec.Struct, frozen=True, kw_only=True):
    """One loan transaction to write, with the events its share of the entry comes from
    (none under cash accounting: a penalty is then a receivable of the sub-ledger only)."""

    loan_id: int
    sequence_number: int
    kind: str
    group: GroupKey
    classification: LoanClassification
    term: TermBucket
    value_date: date
    amount: Decimal
    interest: Decimal = _ZERO
    fee: Decimal = _ZERO
    penalty: Decimal = _ZERO
    vat: Decimal = _ZERO
    charge_id: int | None = None
    allocation: tuple[dict[str, Any], ...] = ()
    events: tuple[ProductEvent, ...] = ()
    mirrored: bool = False
    """An adjustment: the events' lines with debit and credit swapped (a partial reversal)."""
    penalty_key: PenaltyKey | None = None


class InterestAccruals:
    """A chunk's plain interest accruals as columns: one ``accrual`` transaction per loan, of
    interest only (`EventKind.INTEREST_ACCRUAL` on the loan's class and term), the quiet
    night's case for nearly every loan. Written by `write_postings` exactly as the `Posting`
    of one interest part would be, without a Posting, event and share dictionary made for
    each of 50,000 loans."""

    __slots__ = ("amounts", "classifications", "groups", "loan_ids", "sequences", "terms")

    def __init__(self) -> None:
        self.loan_ids: list[int] = []
        self.sequences: list[int] = []
        self.groups: list[GroupKey] = []
        self.classifications: list[LoanClassification] = []
        self.terms: list[TermBucket] = []
        self.amounts: list[Decimal] = []

    def add(self, loan_id: int, sequence_number: int, group: GroupKey, classification: LoanClassification,
            term: TermBucket, amount: Decimal) -> None:
        assert amount > 0, (loan_id, amount)
        self.loan_ids.append(loan_id)
        self.sequences.append(sequence_number)
        self.groups.append(group)
        self.classifications.append(classification)
        self.terms.append(term)
        self.amounts.append(amount)

    def __len__(self) -> int:
        return len(self.loan_ids)


def interest_accrual(currency: str, classification: LoanClassification, term: TermBucket,
                     amount: Decimal) -> ProductEvent:
    """The event of an interest accrual: what the posting rules book it from."""
    return ProductEvent(kind=EventKind.INTEREST_ACCRUAL, currency=currency, classification=classification, term=term,
                        parts=(EventPart(component=Component.INTEREST, amount=amount),))


def array_literal(values: Iterable[Any]) -> str:
    """A PostgreSQL array literal (``{1,2,NULL,"x"}``) of plain values: ints, Decimals, dates,
    UUIDs, None and strings (quoted). A chunk's columns are sent as one text each and cast by
    the server (``CAST(CAST(:x AS text) AS numeric[])``): the driver's array encoder checks
    every element against the collection ABCs, about a microsecond each, which for the hundreds
    of thousands of values a night's accruals write was a second of the step's Python time."""
    return "{" + ",".join("NULL" if v is None else '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
                          if isinstance(v, str) else str(v) for v in values) + "}"


class Shares:
    """Each posting's lines by the product's rules, and the shared entries they add up to."""

    def __init__(self) -> None:
        self._pairs: dict[tuple[Any, ...], tuple[str, str] | None] = {}

    def _pair(self, accounting: ProductAccounting, key: tuple[Any, ...], event: ProductEvent,
              part: EventPart) -> tuple[str, str] | None:
        """(debit, credit) account of one part, from the rules applied to a unit amount (cached:
        the accounts depend on the product, event kind, class, term, component and charge only)."""
        if key not in self._pairs:
            unit = msgspec.structs.replace(event, parts=(msgspec.structs.replace(part, amount=Decimal(1)),))
            lines = posting_lines(ProductKind.LOAN, accounting, unit)
            assert len(lines) in (0, 2), lines
            self._pairs[key] = None if not lines else (
                next(x.account_code for x in lines if x.side is Side.DEBIT),
                next(x.account_code for x in lines if x.side is Side.CREDIT))
        return self._pairs[key]

    def interest_accrual_pair(self, accounting: ProductAccounting, group: GroupKey,
                              classification: LoanClassification, term: TermBucket) -> tuple[str, str] | None:
        """(debit, credit) account of an interest accrual of the group's product, class and term."""
        event = interest_accrual(group.currency, classification, term, Decimal(1))
        key = (group.product_id, group.product_version, event.kind, classification, term, Component.INTEREST, None)
        return self._pair(accounting, key, event, event.parts[0])

    def of(self, accounting: ProductAccounting, posting: Posting) -> dict[tuple[str, Side], Decimal]:
        """The posting's share of its group's entry, per (account, side)."""
        share: dict[tuple[str, Side], Decimal] = {}
        for ev in posting.events:
            for part in ev.parts:
                key = (posting.group.product_id, posting.group.product_version, ev.kind, ev.classification, ev.term,
                       part.component, part.charge_id)
                pair = self._pair(accounting, key, ev, part)
                if pair is None:
                    continue
                debit, credit = pair
                if posting.mirrored:
                    debit, credit = credit, debit
                share[(debit, Side.DEBIT)] = share.get((debit, Side.DEBIT), _ZERO) + part.amount
                share[(credit, Side.CREDIT)] = share.get((credit, Side.CREDIT), _ZERO) + part.amount
        return share


def _net(lines: dict[tuple[str, Side], Decimal]) -> dict[str, Decimal]:
    """Debit minus credit per account."""
    net: dict[str, Decimal] = {}
    for (code, side), amount in lines.items():
        net[code] = net.get(code, _ZERO) + (amount if side is Side.DEBIT else -amount)
    return net


def _entry_lines(accounting: ProductAccounting, postings: Sequence[Posting], *, currency: str,
                 accrued: dict[tuple[LoanClassification, TermBucket], Decimal]) -> dict[str, Decimal]:
    """The group's entry by the posting rules applied to its events summed per event kind,
    class, term, component and charge (mirrored postings counted negative), netted per account;
    ``accrued``: the group's plain interest accruals (`InterestAccruals`) summed per class and term."""
    totals: dict[tuple[Any, ...], Decimal] = {
        (EventKind.INTEREST_ACCRUAL, currency, classification, term, Component.INTEREST, None): amount
        for (classification, term), amount in accrued.items()}
    for posting in postings:
        sign = -1 if posting.mirrored else 1
        for ev in posting.events:
            for part in ev.parts:
                key = (ev.kind, ev.currency, ev.classification, ev.term, part.component, part.charge_id)
                totals[key] = totals.get(key, _ZERO) + sign * part.amount
    net: dict[str, Decimal] = {}
    for (kind, currency, classification, term, component, charge_id), amount in totals.items():
        if amount == 0:
            continue
        summed = ProductEvent(kind=kind, currency=currency, classification=classification, term=term, parts=(
            EventPart(component=component, amount=abs(amount), charge_id=charge_id),))
        for line in posting_lines(ProductKind.LOAN, accounting, summed):
            signed = line.amount if (line.side is Side.DEBIT) == (amount > 0) else -line.amount
            net[line.account_code] = net.get(line.account_code, _ZERO) + signed
    return {code: amount for code, amount in net.items() if amount != 0}


class Written(msgspec.Struct, frozen=True, kw_only=True):
    transactions: int
    entries: int


class ChunkPostings(msgspec.Struct, frozen=True, kw_only=True):
    """What a step computed for one chunk of loans: the postings, and per product version
    its accounting and the label of its entries."""

    postings: list[Posting]
    accounting: dict[tuple[int, int], ProductAccounting]
    labels: dict[tuple[int, int], str]
    interest_accruals: InterestAccruals | None = None


ChunkWork = Callable[[UnitOfWork, Sequence[Any]], Awaitable[ChunkPostings]]


class ChunksDone(msgspec.Struct, frozen=True, kw_only=True):
    loans: int
    transactions: int
    entries: int


CHUNKS_IN_FLIGHT: Final = 3
"""Chunks posted at once by `post_by_chunks` with ``ids_query``: while the database writes and
commits two chunks (on two cores, waiting on the disk and on each other's account balances at
times), the next one is computed in Python. On a quiet night the database's share is the larger
(its writes, against the Python of the columns): a third chunk in flight took a quarter of a
second off 3.3 s of accrual. Their loans are disjoint, and the shared tables they all write
(the accounts' balances) are locked in account order by the journal's trigger."""


async def post_by_chunks(uow_factory: UnitOfWorkFactory, loans_query: Any, params: dict[str, Any], work: ChunkWork,
                         *, step: str, day: date, actor: str, chunk_loans: int,
                         ids_query: Any | None = None) -> ChunksDone:
    """Run a posting step over loans by chunks: each chunk's loans read and locked in id order
    (``loans_query`` pages on ``:after`` and ``:limit``, with ``:day``), its postings computed by
    ``work`` and written with their shared entries, then committed: a run cut off in the middle
    keeps the chunks done, and the next run computes only what is missing.

    With ``ids_query`` (the ids of the loans to post, in order, read once), ``loans_query``
    takes each chunk's ``:ids`` instead of paging (a page of the first kind let the planner,
    misjudging how many loans match, sort every remaining loan's wide row for each chunk), and
    `CHUNKS_IN_FLIGHT` chunks run at once, each in its own transaction."""
    if ids_query is not None:
        return await _post_by_ids(uow_factory, loans_query, ids_query, params, work, step=step, day=day, actor=actor,
                                  chunk_loans=chunk_loans)
    loans_seen = transactions = entries = 0
    after = 0
    while True:
        async with uow_factory() as uow:
            loans = named_rows(await uow.session.execute(loans_query, {
                **params, "day": day, "after": after, "limit": chunk_loans}))
            if not loans:
                break
            chunk = await work(uow, loans)
            written = await write_postings(uow, chunk.postings, chunk.accounting, step=step, day=day, actor=actor,
                                           labels=chunk.labels, accruals=chunk.interest_accruals)
            await uow.commit()
        loans_seen += len(loans)
        transactions += written.transactions
        entries += written.entries
        after = loans[-1].id
    return ChunksDone(loans=loans_seen, transactions=transactions, entries=entries)


async def ids_of(uow: UnitOfWork, query: Any, params: dict[str, Any]) -> list[int]:
    """The ids a statement returns (its ``id`` column, ascending), read as ONE array: the
    driver decodes 100,000 ids in one value, where as many result rows cost seconds of Python
    through the result machinery. The statement may be an ``UPDATE ... RETURNING``."""
    wrapped = text(f"WITH q AS ({query.text}) SELECT coalesce(array_agg(q.id ORDER BY q.id), '{{}}') FROM q")
    found: list[int] = (await uow.session.execute(wrapped, params)).scalar_one()
    return found


async def _post_by_ids(uow_factory: UnitOfWorkFactory, loans_query: Any, ids_query: Any, params: dict[str, Any],
                       work: ChunkWork, *, step: str, day: date, actor: str, chunk_loans: int) -> ChunksDone:
    async with uow_factory() as uow:
        pending = await ids_of(uow, ids_query, {**params, "day": day})

    async def post(chunk_ids: list[int]) -> tuple[int, Written]:
        async with uow_factory() as uow:
            loans = named_rows(await uow.session.execute(loans_query, {**params, "day": day, "ids": chunk_ids}))
            if not loans:
                return 0, Written(transactions=0, entries=0)
            chunk = await work(uow, loans)
            written = await write_postings(uow, chunk.postings, chunk.accounting, step=step, day=day, actor=actor,
                                           labels=chunk.labels, accruals=chunk.interest_accruals)
            await uow.commit()
        return len(loans), written

    done: list[tuple[int, Written]] = []
    running: set[asyncio.Task[tuple[int, Written]]] = set()
    try:
        for start in range(0, len(pending), chunk_loans):
            running.add(asyncio.create_task(post(pending[start:start + chunk_loans])))
            if len(running) >= CHUNKS_IN_FLIGHT:
                finished, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                done += [task.result() for task in finished]
        if running:
            finished, running = await asyncio.wait(running)
            done += [task.result() for task in finished]
    finally:
        for task in running:  # a chunk failed: let the others end (each commits whole or not at all)
            with contextlib.suppress(Exception):
                await task
    return ChunksDone(loans=sum(n for n, _w in done), transactions=sum(w.transactions for _n, w in done),
                      entries=sum(w.entries for _n, w in done))


async def write_postings(uow: UnitOfWork, postings: Sequence[Posting], accounting: dict[tuple[int, int],
                         ProductAccounting], *, step: str, day: date, actor: str,
                         labels: dict[tuple[int, int], str], accruals: InterestAccruals | None = None) -> Written:
    """Write a chunk's postings and their shared entries in the caller's unit of work (the
    caller commits). ``labels`` name each product version in the entries' descriptions;
    ``accruals``: plain interest accruals given as columns, written as postings would be (their
    loans have no posting in ``postings``)."""
    plain = accruals if accruals is not None and len(accruals) else None
    if not postings and plain is None:
        return Written(transactions=0, entries=0)
    shares = Shares()
    # Adjustments get their own entry: an entry's lines then never cancel out.
    groups: dict[tuple[GroupKey, bool], list[tuple[Posting, dict[tuple[str, Side], Decimal]]]] = {}
    for posting in postings:
        # The events carry exactly what the transaction records: its share is then its sub-ledger.
        assert not posting.events or sum((part.amount for ev in posting.events for part in ev.parts), _ZERO) == (
            posting.interest + posting.fee + posting.penalty), posting
        share = shares.of(accounting[(posting.group.product_id, posting.group.product_version)], posting)
        if share:  # under cash accounting a penalty posts nothing: a receivable of the sub-ledger only
            groups.setdefault((posting.group, posting.mirrored), []).append((posting, share))
    # The plain accruals, summed per group, class and term: each sum is booked like one event.
    accrued: dict[GroupKey, dict[tuple[LoanClassification, TermBucket], Decimal]] = {}
    pairs: dict[tuple[GroupKey, LoanClassification, TermBucket], tuple[str, str] | None] = {}
    if plain is not None:
        for group, classification, term, amount in zip(plain.groups, plain.classifications, plain.terms,
                                                       plain.amounts, strict=True):
            if (group, classification, term) not in pairs:
                pairs[(group, classification, term)] = shares.interest_accrual_pair(
                    accounting[(group.product_id, group.product_version)], group, classification, term)
            if pairs[(group, classification, term)] is None:
                continue
            sums = accrued.setdefault(group, {})
            sums[(classification, term)] = sums.get((classification, term), _ZERO) + amount
        for group in accrued:
            groups.setdefault((group, False), [])
    entries: list[JournalEntry] = []
    entry_of: dict[tuple[int, int], Any] = {}
    entry_of_group: dict[GroupKey, str] = {}
    share_loans: list[int] = []
    share_sequences: list[int] = []
    share_entries: list[str] = []
    share_codes: list[str] = []
    share_sides: list[str] = []
    share_amounts: list[Decimal] = []
    for (group, mirrored), members in groups.items():
        product = (group.product_id, group.product_version)
        rules = accounting[product]
        sums = {} if mirrored else accrued.get(group, {})
        entry_net = _entry_lines(rules, [posting for posting, _share in members], currency=group.currency,
                                 accrued=sums)
        entry_id = uuid7()
        text_id = str(entry_id)
        shared: dict[str, Decimal] = {}
        for posting, share in members:
            entry_of[(posting.loan_id, posting.sequence_number)] = entry_id
            for (code, side), amount in share.items():
                share_loans.append(posting.loan_id)
                share_sequences.append(posting.sequence_number)
                share_entries.append(text_id)
                share_codes.append(code)
                share_sides.append(_SIDE_CODE[side])
                share_amounts.append(amount)
            for code, amount in _net(share).items():
                shared[code] = shared.get(code, _ZERO) + amount
        for (classification, term), amount in sums.items():
            pair = pairs[(group, classification, term)]
            assert pair is not None
            shared[pair[0]] = shared.get(pair[0], _ZERO) + amount
            shared[pair[1]] = shared.get(pair[1], _ZERO) - amount
        if sums:
            entry_of_group[group] = text_id
        # Asserted twice: here (the shares add up to the entry) and by the reconciliation in the database.
        assert {c: a for c, a in shared.items() if a != 0} == entry_net, (group, shared, entry_net)
        lines = tuple(Line(account_code=code, side=Side.DEBIT if amount > 0 else Side.CREDIT, amount=abs(amount),
                           currency=group.currency)
                      for code, amount in sorted(entry_net.items(), key=lambda item: (item[1] < 0, item[0])))
        assert 2 <= len(lines) <= LINES_PER_ENTRY_MAX, lines
        entries.append(JournalEntry(
            entry_id=entry_id, office_id=group.office_id, value_date=day, actor=actor,
            description=narrated(f"{'Reprise : ' if mirrored else ''}{labels[product]} au {day:%d/%m/%Y}")[:500],
            lines=lines, reference=Reference(source_type=SOURCE_TYPE,
                                             source_id=f"{step}:{group.product_id}/{group.product_version}:{day}")))
    plain_entries: list[str] = []
    if plain is not None:
        for loan_id, sequence, group, classification, term, amount in zip(
                plain.loan_ids, plain.sequences, plain.groups, plain.classifications, plain.terms, plain.amounts,
                strict=True):
            pair = pairs[(group, classification, term)]
            if pair is None:
                plain_entries.append("NULL")
                continue
            text_id = entry_of_group[group]
            plain_entries.append(text_id)
            share_loans += (loan_id, loan_id)
            share_sequences += (sequence, sequence)
            share_entries += (text_id, text_id)
            share_codes += pair
            share_sides += ("D", "C")
            share_amounts += (amount, amount)
    keyed = [(p, p.penalty_key) for p in postings if p.penalty_key is not None]
    count = len(plain) if plain is not None else 0
    columns = {name: array_literal(values) for name, values in {
        "kinds": [p.kind for p in postings], "classes": [p.classification.value for p in postings],
        "charges": [p.charge_id for p in postings],
        "allocations": [msgspec.json.encode(list(p.allocation)).decode() if p.allocation else "[]" for p in postings],
        "entries": [entry_of.get((p.loan_id, p.sequence_number)) for p in postings],
        "key_loans": [p.loan_id for p, _k in keyed], "key_sequences": [p.sequence_number for p, _k in keyed],
        "instalments": [k.instalment for _p, k in keyed], "periods": [k.period for _p, k in keyed],
        "charged_on": [k.charged_on for _p, k in keyed], "bases": [k.base for _p, k in keyed]}.items()}
    # Columns of numbers, dates and plain words (no NULL, nothing to quote) are joined as they print.
    values: dict[str, list[Any]] = {
        "loans": [p.loan_id for p in postings], "sequences": [p.sequence_number for p in postings],
        "dates": [p.value_date for p in postings], "currencies": [p.group.currency for p in postings],
        "amounts": [p.amount for p in postings], "interest": [p.interest for p in postings],
        "fees": [p.fee for p in postings], "penalties": [p.penalty for p in postings],
        "vats": [p.vat for p in postings]}
    if plain is not None:
        values["loans"] += plain.loan_ids
        values["sequences"] += plain.sequences
        values["dates"] += [day] * count
        values["currencies"] += [group.currency for group in plain.groups]
        values["amounts"] += plain.amounts
        values["interest"] += plain.amounts
        for name in ("fees", "penalties", "vats"):
            values[name] += [_ZERO] * count
        for name, items in {"kinds": ["accrual"] * count, "charges": ["NULL"] * count,
                            "classes": [classification.value for classification in plain.classifications],
                            "allocations": ['"[]"'] * count, "entries": plain_entries}.items():
            columns[name] = _extended(columns[name], items)
    columns |= {name: _joined(column) for name, column in values.items()}
    columns |= {"share_loans": _joined(share_loans), "share_sequences": _joined(share_sequences),
                "share_entries": _joined(share_entries), "codes": array_literal(share_codes),
                "sides": _joined(share_sides), "share_amounts": _joined(share_amounts)}
    # One statement writes the transactions, their shares and penalty keys: the shares find their
    # transaction by loan and sequence in the database, so no id comes back to Python.
    written = (await uow.session.execute(_WRITE_CHUNK, columns | {"actor": actor})).one()
    assert written.transactions == len(postings) + count, (written.transactions, len(postings), count)
    assert written.shares == len(share_loans), "every account of a share is in the chart"
    assert written.penalty_keys == len(keyed), (written.penalty_keys, len(keyed))
    for start in range(0, len(entries), ENTRIES_PER_BATCH_MAX):
        await book_entries(uow, entries[start:start + ENTRIES_PER_BATCH_MAX])
    return Written(transactions=len(postings) + count, entries=len(entries))


def _joined(items: Iterable[Any]) -> str:
    """An array literal of items that print as themselves: numbers, dates, UUIDs, plain words,
    NULL (`array_literal` quotes strings; this is its fast form, at C speed)."""
    return "{" + ",".join(map(str, items)) + "}"


def _extended(literal: str, items: list[str]) -> str:
    """An array literal with more items, already written as literal items."""
    if not items:
        return literal
    inner = literal[1:-1]
    return "{" + inner + ("," if inner else "") + ",".join(items) + "}"


_WRITE_CHUNK = text("""
    WITH t AS (
        INSERT INTO loan_transaction (loan_id, sequence_number, kind, value_date, currency, amount, interest, fee,
                                      penalty, vat, classification, charge_id, allocation, journal_entry_id,
                                      created_by)
        SELECT l, s, k, d, c, a, i, f, p, v, cl, ch, CAST(al AS jsonb), e, :actor
          FROM unnest(CAST(CAST(:loans AS text) AS int[]), CAST(CAST(:sequences AS text) AS int[]),
                      CAST(CAST(:kinds AS text) AS varchar[]), CAST(CAST(:dates AS text) AS date[]),
                      CAST(CAST(:currencies AS text) AS char(3)[]), CAST(CAST(:amounts AS text) AS numeric[]),
                      CAST(CAST(:interest AS text) AS numeric[]), CAST(CAST(:fees AS text) AS numeric[]),
                      CAST(CAST(:penalties AS text) AS numeric[]), CAST(CAST(:vats AS text) AS numeric[]),
                      CAST(CAST(:classes AS text) AS varchar[]), CAST(CAST(:charges AS text) AS int[]),
                      CAST(CAST(:allocations AS text) AS text[]), CAST(CAST(:entries AS text) AS uuid[]))
            AS x(l, s, k, d, c, a, i, f, p, v, cl, ch, al, e)
        RETURNING id, loan_id, sequence_number
    ), shares AS (
        INSERT INTO loan_entry_share (loan_transaction_id, entry_id, account_id, side, amount)
        SELECT t.id, y.e, g.id, y.side, y.a
          FROM unnest(CAST(CAST(:share_loans AS text) AS int[]), CAST(CAST(:share_sequences AS text) AS int[]),
                      CAST(CAST(:share_entries AS text) AS uuid[]), CAST(CAST(:codes AS text) AS varchar[]),
                      CAST(CAST(:sides AS text) AS char(1)[]), CAST(CAST(:share_amounts AS text) AS numeric[]))
            AS y(l, s, e, code, side, a)
          JOIN t ON t.loan_id = y.l AND t.sequence_number = y.s
          JOIN gl_account g ON g.code = y.code
        RETURNING 1
    ), penalty_keys AS (
        INSERT INTO loan_penalty_charge (loan_id, instalment, period, charged_on, base, loan_transaction_id)
        SELECT z.l, z.i, z.p, z.d, z.b, t.id
          FROM unnest(CAST(CAST(:key_loans AS text) AS int[]), CAST(CAST(:key_sequences AS text) AS int[]),
                      CAST(CAST(:instalments AS text) AS int[]), CAST(CAST(:periods AS text) AS int[]),
                      CAST(CAST(:charged_on AS text) AS date[]), CAST(CAST(:bases AS text) AS numeric[]))
            AS z(l, s, i, p, d, b)
          JOIN t ON t.loan_id = z.l AND t.sequence_number = z.s
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM t) AS transactions, (SELECT count(*) FROM shares) AS shares,
           (SELECT count(*) FROM penalty_keys) AS penalty_keys
""")
"""A chunk's loan transactions, their shares of the entries and their penalty keys, in one
statement; the columns come as array literals (`array_literal`)."""
