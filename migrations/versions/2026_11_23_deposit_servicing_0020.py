"""Deposit accounts: interest carry, dormancy, reversals, VAT on fees, holds pending approval.

Why:
* interest rounding remainders are carried from one posting period to the next
  (`interest_carry_earned` / `interest_carry_charged`, each below one rounding step), and
  `interest_posted_through` remembers the last period end an account's interest run settled
  (posted, or carried only when the period rounds to nothing): it makes the run idempotent
  without probing the transactions (and a run for a period already settled skips the account);
* `last_client_movement_on` is the value date of the last movement the client made (deposit,
  withdrawal, outgoing transfer): with the product's dormancy days it says when the account
  is dormant; reactivation sets it to the day of the reactivation;
* a reversal is an account transaction of its own kind (`deposit_reversal`,
  `withdrawal_reversal`, `fee_reversal`, `fee_tax_reversal`) naming the original
  (`reverses_id`, unique: reversed once); `fee_tax` is the VAT/TAF charged with a fee;
* `deposit_account` pages keep room for updated rows (fillfactor 70): the balance columns change
  with every movement and interest run, and a row updated in place adds no index entries;
* a withdrawal or transfer waiting for a second person's approval holds its funds
  (`pending_approval` holds, released when it is approved or rejected).
Nothing shipped changes: the CHECKs are widened, the new columns have defaults, and the
backfill reads the existing transactions.

Revision ID: 0020
Revises: 0012
Create Date: 2026-11-23
"""

from migrations import run_script as _script

revision = "0020"
down_revision = "0012"
branch_labels = None
depends_on = None

KINDS = ("'deposit', 'withdrawal', 'fee', 'interest', 'overdraft_interest', 'withholding_tax', 'hold_placed', "
         "'hold_released'")
NEW_KINDS = "'fee_tax', 'deposit_reversal', 'withdrawal_reversal', 'fee_reversal', 'fee_tax_reversal'"

UPGRADE = f"""
ALTER TABLE deposit_account
    ADD COLUMN interest_carry_earned numeric(38, 18) NOT NULL DEFAULT 0 CHECK (interest_carry_earned >= 0),
    ADD COLUMN interest_carry_charged numeric(38, 18) NOT NULL DEFAULT 0 CHECK (interest_carry_charged >= 0),
    ADD COLUMN interest_posted_through date,
    ADD COLUMN last_client_movement_on date;
COMMENT ON COLUMN deposit_account.interest_carry_earned IS
    'Exact interest earned but not yet posted because of rounding (below one step), added to the next period.';
COMMENT ON COLUMN deposit_account.interest_posted_through IS
    'Last day of the last posting period the interest run settled for this account.';
COMMENT ON COLUMN deposit_account.last_client_movement_on IS
    'Value date of the client''s last own movement (or of the reactivation): dormancy counts from it.';

UPDATE deposit_account a SET
    interest_posted_through = (SELECT max(t.value_date) FROM deposit_transaction t WHERE t.account_id = a.id
                                  AND t.kind IN ('interest', 'overdraft_interest')),
    last_client_movement_on = (SELECT max(t.value_date) FROM deposit_transaction t WHERE t.account_id = a.id
                                  AND t.kind IN ('deposit', 'withdrawal') AND t.counterpart_account_id IS NULL);

-- Every movement and every interest run rewrites account rows: room on each page lets PostgreSQL
-- update them in place (HOT, no index entries to add) instead of moving them.
ALTER TABLE deposit_account SET (fillfactor = 70);

ALTER TABLE deposit_transaction DROP CONSTRAINT deposit_transaction_kind_check;
ALTER TABLE deposit_transaction ADD CONSTRAINT deposit_transaction_kind_check CHECK (kind IN ({KINDS}, {NEW_KINDS}));
ALTER TABLE deposit_transaction ADD CONSTRAINT deposit_transaction_reversal_names_original
    CHECK ((kind LIKE '%\\_reversal') = (reverses_id IS NOT NULL));

ALTER TABLE deposit_hold DROP CONSTRAINT deposit_hold_reason_check;
ALTER TABLE deposit_hold ADD CONSTRAINT deposit_hold_reason_check
    CHECK (reason IN ('guarantee', 'cash_collateral', 'legal', 'pending_approval'));
ALTER TABLE deposit_hold ADD COLUMN approval_id uuid,
    ADD CONSTRAINT deposit_hold_pending_approval CHECK ((reason = 'pending_approval') = (approval_id IS NOT NULL));
CREATE UNIQUE INDEX deposit_hold_approval ON deposit_hold (approval_id) WHERE approval_id IS NOT NULL;
COMMENT ON COLUMN deposit_hold.approval_id IS
    'The pending command (maker-checker) whose funds this hold keeps until it is approved or rejected.';
"""


def _grants(app_role: str) -> str:
    role = app_role.replace('"', "")
    return f"""
GRANT UPDATE (interest_carry_earned, interest_carry_charged, interest_posted_through, last_client_movement_on)
    ON deposit_account TO "{role}";
GRANT INSERT (approval_id) ON deposit_hold TO "{role}";
"""


def upgrade(app_role: str) -> None:
    _script(UPGRADE)
    _script(_grants(app_role))


def downgrade(app_role: str) -> None:
    _script(f"""
ALTER TABLE deposit_account RESET (fillfactor);
DROP INDEX deposit_hold_approval;
ALTER TABLE deposit_hold DROP CONSTRAINT deposit_hold_pending_approval, DROP COLUMN approval_id;
ALTER TABLE deposit_hold DROP CONSTRAINT deposit_hold_reason_check;
ALTER TABLE deposit_hold ADD CONSTRAINT deposit_hold_reason_check
    CHECK (reason IN ('guarantee', 'cash_collateral', 'legal'));
ALTER TABLE deposit_transaction DROP CONSTRAINT deposit_transaction_reversal_names_original;
ALTER TABLE deposit_transaction DROP CONSTRAINT deposit_transaction_kind_check;
ALTER TABLE deposit_transaction ADD CONSTRAINT deposit_transaction_kind_check CHECK (kind IN ({KINDS}));
ALTER TABLE deposit_account DROP COLUMN interest_carry_earned, DROP COLUMN interest_carry_charged,
    DROP COLUMN interest_posted_through, DROP COLUMN last_client_movement_on;
""")
