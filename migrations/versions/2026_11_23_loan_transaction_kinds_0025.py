"""Loan transaction kinds become rows of a lookup table instead of a CHECK list.

Why: the close of business adds several kinds (accrual, penalty, reclassification, provision,
write-off, recovery, rescheduling...), each in its own revision. A CHECK constraint must be
dropped and re-created whole by every revision, so two revisions written side by side would
each forget the other's kinds. A foreign key to `loan_transaction_kind` lets each revision add
its rows. The table is append-only: a kind once used stays valid for the history that uses it.
`is_reversal` documents the naming rule the row check already enforces (a kind ending in
``_reversal`` reverses a transaction).

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-23
"""

from migrations import refuse_changes
from migrations import run_script as _script

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = "0016"  # the kind list as 0016 left it

KINDS = ("disbursement", "repayment", "repayment_reversal", "disbursement_reversal", "charge", "waiver",
         "overpayment_refund")

TABLES = """
CREATE TABLE loan_transaction_kind (
    kind varchar(30) PRIMARY KEY CHECK (kind ~ '^[a-z_]+$'),
    is_reversal boolean GENERATED ALWAYS AS (kind LIKE '%\\_reversal') STORED,
    description varchar(200) NOT NULL DEFAULT ''
);
INSERT INTO loan_transaction_kind (kind) VALUES """ + ", ".join(f"('{k}')" for k in KINDS) + """;
ALTER TABLE loan_transaction DROP CONSTRAINT loan_transaction_kind_check;
ALTER TABLE loan_transaction ADD CONSTRAINT loan_transaction_kind_fkey
    FOREIGN KEY (kind) REFERENCES loan_transaction_kind (kind);
""" + refuse_changes("loan_transaction_kind_refuse_change", append_only=("loan_transaction_kind",))


def _grants(app_role: str) -> str:
    role = app_role.replace('"', "")
    return f'GRANT SELECT ON loan_transaction_kind TO "{role}";\n'


def upgrade(app_role: str) -> None:
    _script(TABLES)
    _script(_grants(app_role))


def downgrade(app_role: str) -> None:
    kinds = ", ".join(f"'{k}'" for k in KINDS)
    _script("ALTER TABLE loan_transaction DROP CONSTRAINT loan_transaction_kind_fkey;"
            f"ALTER TABLE loan_transaction ADD CONSTRAINT loan_transaction_kind_check CHECK (kind IN ({kinds}));"
            "DROP TABLE loan_transaction_kind; DROP FUNCTION loan_transaction_kind_refuse_change;")
