"""The product catalogue: loan, deposit and term-deposit products, each change a new version.

Why: an account opened on a product keeps the settings it was opened with, so a product is a
row (name, currency, dates, active, current version) plus append-only version rows holding
the settings as JSONB (msgspec-encoded, the pure core's shape). What needs referential
integrity is also relational, per version: the fund source, every GL account of the account
mapping (with the payment type or charge an override is for) and every charge the product
names. A charge, fund source or GL account a product version uses can then never disappear
from under it. PostgreSQL refuses to change or delete a version, even for the owner.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""

from migrations import refuse_changes
from migrations import run_script as _script

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES = """
CREATE TABLE product (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind varchar(20) NOT NULL CHECK (kind IN ('loan', 'deposit', 'term_deposit')),
    name varchar(100) NOT NULL,
    short_name varchar(10) NOT NULL,
    code varchar(20),
    currency char(3) NOT NULL REFERENCES currency (code),
    active boolean NOT NULL DEFAULT true,
    open_date date,
    close_date date,
    current_version integer NOT NULL DEFAULT 1 CHECK (current_version >= 1),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by varchar(100) NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by varchar(100) NOT NULL,
    CHECK (open_date IS NULL OR close_date IS NULL OR open_date < close_date)
);
CREATE UNIQUE INDEX product_name_unique ON product (kind, lower(name));
CREATE UNIQUE INDEX product_short_name_unique ON product (kind, lower(short_name));
CREATE UNIQUE INDEX product_code_unique ON product (lower(code)) WHERE code IS NOT NULL;

CREATE TABLE product_version (
    product_id integer NOT NULL REFERENCES product (id),
    version integer NOT NULL CHECK (version >= 1),
    settings jsonb NOT NULL CHECK (jsonb_typeof(settings) = 'object'),
    accounting_rule varchar(20) NOT NULL
        CHECK (accounting_rule IN ('none', 'cash', 'accrual_periodic', 'accrual_upfront')),
    fund_source_id integer REFERENCES fund_source (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by varchar(100) NOT NULL,
    PRIMARY KEY (product_id, version)
);

CREATE TABLE product_version_account (
    product_id integer NOT NULL,
    version integer NOT NULL,
    position smallint NOT NULL CHECK (position >= 0),
    role varchar(40) NOT NULL,
    payment_type_id integer REFERENCES payment_type (id),
    charge_id integer REFERENCES charge (id),
    classification varchar(20) CHECK (classification IN ('healthy', 'doubtful', 'written_off')),
    term varchar(10) CHECK (term IN ('short', 'medium', 'long')),
    gl_account_id integer NOT NULL REFERENCES gl_account (id),
    PRIMARY KEY (product_id, version, position),
    FOREIGN KEY (product_id, version) REFERENCES product_version (product_id, version),
    CHECK ((classification IS NULL) = (term IS NULL)),
    CHECK (num_nonnulls(payment_type_id, charge_id, classification) <= 1)
);
CREATE INDEX product_version_account_gl ON product_version_account (gl_account_id);

CREATE TABLE product_version_charge (
    product_id integer NOT NULL,
    version integer NOT NULL,
    charge_id integer NOT NULL REFERENCES charge (id),
    PRIMARY KEY (product_id, version, charge_id),
    FOREIGN KEY (product_id, version) REFERENCES product_version (product_id, version)
);
CREATE INDEX product_version_charge_charge ON product_version_charge (charge_id);
"""

FUNCTIONS = r"""
""" + refuse_changes(
    "product_version_refuse_change", append_only=('product_version', 'product_version_account', 'product_version_charge')) + r"""
"""


def _grants(app_role: str) -> str:
    role = app_role.replace('"', "")
    return f"""
GRANT SELECT ON product, product_version, product_version_account, product_version_charge TO "{role}";
GRANT INSERT (kind, name, short_name, code, currency, active, open_date, close_date, current_version, created_by,
              updated_by),
      UPDATE (name, short_name, code, currency, active, open_date, close_date, current_version, updated_at,
              updated_by)
    ON product TO "{role}";
GRANT INSERT (product_id, version, settings, accounting_rule, fund_source_id, created_by) ON product_version TO "{role}";
GRANT INSERT ON product_version_account, product_version_charge TO "{role}";
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO "{role}";
"""


def upgrade(app_role: str) -> None:
    _script(TABLES)
    _script(FUNCTIONS)
    _script(_grants(app_role))


def downgrade(app_role: str) -> None:
    _script(
        "DROP TABLE product_version_charge, product_version_account, product_version, product CASCADE;"
        "DROP FUNCTION product_version_refuse_change;"
    )
