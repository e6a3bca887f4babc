"""Loans: reclassification, provisions booked per loan, write-off and recovery.

Why: the close of business moves a loan's outstanding between the healthy and doubtful
accounts (a `reclassification` loan transaction), books provisions per office, product, class
and term in one entry a day while keeping what each loan's provision is (`loan_provision_movement`,
append-only, so "booked for this loan" is a sum anyone can audit against the provisions
account), writes loans off (`write_off`, loan status `written_off`: out of the active portfolio,
history kept) and takes later recoveries (`recovery`, income only: the loan owes nothing more
in the books).

Revision ID: 0027
Revises: 0026
Create Date: 2026-11-23
"""

from migrations import refuse_changes
from migrations import run_script as _script

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

KINDS = (("reclassification", "Reclassement sain / en souffrance"), ("write_off", "Passage en perte"),
         ("recovery", "Récupération sur créance amortie"))

TABLES = """
INSERT INTO loan_transaction_kind (kind, description) VALUES """ + ", ".join(
    f"('{kind}', '{label}')" for kind, label in KINDS) + """
ON CONFLICT (kind) DO NOTHING;  -- kept by a downgrade: the kinds table is append-only

ALTER TABLE loan DROP CONSTRAINT loan_status_check, DROP CONSTRAINT loan_check;
ALTER TABLE loan ADD CONSTRAINT loan_status_check
    CHECK (status IN ('draft', 'submitted', 'approved', 'rejected', 'active', 'closed', 'written_off'));
ALTER TABLE loan ADD CONSTRAINT loan_check
    CHECK ((status IN ('active', 'closed', 'written_off')) = (schedule IS NOT NULL AND disbursed_on IS NOT NULL));

CREATE TABLE loan_provision_movement (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    loan_id integer NOT NULL REFERENCES loan (id),
    business_date date NOT NULL,
    office_id integer NOT NULL,
    product_id integer NOT NULL,
    product_version integer NOT NULL,
    currency char(3) NOT NULL,
    classification varchar(20) NOT NULL CHECK (classification IN ('healthy', 'doubtful', 'written_off')),
    term varchar(10) NOT NULL CHECK (term IN ('short', 'medium', 'long')),
    kind varchar(20) NOT NULL CHECK (kind IN ('allowance', 'release', 'write_off')),
    amount numeric(22, 4) NOT NULL CHECK (amount > 0),
    required numeric(22, 4) CHECK (required >= 0),
    rate_percent numeric(9, 4),
    bucket_label varchar(200),
    journal_entry_id uuid REFERENCES journal_entry (id) DEFERRABLE INITIALLY DEFERRED,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by varchar(100) NOT NULL
);
CREATE INDEX loan_provision_movement_loan ON loan_provision_movement (loan_id, classification);
CREATE INDEX loan_provision_movement_day ON loan_provision_movement (business_date);
CREATE INDEX loan_provision_movement_entry ON loan_provision_movement (journal_entry_id);
""" + refuse_changes("loan_provision_refuse_change", append_only=("loan_provision_movement",))


def _grants(app_role: str) -> str:
    role = app_role.replace('"', "")
    return (f'GRANT SELECT, INSERT ON loan_provision_movement TO "{role}";\n'
            f'GRANT USAGE ON SEQUENCE loan_provision_movement_id_seq TO "{role}";\n')


def upgrade(app_role: str) -> None:
    _script(TABLES)
    _script(_grants(app_role))


def downgrade(app_role: str) -> None:
    _script("DROP TABLE loan_provision_movement; DROP FUNCTION loan_provision_refuse_change;"
            "ALTER TABLE loan DROP CONSTRAINT loan_status_check, DROP CONSTRAINT loan_check;"
            "ALTER TABLE loan ADD CONSTRAINT loan_status_check CHECK (status IN ('draft', 'submitted', 'approved',"
            " 'rejected', 'active', 'closed'));"
            "ALTER TABLE loan ADD CONSTRAINT loan_check CHECK ((status IN ('active', 'closed'))"
            " = (schedule IS NOT NULL AND disbursed_on IS NOT NULL));")
