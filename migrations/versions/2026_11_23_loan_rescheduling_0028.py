"""Loan rescheduling (« rééchelonnement »): the plans kept for history, the loan's flag, the kind.

Why: a rescheduling replaces the schedule the loan's position, arrears and statement read, so
the schedule it replaced must stay readable: `loan_rescheduling` keeps, per plan, who and when,
the request, the terms and schedule before and after, and the amounts capitalised. It is
append-only (history). `loan.rescheduled_on` (the last plan's date, NULL for a loan never
rescheduled) is what the close of business reads to age the loan on the rescheduled-loans grid
for the rest of its life. The plan's journal entry belongs to a loan transaction of the new
kind `rescheduling` (its principal: what was capitalised; its interest and penalty: what the
capitalisation took off those receivables).

Revision ID: 0028
Revises: 0027
Create Date: 2026-11-23
"""

from migrations import refuse_changes
from migrations import run_script as _script

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = "0013"  # loans

TABLES = """
INSERT INTO loan_transaction_kind (kind, description)
VALUES ('rescheduling', 'Rééchelonnement : intérêts et pénalités capitalisés en capital')
ON CONFLICT (kind) DO NOTHING;  -- kept by a downgrade: the kinds table is append-only
ALTER TABLE loan ADD COLUMN rescheduled_on date;
CREATE TABLE loan_rescheduling (
    id bigserial PRIMARY KEY,
    loan_id integer NOT NULL REFERENCES loan (id),
    transaction_id bigint NOT NULL UNIQUE REFERENCES loan_transaction (id),
    rescheduled_on date NOT NULL,
    request jsonb NOT NULL,
    previous_terms jsonb NOT NULL,
    previous_schedule jsonb NOT NULL,
    new_terms jsonb NOT NULL,
    new_schedule jsonb NOT NULL,
    principal_outstanding numeric(22, 4) NOT NULL CHECK (principal_outstanding > 0),
    capitalised_interest numeric(22, 4) NOT NULL CHECK (capitalised_interest >= 0),
    capitalised_penalties numeric(22, 4) NOT NULL CHECK (capitalised_penalties >= 0),
    interest_carried numeric(22, 4) NOT NULL CHECK (interest_carried >= 0),
    penalties_carried numeric(22, 4) NOT NULL CHECK (penalties_carried >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by varchar(100) NOT NULL
);
CREATE INDEX loan_rescheduling_loan ON loan_rescheduling (loan_id, id);
""" + refuse_changes("loan_rescheduling_refuse_change", append_only=("loan_rescheduling",))


def _grants(app_role: str) -> str:
    role = app_role.replace('"', "")
    return (f'GRANT SELECT, INSERT ON loan_rescheduling TO "{role}";\n'
            f'GRANT USAGE ON SEQUENCE loan_rescheduling_id_seq TO "{role}";\n'
            f'GRANT UPDATE (rescheduled_on) ON loan TO "{role}";\n')


def upgrade(app_role: str) -> None:
    _script(TABLES)
    _script(_grants(app_role))


def downgrade(app_role: str) -> None:
    _script("DROP TABLE loan_rescheduling; DROP FUNCTION loan_rescheduling_refuse_change;"
            "ALTER TABLE loan DROP COLUMN rescheduled_on;")
