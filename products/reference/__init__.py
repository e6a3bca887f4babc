"""Reference data behind the products: currencies, fund sources, payment types, charges,
tax rates, usury caps, calendars, loan classification lists, delinquency buckets and the
general credit parameters. Pure definitions and validation; tables in `db/tables.py`."""
