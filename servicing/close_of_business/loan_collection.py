"""Close-of-business step `loan_collection`: the automatic collection of the day
(`servicing.loans.collection.collect`, idempotent per date), then one outbox event per
insufficient-funds shortfall of that date, for the alerts (issue M7.2).

The shortfalls are read back from `loan_collection` and announced with the loans locked, so a
run resumed after a crash announces the ones it had not announced yet, and only those (the
event's key is the loan and the date)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import text

from ledger.money import normalize_amount
from servicing.close_of_business.model import StepOutcome
from servicing.loans.collection import collect
from servicing.outbox import OutboxEvent, record_events
from servicing.staff.scope import OfficeScope, office_set_condition
from servicing.unit_of_work import UnitOfWorkFactory

_SHORTFALLS = text(f"""
    SELECT f.event_id, f.loan_id, f.deposit_account_id, f.currency, f.amount_due, f.amount_collected,
           f.amount_missing, f.reason, l.office_id
      FROM loan_insufficient_funds f JOIN loan l ON l.id = f.loan_id
     WHERE f.collection_date = :on
       AND {office_set_condition("l.office_id")}
     ORDER BY f.loan_id
       FOR UPDATE OF l
""")


async def collect_loans(uow_factory: UnitOfWorkFactory, day: date, actor: str,
                        scope: OfficeScope | None = None) -> StepOutcome:
    """Collect the day's dues of the loans of the scope (exactly its offices; None: the
    institution) and announce their shortfalls."""
    offices = None if scope is None or scope.whole_institution else sorted(scope.office_ids)
    summary = await collect(uow_factory, day, actor=actor, today=day, offices=offices)
    async with uow_factory() as uow:
        rows = (await uow.session.execute(_SHORTFALLS, {"on": day, "offices": offices})).all()
        announced = await record_events(uow, [OutboxEvent(
            event_type="loan.insufficient_funds", subject_type="loan", subject_id=r.loan_id, occurred_on=day,
            dedup_key=f"insufficient_funds:loan-{r.loan_id}:{day.isoformat()}", office_id=r.office_id,
            payload={"loan_id": r.loan_id, "deposit_account_id": r.deposit_account_id,
                     "currency": r.currency.strip(), "reason": r.reason,
                     **{name: str(normalize_amount(getattr(r, name), r.currency.strip()))
                        for name in ("amount_due", "amount_collected", "amount_missing")}}) for r in rows])
        await uow.commit()
    return StepOutcome(items=summary.loans_seen, entries=summary.loans_collected_in_full
                       + summary.loans_collected_in_part, detail={
        "collected": str(summary.amount_collected), "missing": str(summary.amount_missing),
        "shortfalls": str(summary.shortfalls), "alerts": str(announced)})
