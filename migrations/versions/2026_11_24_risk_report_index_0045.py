"""Portfolio-risk reports at scale: the loans' report keys in an index of their own.

Why (issue 9, item 12): the portfolio at risk, the ageing, the provisioning report and the
officers' follow-up list (`servicing.close_of_business.risk_reports`) join every loan's
`loan_arrears_state` to its loan for the loan's office, product, currency, status and client.
A loan row is wide (its terms and schedule, about 2.5 kB), so at 100,000 loans the join read
26,500 pages of the loan table for a few integers per loan. ``loan_report`` holds those keys
(office and product first: a report narrowed to an office or a product reads its part only), so
PostgreSQL answers the join from the index (an index-only scan, about 700 pages at 100,000 loans).
Its columns change only when a loan changes office, product, status or client, so the quiet
close of business, which writes no loan row, does not maintain it.

Revision ID: 0045
Revises: 0044
Create Date: 2026-11-24
"""

from migrations import run_script as _script

revision = "0045"
down_revision = "0044"
branch_labels = None
depends_on = None


def upgrade(app_role: str) -> None:
    del app_role
    _script("CREATE INDEX loan_report ON loan (office_id, product_id, id)"
            " INCLUDE (status, closed_on, currency, product_version, client_id);")


def downgrade(app_role: str) -> None:
    del app_role
    _script("DROP INDEX loan_report;")
