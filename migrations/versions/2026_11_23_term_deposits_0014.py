"""Term-deposit accounts, their terms (one row per term: the first and every renewal) and their
transactions.

Why: a term deposit freezes what it was opened with (product version, principal, term, rate
found in the chart with the incentives applied), and a renewal starts a new term on the same
account at the rate of that day, so the terms are an append-only history (`term_deposit_term`)
and the account row only says which term is current and its status. Every movement of money is
an append-only transaction row booked in the same transaction as its journal entry; the balance
is the sum of the transactions (never stored). Interest of a posting period is unique per
account, term and period end: a second run cannot post it twice. An Idempotency-Key is unique
per account. PostgreSQL refuses to change or delete terms and transactions, even for the owner.

The account row keeps what was agreed at opening (principal, term, rate, product version);
the first term row is written when the deposit is funded, since its activation starts the term.

The client is not a foreign key: clients live in another revision branch (0007) that may be
applied after this one; the service checks the client exists.

Revision ID: 0014
Revises: 0009
Create Date: 2026-11-23
"""

from migrations import refuse_changes
from migrations import run_script as _script

revision = "0014"
down_revision = "0009"
branch_labels = None
depends_on = None

TABLES = """
CREATE TABLE term_deposit_account (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    office_id integer NOT NULL REFERENCES office (id),
    client_id integer NOT NULL,
    product_id integer NOT NULL,
    product_version integer NOT NULL,
    currency char(3) NOT NULL,
    principal numeric(22, 4) NOT NULL CHECK (principal > 0),
    term_count integer NOT NULL CHECK (term_count > 0),
    term_unit varchar(10) NOT NULL CHECK (term_unit IN ('days', 'weeks', 'months', 'years')),
    rate_percent numeric(9, 4) NOT NULL CHECK (rate_percent >= 0),
    base_rate_percent numeric(9, 4) NOT NULL,
    incentives_applied jsonb NOT NULL DEFAULT '[]',
    status varchar(20) NOT NULL
        CHECK (status IN ('pending', 'active', 'held', 'closed', 'closed_early')),
    current_term integer NOT NULL DEFAULT 0 CHECK (current_term >= 0),
    maturity_instruction varchar(40) NOT NULL
        CHECK (maturity_instruction IN ('pay_out', 'renew_principal', 'renew_principal_and_interest', 'hold')),
    payout_payment_type_id integer REFERENCES payment_type (id),
    client_attributes jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(client_attributes) = 'object'),
    opened_on date NOT NULL,
    closed_on date,
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by varchar(100) NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by varchar(100) NOT NULL,
    FOREIGN KEY (product_id, product_version) REFERENCES product_version (product_id, version)
);
CREATE INDEX term_deposit_account_office ON term_deposit_account (office_id, id);
CREATE INDEX term_deposit_account_client ON term_deposit_account (client_id);
CREATE INDEX term_deposit_account_open ON term_deposit_account (status) WHERE status IN ('active', 'held');

CREATE TABLE term_deposit_term (
    account_id integer NOT NULL REFERENCES term_deposit_account (id),
    term_no integer NOT NULL CHECK (term_no >= 1),
    product_id integer NOT NULL,
    product_version integer NOT NULL,
    principal numeric(22, 4) NOT NULL CHECK (principal > 0),
    term_count integer NOT NULL CHECK (term_count > 0),
    term_unit varchar(10) NOT NULL CHECK (term_unit IN ('days', 'weeks', 'months', 'years')),
    rate_percent numeric(9, 4) NOT NULL CHECK (rate_percent >= 0),
    base_rate_percent numeric(9, 4) NOT NULL,
    incentives_applied jsonb NOT NULL DEFAULT '[]',
    starts_on date NOT NULL,
    maturity_date date NOT NULL CHECK (maturity_date > starts_on),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by varchar(100) NOT NULL,
    PRIMARY KEY (account_id, term_no),
    FOREIGN KEY (product_id, product_version) REFERENCES product_version (product_id, version)
);

CREATE TABLE term_deposit_transaction (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id integer NOT NULL REFERENCES term_deposit_account (id),
    term_no integer NOT NULL,
    kind varchar(20) NOT NULL
        CHECK (kind IN ('deposit', 'interest', 'interest_clawback', 'payout', 'renewal')),
    amount numeric(22, 4) NOT NULL CHECK (amount >= 0),
    value_date date NOT NULL,
    period_end date,
    payment_type_id integer REFERENCES payment_type (id),
    entry_id uuid,
    idempotency_key varchar(200),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by varchar(100) NOT NULL,
    CHECK ((kind = 'interest') = (period_end IS NOT NULL))
);
CREATE INDEX term_deposit_transaction_account ON term_deposit_transaction (account_id, id);
CREATE UNIQUE INDEX term_deposit_interest_once
    ON term_deposit_transaction (account_id, term_no, period_end) WHERE kind = 'interest';
CREATE UNIQUE INDEX term_deposit_idempotency
    ON term_deposit_transaction (account_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
"""

FUNCTIONS = r"""
""" + refuse_changes(
    "term_deposit_refuse_change", append_only=('term_deposit_term', 'term_deposit_transaction')) + r"""
"""


def _grants(role: str) -> str:
    return f"""
GRANT SELECT ON term_deposit_account, term_deposit_term, term_deposit_transaction TO "{role}";
GRANT INSERT (office_id, client_id, product_id, product_version, currency, principal, term_count, term_unit,
              rate_percent, base_rate_percent, incentives_applied, status, current_term, maturity_instruction,
              payout_payment_type_id, client_attributes, opened_on, created_by, updated_by),
      UPDATE (status, current_term, maturity_instruction, payout_payment_type_id, closed_on, version, updated_at,
              updated_by)
    ON term_deposit_account TO "{role}";
GRANT INSERT ON term_deposit_term TO "{role}";
GRANT INSERT (account_id, term_no, kind, amount, value_date, period_end, payment_type_id, entry_id,
              idempotency_key, created_by) ON term_deposit_transaction TO "{role}";
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO "{role}";
"""


def upgrade(app_role: str) -> None:
    _script(TABLES)
    _script(FUNCTIONS)
    _script(_grants(app_role))


def downgrade(app_role: str) -> None:
    _script(
        "DROP TABLE term_deposit_transaction, term_deposit_term, term_deposit_account CASCADE;"
        "DROP FUNCTION term_deposit_refuse_change;"
    )
