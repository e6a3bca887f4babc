"""The problem-details responses every route may give, declared in the OpenAPI schema so
that clients (and schema-driven fuzzers) know them."""

from __future__ import annotations

from typing import Final

import msgspec
from litestar.openapi.datastructures import ResponseSpec

PROBLEM_JSON: Final = "application/problem+json"


class FieldProblemOut(msgspec.Struct, kw_only=True):
    field: str | None = None
    row: str | None = None
    code: str | None = None
    message: str


class ProblemOut(msgspec.Struct, kw_only=True):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    field: str | None = None
    errors: list[FieldProblemOut] | None = None


def _problem(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=ProblemOut, description=description, media_type=PROBLEM_JSON,
                        generate_examples=False)


PROBLEM_RESPONSES: Final = {
    400: _problem("Malformed or invalid request (the field is named)"),
    401: _problem("Not signed in, or the token is expired or revoked"),
    403: _problem("Signed in, but the roles or the office do not allow it"),
    404: _problem("Unknown resource"),
    409: _problem("Conflicts with the current state (closed period, already reversed, reused key...)"),
    413: _problem("Request body too large"),
    422: _problem("Refused by an accounting rule (the field is named)"),
    503: _problem("The journal is saturated; send the request again shortly"),
}
