"""Reminders and follow-ups a closed business day announces (issue 9, item 9): an instalment
falls due within the product's notice, an instalment is overdue, a loan has been overdue long
enough to go on its loan officer's follow-up list.

Each reminder names the fact it announces (`dedup_key`), so the close of business may compute
the reminders of every day and the outbox keeps each fact once: the notice of instalment 3
computed on each of the three days before it falls due is sent once; a new due date (after a
tranche or a rescheduling) is a new fact. Pure: the service turns reminders into outbox events
(`servicing.outbox.OutboxEvent`) in the transaction that closes the loan's day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

import msgspec

from products.loans.arrears import Arrears
from products.loans.position import InstalmentPosition

DAYS_BEFORE_DUE_DEFAULT = 3


class ReminderKind(StrEnum):
    INSTALMENT_DUE_SOON = "instalment.due_soon"
    INSTALMENT_OVERDUE = "instalment.overdue"
    FOLLOW_UP = "loan.follow_up"
    """A task for the loan officer: the loan is overdue past its product's follow-up threshold
    (`LoanProduct.follow_up_days_overdue`), else the institution's."""


class Reminder(msgspec.Struct, frozen=True, kw_only=True):
    kind: ReminderKind
    loan_id: int
    instalment: int | None
    due_date: date | None
    amount: Decimal
    """What the client owes for it: the instalment's unpaid amount, or the loan's overdue total."""
    days_overdue: int
    dedup_key: str


def reminders_for(loan_id: int, instalments: Sequence[InstalmentPosition], arrears: Arrears, on: date, *,
                  days_before_due: int = DAYS_BEFORE_DUE_DEFAULT,
                  follow_up_after_days: int | None = None) -> list[Reminder]:
    """The reminders of the close of `on`, in a stable order: notices, overdue instalments,
    then the follow-up task."""
    assert days_before_due >= 0, days_before_due
    unpaid = sorted((i for i in instalments if i.outstanding > 0), key=lambda i: (i.due_date, i.number))
    reminders = [
        Reminder(kind=ReminderKind.INSTALMENT_DUE_SOON, loan_id=loan_id, instalment=i.number, due_date=i.due_date,
                 amount=i.outstanding, days_overdue=0,
                 dedup_key=f"instalment_due:loan-{loan_id}:{i.number}:{i.due_date.isoformat()}")
        for i in unpaid if 0 < (i.due_date - on).days <= days_before_due]
    if arrears.ageing_instalment is not None:  # overdue beyond the tolerated amount
        start = next(i for i in unpaid if i.number == arrears.ageing_instalment)
        reminders += [
            Reminder(kind=ReminderKind.INSTALMENT_OVERDUE, loan_id=loan_id, instalment=i.number, due_date=i.due_date,
                     amount=i.outstanding, days_overdue=(on - i.due_date).days,
                     dedup_key=f"instalment_overdue:loan-{loan_id}:{i.number}:{i.due_date.isoformat()}")
            for i in unpaid if start.due_date <= i.due_date < on]
        if (follow_up := follow_up_reminder(loan_id, arrears, follow_up_after_days)) is not None:
            reminders.append(follow_up)
    return reminders


def follow_up_reminder(loan_id: int, arrears: Arrears, follow_up_after_days: int | None) -> Reminder | None:
    """The loan officer's follow-up task, once the loan is overdue ``follow_up_after_days``.
    One task per arrears episode: the episode is named by the instalment it ages from (due
    ``days_overdue`` days before the close)."""
    if arrears.ageing_instalment is None or follow_up_after_days is None or arrears.days_overdue < follow_up_after_days:
        return None
    due_date = arrears.as_of - timedelta(days=arrears.days_overdue)
    return Reminder(kind=ReminderKind.FOLLOW_UP, loan_id=loan_id, instalment=arrears.ageing_instalment,
                    due_date=due_date, amount=arrears.overdue_amount, days_overdue=arrears.days_overdue,
                    dedup_key=f"follow_up:loan-{loan_id}:{arrears.ageing_instalment}:{due_date.isoformat()}")
