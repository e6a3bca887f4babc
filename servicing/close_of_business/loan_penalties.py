"""Close-of-business step `loan_penalties`: late-payment penalties on overdue instalments.

Runs after `loan_arrears`, over the loans that step found with something overdue, by chunks
of loans locked in id order. For each, the product's penalty (or its amount band's) with its
charge's timing (grace days, once or every N periods, minimum and maximum) is applied to what
the loan still owes at the close of the day (`products.loans.penalties.penalties_due`): each
penalty period of each late instalment falls once. VAT/TAF on penalties is the product's
« taux TVA sur les pénalités » (`vat_on_penalties_percent`), else the penalty charge's own tax
rate (as the schedule's fees take theirs) in force on the penalty's own date, added to what the
borrower owes and collected, and posted, with the repayment.

Each penalty is a loan ``charge`` transaction of the penalty component, due with its
instalment, and a row of `loan_penalty_charge` keyed by (loan, instalment, period): a penalty
already charged is never charged again, even by two runs at once. Under accrual rules the
penalty is recognised now: Dr penalties receivable / Cr penalty income (the charge's own
income account when it has one), one shared entry per office, product version and currency
for the chunk. Every penalty carries its ``PENALTY_CHARGE`` event and the product's posting
rules decide (no list of rules here): the cash table has no penalty charge, so under cash the
penalty is a receivable of the sub-ledger only, income when paid, as a manual penalty is.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Final

import msgspec
from sqlalchemy import text

from products.events import LoanClassification, TermBucket
from products.loans.derivation import amount_band
from products.loans.penalties import PenaltyCharge, PenaltyPolicy, penalties_due
from products.loans.position import remaining_dues
from products.loans.product import LoanProduct, OverduePenalty
from products.reference.model import (
    ChargeAppliesTo,
    ChargeCalculation,
    ChargeDefinition,
    ChargeTime,
    FrequencyUnit,
)
from products.reference.taxes import ChargeTax, charge_tax
from products.rounding import compile_rounding
from servicing.close_of_business.loan_accrual import HISTORY, SCHEDULE_JSON, TERMS_JSON
from servicing.close_of_business.loan_postings import (
    ChunkPostings,
    GroupKey,
    PenaltyKey,
    Posting,
    post_by_chunks,
)
from servicing.close_of_business.model import StepOutcome
from servicing.loans.applications import get_product_in
from servicing.loans.schedules import plain, schedule_on, standing
from servicing.staff.scope import office_set_condition
from servicing.unit_of_work import UnitOfWork, UnitOfWorkFactory

CHUNK_LOANS: Final = 2_000
_ZERO: Final = Decimal(0)

_LATE = f"""
    l.status = 'active' AND l.schedule IS NOT NULL AND l.disbursed_on <= :day
    AND (s.overdue_amount > 0 OR s.days_overdue > 0)
    AND {office_set_condition("l.office_id")}
"""

_LATE_BY_PRODUCT = text(f"""
    SELECT l.product_id, l.product_version, count(*) AS loans
      FROM loan l JOIN loan_arrears_state s ON s.loan_id = l.id WHERE {_LATE} GROUP BY l.product_id, l.product_version
""")
"""The late loans per product version: those of versions that cannot charge a penalty are not read."""

_LOAN_IDS = text(f"""
    SELECT l.id FROM loan l JOIN loan_arrears_state s ON s.loan_id = l.id
     WHERE {_LATE}
       AND (CAST(l.product_id AS text) || ':' || CAST(l.product_version AS text)) <> ALL(CAST(:no_penalty AS text[]))
     ORDER BY l.id
""")

_LOANS = text(f"""
    SELECT l.id, l.office_id, l.product_id, l.product_version, l.currency, CAST(l.terms AS text) AS terms,
           CAST(l.schedule AS text) AS schedule,
           l.booked_classification, l.term_bucket, coalesce(l.principal_approved, l.principal_requested) AS principal
      FROM loan l
      JOIN loan_arrears_state s ON s.loan_id = l.id
     WHERE l.id = ANY(:ids) AND {_LATE}
     ORDER BY l.id
       FOR UPDATE OF l
""")
"""Loans the day's ageing found late: a loan with nothing overdue owes no penalty (their ids
read once, each chunk's loans then by id: see `post_by_chunks`)."""

_CHARGED = text("""
    SELECT loan_id, instalment, period FROM loan_penalty_charge WHERE loan_id = ANY(:ids)
""")

_SEQUENCES = text("""
    SELECT loan_id, max(sequence_number) AS last_sequence FROM loan_transaction WHERE loan_id = ANY(:ids)
     GROUP BY loan_id
""")

_CHARGES = text("""
    SELECT c.id, c.name, c.amount, c.currency, c.amount_min, c.amount_max, c.frequency_every, c.frequency_unit,
           c.grace_days, c.tax_rate_id, t.rate_percent AS tax_percent, t.valid_from AS tax_from,
           t.valid_to AS tax_to, t.active AS tax_active, t.institution_exempt AS tax_exempt
      FROM charge c LEFT JOIN tax_rate t ON t.id = c.tax_rate_id WHERE c.id = :id
""")


def penalty_of(product: LoanProduct, principal: Decimal) -> OverduePenalty | None:
    """The loan's penalty: its amount band's when the band sets one, else the product's."""
    band = amount_band(product, principal) if product.amount_bands else None
    if band is not None and band.overdue_penalty is not None:
        return band.overdue_penalty
    return product.overdue_penalty


class _Policies:
    """Penalty policies per product version and penalty, read once per run. The charge's tax
    comes with its validity (none if the institution is exempt): each penalty is taxed at the
    rate in force on its own date (`PenaltyPolicy.vat_percent_on`), not on the run's day."""

    def __init__(self) -> None:
        self._charges: dict[int, Any] = {}
        self.policies: dict[tuple[int, int, OverduePenalty], PenaltyPolicy] = {}

    async def policy(self, uow: UnitOfWork, key: tuple[int, int], product: LoanProduct,
                     penalty: OverduePenalty) -> PenaltyPolicy:
        if (*key, penalty) in self.policies:
            return self.policies[(*key, penalty)]
        charge: ChargeDefinition | None = None
        vat = product.vat_on_penalties_percent
        tax: ChargeTax | None = None
        if penalty.charge_id is not None:
            if penalty.charge_id not in self._charges:
                self._charges[penalty.charge_id] = (await uow.session.execute(
                    _CHARGES, {"id": penalty.charge_id})).one()
            row = self._charges[penalty.charge_id]
            # Only the timing and limits are read from the charge; the amount is the product's.
            charge = ChargeDefinition(
                name=row.name, applies_to=ChargeAppliesTo.LOAN, charge_time=ChargeTime.OVERDUE_INSTALMENT,
                calculation=ChargeCalculation.FLAT, amount=row.amount, currency=row.currency.strip(),
                amount_min=row.amount_min, amount_max=row.amount_max, is_penalty=True,
                frequency_every=row.frequency_every,
                frequency_unit=FrequencyUnit(row.frequency_unit) if row.frequency_unit else None,
                grace_days=row.grace_days)
            if vat == 0:
                tax = charge_tax(row.tax_percent, valid_from=row.tax_from, valid_to=row.tax_to,
                                 active=bool(row.tax_active), institution_exempt=bool(row.tax_exempt))
        policy = PenaltyPolicy.of(penalty, charge, vat_percent=vat, tax=tax, tolerated_days=product.arrears_tolerance_days,
                                  tolerated_amount=product.arrears_tolerance_amount)
        self.policies[(*key, penalty)] = policy
        return policy


async def charge_penalties(uow_factory: UnitOfWorkFactory, day: date, actor: str, *,
                           chunk_loans: int = CHUNK_LOANS, offices: Sequence[int] | None = None) -> StepOutcome:
    policies = _Policies()
    products: dict[tuple[int, int], LoanProduct] = {}
    penalised = 0
    charged_total = vat_total = _ZERO
    async with uow_factory() as uow:
        late = (await uow.session.execute(_LATE_BY_PRODUCT, {"day": day, "offices": offices})).all()
        for row in late:
            products[(row.product_id, row.product_version)] = await get_product_in(uow, row.product_id,
                                                                                   row.product_version)
    # A loan of a product version with no penalty at all owes none: it is not even read (a version
    # not seen here, late since, is read: `work` loads it).
    no_penalty = [f"{key[0]}:{key[1]}" for key, product in products.items() if not product.may_charge_penalties]

    async def work(uow: UnitOfWork, loans: Sequence[Any]) -> ChunkPostings:
        nonlocal penalised, charged_total, vat_total
        session = uow.session
        penalties: dict[int, OverduePenalty] = {}
        for loan in loans:
            key = (loan.product_id, loan.product_version)
            if key not in products:
                products[key] = await get_product_in(uow, *key)
            if (penalty := penalty_of(products[key], loan.principal)) is not None:
                penalties[loan.id] = penalty
        # A loan whose product (and amount band) has no penalty owes none: its history is not read.
        loans = [loan for loan in loans if loan.id in penalties]
        chunk = ChunkPostings(postings=[], accounting={}, labels={})
        if not loans:
            return chunk
        ids = [loan.id for loan in loans]
        charged: dict[int, set[tuple[int, int]]] = {}
        for row in (await session.execute(_CHARGED, {"ids": ids})).all():
            charged.setdefault(row.loan_id, set()).add((row.instalment, row.period))
        last = {row.loan_id: row.last_sequence for row in (await session.execute(_SEQUENCES, {"ids": ids})).all()}
        history: dict[int, list[Any]] = {}
        for row in (await session.execute(HISTORY, {"ids": ids, "day": day})).all():
            history.setdefault(row.loan_id, []).append(row)
        for loan in loans:
            key = (loan.product_id, loan.product_version)
            product = products[key]
            policy = await policies.policy(uow, key, product, penalties[loan.id])
            currency = loan.currency.strip()
            rows = history.get(loan.id, [])
            schedule = SCHEDULE_JSON.decode(loan.schedule)
            if product.interest_recalculation:  # the schedule as it stands on the day
                schedule = schedule_on(TERMS_JSON.decode(loan.terms), schedule, product, rows, day)
            facts = standing(rows)
            dues = remaining_dues(schedule, facts.settled, facts.charged)
            due = penalties_due(dues, day, policy, compile_rounding(product.rounding, currency),
                                already_charged=charged.get(loan.id, set()))
            if not due:
                continue
            chunk.accounting[key] = product.accounting
            chunk.labels[key] = f"Pénalités de retard, prêts {product.identity.short_name}"
            chunk.postings.extend(_postings(loan, currency, due, last[loan.id], day=day))
            charged_total += sum((c.amount for c in due), _ZERO)
            vat_total += sum((c.vat_amount for c in due), _ZERO)
            penalised += 1
        return chunk

    done = await post_by_chunks(uow_factory, _LOANS, {"offices": offices, "no_penalty": no_penalty}, work,
                                step="loan_penalties", day=day, actor=actor, chunk_loans=chunk_loans,
                                ids_query=_LOAN_IDS)
    return StepOutcome(items=sum(row.loans for row in late), entries=done.entries, detail={
        "loans_penalised": str(penalised), "penalties": str(done.transactions),
        "penalty_amount": str(plain(charged_total)), "vat_amount": str(plain(vat_total))})


def _postings(loan: Any, currency: str, due: Sequence[PenaltyCharge], last_sequence: int, *,
              day: date) -> list[Posting]:
    """One ``charge`` transaction per penalty, keyed by its instalment and period, with its
    ``PENALTY_CHARGE`` event: the product's posting rules decide what it posts (under cash,
    whose table has no penalty charge, nothing: income when paid)."""
    classification = LoanClassification(loan.booked_classification)
    term = TermBucket(loan.term_bucket or TermBucket.SHORT.value)
    group = GroupKey(office_id=loan.office_id, product_id=loan.product_id, product_version=loan.product_version,
                     currency=currency)
    return [Posting(
        loan_id=loan.id, sequence_number=last_sequence + offset, kind="charge", group=group,
        classification=classification, term=term, value_date=day, amount=charge.amount + charge.vat_amount,
        penalty=charge.amount, vat=charge.vat_amount, charge_id=charge.charge_id,
        allocation=tuple(msgspec.to_builtins(line) for line in charge.charged_lines()),
        events=(charge.event(currency, classification=classification, term=term),),
        penalty_key=PenaltyKey(instalment=charge.instalment, period=charge.period, charged_on=charge.charged_on,
                               base=charge.base))
        for offset, charge in enumerate(due, start=1)]
