"""Withholding tax on term-deposit interest, and what the set-based interest run keeps.

Why: where the institution configures a withholding tax on interest (UEMOA: IRC / IRCM on
deposit interest), each interest posting splits the gross interest into the net credited to the
client and the tax owed to the state. The rate is reference data with a validity period, like
VAT/TAF/TOB: a new tax kind `withholding` on the `tax_rate` table. The interest transaction keeps
the tax withheld (the balance counts the net), what earns after it (principal plus net interest
of the term) and the rounding carry left after it (exact interest not yet posted, below one
minor unit), so the next period's interest is computed from the last posting alone, in closed
form, instead of replaying the term day by day.

A payout to and a funding from the client's deposit account name that account on the
transaction (`deposit_account_id`), for the statement and the audit trail.

Revision ID: 0019
Revises: 0014
Create Date: 2026-11-23
"""

from migrations import run_script as _script

revision = "0019"
down_revision = "0014"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE tax_rate DROP CONSTRAINT tax_rate_tax_kind_check;
ALTER TABLE tax_rate ALTER COLUMN tax_kind TYPE varchar(20);
ALTER TABLE tax_rate ADD CONSTRAINT tax_rate_tax_kind_check
    CHECK (tax_kind IN ('vat', 'taf', 'tob', 'withholding'));
ALTER TABLE term_deposit_transaction
    ADD COLUMN withholding_tax numeric(22, 4) NOT NULL DEFAULT 0 CHECK (withholding_tax >= 0),
    ADD COLUMN interest_carry numeric(40, 18),
    ADD COLUMN interest_base_after numeric(22, 4),
    ADD COLUMN deposit_account_id bigint,
    ADD CONSTRAINT term_deposit_tax_on_interest
        CHECK (withholding_tax = 0 OR kind IN ('interest', 'interest_clawback')),
    ADD CONSTRAINT term_deposit_tax_within_interest CHECK (kind <> 'interest' OR withholding_tax <= amount);
ALTER TABLE term_deposit_account ADD COLUMN payout_deposit_account_id bigint;
COMMENT ON COLUMN term_deposit_account.payout_deposit_account_id IS
    'The client''s deposit account maturity pays into (deposit accounts live in revision 0012, another branch: checked by the service).';
COMMENT ON COLUMN term_deposit_transaction.withholding_tax IS
    'Interest: tax withheld at source (amount is gross; the deposit is credited amount - tax). Interest claw-back at a premature closure: tax refunded to the deposit.';
COMMENT ON COLUMN term_deposit_transaction.interest_base_after IS
    'Interest: what earns from the next day on (the term''s principal plus the net interest credited in the term).';
COMMENT ON COLUMN term_deposit_transaction.interest_carry IS
    'Rounding carry after this interest posting (exact interest computed, not yet posted).';
"""


def upgrade(app_role: str) -> None:
    _script(UPGRADE)
    _script(f'GRANT INSERT (withholding_tax, interest_carry, interest_base_after, deposit_account_id) ON term_deposit_transaction'
            f' TO "{app_role}";'
            f'GRANT INSERT (payout_deposit_account_id), UPDATE (payout_deposit_account_id) ON term_deposit_account'
            f' TO "{app_role}";')


def downgrade(app_role: str) -> None:
    _script("""
ALTER TABLE term_deposit_transaction DROP COLUMN withholding_tax, DROP COLUMN interest_carry, DROP COLUMN interest_base_after,
    DROP COLUMN deposit_account_id;
ALTER TABLE term_deposit_account DROP COLUMN payout_deposit_account_id;
DELETE FROM tax_rate WHERE tax_kind = 'withholding';
ALTER TABLE tax_rate DROP CONSTRAINT tax_rate_tax_kind_check;
ALTER TABLE tax_rate ALTER COLUMN tax_kind TYPE varchar(10);
ALTER TABLE tax_rate ADD CONSTRAINT tax_rate_tax_kind_check CHECK (tax_kind IN ('vat', 'taf', 'tob'));
""")
