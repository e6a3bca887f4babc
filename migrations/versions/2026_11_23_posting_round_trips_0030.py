"""One round trip fewer per posting: the writer locks its offices' chain heads and the
balances its lines will move in one call, and reads those balances as they stand.

Why: a posting used to lock the chain heads, insert, then read every touched account's
balance back to answer with the balances before and after each entry: three round trips
while holding the office's chain head, whose lock every posting of that office waits for.
With the balance rows locked (in account and currency order, the order in which the posting
trigger upserts them, so writers never deadlock on them) nobody else can move them before
the commit, so the balances after the insert are the ones read plus the lines: the read after
the insert is no longer needed (except for an account's first line in a currency, which has
no row to lock yet). The application role cannot lock rows it may not update, hence a
SECURITY DEFINER function like `journal_chain_lock`.

Also: an index on the journal entry of term-deposit transactions, which the journal's
reversal route looks up to refuse reversing a product movement's entry there.

Revision ID: 0030
Revises: 0029
Create Date: 2026-11-23
"""

from migrations import run_script as _script

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

FUNCTIONS = """
CREATE FUNCTION journal_posting_lock(offices integer[], codes text[], currencies text[])
    RETURNS TABLE (office_id integer, chain_position bigint, entry_hash bytea, booked_at timestamptz,
                   account_id integer, currency text, debit_balance numeric)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
#variable_conflict use_column
BEGIN
    -- Chain heads first, in office order (as journal_chain_lock), then the balances.
    RETURN QUERY
        SELECT h.office_id, h.position, h.entry_hash, now(), NULL::integer, NULL::text, NULL::numeric
          FROM journal_chain_head h WHERE h.office_id = ANY (offices) ORDER BY h.office_id FOR UPDATE;
    RETURN QUERY
        SELECT NULL::integer, NULL::bigint, NULL::bytea, NULL::timestamptz, b.account_id, CAST(b.currency AS text),
               b.debit_total - b.credit_total
          FROM account_balance b
          JOIN (SELECT DISTINCT a.id, k.currency
                  FROM unnest(codes, currencies) AS k (code, currency) JOIN gl_account a ON a.code = k.code) t
            ON b.account_id = t.id AND b.currency = t.currency
         ORDER BY b.account_id, b.currency FOR UPDATE OF b;
END $$;
CREATE INDEX term_deposit_transaction_entry ON term_deposit_transaction (entry_id);
"""


def _grants(app_role: str) -> str:
    role = app_role.replace('"', "")
    return f"""
REVOKE ALL ON FUNCTION journal_posting_lock(integer[], text[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION journal_posting_lock(integer[], text[], text[]) TO "{role}";
"""


def upgrade(app_role: str) -> None:
    _script(FUNCTIONS)
    _script(_grants(app_role))


def downgrade(app_role: str) -> None:
    _script("DROP INDEX term_deposit_transaction_entry; DROP FUNCTION journal_posting_lock(integer[], text[], text[]);")
