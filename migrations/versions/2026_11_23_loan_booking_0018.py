"""Loans: the classification and term bucket a loan's postings are booked under.

Why: seed 002 maps a loan product's portfolio and interest accounts per nature (healthy,
doubtful, immobilised) and per duration (short, medium, long term). Every posting of a loan
must use the accounts of the loan's *booked* classification and term bucket, and the
reconciliation and `grandlivre verify` must know which account holds a loan's balances, so
both are kept on the loan: the term bucket is set at disbursement from the schedule's
duration and the product's term limits; the classification stays healthy until the
close-of-business work reclassifies the loan (a reclassification transaction moving its
balances between accounts, then this column). The app role may change both columns only.

Also: a loan transaction's reference to its journal entry is checked at commit (deferred), so
a repayment books its entry as its last statement and holds the journal's shared rows (the
office's chain head, the accounts' cached balances) for the shortest time.

Revision ID: 0018
Revises: 0013
Create Date: 2026-11-23
"""

from migrations import run_script as _script

revision = "0018"
down_revision = "0013"
branch_labels = None
depends_on = None

COLUMNS = r"""
ALTER TABLE loan
    ADD COLUMN booked_classification varchar(20) NOT NULL DEFAULT 'healthy'
        CHECK (booked_classification IN ('healthy', 'doubtful', 'written_off')),
    ADD COLUMN term_bucket varchar(10) CHECK (term_bucket IN ('short', 'medium', 'long'));
CREATE INDEX loan_booking ON loan (product_id, product_version, booked_classification, term_bucket)
    WHERE term_bucket IS NOT NULL;
-- A loan transaction may be written before its entry in the same transaction: the entry is
-- booked last, so the journal's shared rows (chain head, cached balances) are locked only
-- until the commit, where the reference is checked.
ALTER TABLE loan_transaction ALTER CONSTRAINT loan_transaction_journal_entry_id_fkey DEFERRABLE INITIALLY DEFERRED;
-- Loans disbursed before this revision posted on the short-term accounts.
UPDATE loan SET term_bucket = 'short' WHERE EXISTS (SELECT 1 FROM loan_transaction t WHERE t.loan_id = loan.id);
"""


def _grants(app_role: str) -> str:
    role = app_role.replace('"', "")
    return f'GRANT UPDATE (booked_classification, term_bucket) ON loan TO "{role}";'


def upgrade(app_role: str) -> None:
    _script(COLUMNS)
    _script(_grants(app_role))


def downgrade(app_role: str) -> None:
    _script("ALTER TABLE loan_transaction ALTER CONSTRAINT loan_transaction_journal_entry_id_fkey NOT DEFERRABLE;"
            "DROP INDEX loan_booking; ALTER TABLE loan DROP COLUMN term_bucket, DROP COLUMN booked_classification;")
