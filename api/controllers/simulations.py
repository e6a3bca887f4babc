"""Loan simulations: terms in, schedule, totals and TEG out, as JSON or CSV.

No database and no state: the handler decodes the terms, calls the pure simulation and
encodes the answer. Bad terms raise `products.loans.TermsError`, a `LedgerError`, which the
application's handler turns into a 422 problem naming the field.
"""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

from litestar import Controller, MediaType, Request, Response, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter

from api.schemas.problems import PROBLEM_RESPONSES
from api.schemas.simulations import LoanSimulationIn, LoanSimulationOut, simulation_csv_rows
from servicing.simulations import SimulateLoan, simulate

CSV_MEDIA_TYPE = "text/csv"


def _wants_csv(request: Request[Any, Any, Any], output_format: str | None) -> bool:
    if output_format is not None:
        return output_format == "csv"
    accept = request.headers.get("accept", "")
    return CSV_MEDIA_TYPE in accept and MediaType.JSON.value not in accept


class LoanSimulationController(Controller):
    path = "/api/v1/loans/simulations"
    tags = ["Loans"]  # noqa: RUF012  (Litestar reads a list)

    @post(
        "/",
        status_code=200,
        opt={"permission": "loans:simulate"},
        summary="Simulate a loan: schedule, totals, TEG and usury check",
        description="JSON by default; CSV with ?format=csv or 'Accept: text/csv'.",
        responses={
            200: ResponseSpec(
                data_container=LoanSimulationOut, description="The simulation (or the schedule as CSV)"
            ),
            **PROBLEM_RESPONSES,
        },
    )
    async def simulate(
        self,
        request: Request[Any, Any, Any],
        data: LoanSimulationIn,
        output_format: Annotated[
            Literal["json", "csv"] | None,
            Parameter(query="format", required=False, description="json or csv"),
        ] = None,
    ) -> Response[Any]:
        command = SimulateLoan(terms=data.to_terms(), usury_method=data.usury_apr_method,
                               usury_cap_annual_percent=data.usury_cap_annual_percent)
        out = LoanSimulationOut.from_simulation(simulate(command))
        if _wants_csv(request, output_format):
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerows(simulation_csv_rows(out))
            return Response(
                content=buffer.getvalue(),
                media_type=CSV_MEDIA_TYPE,
                headers={"Content-Disposition": 'attachment; filename="loan-simulation.csv"'},
            )
        return Response(content=out, media_type=MediaType.JSON)
