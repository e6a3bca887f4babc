"""Close-of-business step ``loan_savings``: the mandatory savings of products that save a rate of
each instalment (`products.loans.instalment_savings`) are held on each loan's linked deposit
account, instalment by instalment, for what the repayments paid.

It runs after the day's automatic collection: the instalment is taken from the account first
(the institution is repaid before the borrower saves), then the savings share of what the
instalment received is held on what is left. A repayment at the counter is counted the same
way at the day's close. The money does not move: it is the borrower's, on their account; the
hold takes it out of the available balance until the loan closes, when every hold of the loan
is released (`deposit_link.release_loan_holds`). No journal entry: a hold is not a posting.

Idempotent: each instalment holds what its target lacks, so a second run holds nothing. When
the account's available balance is short, what is there is held and the rest waits for the next
run (reported as ``missing``); a reversed repayment lowers an instalment's target, whose holds
are then released and its target held again. Lock order as everywhere (`deposit_link`): the loan,
then the accounts (the linked one and those holding the loan's holds, ascending id), then the
holds. Releasing the holds before locking the account deadlocked with a hold released by hand
(account, then hold).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import msgspec
from sqlalchemy import text

from products.deposits import AccountBalances, available_balance
from products.loans.instalment_savings import savings_change, savings_targets
from products.loans.requirements import LoanRequirements
from servicing.close_of_business.model import StepOutcome
from servicing.deposits.terms import AccountRules
from servicing.errors import InvalidInput
from servicing.loans import deposit_link
from servicing.loans.applications import get_product_in, load_row
from servicing.loans.schedules import plain
from servicing.staff.scope import office_set_condition
from servicing.unit_of_work import UnitOfWork, UnitOfWorkFactory

_LOANS = text(f"""
    SELECT id FROM loan l
     WHERE status = 'active' AND disbursed_on <= :day
       AND (requirements -> 'mandatory_savings' ->> 'on_total_instalment') = 'true'
       AND {office_set_condition("l.office_id")}
     ORDER BY id
""")
_HELD = text("""
    SELECT s.instalment_number, h.id, h.amount
      FROM loan_savings_hold s JOIN deposit_hold h ON h.id = s.hold_id
     WHERE s.loan_id = :loan_id AND h.released_on IS NULL
""")


class _Tally(msgspec.Struct, kw_only=True):
    held: Decimal = Decimal(0)
    missing: Decimal = Decimal(0)
    holds: int = 0
    without_account: int = 0


async def _save_for(uow: UnitOfWork, loan_id: int, day: date, actor: str, tally: _Tally) -> None:
    from servicing.loans.movements import _history, _paid_lines

    row = await load_row(uow, loan_id, for_update=True)
    if row.status != "active":
        return
    requirements = msgspec.convert(row.requirements, LoanRequirements)
    savings = requirements.mandatory_savings
    assert savings is not None
    account_id = await deposit_link.linked_account(uow, loan_id)
    if account_id is None:
        tally.without_account += 1
        return
    await deposit_link.lock_loan_accounts(uow, [loan_id], also=[account_id])  # before any hold is read or released
    product = await get_product_in(uow, row.product_id, row.product_version)
    currency = row.currency.strip()
    history = [t for t in await _history(uow, loan_id) if t.value_date <= day]
    targets = savings_targets(savings, _paid_lines(history), product.rounding, currency)
    held_rows = (await uow.session.execute(_HELD, {"loan_id": loan_id})).all()
    held: dict[int, Decimal] = {}
    for number, _hold_id, amount in held_rows:
        held[number] = held.get(number, Decimal(0)) + plain(amount)
    change = savings_change(targets, held)
    if change.to_redo:
        await deposit_link.release_loan_holds(uow, loan_id, on=day, actor=actor, hold_ids=[
            hold_id for number, hold_id, _amount in held_rows if number in change.to_redo])
    wanted = {**change.to_hold, **{n: t for n, t in change.to_redo.items() if t > 0}}
    if not wanted:
        return
    try:
        account, _terms = await deposit_link.client_account(uow, account_id, client_id=row.client_id,
                                                            currency=currency)
    except InvalidInput:
        tally.missing += sum(wanted.values(), Decimal(0))
        return  # the account is frozen or closed: nothing can be held on it today
    free = max(Decimal(0), available_balance(
        AccountBalances(ledger_balance=account.balance, on_hold=account.on_hold),
        AccountRules(minimum_balance=account.minimum_balance, overdraft_limit=Decimal(0)).balance_rules()))
    for number, amount in sorted(wanted.items()):
        taken = min(amount, free)
        tally.missing += amount - taken
        if taken <= 0:
            continue
        hold_id = await deposit_link.place_loan_hold(
            uow, account, loan_id, "mandatory_savings", taken, on=day, actor=actor,
            description=f"Épargne obligatoire prêt n° {loan_id} échéance {number}")
        await uow.session.execute(text(
            "INSERT INTO loan_savings_hold (hold_id, loan_id, instalment_number) VALUES (:hold, :loan, :number)"),
            {"hold": hold_id, "loan": loan_id, "number": number})
        free -= taken
        tally.held += taken
        tally.holds += 1


async def hold_instalment_savings(uow_factory: UnitOfWorkFactory, day: date, actor: str, *,
                                  offices: Sequence[int] | None = None) -> StepOutcome:
    """Hold, on each loan's linked account, the savings its instalments' payments justify by ``day``
    (the loans of exactly ``offices`` when given: offices closing the day while others are ahead)."""
    async with uow_factory() as uow:
        loan_ids = [int(i) for i in (await uow.session.scalars(_LOANS, {"day": day, "offices": offices})).all()]
    tally = _Tally()
    for loan_id in loan_ids:
        async with uow_factory() as uow:
            await _save_for(uow, loan_id, day, actor, tally)
            await uow.commit()
    detail = {"held": str(tally.held), "holds": str(tally.holds), "missing": str(tally.missing)}
    if tally.without_account:
        detail["without_account"] = str(tally.without_account)
    return StepOutcome(items=len(loan_ids), entries=0, detail=detail)
