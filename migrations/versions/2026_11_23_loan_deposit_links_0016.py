"""Loans and deposit accounts: the deposit account a loan is linked to (disbursement into it,
repayments and automatic collection from it), the holds a loan placed on it (mandatory
savings, cash collateral, own-funds guarantee), the outcome of each automatic collection per
loan and date (with the insufficient-funds events a later alerting issue reads), and the
overpayment refund as a loan transaction kind.

Why: a collection run must be idempotent per date and survive a crash halfway, so each loan's
outcome for a date is one row, unique per (loan, date), written in the same transaction as the
repayment it made; a second run finds it and collects nothing. Holds and outcomes are
append-only (a hold is released on the deposit side, `deposit_hold.released_on`); the link
changes when an officer links another account, never deleted.

Revision ID: 0016
Revises: 0013
Create Date: 2026-11-23
"""

from migrations import refuse_changes
from migrations import run_script as _script

revision = "0016"
down_revision = "0013"
branch_labels = None
depends_on = ("0012",)
"""Deposit accounts (0012) must exist first."""

TABLES = r"""
CREATE TABLE loan_deposit_link (
    loan_id integer PRIMARY KEY REFERENCES loan (id),
    deposit_account_id bigint NOT NULL REFERENCES deposit_account (id),
    linked_on date NOT NULL,
    linked_by varchar(100) NOT NULL,
    linked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX loan_deposit_link_account ON loan_deposit_link (deposit_account_id);

CREATE TABLE loan_hold (
    hold_id bigint PRIMARY KEY REFERENCES deposit_hold (id),
    loan_id integer NOT NULL REFERENCES loan (id),
    requirement varchar(30) NOT NULL
        CHECK (requirement IN ('mandatory_savings', 'cash_collateral', 'guarantee_own_funds'))
);
CREATE INDEX loan_hold_loan ON loan_hold (loan_id);

CREATE TABLE loan_collection (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    loan_id integer NOT NULL REFERENCES loan (id),
    collection_date date NOT NULL,
    deposit_account_id bigint REFERENCES deposit_account (id),
    currency char(3) NOT NULL,
    amount_due numeric(22, 4) NOT NULL CHECK (amount_due > 0),
    amount_collected numeric(22, 4) NOT NULL CHECK (amount_collected >= 0),
    amount_missing numeric(22, 4) NOT NULL CHECK (amount_missing >= 0),
    loan_transaction_id bigint REFERENCES loan_transaction (id),
    reason varchar(300) NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by varchar(100) NOT NULL,
    UNIQUE (loan_id, collection_date),
    CHECK (amount_collected + amount_missing = amount_due),
    CHECK ((amount_collected > 0) = (loan_transaction_id IS NOT NULL))
);
CREATE INDEX loan_collection_date ON loan_collection (collection_date) WHERE amount_missing > 0;

CREATE VIEW loan_insufficient_funds AS
SELECT id AS event_id, loan_id, collection_date, deposit_account_id, currency, amount_due, amount_collected,
       amount_missing, reason, created_at
  FROM loan_collection
 WHERE amount_missing > 0;

ALTER TABLE loan_transaction DROP CONSTRAINT loan_transaction_kind_check;
ALTER TABLE loan_transaction ADD CONSTRAINT loan_transaction_kind_check CHECK (kind IN (
    'disbursement', 'repayment', 'repayment_reversal', 'disbursement_reversal', 'charge', 'waiver',
    'overpayment_refund'));
""" + refuse_changes("loan_deposit_refuse_change", append_only=("loan_hold", "loan_collection"),
                     keep_rows=("loan_deposit_link",))


def _grants(app_role: str) -> str:
    role = app_role.replace('"', "")
    return f"""
GRANT SELECT, INSERT ON loan_deposit_link, loan_hold, loan_collection TO "{role}";
GRANT UPDATE (deposit_account_id, linked_on, linked_by, linked_at) ON loan_deposit_link TO "{role}";
GRANT SELECT ON loan_insufficient_funds TO "{role}";
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO "{role}";
"""


def upgrade(app_role: str) -> None:
    _script(TABLES)
    _script(_grants(app_role))


def downgrade(app_role: str) -> None:
    _script("DROP VIEW loan_insufficient_funds; DROP TABLE loan_collection, loan_hold, loan_deposit_link;"
            "DROP FUNCTION loan_deposit_refuse_change;"
            "ALTER TABLE loan_transaction DROP CONSTRAINT loan_transaction_kind_check;"
            "ALTER TABLE loan_transaction ADD CONSTRAINT loan_transaction_kind_check CHECK (kind IN ("
            "'disbursement', 'repayment', 'repayment_reversal', 'disbursement_reversal', 'charge', 'waiver'));")
