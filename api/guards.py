"""The global guard: every route is refused unless it is marked public or the signed-in
user holds the permission it declares (`opt={"permission": "<resource>:<action>"}`).

A route that declares nothing is refused too (403), so a forgotten declaration fails
closed; tests/api/test_permissions.py lists every such route. Self-service routes that a
restricted session (2FA not enrolled yet, temporary password) may use say
`opt={"permission": "account:self", "restricted_ok": True}`.

It runs as the routes' middleware (`permission_middleware`) rather than as a Litestar guard:
Litestar hands each guard a copy of the route handler (`copy.copy` of an object of some
sixty slots, about 12 µs of a posting's CPU), a middleware reads the handler from the scope."""

from __future__ import annotations

import contextlib
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ASGIApp, Receive, Scope, Send

from api.audit_hook import audit_context
from servicing.staff.errors import NotAuthenticated, PermissionDenied
from servicing.staff.sessions import AuthService, Principal

PUBLIC: dict[str, Any] = {"public": True}


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = ""
    for name, value in connection.scope["headers"]:  # raw headers: no parsing on the hot path
        if name == b"authorization":
            header = value.decode("latin-1")
            break
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or len(token) > 200:
        return None
    return token.strip()


async def _refuse(connection: ASGIConnection[Any, Any, Any, Any], error: Exception, reason: str) -> None:
    """Read the body of a refused write, so that the audit log shows what was attempted."""
    audit_context(connection.scope).reason = reason
    if isinstance(connection, Request) and connection.method not in ("GET", "HEAD", "OPTIONS"):
        with contextlib.suppress(Exception):
            await connection.body()
    raise error


async def permission_guard(connection: ASGIConnection[Any, Any, Any, Any], route_handler: BaseRouteHandler) -> None:
    opt = route_handler.opt
    context = audit_context(connection.scope)
    permission = opt.get("permission")
    context.action = permission or ("public" if opt.get("public") else "undeclared")
    context.force = bool(opt.get("audit"))
    if opt.get("public"):
        return
    token = bearer_token(connection)
    auth: AuthService = connection.app.state.auth
    principal = await auth.authenticate(token) if token else None
    if principal is None:
        await _refuse(connection, NotAuthenticated("sign in first: send 'Authorization: Bearer <access token>'"),
                      "no token" if token is None else "unknown, expired or revoked token")
    context.principal = principal
    if not isinstance(permission, str):
        await _refuse(connection, PermissionDenied("this route declares no permission and is refused to everyone"),
                      "route declares no permission")
        return
    if principal.restricted and not opt.get("restricted_ok"):
        what = "enrol two-factor authentication" if principal.totp_pending else "change your temporary password"
        await _refuse(connection, PermissionDenied(f"{what} first (see /api/v1/auth)"), "restricted session")
    if not principal.may(permission):
        await _refuse(connection, PermissionDenied(f"your roles do not grant {permission}"), f"lacks {permission}")


def permission_middleware(app: ASGIApp) -> ASGIApp:
    """`permission_guard` before every route (the route's handler is in the scope by then);
    what it raises becomes the route's problem response as a guard's would."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        await permission_guard(Request(scope, receive, send), scope["route_handler"])
        await app(scope, receive, send)

    return guarded


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    principal = audit_context(connection.scope).principal
    if principal is None:
        raise NotAuthenticated("sign in first")
    return principal
