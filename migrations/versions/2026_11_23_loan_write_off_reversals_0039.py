"""Reversals of a loan's write-off and of a recovery on a written-off loan: two transaction kinds.

Why: a write-off (« passage en perte ») or a recovery recorded by mistake is corrected as every
loan movement is, by a reversal transaction pointing at it and a mirror journal entry
(`servicing.loans.write_offs.reverse_write_off`, `reverse_recovery`). `loan_transaction.kind`
is a foreign key to `loan_transaction_kind` since revision 0025, so the kinds are rows; their
names end in ``_reversal`` as the table's check on `reverses_transaction_id` requires. The
sub-ledger signs of the new kinds are `servicing.loans.reconciliation.SUBLEDGER_SIGNS`'.

Revision ID: 0039
Revises: 0037
Create Date: 2026-11-23
"""

from migrations import run_script as _script

revision = "0039"
down_revision = "0037"
branch_labels = None
depends_on = None  # 0025 (the kinds table) and 0027 (write_off, recovery) are ancestors of 0033

KINDS = """
INSERT INTO loan_transaction_kind (kind, description)
VALUES ('write_off_reversal', 'Annulation d''un passage en perte'),
       ('recovery_reversal', 'Annulation d''une récupération sur prêt amorti')
ON CONFLICT (kind) DO NOTHING;  -- kept by a downgrade: the kinds table is append-only
"""


def upgrade(app_role: str) -> None:
    del app_role  # no new table: the app already inserts loan transactions
    _script(KINDS)


def downgrade(app_role: str) -> None:
    del app_role  # the kind rows stay (append-only); no transaction of these kinds can remain meaningful
