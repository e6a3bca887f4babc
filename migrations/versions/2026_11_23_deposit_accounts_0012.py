"""Deposit (current and savings) accounts, their transactions and holds.

Why: a client's account is serviced through the journal. Each money movement is an
append-only `deposit_transaction` row written in the same database transaction as the
journal entry the product's posting rules produced for it (`journal_entry_id`). The
account's balance is derived from its transactions; `deposit_account.balance` is a cache of
that sum kept under the account's row lock (every movement locks the row with SELECT ... FOR
UPDATE), and `grandlivre verify` recomputes it. Holds (guarantee, cash collateral, legal) move
no money: a hold row says why, `hold_placed` / `hold_released` transactions record when.

An idempotency key is unique per account, so a replayed request finds its original
transaction and an interest posting (keyed "deposit-interest:<account>:<period>") posts once.

Revision ID: 0012
Revises: 0009 (and depends on 0007: clients)
Create Date: 2026-11-23
"""

from migrations import refuse_changes
from migrations import run_script as _script

revision = "0012"
down_revision = "0009"
branch_labels = None
depends_on = ("0007",)  # client

TABLES = """
CREATE TABLE deposit_account (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id integer NOT NULL REFERENCES client (id),
    product_id integer NOT NULL,
    product_version integer NOT NULL,
    currency char(3) NOT NULL REFERENCES currency (code),
    office_id integer NOT NULL REFERENCES office (id),
    status varchar(10) NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'active', 'frozen', 'blocked', 'closed')),
    status_reason varchar(500),
    interest_rate_annual_percent numeric(9, 4) NOT NULL CHECK (interest_rate_annual_percent >= 0),
    overdraft_limit numeric(22, 4) NOT NULL DEFAULT 0 CHECK (overdraft_limit >= 0),
    minimum_balance numeric(22, 4) NOT NULL DEFAULT 0 CHECK (minimum_balance >= 0),
    balance numeric(22, 4) NOT NULL DEFAULT 0,
    opened_on date NOT NULL,
    activated_on date,
    closed_on date,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by varchar(100) NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by varchar(100) NOT NULL,
    FOREIGN KEY (product_id, product_version) REFERENCES product_version (product_id, version)
);
CREATE INDEX deposit_account_client ON deposit_account (client_id);
CREATE INDEX deposit_account_office ON deposit_account (office_id);
CREATE INDEX deposit_account_product ON deposit_account (product_id, product_version);

CREATE TABLE deposit_hold (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES deposit_account (id),
    amount numeric(22, 4) NOT NULL CHECK (amount > 0),
    reason varchar(20) NOT NULL CHECK (reason IN ('guarantee', 'cash_collateral', 'legal')),
    description varchar(500) NOT NULL DEFAULT '',
    placed_on date NOT NULL,
    placed_by varchar(100) NOT NULL,
    placed_at timestamptz NOT NULL DEFAULT now(),
    released_on date,
    released_by varchar(100),
    released_at timestamptz,
    CHECK ((released_on IS NULL) = (released_by IS NULL))
);
CREATE INDEX deposit_hold_open ON deposit_hold (account_id) WHERE released_on IS NULL;

CREATE TABLE deposit_transaction (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES deposit_account (id),
    kind varchar(20) NOT NULL CHECK (kind IN ('deposit', 'withdrawal', 'fee', 'interest', 'overdraft_interest',
                                              'withholding_tax', 'hold_placed', 'hold_released')),
    amount numeric(22, 4) NOT NULL CHECK (amount > 0),
    signed_amount numeric(22, 4) NOT NULL,
    balance_after numeric(22, 4) NOT NULL,
    value_date date NOT NULL,
    payment_type_id integer REFERENCES payment_type (id),
    charge_id integer REFERENCES charge (id),
    hold_id bigint REFERENCES deposit_hold (id),
    counterpart_account_id bigint REFERENCES deposit_account (id),
    journal_entry_id uuid REFERENCES journal_entry (id) DEFERRABLE INITIALLY DEFERRED,  -- booked last
    reverses_id bigint REFERENCES deposit_transaction (id),
    idempotency_key varchar(200),
    request_fingerprint varchar(64),
    description varchar(500) NOT NULL DEFAULT '',
    booked_at timestamptz NOT NULL DEFAULT now(),
    actor varchar(100) NOT NULL,
    CHECK (signed_amount IN (amount, -amount, 0)),
    CHECK ((kind IN ('hold_placed', 'hold_released')) = (hold_id IS NOT NULL))
);
CREATE UNIQUE INDEX deposit_transaction_idempotency ON deposit_transaction (account_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX deposit_transaction_account ON deposit_transaction (account_id, value_date, id);
CREATE INDEX deposit_transaction_entry ON deposit_transaction (journal_entry_id);
CREATE UNIQUE INDEX deposit_transaction_reversed_once ON deposit_transaction (reverses_id)
    WHERE reverses_id IS NOT NULL;
"""

FUNCTIONS = """
""" + refuse_changes(
    "deposit_transaction_refuse_change", append_only=('deposit_transaction',),
    keep_rows=('deposit_hold', 'deposit_account')) + r"""

-- A hold is released once, and nothing else of it ever changes.
CREATE FUNCTION deposit_hold_release_only() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF OLD.released_on IS NOT NULL OR NEW.released_on IS NULL
       OR (NEW.id, NEW.account_id, NEW.amount, NEW.reason, NEW.description, NEW.placed_on, NEW.placed_by,
           NEW.placed_at) IS DISTINCT FROM
          (OLD.id, OLD.account_id, OLD.amount, OLD.reason, OLD.description, OLD.placed_on, OLD.placed_by,
           OLD.placed_at) THEN
        RAISE EXCEPTION 'a hold is only ever released, once' USING ERRCODE = 'GL010';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER deposit_hold_release BEFORE UPDATE ON deposit_hold
    FOR EACH ROW EXECUTE FUNCTION deposit_hold_release_only();
"""


def _grants(app_role: str) -> str:
    role = app_role.replace('"', "")
    return f"""
GRANT SELECT ON deposit_account, deposit_transaction, deposit_hold TO "{role}";
GRANT INSERT (client_id, product_id, product_version, currency, office_id, status, interest_rate_annual_percent,
              overdraft_limit, minimum_balance, opened_on, created_by, updated_by),
      UPDATE (status, status_reason, balance, activated_on, closed_on, updated_at, updated_by)
    ON deposit_account TO "{role}";
GRANT INSERT (account_id, amount, reason, description, placed_on, placed_by),
      UPDATE (released_on, released_by, released_at)
    ON deposit_hold TO "{role}";
GRANT INSERT (account_id, kind, amount, signed_amount, balance_after, value_date, payment_type_id, charge_id,
              hold_id, counterpart_account_id, journal_entry_id, reverses_id, idempotency_key,
              request_fingerprint, description, actor)
    ON deposit_transaction TO "{role}";
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO "{role}";
"""


def upgrade(app_role: str) -> None:
    _script(TABLES)
    _script(FUNCTIONS)
    _script(_grants(app_role))


def downgrade(app_role: str) -> None:
    _script(
        "DROP TABLE deposit_transaction, deposit_hold, deposit_account CASCADE;"
        "DROP FUNCTION deposit_transaction_refuse_change; DROP FUNCTION deposit_hold_release_only;"
    )
