"""Recording every command in the audit log, from Litestar's `before_send` hook, which sees
every response: handled, refused by the guard (401/403), invalid (4xx), failed (5xx) and
unrouted (404/405).

Audited: every request that is not a read (POST, PUT, PATCH, DELETE), every refused one
whatever its method, and reads that a route marks `opt={"audit": True}` (the audit log's
own). The record holds who (user, office), from where (client address), what (method,
path, permission, the request body with secrets redacted), the outcome, and the answer of
a successful command (its "after"); handlers may add a "before" through `audit_context`.
The response completes only once its record is committed, so an answered command is
always in the log (the writer groups concurrent records into one INSERT)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from servicing.staff.audit_chain import AuditRecord
from servicing.staff.sessions import Principal

_log = logging.getLogger(__name__)

_raw_decoder = msgspec.json.Decoder(msgspec.Raw)
CONTEXT_KEY: Final = "grandlivre.audit"
BODY_BYTES_MAX: Final = 16_384
"""Bodies larger than this are summarized (size, type), not copied into the log."""
READ_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
SECRET_KEYS: Final = frozenset({
    "password", "current_password", "new_password", "temporary_password", "totp_code", "recovery_code",
    "recovery_codes", "secret", "otpauth_uri", "access_token", "refresh_token", "token",
})
AUTH_SECRET_KEYS: Final = SECRET_KEYS | {"code"}
"""On the authentication routes `code` is a TOTP code; elsewhere it is an account or office code."""
_QUOTED_KEYS: Final = {keys: tuple(f'"{key}"'.encode() for key in keys) for keys in (SECRET_KEYS, AUTH_SECRET_KEYS)}
"""Each secret key as it appears in JSON, encoded once rather than on every request."""
SECURITY_HEADERS: Final = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
API_ONLY_HEADERS: Final = (
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
)


@dataclass
class AuditContext:
    """What the guard and the handlers know about the request, for its audit record."""

    principal: Principal | None = None
    action: str = "unrouted"
    claimed_user: str | None = None
    reason: str | None = None
    before: Any = None
    force: bool = False
    status: int = 0
    record_pending: bool = False
    response_chunks: list[bytes] = field(default_factory=list)
    response_bytes: int = 0
    response_json: bool = False
    keep_body: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def audit_context(scope: Any) -> AuditContext:
    state = scope.setdefault("state", {})
    context = state.get(CONTEXT_KEY)
    if context is None:
        context = state[CONTEXT_KEY] = AuditContext()
    return context  # type: ignore[no-any-return]


def outcome_of(status: int) -> str:
    if status < 400:
        return "succeeded"
    if status in (401, 403):
        return "refused"
    return "rejected" if status < 500 else "failed"


def redact(value: Any, secret_keys: frozenset[str] = SECRET_KEYS) -> Any:
    if isinstance(value, dict):
        return {k: ("<redacted>" if k in secret_keys else redact(v, secret_keys)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, secret_keys) for v in value]
    return value


def _json_or_summary(body: bytes, content_type: str, secret_keys: frozenset[str]) -> Any:
    """The body as JSON (redacted), or its size and type. A body naming no secret key is
    kept as it came (validated, not rebuilt): the common case costs one scan."""
    if not body:
        return None
    if len(body) > BODY_BYTES_MAX or "json" not in content_type:
        return {"bytes": len(body), "content_type": content_type[:100]}
    try:
        quoted = _QUOTED_KEYS.get(secret_keys) or tuple(f'"{key}"'.encode() for key in secret_keys)
        if not any(key in body for key in quoted):
            return _raw_decoder.decode(body)
        return redact(msgspec.json.decode(body), secret_keys)
    except msgspec.DecodeError:
        return {"bytes": len(body), "content_type": content_type[:100], "malformed": True}


def _header(scope: Any, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def build_record(scope: Any, context: AuditContext, response_body: bytes | None) -> AuditRecord:
    from litestar.utils.empty import value_or_default
    from litestar.utils.scope.state import ScopeState

    request_body = value_or_default(ScopeState.from_scope(scope).body, b"")
    detail: dict[str, Any] = {}
    if scope.get("query_string"):
        detail["query"] = scope["query_string"].decode("latin-1")[:1000]
    secret_keys = AUTH_SECRET_KEYS if str(scope.get("path", "")).startswith("/api/v1/auth/") else SECRET_KEYS
    request_json = _json_or_summary(request_body, _header(scope, b"content-type"), secret_keys)
    if request_json is not None:
        detail["request"] = request_json
    if context.before is not None:
        detail["before"] = redact(context.before)
    if response_body is not None:
        answer = _json_or_summary(response_body, "application/json", secret_keys)
        detail["after" if context.status < 400 else "problem"] = answer
    if context.reason:
        detail["reason"] = context.reason
    if context.extra:
        detail.update(redact(context.extra))
    principal = context.principal
    client = scope.get("client")
    return AuditRecord(
        occurred_at=datetime.now(UTC), actor=(principal.username if principal else context.claimed_user or "anonymous"),
        user_id=principal.user_id if principal else None, office_id=principal.office_id if principal else None,
        client_address=str(client[0])[:64] if client else None, method=str(scope.get("method", ""))[:10],
        path=str(scope.get("path", ""))[:500], action=context.action[:100], status=context.status,
        outcome=outcome_of(context.status), detail=msgspec.json.encode(detail).decode(),
    )


async def _write(scope: Any, context: AuditContext, response_body: bytes | None) -> None:
    writer = scope["litestar_app"].state.get("audit_writer")
    if writer is None:
        return
    try:
        await writer.record(build_record(scope, context, response_body))
    except Exception:  # an answer already decided goes out; the failure is loud in the logs
        _log.exception("could not write the audit record of %s %s", scope.get("method"), scope.get("path"))


async def before_send(message: Any, scope: Any) -> None:
    if scope.get("type") != "http":
        return
    if message["type"] == "http.response.start":
        path = str(scope.get("path", ""))
        extra = SECURITY_HEADERS + (API_ONLY_HEADERS if path.startswith("/api/") else ())
        message["headers"] = [*message.get("headers", ()), *extra]
        context = audit_context(scope)
        context.status = int(message["status"])
        method = scope.get("method", "")
        if not (method not in READ_METHODS or context.status in (401, 403) or context.force):
            return
        content_type = b""
        for key, value in message["headers"]:
            if key.lower() == b"content-type":
                content_type = value
        context.response_json = b"json" in content_type
        # Written at the first body message, not here: a stream that fails before its first
        # chunk is answered with another head (a 500), and the record must say what was sent.
        # The head leaves with that first body message anyway (api.asgi), so nothing waits longer.
        context.record_pending = True
        context.keep_body = context.response_json and method not in READ_METHODS
        return
    if message["type"] == "http.response.body":
        context = audit_context(scope)
        if not context.record_pending:
            return
        if not context.keep_body:
            context.record_pending = False
            await _write(scope, context, None)
            return
        chunk = message.get("body", b"")
        context.response_bytes += len(chunk)
        if context.response_bytes <= BODY_BYTES_MAX:
            context.response_chunks.append(chunk)
        if not message.get("more_body", False):
            context.record_pending = False
            body = b"".join(context.response_chunks) if context.response_bytes <= BODY_BYTES_MAX else None
            await _write(scope, context, body)
