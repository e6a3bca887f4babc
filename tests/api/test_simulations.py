"""POST /api/v1/loans/simulations: the issue's example end to end, CSV, and bad input as
4xx problem details naming the field (never a 500).

The simulation needs no database, so most tests run the controller in a bare Litestar app
with the application's exception handlers; one test goes through `create_app` (the shared
`client` fixture, PostgreSQL) to check the route is wired.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from api.controllers.simulations import LoanSimulationController
from api.errors import EXCEPTION_HANDLERS

URL = "/api/v1/loans/simulations"


@pytest.fixture(scope="module")
def bare_client() -> Iterator[TestClient[Litestar]]:
    app = Litestar(route_handlers=[LoanSimulationController], exception_handlers=EXCEPTION_HANDLERS)  # type: ignore[arg-type]
    with TestClient(app=app) as client:
        yield client


def terms(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "currency": "EUR",
        "principal_amount": "10000",
        "disbursement_date": "2025-01-15",
        "repayment_count": 12,
        "interest_rate_percent": "12",
    }
    body.update(overrides)
    return body


def test_issue_example_as_json(bare_client: TestClient[Litestar]) -> None:
    """888.49 a month, 661.86 of interest; TEG actuarial 12.6826 %, under the 24 % cap."""
    response = bare_client.post(URL, json=terms())
    assert response.status_code == 200, response.text
    out = response.json()
    assert [row["total_amount"] for row in out["instalments"][:2]] == ["888.49", "888.49"]
    assert out["instalments"][-1]["total_amount"] == "888.47"
    assert out["totals"]["interest_amount"] == "661.86"
    assert out["apr"]["actuarial_annual_percent"] == "12.6826"
    assert out["usury"] == {
        "method": "actuarial",
        "cap_annual_percent": "24",
        "apr_annual_percent": "12.6826",
        "exceeds_cap": False,
    }


def test_xof_with_fees_over_the_cap(bare_client: TestClient[Litestar]) -> None:
    """1,200,000 XOF at 2 % a month with a 3 % upfront fee: amounts in whole francs, TEG over 24 %."""
    body = terms(
        currency="XOF",
        principal_amount="1200000",
        repayment_count=6,
        interest_rate_percent="2",
        interest_rate_period="per_month",
        fees=[
            {
                "name": "Frais de dossier",
                "trigger": "disbursement",
                "calculation": "percent_of_amount",
                "rate_percent": "3",
                "vat_percent": "18",
            }
        ],
        usury_apr_method="proportional",
    )
    out = bare_client.post(URL, json=body).json()
    assert out["disbursements"][0] == {
        "disbursement_date": "2025-01-15",
        "amount": "1200000",
        "fee_amount": "36000",
        "vat_amount": "6480",
    }
    assert out["instalments"][0]["total_amount"] == "214231"
    assert out["usury"]["exceeds_cap"] is True
    assert {c["kind"]: c["counted"] for c in out["apr"]["components"]} == {
        "interest": True,
        "fee": True,
        "vat": False,
    }


@pytest.mark.parametrize("how", ["query", "accept"])
def test_csv(bare_client: TestClient[Litestar], how: str) -> None:
    if how == "query":
        response = bare_client.post(URL, params={"format": "csv"}, json=terms())
    else:
        response = bare_client.post(URL, json=terms(), headers={"Accept": "text/csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0][:3] == ["kind", "number", "from_date"]
    assert rows[1][0] == "disbursement"
    assert rows[2][:2] == ["instalment", "1"] and rows[2][9] == "888.49"
    assert rows[-1][0] == "total" and rows[-1][6] == "661.86"
    assert len(rows) == 1 + 1 + 12 + 1


@pytest.mark.parametrize(
    ("overrides", "field", "status"),
    [
        ({"principal_amount": "NaN"}, None, 400),
        ({"principal_amount": "Infinity"}, None, 400),
        ({"principal_amount": "1E+999999"}, None, 400),
        ({"principal_amount": "abc"}, "principal_amount", 400),
        ({"repayment_count": 10**9}, "repayment_count", 400),
        ({"repayment_count": 0}, "repayment_count", 400),
        ({"repayment_every": -1}, "repayment_every", 400),
        ({"interest_rate_percent": "5000"}, "interest_rate_percent", 422),
        ({"interest_rate_percent": "-1"}, "interest_rate_percent", 422),
        ({"disbursement_date": "0001-01-01"}, None, 400),
        ({"disbursement_date": "2025-02-30"}, "disbursement_date", 400),
        ({"currency": "ZZZ"}, "currency_code", 422),
        ({"currency": "eur"}, "currency", 400),
        ({"principal_amount": "100.005"}, "principal_amount", 422),
        ({"unknown_field": 1}, "unknown_field", 400),
        ({"repayment_count": 600, "repayment_frequency_unit": "years"}, "repayment_count", 422),
        ({"first_repayment_date": "2024-01-01"}, "first_repayment_date", 422),
        ({"fees": [{"name": "x", "trigger": "instalment"}]}, "fees[0].flat_amount", 422),
        ({"fees": [{"name": "x", "trigger": "instalment", "flat_amount": "1"}] * 21}, "fees", 400),
        ({"tranches": [{"expected_date": "2025-01-15", "amount": "1"}]}, "tranches", 422),
        ({"rounding": {"decimals": 9}}, "rounding.decimals", 400),
        ({"holidays": ["2025-02-15"] * 1001}, "holidays", 400),
        ({"interest_method": "compound"}, "interest_method", 400),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(
    bare_client: TestClient[Litestar], overrides: dict[str, Any], field: str | None, status: int
) -> None:
    response = bare_client.post(URL, json=terms(**overrides))
    assert response.status_code == status, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    if field is not None:
        assert field in (problem.get("field") or "") + problem["detail"], problem
    else:
        assert next(iter(overrides)) in problem["detail"], problem


def test_json_numbers_are_accepted_for_decimals(bare_client: TestClient[Litestar]) -> None:
    response = bare_client.post(URL, json=terms(principal_amount=10000, interest_rate_percent=12))
    assert response.status_code == 200, response.text
    assert response.json()["totals"]["interest_amount"] == "661.86"


def test_openapi_documents_the_route(bare_client: TestClient[Litestar]) -> None:
    schema = bare_client.get("/schema/openapi.json").json()
    assert URL in schema["paths"] or URL + "/" in schema["paths"]


@pytest.mark.db
async def test_route_is_wired_in_the_application(client: Any) -> None:
    """Through `api.app.create_app`: fails until the controller is registered there."""
    response = await client.post(URL, json=terms())
    assert response.status_code == 200, response.text
    assert response.json()["totals"]["interest_amount"] == "661.86"
