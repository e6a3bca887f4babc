"""The accrual true-up a settlement posts in its own transaction (accrual rules).

A repayment's interest and fees credit the receivables (posting rules of the accrual rules),
and so does a waiver. What they settle beyond what the close of business had recognised —
interest paid ahead of its accrual, a payoff of a loan that does not recalculate (it pays
the schedule's interest, earned or not), interest withheld on a non-performing loan, a fee
paid before its due date — would leave the receivable in credit. So, in the same database
transaction as the settlement, as Fineract-class systems do at loan closure:

* an open loan recognises what was settled beyond its receivable (it is collected: cash,
  `products.loans.accrual.recognised_on_collection`);
* a loan the settlement closes has every receivable brought to exactly zero: what was settled
  beyond it recognised, what was recognised and will never be paid taken back.

Interest is recognised, or taken back, by the event the product's rule table recognises it with
(`products.posting_rules.LOAN_INTEREST_RECOGNITION`): the night's accrual under accrual periodic,
the disbursement's interest under upfront accrual, whose table has no interest accrual. So a
recalculated early payoff of an upfront loan (it pays interest to the day, less than the
schedule's interest recognised at disbursement) takes the unearned rest back by the mirror of
the disbursement's interest line (Dr interest income / Cr interest receivable), as the table
maps it: a table crediting a deferral at disbursement would debit that deferral instead.

The pure rule is `products.loans.accrual.true_up_on_settlement`. What it posts is an ordinary
``accrual`` (or ``accrual_adjustment``) loan transaction, written as the close of business
writes its own (`loan_postings.write_postings`: an entry per office, product version and
currency, the loan's share kept), with `loan_accrual_total` moved with it; the close of
business's target never falls below what settlements took off the receivables, so the next
night posts nothing more. A reversal that reopens a loan leaves the true-up standing: the
interest recognised is owed again, and the next close takes back what its target no longer
holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Final

import msgspec
from sqlalchemy import select, text

from products.loans.accrual import fees_falling_due, true_up_on_settlement
from products.loans.model import Schedule
from products.loans.product import LoanProduct
from products.posting_rules import LOAN_INTEREST_RECOGNITION, Component, EventKind, ProductKind, rule_table
from products.reference.db.tables import ChargeRow
from servicing.close_of_business.loan_accrual import Target, postings_for
from servicing.close_of_business.loan_postings import Posting, write_postings
from servicing.loans.reconciliation import SUBLEDGER_BY_LOAN_SQL
from servicing.unit_of_work import UnitOfWork

STEP: Final = "settlement_true_up"
"""Names the true-up's entries (`loan-close-of-business` reference ``settlement_true_up:...``)."""
_ZERO: Final = Decimal(0)

_RECEIVABLES = text(f"""
    SELECT s.loan_id, s.interest, s.fee, s.last_sequence, coalesce(a.interest, 0) AS interest_accrued,
           coalesce(a.fee, 0) AS fee_accrued
      FROM ({SUBLEDGER_BY_LOAN_SQL}) s LEFT JOIN loan_accrual_total a ON a.loan_id = s.loan_id
""")

_ADD_TO_TOTALS = text("""
    INSERT INTO loan_accrual_total AS a (loan_id, interest, fee, through)
    SELECT * FROM unnest(CAST(:loans AS int[]), CAST(:interest AS numeric[]), CAST(:fees AS numeric[]),
                         CAST(:dates AS date[]))
    ON CONFLICT (loan_id) DO UPDATE
       SET interest = a.interest + EXCLUDED.interest, fee = a.fee + EXCLUDED.fee,
           through = greatest(a.through, EXCLUDED.through), updated_at = now()
""")


class Settlement(msgspec.Struct, frozen=True, kw_only=True):
    """A repayment or waiver just written on a locked loan (its row already inserted)."""

    loan: Any
    """The loan's row: id, office_id, product_id, product_version, currency, booked_classification,
    term_bucket."""
    product: LoanProduct
    schedule: Schedule
    interest: Decimal
    """Interest the settlement paid or forgave."""
    fee: Decimal
    closes: bool
    value_date: date


def _postable(product: LoanProduct) -> tuple[EventKind | None, bool]:
    """The event by which the product's posting rules recognise interest as receivable (None:
    none does, cash) and whether they recognise fees by a charge: read from its rule table.
    Accrual periodic recognises interest by the night's accrual, upfront by the disbursement:
    the true-up posts by that same event, so a recalculated payoff of an upfront loan takes its
    unearned interest back from what the disbursement credited."""
    table = rule_table(ProductKind.LOAN, product.accounting.rule)
    return (LOAN_INTEREST_RECOGNITION.get(product.accounting.rule),
            (EventKind.FEE_CHARGE, Component.FEE) in table)


def _recognised_by(posting: Posting, event_kind: EventKind) -> Posting:
    """The accrual posting with its interest event recognised by ``event_kind`` (the rule's own)."""
    if event_kind is EventKind.INTEREST_ACCRUAL:
        return posting
    return msgspec.structs.replace(posting, events=tuple(
        msgspec.structs.replace(ev, kind=event_kind) if ev.kind is EventKind.INTEREST_ACCRUAL else ev
        for ev in posting.events))


async def true_up_settlements(uow: UnitOfWork, settlements: Sequence[Settlement], *, actor: str) -> list[Posting]:
    """Post the true-up of each settlement (read after its row is written, in the caller's unit
    of work; the caller commits). Answers the postings written."""
    wanted = [s for s in settlements if any(p for p in _postable(s.product))]
    if not wanted:
        return []
    session = uow.session
    found = {row.loan_id: row for row in (await session.execute(
        _RECEIVABLES, {"ids": sorted({s.loan.id for s in wanted})})).all()}
    charges: dict[tuple[int, int], dict[str, int]] = {}
    postings: list[Posting] = []
    accounting: dict[tuple[int, int], Any] = {}
    labels: dict[tuple[int, int], str] = {}
    moved: dict[int, tuple[Decimal, Decimal, date]] = {}
    for settlement in wanted:
        loan, product = settlement.loan, settlement.product
        interest_event, fee_posts = _postable(product)
        interest_posts = interest_event is not None
        row = found[loan.id]
        # The row read includes the settlement: the receivable just before it adds it back.
        before = (Decimal(row.interest) + settlement.interest, Decimal(row.fee) + settlement.fee)
        true_up = true_up_on_settlement(receivable=before, settled=(settlement.interest, settlement.fee),
                                        closes=settlement.closes)
        accrued = (Decimal(row.interest_accrued), Decimal(row.fee_accrued))
        target = Target(interest=accrued[0] + (true_up.interest if interest_posts else _ZERO),
                        fee=accrued[1] + (true_up.fee if fee_posts else _ZERO))
        if target.interest == accrued[0] and target.fee == accrued[1]:
            continue
        key = (loan.product_id, loan.product_version)
        if key not in charges:
            charges[key] = {name[:80]: charge_id for name, charge_id in (await session.execute(
                select(ChargeRow.name, ChargeRow.id).where(ChargeRow.id.in_(product.charge_ids)))).all()}
        accounting[key] = product.accounting
        labels[key] = f"Régularisation des intérêts et frais constatés au règlement, prêts {product.identity.short_name}"
        made = postings_for(loan, loan.currency.strip(), target, accrued, int(row.last_sequence), charges[key],
                            fees_falling_due(settlement.schedule, after=date.min, through=date.max),
                            settlement.value_date)
        assert interest_event is not None or all(p.interest == 0 for p in made)
        postings.extend(_recognised_by(p, interest_event) if interest_event is not None else p for p in made)
        moved[loan.id] = (target.interest - accrued[0], target.fee - accrued[1], settlement.value_date)
    if not postings:
        return []
    by_day: dict[date, list[Posting]] = {}
    for posting in postings:
        by_day.setdefault(posting.value_date, []).append(posting)
    for value_date, dated in sorted(by_day.items()):
        await write_postings(uow, dated, accounting, step=STEP, day=value_date, actor=actor, labels=labels)
    await session.execute(_ADD_TO_TOTALS, {
        "loans": list(moved), "interest": [m[0] for m in moved.values()], "fees": [m[1] for m in moved.values()],
        "dates": [m[2] for m in moved.values()]})
    return postings
