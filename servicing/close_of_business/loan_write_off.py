"""Close-of-business step `loan_write_off`: write off the loans overdue more days than their
product's threshold (`write_off_after_days_overdue`; none set: never by rule).

The candidates are found in one query on the day's `loan_arrears_state` joined to the product
versions' threshold; each is then locked and written off exactly as by hand
(`servicing.loans.write_offs.write_off_locked`: principal against the provision booked, the rest
to losses, surplus provision released, status `written_off`), a batch of loans per transaction.
Idempotent: a written-off loan is no longer active, so a second run finds nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Final

from sqlalchemy import text

from products.loans.write_off import write_off_due
from servicing.close_of_business.model import StepOutcome
from servicing.loans.applications import get_product_in, load_row
from servicing.loans.model import LoanStatus
from servicing.loans.movements import _history
from servicing.loans.write_offs import write_off_locked
from servicing.unit_of_work import UnitOfWorkFactory

WRITE_BATCH: Final = 100

_CANDIDATES = text("""
SELECT l.id, s.days_overdue, CAST(pv.settings ->> 'write_off_after_days_overdue' AS integer) AS threshold
  FROM loan l
  JOIN loan_arrears_state s ON s.loan_id = l.id AND s.business_date = :day
  JOIN product_version pv ON pv.product_id = l.product_id AND pv.version = l.product_version
 WHERE l.status = 'active' AND pv.settings ->> 'write_off_after_days_overdue' IS NOT NULL
   AND s.days_overdue > CAST(pv.settings ->> 'write_off_after_days_overdue' AS integer)
 ORDER BY l.id
""")


async def write_off_loans(uow_factory: UnitOfWorkFactory, day: date, actor: str) -> StepOutcome:
    async with uow_factory() as uow:
        candidates = [row for row in (await uow.session.execute(_CANDIDATES, {"day": day})).all()
                      if write_off_due(row.days_overdue, row.threshold)]
    written = entries = 0
    amount = Decimal(0)
    for start in range(0, len(candidates), WRITE_BATCH):
        async with uow_factory() as uow:
            for candidate in candidates[start:start + WRITE_BATCH]:
                row = await load_row(uow, candidate.id, for_update=True)
                if row.status != LoanStatus.ACTIVE.value:
                    continue  # written off or closed meanwhile
                product = await get_product_in(uow, row.product_id, row.product_version)
                transaction = await write_off_locked(
                    uow, row, product, on=day, actor=actor, history=await _history(uow, row.id), rule="automatic",
                    reason=f"{candidate.days_overdue} jours de retard (seuil du produit : {candidate.threshold})")
                written += 1
                entries += transaction.journal_entry_id is not None
                amount += transaction.amount
            await uow.commit()
    return StepOutcome(items=len(candidates), entries=entries, detail={
        "written_off": str(written), "amount": str(amount), "actor": actor})
