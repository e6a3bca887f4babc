"""PostgreSQL side of the chart of accounts."""
