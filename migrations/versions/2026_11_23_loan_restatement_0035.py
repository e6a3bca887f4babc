"""Backdated loan events: the `penalty_reversal` kind and penalty keys per restatement.

Why: a repayment, a reversal or a charge dated before the last closed business day re-derives
the loan's close-of-business effects from that day on (`servicing.loans.restatement`). A late
penalty the corrected history no longer owes is taken back by a loan transaction of the new kind
`penalty_reversal` (its mirror: same amounts, the penalty's entry with sides swapped, pointing at
the charge it cancels; the kind ends in ``_reversal`` as 0013's check wants of a transaction that
reverses another), never by editing what was posted. The penalty the corrected history owes
for the same instalment and period is charged again, so `loan_penalty_charge` keys a penalty by
(loan, instalment, period, generation): the nightly close writes generation 0 (the database still
refuses to charge a period twice there), each restatement its own generation. The provision
booked since the event's day is restated the same way, by the difference per event kind and
class: `loan_provision_movement.mirrored` marks a movement whose entry takes back earlier ones
(an allowance's lines swapped, not a reversal income), so a later restatement knows what was
posted under which event.

Revision ID: 0035
Revises: 0034
Create Date: 2026-11-23
"""

from migrations import run_script as _script

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None

TABLES = """
INSERT INTO loan_transaction_kind (kind, description)
VALUES ('penalty_reversal', 'Retraitement (restatement) après une opération antidatée : pénalité annulée')
ON CONFLICT (kind) DO NOTHING;  -- kept by a downgrade: the kinds table is append-only
ALTER TABLE loan_penalty_charge ADD COLUMN generation integer NOT NULL DEFAULT 0 CHECK (generation >= 0);
ALTER TABLE loan_penalty_charge DROP CONSTRAINT loan_penalty_charge_pkey;
ALTER TABLE loan_penalty_charge ADD PRIMARY KEY (loan_id, instalment, period, generation);
ALTER TABLE loan_provision_movement ADD COLUMN mirrored boolean NOT NULL DEFAULT false;
"""


def upgrade(app_role: str) -> None:
    _script(TABLES)


def downgrade(app_role: str) -> None:
    _script("ALTER TABLE loan_penalty_charge DROP CONSTRAINT loan_penalty_charge_pkey;"
            "ALTER TABLE loan_penalty_charge ADD PRIMARY KEY (loan_id, instalment, period);"
            "ALTER TABLE loan_penalty_charge DROP COLUMN generation;"
            "ALTER TABLE loan_provision_movement DROP COLUMN mirrored;")
