"""Close-of-business step `loan_arrears`: age every active loan at the close of the day.

For each loan disbursed on or before the day, by chunks of loans locked in id order: the
position from its schedule and the transactions value-dated up to the day, its arrears
(`products.loans.arrears.age_arrears`: tolerance, days to arrears and to NPA, the NPA exit
rule against yesterday's status), its grade on the delinquency grid (bucket, class, provision
rate), and the reminders of the day (`products.loans.reminders`) written to the outbox in the
same transaction. The result is kept in `loan_arrears_state` for the portfolio-at-risk,
ageing and arrears reports. Posts no journal entry: reclassification and provisioning post
from this state. Idempotent: a second run writes the same state and the outbox keeps each
reminder once."""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal
from typing import Any, Final

import msgspec
from sqlalchemy import text

from products.loans.arrears import ArrearsPolicy, ArrearsStatus, age_arrears
from products.loans.classification import grade, grid_kind
from products.loans.model import Schedule
from products.loans.product import LoanProduct
from products.loans.reminders import DAYS_BEFORE_DUE_DEFAULT, reminders_for
from products.loans.terms import LoanTerms
from products.posting_rules import Component
from products.reference.model import BucketKind, DelinquencyBucket, LoanState
from servicing.close_of_business.model import StepOutcome
from servicing.loans.applications import get_product_in
from servicing.loans.movements import position_from_history
from servicing.outbox import OutboxEvent, record_events
from servicing.reference import buckets
from servicing.unit_of_work import UnitOfWorkFactory

CHUNK_LOANS: Final = 500
FOLLOW_UP_DAYS_DEFAULT: Final = 30


def follow_up_after_days() -> int | None:
    """Days overdue after which a loan goes on its officer's follow-up list
    (GRANDLIVRE_FOLLOW_UP_DAYS; 0 turns the list off)."""
    days = int(os.environ.get("GRANDLIVRE_FOLLOW_UP_DAYS", FOLLOW_UP_DAYS_DEFAULT))
    return days or None


def reminder_days_before_due() -> int:
    """GRANDLIVRE_REMINDER_DAYS: the notice before a due date (default 3)."""
    return int(os.environ.get("GRANDLIVRE_REMINDER_DAYS", DAYS_BEFORE_DUE_DEFAULT))


_LOANS = text("""
    SELECT l.id, l.office_id, l.product_id, l.product_version, l.currency, l.terms, l.schedule, c.loan_officer,
           l.rescheduled_on,
           s.status AS previous_status, s.business_date AS previous_date
      FROM loan l
      LEFT JOIN client c ON c.id = l.client_id
      LEFT JOIN loan_arrears_state s ON s.loan_id = l.id
     WHERE l.status = 'active' AND l.schedule IS NOT NULL AND l.disbursed_on <= :day AND l.id > :after
     ORDER BY l.id LIMIT :limit
       FOR UPDATE OF l
""")

_TRANSACTIONS = text("""
    SELECT loan_id, id, kind, reverses_transaction_id, allocation, value_date, principal
      FROM loan_transaction WHERE loan_id = ANY(:ids) AND value_date <= :day ORDER BY loan_id, sequence_number
""")

_STATE = text("""
    INSERT INTO loan_arrears_state AS s (loan_id, business_date, days_overdue, overdue_amount, overdue_principal,
                                         outstanding_principal, ageing_instalment, status, bucket_label,
                                         classification, provision_rate_percent)
    SELECT * FROM unnest(CAST(:loans AS int[]), CAST(:dates AS date[]), CAST(:days AS int[]),
                         CAST(:overdue AS numeric[]), CAST(:overdue_principal AS numeric[]),
                         CAST(:outstanding AS numeric[]), CAST(:ageing AS int[]), CAST(:statuses AS text[]),
                         CAST(:buckets AS text[]), CAST(:classes AS text[]), CAST(:rates AS numeric[]))
    ON CONFLICT (loan_id) DO UPDATE
       SET business_date = EXCLUDED.business_date, days_overdue = EXCLUDED.days_overdue,
           overdue_amount = EXCLUDED.overdue_amount, overdue_principal = EXCLUDED.overdue_principal,
           outstanding_principal = EXCLUDED.outstanding_principal, ageing_instalment = EXCLUDED.ageing_instalment,
           status = EXCLUDED.status, bucket_label = EXCLUDED.bucket_label, classification = EXCLUDED.classification,
           provision_rate_percent = EXCLUDED.provision_rate_percent, updated_at = now()
     WHERE s.business_date <= EXCLUDED.business_date
""")

_SAFETY_GRID: Final = (DelinquencyBucket(label="Sans grille", days_overdue_min=0, days_overdue_max=None,
                                         loan_state=LoanState.HEALTHY, provision_rate_percent=Decimal(0)),)
"""Used only when no loan grid is configured: every loan healthy at 0 %, bucket named as such."""


async def loan_grid(uow_factory: UnitOfWorkFactory, kind: BucketKind = BucketKind.LOAN
                    ) -> tuple[DelinquencyBucket, ...]:
    """A delinquency grid in force (read once per run, not per chunk). The rescheduled-loans
    grid falls back to the loans' when none is configured (`classification.grade`)."""
    stored = await buckets.list_buckets(uow_factory(), kind)
    found = tuple(found.bucket for found in stored)
    if not found and kind is not BucketKind.LOAN:
        return await loan_grid(uow_factory)
    return found or _SAFETY_GRID


async def age_loans(uow_factory: UnitOfWorkFactory, day: date, actor: str) -> StepOutcome:
    notice, follow_up = reminder_days_before_due(), follow_up_after_days()
    grids = {kind: await loan_grid(uow_factory, kind) for kind in (BucketKind.LOAN, BucketKind.RESCHEDULED_LOAN)}
    products: dict[tuple[int, int], tuple[LoanProduct, ArrearsPolicy]] = {}
    aged = reminders = 0
    per_status: dict[str, int] = {}
    after = 0
    while True:
        async with uow_factory() as uow:
            session = uow.session
            loans = (await session.execute(_LOANS, {"day": day, "after": after, "limit": CHUNK_LOANS})).all()
            if not loans:
                break
            history: dict[int, list[Any]] = {}
            for row in (await session.execute(_TRANSACTIONS, {"ids": [r.id for r in loans], "day": day})).all():
                history.setdefault(row.loan_id, []).append(row)
            columns: dict[str, list[Any]] = {name: [] for name in (
                "loans", "dates", "days", "overdue", "overdue_principal", "outstanding", "ageing", "statuses",
                "buckets", "classes", "rates")}
            events: list[OutboxEvent] = []
            for loan in loans:
                key = (loan.product_id, loan.product_version)
                if key not in products:
                    product = await get_product_in(uow, *key)
                    products[key] = (product, ArrearsPolicy.of(product))
                product, policy = products[key]
                rows = history.get(loan.id, [])
                _schedule, position = position_from_history(
                    msgspec.convert(loan.terms, LoanTerms), msgspec.convert(loan.schedule, Schedule), product, rows, day)
                previous = (ArrearsStatus(loan.previous_status)
                            if loan.previous_status is not None and loan.previous_date < day else ArrearsStatus.PERFORMING)
                arrears = age_arrears(position.instalments, day, policy, previous_status=previous)
                # A rescheduled loan is graded on the rescheduled-loans grid for the rest of its life.
                grid = grids[grid_kind(overdraft=False, rescheduled=loan.rescheduled_on is not None)]
                loan_grade = grade(arrears.days_overdue, grid,
                                   non_performing=arrears.status is ArrearsStatus.NON_PERFORMING)
                principal = position.component(Component.PRINCIPAL)
                for name, value in (("loans", loan.id), ("dates", day), ("days", arrears.days_overdue),
                                    ("overdue", arrears.overdue_amount), ("overdue_principal", principal.overdue),
                                    ("outstanding", principal.outstanding), ("ageing", arrears.ageing_instalment),
                                    ("statuses", arrears.status.value), ("buckets", loan_grade.bucket_label),
                                    ("classes", loan_grade.classification.value),
                                    ("rates", loan_grade.provision_rate_percent)):
                    columns[name].append(value)
                per_status[arrears.status.value] = per_status.get(arrears.status.value, 0) + 1
                for reminder in reminders_for(loan.id, position.instalments, arrears, day, days_before_due=notice,
                                              follow_up_after_days=follow_up):
                    events.append(OutboxEvent(
                        event_type=reminder.kind.value, subject_type="loan", subject_id=loan.id, occurred_on=day,
                        dedup_key=reminder.dedup_key, office_id=loan.office_id, payload={
                            "loan_id": loan.id, "instalment": reminder.instalment,
                            "due_date": reminder.due_date.isoformat() if reminder.due_date else None,
                            "amount": str(reminder.amount), "currency": loan.currency.strip(),
                            "days_overdue": reminder.days_overdue, "loan_officer": loan.loan_officer}))
            await session.execute(_STATE, columns)
            reminders += await record_events(uow, events)
            await uow.commit()
        aged += len(loans)
        after = loans[-1].id
    return StepOutcome(items=aged, entries=0, detail={
        **{f"loans_{status}": str(count) for status, count in sorted(per_status.items())},
        "reminders": str(reminders), "actor": actor})
