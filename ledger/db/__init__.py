"""PostgreSQL side of the ledger: typed tables and the journal store."""
