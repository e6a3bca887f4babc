"""Loan transactions and their entry shares: references checked once per statement, and the
optional unique keys indexed only where they are set.

Why: a night's close of business writes one accrual transaction per loan and two entry shares
per transaction, by chunks of 2,000 loans in one statement. Row-level foreign keys checked
each row on its own: four lookups per row (the loan, the kind, the transaction, the account),
about half of the statement's time, on a quiet night most of the database's work. The same
references are now checked once per statement against its transition table
(`loan_transaction_references`, `loan_entry_share_references`): an anti-join over the distinct
values named, one pass. The
other side of each reference, which the foreign keys also guarded, keeps its guard:

* `loan_transaction_kind` and `loan_transaction` are append-only already (no DELETE, UPDATE or
  TRUNCATE, whoever asks);
* a loan with transactions cannot be deleted (`loan_keeps_transactions`), nor can a GL
  account that entry shares name (`gl_account_keeps_shares`; an account with postings was
  already refused by `gl_account_guard`), and TRUNCATE of either is refused by the other
  foreign keys that reference them.
* as a foreign key does, the insert locks the loans and accounts it names (KEY SHARE), and the
  guards run after the row is deleted, once the delete has waited for such locks: a delete and
  an insert that cross are refused whichever comes first, never both committed.

`loan_arrears_state` is rewritten in place every night (each loan's state carried to the day).
Revision 0034 kept half of each page free (fillfactor 50) so that the new row versions stay on
their page with no index entry (heap-only updates); a row's version is not always smaller than
half a page's share, and about 17,000 of the 85,000 states a quiet night carries did not fit
(102,584 WAL records for 85,000 rows). At 45 they all do (85,000). It applies to pages filled
from now on (a table rewrite applies it to the existing ones).

The unique keys on `reverses_transaction_id` and `(loan_id, kind, idempotency_key)` hold only
for set values (NULLs never collide): partial unique indexes keep that rule without an index
entry for each of the many rows that have neither (every accrual, penalty and charge).

Revision ID: 0046
Revises: 0045
Create Date: 2026-11-24
"""

from migrations import run_script as _script

revision = "0046"
down_revision = "0045"
branch_labels = None
depends_on = None

TABLES = """
ALTER TABLE loan_transaction DROP CONSTRAINT loan_transaction_loan_id_fkey,
                             DROP CONSTRAINT loan_transaction_kind_fkey,
                             DROP CONSTRAINT loan_transaction_reverses_transaction_id_key,
                             DROP CONSTRAINT loan_transaction_loan_id_kind_idempotency_key_key;
ALTER TABLE loan_entry_share DROP CONSTRAINT loan_entry_share_loan_transaction_id_fkey,
                             DROP CONSTRAINT loan_entry_share_account_id_fkey;
CREATE UNIQUE INDEX loan_transaction_reversed_once ON loan_transaction (reverses_transaction_id)
    WHERE reverses_transaction_id IS NOT NULL;
CREATE UNIQUE INDEX loan_transaction_idempotency ON loan_transaction (loan_id, kind, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE FUNCTION loan_transaction_references() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    missing_loan integer;
    missing_kind text;
BEGIN
    -- As a foreign key would: the loans named are locked (KEY SHARE, in id order) so that none is
    -- deleted before this transaction ends (`loan_keeps_transactions` then sees its rows).
    PERFORM 1 FROM loan l WHERE l.id IN (SELECT DISTINCT loan_id FROM inserted) ORDER BY l.id FOR KEY SHARE;
    SELECT n.loan_id INTO missing_loan FROM (SELECT DISTINCT loan_id FROM inserted) n
     WHERE NOT EXISTS (SELECT 1 FROM loan l WHERE l.id = n.loan_id) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'loan transaction of an unknown loan %', missing_loan
            USING ERRCODE = 'foreign_key_violation', COLUMN = 'loan_id';
    END IF;
    SELECT n.kind INTO missing_kind FROM (SELECT DISTINCT kind FROM inserted) n
     WHERE NOT EXISTS (SELECT 1 FROM loan_transaction_kind k WHERE k.kind = n.kind) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'unknown loan transaction kind %', missing_kind USING ERRCODE = 'foreign_key_violation', COLUMN = 'kind';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER loan_transaction_references AFTER INSERT ON loan_transaction
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION loan_transaction_references();

CREATE FUNCTION loan_entry_share_references() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    missing bigint;
BEGIN
    SELECT n.loan_transaction_id INTO missing FROM (SELECT DISTINCT loan_transaction_id FROM inserted) n
     WHERE NOT EXISTS (SELECT 1 FROM loan_transaction t WHERE t.id = n.loan_transaction_id) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'entry share of an unknown loan transaction %', missing
            USING ERRCODE = 'foreign_key_violation', COLUMN = 'loan_transaction_id';
    END IF;
    PERFORM 1 FROM gl_account g WHERE g.id IN (SELECT DISTINCT account_id FROM inserted) ORDER BY g.id
        FOR KEY SHARE;
    SELECT n.account_id INTO missing FROM (SELECT DISTINCT account_id FROM inserted) n
     WHERE NOT EXISTS (SELECT 1 FROM gl_account g WHERE g.id = n.account_id) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'entry share on an unknown account %', missing
            USING ERRCODE = 'foreign_key_violation', COLUMN = 'account_id';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER loan_entry_share_references AFTER INSERT ON loan_entry_share
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION loan_entry_share_references();

CREATE FUNCTION loan_keeps_transactions() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF (TG_OP = 'DELETE' OR NEW.id <> OLD.id)
       AND EXISTS (SELECT 1 FROM loan_transaction t WHERE t.loan_id = OLD.id) THEN
        RAISE EXCEPTION 'loan % has transactions: it cannot be deleted nor change id', OLD.id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER loan_keeps_transactions AFTER DELETE OR UPDATE OF id ON loan
    FOR EACH ROW EXECUTE FUNCTION loan_keeps_transactions();

CREATE FUNCTION gl_account_keeps_shares() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM loan_entry_share s WHERE s.account_id = OLD.id) THEN
        RAISE EXCEPTION 'account % is named by loan entry shares and cannot be deleted', OLD.code
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER gl_account_keeps_shares AFTER DELETE ON gl_account
    FOR EACH ROW EXECUTE FUNCTION gl_account_keeps_shares();

ALTER TABLE loan_arrears_state SET (fillfactor = 45);
"""


def upgrade(app_role: str) -> None:
    _script(TABLES)


def downgrade(app_role: str) -> None:
    _script("""
ALTER TABLE loan_arrears_state SET (fillfactor = 50);
DROP TRIGGER gl_account_keeps_shares ON gl_account; DROP FUNCTION gl_account_keeps_shares;
DROP TRIGGER loan_keeps_transactions ON loan; DROP FUNCTION loan_keeps_transactions;
DROP TRIGGER loan_entry_share_references ON loan_entry_share; DROP FUNCTION loan_entry_share_references;
DROP TRIGGER loan_transaction_references ON loan_transaction; DROP FUNCTION loan_transaction_references;
DROP INDEX loan_transaction_idempotency; DROP INDEX loan_transaction_reversed_once;
ALTER TABLE loan_transaction ADD CONSTRAINT loan_transaction_loan_id_fkey FOREIGN KEY (loan_id) REFERENCES loan (id),
    ADD CONSTRAINT loan_transaction_kind_fkey FOREIGN KEY (kind) REFERENCES loan_transaction_kind (kind),
    ADD CONSTRAINT loan_transaction_reverses_transaction_id_key UNIQUE (reverses_transaction_id),
    ADD CONSTRAINT loan_transaction_loan_id_kind_idempotency_key_key UNIQUE (loan_id, kind, idempotency_key);
ALTER TABLE loan_entry_share
    ADD CONSTRAINT loan_entry_share_loan_transaction_id_fkey FOREIGN KEY (loan_transaction_id)
        REFERENCES loan_transaction (id),
    ADD CONSTRAINT loan_entry_share_account_id_fkey FOREIGN KEY (account_id) REFERENCES gl_account (id);
""")
