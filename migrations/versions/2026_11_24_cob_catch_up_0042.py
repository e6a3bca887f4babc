"""Close of business, catch-up and re-runs: the day a loan left the portfolio, and the arrears
status of the close before.

Why (issue 9, item 1): an office behind on its closes catches the missed days up in one run.
A loan paid off, written off or otherwise closed after a day D but before the catch-up ran was
still open on D: the ageing must see it as it stood that day. The steps selected loans by their
status now (``status = 'active'``); ``loan.closed_on`` says when the loan left the portfolio,
so "open on D" is one condition (`servicing.close_of_business.selection.LOAN_OPEN_ON_DAY`):
active, or closed / written off on a later day. The application writes the value date of the
closing movement (repayment, waiver, collection, write-off); trigger ``loan_closed_on_kept``
clears it when the loan is active again (a reversal reopening it, a write-off reversed) and,
as a safety net for a path that changes the status without it, takes the date of the loan's
latest movement. Shipped rows are filled from the loans' transactions: the last write-off not
reversed for a written-off loan, the last movement for a closed one (the accruals, which move
nothing owed, do not count).

Why (item 2): ``loan_arrears`` holds a non-performing loan in that status until its arrears are
fully paid when the product says so, against the status of the close before. A re-run of the
same day found the state it had just written for that day and took "performing" as the status
before: the loan could leave NPA on a re-run. ``loan_arrears_state.prior_status`` keeps the
status of the last close before the state's day (moved forward when the state moves to a later
day, kept when the same day is written again), so a re-run reads the day before's status.
Left NULL for the states written before this revision (a re-run of their day falls back to
performing, as before).

Revision ID: 0042
Revises: 0039
Create Date: 2026-11-24
"""

from migrations import run_script as _script

revision = "0042"
down_revision = "0039"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE loan ADD COLUMN closed_on date;
ALTER TABLE loan_arrears_state ADD COLUMN prior_status varchar(20);

UPDATE loan l SET closed_on = coalesce(
       (SELECT max(t.value_date) FROM loan_transaction t
         WHERE t.loan_id = l.id AND t.kind = 'write_off' AND l.status = 'written_off'
           AND NOT EXISTS (SELECT 1 FROM loan_transaction r WHERE r.reverses_transaction_id = t.id)),
       (SELECT max(t.value_date) FROM loan_transaction t
         WHERE t.loan_id = l.id AND t.kind NOT IN ('accrual', 'accrual_adjustment', 'reclassification')),
       l.disbursed_on, CAST(l.updated_at AS date))
 WHERE l.status IN ('closed', 'written_off');

CREATE FUNCTION loan_closed_on_kept() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF NEW.status NOT IN ('closed', 'written_off') THEN
        NEW.closed_on := NULL;
    ELSIF NEW.closed_on IS NULL THEN
        NEW.closed_on := coalesce(
            (SELECT max(t.value_date) FROM loan_transaction t
              WHERE t.loan_id = NEW.id AND t.kind NOT IN ('accrual', 'accrual_adjustment', 'reclassification')),
            NEW.disbursed_on, CAST(now() AS date));
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER loan_closed_on_kept
    BEFORE UPDATE OF status, closed_on ON loan
    FOR EACH ROW EXECUTE FUNCTION loan_closed_on_kept();
"""


def upgrade(app_role: str) -> None:
    _script(UPGRADE)
    role = app_role.replace('"', "")
    _script(f'GRANT UPDATE (closed_on) ON loan TO "{role}";')  # loan updates are granted per column


def downgrade(app_role: str) -> None:
    del app_role
    _script("DROP TRIGGER loan_closed_on_kept ON loan; DROP FUNCTION loan_closed_on_kept();"
            " ALTER TABLE loan_arrears_state DROP COLUMN prior_status; ALTER TABLE loan DROP COLUMN closed_on;")
