"""Deposit (current and savings) accounts serviced through the journal: lifecycle and holds
(`accounts`), money movements (`movements`), interest posting (`interest`), statements and
reconciliation (`statements`). See docs/deposit-accounts.md."""
