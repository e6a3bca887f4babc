"""Mandatory savings saved with each instalment: which instalment each savings hold covers.

Why: a product may ask the borrower to save a rate of each instalment (seed 002 "épargne
obligatoire", ``mandatory_savings.on_total_instalment``) instead of an amount held upfront.
The close of business holds, on the loan's linked account, the savings share of what the
repayments paid on each instalment (`servicing.loans.instalment_savings`). The hold itself is a
deposit hold recorded in `loan_hold` (requirement ``mandatory_savings``: released with the
loan's other holds when it closes); this table says which instalment it covers, so a run
holds only what each instalment still lacks, and a repayment reversed releases the
instalment's holds to hold again what it still justifies. Append-only, like `loan_hold`.

Revision ID: 0033
Revises: 0031
Create Date: 2026-11-23
"""

from migrations import refuse_changes
from migrations import run_script as _script

revision = "0033"
down_revision = "0031"
branch_labels = None
depends_on = ("0016",)
"""Loan holds (0016) must exist first."""

TABLES = r"""
CREATE TABLE loan_savings_hold (
    hold_id bigint PRIMARY KEY REFERENCES loan_hold (hold_id),
    loan_id integer NOT NULL REFERENCES loan (id),
    instalment_number integer NOT NULL CHECK (instalment_number > 0)
);
CREATE INDEX loan_savings_hold_loan ON loan_savings_hold (loan_id, instalment_number);
""" + refuse_changes("loan_savings_hold_refuse_change", append_only=("loan_savings_hold",))


def _grants(app_role: str) -> str:
    role = app_role.replace('"', "")
    return f'GRANT SELECT, INSERT ON loan_savings_hold TO "{role}";\n'


def upgrade(app_role: str) -> None:
    _script(TABLES)
    _script(_grants(app_role))


def downgrade(app_role: str) -> None:
    _script("DROP TABLE loan_savings_hold; DROP FUNCTION loan_savings_hold_refuse_change;")
