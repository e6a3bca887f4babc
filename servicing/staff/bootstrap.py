"""The first administrator (from the command line) and the demo's users.

Both go through the same service functions as the API, and both are recorded in the
audit log with the actor `cli`."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Final

import msgspec
from sqlalchemy import text

from servicing import offices
from servicing.commands import CreateOffice
from servicing.errors import NotFound
from servicing.staff import totp, users
from servicing.staff.audit import APPEND_RETRIES_MAX, ChainMoved, append_records
from servicing.staff.audit_chain import AuditRecord
from servicing.staff.passwords import PasswordHashing
from servicing.staff.permissions import DEFAULT_ROLES
from servicing.unit_of_work import UnitOfWorkFactory

CLI_ACTOR: Final = "cli"


class DemoCredential(msgspec.Struct, frozen=True, kw_only=True):
    role: str
    username: str
    password: str
    office_code: str
    totp_secret: str
    otpauth_uri: str


async def record_cli_action(uow_factory: UnitOfWorkFactory, action: str, detail: dict[str, object]) -> None:
    record = AuditRecord(
        occurred_at=datetime.now(UTC), actor=CLI_ACTOR, user_id=None, office_id=None, client_address=None,
        method="CLI", path=f"grandlivre {action}", action=action, status=0, outcome="succeeded",
        detail=msgspec.json.encode(detail).decode())
    for _attempt in range(APPEND_RETRIES_MAX):
        with contextlib.suppress(ChainMoved):
            async with uow_factory() as uow:
                await append_records(uow.session, [record])
                await uow.commit()
            return
    raise RuntimeError("the audit log kept moving; run the command again")


async def office_id_for(uow_factory: UnitOfWorkFactory, office_code: str | None) -> int:
    """The office with this code, or the head office (created as SIEGE when there is none)."""
    async with uow_factory() as uow:
        if office_code is not None:
            found = await uow.session.scalar(text("SELECT id FROM office WHERE code = :c"), {"c": office_code})
            if found is None:
                raise NotFound(f"unknown office {office_code!r}", field="office")
            return int(found)
        head = await uow.session.scalar(text("SELECT id FROM office WHERE parent_id IS NULL"))
    if head is not None:
        return int(head)
    created = await offices.create_office(uow_factory(), CreateOffice(
        code="SIEGE", name="Siège", opened_on=date.today(), actor=CLI_ACTOR))
    return created.office_id


async def create_admin(uow_factory: UnitOfWorkFactory, hashing: PasswordHashing, *, username: str, password: str,
                       display_name: str, office_code: str | None) -> users.StaffUser:
    """An administrator who enrols 2FA at first sign-in (their session is restricted until then)."""
    office_id = await office_id_for(uow_factory, office_code)
    user = await users.create_user(uow_factory, hashing, users.CreateStaffUser(
        username=username, display_name=display_name, office_id=office_id, roles=("administrator",),
        password=password, actor=CLI_ACTOR, must_change_password=False))
    await record_cli_action(uow_factory, "create-admin", {"username": username, "office_id": office_id,
                                                          "user_id": user.user_id})
    return user


DEMO_BRANCH_ROLES: Final = frozenset({"teller", "loan_officer", "branch_manager"})


def demo_password(role: str) -> str:
    """Demo only: a fixed, printed password per role."""
    return f"Demo-{role.replace('_', '-')}-2026"


async def ensure_demo_users(uow_factory: UnitOfWorkFactory, hashing: PasswordHashing,
                            office_ids: dict[str, int]) -> list[DemoCredential]:
    """One user per default role, already enrolled in 2FA (demo only: secrets are printed)."""
    credentials: list[DemoCredential] = []
    for role in DEFAULT_ROLES:
        username = f"demo.{role.name.replace('_', '-')}"
        office_code = "AG-THIES" if role.name in DEMO_BRANCH_ROLES else "SIEGE"
        async with uow_factory() as uow:
            row = (await uow.session.execute(text("SELECT id, totp_secret FROM staff_user WHERE username = :u"),
                                             {"u": username})).one_or_none()
        if row is None:
            user = await users.create_user(uow_factory, hashing, users.CreateStaffUser(
                username=username, display_name=f"Démo {role.label}", office_id=office_ids[office_code],
                roles=(role.name,), password=demo_password(role.name), actor=CLI_ACTOR, must_change_password=False))
            secret = totp.new_secret()
            async with uow_factory() as uow:
                await uow.session.execute(text(
                    "UPDATE staff_user SET totp_secret = :s, totp_enabled = true WHERE id = :id"),
                    {"s": secret, "id": user.user_id})
                await uow.commit()
            await record_cli_action(uow_factory, "demo-user", {"username": username, "role": role.name})
        else:
            secret = row.totp_secret
        credentials.append(DemoCredential(
            role=role.name, username=username, password=demo_password(role.name), office_code=office_code,
            totp_secret=secret, otpauth_uri=totp.provisioning_uri(secret, username=username, issuer="Grand Livre demo")))
    return credentials


async def enable_demo_approval_rule(uow_factory: UnitOfWorkFactory) -> None:
    """The demo turns maker-checker on for manual entries above 5,000,000 XOF."""
    async with uow_factory() as uow:
        await uow.session.execute(text(
            "UPDATE approval_rule SET enabled = true, updated_at = now(), updated_by = :actor "
            "WHERE command = 'journal-entry.post' AND NOT enabled"), {"actor": CLI_ACTOR})
        await uow.commit()


def format_credentials(credentials: Sequence[DemoCredential]) -> list[str]:
    lines = ["", "DEMO ONLY - staff users (password, then the TOTP code of the secret in an authenticator app):",
             f"{'role':<17} {'user':<22} {'password':<28} {'office':<9} TOTP secret"]
    lines += [f"{c.role:<17} {c.username:<22} {c.password:<28} {c.office_code:<9} {c.totp_secret}" for c in credentials]
    lines.append("Never use these accounts outside the demo: create real users with `grandlivre create-admin`.")
    return lines
