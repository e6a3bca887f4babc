"""Backdated waivers and restated automatic charges: the `waiver_reversal` and `charge_reversal`
loan transaction kinds.

Why: a waiver dated before the loan's last transaction or on a closed business day is taken on
its own day within a restatement (`servicing.loans.restatement`), and a backdated repayment,
reversal, charge or waiver takes back the waivers dated on or after its day and forgives them
again after it, on what is then owed (what a waiver forgives, oldest instalment first, depends
on what earlier events left due). The waiver taken back is a `waiver_reversal` (its mirror: the
same amounts, its entry reversed on its own value date, pointing at it), never an edit. The
restatement also re-derives the automatic product charges of the restated days (an instalment
fee on the outstanding principal changes when a repayment is backdated before it): a charge the
corrected history owes differently, or not at all, is taken back by a `charge_reversal`.

Revision ID: 0043
Revises: 0042
Create Date: 2026-11-24
"""

from migrations import run_script as _script

revision = "0043"
down_revision = "0042"
branch_labels = None
depends_on = None

TABLES = """
INSERT INTO loan_transaction_kind (kind, description)
VALUES ('waiver_reversal', 'Retraitement (restatement) après une opération antidatée : remise annulée, reprise à sa date'),
       ('charge_reversal', 'Retraitement (restatement) après une opération antidatée : frais automatiques annulés')
ON CONFLICT (kind) DO NOTHING;  -- kept by a downgrade: the kinds table is append-only
"""


def upgrade(app_role: str) -> None:
    _script(TABLES)


def downgrade(app_role: str) -> None:
    """Nothing: the kinds table is append-only (a kind once used stays readable)."""
