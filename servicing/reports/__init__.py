"""Accounting reports: trial balance, general ledger, journal, balance sheet, income
statement, and the year-end close.

The pure core (`chart_tree`, `trial_balance`, `statements`, `closing_entry`, `csv_export`)
works on values only and is checked by mypy --strict; `service` and `general_ledger` read
the database through `ledger.db.totals.account_totals` (every balance) and row-level
keyset queries (the general-ledger lines), and `year_end` posts through the journal."""
