"""Close-of-business step `loan_provisioning`: the provision each loan requires against what is
booked for it, and the difference posted.

Per loan (`products.loans.provisioning`): base = outstanding principal (plus the interest
receivable when the product says `provision_includes_interest`, under accrual rules) less the
guarantee deposits held for the loan, never below zero; required = base x the rate of the
loan's bucket (the day's `loan_arrears_state`, as graded by `loan_classification`), rounded the
product's way. `provision_movements` turns the gap with the provision booked (the sum of the
loan's rows in `loan_provision_movement`) into an allowance or a release under the loan's booked
class, after releasing what is still booked under a class it has left. A loan closed (fully
repaid) requires nothing: its provision is released.

Entries: the per-loan movements are summed into one entry per office x product version x
currency x class x term x kind (allowance: Dr provision expense / Cr provisions; release:
Dr provisions / Cr reversal income), so a day posts a handful of entries however many loans
move; each loan's movement is a row naming its entry. Only loans whose provision changes
produce rows.

Reading is set-based by chunks without locks; the loans that move are then locked (id order),
their booked provisions read again under the lock, and everything is written in one
transaction: a run cut off before the commit wrote nothing, and the next run computes the same
movements. Idempotent: a second run finds booked = required."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Final

import msgspec
from sqlalchemy import text

from ledger.model import JournalEntry, Reference
from products.accounting import build_entry
from products.events import LoanClassification, TermBucket
from products.loans.product import LoanProduct
from products.loans.provisioning import (
    ProvisionMovement,
    provision_base,
    provision_movements,
    required_provision,
)
from products.posting_rules import AccountingRule, EventKind, ProductKind
from products.rounding import compile_rounding
from servicing.close_of_business.model import StepOutcome
from servicing.close_of_business.narration import narrated
from servicing.close_of_business.selection import LOAN_CLOSED_BY_DAY
from servicing.ids import uuid7
from servicing.journal import book_entries
from servicing.loans.applications import get_product_in
from servicing.loans.provision_release import provisions_interest
from servicing.loans.provisions import (
    ProvisionMovementRow,
    booked_provisions,
    guarantee_deposits,
    record_movements,
)
from servicing.loans.reconciliation import SUBLEDGER_BY_LOAN_SQL
from servicing.staff.scope import office_set_condition
from servicing.unit_of_work import UnitOfWork, UnitOfWorkFactory

READ_CHUNK: Final = 20_000
SOURCE_TYPE: Final = "loan-provisioning"
MOVEMENT_KINDS: Final = {EventKind.PROVISION: "allowance", EventKind.PROVISION_REVERSAL: "release"}

_ACTIVE = text(f"""
SELECT l.id, l.status, l.office_id, l.product_id, l.product_version, l.currency, l.booked_classification,
       l.term_bucket,
       s.outstanding_principal, s.provision_rate_percent, s.bucket_label
  FROM loan_arrears_state s JOIN loan l ON l.id = s.loan_id
 WHERE s.business_date = :day AND s.loan_id > :after AND l.status = 'active'
   AND {office_set_condition("l.office_id")}
   AND (s.provision_rate_percent > 0 OR EXISTS (SELECT 1 FROM loan_provision_movement m WHERE m.loan_id = s.loan_id))
   AND (CAST(:loans AS int[]) IS NULL OR l.id = ANY(CAST(:loans AS int[])))
 ORDER BY s.loan_id LIMIT :limit
""")
"""The day's aged loans that may require or hold a provision (a zero rate and nothing ever booked
requires nothing: most loans, never read)."""

_LEFT_PORTFOLIO = text(f"""
SELECT l.id, l.status, l.office_id, l.product_id, l.product_version, l.currency, l.booked_classification,
       l.term_bucket,
       0 AS outstanding_principal, 0 AS provision_rate_percent, NULL AS bucket_label
  FROM loan l
 WHERE {LOAN_CLOSED_BY_DAY} AND {office_set_condition("l.office_id")} AND EXISTS (
       SELECT 1 FROM loan_provision_movement m WHERE m.loan_id = l.id
        GROUP BY m.loan_id HAVING sum(CASE m.kind WHEN 'allowance' THEN m.amount ELSE -m.amount END) <> 0)
   AND (CAST(:loans AS int[]) IS NULL OR l.id = ANY(CAST(:loans AS int[])))
 ORDER BY l.id
""")

_LOCK = text("SELECT id, status, booked_classification FROM loan WHERE id = ANY(CAST(:ids AS int[]))"
             " ORDER BY id FOR UPDATE")


class _Required(msgspec.Struct, frozen=True, kw_only=True):
    loan: Any
    required: Decimal


async def provision_loans(uow_factory: UnitOfWorkFactory, day: date, actor: str, *,
                          offices: Sequence[int] | None = None, loans: Sequence[int] | None = None) -> StepOutcome:
    """``loans``: only these loans (a restatement's, `servicing.close_of_business.per_loan`)."""
    only = None if loans is None else list(loans)
    products: dict[tuple[int, int], LoanProduct] = {}
    moving: list[_Required] = []
    seen = 0
    after = 0
    async with uow_factory() as uow:
        while True:
            loans = (await uow.session.execute(_ACTIVE, {"day": day, "after": after, "limit": READ_CHUNK,
                                                                  "offices": offices, "loans": only})).all()
            if not loans:
                break
            seen += len(loans)
            after = loans[-1].id
            moving += await _requirements(uow, loans, products)
        closed = (await uow.session.execute(_LEFT_PORTFOLIO, {"offices": offices, "loans": only, "day": day})).all()
        moving += await _requirements(uow, closed, products)
    if not moving:
        return StepOutcome(items=seen, entries=0, detail={"loans_moved": "0", "actor": actor})
    async with uow_factory() as uow:
        rows, entries = await _post(uow, moving, products, day, actor)
        await uow.commit()
    allowance = sum((r.amount for r in rows if r.kind == "allowance"), Decimal(0))
    release = sum((r.amount for r in rows if r.kind == "release"), Decimal(0))
    return StepOutcome(items=seen + len(closed), entries=entries, detail={
        "loans_moved": str(len({r.loan_id for r in rows})), "allowance": str(allowance), "release": str(release),
        "actor": actor})


async def required_provisions(uow: UnitOfWork, loans: Sequence[Any], products: dict[tuple[int, int], LoanProduct],
                              booked: dict[int, dict[LoanClassification, Decimal]]) -> dict[int, Decimal]:
    """The provision each loan requires (loans of products without accounting left out; a loan
    with a zero rate and nothing booked is skipped: it requires 0 and moves nothing). The rows
    carry id, product, currency, outstanding principal and rate (`_ACTIVE`)."""
    candidates = [loan for loan in loans if loan.provision_rate_percent > 0 or loan.id in booked]
    if not candidates:
        return {}
    held = await guarantee_deposits(uow, [loan.id for loan in candidates])
    for loan in candidates:
        key = (loan.product_id, loan.product_version)
        if key not in products:
            products[key] = await get_product_in(uow, *key)
    with_interest = [loan.id for loan in candidates if provisions_interest(products[(loan.product_id,
                                                                                     loan.product_version)])]
    interest: dict[int, Decimal] = {}
    if with_interest:
        for row in (await uow.session.execute(text(SUBLEDGER_BY_LOAN_SQL), {"ids": with_interest})).all():
            interest[row.loan_id] = max(Decimal(row.interest), Decimal(0))
    required: dict[int, Decimal] = {}
    for loan in candidates:
        product = products[(loan.product_id, loan.product_version)]
        if product.accounting.rule is AccountingRule.NONE:
            continue
        rounder = compile_rounding(product.rounding, loan.currency.strip())
        base = provision_base(principal_outstanding=Decimal(loan.outstanding_principal),
                              interest_receivable=interest.get(loan.id, Decimal(0)),
                              include_interest=loan.id in interest, guarantee_deposits=held.get(loan.id, Decimal(0)))
        required[loan.id] = required_provision(base, Decimal(loan.provision_rate_percent), rounder)
    return required


async def _requirements(uow: UnitOfWork, loans: Sequence[Any],
                        products: dict[tuple[int, int], LoanProduct]) -> list[_Required]:
    """The loans of a chunk whose provision must move, with what each requires."""
    booked = await booked_provisions(uow, [loan.id for loan in loans])
    required = await required_provisions(uow, loans, products, booked)
    return [_Required(loan=loan, required=required[loan.id]) for loan in loans if loan.id in required
            and provision_movements(booked.get(loan.id, {}), required[loan.id],
                                    LoanClassification(loan.booked_classification))]


async def _post(uow: UnitOfWork, moving: Sequence[_Required], products: dict[tuple[int, int], LoanProduct],
                day: date, actor: str) -> tuple[list[ProvisionMovementRow], int]:
    """Lock the moving loans, recompute their movements against what is booked now, and write
    the rows and one entry per group."""
    ids = sorted(item.loan.id for item in moving)
    locked = {row.id: row for row in (await uow.session.execute(_LOCK, {"ids": ids})).all()}
    # Read unlocked: a loan written off, repaid off or reclassified meanwhile is left to the next run.
    moving = [item for item in moving if item.loan.id in locked
              and locked[item.loan.id].status == item.loan.status
              and locked[item.loan.id].booked_classification == item.loan.booked_classification]
    ids = [item.loan.id for item in moving]
    booked = await booked_provisions(uow, ids)
    groups: dict[tuple[Any, ...], list[tuple[_Required, ProvisionMovement]]] = {}
    for item in moving:
        loan = item.loan
        booked_class = LoanClassification(loan.booked_classification)
        for movement in provision_movements(booked.get(loan.id, {}), item.required, booked_class):
            key = (loan.office_id, loan.product_id, loan.product_version, loan.currency.strip(),
                   movement.classification.value, loan.term_bucket or TermBucket.SHORT.value, movement.kind.value)
            groups.setdefault(key, []).append((item, movement))
    rows: list[ProvisionMovementRow] = []
    entries: list[JournalEntry] = []
    for key, members in sorted(groups.items()):
        office_id, product_id, version, currency, classification, term, kind = key
        total = sum((movement.amount for _item, movement in members), Decimal(0))
        event = ProvisionMovement(kind=EventKind(kind), classification=LoanClassification(classification),
                                  amount=total).event(currency, term=TermBucket(term))
        label = "Dotation aux provisions" if kind == EventKind.PROVISION.value else "Reprise de provisions"
        entry = build_entry(ProductKind.LOAN, products[(product_id, version)].accounting, event, entry_id=uuid7(),
                            office_id=office_id, value_date=day, actor=actor,
                            description=narrated(f"{label} {classification} {term} du {day.isoformat()} ({len(members)} prêts)"),
                            reference=Reference(source_type=SOURCE_TYPE, source_id="/".join(map(str, (day, *key)))))
        if entry is not None:
            entries.append(entry)
        for item, movement in members:
            loan = item.loan
            rows.append(ProvisionMovementRow(
                loan_id=loan.id, business_date=day, office_id=office_id, product_id=product_id,
                product_version=version, currency=currency, classification=classification, term=term,
                kind=MOVEMENT_KINDS[movement.kind], amount=movement.amount, required=item.required,
                rate_percent=Decimal(loan.provision_rate_percent), bucket_label=loan.bucket_label,
                journal_entry_id=entry.entry_id if entry is not None else None))
    await record_movements(uow, rows, actor)
    await book_entries(uow, entries)
    return rows, len(entries)
