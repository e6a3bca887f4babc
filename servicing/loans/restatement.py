"""Backdated loan events: restate the loan from the event's date, posting only the difference.

A repayment, a repayment's reversal, a charge or a waiver dated before the loan's last
transaction or on a day the close of business already closed changes what should have happened
since: the split of later repayments, the late-payment penalties, the arrears, the class, the
accruals and the provisions. Nothing already posted is edited; this module, in the unit of work
of the event itself (the loan is locked by the caller), makes the books equal to a loan that
lived the corrected history day by day:

1. **rewind**: every repayment and waiver value-dated on or after the event's day is reversed
   (its mirror on its own value date, as a reversal does; a loan they had closed opens again),
   and every late-payment penalty the close charged
   on or after that day is taken back by a ``penalty_reversal`` transaction (its entry's lines with
   the sides swapped, dated on the last closed day, narrated « Retraitement (restatement) »);
2. **walk** the days from the event's through the office's last closed business day (and the
   last event's): each day, the day's events in their order (the backdated one after those of its
   day already received; the reversed repayments re-applied by the one repayment planner,
   `movements._take_repayment`, with the loan's class and arrears status of that day, so the
   allocations are those of a replay; the reversed waivers by `movements._take_waiver` on what
   that day owed), then, on a closed day, the automatic product charges of its night, the ageing
   (`products.loans.arrears.age_arrears`), the penalties falling that day
   (`products.loans.penalties.penalties_due`, written as the nightly step writes them, keyed by
   a restatement generation), and the class the grid gives;
3. **close the last closed day again for this loan** (`close_of_business.per_loan`): arrears
   state, accrual (target minus posted: it posts the difference, an ``accrual_adjustment`` when
   the target went down), reclassification and provision, each posting only what differs from
   what is booked, dated on that day and narrated as a restatement. A loan the walk closed
   instead releases its provision (the walk's) and keeps the ageing of its last open day.

Limits, said plainly: the interest a non-performing loan withholds is capped by the accrual
step against what was recognised, so a restatement that turns a loan non-performing in the past
does not take back interest the nights recognised meanwhile; automatic collections and write-offs
are not re-run (docs/close-of-business.md §8 says why; the automatic product charges are, by
`_Walk.product_charges`); a loan
rescheduled on or after the event's day is refused (the plan was drawn on the history being
changed).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Final

import msgspec
from sqlalchemy import text

from ledger.model import Reference, Side
from products.accounting import build_entry, posting_lines
from products.events import EventPart, LoanClassification, ProductEvent, TermBucket
from products.loans.arrears import ArrearsPolicy, ArrearsStatus, age_arrears
from products.loans.classification import Reclassification, grade, grid_kind
from products.loans.model import Schedule
from products.loans.penalties import penalties_due
from products.loans.position import remaining_dues
from products.loans.product import LoanProduct
from products.loans.provisioning import (
    ProvisionMovement,
    provision_base,
    provision_movements,
    required_provision,
)
from products.loans.restatement import Correction, PostingKey, corrections, posting_totals
from products.loans.terms import LoanTerms
from products.posting_rules import AccountingRule, Component, EventKind, ProductKind
from products.rounding import compile_rounding
from servicing.close_of_business.narration import narrated, restating
from servicing.close_of_business.per_loan import Borrowed, LoansClosed, close_loans_in
from servicing.errors import Conflict
from servicing.ids import uuid7
from servicing.journal import book_entries
from servicing.loans.db.tables import LoanRow, LoanTransactionRow
from servicing.loans.schedules import not_reversed
from servicing.unit_of_work import UnitOfWork, UnitOfWorkFactory

_REAPPLIED: Final = {"repayment": ("repayment_reversal", "du remboursement du {:%d/%m/%Y}, repris à sa date"),
                     "waiver": ("waiver_reversal", "de la remise du {:%d/%m/%Y}, reprise à sa date")}
"""The events a restatement takes back and applies again on their own days after the backdated
one (their reversal kind, their label): what they settle depends on what was owed that day."""

KIND: Final = "penalty_reversal"
"""The loan transaction that takes back a penalty the corrected history does not owe."""

Apply = Callable[[UnitOfWork, LoanRow, Sequence[Any], int, tuple[str, str | None]], Awaitable[Any]]
"""An event applied on its day: (unit of work, locked loan, the history as it stood that day,
the sequence number to write, the loan's (booked class, arrears status) that day) -> its row."""


class Pending(msgspec.Struct, frozen=True, kw_only=True):
    """An event the walk applies on its value date, after those of the day received before it."""

    value_date: date
    apply: Apply
    order: int = 1 << 62


class Restatement(msgspec.Struct, frozen=True, kw_only=True):
    """What a restatement did."""

    loan_id: int
    since: date
    through: date | None
    """The last closed business day restated (None: no closed day on or after ``since``)."""
    repayments_reapplied: int
    penalties_taken_back: int
    penalties_charged: int
    closed: LoansClosed | None
    written: tuple[Any, ...] = ()
    """The loan transactions written, in order (reversals, re-applications, the event's)."""


_LAST_CLOSED = text("SELECT max(business_date) FROM business_day WHERE office_id = :office")

_PENALTIES = text("""
    SELECT pc.instalment, pc.period, pc.charged_on, t.id AS transaction_id
      FROM loan_penalty_charge pc JOIN loan_transaction t ON t.id = pc.loan_transaction_id
     WHERE pc.loan_id = :loan
       AND NOT EXISTS (SELECT 1 FROM loan_transaction r WHERE r.reverses_transaction_id = t.id)
""")
"""The loan's standing close-of-business penalties (those no reversal or restatement took back)."""

_NEXT_GENERATION = text("SELECT coalesce(max(generation), 0) + 1 FROM loan_penalty_charge WHERE loan_id = :loan")

_KEYS = text("""
    INSERT INTO loan_penalty_charge (loan_id, instalment, period, charged_on, base, loan_transaction_id, generation)
    SELECT :loan, x.i, x.p, x.d, x.b, t.id, :generation
      FROM unnest(CAST(:sequences AS int[]), CAST(:instalments AS int[]), CAST(:periods AS int[]),
                  CAST(:dates AS date[]), CAST(:bases AS numeric[])) AS x(s, i, p, d, b)
      JOIN loan_transaction t ON t.loan_id = :loan AND t.sequence_number = x.s
""")


async def last_closed_day(uow: UnitOfWork, office_id: int) -> date | None:
    """The office's last closed business day (None: it never closed one)."""
    last: date | None = await uow.session.scalar(_LAST_CLOSED, {"office": office_id})
    return last


def needs_restatement(value_date: date, *, last_transaction: date | None, last_closed: date | None) -> bool:
    """An event needs a restatement when a transaction or a closed day already follows its date."""
    return ((last_transaction is not None and value_date < last_transaction)
            or (last_closed is not None and value_date <= last_closed))


def closed_since(history: Sequence[Any], value_date: date) -> bool:
    """A closed loan was still open on ``value_date``: the repayment that closed it (its last
    standing repayment or waiver) is a repayment dated after that day. An event of that day is
    then taken with a restatement, which reverses that repayment and takes it again after the
    event (what it pays beyond what is then owed becomes an overpayment, as in a replay)."""
    settling = not_reversed(history, "repayment", "waiver")
    return bool(settling) and settling[-1].kind == "repayment" and settling[-1].value_date > value_date


def _occurrence_key(key: str) -> str:
    """The occurrence an automatic charge's key names (a restatement's charge adds ``:r<n>``)."""
    return key.split(":r", 1)[0]


def _standing_product_charges(history: Sequence[Any]) -> dict[str, Any]:
    """The loan's standing automatic charges by occurrence key (those no reversal took back)."""
    return {_occurrence_key(t.idempotency_key): t for t in not_reversed(history, "charge")
            if t.idempotency_key is not None and t.idempotency_key.startswith("product-charge:")}


def as_of(history: Sequence[Any], day: date) -> list[Any]:
    """The history as it stood at the close of ``day``: the rows value-dated by then, and every
    reversal (a row it takes back, dated later, stays taken back: the walk replaces it)."""
    return [row for row in history if row.value_date <= day or row.reverses_transaction_id is not None]


def _standing_before(history: Sequence[Any], day: date) -> str:
    """The class the loan was booked in at the start of ``day`` (its last reclassification before)."""
    reclassified = [row for row in history if row.kind == "reclassification" and row.value_date < day]
    return reclassified[-1].classification if reclassified else LoanClassification.HEALTHY.value


async def _history(uow: UnitOfWork, loan_id: int) -> list[LoanTransactionRow]:
    from servicing.loans.movements import _history as read

    return await read(uow, loan_id)


async def restate(uow: UnitOfWork, row: LoanRow, product: LoanProduct, *, since: date, actor: str,
                  pending: Sequence[Pending] = ()) -> Restatement:
    """Restate the locked loan ``row`` from ``since`` (see the module), applying ``pending`` on
    their days. The caller commits."""
    from servicing.loans.movements import _reverse_transaction

    loan_id = row.id
    history = await _history(uow, loan_id)
    if any(t.kind == "rescheduling" and t.value_date >= since for t in history):
        raise Conflict(f"loan {loan_id} was rescheduled on or after {since}, on the history this event changes: "
                       "it cannot be dated before the rescheduling", field="value_date")
    later = [t for t in not_reversed(history, *_REAPPLIED) if t.value_date >= since]
    closed = await last_closed_day(uow, row.office_id)
    through = closed if closed is not None and closed >= since else None
    sequence = max((t.sequence_number for t in history), default=0)
    written: list[Any] = []
    with restating(loan_id):
        for original in later:
            sequence += 1
            kind, label = _REAPPLIED[original.kind]
            written.append(await _reverse_transaction(
                uow, original, kind=kind, sequence=sequence, actor=actor,
                description=narrated("annulation " + label.format(original.value_date))))
        if later and row.status == "closed":
            # Closed by a repayment taken back above: open again as of the event's day.
            from servicing.loans.movements import _reopen

            await uow.session.flush()
            await _reopen(uow, row, product, since, actor)
        taken_back = 0
        if through is not None:
            standing_penalties = (await uow.session.execute(_PENALTIES, {"loan": loan_id})).all()
            by_id = {t.id: t for t in history}
            for found in sorted(standing_penalties, key=lambda p: p.transaction_id):
                if found.charged_on < since:
                    continue
                sequence += 1
                written.append(await _take_back(uow, row, product, by_id[found.transaction_id], sequence=sequence,
                                                on=through, actor=actor))
                taken_back += 1
        await uow.session.flush()
        events = sorted([*(Pending(value_date=t.value_date, order=t.sequence_number,
                                   apply=(_reapplied if t.kind == "repayment" else _reapplied_waiver)(t, product, actor))
                           for t in later), *pending], key=lambda e: (e.value_date, e.order))
        walk = _Walk(uow, row, product, sequence=sequence, actor=actor)
        await walk.start(since)
        last = max([d for d in (through, since) if d is not None] + [e.value_date for e in events])
        day = since
        loans_closed = None
        while day <= last:
            await walk.events(day, events)
            if through is not None and day < through:
                await walk.close(day)
            elif day == through:
                # The last closed day as the night runs it: charges, ageing, penalties, accrual, class, provision.
                await walk.product_charges(through)
                await walk.take_back_product_charges()
                aged = await close_loans_in(uow, through, [loan_id], actor, previous_status={loan_id: walk.status},
                                            steps=("loan_arrears",))
                await walk.penalties(through)
                rest = await close_loans_in(uow, through, [loan_id], actor,
                                            steps=("loan_accrual", "loan_classification"))
                loans_closed = LoansClosed(steps={**aged.steps, **rest.steps})
                await uow.session.flush()
                await uow.session.refresh(row)  # the class the step booked (written set-based)
                await _true_up_classes(uow, row, product, day=through, actor=actor)
                await walk.close(through, penalties=False)
                await _restate_provisions(uow, row, product, walk, since=since, day=through, actor=actor)
            day += timedelta(days=1)
        if through is not None:
            await walk.keep_last_ageing()
        written += walk.written
    return Restatement(loan_id=loan_id, since=since, through=through, repayments_reapplied=len(later),
                       penalties_taken_back=taken_back, penalties_charged=walk.penalties_charged,
                       closed=loans_closed, written=tuple(written))


async def _take_back(uow: UnitOfWork, row: LoanRow, product: LoanProduct, charge: LoanTransactionRow, *,
                     sequence: int, on: date, actor: str) -> LoanTransactionRow:
    """The ``penalty_reversal`` transaction taking back a penalty: the penalty's event under the class
    it was charged in, posted by the product's rules with the sides swapped (nothing when the
    penalty posted nothing: cash accounting), pointing at the charge."""
    entry_id = None
    if charge.journal_entry_id is not None and charge.penalty > 0:
        event = ProductEvent(kind=EventKind.PENALTY_CHARGE, currency=charge.currency.strip(),
                             classification=LoanClassification(charge.classification),
                             term=TermBucket(row.term_bucket or TermBucket.SHORT.value),
                             parts=(EventPart(component=Component.PENALTY, amount=charge.penalty,
                                              charge_id=charge.charge_id),))
        entry = build_entry(ProductKind.LOAN, product.accounting, event, entry_id=uuid7(), office_id=row.office_id,
                            value_date=on, actor=actor,
                            description=narrated(f"annulation de la pénalité du {charge.value_date:%d/%m/%Y}"),
                            reference=Reference(source_type="loan-transaction",
                                              source_id=f"{row.id}/{charge.sequence_number}"))
        if entry is not None:
            mirror = Correction(event=event, mirror=True).lines(ProductKind.LOAN, product.accounting)
            entry = msgspec.structs.replace(entry, lines=mirror)
            entry_id = (await book_entries(uow, [entry]))[0].entry.entry_id
    taken_back = LoanTransactionRow(
        loan_id=row.id, sequence_number=sequence, kind=KIND, reverses_transaction_id=charge.id, value_date=on,
        currency=charge.currency, amount=charge.amount, principal=Decimal(0), interest=Decimal(0), fee=Decimal(0),
        penalty=charge.penalty, vat=charge.vat, overpayment=Decimal(0),
        classification=charge.classification, charge_id=charge.charge_id, allocation=[], journal_entry_id=entry_id,
        created_by=actor)
    uow.session.add(taken_back)
    return taken_back


_PROVISIONS_SINCE = text("""
    SELECT classification, kind, mirrored, sum(amount) AS amount FROM loan_provision_movement
     WHERE loan_id = :loan AND business_date >= :since GROUP BY classification, kind, mirrored
""")

_BOOKED_BEFORE = text("""
    SELECT classification, sum(CASE kind WHEN 'allowance' THEN amount ELSE -amount END) AS booked
      FROM loan_provision_movement WHERE loan_id = :loan AND business_date < :since GROUP BY classification
""")

_RECORD_PROVISION = text("""
    INSERT INTO loan_provision_movement (loan_id, business_date, office_id, product_id, product_version, currency,
                                         classification, term, kind, amount, required, rate_percent, bucket_label,
                                         journal_entry_id, mirrored, created_by)
    VALUES (:loan, :day, :office, :product, :version, :currency, :classification, :term, :kind, :amount, :required,
            :rate, :bucket, :entry, :mirrored, :actor)
""")

_EVENT_OF: Final = {"allowance": EventKind.PROVISION, "release": EventKind.PROVISION_REVERSAL}


async def _restate_provisions(uow: UnitOfWork, row: LoanRow, product: LoanProduct, walk: _Walk, *, since: date,
                              day: date, actor: str) -> int:
    """The provision movements since the event's day made equal, per event kind (allowance,
    release) and class, to those of the walk (`products.loans.restatement.corrections`): what
    the replay books more is posted, what it books less is taken back by a mirror (an allowance
    it never made is not a reversal income). Answers the entries posted."""
    currency = row.currency.strip()
    term = TermBucket(row.term_bucket or TermBucket.SHORT.value)
    posted: dict[PostingKey, Decimal] = {}
    for found in (await uow.session.execute(_PROVISIONS_SINCE, {"loan": row.id, "since": since})).all():
        kind = _EVENT_OF[found.kind]
        if found.mirrored:  # an allowance row taking back a release, or the reverse
            kind = EventKind.PROVISION if kind is EventKind.PROVISION_REVERSAL else EventKind.PROVISION_REVERSAL
        movement = ProvisionMovement(kind=kind, classification=LoanClassification(found.classification),
                                     amount=Decimal(found.amount))
        for key, amount in posting_totals([movement.event(currency, term=term)]).items():
            posted[key] = posted.get(key, Decimal(0)) + (-amount if found.mirrored else amount)
    replayed = posting_totals(m.event(currency, term=term) for m in walk.provisions)
    entries = []
    for correction in corrections(posted, replayed):
        event = correction.event
        increases = (event.kind is EventKind.PROVISION) is not correction.mirror
        label = ("Annulation de la " if correction.mirror else "") + (
            "dotation aux provisions" if event.kind is EventKind.PROVISION else "reprise de provisions")
        entry = build_entry(ProductKind.LOAN, product.accounting, event, entry_id=uuid7(), office_id=row.office_id,
                            value_date=day, actor=actor,
                            description=narrated(f"{label} {event.classification.value} {term.value} du {day}"),
                            reference=Reference(source_type="loan-provisioning", source_id=f"{day}/{row.id}"))
        if entry is not None and correction.mirror:
            entry = msgspec.structs.replace(entry, lines=correction.lines(ProductKind.LOAN, product.accounting))
        if entry is not None:
            entries.append(entry)
        await uow.session.execute(_RECORD_PROVISION, {
            "loan": row.id, "day": day, "office": row.office_id, "product": row.product_id,
            "version": row.product_version, "currency": currency, "classification": event.classification.value,
            "term": term.value, "kind": "allowance" if increases else "release", "amount": event.parts[0].amount,
            "required": walk.required, "rate": walk.rate, "bucket": walk.bucket,
            "entry": entry.entry_id if entry is not None else None, "mirrored": correction.mirror, "actor": actor})
    await book_entries(uow, entries)
    return len(entries)


_LOAN_LINES = text("""
    SELECT a.code, sum(x.net) AS net FROM (
        SELECT s.account_id, CASE s.side WHEN 'D' THEN s.amount ELSE -s.amount END AS net
          FROM loan_entry_share s JOIN loan_transaction t ON t.id = s.loan_transaction_id WHERE t.loan_id = :loan
        UNION ALL
        SELECT l.account_id, CASE l.side WHEN 'D' THEN l.amount ELSE -l.amount END
          FROM loan_transaction t JOIN journal_line l ON l.entry_id = t.journal_entry_id
         WHERE t.loan_id = :loan AND NOT EXISTS (SELECT 1 FROM loan_entry_share s WHERE s.loan_transaction_id = t.id)
    ) x JOIN gl_account a ON a.id = x.account_id WHERE a.code = ANY(:codes) GROUP BY a.code
""")
"""The loan's own net (debit less credit) on some accounts: its entries' lines, its shares of
the close's shared entries."""


async def _true_up_classes(uow: UnitOfWork, row: LoanRow, product: LoanProduct, *, day: date, actor: str) -> int:
    """Move to the class the loan is booked in what its own lines leave on the accounts of the
    other class. A reclassification moves the outstanding of its day; once the repayments
    before it are re-applied, what it moved is no longer what was outstanding, and the rest
    would stay behind (a healthy loan with a balance on the doubtful accounts). The accounts are
    those the product's rules give a reclassification (a unit event shows which), the entry a
    ``reclassification`` transaction, as the close's step writes it. Answers the entries posted."""
    from servicing.close_of_business.loan_classification import _LABELS
    from servicing.loans.bulk import NewLoanTransaction, insert_transactions
    from servicing.loans.movements import _next_sequence

    booked = LoanClassification(row.booked_classification)
    term = TermBucket(row.term_bucket or TermBucket.SHORT.value)
    currency = row.currency.strip()
    entries = []
    transactions = []
    sequence = (await _next_sequence(uow, row.id))[0] - 1
    for other in (LoanClassification.HEALTHY, LoanClassification.DOUBTFUL):
        if other is booked:
            continue
        # Principal 1 and interest 2 tell the accounts apart on the credit side (the other class).
        unit = Reclassification(previous=other, classification=booked, term=term, principal=Decimal(1),
                                interest_receivable=Decimal(2)).event(currency)
        assert unit is not None
        accounts = {line.amount: line.account_code for line in posting_lines(ProductKind.LOAN, product.accounting, unit)
                    if line.side is Side.CREDIT}
        if len(set(accounts.values())) != len(accounts):
            continue  # one account for both: nothing to tell apart, nothing a class moves
        nets = {r.code: Decimal(r.net) for r in (await uow.session.execute(
            _LOAN_LINES, {"loan": row.id, "codes": list(accounts.values())})).all()}
        principal = nets.get(accounts.get(Decimal(1), ""), Decimal(0))
        interest = nets.get(accounts.get(Decimal(2), ""), Decimal(0))
        for sign in (1, -1):
            moved_principal, moved_interest = max(sign * principal, Decimal(0)), max(sign * interest, Decimal(0))
            source, target = (other, booked) if sign == 1 else (booked, other)
            event = Reclassification(previous=source, classification=target, term=term, principal=moved_principal,
                                     interest_receivable=moved_interest).event(currency)
            if event is None:
                continue
            sequence += 1
            entry = build_entry(ProductKind.LOAN, product.accounting, event, entry_id=uuid7(), office_id=row.office_id,
                                value_date=day, actor=actor,
                                description=narrated(f"Reclassement {_LABELS[source]} -> {_LABELS[target]} du reste "
                                                     f"prêt n° {row.id}"),
                                reference=Reference(source_type="loan-transaction", source_id=f"{row.id}/{sequence}"))
            if entry is not None:
                entries.append(entry)
            transactions.append(NewLoanTransaction(
                loan_id=row.id, sequence_number=sequence, kind="reclassification", value_date=day, currency=currency,
                amount=moved_principal + moved_interest, principal=moved_principal, interest=moved_interest,
                classification=booked.value, journal_entry_id=entry.entry_id if entry is not None else None))
    await insert_transactions(uow, transactions, actor)
    await book_entries(uow, entries)
    return len(entries)


def _reapplied(original: LoanTransactionRow, product: LoanProduct, actor: str) -> Apply:
    """A reversed repayment taken again on its own value date, from the same funds."""
    from servicing.loans import deposit_link
    from servicing.loans.model import FundsChannel
    from servicing.loans.movements import _fund_source, _plain, _take_repayment

    async def apply(uow: UnitOfWork, row: LoanRow, history: Sequence[Any], sequence: int,
                    standing: tuple[str, str | None]) -> Any:
        account_id = await deposit_link.funds_of(uow, original.journal_entry_id)
        channel = (FundsChannel(deposit_account_id=account_id) if account_id is not None
                   else FundsChannel(payment_type_id=original.payment_type_id))
        accounting, payment_type_id, leg = await _fund_source(
            uow, product.accounting, channel, deposits=None, loan=row, amount=_plain(original.amount), credit=False,
            value_date=original.value_date, actor=actor)
        return await _take_repayment(
            uow, row, product, amount=_plain(original.amount), value_date=original.value_date, accounting=accounting,
            payment_type_id=payment_type_id, receipt_number=original.receipt_number, actor=actor,
            idempotency_key=None, fingerprint=None, leg=leg, history=history, sequence=sequence, standing=standing)

    return apply


def _reapplied_waiver(original: LoanTransactionRow, product: LoanProduct, actor: str) -> Apply:
    """A reversed waiver forgiven again on its own value date, oldest instalment first, on what
    was owed that day (the instalment a waiver was asked on is not kept: a waiver on one
    instalment is re-applied oldest first). Refused (the backdated event with it) when that day
    no longer owes what it forgave."""
    from servicing.errors import InvalidInput
    from servicing.loans.model import Waive
    from servicing.loans.movements import _plain, _take_waiver

    component = next(c for c in ("interest", "fee", "penalty") if getattr(original, c) > 0)

    async def apply(uow: UnitOfWork, row: LoanRow, history: Sequence[Any], sequence: int,
                    standing: tuple[str, str | None]) -> Any:
        command = Waive(value_date=original.value_date, component=component, amount=_plain(original.amount))
        try:
            return await _take_waiver(uow, row, product, command, history=history, sequence=sequence, actor=actor,
                                      idempotency_key=None, fingerprint=None, restated=True)
        except InvalidInput as refused:
            raise Conflict(f"the waiver of {original.value_date} taken again after this event would forgive more "
                           f"than is then owed ({refused})", field="value_date") from refused

    return apply


class _AsBooked(msgspec.Struct, frozen=True, kw_only=True):
    """The loan as the penalty step reads it, booked in the class it had that day."""

    id: int
    office_id: int
    product_id: int
    product_version: int
    booked_classification: str
    term_bucket: str | None


class _Walk:
    """The loan lived again day by day from the event's day (see the module): the day's events,
    then on a closed day its ageing, penalties and class, as the nightly steps do them."""

    def __init__(self, uow: UnitOfWork, row: LoanRow, product: LoanProduct, *, sequence: int, actor: str) -> None:
        self.uow, self.row, self.product, self.sequence, self.actor = uow, row, product, sequence, actor
        self.written: list[Any] = []
        self.penalties_charged = 0
        self.generation: int | None = None
        self.terms = msgspec.convert(row.terms, LoanTerms)
        self.policy = ArrearsPolicy.of(product)
        self.currency = row.currency.strip()
        self.key = (row.product_id, row.product_version)

    async def start(self, since: date) -> None:
        """The loan's standing at the start of ``since``: its booked class then (its last
        reclassification before), its arrears status (aged at the close before, held
        non-performing if it was booked doubtful), the penalties standing."""
        from servicing.close_of_business.loan_arrears import loan_grid
        from servicing.close_of_business.loan_classification import automatic_declassification
        from servicing.close_of_business.loan_penalties import _Policies, penalty_of

        row, product, uow = self.row, self.product, self.uow
        borrowed: Any = Borrowed(uow)
        self.grid = await loan_grid(borrowed, grid_kind(overdraft=product.overdraft,
                                                        rescheduled=row.rescheduled_on is not None))
        self.automatic = await automatic_declassification(borrowed)
        penalty = penalty_of(product, row.principal_approved or row.principal_requested)
        self.penalty = penalty
        self.penalty_policies = _Policies()  # read once for the walk: each penalty is taxed at its own date's rate
        self.rounder = compile_rounding(product.rounding, self.currency)
        self.history = await _history(uow, row.id)
        self.classification = _standing_before(self.history, since)
        self.status = ArrearsStatus.PERFORMING.value
        before = since - timedelta(days=1)
        aged_before: date | None = None
        if row.disbursed_on is not None and before >= row.disbursed_on:
            doubtful = self.classification == LoanClassification.DOUBTFUL.value
            self.status = self._aged(before, ArrearsStatus.NON_PERFORMING if doubtful
                                     else ArrearsStatus.PERFORMING).status.value
            aged_before = before
        self.charged = {(p.instalment, p.period)
                        for p in (await uow.session.execute(_PENALTIES, {"loan": row.id})).all()}
        from servicing.loans.provisions import guarantee_deposits

        self.booked = {LoanClassification(r.classification): Decimal(r.booked) for r in (await uow.session.execute(
            _BOOKED_BEFORE, {"loan": row.id, "since": since})).all() if r.booked}
        self.guarantees = (await guarantee_deposits(uow, [row.id])).get(row.id, Decimal(0))
        self.provisions: list[ProvisionMovement] = []
        self.last_aged: tuple[date, Any, Any, Any] | None = None
        self.open_before: date | None = aged_before
        """The closed day before ``since`` the loan was open (None: disbursed on ``since``)."""
        from servicing.loans.product_charges import automatic_charges

        found = await automatic_charges(uow, product.charge_ids) if product.charge_ids else {}
        self.automatic_charges = tuple(found[c] for c in product.charge_ids if c in found)
        self.since = since
        self.charged_keys: set[str] = set()
        self.required, self.rate, self.bucket = Decimal(0), Decimal(0), None

    def _aged(self, day: date, previous: ArrearsStatus) -> Any:
        from servicing.loans.movements import position_from_history

        _schedule, position = position_from_history(self.terms, msgspec.convert(self.row.schedule, Schedule),
                                                    self.product, as_of(self.history, day), day)
        self.principal = position.component(Component.PRINCIPAL).outstanding
        self.position = position
        return age_arrears(position.instalments, day, self.policy, previous_status=previous)

    def _aged_through(self, day: date) -> tuple[date, Any, Any, Any]:
        """The ageing of ``day`` as the nights wrote it, each day's status carried to the next
        from the disbursement (the non-performing status holds until the arrears are paid): the
        last ageing a loan the walk closes on its first day keeps."""
        assert self.row.disbursed_on is not None
        status = ArrearsStatus.PERFORMING
        current = self.row.disbursed_on
        while True:
            arrears = self._aged(current, status)
            status = arrears.status
            if current >= day:
                break
            current += timedelta(days=1)
        loan_grade = grade(arrears.days_overdue, self.grid, non_performing=status is ArrearsStatus.NON_PERFORMING)
        return day, arrears, loan_grade, self.position

    async def events(self, day: date, events: Sequence[Pending]) -> None:
        for pending in (e for e in events if e.value_date == day):
            self.sequence += 1
            # The day's events come before its night: not the automatic charges that night made.
            seen = [t for t in as_of(self.history, day) if not (
                t.value_date == day and t.kind == "charge" and (t.idempotency_key or "").startswith("product-charge:"))]
            self.written.append(await pending.apply(self.uow, self.row, seen, self.sequence,
                                                    (self.classification, self.status)))
            self.history = await _history(self.uow, self.row.id)
            # The event may have written more than its own row (a settlement's accrual true-up).
            self.sequence = max(self.sequence, *(t.sequence_number for t in self.history))

    def active(self) -> bool:
        return self.row.status == "active" and self.row.schedule is not None

    async def close(self, day: date, *, penalties: bool = True) -> None:
        """The day's close for the loan: ageing, then penalties (unless the caller charges them
        after the nightly ageing step, `penalties`), then the class the grid gives."""
        if not self.active():
            if self.row.status == "closed":
                self._release()
            return
        await self.product_charges(day)
        arrears = self._aged(day, ArrearsStatus(self.status))
        if penalties:
            await self.penalties(day)
        self.status = arrears.status.value
        loan_grade = grade(arrears.days_overdue, self.grid, non_performing=arrears.status is ArrearsStatus.NON_PERFORMING)
        if self.automatic:
            self.classification = loan_grade.classification.value
        self.last_aged = (day, arrears, loan_grade, self.position)
        self._provision(loan_grade)

    def _release(self) -> None:
        """A loan the walk closed requires no provision: what it holds is released, as the
        repayment closing it (or the night after) does."""
        for movement in provision_movements(self.booked, Decimal(0), LoanClassification(self.classification)):
            self.provisions.append(movement)
            self.booked[movement.classification] = self.booked.get(movement.classification, Decimal(0)) - (
                movement.amount if movement.kind is EventKind.PROVISION_REVERSAL else -movement.amount)

    async def product_charges(self, day: date) -> None:
        """The automatic product charges the night of ``day`` adds (`servicing.loans.product_charges`),
        on the loan as it then stood: a charge the history being replaced made for the same
        occurrence stands when its amount is the same; otherwise it is taken back (a
        ``charge_reversal``) and the occurrence charged again under a key of this restatement."""
        from products.loans.product_charges import occurrences_due
        from servicing.loans.model import AddCharge
        from servicing.loans.movements import _write_charge, position_from_history

        if not self.automatic_charges or not self.active() or self.row.disbursed_on is None:
            return
        today = as_of(self.history, day)
        schedule, position = position_from_history(self.terms, msgspec.convert(self.row.schedule, Schedule),
                                                   self.product, today, day)
        standing = _standing_product_charges(self.history)
        for occurrence in occurrences_due(
                self.automatic_charges, disbursed_on=self.row.disbursed_on,
                last_due_date=schedule.instalments[-1].due_date, on=day,
                instalment_due_dates=[i.due_date for i in schedule.instalments],
                outstanding_principal=position.component(Component.PRINCIPAL).outstanding,
                rounding=self.product.rounding, currency=self.currency):
            if occurrence.key in self.charged_keys:
                continue
            self.charged_keys.add(occurrence.key)
            charged = standing.get(occurrence.key)
            if charged is not None and (charged.value_date < self.since or (
                    charged.fee + charged.penalty == occurrence.amount and charged.vat == occurrence.vat_amount)):
                continue  # charged before the restated days, or the same amount: it stands
            if charged is not None:
                await self.take_back_charge(charged)
            self.sequence += 1
            generation = sum(1 for t in self.history if t.kind == "charge" and t.idempotency_key is not None
                             and _occurrence_key(t.idempotency_key) == occurrence.key)
            self.written.append(await _write_charge(
                self.uow, self.row, self.product, AddCharge(value_date=day, amount=occurrence.amount,
                                                            charge_id=occurrence.charge_id, due_date=occurrence.due_on),
                sequence=self.sequence, actor=self.actor, fingerprint=None,
                idempotency_key=occurrence.key if generation == 0 else f"{occurrence.key}:r{generation}"))
            self.history = await _history(self.uow, self.row.id)

    async def take_back_charge(self, charged: LoanTransactionRow) -> None:
        from servicing.loans.movements import _reverse_transaction

        self.sequence += 1
        self.written.append(await _reverse_transaction(
            self.uow, charged, kind="charge_reversal", sequence=self.sequence, actor=self.actor,
            description=narrated(f"annulation des frais automatiques du {charged.value_date:%d/%m/%Y}")))
        await self.uow.session.flush()
        self.history = await _history(self.uow, self.row.id)

    async def take_back_product_charges(self) -> None:
        """The automatic charges of the restated days the walk did not charge again (the loan
        closed before their date, or their occurrence no longer owed) are taken back."""
        if not self.automatic_charges:
            return
        for key, charged in _standing_product_charges(self.history).items():
            if charged.value_date >= self.since and key not in self.charged_keys:
                await self.take_back_charge(charged)

    async def keep_last_ageing(self) -> None:
        """A loan the walk closed keeps the ageing of the last closed day it was open, as the
        night of that day wrote it (the nightly steps age active loans only; an earlier ageing
        written by the history being replaced would stay otherwise)."""
        from servicing.close_of_business.loan_arrears import _STATE, _STATE_COLUMNS, _add_state

        if self.active():
            return
        if self.last_aged is None:  # closed on ``since``: the ageing of the day before
            if self.open_before is None:
                return
            self.last_aged = self._aged_through(self.open_before)
        day, arrears, loan_grade, position = self.last_aged
        columns: dict[str, list[Any]] = {name: [] for name in _STATE_COLUMNS}
        upcoming = position.next_instalment
        _add_state(columns, self.row.id, day, arrears, loan_grade,
                   overdue_principal=position.component(Component.PRINCIPAL).overdue,
                   outstanding=position.component(Component.PRINCIPAL).outstanding,
                   next_due=upcoming.due_date if upcoming is not None else None,
                   seen=max((t.sequence_number for t in as_of(self.history, day)), default=0))
        await self.uow.session.execute(text(_STATE.text.rsplit("WHERE", 1)[0]), columns)

    def _provision(self, loan_grade: Any) -> None:
        """The day's provision as the nightly step books it: the base (outstanding principal less
        the guarantee deposits held now) at the bucket's rate, against what the walk has booked
        per class. The interest receivable a product provisions too is left to the next night."""
        if self.product.accounting.rule is AccountingRule.NONE:
            return
        base = provision_base(principal_outstanding=self.principal, guarantee_deposits=self.guarantees)
        self.rate, self.bucket = loan_grade.provision_rate_percent, loan_grade.bucket_label
        self.required = required_provision(base, self.rate, self.rounder)
        for movement in provision_movements(self.booked, self.required, LoanClassification(self.classification)):
            self.provisions.append(movement)
            sign = 1 if movement.kind is EventKind.PROVISION else -1
            self.booked[movement.classification] = self.booked.get(movement.classification, Decimal(0)) + (
                sign * movement.amount)

    async def penalties(self, day: date) -> None:
        """The penalties falling on ``day`` on what the loan then owed, written as the nightly
        step writes them (one shared entry per office and product, the loan's share), under the
        class the loan was booked in that day, keyed by this restatement's generation."""
        from servicing.close_of_business.loan_penalties import _postings
        from servicing.close_of_business.loan_postings import write_postings
        from servicing.loans.schedules import schedule_on, standing

        if self.penalty is None or not self.active():
            return
        row, product, uow = self.row, self.product, self.uow
        policy = await self.penalty_policies.policy(uow, self.key, product, self.penalty)
        stored = msgspec.convert(row.schedule, Schedule)
        today = as_of(self.history, day)
        schedule = schedule_on(self.terms, stored, product, today, day) if product.interest_recalculation else stored
        facts = standing(today)
        due = penalties_due(remaining_dues(schedule, facts.settled, facts.charged), day, policy,
                            self.rounder, already_charged=self.charged)
        if not due:
            return
        booked = _AsBooked(id=row.id, office_id=row.office_id, product_id=row.product_id,
                           product_version=row.product_version, booked_classification=self.classification,
                           term_bucket=row.term_bucket)
        postings = _postings(booked, self.currency, due, self.sequence, day=day)
        await write_postings(uow, [msgspec.structs.replace(p, penalty_key=None) for p in postings],
                             {self.key: product.accounting}, step="loan_penalties", day=day, actor=self.actor,
                             labels={self.key: f"Pénalités de retard, prêts {product.identity.short_name}"})
        if self.generation is None:
            self.generation = int(await uow.session.scalar(_NEXT_GENERATION, {"loan": row.id}) or 1)
        await uow.session.execute(_KEYS, {
            "loan": row.id, "generation": self.generation, "sequences": [p.sequence_number for p in postings],
            "instalments": [c.instalment for c in due], "periods": [c.period for c in due],
            "dates": [c.charged_on for c in due], "bases": [c.base for c in due]})
        self.sequence += len(due)
        self.penalties_charged += len(due)
        self.charged |= {c.key for c in due}
        self.history = await _history(uow, row.id)


async def restate_loan(uow_factory: UnitOfWorkFactory, loan_id: int, *, since: date, actor: str) -> Restatement:
    """Restate one loan from ``since`` in a unit of work of its own (the loan locked first, then
    any deposit account a re-applied repayment draws on), and commit: what a backdated event
    does after writing itself, callable alone (an operator correcting a loan, a test harness
    comparing a loan with its replay). Running it again posts nothing more."""
    from servicing.loans.applications import get_product_in, load_row

    async with uow_factory() as uow:
        row = await load_row(uow, loan_id, for_update=True)
        product = await get_product_in(uow, row.product_id, row.product_version)
        done = await restate(uow, row, product, since=since, actor=actor)
        await uow.commit()
    return done
