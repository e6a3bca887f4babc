"""Close of business, quiet day: each loan's accrual window (step `loan_accrual`'s fast path).

Why: on a quiet night most accrual loans only earn one more day of the period they are in.
Re-reading and decoding every schedule to find that out was most of the step's Python time.
``loan_accrual_window`` keeps, per loan, what its accrued-to-date interest and fees depend on
between two consecutive dates of its schedule (`products.loans.accrual.AccrualWindow`): the
interest of the periods already over, the one period running, the fees already due. The step
derives a covered day's target from it with the same pure functions; a day outside the window
takes the full derivation, which writes the next window.

It is a cache, recomputable from the schedule and never a source of truth: a change of the
loan's schedule, terms or disbursement date deletes the loan's window (trigger
``loan_accrual_window_forget``), so a rescheduled, recalculated or re-tranched loan is derived
in full the next night; a test checks the fast path posts what the full path posts. Amounts
are plain ``numeric`` (no scale): they come back exactly as the schedule wrote them, so the fast
path's figures are the full path's to the last digit of their representation.

``loan_schedule_change``: when each loan's schedule, terms, status, disbursement or
rescheduling last changed (the same trigger stamps it; filled from ``loan.updated_at`` on
upgrade). The ageing's and the collection's quiet-loan tests ask "has the loan changed since it
was aged?"; ``loan.updated_at`` also moves when the classification step books a new class,
which changes nothing the ageing reads, so every loan reclassified one night was re-derived the
next.

``fillfactor`` 50 on ``loan_arrears_state`` and ``loan_accrual_total``: most of their rows are
rewritten every night; with room on the page the new version is a heap-only update (no index
entry written). Applies to the pages written from then on.

Revision ID: 0034
Revises: 0033
Create Date: 2026-11-23
"""

from migrations import run_script as _script

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None

TABLES = """
CREATE TABLE loan_accrual_window (
    loan_id integer PRIMARY KEY REFERENCES loan (id),
    after_date date NOT NULL,
    before_date date NOT NULL,
    interest_done numeric NOT NULL,
    period_number integer,
    period_from date,
    period_due date,
    period_interest numeric,
    fee numeric NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (after_date < before_date),
    CHECK ((period_number IS NULL) = (period_from IS NULL) AND (period_from IS NULL) = (period_due IS NULL)
           AND (period_due IS NULL) = (period_interest IS NULL))
);

-- Rewritten for most loans every night (the day carried, the accruals summed): room on each
-- page for the row's next version, so the update stays on its page and touches no index.
ALTER TABLE loan_arrears_state SET (fillfactor = 50);
ALTER TABLE loan_accrual_total SET (fillfactor = 50);

CREATE TABLE loan_schedule_change (
    loan_id integer PRIMARY KEY REFERENCES loan (id),
    changed_at timestamptz NOT NULL
);
INSERT INTO loan_schedule_change (loan_id, changed_at) SELECT id, updated_at FROM loan;

CREATE FUNCTION loan_accrual_window_forget() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    DELETE FROM loan_accrual_window WHERE loan_id = NEW.id;
    INSERT INTO loan_schedule_change AS c (loan_id, changed_at) VALUES (NEW.id, now())
    ON CONFLICT (loan_id) DO UPDATE SET changed_at = EXCLUDED.changed_at;
    RETURN NULL;
END $$;
CREATE TRIGGER loan_accrual_window_forget
    AFTER UPDATE OF schedule, terms, disbursed_on, product_version, status, rescheduled_on, principal_approved ON loan
    FOR EACH ROW EXECUTE FUNCTION loan_accrual_window_forget();
"""


def _grants(app_role: str) -> str:
    role = app_role.replace('"', "")
    return (f'GRANT SELECT, INSERT, UPDATE, DELETE ON loan_accrual_window TO "{role}";\n'
            f'GRANT SELECT, INSERT, UPDATE ON loan_schedule_change TO "{role}";\n')


def upgrade(app_role: str) -> None:
    _script(TABLES)
    _script(_grants(app_role))


def downgrade(app_role: str) -> None:
    _script("ALTER TABLE loan_arrears_state RESET (fillfactor); ALTER TABLE loan_accrual_total RESET (fillfactor);"
            " DROP TRIGGER loan_accrual_window_forget ON loan; DROP FUNCTION loan_accrual_window_forget();"
            " DROP TABLE loan_accrual_window; DROP TABLE loan_schedule_change;")
