"""Shared helpers of the acceptance tests: published scenarios of other systems replayed on
Grand Livre, figures compared as the publisher prints them."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

SIMULATIONS = "/api/v1/loans/simulations"

Row = tuple[str, str, str, str, str]
"""One printed schedule row: due date, principal, interest, total due, balance after."""


def simulate(client: TestClient[Litestar], **terms: Any) -> dict[str, Any]:
    response = client.post(SIMULATIONS, json=terms)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def rows(schedule: dict[str, Any]) -> list[Row]:
    return [(i["due_date"], i["principal_amount"], i["interest_amount"], i["total_amount"], i["balance_amount"])
            for i in schedule["instalments"]]


def published(*table: Sequence[str]) -> list[Row]:
    """A published table as strings with the currency's decimals (Fineract prints 16.6 for 16.60)."""
    def money(text: str) -> str:
        return f"{Decimal(text):.2f}"
    return [(due, money(p), money(i), money(t), money(b)) for due, p, i, t, b in table]
