"""Provisions booked per loan: the append-only movement rows (`loan_provision_movement`,
revision 0027) and what they add up to.

Why a row per loan when the journal has one entry per office, product, currency, class and
term a day: the provisioning report, the write-off (principal covered by the provision booked
for *this* loan) and the auditor all need the provision of each loan, and the entry only
carries the total. Each row names the entry it is part of, so the rows of an entry sum to its
amount, and the rows of a provisions account sum to its balance (`PROVISION_CHECK_SQL`, run by
`grandlivre verify`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

import msgspec
from sqlalchemy import text

from products.events import LoanClassification
from servicing.loans.schedules import plain
from servicing.unit_of_work import UnitOfWork

MOVEMENT_SIGNS: Final = {"allowance": 1, "release": -1, "write_off": -1}
"""How a movement changes the provision booked: an allowance adds, a release or the provision
used by a write-off takes away."""

_SIGNED: Final = "CASE m.kind WHEN 'allowance' THEN m.amount ELSE -m.amount END"


class ProvisionMovementRow(msgspec.Struct, frozen=True, kw_only=True):
    loan_id: int
    business_date: date
    office_id: int
    product_id: int
    product_version: int
    currency: str
    classification: str
    term: str
    kind: str
    amount: Decimal
    required: Decimal | None
    rate_percent: Decimal | None
    bucket_label: str | None
    journal_entry_id: UUID | None


_BOOKED = text(f"""
SELECT m.loan_id, m.classification, sum({_SIGNED}) AS booked
  FROM loan_provision_movement m WHERE m.loan_id = ANY(CAST(:ids AS int[]))
   AND (NOT CAST(:at_last_close AS boolean)
        OR m.business_date <= (SELECT s.business_date FROM loan_arrears_state s WHERE s.loan_id = m.loan_id))
 GROUP BY m.loan_id, m.classification HAVING sum({_SIGNED}) <> 0
""")


async def booked_provisions(uow: UnitOfWork, loan_ids: Sequence[int], *, at_last_close: bool = False,
                            ) -> dict[int, dict[LoanClassification, Decimal]]:
    """Per loan, the provision booked under each class (classes at zero left out); with
    ``at_last_close``, only what the movements of business days up to the loan's last close (its
    `loan_arrears_state` date) booked: a report as of the closed day."""
    booked: dict[int, dict[LoanClassification, Decimal]] = {}
    if not loan_ids:
        return booked
    for row in (await uow.session.execute(_BOOKED, {"ids": list(loan_ids), "at_last_close": at_last_close})).all():
        booked.setdefault(row.loan_id, {})[LoanClassification(row.classification)] = Decimal(row.booked)
    return booked


_GUARANTEES = text("""
SELECT lh.loan_id, sum(h.amount) AS held
  FROM loan_hold lh JOIN deposit_hold h ON h.id = lh.hold_id
 WHERE lh.loan_id = ANY(CAST(:ids AS int[])) AND h.released_on IS NULL
 GROUP BY lh.loan_id
""")


async def guarantee_deposits(uow: UnitOfWork, loan_ids: Sequence[int]) -> dict[int, Decimal]:
    """Per loan, the deposits held for it on the borrower's accounts (mandatory savings, cash
    collateral, guarantee on own funds): « dépôts constitués en garantie auprès du SFD »."""
    if not loan_ids:
        return {}
    rows = (await uow.session.execute(_GUARANTEES, {"ids": list(loan_ids)})).all()
    return {row.loan_id: Decimal(row.held) for row in rows}


_COLUMNS: Final = ("loan_id", "business_date", "office_id", "product_id", "product_version", "currency",
                   "classification", "term", "kind", "amount", "required", "rate_percent", "bucket_label",
                   "journal_entry_id")
_TYPES: Final = ("int", "date", "int", "int", "int", "char(3)", "varchar", "varchar", "varchar", "numeric",
                 "numeric", "numeric", "varchar", "uuid")

_INSERT = text(f"""
INSERT INTO loan_provision_movement ({", ".join(_COLUMNS)}, created_by)
SELECT {", ".join(f"m.{c}" for c in _COLUMNS)}, :actor
  FROM unnest({", ".join(f"CAST(:{c} AS {t}[])" for c, t in zip(_COLUMNS, _TYPES, strict=True))})
       AS m ({", ".join(_COLUMNS)})
""")


async def record_movements(uow: UnitOfWork, movements: Sequence[ProvisionMovementRow], actor: str) -> None:
    """Write the movement rows in one statement, in the caller's transaction (with their entries)."""
    if not movements:
        return
    columns: dict[str, list[Any]] = {name: [getattr(m, name) for m in movements] for name in _COLUMNS}
    await uow.session.execute(_INSERT, {**columns, "actor": actor})


PROVISION_ACCOUNTS_SQL: Final = f"""
WITH moved AS (
    SELECT m.product_id, m.product_version, m.classification, m.term, m.currency, sum({_SIGNED}) AS booked,
           count(DISTINCT m.loan_id) AS loans
      FROM loan_provision_movement m WHERE m.journal_entry_id IS NOT NULL
     GROUP BY m.product_id, m.product_version, m.classification, m.term, m.currency
), placed AS (
    SELECT coalesce(
        (SELECT a.gl_account_id FROM product_version_account a
          WHERE a.product_id = m.product_id AND a.version = m.product_version AND a.role = 'provisions'
            AND a.classification = m.classification AND a.term = m.term),
        (SELECT a.gl_account_id FROM product_version_account a
          WHERE a.product_id = m.product_id AND a.version = m.product_version AND a.role = 'provisions'
            AND a.classification IS NULL AND a.payment_type_id IS NULL AND a.charge_id IS NULL)) AS account_id,
           m.currency, m.booked, m.loans
      FROM moved m
), per_account AS (
    SELECT account_id, currency, sum(booked) AS booked, sum(loans) AS loans FROM placed GROUP BY account_id, currency
)
SELECT a.code AS account_code, p.currency, p.loans, p.booked,
       coalesce(b.credit_total - b.debit_total, 0) AS general_ledger,
       NOT EXISTS (SELECT 1 FROM product_version_account x JOIN product pr ON pr.id = x.product_id
                    WHERE x.gl_account_id = p.account_id AND (pr.kind <> 'loan' OR x.role <> 'provisions'))
       AS exclusive
  FROM per_account p
  JOIN gl_account a ON a.id = p.account_id
  LEFT JOIN account_balance b ON b.account_id = p.account_id AND b.currency = p.currency
 ORDER BY a.code, p.currency
"""
"""Per provisions account and currency: the provisions booked per loan (movement rows with an
entry, placed on the account their product, class and term map) next to the account's credit
balance. An account used for anything else is flagged, not compared."""

PROVISION_CHECK_SQL: Final = (
    "SELECT 'provisions account ' || account_code || ' (' || currency || '): booked per loan ' || booked::text"
    " || ', general ledger ' || general_ledger::text AS detail, NULL::text AS entry_id, account_code"
    f" FROM ({PROVISION_ACCOUNTS_SQL}) r WHERE exclusive AND booked <> general_ledger LIMIT 10")
"""The verify check: every provisions account used by loans alone holds what is booked per loan."""


class ProvisionAccountRow(msgspec.Struct, frozen=True, kw_only=True):
    account_code: str
    currency: str
    loans: int
    booked_per_loan: Decimal
    general_ledger: Decimal
    exclusive: bool
    difference: Decimal | None


async def provision_reconciliation(uow: UnitOfWork) -> list[ProvisionAccountRow]:
    """Provisions booked per loan against the provisions accounts (one row per account and currency)."""
    async with uow:
        return await provision_accounts(uow)


async def provision_accounts(uow: UnitOfWork) -> list[ProvisionAccountRow]:
    """`provision_reconciliation` inside the caller's open unit of work."""
    rows = (await uow.session.execute(text(PROVISION_ACCOUNTS_SQL))).all()
    return [ProvisionAccountRow(
        account_code=r.account_code, currency=r.currency.strip(), loans=int(r.loans), booked_per_loan=plain(r.booked),
        general_ledger=plain(r.general_ledger), exclusive=r.exclusive,
        difference=plain(r.general_ledger - r.booked) if r.exclusive else None) for r in rows]

