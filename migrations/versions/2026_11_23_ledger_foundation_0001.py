"""Ledger foundation: currencies, offices, chart of accounts, the append-only journal,
accounting closures, idempotency records and the cached account balances.

Why: the journal is the source of truth, so PostgreSQL itself enforces what the Python
core checks first (balanced entries per currency, exact minor units, postable accounts,
open periods, append-only rows). The checks are statement-level triggers over transition
tables: one set-based pass per posting statement instead of one trigger call per row, which
keeps batch posting near PostgreSQL's insert speed. Entries and their lines are therefore
inserted by one statement (a CTE), which the journal store always does.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _currencies_sql() -> str:
    from moneyed import CURRENCIES

    from ledger.money import minor_unit_digits

    rows = []
    for code in sorted(CURRENCIES):
        if code in ("XXX", "XTS") or len(code) != 3:
            continue
        name = CURRENCIES[code].name.replace("'", "''")
        rows.append(f"('{code}', '{name}', {minor_unit_digits(code)})")
    return "INSERT INTO currency (code, name, decimals) VALUES " + ",\n".join(rows) + ";"


TABLES = """
CREATE TABLE currency (
    code char(3) PRIMARY KEY CHECK (code ~ '^[A-Z]{3}$'),
    name varchar(100) NOT NULL,
    decimals smallint NOT NULL CHECK (decimals BETWEEN 0 AND 4)
);

CREATE TABLE office (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code varchar(30) NOT NULL UNIQUE,
    name varchar(200) NOT NULL,
    parent_id integer REFERENCES office (id),
    region varchar(100),
    lineage integer[] NOT NULL DEFAULT '{}',
    opened_on date NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by varchar(100) NOT NULL
);
CREATE UNIQUE INDEX office_single_head_office ON office ((parent_id IS NULL)) WHERE parent_id IS NULL;

CREATE TABLE gl_account (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code varchar(30) NOT NULL UNIQUE,
    name varchar(200) NOT NULL,
    type varchar(10) NOT NULL CHECK (type IN ('asset', 'liability', 'equity', 'income', 'expense')),
    is_header boolean NOT NULL,
    parent_id integer REFERENCES gl_account (id),
    currency char(3) REFERENCES currency (code),
    manual_entries_allowed boolean NOT NULL DEFAULT true,
    active boolean NOT NULL DEFAULT true,
    tags text[] NOT NULL DEFAULT '{}',
    description varchar(1000) NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX gl_account_parent ON gl_account (parent_id);

CREATE TABLE journal_entry (
    id uuid PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    office_id integer NOT NULL,
    value_date date NOT NULL,
    booked_at timestamptz NOT NULL DEFAULT now(),
    description varchar(500) NOT NULL,
    source_type varchar(100),
    source_id varchar(100),
    actor varchar(100) NOT NULL,
    idempotency_key varchar(200),
    reverses_id uuid,
    line_count smallint NOT NULL CHECK (line_count BETWEEN 2 AND 250),
    xact_id xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX journal_entry_commit_order ON journal_entry (xact_id, seq);
CREATE INDEX journal_entry_office_date ON journal_entry (office_id, value_date);
CREATE UNIQUE INDEX journal_entry_reversed_once ON journal_entry (reverses_id) WHERE reverses_id IS NOT NULL;
CREATE INDEX journal_entry_source ON journal_entry (source_type, source_id) WHERE source_type IS NOT NULL;

CREATE TABLE journal_line (
    entry_id uuid NOT NULL,
    line_no smallint NOT NULL CHECK (line_no >= 1),
    account_id integer NOT NULL,
    office_id integer NOT NULL,
    value_date date NOT NULL,
    side char(1) NOT NULL CHECK (side IN ('D', 'C')),
    amount numeric(22, 4) NOT NULL CHECK (amount > 0),
    currency char(3) NOT NULL,
    PRIMARY KEY (entry_id, line_no)
);
CREATE INDEX journal_line_account_date ON journal_line (account_id, value_date);

CREATE TABLE account_balance (
    account_id integer NOT NULL REFERENCES gl_account (id),
    currency char(3) NOT NULL,
    debit_total numeric(28, 4) NOT NULL,
    credit_total numeric(28, 4) NOT NULL,
    line_count bigint NOT NULL,
    PRIMARY KEY (account_id, currency)
);
COMMENT ON TABLE account_balance IS
    'Derived cache of journal_line totals per account and currency, kept by a trigger in the posting statement; verify recomputes it.';

CREATE TABLE accounting_closure (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    office_id integer NOT NULL REFERENCES office (id),
    closing_date date NOT NULL,
    comments varchar(500) NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by varchar(100) NOT NULL,
    undone_at timestamptz,
    undone_by varchar(100)
);
CREATE UNIQUE INDEX accounting_closure_active ON accounting_closure (office_id, closing_date) WHERE undone_at IS NULL;

CREATE TABLE idempotency_record (
    scope varchar(50) NOT NULL,
    key varchar(200) NOT NULL,
    fingerprint char(64) NOT NULL,
    entry_id uuid NOT NULL,
    response text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_record_expiry ON idempotency_record (expires_at);
"""

FUNCTIONS = r"""
-- Offices: the lineage (self, then ancestors) is computed here and never changes.
CREATE FUNCTION office_before_insert() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF NEW.parent_id IS NULL THEN
        NEW.lineage := ARRAY[NEW.id];
    ELSE
        SELECT NEW.id || o.lineage INTO NEW.lineage FROM public.office o WHERE o.id = NEW.parent_id;
        IF NEW.lineage IS NULL THEN
            RAISE EXCEPTION 'unknown parent office %', NEW.parent_id USING ERRCODE = 'GL001';
        END IF;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER office_lineage BEFORE INSERT ON office FOR EACH ROW EXECUTE FUNCTION office_before_insert();

CREATE FUNCTION office_before_update() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF NEW.parent_id IS DISTINCT FROM OLD.parent_id OR NEW.lineage IS DISTINCT FROM OLD.lineage
       OR NEW.id <> OLD.id THEN
        RAISE EXCEPTION 'an office cannot move in the hierarchy' USING ERRCODE = 'GL001';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER office_fixed_hierarchy BEFORE UPDATE ON office FOR EACH ROW EXECUTE FUNCTION office_before_update();

-- GL accounts: parents are headers; an account with postings keeps its type, usage and history.
CREATE FUNCTION gl_account_guard() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    has_postings boolean;
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.parent_id IS NOT NULL THEN
        IF NOT EXISTS (SELECT 1 FROM gl_account p WHERE p.id = NEW.parent_id AND p.is_header) THEN
            RAISE EXCEPTION 'parent of account % must be a header account', NEW.code USING ERRCODE = 'GL002';
        END IF;
    END IF;
    IF TG_OP = 'INSERT' THEN
        RETURN NEW;
    END IF;
    has_postings := EXISTS (SELECT 1 FROM account_balance b WHERE b.account_id = OLD.id AND b.line_count > 0);
    IF TG_OP = 'DELETE' THEN
        IF has_postings THEN
            RAISE EXCEPTION 'account % has postings and cannot be deleted; disable it instead', OLD.code
                USING ERRCODE = 'GL002';
        END IF;
        RETURN OLD;
    END IF;
    IF NEW.id <> OLD.id THEN
        RAISE EXCEPTION 'account ids do not change' USING ERRCODE = 'GL002';
    END IF;
    IF has_postings AND (NEW.type <> OLD.type OR NEW.is_header <> OLD.is_header) THEN
        RAISE EXCEPTION 'account % has postings: its type and usage cannot change', OLD.code USING ERRCODE = 'GL002';
    END IF;
    IF has_postings AND NEW.currency IS NOT NULL AND EXISTS (
        SELECT 1 FROM account_balance b WHERE b.account_id = OLD.id AND b.currency <> NEW.currency) THEN
        RAISE EXCEPTION 'account % has postings in another currency than %', OLD.code, NEW.currency
            USING ERRCODE = 'GL002';
    END IF;
    IF NOT NEW.is_header AND EXISTS (SELECT 1 FROM gl_account c WHERE c.parent_id = OLD.id) THEN
        RAISE EXCEPTION 'account % has children and must stay a header', OLD.code USING ERRCODE = 'GL002';
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END $$;
CREATE TRIGGER gl_account_guard BEFORE INSERT OR UPDATE OR DELETE ON gl_account
    FOR EACH ROW EXECUTE FUNCTION gl_account_guard();

-- The journal is append-only: no UPDATE, DELETE or TRUNCATE, whoever asks.
CREATE FUNCTION journal_refuse_change() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'the journal is append-only: % on % is refused; post a reversal instead', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'GL010';
END $$;
CREATE TRIGGER journal_entry_append_only BEFORE UPDATE OR DELETE ON journal_entry
    FOR EACH STATEMENT EXECUTE FUNCTION journal_refuse_change();
CREATE TRIGGER journal_entry_no_truncate BEFORE TRUNCATE ON journal_entry
    FOR EACH STATEMENT EXECUTE FUNCTION journal_refuse_change();
CREATE TRIGGER journal_line_append_only BEFORE UPDATE OR DELETE ON journal_line
    FOR EACH STATEMENT EXECUTE FUNCTION journal_refuse_change();
CREATE TRIGGER journal_line_no_truncate BEFORE TRUNCATE ON journal_line
    FOR EACH STATEMENT EXECUTE FUNCTION journal_refuse_change();

-- Entries: every entry has exactly its lines, a known office, an open period, a valid reversal link.
CREATE FUNCTION journal_entry_after_insert() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    bad record;
BEGIN
    SELECT e.id INTO bad FROM new_entries e
     WHERE (SELECT count(*) FROM journal_line l WHERE l.entry_id = e.id) <> e.line_count LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'entry % is not posted with exactly its lines in one statement', bad.id USING ERRCODE = 'GL011';
    END IF;
    SELECT e.id, e.office_id INTO bad FROM new_entries e LEFT JOIN office o ON o.id = e.office_id
     WHERE o.id IS NULL LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'entry % names unknown office %', bad.id, bad.office_id USING ERRCODE = 'GL012';
    END IF;
    SELECT e.id, e.value_date, c.closing_date INTO bad
      FROM new_entries e
      JOIN office o ON o.id = e.office_id
      JOIN accounting_closure c ON c.office_id = ANY (o.lineage) AND c.undone_at IS NULL
     WHERE e.value_date <= c.closing_date LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'entry % is dated %, in a period closed through %', bad.id, bad.value_date, bad.closing_date
            USING ERRCODE = 'GL013';
    END IF;
    SELECT e.id INTO bad FROM new_entries e
      LEFT JOIN journal_entry o ON o.id = e.reverses_id
     WHERE e.reverses_id IS NOT NULL
       AND (o.id IS NULL OR o.reverses_id IS NOT NULL OR o.office_id <> e.office_id OR EXISTS (
            SELECT l.account_id, l.currency
              FROM journal_line l
             WHERE l.entry_id IN (e.id, o.id)
             GROUP BY l.account_id, l.currency
            HAVING sum(CASE l.side WHEN 'D' THEN l.amount ELSE -l.amount END) <> 0))
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'entry % is not the exact mirror of a reversible entry', bad.id USING ERRCODE = 'GL014';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER journal_entry_checks AFTER INSERT ON journal_entry
    REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT EXECUTE FUNCTION journal_entry_after_insert();

-- Lines: balanced per entry and currency, exact in the currency's minor unit, on postable
-- accounts, consistent with their entry; then the cached balances follow in the same statement.
CREATE FUNCTION journal_line_after_insert() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    bad record;
BEGIN
    SELECT l.entry_id, l.currency INTO bad FROM new_lines l
     GROUP BY l.entry_id, l.currency
    HAVING sum(CASE l.side WHEN 'D' THEN l.amount ELSE -l.amount END) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'entry % does not balance in %', bad.entry_id, bad.currency USING ERRCODE = 'GL020';
    END IF;
    SELECT x.entry_id INTO bad
      FROM (SELECT entry_id, count(*) AS n, max(line_no) AS last_line,
                   min(office_id) AS office_low, max(office_id) AS office_high,
                   min(value_date) AS date_low, max(value_date) AS date_high
              FROM new_lines GROUP BY entry_id) x
      LEFT JOIN journal_entry e ON e.id = x.entry_id
     WHERE e.id IS NULL OR x.n <> e.line_count OR x.last_line > e.line_count
        OR x.office_low <> e.office_id OR x.office_high <> e.office_id
        OR x.date_low <> e.value_date OR x.date_high <> e.value_date
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'lines of entry % do not match their entry', bad.entry_id USING ERRCODE = 'GL021';
    END IF;
    SELECT l.entry_id, l.currency, l.amount INTO bad FROM new_lines l LEFT JOIN currency c ON c.code = l.currency
     WHERE c.code IS NULL OR l.amount <> round(l.amount, c.decimals) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'entry %: % is not an exact % amount', bad.entry_id, bad.amount, bad.currency
            USING ERRCODE = 'GL022';
    END IF;
    SELECT l.entry_id, l.account_id INTO bad FROM new_lines l LEFT JOIN gl_account a ON a.id = l.account_id
     WHERE a.id IS NULL OR a.is_header OR NOT a.active OR (a.currency IS NOT NULL AND a.currency <> l.currency)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'entry %: account % does not take this posting', bad.entry_id, bad.account_id
            USING ERRCODE = 'GL023';
    END IF;
    INSERT INTO account_balance AS b (account_id, currency, debit_total, credit_total, line_count)
    SELECT account_id, currency,
           coalesce(sum(amount) FILTER (WHERE side = 'D'), 0),
           coalesce(sum(amount) FILTER (WHERE side = 'C'), 0),
           count(*)
      FROM new_lines GROUP BY account_id, currency ORDER BY account_id, currency
    ON CONFLICT (account_id, currency) DO UPDATE
       SET debit_total = b.debit_total + EXCLUDED.debit_total,
           credit_total = b.credit_total + EXCLUDED.credit_total,
           line_count = b.line_count + EXCLUDED.line_count;
    RETURN NULL;
END $$;
CREATE TRIGGER journal_line_checks AFTER INSERT ON journal_line
    REFERENCING NEW TABLE AS new_lines FOR EACH STATEMENT EXECUTE FUNCTION journal_line_after_insert();

-- Closures: taking one waits for postings in flight and holds new ones back until it commits,
-- so no entry can slip into a period while it is being closed.
CREATE FUNCTION accounting_closure_guard() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- SHARE ROW EXCLUSIVE conflicts with postings (ROW EXCLUSIVE) and with itself, so
        -- postings in flight finish first and two closures never pass each other.
        LOCK TABLE journal_entry IN SHARE ROW EXCLUSIVE MODE;
        IF NEW.closing_date > current_date THEN
            RAISE EXCEPTION 'a closing date cannot be in the future' USING ERRCODE = 'GL030';
        END IF;
        NEW.created_at := now();
        IF EXISTS (SELECT 1 FROM accounting_closure c WHERE c.office_id = NEW.office_id AND c.undone_at IS NULL
                    AND c.closing_date >= NEW.closing_date) THEN
            RAISE EXCEPTION 'office % is already closed through that date', NEW.office_id USING ERRCODE = 'GL030';
        END IF;
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'closures are kept; undo one instead' USING ERRCODE = 'GL030';
    END IF;
    IF OLD.undone_at IS NOT NULL OR NEW.undone_at IS NULL
       OR (NEW.office_id, NEW.closing_date, NEW.created_at, NEW.created_by, NEW.comments)
          IS DISTINCT FROM (OLD.office_id, OLD.closing_date, OLD.created_at, OLD.created_by, OLD.comments) THEN
        RAISE EXCEPTION 'a closure can only be undone, once' USING ERRCODE = 'GL030';
    END IF;
    IF EXISTS (SELECT 1 FROM accounting_closure c WHERE c.office_id = OLD.office_id AND c.undone_at IS NULL
                AND c.closing_date > OLD.closing_date) THEN
        RAISE EXCEPTION 'closures are undone latest first' USING ERRCODE = 'GL030';
    END IF;
    NEW.undone_at := now();
    RETURN NEW;
END $$;
CREATE TRIGGER accounting_closure_guard BEFORE INSERT OR UPDATE OR DELETE ON accounting_closure
    FOR EACH ROW EXECUTE FUNCTION accounting_closure_guard();
"""


def _grants(app_role: str) -> str:
    role = app_role.replace('"', "")
    return f"""
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
        CREATE ROLE "{role}" LOGIN;
    END IF;
END $$;
REVOKE TEMPORARY ON DATABASE "{{database}}" FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT CONNECT ON DATABASE "{{database}}" TO "{role}";
GRANT USAGE ON SCHEMA public TO "{role}";
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "{role}";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}";
GRANT INSERT (id, office_id, value_date, description, source_type, source_id, actor, idempotency_key,
              reverses_id, line_count) ON journal_entry TO "{role}";
GRANT INSERT ON journal_line TO "{role}";
GRANT INSERT (code, name, parent_id, region, opened_on, created_by), UPDATE (name, region) ON office TO "{role}";
GRANT INSERT (office_id, closing_date, comments, created_by), UPDATE (undone_at, undone_by)
    ON accounting_closure TO "{role}";
GRANT INSERT (code, name, type, is_header, parent_id, currency, manual_entries_allowed, active, tags, description),
      UPDATE (name, type, is_header, parent_id, currency, manual_entries_allowed, active, tags, description),
      DELETE ON gl_account TO "{role}";
GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_record TO "{role}";
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO "{role}";
"""


def _script(sql: str) -> None:
    """Run a multi-statement script on the driver connection (asyncpg's simple protocol):
    prepared statements take one statement only, and PL/pgSQL bodies are not bind templates."""
    from sqlalchemy.util import await_only

    driver_connection = op.get_bind().connection.dbapi_connection.driver_connection  # type: ignore[union-attr]
    await_only(driver_connection.execute(sql))


def upgrade(app_role: str) -> None:
    _script(TABLES)
    _script(_currencies_sql())
    _script(FUNCTIONS)
    database = op.get_bind().exec_driver_sql("SELECT current_database()").scalar_one()
    _script(_grants(app_role).replace("{database}", database.replace('"', "")))


def downgrade(app_role: str) -> None:
    _script(
        "DROP TABLE idempotency_record, accounting_closure, account_balance, journal_line, journal_entry, "
        "gl_account, office, currency CASCADE;"
        "DROP FUNCTION office_before_insert, office_before_update, gl_account_guard, journal_refuse_change,"
        " journal_entry_after_insert, journal_line_after_insert, accounting_closure_guard;"
    )
