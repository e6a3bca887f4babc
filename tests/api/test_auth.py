"""Sign-in flows: first sign-in (temporary password, 2FA enrolment), good and bad
passwords and codes, replays, lockout, disabled users, expired, refreshed and revoked
tokens, recovery codes, and office scope."""

from __future__ import annotations

import itertools
import os
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from servicing.staff import totp
from servicing.staff.config import StaffSettings
from servicing.staff.errors import TooManyAttempts
from servicing.staff.sessions import AuthService

_numbers = itertools.count(1)
TEMPORARY = "temporaire-Thies-2026"
CHOSEN = "mon baobab secret 2026"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def code_for(secret: str, steps_ahead: int = 0) -> str:
    return totp.code_at(secret, datetime.now(UTC) + timedelta(seconds=30 * steps_ahead))


async def new_user(client, office_id: int, *roles: str) -> str:  # type: ignore[no-untyped-def]
    username = f"agent{os.getpid() % 1000}.{next(_numbers)}"
    created = await client.post("/api/v1/users", json={
        "username": username, "display_name": "Agent", "office_id": office_id, "roles": list(roles),
        "password": TEMPORARY})
    assert created.status_code == 201, created.text
    assert created.json()["must_change_password"] is True
    return username


async def sign_in(anonymous, username: str, password: str, **codes: str):  # type: ignore[no-untyped-def]
    return await anonymous.post("/api/v1/auth/sign-in", json={"username": username, "password": password, **codes})


async def enrolled(client, anonymous, office_id: int, *roles: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A user through the whole first sign-in: temporary password, new password, 2FA."""
    username = await new_user(client, office_id, *roles)
    first = await sign_in(anonymous, username, TEMPORARY)
    assert first.status_code == 200, first.text
    token = first.json()["access_token"]
    changed = await anonymous.post("/api/v1/auth/password", headers=bearer(token),
                                   json={"current_password": TEMPORARY, "new_password": CHOSEN})
    assert changed.status_code == 204, changed.text
    secret = (await anonymous.post("/api/v1/auth/totp/enrolment", headers=bearer(token))).json()["secret"]
    confirmed = await anonymous.post("/api/v1/auth/totp/confirmation", headers=bearer(token),
                                     json={"code": code_for(secret)})
    assert confirmed.status_code == 200, confirmed.text
    return username, secret


async def test_first_sign_in_is_restricted_until_password_and_2fa(client, anonymous, world) -> None:  # type: ignore[no-untyped-def]
    username = await new_user(client, world.office_id, "teller")
    first = await sign_in(anonymous, username, TEMPORARY)
    assert first.status_code == 200
    session = first.json()
    assert session["password_change_required"] and session["totp_enrolment_required"]
    token = session["access_token"]
    refused = await anonymous.get("/api/v1/journal-entries", headers=bearer(token))
    assert refused.status_code == 403 and "two-factor" in refused.json()["detail"]
    me = (await anonymous.get("/api/v1/auth/me", headers=bearer(token))).json()
    assert me["username"] == username and me["office_id"] == world.office_id
    weak = await anonymous.post("/api/v1/auth/password", headers=bearer(token),
                                json={"current_password": TEMPORARY, "new_password": "court"})
    assert weak.status_code == 422 and weak.json()["field"] == "new_password"
    assert (await anonymous.post("/api/v1/auth/password", headers=bearer(token), json={
        "current_password": TEMPORARY, "new_password": CHOSEN})).status_code == 204
    enrolment = (await anonymous.post("/api/v1/auth/totp/enrolment", headers=bearer(token))).json()
    assert enrolment["otpauth_uri"].startswith("otpauth://totp/") and enrolment["secret"] in enrolment["otpauth_uri"]
    wrong = await anonymous.post("/api/v1/auth/totp/confirmation", headers=bearer(token), json={"code": "000000"})
    assert wrong.status_code == 422
    confirmed = await anonymous.post("/api/v1/auth/totp/confirmation", headers=bearer(token),
                                     json={"code": code_for(enrolment["secret"])})
    assert len(confirmed.json()["recovery_codes"]) == totp.RECOVERY_CODES_PER_USER
    listed = await anonymous.get("/api/v1/journal-entries", headers=bearer(token))
    assert listed.status_code == 200, listed.text
    again = await anonymous.post("/api/v1/auth/totp/enrolment", headers=bearer(token))
    assert again.status_code == 409, "a stolen session cannot move 2FA to another phone"


async def test_sign_in_needs_password_and_a_fresh_code(client, anonymous, world) -> None:  # type: ignore[no-untyped-def]
    username, secret = await enrolled(client, anonymous, world.office_id, "teller")
    assert (await sign_in(anonymous, username, CHOSEN)).status_code == 401, "no code"
    assert (await sign_in(anonymous, username, CHOSEN, totp_code="000000")).status_code == 401
    replayed = await sign_in(anonymous, username, CHOSEN, totp_code=code_for(secret))
    assert replayed.status_code == 401, "the enrolment's code was already used"
    wrong_password = await sign_in(anonymous, username, "pas le bon mot de passe", totp_code=code_for(secret, 1))
    assert wrong_password.status_code == 401
    problem = wrong_password.json()
    assert problem["type"] == "urn:grandlivre:problem:sign-in-failed" and "password" not in problem.get("field", "")
    code = code_for(secret, 1)  # one code, used twice (computing it again could cross a 30 s step)
    good = await sign_in(anonymous, username.upper(), CHOSEN, totp_code=code)
    assert good.status_code == 200, good.text
    assert not good.json()["totp_enrolment_required"]
    same_code = await sign_in(anonymous, username, CHOSEN, totp_code=code)
    assert same_code.status_code == 401, "a code signs in once"
    unknown = await sign_in(anonymous, "personne.inconnue", CHOSEN, totp_code="123456")
    assert unknown.status_code == 401 and unknown.json()["detail"] == problem["detail"], "no user enumeration"


async def test_lockout_after_repeated_failures_then_reset(client, anonymous, world, admin_engine) -> None:  # type: ignore[no-untyped-def]
    username, secret = await enrolled(client, anonymous, world.office_id, "teller")
    for _ in range(5):
        assert (await sign_in(anonymous, username, "mauvais mot de passe")).status_code == 401
    locked = await sign_in(anonymous, username, CHOSEN, totp_code=code_for(secret, 1))
    assert locked.status_code == 401
    users = (await client.get("/api/v1/users")).json()
    user = next(u for u in users if u["username"] == username)
    assert user["locked_until"] is not None
    audit = (await client.get("/api/v1/audit-log", params={"actor": username, "path_prefix": "/api/v1/auth/sign-in"})).json()
    reasons = [row["detail"].get("reason") for row in audit["items"]]
    assert reasons[0] == "locked" and reasons.count("wrong password") == 5
    assert all(row["detail"]["request"]["password"] == "<redacted>" for row in audit["items"])
    enabled = await client.post(f"/api/v1/users/{user['user_id']}/enable")
    assert enabled.status_code == 200 and enabled.json()["locked_until"] is None
    assert (await sign_in(anonymous, username, CHOSEN, totp_code=code_for(secret, 1))).status_code == 200


async def test_recovery_codes_sign_in_once(client, anonymous, world) -> None:  # type: ignore[no-untyped-def]
    username = await new_user(client, world.office_id, "accountant")
    token = (await sign_in(anonymous, username, TEMPORARY)).json()["access_token"]
    await anonymous.post("/api/v1/auth/password", headers=bearer(token),
                         json={"current_password": TEMPORARY, "new_password": CHOSEN})
    secret = (await anonymous.post("/api/v1/auth/totp/enrolment", headers=bearer(token))).json()["secret"]
    codes = (await anonymous.post("/api/v1/auth/totp/confirmation", headers=bearer(token),
                                  json={"code": code_for(secret)})).json()["recovery_codes"]
    assert (await sign_in(anonymous, username, CHOSEN, recovery_code=codes[0])).status_code == 200
    assert (await sign_in(anonymous, username, CHOSEN, recovery_code=codes[0])).status_code == 401
    assert (await sign_in(anonymous, username, CHOSEN, recovery_code="AAAAAAAAAAAA")).status_code == 401
    fresh = await sign_in(anonymous, username, CHOSEN, recovery_code=codes[1])
    renewed = await anonymous.post("/api/v1/auth/totp/recovery-codes", headers=bearer(fresh.json()["access_token"]))
    assert renewed.status_code == 200
    assert (await sign_in(anonymous, username, CHOSEN, recovery_code=codes[2])).status_code == 401, "old codes end"
    assert (await sign_in(anonymous, username, CHOSEN,
                          recovery_code=renewed.json()["recovery_codes"][0])).status_code == 200


async def test_tokens_expire_refresh_and_revoke(client, anonymous, world, admin_engine) -> None:  # type: ignore[no-untyped-def]
    username, secret = await enrolled(client, anonymous, world.office_id, "teller")
    session = (await sign_in(anonymous, username, CHOSEN, totp_code=code_for(secret, 1))).json()
    token = session["access_token"]
    assert (await anonymous.get("/api/v1/auth/me", headers=bearer(token))).status_code == 200
    async with admin_engine.begin() as connection:
        await connection.execute(text(
            "UPDATE staff_session SET access_expires_at = now() - interval '1 second' "
            "WHERE user_id = (SELECT id FROM staff_user WHERE username = :u)"), {"u": username})
    expired = await anonymous.get("/api/v1/auth/me", headers=bearer(token))
    assert expired.status_code == 401
    refreshed = await anonymous.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert refreshed.status_code == 200
    new_token = refreshed.json()["access_token"]
    assert (await anonymous.get("/api/v1/auth/me", headers=bearer(new_token))).status_code == 200
    reused = await anonymous.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert reused.status_code == 401, "a refresh token works once"
    assert (await anonymous.post("/api/v1/auth/sign-out", headers=bearer(new_token))).status_code == 204
    assert (await anonymous.get("/api/v1/auth/me", headers=bearer(new_token))).status_code == 401
    assert (await anonymous.post("/api/v1/auth/refresh", json={
        "refresh_token": refreshed.json()["refresh_token"]})).status_code == 401, "signing out ends the refresh too"


async def test_disabling_a_user_ends_their_sessions(client, anonymous, world) -> None:  # type: ignore[no-untyped-def]
    username, secret = await enrolled(client, anonymous, world.office_id, "teller")
    token = (await sign_in(anonymous, username, CHOSEN, totp_code=code_for(secret, 1))).json()["access_token"]
    user_id = (await anonymous.get("/api/v1/auth/me", headers=bearer(token))).json()["user_id"]
    disabled = await client.post(f"/api/v1/users/{user_id}/disable")
    assert disabled.status_code == 200 and disabled.json()["status"] == "disabled"
    assert (await anonymous.get("/api/v1/auth/me", headers=bearer(token))).status_code == 401
    assert (await sign_in(anonymous, username, CHOSEN, totp_code=code_for(secret, -1))).status_code == 401
    me = (await client.get("/api/v1/auth/me")).json()
    assert (await client.post(f"/api/v1/users/{me['user_id']}/disable")).status_code == 403, "not oneself"


async def test_reset_gives_a_temporary_password_and_new_enrolment(client, anonymous, world) -> None:  # type: ignore[no-untyped-def]
    username, _secret = await enrolled(client, anonymous, world.office_id, "teller")
    users = (await client.get("/api/v1/users")).json()
    user_id = next(u["user_id"] for u in users if u["username"] == username)
    reset = await client.post(f"/api/v1/users/{user_id}/reset",
                              json={"temporary_password": "nouveau-temporaire-42", "reset_totp": True})
    assert reset.status_code == 200 and reset.json()["totp_enabled"] is False
    session = (await sign_in(anonymous, username, "nouveau-temporaire-42")).json()
    assert session["password_change_required"] and session["totp_enrolment_required"]


async def test_nobody_hands_out_more_than_they_hold(client, anonymous, world, uow_factory, staff_user) -> None:  # type: ignore[no-untyped-def]
    from servicing.staff import roles

    await roles.put_role(uow_factory, roles.PutRole(name="hr", label="RH", grants=("users:*",), actor="tests"))
    hr = await staff_user("hr")
    escalation = await client.post("/api/v1/users", headers=hr.headers, json={
        "username": f"pirate{next(_numbers)}", "display_name": "x", "office_id": world.office_id,
        "roles": ["administrator"], "password": TEMPORARY})
    assert escalation.status_code == 403 and escalation.json()["field"] == "roles"
    bad_role = await client.put("/api/v1/roles/caissier-chef", json={"label": "x", "grants": ["journal:fly"]})
    assert bad_role.status_code == 422 and bad_role.json()["field"] == "grants"


async def test_users_see_their_office_and_its_branches_only(client, world, staff_user) -> None:  # type: ignore[no-untyped-def]
    from tests.api.test_journal_api import body

    other = await client.post("/api/v1/offices", json={
        "code": f"{world.prefix}-B2", "name": "Autre agence", "parent_id": world.head_office_id,
        "opened_on": "2026-01-01"})
    assert other.status_code == 201, other.text
    other_id = other.json()["id"] if "id" in other.json() else other.json()["office_id"]
    posted = (await client.post("/api/v1/journal-entries", json=body(world, "700"))).json()
    accountant = await staff_user("accountant", office_id=other_id)
    assert (await client.get(f"/api/v1/journal-entries/{posted['id']}", headers=accountant.headers)).status_code == 404
    listing = await client.get("/api/v1/journal-entries", params={"office_id": world.office_id},
                               headers=accountant.headers)
    assert listing.status_code == 403 and listing.json()["field"] == "office_id"
    own = (await client.get("/api/v1/journal-entries", headers=accountant.headers)).json()
    assert all(item["office_id"] == other_id for item in own["items"])
    into_other = await client.post("/api/v1/journal-entries", json=body(world, "5"), headers=accountant.headers)
    assert into_other.status_code == 403
    trial = await client.get("/api/v1/reports/trial-balance", params={"office_id": world.office_id},
                             headers=accountant.headers)
    assert trial.status_code == 403
    offices = (await client.get("/api/v1/offices", headers=accountant.headers)).json()
    assert [o["code"] for o in offices] == [f"{world.prefix}-B2"]
    reversal = await client.post(f"/api/v1/journal-entries/{posted['id']}/reversal", json={},
                                 headers=accountant.headers)
    assert reversal.status_code == 404
    mine = await client.get(f"/api/v1/journal-entries/{posted['id']}")
    assert mine.status_code == 200, "the head office sees every branch"


async def test_sign_in_rate_limit_per_address(uow_factory, hashing) -> None:  # type: ignore[no-untyped-def]
    auth = AuthService(uow_factory, StaffSettings(sign_in_attempts_per_minute=3), hashing)
    for _ in range(3):
        auth.check_rate("10.1.2.3")
    with pytest.raises(TooManyAttempts):
        auth.check_rate("10.1.2.3")
    auth.check_rate("10.9.9.9")


async def test_the_session_cache_is_evicted_on_sign_out(uow_factory, hashing, staff_user) -> None:  # type: ignore[no-untyped-def]
    auth = AuthService(uow_factory, StaffSettings(session_cache_seconds=60), hashing)
    login = await staff_user("teller")
    principal = await auth.authenticate(login.token)
    assert principal is not None and principal.username == login.username
    await auth.sign_out(principal.session_id)
    assert await auth.authenticate(login.token) is None
