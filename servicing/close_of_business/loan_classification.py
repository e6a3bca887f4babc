"""Close-of-business step `loan_classification`: each active loan's class from the bucket the
`loan_arrears` step found, and the entry moving its outstanding when the class changes.

The step reads the day's `loan_arrears_state` of every active loan by chunks (one query per
chunk, no lock), grades it on the grid of its kind (`products.loans.classification.grid_kind`:
the overdraft grid for an overdraft product when one is configured, else the loans grid; no
rescheduled-loan flag exists yet) and compares the class with the loan's booked
classification. Only the loans whose class changes go further, by batches in one transaction
each, locked in id order:

* one RECLASSIFICATION entry per loan moving its whole principal outstanding (and, under
  accrual rules, its interest receivable) from the old class's classified accounts to the new
  one's (`decide_class`, the product's posting rules, classification x term), the loan
  transaction `reclassification` pointing at it, the loan booked under its new class, and one
  outbox event `loan.reclassified`, all committed together;
* with seed 002's « activer threads déclas. » off (credit parameters
  `downgrade_jobs_enabled`), nothing is posted: the changes are listed in the step's outcome as
  proposals for a person to decide.

Idempotent: a second run finds every loan already under its class and posts nothing. Credit
parameters not set yet count as the switch on (the regulator's classification is the default)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import text

from ledger.model import JournalEntry, Reference
from ledger.money import normalize_amount
from products.accounting import build_entry
from products.events import LoanClassification, TermBucket
from products.loans.classification import LoanGrade, decide_class, grade, grid_kind
from products.posting_rules import ProductKind
from products.reference.model import BucketKind, DelinquencyBucket
from servicing.close_of_business.loan_arrears import loan_grid
from servicing.close_of_business.model import StepOutcome
from servicing.close_of_business.narration import narrated
from servicing.errors import NotFound
from servicing.ids import uuid7
from servicing.journal import book_entries
from servicing.loans.applications import get_product_in
from servicing.loans.bulk import NewLoanTransaction, insert_transactions, set_classifications
from servicing.loans.movements import SOURCE_TYPE
from servicing.loans.reconciliation import SUBLEDGER_BY_LOAN_SQL
from servicing.loans.write_offs import ACCRUAL_RULES
from servicing.outbox import OutboxEvent, record_events
from servicing.reference import buckets, credit_parameters
from servicing.staff.scope import office_set_condition
from servicing.unit_of_work import UnitOfWork, UnitOfWorkFactory

READ_CHUNK: Final = 20_000
WRITE_BATCH: Final = 500
PROPOSALS_LISTED_MAX: Final = 200

_OVERDRAFT_VERSIONS = text("""
SELECT v.product_id, v.version FROM product_version v JOIN product p ON p.id = v.product_id
 WHERE p.kind = 'loan' AND v.settings ->> 'overdraft' = 'true'
""")

_STATES = text(f"""
SELECT l.id, l.product_id, l.product_version, l.booked_classification, s.days_overdue, s.status,
       s.bucket_label, s.classification, s.provision_rate_percent, l.rescheduled_on IS NOT NULL AS rescheduled
  FROM loan_arrears_state s JOIN loan l ON l.id = s.loan_id
 WHERE s.business_date = :day AND s.loan_id > :after AND l.status = 'active'
   AND {office_set_condition("l.office_id")}
   AND (CAST(:loans AS int[]) IS NULL OR l.id = ANY(CAST(:loans AS int[])))
   AND (s.classification <> l.booked_classification
        OR (l.product_id, l.product_version) IN (SELECT * FROM unnest(CAST(:overdraft_products AS int[]),
                                                                      CAST(:overdraft_versions AS int[]))))
 ORDER BY s.loan_id LIMIT :limit
""")
"""The day's aged loans the step has to look at: those the loans grid (as `loan_arrears`
graded them) puts in another class than their booked one, and every loan of an overdraft
product (graded again on the overdraft grid). A quiet day reads none."""

_REGRADED = text("""
UPDATE loan_arrears_state s SET bucket_label = g.bucket_label, classification = g.classification,
       provision_rate_percent = g.rate, updated_at = now()
  FROM unnest(CAST(:ids AS int[]), CAST(:labels AS text[]), CAST(:classes AS text[]), CAST(:rates AS numeric[]))
       AS g (loan_id, bucket_label, classification, rate)
 WHERE s.loan_id = g.loan_id AND s.business_date = :day
""")

_LOCK = text("""
SELECT id, office_id, product_id, product_version, currency, booked_classification, term_bucket
  FROM loan WHERE id = ANY(CAST(:ids AS int[])) AND status = 'active' ORDER BY id FOR UPDATE
""")


async def automatic_declassification(uow_factory: UnitOfWorkFactory) -> bool:
    """Seed 002's « activer threads déclas. » in the credit parameters in force (on when unset)."""
    try:
        stored = await credit_parameters.current(uow_factory())
    except NotFound:
        return True
    return stored.parameters.downgrade_jobs_enabled


async def grids(uow_factory: UnitOfWorkFactory) -> dict[BucketKind, tuple[DelinquencyBucket, ...]]:
    """The grids in force, the loans grid standing in for a kind that has none."""
    loans = await loan_grid(uow_factory)
    stored = await buckets.list_buckets(uow_factory())
    found: dict[BucketKind, list[DelinquencyBucket]] = {}
    for item in stored:
        found.setdefault(item.kind, []).append(item.bucket)
    return {kind: tuple(found.get(kind, ())) or loans for kind in BucketKind}


class _Change:
    __slots__ = ("grade", "loan_id", "state")

    def __init__(self, loan_id: int, loan_grade: LoanGrade, state: Any) -> None:
        self.loan_id, self.grade, self.state = loan_id, loan_grade, state


async def classify_loans(uow_factory: UnitOfWorkFactory, day: date, actor: str, *,
                         automatic: bool | None = None, offices: Sequence[int] | None = None,
                         loans: Sequence[int] | None = None) -> StepOutcome:
    """``loans``: only these loans (a restatement's, `servicing.close_of_business.per_loan`)."""
    if automatic is None:
        automatic = await automatic_declassification(uow_factory)
    by_kind = await grids(uow_factory)
    async with uow_factory() as uow:
        overdrafts = {(r.product_id, r.version) for r in (await uow.session.execute(_OVERDRAFT_VERSIONS)).all()}
    window = {"day": day, "limit": READ_CHUNK, "overdraft_products": [p for p, _v in sorted(overdrafts)],
              "overdraft_versions": [v for _p, v in sorted(overdrafts)], "offices": offices,
              "loans": None if loans is None else list(loans)}
    seen = 0
    changes: list[_Change] = []
    after = 0
    while True:
        async with uow_factory() as uow:
            states = (await uow.session.execute(_STATES, {**window, "after": after})).all()
            regraded: list[tuple[int, LoanGrade]] = []
            for state in states:
                kind = grid_kind(overdraft=(state.product_id, state.product_version) in overdrafts, rescheduled=state.rescheduled)
                loan_grade = grade(state.days_overdue, by_kind[kind], non_performing=state.status == "non_performing")
                if (loan_grade.bucket_label, loan_grade.classification.value) != (state.bucket_label,
                                                                                 state.classification):
                    regraded.append((state.id, loan_grade))
                if loan_grade.classification.value != state.booked_classification:
                    changes.append(_Change(state.id, loan_grade, state))
            if regraded:
                await uow.session.execute(_REGRADED, {
                    "day": day, "ids": [i for i, _g in regraded], "labels": [g.bucket_label for _i, g in regraded],
                    "classes": [g.classification.value for _i, g in regraded],
                    "rates": [g.provision_rate_percent for _i, g in regraded]})
                await uow.commit()
        if not states:
            break
        seen += len(states)
        after = states[-1].id
    if not automatic:
        proposals = [f"{c.loan_id}:{c.state.booked_classification}->{c.grade.classification.value}" for c in changes]
        return StepOutcome(items=seen, entries=0, detail={
            "automatic": "false", "proposals": str(len(proposals)),
            "proposed": ",".join(proposals[:PROPOSALS_LISTED_MAX]), "actor": actor})
    entries = moved = 0
    per_direction: dict[str, int] = {}
    for start in range(0, len(changes), WRITE_BATCH):
        batch = changes[start:start + WRITE_BATCH]
        async with uow_factory() as uow:
            written, directions = await _reclassify(uow, batch, day, actor)
            await uow.commit()
        entries += written
        moved += sum(directions.values())
        for direction, count in directions.items():
            per_direction[direction] = per_direction.get(direction, 0) + count
    return StepOutcome(items=seen, entries=entries, detail={
        "automatic": "true", "reclassified": str(moved),
        **{f"to_{direction}": str(count) for direction, count in sorted(per_direction.items())}, "actor": actor})


async def _reclassify(uow: UnitOfWork, batch: Sequence[_Change], day: date, actor: str) -> tuple[int, dict[str, int]]:
    """Move the batch's loans to their class, under their locks; answers the entries posted and
    the loans moved per new class."""
    required = {c.loan_id: c for c in batch}
    locked = (await uow.session.execute(_LOCK, {"ids": list(required)})).all()
    ids = [loan.id for loan in locked]
    subledger = {row.loan_id: row for row in (await uow.session.execute(text(SUBLEDGER_BY_LOAN_SQL),
                                                                        {"ids": ids})).all()}
    entries: list[JournalEntry] = []
    transactions: list[NewLoanTransaction] = []
    classes: dict[int, str] = {}
    events: list[OutboxEvent] = []
    directions: dict[str, int] = {}
    for loan in locked:
        change = required[loan.id]
        current = LoanClassification(loan.booked_classification)
        target = change.grade.classification
        if current is target:
            continue  # moved meanwhile (a run resumed after a crash, or a person's decision)
        product = await get_product_in(uow, loan.product_id, loan.product_version)
        currency = loan.currency.strip()
        sub = subledger.get(loan.id)
        principal = normalize_amount(max(Decimal(sub.principal), Decimal(0)) if sub is not None else Decimal(0),
                                     currency)
        interest = normalize_amount(max(Decimal(sub.interest), Decimal(0)) if sub is not None
                                    and product.accounting.rule in ACCRUAL_RULES else Decimal(0), currency)
        term = TermBucket(loan.term_bucket or TermBucket.SHORT.value)
        decision = decide_class(current, target, automatic=True, term=term, principal_outstanding=principal,
                                interest_receivable=interest)
        classes[loan.id] = decision.applied.value
        directions[decision.applied.value] = directions.get(decision.applied.value, 0) + 1
        event = decision.movement.event(currency) if decision.movement is not None else None
        if event is not None:
            sequence = int(sub.last_sequence) + 1 if sub is not None else 1
            entry = build_entry(ProductKind.LOAN, product.accounting, event, entry_id=uuid7(), office_id=loan.office_id,
                                value_date=day, actor=actor,
                                description=narrated(f"Reclassement {_LABELS[current]} -> {_LABELS[target]} prêt n° {loan.id}"),
                                reference=Reference(source_type=SOURCE_TYPE, source_id=f"{loan.id}/{sequence}"))
            if entry is not None:
                entries.append(entry)
            transactions.append(NewLoanTransaction(
                loan_id=loan.id, sequence_number=sequence, kind="reclassification", value_date=day, currency=currency,
                amount=principal + interest, principal=principal, interest=interest, classification=target.value,
                journal_entry_id=entry.entry_id if entry is not None else None))
        events.append(OutboxEvent(
            event_type="loan.reclassified", subject_type="loan", subject_id=loan.id, occurred_on=day,
            dedup_key=f"reclassified:loan-{loan.id}:{day.isoformat()}:{current.value}-{target.value}",
            office_id=loan.office_id, payload={
                "loan_id": loan.id, "from": current.value, "to": target.value, "currency": currency,
                "principal": str(principal), "interest": str(interest), "term": term.value,
                "days_overdue": change.state.days_overdue, "bucket": change.grade.bucket_label,
                "status": change.state.status}))
    await insert_transactions(uow, transactions, actor)
    await set_classifications(uow, classes, actor)
    await record_events(uow, events)
    await book_entries(uow, entries)
    return len(entries), directions


_LABELS: Final = {LoanClassification.HEALTHY: "sain", LoanClassification.DOUBTFUL: "en souffrance",
                  LoanClassification.WRITTEN_OFF: "passé en perte"}
