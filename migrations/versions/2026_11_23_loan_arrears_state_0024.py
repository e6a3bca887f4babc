"""Each loan's arrears as of the last closed business day.

Why: portfolio-at-risk, ageing and arrears lists are read far more often than days close, and
must not re-derive 100,000 loans' positions per request. The close of business ages every
active loan (its `loan_arrears` step) and keeps here, one row per loan, what it found: days
overdue from the oldest unpaid instalment (tolerance applied), the status (performing, in
arrears, non-performing), the bucket of the delinquency grid and its class and provision rate,
and the outstanding and overdue principal. The row is derived: the next close recomputes it
from the loan's schedule and transactions, and a day that has been closed again never moves it
back in time.

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-23
"""

from migrations import run_script as _script

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = "0013"  # loans

TABLES = """
CREATE TABLE loan_arrears_state (
    loan_id integer PRIMARY KEY REFERENCES loan (id),
    business_date date NOT NULL,
    days_overdue integer NOT NULL CHECK (days_overdue >= 0),
    overdue_amount numeric(22, 4) NOT NULL CHECK (overdue_amount >= 0),
    overdue_principal numeric(22, 4) NOT NULL CHECK (overdue_principal >= 0),
    outstanding_principal numeric(22, 4) NOT NULL CHECK (outstanding_principal >= 0),
    ageing_instalment integer,
    status varchar(20) NOT NULL CHECK (status IN ('performing', 'in_arrears', 'non_performing')),
    bucket_label varchar(200),
    classification varchar(20) NOT NULL,
    provision_rate_percent numeric(9, 4) NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX loan_arrears_state_overdue ON loan_arrears_state (days_overdue) WHERE days_overdue > 0;
"""


def _grants(role: str) -> str:
    return f'GRANT SELECT, INSERT, UPDATE ON loan_arrears_state TO "{role}";\n'


def upgrade(app_role: str) -> None:
    _script(TABLES)
    _script(_grants(app_role))


def downgrade(app_role: str) -> None:
    _script("DROP TABLE loan_arrears_state;")
