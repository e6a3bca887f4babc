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
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Final

import msgspec
from sqlalchemy import select, text

from products.events import LoanClassification, TermBucket
from products.loans.accrual import FeeRecognition, accrual_periods, fees_falling_due, interest_accrued_to
from products.loans.model import Schedule
from products.loans.product import LoanProduct
from products.loans.terms import LoanTerms
from products.posting_rules import LOAN_RECEIVABLE_RULES, AccountingRule, Component, EventKind
from products.reference.db.tables import ChargeRow
from products.rounding import Rounder, compile_rounding
from servicing.close_of_business.loan_postings import ChunkPostings, GroupKey, Posting, event, post_by_chunks
from servicing.close_of_business.model import StepOutcome
from servicing.loans.applications import get_product_in
from servicing.loans.reconciliation import SUBLEDGER_BY_LOAN_SQL
from servicing.loans.schedules import plain, schedule_on
from servicing.unit_of_work import UnitOfWork, UnitOfWorkFactory

CHUNK_LOANS: Final = 2_000
ACCRUAL_RULES: Final = tuple(sorted(rule.value for rule in LOAN_RECEIVABLE_RULES))
_ZERO: Final = Decimal(0)

_LOANS = text("""
    SELECT l.id, l.office_id, l.product_id, l.product_version, l.currency, CAST(l.terms AS text) AS terms,
           CAST(l.schedule AS text) AS schedule, l.booked_classification, l.term_bucket, s.status AS arrears_status,
           coalesce(CAST(l.terms ->> 'grace_on_interest_payment_periods' AS int), 0) AS interest_payment_grace,
           coalesce(a.interest, 0) AS interest_accrued, coalesce(a.fee, 0) AS fee_accrued,
           (SELECT max(t.sequence_number) FROM loan_transaction t WHERE t.loan_id = l.id) AS last_sequence
      FROM loan l
      JOIN product_version pv ON pv.product_id = l.product_id AND pv.version = l.product_version
      LEFT JOIN loan_arrears_state s ON s.loan_id = l.id
      LEFT JOIN loan_accrual_total a ON a.loan_id = l.id
     WHERE l.status = 'active' AND l.schedule IS NOT NULL AND l.disbursed_on <= :day AND l.id > :after
       AND pv.accounting_rule = ANY(:rules)
       AND (CAST(:offices AS int[]) IS NULL OR l.office_id = ANY(CAST(:offices AS int[])))
     ORDER BY l.id LIMIT :limit
       FOR UPDATE OF l
""")

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
    SELECT * FROM unnest(CAST(:loans AS int[]), CAST(:interest AS numeric[]), CAST(:fees AS numeric[]),
                         CAST(:dates AS date[]))
    ON CONFLICT (loan_id) DO UPDATE
       SET interest = a.interest + EXCLUDED.interest, fee = a.fee + EXCLUDED.fee, through = EXCLUDED.through,
           updated_at = now()
""")
"""The loans' running sums of their accrual transactions, moved in the transaction that writes them."""

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
                   floor: tuple[Decimal, Decimal] = (_ZERO, _ZERO)) -> Target:
    """Interest and fees to have recognised by the close of ``day`` (pure). ``accrued`` is
    (interest, fee) already recognised by accruals; ``floor`` what they must at least hold
    (what settlements took off the receivables: `true_up_on_settlement` recognised it with
    them, so the target never takes it back). A non-performing loan recognises nothing more
    than it had, beyond what was paid."""
    earned = interest_accrued_to(accrual_periods(schedule, terms), day, rounder) if accrues_interest else accrued[0]
    fees_due = sum((f.amount for f in fees_falling_due(schedule, after=date.min, through=day)), _ZERO)
    interest, fee = (min(earned, accrued[0]), min(fees_due, accrued[1])) if non_performing else (earned, fees_due)
    if accrues_interest:
        interest = max(interest, floor[0])
    fee = max(fee, floor[1])
    return Target(interest=interest, fee=fee, interest_withheld=max(earned - interest, _ZERO),
                  fee_withheld=max(fees_due - fee, _ZERO))


class _Products:
    """Product versions, their rounders and fee charges, read once per run."""

    def __init__(self) -> None:
        self.settings: dict[tuple[int, int], LoanProduct] = {}
        self.rounders: dict[tuple[int, int, str], Rounder] = {}
        self.charges: dict[tuple[int, int], dict[str, int]] = {}

    async def load(self, uow: UnitOfWork, key: tuple[int, int], currency: str) -> LoanProduct:
        if key not in self.settings:
            product = await get_product_in(uow, *key)
            self.settings[key] = product
            rows = (await uow.session.execute(select(ChargeRow.name, ChargeRow.id).where(
                ChargeRow.id.in_(product.charge_ids)))).all()
            self.charges[key] = {name[:80]: charge_id for name, charge_id in rows}
        if (*key, currency) not in self.rounders:
            self.rounders[(*key, currency)] = compile_rounding(self.settings[key].rounding, currency)
        return self.settings[key]


async def accrue_loans(uow_factory: UnitOfWorkFactory, day: date, actor: str, *,
                       chunk_loans: int = CHUNK_LOANS, offices: Sequence[int] | None = None) -> StepOutcome:
    products = _Products()
    posted_loans = 0
    totals = {"interest": _ZERO, "fee": _ZERO, "interest_adjusted": _ZERO, "fee_adjusted": _ZERO,
              "interest_withheld": _ZERO}

    async def work(uow: UnitOfWork, loans: Sequence[Any]) -> ChunkPostings:
        nonlocal posted_loans
        session = uow.session
        for loan in loans:
            await products.load(uow, (loan.product_id, loan.product_version), loan.currency.strip())
        recalculating = [loan.id for loan in loans
                         if products.settings[(loan.product_id, loan.product_version)].interest_recalculation]
        history: dict[int, list[Any]] = {}
        if recalculating:
            for row in (await session.execute(HISTORY, {"ids": recalculating, "day": day})).all():
                history.setdefault(row.loan_id, []).append(row)
        chunk = ChunkPostings(postings=[], accounting={}, labels={})
        planned: list[tuple[Any, Schedule, LoanTerms | None, bool]] = []
        below = []  # loans whose target may fall below their accruals: their floor is read
        for loan in loans:
            key = (loan.product_id, loan.product_version)
            product = products.settings[key]
            chunk.accounting[key] = product.accounting
            chunk.labels[key] = f"Intérêts courus et frais constatés, prêts {product.identity.short_name}"
            # Only a recalculation or interest deferred by a grace on payment needs the terms.
            terms = (TERMS_JSON.decode(loan.terms)
                     if product.interest_recalculation or loan.interest_payment_grace else None)
            schedule = SCHEDULE_JSON.decode(loan.schedule)
            if product.interest_recalculation:
                assert terms is not None
                schedule = schedule_on(terms, schedule, product, history.get(loan.id, []), day)
            periodic = product.accounting.rule is AccountingRule.ACCRUAL_PERIODIC
            planned.append((loan, schedule, terms, periodic))
            bare = accrual_target(schedule, terms, day, products.rounders[(*key, loan.currency.strip())],
                                  accrues_interest=periodic, non_performing=loan.arrears_status == "non_performing",
                                  accrued=(loan.interest_accrued, loan.fee_accrued))
            if (loan.arrears_status == "non_performing" or bare.interest < loan.interest_accrued
                    or bare.fee < loan.fee_accrued):
                below.append(loan.id)
        floors = {row.loan_id: (row.interest, row.fee)
                  for row in (await session.execute(_SETTLED_BEYOND, {"ids": below})).all()} if below else {}
        for loan, schedule, terms, periodic in planned:
            key = (loan.product_id, loan.product_version)
            currency = loan.currency.strip()
            accrued = (loan.interest_accrued, loan.fee_accrued)
            target = accrual_target(
                schedule, terms, day, products.rounders[(*key, currency)], accrues_interest=periodic,
                non_performing=loan.arrears_status == "non_performing", accrued=accrued,
                floor=floors.get(loan.id, (_ZERO, _ZERO)))
            totals["interest_withheld"] += target.interest_withheld
            made = postings_for(loan, currency, target, accrued, loan.last_sequence, products.charges[key],
                                schedule, day)
            for posting in made:
                sign = -1 if posting.mirrored else 1
                totals["interest_adjusted" if posting.mirrored else "interest"] += sign * posting.interest
                totals["fee_adjusted" if posting.mirrored else "fee"] += sign * posting.fee
            chunk.postings.extend(made)
            posted_loans += bool(made)
        moved: dict[int, tuple[Decimal, Decimal]] = {}  # per loan: an accrual and an adjustment net out
        for posting in chunk.postings:
            sign = -1 if posting.mirrored else 1
            interest, fee = moved.get(posting.loan_id, (_ZERO, _ZERO))
            moved[posting.loan_id] = (interest + sign * posting.interest, fee + sign * posting.fee)
        if moved:
            await session.execute(_ADD_TO_TOTALS, {
                "loans": list(moved), "dates": [day] * len(moved),
                "interest": [interest for interest, _fee in moved.values()],
                "fees": [fee for _interest, fee in moved.values()]})
        return chunk

    done = await post_by_chunks(uow_factory, _LOANS, {"rules": list(ACCRUAL_RULES), "offices": offices}, work, step="loan_accrual",
                                day=day, actor=actor, chunk_loans=chunk_loans)
    return StepOutcome(items=done.loans, entries=done.entries, detail={
        "loans_accrued": str(posted_loans), "transactions": str(done.transactions),
        **{name: str(plain(amount)) for name, amount in totals.items()}})


def postings_for(loan: Any, currency: str, target: Target, accrued: tuple[Decimal, Decimal], last_sequence: int,
              charge_ids: dict[str, int], schedule: Schedule, day: date) -> list[Posting]:
    """The accrual (what the target adds) and the adjustment (what it takes back) of one loan:
    at most one of each, the interest and fee moving independently."""
    classification = LoanClassification(loan.booked_classification)
    term = TermBucket(loan.term_bucket or TermBucket.SHORT.value)
    group = GroupKey(office_id=loan.office_id, product_id=loan.product_id, product_version=loan.product_version,
                     currency=currency)
    interest_delta = target.interest - accrued[0]
    fee_delta = target.fee - accrued[1]
    every_fee = fees_falling_due(schedule, after=date.min, through=date.max)  # an adjustment takes back earlier ones
    postings: list[Posting] = []
    sequence = last_sequence
    for mirrored in (False, True):
        interest = max(-interest_delta if mirrored else interest_delta, _ZERO)
        fee = max(-fee_delta if mirrored else fee_delta, _ZERO)
        if interest == 0 and fee == 0:
            continue
        parts: list[tuple[Component, Decimal, int | None]] = [(Component.INTEREST, interest, None)]
        parts += [(Component.FEE, amount, charge) for charge, amount in
                  (fee_slice(every_fee, accrued[1], target.fee, charge_ids) if fee > 0 else [])]
        kinds = [(EventKind.INTEREST_ACCRUAL, [p for p in parts if p[0] is Component.INTEREST]),
                 (EventKind.FEE_CHARGE, [p for p in parts if p[0] is Component.FEE])]
        events = tuple(ev for kind, kind_parts in kinds if (ev := event(
            kind, currency, kind_parts, classification=classification, term=term)) is not None)
        sequence += 1
        postings.append(Posting(
            loan_id=loan.id, sequence_number=sequence, kind="accrual_adjustment" if mirrored else "accrual",
            group=group, classification=classification, term=term, value_date=day, amount=interest + fee,
            interest=interest, fee=fee, events=events, mirrored=mirrored))
    return postings
