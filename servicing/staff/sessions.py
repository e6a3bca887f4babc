"""Signing in and out, tokens, and who is asking.

Sessions live in the database so that they can be revoked: a short-lived access token
(15 minutes by default) and a refresh token (12 hours) that rotates both at each use.
Only their SHA-256 digests are stored. A session of a user whose role requires 2FA but
who has not enrolled yet is *restricted*: it may only enrol, change its password and sign
out; so is the session of a user who must change a temporary password.

Checking a token costs one indexed query; a process then trusts it for a moment
(`session_cache_seconds`), which keeps the per-request cost of authentication near zero
under load. Signing out, disabling or resetting a user evict the cache at once."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
import uuid
from collections import deque
from datetime import UTC, datetime, timedelta

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from servicing.staff import totp
from servicing.staff.config import StaffSettings
from servicing.staff.errors import SignInFailed, TooManyAttempts
from servicing.staff.passwords import PasswordHashing
from servicing.staff.permissions import allows_cached
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWorkFactory

SESSION_CACHE_ENTRIES_MAX = 10_000


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """The signed-in staff user behind a request."""

    session_id: str
    user_id: int
    username: str
    office_id: int
    office_ids: frozenset[int]
    head_office: bool
    grants: tuple[str, ...]
    totp_pending: bool
    must_change_password: bool
    expires_at: datetime

    @property
    def restricted(self) -> bool:
        """Only self-service until 2FA is enrolled and a temporary password replaced."""
        return self.totp_pending or self.must_change_password

    @property
    def scope(self) -> OfficeScope:
        return OfficeScope(office_id=self.office_id, office_ids=self.office_ids, whole_institution=self.head_office)

    def may(self, permission: str) -> bool:
        return allows_cached(self.grants, permission)


class SessionTokens(msgspec.Struct, frozen=True, kw_only=True):
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    totp_enrolment_required: bool
    password_change_required: bool


class SignInAttempt(msgspec.Struct, frozen=True, kw_only=True):
    username: str
    password: str
    totp_code: str | None = None
    recovery_code: str | None = None
    client_address: str | None = None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_PRINCIPAL = text(
    """
    SELECT s.id::text AS session_id, s.user_id, s.totp_pending, s.access_expires_at, u.username, u.office_id,
           u.must_change_password, (SELECT h.parent_id IS NULL FROM office h WHERE h.id = u.office_id) AS head_office,
           (SELECT array_agg(o.id) FROM office o WHERE u.office_id = ANY(o.lineage)) AS office_ids,
           (SELECT array_agg(DISTINCT g) FROM staff_role r, unnest(r.grants) g WHERE r.name = ANY(u.roles)) AS grants
      FROM staff_session s JOIN staff_user u ON u.id = s.user_id
     WHERE s.access_digest = :digest AND s.revoked_at IS NULL AND s.access_expires_at > now()
       AND u.status = 'active'
    """
)


class AuthService:
    def __init__(self, uow_factory: UnitOfWorkFactory, settings: StaffSettings, hashing: PasswordHashing) -> None:
        self._uow_factory = uow_factory
        self.settings = settings
        self.hashing = hashing
        self._cache: dict[str, tuple[Principal, float]] = {}
        self._attempts: dict[str, deque[float]] = {}

    def check_rate(self, client_address: str | None) -> None:
        """At most `sign_in_attempts_per_minute` sign-ins per client address and process."""
        clock = time.monotonic()
        if len(self._attempts) >= SESSION_CACHE_ENTRIES_MAX:
            self._attempts.clear()
        attempts = self._attempts.setdefault(client_address or "?", deque())
        while attempts and attempts[0] <= clock - 60:
            attempts.popleft()
        if len(attempts) >= self.settings.sign_in_attempts_per_minute:
            raise TooManyAttempts("too many sign-in attempts from this address; wait a minute")
        attempts.append(clock)

    async def authenticate(self, access_token: str) -> Principal | None:
        """The principal of a valid access token, else None."""
        token_digest = digest(access_token)
        cached = self._cache.get(token_digest)
        clock = time.monotonic()
        if cached is not None:
            if cached[1] > clock and cached[0].expires_at > datetime.now(UTC):
                return cached[0]
            del self._cache[token_digest]
        async with self._uow_factory() as uow:
            row = (await uow.session.execute(_PRINCIPAL, {"digest": token_digest})).one_or_none()
        if row is None:
            return None
        principal = Principal(
            session_id=row.session_id, user_id=row.user_id, username=row.username, office_id=row.office_id,
            office_ids=frozenset(row.office_ids or ()), head_office=bool(row.head_office), grants=tuple(row.grants or ()),
            totp_pending=row.totp_pending, must_change_password=row.must_change_password,
            expires_at=row.access_expires_at,
        )
        if self.settings.session_cache_seconds > 0:
            if len(self._cache) >= SESSION_CACHE_ENTRIES_MAX:
                self._cache.clear()
            self._cache[token_digest] = (principal, clock + self.settings.session_cache_seconds)
        return principal

    def forget(self, *, user_id: int | None = None, session_id: str | None = None) -> None:
        """Evict cached principals of a user or a session (after sign-out, disable, reset)."""
        for key, (principal, _until) in list(self._cache.items()):
            if principal.user_id == user_id or principal.session_id == session_id:
                self._cache.pop(key, None)

    def forget_all(self) -> None:
        """After a role change: every cached principal may hold stale grants."""
        self._cache.clear()

    async def sign_in(self, attempt: SignInAttempt, *, now: datetime | None = None) -> SessionTokens:
        """Password, then a TOTP or recovery code when 2FA is on. Every failure counts towards
        the lockout and raises SignInFailed (same message; the reason is for the audit log)."""
        now = now or datetime.now(UTC)
        async with self._uow_factory() as uow:
            session = uow.session
            row = (await session.execute(text(
                """
                SELECT u.id, u.username, u.password_hash, u.status, u.failed_attempts, u.locked_until,
                       u.totp_enabled, u.totp_secret, u.totp_last_step, u.must_change_password,
                       coalesce((SELECT bool_or(r.totp_required) FROM staff_role r WHERE r.name = ANY(u.roles)),
                                false) AS totp_required
                  FROM staff_user u WHERE u.username = :username FOR UPDATE
                """), {"username": attempt.username.strip().lower()})).one_or_none()
            password_ok = await asyncio.to_thread(
                self.hashing.verify, row.password_hash if row is not None else None, attempt.password)
            failure = _refusal(row, password_ok, now)
            totp_step: int | None = None
            if failure is None and row.totp_enabled:
                failure, totp_step = await _second_factor(session, row, attempt, now)
            if failure is not None:
                if row is not None and failure not in ("disabled", "locked"):
                    await self._count_failure(session, row.id, row.failed_attempts + 1, now)
                    await uow.commit()
                raise SignInFailed(failure)
            totp_pending = bool(row.totp_required and not row.totp_enabled)
            tokens, session_row = self._new_tokens(now, totp_pending=totp_pending,
                                                   must_change_password=row.must_change_password)
            await session.execute(text(
                "UPDATE staff_user SET failed_attempts = 0, locked_until = NULL, "
                "totp_last_step = coalesce(:step, totp_last_step) WHERE id = :id"), {"id": row.id, "step": totp_step})
            if self.hashing.needs_rehash(row.password_hash):
                new_hash = await asyncio.to_thread(self.hashing.hash, attempt.password)
                await session.execute(text("UPDATE staff_user SET password_hash = :h WHERE id = :id"),
                                      {"id": row.id, "h": new_hash})
            await session.execute(text(
                "INSERT INTO staff_session (id, user_id, access_digest, access_expires_at, refresh_digest, "
                "refresh_expires_at, totp_pending, client_address) VALUES (:id, :user_id, :access, :access_until, "
                ":refresh, :refresh_until, :pending, :address)"),
                {**session_row, "user_id": row.id, "pending": totp_pending, "address": attempt.client_address})
            await uow.commit()
        return tokens

    async def open_session(self, user_id: int, *, totp_satisfied: bool) -> SessionTokens:
        """A session without a password check: for the CLI and the test fixtures only."""
        now = datetime.now(UTC)
        tokens, session_row = self._new_tokens(now, totp_pending=not totp_satisfied, must_change_password=False)
        async with self._uow_factory() as uow:
            await uow.session.execute(text(
                "INSERT INTO staff_session (id, user_id, access_digest, access_expires_at, refresh_digest, "
                "refresh_expires_at, totp_pending) VALUES (:id, :user_id, :access, :access_until, :refresh, "
                ":refresh_until, :pending)"), {**session_row, "user_id": user_id, "pending": not totp_satisfied})
            await uow.commit()
        return tokens

    async def refresh(self, refresh_token: str) -> SessionTokens:
        """New access and refresh tokens; the old ones stop working."""
        now = datetime.now(UTC)
        async with self._uow_factory() as uow:
            row = (await uow.session.execute(text(
                "SELECT s.id, s.totp_pending, u.must_change_password FROM staff_session s "
                "JOIN staff_user u ON u.id = s.user_id WHERE s.refresh_digest = :digest AND s.revoked_at IS NULL "
                "AND s.refresh_expires_at > now() AND u.status = 'active' FOR UPDATE OF s"),
                {"digest": digest(refresh_token)})).one_or_none()
            if row is None:
                raise SignInFailed("unknown, expired or revoked refresh token")
            tokens, session_row = self._new_tokens(now, totp_pending=row.totp_pending,
                                                   must_change_password=row.must_change_password)
            await uow.session.execute(text(
                "UPDATE staff_session SET access_digest = :access, access_expires_at = :access_until, "
                "refresh_digest = :refresh, refresh_expires_at = :refresh_until WHERE id = :old_id"),
                {**session_row, "old_id": row.id})
            await uow.commit()
        self.forget(session_id=str(row.id))
        return tokens

    async def sign_out(self, session_id: str) -> None:
        async with self._uow_factory() as uow:
            await uow.session.execute(text(
                "UPDATE staff_session SET revoked_at = now(), revoked_reason = 'signed out' "
                "WHERE id = CAST(:id AS uuid) AND revoked_at IS NULL"), {"id": session_id})
            await uow.commit()
        self.forget(session_id=session_id)

    def _new_tokens(self, now: datetime, *, totp_pending: bool,
                    must_change_password: bool) -> tuple[SessionTokens, dict[str, object]]:
        access = "gla_" + secrets.token_urlsafe(32)
        refresh = "glr_" + secrets.token_urlsafe(32)
        access_until = now + timedelta(minutes=self.settings.access_token_minutes)
        refresh_until = now + timedelta(hours=self.settings.refresh_token_hours)
        tokens = SessionTokens(access_token=access, access_expires_at=access_until, refresh_token=refresh,
                               refresh_expires_at=refresh_until, totp_enrolment_required=totp_pending,
                               password_change_required=must_change_password)
        return tokens, {"id": uuid.uuid4(), "access": digest(access), "access_until": access_until,
                        "refresh": digest(refresh), "refresh_until": refresh_until}

    async def _count_failure(self, session: AsyncSession, user_id: int, failures: int, now: datetime) -> None:
        if failures >= self.settings.failed_sign_ins_max:
            await session.execute(text(
                "UPDATE staff_user SET failed_attempts = 0, locked_until = :until WHERE id = :id"),
                {"id": user_id, "until": now + timedelta(minutes=self.settings.lockout_minutes)})
        else:
            await session.execute(text("UPDATE staff_user SET failed_attempts = :n WHERE id = :id"),
                                  {"id": user_id, "n": failures})


def _refusal(row: object | None, password_ok: bool, now: datetime) -> str | None:
    if row is None:
        return "unknown user"
    if row.status != "active":  # type: ignore[attr-defined]
        return "disabled"
    if row.locked_until is not None and row.locked_until > now:  # type: ignore[attr-defined]
        return "locked"
    if not password_ok:
        return "wrong password"
    return None


async def _second_factor(session: AsyncSession, row: object, attempt: SignInAttempt,
                         now: datetime) -> tuple[str | None, int | None]:
    user_id: int = row.id  # type: ignore[attr-defined]
    if attempt.totp_code:
        step = totp.accepted_step(row.totp_secret, attempt.totp_code.strip(), now=now,  # type: ignore[attr-defined]
                                  last_step=row.totp_last_step)  # type: ignore[attr-defined]
        return (None, step) if step is not None else ("wrong or replayed TOTP code", None)
    if attempt.recovery_code:
        used = await session.scalar(text(
            "UPDATE staff_recovery_code SET used_at = now() WHERE user_id = :id AND code_digest = :digest "
            "AND used_at IS NULL RETURNING 1"), {"id": user_id, "digest": totp.recovery_digest(attempt.recovery_code)})
        return (None, None) if used else ("wrong or already used recovery code", None)
    return "two-factor code missing", None
