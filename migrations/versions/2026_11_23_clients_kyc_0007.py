"""Clients and KYC: individuals, businesses and groups, their change history, identity
documents with their files, and the KYC requirements per client type.

Why: a client's record changes over years and auditors ask who changed what (M1.3), so the
history is append-only like the journal. Identity numbers are unique per client type in
PostgreSQL too, so two tellers creating the same client at once cannot both succeed. A
document is verified by someone other than who recorded it (four eyes), checked here as
well as in Python. Files are immutable once stored.

Revision ID: 0007
Revises: 0001
Create Date: 2026-11-23
"""

from migrations import run_script as _script

revision = "0007"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = """
CREATE TABLE kyc_requirement (
    client_type varchar(20) PRIMARY KEY CHECK (client_type IN ('individual', 'business', 'group')),
    required_fields text[] NOT NULL,
    required_documents jsonb NOT NULL CHECK (jsonb_typeof(required_documents) = 'array'),
    duplicate_override_allowed boolean NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by varchar(100) NOT NULL
);

CREATE TABLE client (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_type varchar(20) NOT NULL CHECK (client_type IN ('individual', 'business', 'group')),
    status varchar(20) NOT NULL CHECK (status IN ('pending', 'active', 'closed', 'blacklisted')),
    office_id integer NOT NULL REFERENCES office (id),
    loan_officer varchar(100),
    region varchar(100),
    phone varchar(30),
    phone_key varchar(20),
    email varchar(200),
    address varchar(300),
    city varchar(100),
    first_name varchar(100),
    middle_name varchar(100),
    last_name varchar(100),
    birth_date date,
    gender varchar(10) CHECK (gender IN ('female', 'male')),
    national_id varchar(50),
    occupation varchar(100),
    income_monthly numeric(22, 4) CHECK (income_monthly >= 0),
    income_currency char(3) REFERENCES currency (code),
    legal_name varchar(200),
    trade_name varchar(200),
    registration_number varchar(50),
    tax_number varchar(50),
    sector varchar(100),
    founded_on date,
    group_name varchar(200),
    leader_id integer REFERENCES client (id),
    display_name varchar(320) NOT NULL,
    name_key varchar(400) NOT NULL,
    identity_key varchar(50),
    activated_on date,
    closed_on date,
    status_reason varchar(500),
    version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by varchar(100) NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by varchar(100) NOT NULL,
    CHECK (client_type <> 'individual' OR (first_name IS NOT NULL AND last_name IS NOT NULL
           AND legal_name IS NULL AND group_name IS NULL AND leader_id IS NULL)),
    CHECK (client_type <> 'business' OR (legal_name IS NOT NULL AND first_name IS NULL AND group_name IS NULL
           AND leader_id IS NULL)),
    CHECK (client_type <> 'group' OR (group_name IS NOT NULL AND first_name IS NULL AND legal_name IS NULL)),
    CHECK ((income_monthly IS NULL) = (income_currency IS NULL))
);
CREATE UNIQUE INDEX client_identity_unique ON client (client_type, identity_key) WHERE identity_key IS NOT NULL;
CREATE INDEX client_name_birth ON client (name_key, birth_date);
CREATE INDEX client_office ON client (office_id, id);
CREATE INDEX client_phone ON client (phone_key) WHERE phone_key IS NOT NULL;

CREATE TABLE client_representative (
    client_id integer NOT NULL REFERENCES client (id),
    position smallint NOT NULL CHECK (position >= 0),
    full_name varchar(200) NOT NULL,
    role varchar(100) NOT NULL,
    national_id varchar(50),
    phone varchar(30),
    PRIMARY KEY (client_id, position)
);

CREATE TABLE client_group_member (
    group_id integer NOT NULL REFERENCES client (id),
    member_id integer NOT NULL REFERENCES client (id) CHECK (member_id <> group_id),
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX client_group_member_member ON client_group_member (member_id);

CREATE TABLE client_history (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id integer NOT NULL REFERENCES client (id),
    action varchar(30) NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    changed_by varchar(100) NOT NULL,
    before jsonb NOT NULL DEFAULT '{}',
    after jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX client_history_client ON client_history (client_id, id);

CREATE TABLE client_document (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id integer NOT NULL REFERENCES client (id),
    document_type varchar(40) NOT NULL,
    number varchar(50),
    issuing_authority varchar(200),
    issued_on date,
    expires_on date,
    status varchar(20) NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'verified', 'rejected')),
    verified_by varchar(100),
    verified_at timestamptz,
    verification_comment varchar(500),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by varchar(100) NOT NULL,
    CHECK (issued_on IS NULL OR expires_on IS NULL OR issued_on <= expires_on),
    CHECK ((status = 'pending') = (verified_by IS NULL)),
    CHECK ((verified_by IS NULL) = (verified_at IS NULL)),
    CHECK (verified_by IS NULL OR verified_by <> created_by)
);
CREATE INDEX client_document_client ON client_document (client_id, id);

CREATE TABLE client_document_file (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    document_id integer NOT NULL REFERENCES client_document (id),
    file_name varchar(200) NOT NULL,
    content_type varchar(50) NOT NULL
        CHECK (content_type IN ('application/pdf', 'image/jpeg', 'image/png', 'image/webp')),
    size_bytes integer NOT NULL CHECK (size_bytes BETWEEN 1 AND 5242880),
    sha256 char(64) NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    storage varchar(10) NOT NULL CHECK (storage IN ('database', 'folder')),
    content bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by varchar(100) NOT NULL,
    CHECK ((storage = 'database') = (content IS NOT NULL)),
    CHECK (content IS NULL OR octet_length(content) = size_bytes)
);
CREATE INDEX client_document_file_document ON client_document_file (document_id, id);
"""

FUNCTIONS = r"""
CREATE FUNCTION client_record_refuse_change() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'GL010';
END $$;
CREATE TRIGGER client_history_append_only BEFORE UPDATE OR DELETE ON client_history
    FOR EACH STATEMENT EXECUTE FUNCTION client_record_refuse_change();
CREATE TRIGGER client_history_no_truncate BEFORE TRUNCATE ON client_history
    FOR EACH STATEMENT EXECUTE FUNCTION client_record_refuse_change();
CREATE TRIGGER client_document_file_append_only BEFORE UPDATE OR DELETE ON client_document_file
    FOR EACH STATEMENT EXECUTE FUNCTION client_record_refuse_change();
CREATE TRIGGER client_document_file_no_truncate BEFORE TRUNCATE ON client_document_file
    FOR EACH STATEMENT EXECUTE FUNCTION client_record_refuse_change();
"""


DEFAULTS = """
INSERT INTO kyc_requirement (client_type, required_fields, required_documents, duplicate_override_allowed, updated_by)
VALUES
    ('individual', ARRAY['first_name', 'last_name', 'birth_date', 'gender', 'national_id', 'phone', 'address'],
     '[["national_id_card", "passport", "consular_card", "voter_card"]]', true, 'migration'),
    ('business', ARRAY['legal_name', 'registration_number', 'sector', 'address', 'phone', 'representatives'],
     '[["business_registration"], ["tax_registration"]]', true, 'migration'),
    ('group', ARRAY['group_name', 'member_ids', 'leader_id'],
     '[["meeting_minutes", "articles_of_association"]]', true, 'migration');
"""
"""The shipped requirements (servicing.clients.kyc_rules.DEFAULT_REQUIREMENTS, frozen here as
they were when this revision shipped); institutions change them through the API."""


def _grants(app_role: str) -> str:
    role = app_role.replace('"', "")
    return f"""
GRANT SELECT ON kyc_requirement, client, client_representative, client_group_member, client_history,
    client_document, client_document_file TO "{role}";
GRANT UPDATE (required_fields, required_documents, duplicate_override_allowed, updated_at, updated_by)
    ON kyc_requirement TO "{role}";
GRANT INSERT (client_type, status, office_id, loan_officer, region, phone, phone_key, email, address, city,
              first_name, middle_name, last_name, birth_date, gender, national_id, occupation, income_monthly,
              income_currency, legal_name, trade_name, registration_number, tax_number, sector, founded_on,
              group_name, leader_id, display_name, name_key, identity_key, activated_on, closed_on, status_reason,
              created_by, updated_by),
      UPDATE (status, office_id, loan_officer, region, phone, phone_key, email, address, city,
              first_name, middle_name, last_name, birth_date, gender, national_id, occupation, income_monthly,
              income_currency, legal_name, trade_name, registration_number, tax_number, sector, founded_on,
              group_name, leader_id, display_name, name_key, identity_key, activated_on, closed_on,
              status_reason, version, updated_at, updated_by)
    ON client TO "{role}";
GRANT INSERT, DELETE ON client_representative, client_group_member TO "{role}";
GRANT INSERT (client_id, action, changed_by, before, after) ON client_history TO "{role}";
GRANT INSERT (client_id, document_type, number, issuing_authority, issued_on, expires_on, verified_by, verified_at,
              verification_comment, created_by),
      UPDATE (status, verified_by, verified_at, verification_comment) ON client_document TO "{role}";
GRANT INSERT (document_id, file_name, content_type, size_bytes, sha256, storage, content, created_by)
    ON client_document_file TO "{role}";
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO "{role}";
"""



def upgrade(app_role: str) -> None:
    _script(TABLES)
    _script(FUNCTIONS)
    _script(DEFAULTS)
    _script(_grants(app_role))


def downgrade(app_role: str) -> None:
    _script(
        "DROP TABLE client_document_file, client_document, client_history, client_group_member, "
        "client_representative, client, kyc_requirement CASCADE;"
        "DROP FUNCTION client_record_refuse_change;"
    )
