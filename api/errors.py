"""Every error leaves as RFC 9457 problem details (application/problem+json), naming the
field at fault where there is one. Domain errors carry their status; validation errors of
the request body or parameters keep Litestar's 400; anything unexpected is a logged 500
that reveals nothing."""

from __future__ import annotations

import logging
import re
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from ledger.errors import LedgerError
from servicing.errors import sqlstate_of, translate_database_error

_log = logging.getLogger(__name__)
_MISSING_PARAMETER = re.compile(r"Missing required \w+ parameter '([^']+)'")
"""Litestar names a missing query parameter or header only in its message."""
PROBLEM_JSON = "application/problem+json"


def problem(
    request: Request[Any, Any, Any], *, status: int, code: str, title: str, detail: str,
    field: str | None = None, errors: list[dict[str, str]] | None = None,
    extensions: dict[str, Any] | None = None,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": f"urn:grandlivre:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if field is not None:
        body["field"] = field
    if errors:
        body["errors"] = errors
    for name, value in (extensions or {}).items():
        body.setdefault(name, value)
    headers = {"WWW-Authenticate": 'Bearer realm="grandlivre"'} if status == 401 else None
    return Response(content=body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


_PROBLEM_KEYS = ("field", "row", "code", "message")


def _problem_items(error: LedgerError) -> list[dict[str, str]] | None:
    """The error's own list of problems (`problems`: every rule it broke), each naming its
    field (the error's own field when an item names none); else the error's one field."""
    problems = getattr(error, "problems", None)
    if isinstance(problems, list) and problems:
        items = []
        for item in problems:
            values = item if isinstance(item, dict) else (
                msgspec.structs.asdict(item) if isinstance(item, msgspec.Struct) else {"message": str(item)})
            kept = {key: str(values[key]) for key in _PROBLEM_KEYS if values.get(key) is not None}
            kept.setdefault("field", error.field or "body")
            kept.setdefault("message", error.message)
            items.append(kept)
        return items
    if error.field is not None:
        return [{"field": error.field, "message": error.message}]
    return None


def ledger_error_handler(request: Request[Any, Any, Any], error: LedgerError) -> Response[dict[str, Any]]:
    title = error.code.replace("-", " ").capitalize()
    extensions = getattr(error, "extensions", None)
    return problem(request, status=error.status_hint, code=error.code, title=title, detail=error.message,
                   field=error.field, errors=_problem_items(error),
                   extensions=extensions if isinstance(extensions, dict) else None)


_NAMED_IN_MESSAGE = re.compile(r"^Object (?:missing required|contains unknown) field `([^`]{1,100})`")
_CHECKED_IN_POST_INIT = re.compile(r"^([a-z_][a-z0-9_]{0,60}) (?:must|is|cannot) ")


def _named_field(field: str, message: str) -> str:
    """msgspec names a missing or unknown field in its message, not its path, and a schema's
    `__post_init__` check starts its message with the field ("birth_date must be..."): name it."""
    match = _NAMED_IN_MESSAGE.match(message)
    if match is None and field in ("data", "body"):
        match = _CHECKED_IN_POST_INIT.match(message)
    if match is None:
        return field
    return match.group(1) if field in ("data", "body") else f"{field}.{match.group(1)}"


def validation_error_handler(request: Request[Any, Any, Any], error: ValidationException) -> Response[dict[str, Any]]:
    errors: list[dict[str, str]] = []
    for item in error.extra if isinstance(error.extra, list) else []:
        if isinstance(item, dict):
            field = _public_name(request, str(item.get("key") or item.get("source") or "body"))
            message = str(item.get("message", ""))
            errors.append({"field": _named_field(field, message), "message": message})
    detail = error.detail or "invalid request"
    missing = _MISSING_PARAMETER.search(detail)
    if not errors and missing:
        errors.append({"field": missing.group(1), "message": "required"})
    if errors:
        detail = f"{errors[0]['field']}: {errors[0]['message']}"
    return problem(request, status=400, code="invalid-request", title="Invalid request", detail=detail,
                   field=errors[0]["field"] if errors else None, errors=errors)


def _public_name(request: Request[Any, Any, Any], key: str) -> str:
    """The name the client sent (`from`, `format`) for a handler argument declared under
    another Python name (`date_from`, `fmt`)."""
    try:
        declared = request.route_handler.parsed_fn_signature.parameters.get(key)
    except AttributeError:
        return key
    kwarg = getattr(declared, "kwarg_definition", None)
    alias = getattr(kwarg, "query", None) or getattr(kwarg, "header", None)
    return alias if isinstance(alias, str) else key


_BODY_PATH = re.compile(r"`\$\.data\.([^`]{1,200})`")


def http_error_handler(request: Request[Any, Any, Any], error: HTTPException) -> Response[dict[str, Any]]:
    status = error.status_code
    cause = error.__cause__
    if status >= 500 and isinstance(cause, msgspec.ValidationError):
        # Litestar calls a body that fails validation a server error when the failing field
        # shares its name with one of our dependencies (`principal`, `actor`...): it is the
        # client's input all the same.
        found = _BODY_PATH.search(str(cause))
        message = str(cause).split(" - ", 1)[0]
        field = _named_field(found.group(1) if found else "body", message)
        return problem(request, status=400, code="invalid-request", title="Invalid request",
                       detail=f"{field}: {message}", field=field, errors=[{"field": field, "message": message}])
    if status >= 500:
        _log.error("server error on %s %s", request.method, request.url.path, exc_info=error)
    code = {400: "invalid-request", 401: "not-authenticated", 403: "permission-denied", 404: "not-found", 405: "method-not-allowed",
            413: "payload-too-large", 415: "unsupported-media-type", 429: "too-many-requests"}.get(status, "http-error")
    return problem(request, status=status, code=code, title=code.replace("-", " ").capitalize(),
                   detail=str(error.detail))


_BAD_INPUT_SQLSTATES = {
    "22021": ("invalid-text", "a text field holds a character that cannot be stored (such as NUL)"),
    "22P05": ("invalid-text", "a text field holds a character that cannot be stored"),
    "22001": ("value-too-long", "a value is longer than its field allows"),
    "22003": ("value-out-of-range", "a number is out of its field's range"),
    "22008": ("value-out-of-range", "a date or time is out of range"),
    "23503": ("unknown-reference", "a value names something that does not exist"),
    "23514": ("invalid-value", "a value breaks one of the rules of its field"),
}
"""Database refusals that come from what the client sent (a service should have caught them,
with a better message): answered 422, nothing written, never a 500."""
_REFUSING_TABLE = re.compile(r'(?:table|relation) "([a-z0-9_]+)"')
_REFUSING_CONSTRAINT = re.compile(r'constraint "([a-z0-9_]+)_(?:fkey|check)"')


def _refused_column(message: str) -> str | None:
    """`currency` from PostgreSQL's 'on table "approval_rule" ... constraint "approval_rule_currency_fkey"'."""
    table, constraint = _REFUSING_TABLE.search(message), _REFUSING_CONSTRAINT.search(message)
    if table is None or constraint is None or not constraint.group(1).startswith(table.group(1) + "_"):
        return None
    return constraint.group(1)[len(table.group(1)) + 1:]


def internal_error_handler(request: Request[Any, Any, Any], error: Exception) -> Response[dict[str, Any]]:
    """Last resort. A refusal by our own triggers or constraints that a service did not
    translate still gets its typed answer; text PostgreSQL cannot store is the client's error."""
    translated = translate_database_error(error)
    if translated is not None:
        return ledger_error_handler(request, translated)
    state = sqlstate_of(error)
    if state in _BAD_INPUT_SQLSTATES:
        code, detail = _BAD_INPUT_SQLSTATES[state]
        _log.warning("database refused input on %s %s: %s", request.method, request.url.path, str(error)[:300])
        return problem(request, status=422, code=code, title=code.replace("-", " ").capitalize(),
                       detail=f"{detail}; nothing was written", field=_refused_column(str(error)))
    _log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return problem(request, status=500, code="internal-error", title="Internal error",
                   detail="the request could not be completed; nothing was written")


EXCEPTION_HANDLERS = {
    LedgerError: ledger_error_handler,
    ValidationException: validation_error_handler,
    HTTPException: http_error_handler,
    Exception: internal_error_handler,
}
