"""Staff users: create, change, disable, reset; own password; two-factor enrolment."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from servicing.errors import Conflict, InvalidInput, NotFound
from servicing.staff import totp
from servicing.staff.errors import PermissionDenied
from servicing.staff.passwords import PasswordHashing, PasswordRejected, check_policy
from servicing.staff.permissions import within
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWorkFactory

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._@-]{1,99}$"


class StaffUser(msgspec.Struct, frozen=True, kw_only=True):
    user_id: int
    username: str
    display_name: str
    office_id: int
    roles: list[str]
    status: str
    totp_enabled: bool
    totp_required: bool
    must_change_password: bool
    locked_until: datetime | None
    created_at: datetime
    created_by: str


class CreateStaffUser(msgspec.Struct, frozen=True, kw_only=True):
    username: str
    display_name: str
    office_id: int
    roles: tuple[str, ...]
    password: str
    actor: str
    must_change_password: bool = True


class UpdateStaffUser(msgspec.Struct, frozen=True, kw_only=True):
    user_id: int
    actor: str
    display_name: str | None = None
    office_id: int | None = None
    roles: tuple[str, ...] | None = None


class TotpEnrolment(msgspec.Struct, frozen=True, kw_only=True):
    secret: str
    otpauth_uri: str


_USER_COLUMNS = """
    u.id AS user_id, u.username, u.display_name, u.office_id, u.roles, u.status, u.totp_enabled,
    u.must_change_password, u.locked_until, u.created_at, u.created_by,
    coalesce((SELECT bool_or(r.totp_required) FROM staff_role r WHERE r.name = ANY(u.roles)), false) AS totp_required
"""


def _user(row: object) -> StaffUser:
    return StaffUser(**{field: getattr(row, field) for field in StaffUser.__struct_fields__})


async def _load(session: AsyncSession, user_id: int, *, lock: bool = False) -> StaffUser:
    row = (await session.execute(
        text(f"SELECT {_USER_COLUMNS} FROM staff_user u WHERE u.id = :id" + (" FOR UPDATE OF u" if lock else "")),
        {"id": user_id})).one_or_none()
    if row is None:
        raise NotFound(f"unknown user {user_id}", field="user_id")
    return _user(row)


async def _check_roles(session: AsyncSession, roles: tuple[str, ...], granter_grants: tuple[str, ...] | None) -> None:
    """Known roles, and none that would give more than the granter holds (None: the CLI)."""
    if not roles:
        raise InvalidInput("a user has at least one role", field="roles")
    known = set((await session.scalars(text("SELECT name FROM staff_role WHERE name = ANY(:names)"),
                                       {"names": list(roles)})).all())
    unknown = [role for role in roles if role not in known]
    if unknown:
        raise InvalidInput(f"unknown roles: {', '.join(unknown)}", field="roles")
    if granter_grants is not None:
        grants = (await session.scalars(text("SELECT unnest(grants) FROM staff_role WHERE name = ANY(:names)"),
                                        {"names": list(roles)})).all()
        if not within(grants, granter_grants):
            raise PermissionDenied("these roles give permissions you do not hold", field="roles")


async def _check_office(session: AsyncSession, office_id: int, scope: OfficeScope | None) -> None:
    if scope is not None:
        scope.require(office_id)
    if await session.scalar(text("SELECT 1 FROM office WHERE id = :id"), {"id": office_id}) is None:
        raise NotFound(f"unknown office {office_id}", field="office_id")


def _policy(password: str, username: str, field: str) -> None:
    try:
        check_policy(password, username=username)
    except PasswordRejected as error:
        raise InvalidInput(str(error), field=field) from error


async def create_user(uow_factory: UnitOfWorkFactory, hashing: PasswordHashing, command: CreateStaffUser,
                      scope: OfficeScope | None = None, granter_grants: tuple[str, ...] | None = None) -> StaffUser:
    """A new active user; they choose their own password at first sign-in unless told otherwise."""
    _policy(command.password, command.username, "password")
    password_hash = await asyncio.to_thread(hashing.hash, command.password)
    async with uow_factory() as uow:
        session = uow.session
        await _check_office(session, command.office_id, scope)
        await _check_roles(session, command.roles, granter_grants)
        if await session.scalar(text("SELECT 1 FROM staff_user WHERE username = :u"), {"u": command.username}):
            raise Conflict(f"user name {command.username!r} is taken", field="username")
        user_id = await session.scalar(text(
            "INSERT INTO staff_user (username, display_name, office_id, roles, password_hash, must_change_password, "
            "created_by) VALUES (:username, :display_name, :office_id, :roles, :hash, :must_change, :actor) RETURNING id"),
            {"username": command.username, "display_name": command.display_name, "office_id": command.office_id,
             "roles": list(command.roles), "hash": password_hash, "must_change": command.must_change_password,
             "actor": command.actor})
        assert user_id is not None
        user = await _load(session, user_id)
        await uow.commit()
    return user


async def list_users(uow_factory: UnitOfWorkFactory, scope: OfficeScope) -> list[StaffUser]:
    async with uow_factory() as uow:
        rows = (await uow.session.execute(
            text(f"SELECT {_USER_COLUMNS} FROM staff_user u WHERE {scope.sql_condition('u.office_id')} ORDER BY u.id"),
            {"scope_office_id": scope.office_id})).all()
    return [_user(row) for row in rows]


async def get_user(uow_factory: UnitOfWorkFactory, user_id: int, scope: OfficeScope | None = None) -> StaffUser:
    async with uow_factory() as uow:
        user = await _load(uow.session, user_id)
    if scope is not None and not scope.includes(user.office_id):
        raise NotFound(f"unknown user {user_id}", field="user_id")
    return user


async def _revoke_sessions(session: AsyncSession, user_id: int, reason: str) -> None:
    await session.execute(text("UPDATE staff_session SET revoked_at = now(), revoked_reason = :reason "
                               "WHERE user_id = :id AND revoked_at IS NULL"), {"id": user_id, "reason": reason})


async def update_user(uow_factory: UnitOfWorkFactory, command: UpdateStaffUser, scope: OfficeScope | None = None,
                      granter_grants: tuple[str, ...] | None = None) -> tuple[StaffUser, StaffUser]:
    """(before, after). Changing roles or office ends the user's sessions: they sign in again."""
    async with uow_factory() as uow:
        session = uow.session
        before = await _load(session, command.user_id, lock=True)
        if scope is not None and not scope.includes(before.office_id):
            raise NotFound(f"unknown user {command.user_id}", field="user_id")
        if command.office_id is not None:
            await _check_office(session, command.office_id, scope)
        if command.roles is not None:
            await _check_roles(session, command.roles, granter_grants)
        await session.execute(text(
            "UPDATE staff_user SET display_name = coalesce(:name, display_name), office_id = coalesce(:office, office_id), "
            "roles = coalesce(CAST(:roles AS text[]), roles), updated_at = now() WHERE id = :id"),
            {"id": command.user_id, "name": command.display_name, "office": command.office_id,
             "roles": list(command.roles) if command.roles is not None else None})
        if command.roles is not None or command.office_id is not None:
            await _revoke_sessions(session, command.user_id, "roles or office changed")
        after = await _load(session, command.user_id)
        await uow.commit()
    return before, after


async def set_status(uow_factory: UnitOfWorkFactory, user_id: int, *, active: bool, actor_user_id: int,
                     scope: OfficeScope | None = None) -> tuple[StaffUser, StaffUser]:
    """Disable (sessions end at once) or enable a user. Nobody disables themselves."""
    if not active and user_id == actor_user_id:
        raise PermissionDenied("you cannot disable your own account", field="user_id")
    async with uow_factory() as uow:
        session = uow.session
        before = await _load(session, user_id, lock=True)
        if scope is not None and not scope.includes(before.office_id):
            raise NotFound(f"unknown user {user_id}", field="user_id")
        await session.execute(text(
            "UPDATE staff_user SET status = :status, failed_attempts = 0, locked_until = NULL, updated_at = now() "
            "WHERE id = :id"), {"id": user_id, "status": "active" if active else "disabled"})
        if not active:
            await _revoke_sessions(session, user_id, "user disabled")
        after = await _load(session, user_id)
        await uow.commit()
    return before, after


async def reset_user(uow_factory: UnitOfWorkFactory, hashing: PasswordHashing, user_id: int, *,
                     temporary_password: str, reset_totp: bool, scope: OfficeScope | None = None) -> StaffUser:
    """A forgotten password or a lost phone: a temporary password to change at next sign-in,
    the lock lifted, sessions ended, and (optionally) two-factor enrolment to redo."""
    async with uow_factory() as uow:
        session = uow.session
        user = await _load(session, user_id, lock=True)
        if scope is not None and not scope.includes(user.office_id):
            raise NotFound(f"unknown user {user_id}", field="user_id")
        _policy(temporary_password, user.username, "temporary_password")
        await session.execute(text(
            "UPDATE staff_user SET password_hash = :hash, password_changed_at = now(), must_change_password = true, "
            "failed_attempts = 0, locked_until = NULL, updated_at = now() WHERE id = :id"),
            {"id": user_id, "hash": await asyncio.to_thread(hashing.hash, temporary_password)})
        if reset_totp:
            await session.execute(text("UPDATE staff_user SET totp_enabled = false, totp_secret = NULL, "
                                       "totp_last_step = NULL WHERE id = :id"), {"id": user_id})
            await session.execute(text("DELETE FROM staff_recovery_code WHERE user_id = :id"), {"id": user_id})
        await _revoke_sessions(session, user_id, "reset by an administrator")
        user = await _load(session, user_id)
        await uow.commit()
    return user


async def change_own_password(uow_factory: UnitOfWorkFactory, hashing: PasswordHashing, user_id: int, *,
                              current_password: str, new_password: str, keep_session_id: str | None) -> None:
    """Other sessions end: whoever knew the old password is signed out."""
    async with uow_factory() as uow:
        session = uow.session
        row = (await session.execute(text("SELECT username, password_hash FROM staff_user WHERE id = :id FOR UPDATE"),
                                     {"id": user_id})).one()
        if not await asyncio.to_thread(hashing.verify, row.password_hash, current_password):
            raise InvalidInput("the current password is wrong", field="current_password")
        _policy(new_password, row.username, "new_password")
        if await asyncio.to_thread(hashing.verify, row.password_hash, new_password):
            raise InvalidInput("choose a password different from the current one", field="new_password")
        await session.execute(text(
            "UPDATE staff_user SET password_hash = :hash, password_changed_at = now(), must_change_password = false, "
            "updated_at = now() WHERE id = :id"), {"id": user_id, "hash": await asyncio.to_thread(hashing.hash, new_password)})
        await session.execute(text(
            "UPDATE staff_session SET revoked_at = now(), revoked_reason = 'password changed' "
            "WHERE user_id = :id AND revoked_at IS NULL AND id::text IS DISTINCT FROM :keep"),
            {"id": user_id, "keep": keep_session_id})
        await uow.commit()


async def begin_totp_enrolment(uow_factory: UnitOfWorkFactory, user_id: int, *, issuer: str) -> TotpEnrolment:
    """A new secret, not active until a code from it is confirmed. Refused when 2FA is on:
    an administrator resets it first (a stolen session must not move 2FA to another phone)."""
    async with uow_factory() as uow:
        session = uow.session
        row = (await session.execute(text("SELECT username, totp_enabled FROM staff_user WHERE id = :id FOR UPDATE"),
                                     {"id": user_id})).one()
        if row.totp_enabled:
            raise Conflict("two-factor authentication is already on; ask an administrator to reset it", field="totp")
        secret = totp.new_secret()
        await session.execute(text("UPDATE staff_user SET totp_secret = :secret, updated_at = now() WHERE id = :id"),
                              {"id": user_id, "secret": secret})
        await uow.commit()
    return TotpEnrolment(secret=secret, otpauth_uri=totp.provisioning_uri(secret, username=row.username, issuer=issuer))


async def confirm_totp_enrolment(uow_factory: UnitOfWorkFactory, user_id: int, *, code: str, session_id: str,
                                 now: datetime | None = None) -> list[str]:
    """Turn 2FA on with a first good code; returns the recovery codes (shown once). The
    session that enrolled becomes a full session."""
    now = now or datetime.now(UTC)
    async with uow_factory() as uow:
        session = uow.session
        row = (await session.execute(text(
            "SELECT totp_secret, totp_enabled, totp_last_step FROM staff_user WHERE id = :id FOR UPDATE"),
            {"id": user_id})).one()
        if row.totp_enabled:
            raise Conflict("two-factor authentication is already on", field="totp")
        if row.totp_secret is None:
            raise Conflict("start the enrolment first", field="totp")
        step = totp.accepted_step(row.totp_secret, code, now=now, last_step=row.totp_last_step)
        if step is None:
            raise InvalidInput("this code is not valid now", field="code")
        codes = await _store_recovery_codes(session, user_id)
        await session.execute(text(
            "UPDATE staff_user SET totp_enabled = true, totp_last_step = :step, updated_at = now() WHERE id = :id"),
            {"id": user_id, "step": step})
        await session.execute(text("UPDATE staff_session SET totp_pending = false WHERE id = CAST(:sid AS uuid)"),
                              {"sid": session_id})
        await uow.commit()
    return codes


async def _store_recovery_codes(session: AsyncSession, user_id: int) -> list[str]:
    codes = totp.new_recovery_codes()
    await session.execute(text("DELETE FROM staff_recovery_code WHERE user_id = :id"), {"id": user_id})
    await session.execute(text(
        "INSERT INTO staff_recovery_code (user_id, code_digest) SELECT :id, unnest(CAST(:digests AS text[]))"),
        {"id": user_id, "digests": [totp.recovery_digest(code) for code in codes]})
    return codes


async def regenerate_recovery_codes(uow_factory: UnitOfWorkFactory, user_id: int) -> list[str]:
    async with uow_factory() as uow:
        enabled = await uow.session.scalar(text("SELECT totp_enabled FROM staff_user WHERE id = :id FOR UPDATE"),
                                           {"id": user_id})
        if not enabled:
            raise Conflict("turn two-factor authentication on first", field="totp")
        codes = await _store_recovery_codes(uow.session, user_id)
        await uow.commit()
    return codes
