"""Close of business: loan accruals and overdue penalties (steps `loan_accrual`, `loan_penalties`).

Why:

* kinds ``accrual`` (interest earned and instalment fees recognised, on the receivables) and
  ``accrual_adjustment`` (an accrual taken back when the accrued-to-date figure falls, e.g. a
  schedule recalculated): the accrual step posts, per loan, accrued-to-date less what these
  transactions already hold, so both directions are needed and neither reverses one row;
* ``loan_entry_share``: the accrual and penalty steps post ONE journal entry per office,
  product version, currency and day for a whole chunk of loans (one per loan would be 100,000
  entries a night). Each loan transaction keeps its own share of that entry, per account and
  side, so the loan reconciliation checks each loan against its share and each shared entry
  against the sum of its shares;
* ``loan_penalty_charge``: which penalty period of which instalment was charged, by which
  transaction. Its key makes a penalty impossible to charge twice, even by two runs at once.

* ``loan_accrual_total``: per loan, the sum of its accrual transactions (interest and fees
  recognised, less adjustments), kept by the accrual step in the same transaction as the rows
  it sums. Without it each night would re-add every accrual row of every loan (365 a year per
  loan); it is derived, and `grandlivre verify` checks it against the transactions
  (``loan-accrual-total-equals-transactions``).

The share and penalty tables are append-only: corrections are new transactions, never edits.

Revision ID: 0026
Revises: 0025
Create Date: 2026-11-23
"""

from migrations import refuse_changes
from migrations import run_script as _script

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

KINDS = (("accrual", "Intérêts courus et frais constatés (arrêté journalier)"),
         ("accrual_adjustment", "Reprise d'intérêts courus (arrêté journalier)"))

TABLES = """
INSERT INTO loan_transaction_kind (kind, description) VALUES """ + ", ".join(
    f"('{kind}', '{label.replace(chr(39), chr(39) * 2)}')" for kind, label in KINDS) + """
ON CONFLICT (kind) DO NOTHING;  -- kept by a downgrade: the kinds table is append-only

CREATE TABLE loan_entry_share (
    loan_transaction_id bigint NOT NULL REFERENCES loan_transaction (id),
    entry_id uuid NOT NULL,
    account_id integer NOT NULL REFERENCES gl_account (id),
    side char(1) NOT NULL CHECK (side IN ('D', 'C')),
    amount numeric(22, 4) NOT NULL CHECK (amount > 0),
    PRIMARY KEY (loan_transaction_id, account_id, side)
);
CREATE INDEX loan_entry_share_entry ON loan_entry_share (entry_id);

CREATE TABLE loan_penalty_charge (
    loan_id integer NOT NULL REFERENCES loan (id),
    instalment integer NOT NULL CHECK (instalment >= 1),
    period integer NOT NULL CHECK (period >= 1),
    charged_on date NOT NULL,
    base numeric(22, 4) NOT NULL CHECK (base >= 0),
    loan_transaction_id bigint NOT NULL REFERENCES loan_transaction (id),
    PRIMARY KEY (loan_id, instalment, period)
);

CREATE TABLE loan_accrual_total (
    loan_id integer PRIMARY KEY REFERENCES loan (id),
    interest numeric(22, 4) NOT NULL,
    fee numeric(22, 4) NOT NULL,
    through date NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
""" + refuse_changes("cob_loan_postings_refuse_change", append_only=("loan_entry_share", "loan_penalty_charge"))


def _grants(app_role: str) -> str:
    role = app_role.replace('"', "")
    return (f'GRANT SELECT, INSERT ON loan_entry_share, loan_penalty_charge TO "{role}";\n'
            f'GRANT SELECT, INSERT, UPDATE ON loan_accrual_total TO "{role}";\n')


def upgrade(app_role: str) -> None:
    _script(TABLES)
    _script(_grants(app_role))


def downgrade(app_role: str) -> None:
    _script("DROP TABLE loan_accrual_total; DROP TABLE loan_penalty_charge; DROP TABLE loan_entry_share;"
            " DROP FUNCTION cob_loan_postings_refuse_change;")
