"""Loans: applications with frozen terms, decisions per validation level, and the loan's
append-only transactions (disbursements, repayments).

Why: an application and the loan it becomes are one row (Fineract's model): its terms are
frozen as JSONB (the pure core's `LoanTerms`) when it is recorded or approved, its schedule
when it is disbursed. Its money is never a column of that row: what was disbursed and repaid
are `loan_transaction` rows, each pointing at the one journal entry it posted, with the
allocation by instalment and component. PostgreSQL refuses to change or delete a
transaction or a decision, even for the owner, so a loan's position can always be derived
again. Every money movement takes the loan row FOR UPDATE first, which serialises them.

Revision ID: 0013
Revises: 0009
Create Date: 2026-11-23
"""

from migrations import refuse_changes
from migrations import run_script as _script

revision = "0013"
down_revision = "0009"
branch_labels = None
depends_on = ("0003", "0006", "0007")
"""Clients (0007), staff users (0006) and the journal with its chain (0003) must exist first."""

TABLES = r"""
CREATE TABLE loan (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id integer NOT NULL REFERENCES client (id),
    office_id integer NOT NULL REFERENCES office (id),
    product_id integer NOT NULL,
    product_version integer NOT NULL,
    currency char(3) NOT NULL REFERENCES currency (code),
    status varchar(20) NOT NULL
        CHECK (status IN ('draft', 'submitted', 'approved', 'rejected', 'active', 'closed')),
    loan_cycle smallint NOT NULL CHECK (loan_cycle >= 1),
    principal_requested numeric(22, 4) NOT NULL CHECK (principal_requested > 0),
    principal_approved numeric(22, 4) CHECK (principal_approved > 0),
    expected_disbursement_date date NOT NULL,
    requested jsonb NOT NULL CHECK (jsonb_typeof(requested) = 'object'),
    terms jsonb NOT NULL CHECK (jsonb_typeof(terms) = 'object'),
    details jsonb NOT NULL CHECK (jsonb_typeof(details) = 'object'),
    requirements jsonb NOT NULL CHECK (jsonb_typeof(requirements) = 'object'),
    approval_levels smallint NOT NULL DEFAULT 0 CHECK (approval_levels >= 0),
    schedule jsonb CHECK (schedule IS NULL OR jsonb_typeof(schedule) = 'object'),
    disbursed_on date,
    maker_user_id integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by varchar(100) NOT NULL,
    submitted_at timestamptz,
    submitted_by varchar(100),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by varchar(100) NOT NULL,
    FOREIGN KEY (product_id, product_version) REFERENCES product_version (product_id, version),
    CHECK ((status IN ('active', 'closed')) = (schedule IS NOT NULL AND disbursed_on IS NOT NULL))
);
CREATE INDEX loan_client ON loan (client_id, status);
CREATE INDEX loan_office ON loan (office_id, status);
CREATE INDEX loan_product ON loan (product_id, status);

CREATE TABLE loan_guarantor (
    loan_id integer NOT NULL REFERENCES loan (id),
    position smallint NOT NULL CHECK (position >= 0),
    client_id integer REFERENCES client (id),
    name varchar(200),
    amount numeric(22, 4) NOT NULL CHECK (amount >= 0),
    PRIMARY KEY (loan_id, position),
    CHECK (client_id IS NOT NULL OR name IS NOT NULL)
);
CREATE INDEX loan_guarantor_client ON loan_guarantor (client_id) WHERE client_id IS NOT NULL;

CREATE TABLE loan_decision (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    loan_id integer NOT NULL REFERENCES loan (id),
    level_order smallint,
    level_label varchar(200),
    decision varchar(10) NOT NULL CHECK (decision IN ('approve', 'reject', 'send_back', 'undo')),
    principal_approved numeric(22, 4),
    reason_ids integer[] NOT NULL DEFAULT '{}',
    note varchar(1000) NOT NULL DEFAULT '',
    decided_by varchar(100) NOT NULL,
    decided_by_user_id integer NOT NULL,
    decided_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX loan_decision_loan ON loan_decision (loan_id, id);

CREATE TABLE loan_transaction (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    loan_id integer NOT NULL REFERENCES loan (id),
    sequence_number integer NOT NULL CHECK (sequence_number >= 1),
    kind varchar(30) NOT NULL CHECK (kind IN ('disbursement', 'repayment', 'repayment_reversal', 'disbursement_reversal', 'charge',
                                               'waiver')),
    reverses_transaction_id bigint UNIQUE REFERENCES loan_transaction (id),
    value_date date NOT NULL,
    currency char(3) NOT NULL,
    amount numeric(22, 4) NOT NULL CHECK (amount > 0),
    principal numeric(22, 4) NOT NULL DEFAULT 0 CHECK (principal >= 0),
    interest numeric(22, 4) NOT NULL DEFAULT 0 CHECK (interest >= 0),
    fee numeric(22, 4) NOT NULL DEFAULT 0 CHECK (fee >= 0),
    penalty numeric(22, 4) NOT NULL DEFAULT 0 CHECK (penalty >= 0),
    vat numeric(22, 4) NOT NULL DEFAULT 0 CHECK (vat >= 0),
    overpayment numeric(22, 4) NOT NULL DEFAULT 0 CHECK (overpayment >= 0),
    classification varchar(20) NOT NULL CHECK (classification IN ('healthy', 'doubtful', 'written_off')),
    payment_type_id integer REFERENCES payment_type (id),
    charge_id integer REFERENCES charge (id),
    receipt_number varchar(50),
    allocation jsonb NOT NULL CHECK (jsonb_typeof(allocation) = 'array'),
    journal_entry_id uuid REFERENCES journal_entry (id),
    idempotency_key varchar(200),
    request_fingerprint varchar(64),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by varchar(100) NOT NULL,
    UNIQUE (loan_id, sequence_number),
    UNIQUE (loan_id, kind, idempotency_key),
    CHECK ((kind LIKE '%\_reversal') = (reverses_transaction_id IS NOT NULL))
);
CREATE INDEX loan_transaction_entry ON loan_transaction (journal_entry_id);
"""

FUNCTIONS = r"""
""" + refuse_changes(
    "loan_refuse_change", append_only=('loan_transaction', 'loan_decision', 'loan_guarantor')) + r"""
"""


def _grants(app_role: str) -> str:
    role = app_role.replace('"', "")
    return f"""
GRANT SELECT ON loan, loan_guarantor, loan_decision, loan_transaction TO "{role}";
GRANT INSERT ON loan, loan_guarantor, loan_decision, loan_transaction TO "{role}";
GRANT UPDATE (status, principal_approved, terms, requirements, approval_levels, schedule, disbursed_on, submitted_at,
              submitted_by, updated_at, updated_by)
    ON loan TO "{role}";
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO "{role}";
"""


def upgrade(app_role: str) -> None:
    _script(TABLES)
    _script(FUNCTIONS)
    _script(_grants(app_role))


def downgrade(app_role: str) -> None:
    _script("DROP TABLE loan_transaction, loan_decision, loan_guarantor, loan CASCADE;"
            "DROP FUNCTION loan_refuse_change;")
