"""Close of business: the business days closed and the steps each ran.

Why: the end-of-day run (`grandlivre close-day`) must be resumable and idempotent. Each step
of a day is recorded once it has finished (its own transaction, after its postings committed),
so a run killed halfway resumes at the first step without a record; a day is recorded closed
once all its steps are. Days are closed in order: the next day to close is the day after the
last one recorded. Both tables are append-only (PostgreSQL refuses changes, even the owner's):
they are the audit trail of what the close of business did and when.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-23
"""

from migrations import refuse_changes
from migrations import run_script as _script

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = "0006"  # staff roles: the accountant role gets the new permissions

TABLES = """
CREATE TABLE business_day_step (
    business_date date NOT NULL,
    step varchar(60) NOT NULL,
    position smallint NOT NULL CHECK (position >= 1),
    items integer NOT NULL CHECK (items >= 0),
    entries integer NOT NULL CHECK (entries >= 0),
    detail jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(detail) = 'object'),
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL CHECK (finished_at >= started_at),
    actor varchar(100) NOT NULL,
    PRIMARY KEY (business_date, step)
);

CREATE TABLE business_day (
    business_date date PRIMARY KEY,
    steps smallint NOT NULL CHECK (steps >= 0),
    started_at timestamptz NOT NULL,
    closed_at timestamptz NOT NULL DEFAULT now() CHECK (closed_at >= started_at),
    actor varchar(100) NOT NULL
);
""" + refuse_changes("business_day_refuse_change", append_only=("business_day_step", "business_day"))


def _grants(role: str) -> str:
    return f"""
GRANT SELECT, INSERT ON business_day_step, business_day TO "{role}";
"""


# Installations seeded before this revision: the accountant role runs the close of business.
_ACCOUNTANT = """
UPDATE staff_role SET grants = array_append(grants, 'business_days:*'), updated_by = 'migration'
 WHERE name = 'accountant' AND builtin AND NOT ('business_days:*' = ANY (grants));
"""


def upgrade(app_role: str) -> None:
    _script(TABLES)
    _script(_grants(app_role))
    _script(_ACCOUNTANT)


def downgrade(app_role: str) -> None:
    _script("UPDATE staff_role SET grants = array_remove(grants, 'business_days:*') WHERE name = 'accountant';"
            "DROP TABLE business_day_step, business_day; DROP FUNCTION business_day_refuse_change;")
