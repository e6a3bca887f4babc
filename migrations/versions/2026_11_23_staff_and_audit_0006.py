"""Staff users, roles, sessions, two-factor authentication, maker-checker and the audit log.

Why: every action must be attributable to a signed-in person, limited by their role and
office, and recorded where nobody can edit it. The audit log is append-only like the
journal (triggers refuse UPDATE, DELETE and TRUNCATE, whoever asks; the application role
may only read and insert) and hash-chained: each row carries the previous row's hash and
its own, so a change made by going around the triggers is detected by the chain check.
A previous hash is UNIQUE: two writers can never both extend the same head, so the chain
cannot fork without any lock being taken.
Passwords are argon2id hashes, tokens and recovery codes are stored as SHA-256 digests.

Revision ID: 0006
Revises: 0001
Create Date: 2026-11-23
"""

from migrations import run_script as _script

revision = "0006"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = r"""
CREATE TABLE staff_role (
    name varchar(50) PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_-]*$'),
    label varchar(100) NOT NULL,
    grants text[] NOT NULL DEFAULT '{}',
    totp_required boolean NOT NULL,
    builtin boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by varchar(100) NOT NULL
);

CREATE TABLE staff_user (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username varchar(100) NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9._@-]*$'),
    display_name varchar(200) NOT NULL,
    office_id integer NOT NULL REFERENCES office (id),
    roles text[] NOT NULL DEFAULT '{}',
    password_hash varchar(200) NOT NULL,
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    must_change_password boolean NOT NULL DEFAULT true,
    status varchar(10) NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    failed_attempts integer NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    locked_until timestamptz,
    totp_secret varchar(64),
    totp_enabled boolean NOT NULL DEFAULT false,
    totp_last_step bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by varchar(100) NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (NOT totp_enabled OR totp_secret IS NOT NULL)
);
CREATE INDEX staff_user_office ON staff_user (office_id);

CREATE TABLE staff_recovery_code (
    user_id integer NOT NULL REFERENCES staff_user (id),
    code_digest char(64) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    used_at timestamptz,
    PRIMARY KEY (user_id, code_digest)
);

CREATE TABLE staff_session (
    id uuid PRIMARY KEY,
    user_id integer NOT NULL REFERENCES staff_user (id),
    access_digest char(64) NOT NULL UNIQUE,
    access_expires_at timestamptz NOT NULL,
    refresh_digest char(64) NOT NULL UNIQUE,
    refresh_expires_at timestamptz NOT NULL,
    totp_pending boolean NOT NULL,
    client_address varchar(64),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    revoked_reason varchar(100)
);
CREATE INDEX staff_session_user ON staff_session (user_id) WHERE revoked_at IS NULL;

CREATE TABLE audit_log (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at timestamptz NOT NULL,
    actor varchar(100) NOT NULL,
    user_id integer,
    office_id integer,
    client_address varchar(64),
    method varchar(10) NOT NULL,
    path varchar(500) NOT NULL,
    action varchar(100) NOT NULL,
    status smallint NOT NULL,
    outcome varchar(10) NOT NULL CHECK (outcome IN ('succeeded', 'refused', 'rejected', 'failed')),
    detail text NOT NULL,
    previous_hash char(64) NOT NULL UNIQUE,
    row_hash char(64) NOT NULL
);
CREATE INDEX audit_log_occurred ON audit_log USING brin (occurred_at);  -- appended in time order: BRIN costs next to nothing
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
COMMENT ON TABLE audit_log IS
    'Append-only, hash-chained record of every command and refused request; verify recomputes the chain.';

CREATE TABLE approval_rule (
    command varchar(100) PRIMARY KEY,
    enabled boolean NOT NULL,
    amount_threshold numeric(22, 4) CHECK (amount_threshold >= 0),
    currency char(3) REFERENCES currency (code),
    checker_permission varchar(100) NOT NULL DEFAULT 'approvals:decide',
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by varchar(100) NOT NULL
);

CREATE TABLE pending_command (
    id uuid PRIMARY KEY,
    command varchar(100) NOT NULL,
    payload text NOT NULL,
    summary varchar(500) NOT NULL,
    amount numeric(22, 4),
    currency char(3),
    office_id integer REFERENCES office (id),
    maker varchar(100) NOT NULL,
    maker_user_id integer NOT NULL REFERENCES staff_user (id),
    idempotency_key varchar(200),
    created_at timestamptz NOT NULL DEFAULT now(),
    status varchar(10) NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'rejected', 'executed', 'failed')),
    checker varchar(100),
    checker_user_id integer REFERENCES staff_user (id),
    decided_at timestamptz,
    reason varchar(500),
    result text,
    CHECK (checker_user_id IS NULL OR checker_user_id <> maker_user_id)
);
CREATE INDEX pending_command_status ON pending_command (status, created_at);
CREATE UNIQUE INDEX pending_command_key ON pending_command (command, maker_user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
"""

FUNCTIONS = r"""
CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % on % is refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'GL040';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

-- A decided command stays decided; only its status moves forward, once.
CREATE FUNCTION pending_command_guard() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'pending commands are kept' USING ERRCODE = 'GL041';
    END IF;
    IF OLD.status <> 'pending'
       OR (NEW.id, NEW.command, NEW.payload, NEW.maker, NEW.maker_user_id, NEW.created_at)
          IS DISTINCT FROM (OLD.id, OLD.command, OLD.payload, OLD.maker, OLD.maker_user_id, OLD.created_at) THEN
        RAISE EXCEPTION 'command % is already decided', OLD.id USING ERRCODE = 'GL041';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER pending_command_guard BEFORE UPDATE OR DELETE ON pending_command
    FOR EACH ROW EXECUTE FUNCTION pending_command_guard();
"""


def _seed() -> str:
    from servicing.staff.permissions import DEFAULT_ROLES

    def literal(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    roles = ",\n".join(
        f"({literal(r.name)}, {literal(r.label)}, ARRAY[{', '.join(literal(g) for g in r.grants)}]::text[], "
        f"{'true' if r.totp_required else 'false'}, true, 'migration')"
        for r in DEFAULT_ROLES
    )
    return (
        f"INSERT INTO staff_role (name, label, grants, totp_required, builtin, updated_by) VALUES {roles};\n"
        "INSERT INTO approval_rule (command, enabled, amount_threshold, currency, updated_by) VALUES "
        "('journal-entry.post', false, 5000000, 'XOF', 'migration');\n"
    )


def _grants(app_role: str) -> str:
    role = app_role.replace('"', "")
    return f"""
GRANT SELECT, INSERT (name, label, grants, totp_required, updated_by),
      UPDATE (label, grants, totp_required, updated_at, updated_by) ON staff_role TO "{role}";
GRANT SELECT, INSERT (username, display_name, office_id, roles, password_hash, must_change_password, created_by),
      UPDATE (display_name, office_id, roles, password_hash, password_changed_at, must_change_password, status,
              failed_attempts, locked_until, totp_secret, totp_enabled, totp_last_step, updated_at)
    ON staff_user TO "{role}";
GRANT SELECT, INSERT, UPDATE (used_at), DELETE ON staff_recovery_code TO "{role}";
GRANT SELECT, INSERT, UPDATE (access_digest, access_expires_at, refresh_digest, refresh_expires_at, totp_pending,
                              revoked_at, revoked_reason) ON staff_session TO "{role}";
GRANT SELECT, INSERT (occurred_at, actor, user_id, office_id, client_address, method, path, action, status, outcome,
                      detail, previous_hash, row_hash) ON audit_log TO "{role}";
GRANT SELECT, INSERT, UPDATE (enabled, amount_threshold, currency, checker_permission, updated_at, updated_by)
    ON approval_rule TO "{role}";
GRANT SELECT, INSERT (id, command, payload, summary, amount, currency, office_id, maker, maker_user_id, idempotency_key),
      UPDATE (status, checker, checker_user_id, decided_at, reason, result) ON pending_command TO "{role}";
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO "{role}";
"""



def upgrade(app_role: str) -> None:
    _script(TABLES)
    _script(FUNCTIONS)
    _script(_seed())
    _script(_grants(app_role))


def downgrade(app_role: str) -> None:
    _script(
        "DROP TABLE pending_command, approval_rule, audit_log, staff_session, staff_recovery_code, staff_user, "
        "staff_role CASCADE;"
        "DROP FUNCTION audit_log_refuse_change, pending_command_guard;"
    )
