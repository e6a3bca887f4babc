"""Revision 0008: the reference tables exist with their checks, the application role may
not delete reference rows, and credit-parameter versions are append-only even for the owner."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from servicing.errors import sqlstate_of

REFERENCE_TABLES = (
    "institution_currency", "fund_source", "payment_type", "tax_rate", "charge", "usury_cap", "holiday",
    "holiday_office", "working_week", "activity_sector", "loan_purpose_category", "loan_purpose",
    "decision_reason", "validation_level", "credit_insurance", "delinquency_bucket", "credit_parameters",
)


async def test_every_reference_table_is_readable_by_the_application(engine) -> None:  # type: ignore[no-untyped-def]
    async with engine.connect() as connection:
        for table in REFERENCE_TABLES:
            await connection.execute(text(f"SELECT count(*) FROM {table}"))


@pytest.mark.parametrize("statement", [
    "DELETE FROM charge", "DELETE FROM fund_source", "DELETE FROM delinquency_bucket",
    "UPDATE credit_parameters SET days_late_tolerated = 0", "DELETE FROM credit_parameters",
    "UPDATE delinquency_bucket SET provision_rate_percent = 0",
])
async def test_application_role_cannot_delete_or_rewrite_reference_rows(engine, statement: str) -> None:  # type: ignore[no-untyped-def]
    async with engine.connect() as connection:
        with pytest.raises(DBAPIError, match="permission denied"):
            await connection.execute(text(statement))


@pytest.mark.parametrize("statement", [
    "UPDATE credit_parameters SET days_late_tolerated = 0", "DELETE FROM credit_parameters",
    "TRUNCATE credit_parameters", "DELETE FROM delinquency_bucket",
])
async def test_even_the_owner_cannot_rewrite_history(admin_engine, statement: str) -> None:  # type: ignore[no-untyped-def]
    async with admin_engine.connect() as connection:
        with pytest.raises(DBAPIError, match="append-only") as raised:
            await connection.execute(text(statement))
        assert sqlstate_of(raised.value) == "GL010"


async def test_database_refuses_an_inverted_bucket(engine) -> None:  # type: ignore[no-untyped-def]
    async with engine.connect() as connection:
        with pytest.raises(DBAPIError) as raised:
            await connection.execute(text(
                "INSERT INTO delinquency_bucket (bucket_kind, label, days_overdue_min, days_overdue_max, loan_state,"
                " provision_rate_percent, created_by) VALUES ('loan', 'x', 30, 10, 'healthy', 0, 'tests')"))
        assert sqlstate_of(raised.value) == "23514"
