"""Every error leaves as RFC 9457 problem details (application/problem+json), naming the
field at fault where there is one. Domain errors carry their status; validation errors of
the request body or parameters keep Litestar's 400; anything unexpected is a logged 500
that reveals nothing."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from ledger.errors import LedgerError

_log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


def problem(
    request: Request[Any, Any, Any], *, status: int, code: str, title: str, detail: str,
    field: str | None = None, errors: list[dict[str, str]] | None = None,
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
    headers = {"WWW-Authenticate": 'Bearer realm="grandlivre"'} if status == 401 else None
    return Response(content=body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def ledger_error_handler(request: Request[Any, Any, Any], error: LedgerError) -> Response[dict[str, Any]]:
    errors = getattr(error, "problems", None)  # ChartRejected, ProductRejected...: every problem at once
    if errors is None and error.field is not None:
        errors = [{"field": error.field, "message": error.message}]
    title = error.code.replace("-", " ").capitalize()
    return problem(request, status=error.status_hint, code=error.code, title=title, detail=error.message,
                   field=error.field, errors=errors)


def validation_error_handler(request: Request[Any, Any, Any], error: ValidationException) -> Response[dict[str, Any]]:
    errors: list[dict[str, str]] = []
    for item in error.extra if isinstance(error.extra, list) else []:
        if isinstance(item, dict):
            field = str(item.get("key") or item.get("source") or "body")
            errors.append({"field": field, "message": str(item.get("message", ""))})
    detail = error.detail or "invalid request"
    if errors:
        detail = f"{errors[0]['field']}: {errors[0]['message']}"
    return problem(request, status=400, code="invalid-request", title="Invalid request", detail=detail,
                   field=errors[0]["field"] if errors else None, errors=errors)


def http_error_handler(request: Request[Any, Any, Any], error: HTTPException) -> Response[dict[str, Any]]:
    status = error.status_code
    if status >= 500:
        _log.error("server error on %s %s", request.method, request.url.path, exc_info=error)
    code = {401: "not-authenticated", 403: "permission-denied", 404: "not-found", 405: "method-not-allowed",
            413: "payload-too-large", 429: "too-many-requests"}.get(status, "http-error")
    return problem(request, status=status, code=code, title=code.replace("-", " ").capitalize(),
                   detail=str(error.detail))


def internal_error_handler(request: Request[Any, Any, Any], error: Exception) -> Response[dict[str, Any]]:
    _log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return problem(request, status=500, code="internal-error", title="Internal error",
                   detail="the request could not be completed; nothing was written")


EXCEPTION_HANDLERS = {
    LedgerError: ledger_error_handler,
    ValidationException: validation_error_handler,
    HTTPException: http_error_handler,
    Exception: internal_error_handler,
}
