"""The permission matrix over every route of the application: each declares a permission
(or is explicitly public), anonymous requests are refused with 401, requests lacking the
route's permission with 403, and neither writes anything."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.routes import HTTPRoute
from sqlalchemy import text

from servicing.staff import roles
from servicing.staff.permissions import CATALOGUE, SELF_SERVICE

GENERATED = {"options_handler"}
"""Litestar's automatic OPTIONS answers: no data, refused like the rest without a token."""
PUBLIC_PATHS = {"/health", "/api/v1/auth/sign-in", "/api/v1/auth/refresh"}
SAMPLE = {"uuid": "01a20845-0000-7000-8000-000000000000", "int": "1", "str": "x", "path": "x"}


def routes(app: Any) -> list[tuple[str, str, Any]]:
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for method, (handler, _model) in route.route_handler_map.items():
            found.append((route.path, method, handler))
    return sorted(found, key=lambda item: (item[0], item[1]))


def concrete(path: str) -> str:
    return re.sub(r"\{[^:}]+:([a-z]+)\}", lambda m: SAMPLE[m.group(1)], path)


def protected(app: Any) -> list[tuple[str, str, str]]:
    """(path, method, permission) of every declared, non-public route."""
    return [(path, method, handler.opt["permission"]) for path, method, handler in routes(app)
            if handler.handler_name not in GENERATED and not handler.opt.get("public")]


async def row_counts(admin_engine: Any) -> dict[str, int]:
    """Rows of every table but the audit log (which records the refusals) and sessions."""
    async with admin_engine.connect() as connection:
        tables = (await connection.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT IN "
            "('audit_log', 'staff_session', 'alembic_version')"))).scalars().all()
        counts = {}
        for table in tables:
            counts[table] = (await connection.execute(text(f'SELECT count(*) FROM "{table}"'))).scalar_one()
    return counts


async def test_every_route_declares_a_catalogued_permission_or_is_public(client) -> None:  # type: ignore[no-untyped-def]
    undeclared = []
    uncatalogued = []
    public = []
    for path, method, handler in routes(client.app):
        if handler.handler_name in GENERATED:
            continue
        if handler.opt.get("public"):
            public.append(path)
            continue
        permission = handler.opt.get("permission")
        if not isinstance(permission, str):
            undeclared.append(f"{method} {path} ({handler.handler_name})")
        elif permission not in CATALOGUE:
            uncatalogued.append(f"{method} {path}: {permission}")
    assert not undeclared, "routes without opt={'permission': ...}:\n" + "\n".join(undeclared)
    assert not uncatalogued, ("permissions missing from servicing/staff/permissions.py CATALOGUE:\n"
                              + "\n".join(uncatalogued))
    assert {p for p in public if not p.startswith("/schema")} == PUBLIC_PATHS, public


async def test_the_openapi_schema_names_the_bearer_scheme(anonymous) -> None:  # type: ignore[no-untyped-def]
    schema = (await anonymous.get("/schema/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["BearerToken"]["scheme"] == "bearer"
    assert (await anonymous.get("/health")).status_code == 200


async def test_anonymous_requests_are_refused_everywhere_and_write_nothing(client, anonymous, admin_engine) -> None:  # type: ignore[no-untyped-def]
    before = await row_counts(admin_engine)
    answered = []
    for path, method, handler in routes(client.app):
        if handler.opt.get("public"):
            continue
        response = await anonymous.request(method, concrete(path), json={})
        if response.status_code != 401:
            answered.append(f"{method} {path}: {response.status_code}")
        else:
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.headers["www-authenticate"].startswith("Bearer")
    assert not answered, "answered without authentication:\n" + "\n".join(answered)
    for header in ("Bearer", "Bearer gla_forged", "Basic dGVsbGVyOnNlY3JldA==", "gla_no_scheme"):
        response = await anonymous.post("/api/v1/journal-entries", json={}, headers={"Authorization": header})
        assert response.status_code == 401, header
    assert await row_counts(admin_engine) == before


@pytest.fixture(scope="module")
async def lacking(client, uow_factory, staff_user) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """For each permission routes declare, a user holding every other permission."""
    users = {}
    for permission in sorted({p for _path, _method, p in protected(client.app)} - {SELF_SERVICE}):
        name = "allbut-" + permission.replace(":", "-")
        others = tuple(p for p in CATALOGUE if p != permission)
        await roles.put_role(uow_factory, roles.PutRole(name=name, label=name, grants=others, actor="tests"))
        users[permission] = await staff_user(name)
    return users


async def test_requests_lacking_the_route_permission_are_refused_and_write_nothing(  # type: ignore[no-untyped-def]
    client, lacking, admin_engine,
) -> None:
    before = await row_counts(admin_engine)
    answered = []
    for path, method, permission in protected(client.app):
        if permission == SELF_SERVICE:
            continue
        response = await client.request(method, concrete(path), json={}, headers=lacking[permission].headers)
        if response.status_code != 403 or response.json()["type"] != "urn:grandlivre:problem:permission-denied":
            answered.append(f"{method} {path} without {permission}: {response.status_code}")
    assert not answered, "\n".join(answered)
    assert await row_counts(admin_engine) == before


async def test_self_service_routes_are_the_account_routes_only(client) -> None:  # type: ignore[no-untyped-def]
    own = {path for path, _method, p in protected(client.app) if p == SELF_SERVICE}
    assert own and all(path.startswith("/api/v1/auth/") for path in own), own


async def test_a_user_without_roles_reaching_every_route_gets_403(client, uow_factory, staff_user, admin_engine) -> None:  # type: ignore[no-untyped-def]
    await roles.put_role(uow_factory, roles.PutRole(name="nobody", label="Personne", grants=(), actor="tests"))
    nobody = await staff_user("nobody")
    before = await row_counts(admin_engine)
    for path, method, permission in protected(client.app):
        if permission == SELF_SERVICE:
            continue
        response = await client.request(method, concrete(path), json={}, headers=nobody.headers)
        assert response.status_code == 403, (method, path, response.status_code)
    assert await row_counts(admin_engine) == before
