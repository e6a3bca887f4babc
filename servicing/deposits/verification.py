"""Checks `grandlivre verify` runs on deposit accounts, in the shape of its own queries
(check_name, entry_id, account_code, detail): the cached balance of each account must equal
the sum of its transactions, and each money transaction must name the journal entry that
posted it when its product posts (the entry itself is checked by the journal's own checks);
the interest rounding carry of an account stays below one unit (it is what rounding left out of
a period, always less than one rounding step), and each reversal cancels its original exactly
(same account and amount, the opposite kind)."""

from __future__ import annotations

from typing import Final

DEPOSIT_CHECKS: Final = (
    """
SELECT 'deposit-balances' AS check_name, NULL::text AS entry_id, 'deposit-account ' || a.id AS account_code,
       'cached balance ' || a.balance || ', transactions give ' || coalesce(s.total, 0) AS detail
  FROM deposit_account a
  LEFT JOIN (SELECT account_id, sum(signed_amount) AS total FROM deposit_transaction GROUP BY account_id) s
    ON s.account_id = a.id
 WHERE a.balance <> coalesce(s.total, 0)
 LIMIT 10
""",
    """
SELECT 'deposit-unposted' AS check_name, NULL::text AS entry_id, 'deposit-account ' || t.account_id AS account_code,
       'transaction ' || t.id || ' (' || t.kind || ' ' || t.amount || ') has no journal entry' AS detail
  FROM deposit_transaction t
  JOIN deposit_account a ON a.id = t.account_id
  JOIN product_version v ON v.product_id = a.product_id AND v.version = a.product_version
 WHERE t.signed_amount <> 0 AND t.journal_entry_id IS NULL AND v.accounting_rule <> 'none'
 LIMIT 10
""",
    """
SELECT 'deposit-interest-carry' AS check_name, NULL::text AS entry_id, 'deposit-account ' || a.id AS account_code,
       'interest carry ' || a.interest_carry_earned || ' earned, ' || a.interest_carry_charged
       || ' charged: a carry is below one unit' AS detail
  FROM deposit_account a
 WHERE a.interest_carry_earned >= 1 OR a.interest_carry_charged >= 1
 LIMIT 10
""",
    """
SELECT 'deposit-reversals' AS check_name, NULL::text AS entry_id, 'deposit-account ' || r.account_id AS account_code,
       'transaction ' || r.id || ' (' || r.kind || ' ' || r.amount || ') does not cancel transaction ' || o.id
       || ' (' || o.kind || ' ' || o.amount || ')' AS detail
  FROM deposit_transaction r
  JOIN deposit_transaction o ON o.id = r.reverses_id
 WHERE r.account_id <> o.account_id OR r.amount <> o.amount OR r.signed_amount <> -o.signed_amount
    OR r.kind <> o.kind || '_reversal'
 LIMIT 10
""",
)
