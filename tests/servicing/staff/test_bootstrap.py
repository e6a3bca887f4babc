"""The first administrator and the demo users, created outside the API and audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from servicing.errors import Conflict, InvalidInput
from servicing.staff import bootstrap, totp
from servicing.staff.audit import search, verify_chain
from servicing.staff.permissions import DEFAULT_ROLES
from servicing.staff.scope import OfficeScope


async def test_create_admin_in_the_head_office_and_audited(uow_factory, hashing, head_office) -> None:  # type: ignore[no-untyped-def]
    admin = await bootstrap.create_admin(uow_factory, hashing, username="premier.admin",
                                         password="une phrase de passe solide", display_name="Premier", office_code=None)
    assert admin.roles == ["administrator"] and admin.office_id == head_office.office_id
    assert admin.totp_required and not admin.totp_enabled, "they enrol at first sign-in"
    with pytest.raises(Conflict):
        await bootstrap.create_admin(uow_factory, hashing, username="premier.admin",
                                     password="une autre phrase solide", display_name="x", office_code=None)
    with pytest.raises(InvalidInput):
        await bootstrap.create_admin(uow_factory, hashing, username="second.admin", password="court",
                                     display_name="x", office_code=None)
    rows = await search(uow_factory, _filter(actor="cli"), OfficeScope(office_id=head_office.office_id,
                        office_ids=frozenset({head_office.office_id})), limit=5)
    assert any(r.action == "create-admin" and '"premier.admin"' in r.detail for r in rows)
    assert (await verify_chain(uow_factory)).ok


async def test_demo_users_sign_in_with_the_printed_credentials(uow_factory, hashing, head_office, world, client,  # type: ignore[no-untyped-def]
                                                              anonymous) -> None:
    offices = {"SIEGE": head_office.office_id, "AG-THIES": world.office_id}
    credentials = await bootstrap.ensure_demo_users(uow_factory, hashing, offices)
    assert sorted(c.role for c in credentials) == sorted(r.name for r in DEFAULT_ROLES)
    again = await bootstrap.ensure_demo_users(uow_factory, hashing, offices)
    assert [c.totp_secret for c in again] == [c.totp_secret for c in credentials], "a rerun prints the same"
    teller = next(c for c in credentials if c.role == "teller")
    code = totp.code_at(teller.totp_secret, datetime.now(UTC) + timedelta(seconds=30))
    signed_in = await anonymous.post("/api/v1/auth/sign-in", json={
        "username": teller.username, "password": teller.password, "totp_code": code})
    assert signed_in.status_code == 200, signed_in.text
    assert any("DEMO ONLY" in line for line in bootstrap.format_credentials(credentials))


def _filter(**values: object):  # type: ignore[no-untyped-def]
    from servicing.staff.audit import AuditFilter

    return AuditFilter(**values)  # type: ignore[arg-type]
