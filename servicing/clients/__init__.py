"""Clients (individuals, businesses, groups) and their KYC records.

Pure rules live in `model`, `rules` and `kyc_rules` (no I/O, mypy --strict); the service
functions in `service`, `documents` and `kyc` run one unit of work per command."""
