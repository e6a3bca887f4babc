"""Close of business per office, and a cheap quiet day for the loan ageing.

Why, business days per office: issue 9 closes a business date "for the institution or for an
office". A branch that has closed its tills closes its day without waiting for the others, so
the days closed (and the steps each ran) are recorded per office: `business_day` and
`business_day_step` gain `office_id` in their keys. An institution close records every office.
Rows recorded before this revision were institution closes: each is kept for the first office
and copied for every other office (the triggers refusing changes are suspended for that
backfill only, inside this migration's transaction).

Why, `loan_arrears_state.next_due_date` and `transactions_seen`: on most days nothing happens
to most loans. The ageing step leaves a loan's state as it is, in one set-based statement, when
nothing can have changed since it was aged: it was current, its next unpaid instalment falls
due after the reminder notice, no transaction has come into its history (`transactions_seen` is
the highest transaction number that history held) and the loan itself was not changed since.

Revision ID: 0029
Revises: 0028
Create Date: 2026-11-23
"""

from migrations import run_script as _script

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE business_day DISABLE TRIGGER business_day_append_only;
ALTER TABLE business_day_step DISABLE TRIGGER business_day_step_append_only;

ALTER TABLE business_day ADD COLUMN office_id integer REFERENCES office (id);
ALTER TABLE business_day_step ADD COLUMN office_id integer REFERENCES office (id);
UPDATE business_day SET office_id = (SELECT min(id) FROM office);
UPDATE business_day_step SET office_id = (SELECT min(id) FROM office);
INSERT INTO business_day (office_id, business_date, steps, started_at, closed_at, actor)
SELECT o.id, d.business_date, d.steps, d.started_at, d.closed_at, d.actor
  FROM business_day d JOIN office o ON o.id <> d.office_id;
INSERT INTO business_day_step (office_id, business_date, step, position, items, entries, detail, started_at,
                               finished_at, actor)
SELECT o.id, s.business_date, s.step, s.position, s.items, s.entries, s.detail, s.started_at, s.finished_at, s.actor
  FROM business_day_step s JOIN office o ON o.id <> s.office_id;
ALTER TABLE business_day ALTER COLUMN office_id SET NOT NULL;
ALTER TABLE business_day_step ALTER COLUMN office_id SET NOT NULL;
ALTER TABLE business_day DROP CONSTRAINT business_day_pkey, ADD PRIMARY KEY (office_id, business_date);
ALTER TABLE business_day_step DROP CONSTRAINT business_day_step_pkey,
    ADD PRIMARY KEY (office_id, business_date, step);
CREATE INDEX business_day_date ON business_day (business_date);

ALTER TABLE business_day ENABLE TRIGGER business_day_append_only;
ALTER TABLE business_day_step ENABLE TRIGGER business_day_step_append_only;

ALTER TABLE loan_arrears_state ADD COLUMN next_due_date date, ADD COLUMN transactions_seen integer;
"""

DOWNGRADE = """
ALTER TABLE loan_arrears_state DROP COLUMN next_due_date, DROP COLUMN transactions_seen;
ALTER TABLE business_day DISABLE TRIGGER business_day_append_only;
ALTER TABLE business_day_step DISABLE TRIGGER business_day_step_append_only;
DROP INDEX business_day_date;
DELETE FROM business_day d USING business_day e
 WHERE e.business_date = d.business_date AND e.office_id < d.office_id;
DELETE FROM business_day_step d USING business_day_step e
 WHERE e.business_date = d.business_date AND e.step = d.step AND e.office_id < d.office_id;
ALTER TABLE business_day DROP CONSTRAINT business_day_pkey, ADD PRIMARY KEY (business_date);
ALTER TABLE business_day_step DROP CONSTRAINT business_day_step_pkey, ADD PRIMARY KEY (business_date, step);
ALTER TABLE business_day DROP COLUMN office_id;
ALTER TABLE business_day_step DROP COLUMN office_id;
ALTER TABLE business_day ENABLE TRIGGER business_day_append_only;
ALTER TABLE business_day_step ENABLE TRIGGER business_day_step_append_only;
"""


def upgrade(app_role: str) -> None:
    _script(UPGRADE)


def downgrade(app_role: str) -> None:
    _script(DOWNGRADE)
