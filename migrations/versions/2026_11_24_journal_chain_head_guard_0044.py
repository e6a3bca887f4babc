"""The journal chain's heads only move forward: `journal_chain_head` gets its guard.

Why: every other journal table refuses UPDATE, DELETE and TRUNCATE for every role, the owner
included (0001, 0003), but the heads (each office's last chain position and hash, which the
next entry must continue) could be deleted, rewound or moved to another office by the owner,
and a rewound head lets entries be re-chained over positions already taken. The head moves by
UPDATE in normal posting (`journal_chain_advance`, 0003: to the batch's last position), so the
guard lets an UPDATE through only when it keeps the office and moves the position forward
(new > old); DELETE and TRUNCATE are refused outright, whoever asks (GL010, as the journal's
own refusals). The function has a fixed search_path, like 0001's.

Revision ID: 0044
Revises: 0043
Create Date: 2026-11-24
"""

from migrations import refuse_changes
from migrations import run_script as _script

revision = "0044"
down_revision = "0043"
branch_labels = None
depends_on = None

FUNCTIONS = """
CREATE FUNCTION journal_chain_head_forward_only() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF NEW.office_id IS DISTINCT FROM OLD.office_id THEN
        RAISE EXCEPTION 'the journal chain head of office % cannot be moved to office %', OLD.office_id, NEW.office_id
            USING ERRCODE = 'GL010';
    END IF;
    IF NEW.position IS NULL OR NEW.position <= OLD.position THEN
        RAISE EXCEPTION 'the journal chain head of office % only moves forward: position % to % is refused',
            OLD.office_id, OLD.position, NEW.position USING ERRCODE = 'GL010';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER journal_chain_head_forward_only BEFORE UPDATE ON journal_chain_head
    FOR EACH ROW EXECUTE FUNCTION journal_chain_head_forward_only();
""" + refuse_changes("journal_chain_head_refuse_change", keep_rows=("journal_chain_head",))


def upgrade(app_role: str) -> None:
    _script(FUNCTIONS)


def downgrade(app_role: str) -> None:
    _script("DROP TRIGGER journal_chain_head_no_truncate ON journal_chain_head;"
            "DROP TRIGGER journal_chain_head_no_delete ON journal_chain_head;"
            "DROP TRIGGER journal_chain_head_forward_only ON journal_chain_head;"
            "DROP FUNCTION journal_chain_head_forward_only, journal_chain_head_refuse_change;")
