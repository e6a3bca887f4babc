"""Close-of-business step `loan_write_off`: write off the loans overdue more days than their
product's threshold (`write_off_after_days_overdue`; none set: never by rule).

The candidates are found in one query on the day's `loan_arrears_state` joined to the product
versions' threshold; each is then locked and written off exactly as by hand
(`servicing.loans.write_offs.write_off_locked`: guarantees applied, principal against the
provision booked, the rest to losses, surplus provision released, status `written_off`), a batch
of loans per transaction. Lock order: the batch's loans (ascending id), then the deposit accounts
holding their guarantees (ascending id), all before the first write-off, as repayments and the
collection lock (`write_offs.lock_for_write_off`): concurrent counter repayments and deposit
withdrawals on those accounts wait for the batch, never deadlock with it.
Idempotent: a written-off loan is no longer active, so a second run finds nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Final

from sqlalchemy import text

from products.loans.write_off import write_off_due
from servicing.close_of_business.model import StepOutcome
from servicing.loans.applications import get_product_in, load_row
from servicing.loans.model import LoanStatus
from servicing.loans.movements import _history
from servicing.loans.write_offs import lock_for_write_off, write_off_locked
from servicing.staff.scope import office_set_condition
from servicing.unit_of_work import UnitOfWorkFactory

WRITE_BATCH: Final = 100

_THRESHOLDS = text("""
SELECT v.product_id, v.version, CAST(v.settings ->> 'write_off_after_days_overdue' AS integer) AS threshold
  FROM product_version v JOIN product p ON p.id = v.product_id
 WHERE p.kind = 'loan' AND v.settings ->> 'write_off_after_days_overdue' IS NOT NULL
""")
"""The product versions that write off by rule (a handful of rows: no loan is read when none does)."""

_CANDIDATES = text(f"""
SELECT l.id, s.days_overdue, t.threshold
  FROM unnest(CAST(:products AS int[]), CAST(:versions AS int[]), CAST(:thresholds AS int[]))
       AS t (product_id, version, threshold)
  JOIN loan l ON l.product_id = t.product_id AND l.product_version = t.version AND l.status = 'active'
  JOIN loan_arrears_state s ON s.loan_id = l.id AND s.business_date = :day AND s.days_overdue > t.threshold
 WHERE {office_set_condition("l.office_id")}
 ORDER BY l.id
""")


async def write_off_loans(uow_factory: UnitOfWorkFactory, day: date, actor: str, *,
                          offices: Sequence[int] | None = None) -> StepOutcome:
    async with uow_factory() as uow:
        rules = (await uow.session.execute(_THRESHOLDS)).all()
        candidates = [] if not rules else [
            row for row in (await uow.session.execute(_CANDIDATES, {
                "day": day, "offices": offices, "products": [r.product_id for r in rules], "versions": [r.version for r in rules],
                "thresholds": [r.threshold for r in rules]})).all()
            if write_off_due(row.days_overdue, row.threshold)]
    written = entries = 0
    amount = Decimal(0)
    for start in range(0, len(candidates), WRITE_BATCH):
        batch = candidates[start:start + WRITE_BATCH]
        async with uow_factory() as uow:
            # Every loan of the batch, then every guarantee account, before anything is written.
            await lock_for_write_off(uow, [candidate.id for candidate in batch])
            for candidate in batch:
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
