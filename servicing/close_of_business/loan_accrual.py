"""Close-of-business step `loan_accrual`: interest earned and instalment fees recognised.

For every active loan of an accrual product, by chunks of loans locked in id order:

* interest (accrual periodic products): accrued-to-date by the close of the day
  (`products.loans.accrual.interest_accrued_to` on `accrual_periods` of the schedule as it
  stands on the day, recalculated for products that recalculate interest), the rounding
  carried so the days of a period add up to its interest;
* fees (both accrual rules): the schedule's instalment fees whose due date has come
  (`fees_falling_due`), recognised in full on their due date, on the fee charge's account.

The amount posted is that target less what the loan's accrual transactions already hold (their
running sum in `loan_accrual_total`, moved in the same transaction as the rows it sums and
checked against them by `grandlivre verify`, so a night does not re-add a year of rows):
running a day twice posts nothing, a missed day is caught up exactly, and a target that went
down (a schedule recalculated) is taken back by an ``accrual_adjustment``. A loan the last
ageing found non-performing (`loan_arrears_state`, written by yesterday's `loan_arrears`) earns
nothing in the income statement: its target is capped at what was already recognised. Interest
and fees a repayment (or a waiver) settles beyond what was recognised are recognised with it, in
its own transaction (`servicing.loans.receivable_true_up`): the target never falls below what
the settlements took off the receivables, so the next close does not take it back. The
product model has no suspense account, so the withheld interest is not booked; the step
reports it (``interest_withheld``), as the « non recognised » treatment of the pure core.

A chunk posts one journal entry per office, product version and currency
(`loan_postings.write_postings`): Dr interest receivable / Cr interest income, Dr fees
receivable / Cr fee income, on the loan's booked classification and term bucket.

Interest is recognised day by day, or on each period's due date only when the product's
``accrual_frequency`` is ``per_period``.

A quiet night's fast path: a loan whose day falls strictly inside its accrual window
(`loan_accrual_window`, `products.loans.accrual.AccrualWindow`: between two dates of its
schedule, written by the full derivation and forgotten by a trigger when the schedule, terms or
disbursement date change) takes its target from the window, by the same pure functions, without
its schedule being read: one day more of the running period. A loan outside its window, of a
product that recalculates interest, or whose fees move that day (a catch-up, a loan leaving
non-performing status) is derived in full, which writes its next window.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Final, Protocol

import msgspec
from sqlalchemy import select, text

from products.events import EventPart, LoanClassification, ProductEvent, TermBucket
from products.loans.accrual import (
    AccrualWindow,
    FeeRecognition,
    accrual_periods,
    accrual_window,
    earned_by,
    fees_falling_due,
    interest_accrued_to,
)
from products.loans.model import Schedule
from products.loans.product import AccrualFrequency, LoanProduct
from products.loans.terms import LoanTerms
from products.posting_rules import LOAN_INTEREST_ACCRUAL_RULES, LOAN_RECEIVABLE_RULES, Component, EventKind
from products.reference.db.tables import ChargeRow
from products.rounding import Rounder, compile_rounding
from servicing.close_of_business.loan_postings import (
    ChunkPostings,
    GroupKey,
    InterestAccruals,
    Posting,
    array_literal,
    interest_accrual,
    post_by_chunks,
)
from servicing.close_of_business.model import StepOutcome
from servicing.loans.applications import get_product_in
from servicing.loans.reconciliation import SUBLEDGER_BY_LOAN_SQL
from servicing.loans.schedules import plain, schedule_on
from servicing.staff.scope import office_set_condition
from servicing.unit_of_work import UnitOfWork, UnitOfWorkFactory

CHUNK_LOANS: Final = 2_000
ACCRUAL_RULES: Final = tuple(sorted(rule.value for rule in LOAN_RECEIVABLE_RULES))
_ZERO: Final = Decimal(0)

_ACCRUING = f"""
    l.status = 'active' AND l.schedule IS NOT NULL AND l.disbursed_on <= :day
    AND EXISTS (SELECT 1 FROM product_version pv WHERE pv.product_id = l.product_id AND pv.version = l.product_version
                                                  AND pv.accounting_rule = ANY(:rules))
    AND {office_set_condition("l.office_id")}
    AND (CAST(:loans AS int[]) IS NULL OR l.id = ANY(CAST(:loans AS int[])))
"""

_LOAN_IDS = text(f"SELECT l.id FROM loan l WHERE {_ACCRUING} ORDER BY l.id")
"""The loans to accrue, read once (the chunks then fetch theirs by id)."""

_LOANS = text(f"""
    SELECT l.id, l.office_id, l.product_id, l.product_version, l.currency,
           CASE WHEN w.loan_id IS NULL THEN CAST(l.terms AS text) END AS terms,
           CASE WHEN w.loan_id IS NULL THEN CAST(l.schedule AS text) END AS schedule,
           l.booked_classification, l.term_bucket, s.status AS arrears_status,
           coalesce(CAST(l.terms ->> 'grace_on_interest_payment_periods' AS int), 0) AS interest_payment_grace,
           coalesce(a.interest, 0) AS interest_accrued, coalesce(a.fee, 0) AS fee_accrued,
           (SELECT max(t.sequence_number) FROM loan_transaction t WHERE t.loan_id = l.id) AS last_sequence,
           w.after_date AS window_after, w.before_date AS window_before, w.interest_done AS window_interest_done,
           w.period_number AS window_period, w.period_from AS window_period_from,
           w.period_due AS window_period_due, w.period_interest AS window_period_interest, w.fee AS window_fee
      FROM loan l
      LEFT JOIN loan_arrears_state s ON s.loan_id = l.id
      LEFT JOIN loan_accrual_total a ON a.loan_id = l.id
      LEFT JOIN loan_accrual_window w ON w.loan_id = l.id AND w.after_date < :day AND :day < w.before_date
     WHERE l.id = ANY(:ids) AND {_ACCRUING}
     ORDER BY l.id
       FOR UPDATE OF l
""")
"""A chunk's loans, locked in id order, with their window when it covers the day (then their
terms and schedule are not read)."""

_SETTLED_BEYOND = text(f"""
    SELECT s.loan_id, coalesce(a.interest, 0) - s.interest AS interest, coalesce(a.fee, 0) - s.fee AS fee
      FROM ({SUBLEDGER_BY_LOAN_SQL}) s LEFT JOIN loan_accrual_total a ON a.loan_id = s.loan_id
""")
"""Per loan, what its accruals must at least hold for no receivable to be in credit (interest
and fees: the accruals less the sub-ledger's receivable): what repayments, waivers and
reschedulings took off the receivables beyond the other recognitions. Read only for loans
whose target could fall below their accruals (non-performing, or a schedule recalculated)."""

_ADD_TO_TOTALS = text("""
    INSERT INTO loan_accrual_total AS a (loan_id, interest, fee, through)
    SELECT * FROM unnest(CAST(CAST(:loans AS text) AS int[]), CAST(CAST(:interest AS text) AS numeric[]),
                         CAST(CAST(:fees AS text) AS numeric[]), CAST(CAST(:dates AS text) AS date[]))
    ON CONFLICT (loan_id) DO UPDATE
       SET interest = a.interest + EXCLUDED.interest, fee = a.fee + EXCLUDED.fee, through = EXCLUDED.through,
           updated_at = now()
""")
"""The loans' running sums of their accrual transactions, moved in the transaction that writes them."""

_SCHEDULES = text("""
    SELECT id, CAST(terms AS text) AS terms, CAST(schedule AS text) AS schedule FROM loan WHERE id = ANY(:ids)
""")
"""The schedules of the loans whose window is not enough (their fees move): read only for them."""

_KEEP_WINDOWS = text("""
    INSERT INTO loan_accrual_window AS w (loan_id, after_date, before_date, interest_done, period_number, period_from,
                                          period_due, period_interest, fee)
    SELECT * FROM unnest(CAST(:loans AS int[]), CAST(:afters AS date[]), CAST(:befores AS date[]),
                         CAST(:done AS numeric[]), CAST(:numbers AS int[]), CAST(:froms AS date[]),
                         CAST(:dues AS date[]), CAST(:interests AS numeric[]), CAST(:fees AS numeric[]))
    ON CONFLICT (loan_id) DO UPDATE
       SET after_date = EXCLUDED.after_date, before_date = EXCLUDED.before_date,
           interest_done = EXCLUDED.interest_done, period_number = EXCLUDED.period_number,
           period_from = EXCLUDED.period_from, period_due = EXCLUDED.period_due,
           period_interest = EXCLUDED.period_interest, fee = EXCLUDED.fee, updated_at = now()
""")
"""The windows the full derivation found, for the next nights' fast path."""

HISTORY = text("""
    SELECT loan_id, id, kind, reverses_transaction_id, allocation, value_date, principal
      FROM loan_transaction
     WHERE loan_id = ANY(:ids) AND value_date <= :day AND kind NOT IN ('accrual', 'accrual_adjustment')
     ORDER BY loan_id, sequence_number
""")
"""What a loan's position is derived from (the accruals never change it)."""

# The loan's JSON columns are read as text and decoded straight into their Structs by msgspec:
# the driver's json.loads and a msgspec.convert took most of the step's Python time.
SCHEDULE_JSON: Final = msgspec.json.Decoder(Schedule)
TERMS_JSON: Final = msgspec.json.Decoder(LoanTerms)


class Target(msgspec.Struct, frozen=True, kw_only=True):
    """What should have been recognised on a loan by the close of the day."""

    interest: Decimal
    fee: Decimal
    interest_withheld: Decimal = _ZERO
    fee_withheld: Decimal = _ZERO


def fee_slice(fees: Sequence[FeeRecognition], start: Decimal, end: Decimal,
              charge_ids: dict[str, int]) -> list[tuple[int | None, Decimal]]:
    """The fees between two cumulative amounts of the schedule's instalment fees (in due-date
    order): which charges a fee accrual of ``end - start`` (or its adjustment) is made of, so
    each posts to its own charge's income account. What lies beyond every fee of the schedule
    (a schedule changed since) falls on the last fee's charge."""
    low, high = min(start, end), max(start, end)
    parts: dict[int | None, Decimal] = {}
    running = _ZERO
    ordered = sorted(fees, key=lambda f: (f.due_date, f.instalment, f.name))
    for fee in ordered:
        taken = max(min(running + fee.amount, high) - max(running, low), _ZERO)
        if taken > 0:
            charge = charge_ids.get(fee.name)
            parts[charge] = parts.get(charge, _ZERO) + taken
        running += fee.amount
    beyond = high - max(running, low)
    if beyond > 0:
        charge = charge_ids.get(ordered[-1].name) if ordered else None
        parts[charge] = parts.get(charge, _ZERO) + beyond
    assert sum(parts.values(), _ZERO) == high - low, (parts, start, end)
    return list(parts.items())


def accrual_target(schedule: Schedule, terms: LoanTerms | None, day: date, rounder: Rounder, *,
                   accrues_interest: bool, non_performing: bool, accrued: tuple[Decimal, Decimal],
                   floor: tuple[Decimal, Decimal] = (_ZERO, _ZERO),
                   frequency: AccrualFrequency = AccrualFrequency.DAILY) -> Target:
    """Interest and fees to have recognised by the close of ``day`` (pure). ``accrued`` is
    (interest, fee) already recognised by accruals; ``floor`` what they must at least hold
    (what settlements took off the receivables: `true_up_on_settlement` recognised it with
    them, so the target never takes it back). A non-performing loan recognises nothing more
    than it had, beyond what was paid."""
    earned = (interest_accrued_to(accrual_periods(schedule, terms), day, rounder, frequency) if accrues_interest
              else accrued[0])
    fees_due = sum((f.amount for f in fees_falling_due(schedule, after=date.min, through=day)), _ZERO)
    return capped_target(earned, fees_due, accrues_interest=accrues_interest, non_performing=non_performing,
                         accrued=accrued, floor=floor)


def capped_target(earned: Decimal, fees_due: Decimal, *, accrues_interest: bool, non_performing: bool,
                  accrued: tuple[Decimal, Decimal], floor: tuple[Decimal, Decimal] = (_ZERO, _ZERO)) -> Target:
    """What was earned, capped at what was recognised for a non-performing loan, and never
    below ``floor`` (pure)."""
    interest, fee = (min(earned, accrued[0]), min(fees_due, accrued[1])) if non_performing else (earned, fees_due)
    capped = Target(interest=interest, fee=fee, interest_withheld=earned - interest, fee_withheld=fees_due - fee)
    return floored(capped, floor, accrues_interest=accrues_interest)


def floored(target: Target, floor: tuple[Decimal, Decimal], *, accrues_interest: bool) -> Target:
    """``target`` (computed with no floor) raised to ``floor``, as `capped_target` would (pure)."""
    earned, fees_due = target.interest + target.interest_withheld, target.fee + target.fee_withheld
    interest = max(target.interest, floor[0]) if accrues_interest else target.interest
    fee = max(target.fee, floor[1])
    return Target(interest=interest, fee=fee, interest_withheld=max(earned - interest, _ZERO),
                  fee_withheld=max(fees_due - fee, _ZERO))


class _Products:
    """Product versions, their rounders and fee charges, read once per run."""

    def __init__(self) -> None:
        self.settings: dict[tuple[int, int], LoanProduct] = {}
        self.rounders: dict[tuple[int, int, str], Rounder] = {}
        self.charges: dict[tuple[int, int], dict[str, int]] = {}

    async def load(self, uow: UnitOfWork, key: tuple[int, int], currency: str) -> LoanProduct:
        """Chunks run concurrently: a version is published (``settings``) only once its charges
        are read, so a chunk that finds it there finds all of it."""
        if key not in self.settings:
            product = await get_product_in(uow, *key)
            rows = (await uow.session.execute(select(ChargeRow.name, ChargeRow.id).where(
                ChargeRow.id.in_(product.charge_ids)))).all()
            self.charges[key] = {name[:80]: charge_id for name, charge_id in rows}
            self.settings[key] = product
        if (*key, currency) not in self.rounders:
            self.rounders[(*key, currency)] = compile_rounding(self.settings[key].rounding, currency)
        return self.settings[key]


class WindowRow(Protocol):
    """The columns of a chunk's row the fast path reads (`_LOANS`)."""

    interest_accrued: Decimal
    fee_accrued: Decimal
    window_interest_done: Decimal
    window_period: int | None
    window_period_from: date
    window_period_due: date
    window_period_interest: Decimal
    window_fee: Decimal


def window_row_target(row: WindowRow, day: date, rounder: Rounder, *, accrues_interest: bool,
                      frequency: AccrualFrequency = AccrualFrequency.DAILY) -> Target | None:
    """`accrual_target` of a performing loan on a day its window covers, from the window's
    columns alone (pure: `AccrualWindow.interest_on`, through `products.loans.accrual.earned_by`,
    with no struct made per loan); None when the window is not enough: its fees move, or the
    target would fall below what was accrued (then the floor must be read)."""
    if row.window_fee != row.fee_accrued:
        return None
    if not accrues_interest:
        interest = row.interest_accrued
    elif row.window_period is None:
        interest = row.window_interest_done
    else:
        interest = row.window_interest_done + earned_by(row.window_period_interest, row.window_period_from,
                                                        row.window_period_due, day, rounder, frequency)
    return Target(interest=interest, fee=row.window_fee) if interest >= row.interest_accrued else None


def _from_windows(loans: Sequence[Any], day: date, products: _Products) -> dict[int, Target]:
    """The quiet night's fast path over the chunk's rows (`window_row_target`): the loans whose
    window covers the day, not non-performing, of a product that does not recalculate."""
    facts: dict[tuple[int, int, str], tuple[bool, bool, AccrualFrequency, Rounder]] = {}
    fast: dict[int, Target] = {}
    for loan in loans:
        if loan.window_after is None or loan.arrears_status == "non_performing":
            continue
        key = (loan.product_id, loan.product_version, loan.currency)
        if key not in facts:
            product = products.settings[key[:2]]
            facts[key] = (product.interest_recalculation, product.accounting.rule in LOAN_INTEREST_ACCRUAL_RULES,
                          product.accrual_frequency, products.rounders[(*key[:2], key[2].strip())])
        recalculates, accrues_interest, frequency, rounder = facts[key]
        if not recalculates and (target := window_row_target(
                loan, day, rounder, accrues_interest=accrues_interest, frequency=frequency)) is not None:
            fast[loan.id] = target
    return fast


async def accrue_loans(uow_factory: UnitOfWorkFactory, day: date, actor: str, *,
                       chunk_loans: int = CHUNK_LOANS, offices: Sequence[int] | None = None,
                       loans: Sequence[int] | None = None) -> StepOutcome:
    """``loans``: only these loans (a restatement's, `servicing.close_of_business.per_loan`)."""
    products = _Products()
    posted_loans = fast_loans = 0
    totals = {"interest": _ZERO, "fee": _ZERO, "interest_adjusted": _ZERO, "fee_adjusted": _ZERO,
              "interest_withheld": _ZERO}

    async def work(uow: UnitOfWork, loans: Sequence[Any]) -> ChunkPostings:
        nonlocal posted_loans, fast_loans
        session = uow.session
        for product_id, version, currency in {(loan.product_id, loan.product_version, loan.currency)
                                              for loan in loans}:
            await products.load(uow, (product_id, version), currency.strip())
        recalculating = [loan.id for loan in loans
                         if products.settings[(loan.product_id, loan.product_version)].interest_recalculation]
        history: dict[int, list[Any]] = {}
        if recalculating:
            for row in (await session.execute(HISTORY, {"ids": recalculating, "day": day})).all():
                history.setdefault(row.loan_id, []).append(row)
        fast = _from_windows(loans, day, products)
        unread = [loan.id for loan in loans if loan.schedule is None and loan.id not in fast]
        texts = {row.id: (row.terms, row.schedule)
                 for row in (await session.execute(_SCHEDULES, {"ids": unread})).all()} if unread else {}
        windows: list[tuple[int, AccrualWindow]] = []
        derived: dict[int, tuple[Target, tuple[FeeRecognition, ...]]] = {}
        below = []  # loans whose target may fall below their accruals: their floor is read
        for loan in loans:
            key = (loan.product_id, loan.product_version)
            product = products.settings[key]
            currency = loan.currency.strip()
            accrued = (loan.interest_accrued, loan.fee_accrued)
            if loan.id not in fast:
                terms_text, schedule_text = texts.get(loan.id, (loan.terms, loan.schedule))
                # Only a recalculation or interest deferred by a grace on payment needs the terms.
                terms = (TERMS_JSON.decode(terms_text)
                         if product.interest_recalculation or loan.interest_payment_grace else None)
                schedule = SCHEDULE_JSON.decode(schedule_text)
                if product.interest_recalculation:
                    assert terms is not None
                    schedule = schedule_on(terms, schedule, product, history.get(loan.id, []), day)
                rounder = products.rounders[(*key, currency)]
                target = accrual_target(
                    schedule, terms, day, rounder,
                    accrues_interest=product.accounting.rule in LOAN_INTEREST_ACCRUAL_RULES,
                    non_performing=loan.arrears_status == "non_performing", accrued=accrued,
                    frequency=product.accrual_frequency)
                every_fee = fees_falling_due(schedule, after=date.min, through=date.max)
                derived[loan.id] = (target, every_fee)
                if (loan.arrears_status == "non_performing" or target.interest < accrued[0]
                        or target.fee < accrued[1]):
                    below.append(loan.id)
                # A recalculated schedule moves with the loan's history: no window for it.
                window = (None if product.interest_recalculation
                          else accrual_window(accrual_periods(schedule, terms), every_fee, day, rounder))
                if window is not None:
                    windows.append((loan.id, window))
        floors = {row.loan_id: (row.interest, row.fee)
                  for row in (await session.execute(_SETTLED_BEYOND, {"ids": below})).all()} if below else {}
        accruals = InterestAccruals()
        chunk = ChunkPostings(postings=[], accounting={}, labels={}, interest_accruals=accruals)
        for key in {(loan.product_id, loan.product_version) for loan in loans}:
            product = products.settings[key]
            chunk.accounting[key] = product.accounting
            chunk.labels[key] = f"Intérêts courus et frais constatés, prêts {product.identity.short_name}"
        for loan in loans:
            accrued = (loan.interest_accrued, loan.fee_accrued)
            if loan.id in fast:
                # The window's target moves interest only, upwards (`window_row_target`): one plain accrual.
                target = fast[loan.id]
                if target.interest > accrued[0]:
                    accruals.add(loan.id, loan.last_sequence + 1,
                                 _group(loan.office_id, loan.product_id, loan.product_version, loan.currency.strip()),
                                 _CLASSES[loan.booked_classification], _TERMS[loan.term_bucket or _SHORT],
                                 target.interest - accrued[0])
                continue
            key = (loan.product_id, loan.product_version)
            product = products.settings[key]
            currency = loan.currency.strip()
            target, every_fee = derived[loan.id]
            if loan.id in floors:
                target = floored(target, floors[loan.id],
                                 accrues_interest=product.accounting.rule in LOAN_INTEREST_ACCRUAL_RULES)
            totals["interest_withheld"] += target.interest_withheld
            made = postings_for(loan, currency, target, accrued, loan.last_sequence, products.charges[key],
                                every_fee, day)
            for posting in made:
                sign = -1 if posting.mirrored else 1
                totals["interest_adjusted" if posting.mirrored else "interest"] += sign * posting.interest
                totals["fee_adjusted" if posting.mirrored else "fee"] += sign * posting.fee
            chunk.postings.extend(made)
            posted_loans += bool(made)
        totals["interest"] += sum(accruals.amounts, _ZERO)
        posted_loans += len(accruals)
        fast_loans += len(fast)
        if windows:
            await session.execute(_KEEP_WINDOWS, _window_columns(windows))
        moved: dict[int, tuple[Decimal, Decimal]] = {}  # per loan: an accrual and an adjustment net out
        for posting in chunk.postings:
            sign = -1 if posting.mirrored else 1
            interest, fee = moved.get(posting.loan_id, (_ZERO, _ZERO))
            moved[posting.loan_id] = (interest + sign * posting.interest, fee + sign * posting.fee)
        if moved or accruals:
            await session.execute(_ADD_TO_TOTALS, {name: array_literal(values) for name, values in {
                "loans": [*moved, *accruals.loan_ids], "dates": [day] * (len(moved) + len(accruals)),
                "interest": [*(interest for interest, _fee in moved.values()), *accruals.amounts],
                "fees": [*(fee for _interest, fee in moved.values()), *[_ZERO] * len(accruals)]}.items()})
        return chunk

    done = await post_by_chunks(uow_factory, _LOANS, {"rules": list(ACCRUAL_RULES), "offices": offices,
                                                     "loans": None if loans is None else list(loans)}, work,
                                step="loan_accrual", day=day, actor=actor, chunk_loans=chunk_loans,
                                ids_query=_LOAN_IDS)
    return StepOutcome(items=done.loans, entries=done.entries, detail={
        "loans_accrued": str(posted_loans), "loans_from_window": str(fast_loans),
        "transactions": str(done.transactions),
        **{name: str(plain(amount)) for name, amount in totals.items()}})


def _window_columns(windows: Sequence[tuple[int, AccrualWindow]]) -> dict[str, list[Any]]:
    return {"loans": [loan_id for loan_id, _w in windows], "afters": [w.after for _l, w in windows],
            "befores": [w.before for _l, w in windows], "done": [w.interest_done for _l, w in windows],
            "numbers": [w.running.number if w.running else None for _l, w in windows],
            "froms": [w.running.from_date if w.running else None for _l, w in windows],
            "dues": [w.running.due_date if w.running else None for _l, w in windows],
            "interests": [w.running.interest if w.running else None for _l, w in windows],
            "fees": [w.fee for _l, w in windows]}


@functools.lru_cache(maxsize=4096)
def _group(office_id: int, product_id: int, product_version: int, currency: str) -> GroupKey:
    """One key per shared entry, made once (50,000 loans a night share a few dozen)."""
    return GroupKey(office_id=office_id, product_id=product_id, product_version=product_version, currency=currency)


def postings_for(loan: Any, currency: str, target: Target, accrued: tuple[Decimal, Decimal], last_sequence: int,
                 charge_ids: dict[str, int], every_fee: Sequence[FeeRecognition], day: date) -> list[Posting]:
    """The accrual (what the target adds) and the adjustment (what it takes back) of one loan:
    at most one of each, the interest and fee moving independently. ``every_fee``: the
    schedule's instalment fees (an adjustment takes back earlier ones), needed when fees move."""
    classification = _CLASSES[loan.booked_classification]
    term = _TERMS[loan.term_bucket or _SHORT]
    group = _group(loan.office_id, loan.product_id, loan.product_version, currency)
    interest_delta = target.interest - accrued[0]
    fee_delta = target.fee - accrued[1]
    postings: list[Posting] = []
    sequence = last_sequence
    for mirrored in (False, True):
        interest = max(-interest_delta if mirrored else interest_delta, _ZERO)
        fee = max(-fee_delta if mirrored else fee_delta, _ZERO)
        if interest == 0 and fee == 0:
            continue
        events: list[ProductEvent] = []
        if interest > 0:
            events.append(interest_accrual(currency, classification, term, interest))
        if fee > 0:
            fee_parts = tuple(EventPart(component=Component.FEE, amount=amount, charge_id=charge)
                              for charge, amount in fee_slice(every_fee, accrued[1], target.fee, charge_ids))
            events.append(ProductEvent(kind=EventKind.FEE_CHARGE, currency=currency, classification=classification,
                                       term=term, parts=fee_parts))
        sequence += 1
        postings.append(Posting(
            loan_id=loan.id, sequence_number=sequence, kind="accrual_adjustment" if mirrored else "accrual",
            group=group, classification=classification, term=term, value_date=day, amount=interest + fee,
            interest=interest, fee=fee, events=tuple(events), mirrored=mirrored))
    return postings


_CLASSES: Final = {c.value: c for c in LoanClassification}
_TERMS: Final = {t.value: t for t in TermBucket}
_SHORT: Final = TermBucket.SHORT.value
