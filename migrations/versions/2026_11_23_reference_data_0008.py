"""Reference data behind the products: the institution's currencies, fund sources, payment
types, charges, tax rates (VAT, TAF, TOB), usury caps, holidays and working weeks, activity
sectors, financing purposes, decision reasons, validation levels, credit insurances,
delinquency buckets and the
general credit parameters of seed 002.

Why: products, loans and deposits point at these rows, so they live in PostgreSQL with the
checks that must hold whoever writes them (enumerations, min <= max, dates ordered, a rate
between 0 and 100 %). Rules that span rows (a bucket set is contiguous, validity periods do
not overlap, a charge time fits what the charge applies to) are checked in Python under an
advisory lock, because an exclusion constraint on text columns would need btree_gist.
Reference rows are deactivated, never deleted: loans opened years ago still name them.
Delinquency bucket sets are replaced as a whole; the replaced rows stay, retired, for the
provisions already computed with them. Credit parameters are versioned: each change is a new
row, and PostgreSQL refuses to change or delete an old one.

Revision ID: 0008
Revises: 0001
Create Date: 2026-11-23
"""

from migrations import refuse_changes
from migrations import run_script as _script

revision = "0008"
down_revision = "0001"
branch_labels = None
depends_on = None

_AUDIT = """
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by varchar(100) NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by varchar(100) NOT NULL,
    version integer NOT NULL DEFAULT 1 CHECK (version >= 1)"""

TABLES = f"""
CREATE TABLE institution_currency (
    code char(3) PRIMARY KEY REFERENCES currency (code),
    in_multiples_of numeric(22, 4) CHECK (in_multiples_of > 0),
    enabled boolean NOT NULL DEFAULT true,{_AUDIT}
);
COMMENT ON TABLE institution_currency IS
    'Currencies the institution works in; decimals come from currency (ISO 4217, enforced by the journal).';

CREATE TABLE fund_source (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name varchar(200) NOT NULL UNIQUE,
    source_type varchar(20) NOT NULL CHECK (source_type IN ('own_funds', 'donor', 'bank_line', 'ngo', 'other')),
    gl_account_id integer NOT NULL REFERENCES gl_account (id),
    contact_name varchar(200),
    phone varchar(30),
    fax varchar(30),
    email varchar(200),
    address varchar(300),
    description varchar(1000) NOT NULL DEFAULT '',
    active boolean NOT NULL DEFAULT true,{_AUDIT}
);

CREATE TABLE payment_type (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name varchar(200) NOT NULL UNIQUE,
    kind varchar(20) NOT NULL
        CHECK (kind IN ('cash', 'cheque', 'bank_transfer', 'mobile_money', 'internal_transfer')),
    is_cash boolean NOT NULL,
    gl_account_id integer REFERENCES gl_account (id),
    position smallint NOT NULL DEFAULT 0 CHECK (position >= 0),
    description varchar(1000) NOT NULL DEFAULT '',
    active boolean NOT NULL DEFAULT true,{_AUDIT},
    CHECK (kind <> 'cash' OR is_cash)
);
COMMENT ON COLUMN payment_type.gl_account_id IS
    'Overrides the product''s fund-source account for money moved by this payment type (seed 001, advanced rules).';

CREATE TABLE tax_rate (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code varchar(30) NOT NULL UNIQUE,
    name varchar(200) NOT NULL,
    tax_kind varchar(10) NOT NULL CHECK (tax_kind IN ('vat', 'taf', 'tob')),
    country char(2) NOT NULL CHECK (country ~ '^[A-Z]{{2}}$'),
    operation_kind varchar(30) NOT NULL CHECK (operation_kind IN (
        'all_financial_services', 'loan_interest', 'loan_charges', 'deposit_interest', 'deposit_charges',
        'penalties', 'export_financing')),
    rate_percent numeric(9, 4) NOT NULL CHECK (rate_percent >= 0 AND rate_percent <= 100),
    valid_from date NOT NULL,
    valid_to date CHECK (valid_to IS NULL OR valid_to >= valid_from),
    institution_exempt boolean NOT NULL DEFAULT false,
    exemption_reference varchar(500),
    source varchar(1000) NOT NULL DEFAULT '',
    active boolean NOT NULL DEFAULT true,{_AUDIT},
    CHECK (NOT institution_exempt OR exemption_reference IS NOT NULL)
);
CREATE INDEX tax_rate_lookup ON tax_rate (country, tax_kind, operation_kind, valid_from);

CREATE TABLE charge (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name varchar(200) NOT NULL UNIQUE,
    applies_to varchar(10) NOT NULL CHECK (applies_to IN ('loan', 'deposit')),
    charge_time varchar(30) NOT NULL CHECK (charge_time IN (
        'application', 'disbursement', 'tranche_disbursement', 'specified_due_date', 'instalment_fee',
        'overdue_instalment', 'overdue_maturity', 'account_opening', 'withdrawal', 'annual', 'monthly',
        'premature_closure', 'overdraft', 'dormancy', 'account_closure')),
    calculation varchar(40) NOT NULL CHECK (calculation IN (
        'flat', 'percent_of_amount', 'percent_of_amount_and_interest', 'percent_of_instalment',
        'percent_of_interest', 'percent_of_outstanding_principal', 'percent_of_overdue_amount',
        'percent_of_balance')),
    amount numeric(22, 4) NOT NULL CHECK (amount >= 0),
    amount_min numeric(22, 4) CHECK (amount_min >= 0),
    amount_max numeric(22, 4) CHECK (amount_max >= 0),
    currency char(3) NOT NULL REFERENCES currency (code),
    is_penalty boolean NOT NULL DEFAULT false,
    tax_rate_id integer REFERENCES tax_rate (id),
    income_gl_account_id integer REFERENCES gl_account (id),
    due_month smallint CHECK (due_month BETWEEN 1 AND 12),
    due_day smallint CHECK (due_day BETWEEN 1 AND 31),
    frequency_every smallint CHECK (frequency_every BETWEEN 1 AND 366),
    frequency_unit varchar(10) CHECK (frequency_unit IN ('days', 'weeks', 'months')),
    grace_days smallint NOT NULL DEFAULT 0 CHECK (grace_days BETWEEN 0 AND 3650),
    active boolean NOT NULL DEFAULT true,{_AUDIT},
    CHECK (amount_min IS NULL OR amount_max IS NULL OR amount_min <= amount_max),
    CHECK (calculation = 'flat' OR amount <= 100),
    CHECK ((frequency_every IS NULL) = (frequency_unit IS NULL))
);

CREATE TABLE usury_cap (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    zone varchar(10) NOT NULL DEFAULT 'UMOA' CHECK (zone IN ('UMOA', 'CEMAC')),
    institution_type varchar(30) NOT NULL
        CHECK (institution_type IN ('bank', 'credit_institution', 'microfinance', 'other')),
    rate_annual_percent numeric(9, 4) NOT NULL CHECK (rate_annual_percent > 0 AND rate_annual_percent <= 100),
    valid_from date NOT NULL,
    valid_to date CHECK (valid_to IS NULL OR valid_to >= valid_from),
    legal_reference varchar(500) NOT NULL,
    source varchar(1000) NOT NULL DEFAULT '',
    active boolean NOT NULL DEFAULT true,{_AUDIT}
);
CREATE INDEX usury_cap_lookup ON usury_cap (zone, institution_type, valid_from);

CREATE TABLE holiday (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name varchar(200) NOT NULL,
    from_date date NOT NULL,
    to_date date NOT NULL CHECK (to_date >= from_date AND to_date - from_date < 366),
    all_offices boolean NOT NULL,
    repayments_moved_to date CHECK (repayments_moved_to IS NULL OR repayments_moved_to NOT BETWEEN from_date AND to_date),
    description varchar(1000) NOT NULL DEFAULT '',
    active boolean NOT NULL DEFAULT true,{_AUDIT}
);
CREATE INDEX holiday_dates ON holiday (from_date, to_date);

CREATE TABLE holiday_office (
    holiday_id integer NOT NULL REFERENCES holiday (id),
    office_id integer NOT NULL REFERENCES office (id),
    PRIMARY KEY (holiday_id, office_id)
);
CREATE INDEX holiday_office_office ON holiday_office (office_id);

CREATE TABLE working_week (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    office_id integer UNIQUE REFERENCES office (id),
    working_weekdays smallint[] NOT NULL
        CHECK (cardinality(working_weekdays) BETWEEN 1 AND 7 AND working_weekdays <@ ARRAY[1, 2, 3, 4, 5, 6, 7]::smallint[]),{_AUDIT}
);
CREATE UNIQUE INDEX working_week_single_default ON working_week ((office_id IS NULL)) WHERE office_id IS NULL;
COMMENT ON TABLE working_week IS
    'ISO weekdays (1 Monday .. 7 Sunday) an office works; office_id NULL is the institution default. '
    'An office without a row inherits from its nearest ancestor that has one.';

CREATE TABLE activity_sector (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code varchar(30) NOT NULL UNIQUE,
    name varchar(200) NOT NULL,
    parent_id integer REFERENCES activity_sector (id),
    active boolean NOT NULL DEFAULT true,{_AUDIT},
    CHECK (parent_id IS NULL OR parent_id <> id)
);

CREATE TABLE loan_purpose_category (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code varchar(30) NOT NULL UNIQUE,
    name varchar(200) NOT NULL,
    active boolean NOT NULL DEFAULT true,{_AUDIT}
);

CREATE TABLE loan_purpose (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code varchar(30) NOT NULL UNIQUE,
    name varchar(200) NOT NULL,
    category_id integer NOT NULL REFERENCES loan_purpose_category (id),
    activity_sector_id integer REFERENCES activity_sector (id),
    active boolean NOT NULL DEFAULT true,{_AUDIT}
);

CREATE TABLE decision_reason (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    label varchar(200) NOT NULL UNIQUE,
    decision varchar(10) NOT NULL CHECK (decision IN ('approve', 'reject', 'defer', 'other')),
    active boolean NOT NULL DEFAULT true,{_AUDIT}
);

CREATE TABLE validation_level (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    level_order smallint NOT NULL CHECK (level_order BETWEEN 1 AND 50),
    label varchar(200) NOT NULL,
    currency char(3) NOT NULL REFERENCES currency (code),
    amount_min numeric(22, 4) NOT NULL DEFAULT 0 CHECK (amount_min >= 0),
    amount_max numeric(22, 4) CHECK (amount_max IS NULL OR amount_max >= amount_min),
    role_name varchar(50) NOT NULL,
    active boolean NOT NULL DEFAULT true,{_AUDIT},
    UNIQUE (currency, level_order)
);
COMMENT ON COLUMN validation_level.role_name IS
    'staff_role.name of who decides at this level (checked by the service: staff_role ships in 0006).';

CREATE TABLE credit_insurance (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name varchar(200) NOT NULL UNIQUE,
    insurer varchar(200),
    description varchar(1000) NOT NULL DEFAULT '',
    active boolean NOT NULL DEFAULT true,{_AUDIT}
);
COMMENT ON TABLE credit_insurance IS 'Insurances a loan may carry (seed 002, 3.7.12 « Assurance »).';

CREATE TABLE delinquency_bucket (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bucket_kind varchar(20) NOT NULL CHECK (bucket_kind IN ('loan', 'overdraft', 'rescheduled_loan')),
    label varchar(200) NOT NULL,
    days_overdue_min integer NOT NULL CHECK (days_overdue_min BETWEEN 0 AND 36500),
    days_overdue_max integer CHECK (days_overdue_max IS NULL OR days_overdue_max BETWEEN days_overdue_min AND 36500),
    loan_state varchar(10) NOT NULL CHECK (loan_state IN ('healthy', 'doubtful')),
    provision_rate_percent numeric(7, 4) NOT NULL CHECK (provision_rate_percent BETWEEN 0 AND 100),
    source varchar(1000) NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by varchar(100) NOT NULL,
    retired_at timestamptz,
    retired_by varchar(100),
    CHECK ((retired_at IS NULL) = (retired_by IS NULL))
);
CREATE UNIQUE INDEX delinquency_bucket_current ON delinquency_bucket (bucket_kind, days_overdue_min)
    WHERE retired_at IS NULL;

CREATE TABLE credit_parameters (
    version integer PRIMARY KEY CHECK (version >= 1),
    institution_type varchar(30) NOT NULL
        CHECK (institution_type IN ('bank', 'credit_institution', 'microfinance', 'other')),
    country char(2) NOT NULL CHECK (country ~ '^[A-Z]{{2}}$'),
    loans_per_client_max smallint NOT NULL CHECK (loans_per_client_max BETWEEN 1 AND 100),
    loans_per_group_member_max smallint NOT NULL CHECK (loans_per_group_member_max BETWEEN 1 AND 100),
    loans_per_guarantor_max smallint NOT NULL CHECK (loans_per_guarantor_max BETWEEN 0 AND 100),
    due_date_on_holiday varchar(30) NOT NULL
        CHECK (due_date_on_holiday IN ('next_working_day', 'previous_working_day', 'same_day')),
    interest_rate_editable boolean NOT NULL,
    follow_up_sheet_printed boolean NOT NULL,
    contract_number_required boolean NOT NULL,
    grace_period_amounts_added boolean NOT NULL,
    contract_printed_at_disbursement boolean NOT NULL,
    debt_acknowledgement_printed boolean NOT NULL,
    monthly_rate_shown boolean NOT NULL,
    commission_before_disbursement boolean NOT NULL,
    partial_disbursement_allowed boolean NOT NULL,
    schedule_totals_shown boolean NOT NULL,
    repayment_availability_required boolean NOT NULL,
    days_late_tolerated smallint NOT NULL CHECK (days_late_tolerated BETWEEN 0 AND 365),
    recovery_entries_on_repayment boolean NOT NULL,
    guarantee_deposit_reduced_on_repayment boolean NOT NULL,
    interest_charged_on_early_repayment boolean NOT NULL,
    credit_jobs_enabled boolean NOT NULL,
    doubtful_loan_arrears_editable boolean NOT NULL,
    healthy_loan_rescheduling_allowed boolean NOT NULL,
    rescheduling_term_editable boolean NOT NULL,
    unpaid_instalment_rescheduling_allowed boolean NOT NULL,
    downgrade_jobs_enabled boolean NOT NULL,
    valid_from date NOT NULL,
    comment varchar(500) NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by varchar(100) NOT NULL
);
COMMENT ON TABLE credit_parameters IS
    'General credit parameters (seed 002, 3.7.1), one row per version; the highest version is in force.';
"""

FUNCTIONS = r"""
""" + refuse_changes(
    "reference_refuse_change", append_only=('credit_parameters',),
    keep_rows=('delinquency_bucket',)) + r"""
"""

_MUTABLE = (
    "institution_currency", "fund_source", "payment_type", "tax_rate", "charge", "usury_cap", "holiday",
    "working_week", "activity_sector", "loan_purpose_category", "loan_purpose", "decision_reason",
    "validation_level", "credit_insurance",
)


def _grants(app_role: str) -> str:
    role = app_role.replace('"', "")
    mutable = ", ".join(_MUTABLE)
    return f"""
GRANT SELECT ON {mutable}, holiday_office, delinquency_bucket, credit_parameters TO "{role}";
GRANT INSERT, UPDATE ON {mutable} TO "{role}";
GRANT INSERT, DELETE ON holiday_office TO "{role}";
GRANT INSERT (bucket_kind, label, days_overdue_min, days_overdue_max, loan_state, provision_rate_percent, source,
              created_by, retired_at, retired_by),
      UPDATE (retired_at, retired_by) ON delinquency_bucket TO "{role}";
GRANT INSERT ON credit_parameters TO "{role}";
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO "{role}";
"""


def upgrade(app_role: str) -> None:
    _script(TABLES)
    _script(FUNCTIONS)
    _script(_grants(app_role))


def downgrade(app_role: str) -> None:
    _script(
        "DROP TABLE credit_parameters, delinquency_bucket, credit_insurance, validation_level, decision_reason, loan_purpose, "
        "loan_purpose_category, activity_sector, working_week, holiday_office, holiday, usury_cap, charge, "
        "tax_rate, payment_type, fund_source, institution_currency CASCADE;"
        "DROP FUNCTION reference_refuse_change;"
    )
