"""Tamper evidence and report speed: a hash chain per office over the journal, and per-account
period totals (year, month, day) kept in the posting statement.

Why a chain: an auditor must be able to prove that no entry was altered, removed or slipped in,
even by someone who can bypass the append-only triggers (a superuser). Each entry stores its
position in its office's chain and `entry_hash = sha256(previous entry's hash || canonical bytes
of the entry and its lines)`. The writer computes the hash (Python, `ledger.chain`); PostgreSQL
keeps the chain contiguous (each office's head row moves only forward, one position per entry)
and `verify` recomputes every hash from the rows with the SQL twin of the canonical bytes below.

Why period totals: a trial balance at any date must not sum the whole journal. Totals per
account, office and currency for each year, month and day that has lines let any span of dates
be read as a few whole years, whole months and days. They are derived data, written only by the
posting trigger, and `verify` recomputes them.

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-23
"""

from migrations import run_script as _script

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = """
ALTER TABLE journal_entry ADD COLUMN chain_position bigint, ADD COLUMN entry_hash bytea;

CREATE TABLE journal_chain_head (
    office_id integer PRIMARY KEY REFERENCES office (id),
    position bigint NOT NULL CHECK (position >= 0),
    entry_hash bytea NOT NULL
);
COMMENT ON TABLE journal_chain_head IS
    'Last position and hash of each office''s journal chain; moved only by the journal_entry insert trigger.';

CREATE TABLE account_period_total (
    grain char(1) NOT NULL CHECK (grain IN ('Y', 'M', 'D')),
    account_id integer NOT NULL,
    period_start date NOT NULL,
    office_id integer NOT NULL,
    currency char(3) NOT NULL,
    debit_total numeric(28, 4) NOT NULL,
    credit_total numeric(28, 4) NOT NULL,
    line_count bigint NOT NULL,
    PRIMARY KEY (account_id, grain, period_start, office_id, currency)
);
-- Covering: a trial balance reads whole years, months and days of every account from the index
-- alone (past periods never change again, so their pages stay all-visible once vacuumed).
CREATE INDEX account_period_total_period ON account_period_total (grain, period_start)
    INCLUDE (office_id, account_id, currency, debit_total, credit_total, line_count);
COMMENT ON TABLE account_period_total IS
    'Derived totals of journal_line per account, office, currency and year/month/day; kept by the posting trigger, checked by verify.';
"""

CANONICAL = r"""
-- The canonical bytes of an entry, twin of ledger/chain.py: PostgreSQL's binary send formats
-- (big-endian integers; dates in days and times in microseconds since 2000-01-01), strings as
-- their UTF-8 length (int4, -1 for NULL) then their bytes, amounts as whole units (int8) and
-- ten-thousandths (int2). Fixed widths and length prefixes make the encoding injective.
-- (No SET search_path on these three: it would stop the planner from inlining them.)
CREATE FUNCTION journal_text_bytes(value text) RETURNS bytea LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN value IS NULL THEN '\xffffffff'::bytea
                ELSE int4send(octet_length(value)) || convert_to(value, 'UTF8') END
$$;

CREATE FUNCTION journal_entry_header_bytes(e journal_entry) RETURNS bytea LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT '\x474c32'::bytea || uuid_send(e.id) || int4send(e.office_id) || int8send(e.chain_position)
        || date_send(e.value_date) || timestamptz_send(e.booked_at)
        || public.journal_text_bytes(e.description) || public.journal_text_bytes(e.source_type)
        || public.journal_text_bytes(e.source_id) || public.journal_text_bytes(e.actor)
        || public.journal_text_bytes(e.idempotency_key)
        || CASE WHEN e.reverses_id IS NULL THEN '\x00'::bytea ELSE '\x01'::bytea || uuid_send(e.reverses_id) END
        || int2send(e.line_count)
$$;

CREATE FUNCTION journal_line_bytes(l journal_line) RETURNS bytea LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT int2send(l.line_no) || int4send(l.account_id) || int4send(l.office_id) || date_send(l.value_date)
        || CASE l.side WHEN 'D' THEN '\x44'::bytea ELSE '\x43'::bytea END
        || int8send(trunc(l.amount)::bigint) || int2send(((l.amount - trunc(l.amount)) * 10000)::smallint)
        || convert_to(rtrim(l.currency), 'UTF8')
$$;
"""

FUNCTIONS = r"""
-- Offices: every office starts an empty chain.
CREATE FUNCTION office_start_chain() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    INSERT INTO journal_chain_head (office_id, position, entry_hash) VALUES (NEW.id, 0, '\x');
    RETURN NULL;
END $$;
CREATE TRIGGER office_chain AFTER INSERT ON office FOR EACH ROW EXECUTE FUNCTION office_start_chain();

-- The writer takes its offices' heads (in office order, so writers never deadlock on them) and
-- reads the transaction's booking time, which is also the entries' booked_at.
CREATE FUNCTION journal_chain_lock(offices integer[])
    RETURNS TABLE (office_id integer, chain_position bigint, entry_hash bytea, booked_at timestamptz)
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT h.office_id, h.position, h.entry_hash, now() FROM journal_chain_head h
     WHERE h.office_id = ANY (offices) ORDER BY h.office_id FOR UPDATE
$$;

-- Entries (after journal_entry_checks, by name): each office's new entries take the next positions of its chain, without a gap, and
-- the head moves to the last of them. Hashes are recomputed by verify, not here.
CREATE FUNCTION journal_chain_advance() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    offices integer;
    moved integer;
BEGIN
    SELECT count(DISTINCT office_id) INTO offices FROM new_entries;
    WITH batch AS (
        SELECT office_id, count(*) AS n, min(chain_position) AS first_position,
               max(chain_position) AS last_position
          FROM new_entries GROUP BY office_id
    ), advanced AS (
        UPDATE journal_chain_head h
           SET position = b.last_position,
               entry_hash = (SELECT e.entry_hash FROM new_entries e
                              WHERE e.office_id = b.office_id AND e.chain_position = b.last_position)
          FROM batch b
         WHERE h.office_id = b.office_id AND b.first_position = h.position + 1
           AND b.last_position = h.position + b.n
        RETURNING 1
    )
    SELECT count(*) INTO moved FROM advanced;
    IF moved <> offices THEN
        RAISE EXCEPTION 'entries do not continue their office''s journal chain' USING ERRCODE = 'GL015';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER journal_entry_onto_chain AFTER INSERT ON journal_entry
    REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT EXECUTE FUNCTION journal_chain_advance();

-- Lines: the year, month and day totals follow in the same statement (after the checks and the
-- account balances: triggers fire in name order, so locks are always taken in the same order).
-- The lines are totalled per account, office, currency and day first, then those few rows roll up.
CREATE FUNCTION journal_line_period_totals() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    INSERT INTO account_period_total AS t
           (grain, account_id, period_start, office_id, currency, debit_total, credit_total, line_count)
    SELECT p.grain, d.account_id, p.period_start, d.office_id, d.currency,
           sum(d.debit_total), sum(d.credit_total), CAST(sum(d.line_count) AS bigint)
      FROM (SELECT account_id, office_id, currency, value_date,
                   coalesce(sum(amount) FILTER (WHERE side = 'D'), 0) AS debit_total,
                   coalesce(sum(amount) FILTER (WHERE side = 'C'), 0) AS credit_total,
                   count(*) AS line_count
              FROM new_lines GROUP BY account_id, office_id, currency, value_date) d
     CROSS JOIN LATERAL (VALUES ('Y', date_trunc('year', d.value_date)::date),
                                ('M', date_trunc('month', d.value_date)::date),
                                ('D', d.value_date)) AS p (grain, period_start)
     GROUP BY d.account_id, p.grain, p.period_start, d.office_id, d.currency
     ORDER BY d.account_id, p.grain, p.period_start, d.office_id, d.currency
    ON CONFLICT (account_id, grain, period_start, office_id, currency) DO UPDATE
       SET debit_total = t.debit_total + EXCLUDED.debit_total,
           credit_total = t.credit_total + EXCLUDED.credit_total,
           line_count = t.line_count + EXCLUDED.line_count;
    RETURN NULL;
END $$;
CREATE TRIGGER journal_line_period_totals AFTER INSERT ON journal_line
    REFERENCING NEW TABLE AS new_lines FOR EACH STATEMENT EXECUTE FUNCTION journal_line_period_totals();
"""

BACKFILL = r"""
-- Databases that already hold entries: chain them in booking order and total their lines.
INSERT INTO journal_chain_head (office_id, position, entry_hash) SELECT id, 0, '\x' FROM office;

ALTER TABLE journal_entry DISABLE TRIGGER journal_entry_append_only;
DO $$
DECLARE
    e journal_entry;
    previous bytea;
    position bigint;
    current_office integer := NULL;
BEGIN
    FOR e IN SELECT * FROM journal_entry ORDER BY office_id, seq LOOP
        IF current_office IS DISTINCT FROM e.office_id THEN
            current_office := e.office_id;
            previous := '\x';
            position := 0;
        END IF;
        position := position + 1;
        e.chain_position := position;
        previous := sha256(previous || journal_entry_header_bytes(e) || coalesce(
            (SELECT string_agg(journal_line_bytes(l), ''::bytea ORDER BY l.line_no) FROM journal_line l
              WHERE l.entry_id = e.id), ''::bytea));
        UPDATE journal_entry SET chain_position = position, entry_hash = previous WHERE id = e.id;
        UPDATE journal_chain_head SET position = e.chain_position, entry_hash = previous
         WHERE office_id = e.office_id;
    END LOOP;
END $$;
ALTER TABLE journal_entry ENABLE TRIGGER journal_entry_append_only;

ALTER TABLE journal_entry ALTER COLUMN chain_position SET NOT NULL, ALTER COLUMN entry_hash SET NOT NULL,
    ADD CONSTRAINT journal_entry_chain_position CHECK (chain_position >= 1),
    ADD CONSTRAINT journal_entry_hash_length CHECK (octet_length(entry_hash) = 32);
CREATE UNIQUE INDEX journal_entry_chain ON journal_entry (office_id, chain_position) INCLUDE (entry_hash);

INSERT INTO account_period_total
       (grain, account_id, period_start, office_id, currency, debit_total, credit_total, line_count)
SELECT p.grain, l.account_id, p.period_start, l.office_id, l.currency,
       coalesce(sum(l.amount) FILTER (WHERE l.side = 'D'), 0),
       coalesce(sum(l.amount) FILTER (WHERE l.side = 'C'), 0),
       count(*)
  FROM journal_line l
 CROSS JOIN LATERAL (VALUES ('Y', date_trunc('year', l.value_date)::date),
                            ('M', date_trunc('month', l.value_date)::date),
                            ('D', l.value_date)) AS p (grain, period_start)
 GROUP BY l.account_id, p.grain, p.period_start, l.office_id, l.currency;
"""


def _grants(app_role: str) -> str:
    role = app_role.replace('"', "")
    return f"""
GRANT SELECT ON journal_chain_head, account_period_total TO "{role}";
GRANT INSERT (chain_position, entry_hash) ON journal_entry TO "{role}";
REVOKE ALL ON FUNCTION journal_chain_lock(integer[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION journal_chain_lock(integer[]) TO "{role}";
"""


def upgrade(app_role: str) -> None:
    _script(TABLES)
    _script(CANONICAL)
    _script(FUNCTIONS)
    _script(BACKFILL)
    _script(_grants(app_role))


def downgrade(app_role: str) -> None:
    _script(
        "DROP TRIGGER journal_line_period_totals ON journal_line;"
        "DROP TRIGGER journal_entry_onto_chain ON journal_entry;"
        "DROP TRIGGER office_chain ON office;"
        "DROP FUNCTION journal_line_period_totals, journal_chain_advance, journal_chain_lock, office_start_chain,"
        " journal_line_bytes, journal_entry_header_bytes, journal_text_bytes;"
        "DROP TABLE account_period_total, journal_chain_head;"
        "ALTER TABLE journal_entry DROP COLUMN entry_hash, DROP COLUMN chain_position;"
    )
