"""Signing in and out, tokens, one's own password and two-factor enrolment."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post

from api.audit_hook import audit_context
from api.guards import PUBLIC
from api.schemas.problems import PROBLEM_RESPONSES
from api.schemas.staff import (
    MeOut,
    PasswordChangeIn,
    RecoveryCodesOut,
    RefreshIn,
    SessionOut,
    SignInIn,
    TotpConfirmIn,
    TotpEnrolmentOut,
)
from servicing.staff import users
from servicing.staff.errors import SignInFailed
from servicing.staff.sessions import AuthService, Principal, SessionTokens, SignInAttempt
from servicing.unit_of_work import UnitOfWorkFactory

SELF = {"permission": "account:self", "restricted_ok": True}


def _session_out(tokens: SessionTokens) -> SessionOut:
    return SessionOut(token_type="Bearer", access_token=tokens.access_token,
                      access_expires_at=tokens.access_expires_at, refresh_token=tokens.refresh_token,
                      refresh_expires_at=tokens.refresh_expires_at,
                      totp_enrolment_required=tokens.totp_enrolment_required,
                      password_change_required=tokens.password_change_required)


def _client_address(request: Request[Any, Any, Any]) -> str | None:
    return request.client.host if request.client else None


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["Authentication"]  # noqa: RUF012  (Litestar reads a list)

    @post("/sign-in", status_code=200, opt=PUBLIC, responses={**PROBLEM_RESPONSES}, security=[],
          summary="Sign in with a password and, when 2FA is on, a TOTP or recovery code")
    async def sign_in(self, request: Request[Any, Any, Any], data: SignInIn, auth: AuthService) -> SessionOut:
        context = audit_context(request.scope)
        context.claimed_user = data.username[:100]
        auth.check_rate(_client_address(request))
        try:
            tokens = await auth.sign_in(SignInAttempt(
                username=data.username, password=data.password, totp_code=data.totp_code,
                recovery_code=data.recovery_code, client_address=_client_address(request)))
        except SignInFailed as error:
            context.reason = error.reason
            raise
        if data.recovery_code:
            context.extra["second_factor"] = "recovery code"
        return _session_out(tokens)

    @post("/refresh", status_code=200, opt=PUBLIC, responses={**PROBLEM_RESPONSES}, security=[],
          summary="New access and refresh tokens for a refresh token (which stops working)")
    async def refresh(self, data: RefreshIn, auth: AuthService) -> SessionOut:
        return _session_out(await auth.refresh(data.refresh_token))

    @post("/sign-out", status_code=204, opt=SELF, responses=PROBLEM_RESPONSES, summary="End this session")
    async def sign_out(self, principal: Principal, auth: AuthService) -> None:
        await auth.sign_out(principal.session_id)

    @get("/me", opt=SELF, responses=PROBLEM_RESPONSES, summary="Who I am, my office scope and my permissions")
    async def me(self, principal: Principal) -> MeOut:
        return MeOut(user_id=principal.user_id, username=principal.username, office_id=principal.office_id,
                     office_ids=sorted(principal.office_ids), grants=sorted(principal.grants),
                     totp_enrolment_required=principal.totp_pending,
                     password_change_required=principal.must_change_password,
                     access_expires_at=principal.expires_at)

    @post("/password", status_code=204, opt=SELF, responses=PROBLEM_RESPONSES,
          summary="Change my password (my other sessions end)")
    async def change_password(self, data: PasswordChangeIn, principal: Principal, auth: AuthService,
                              uow_factory: UnitOfWorkFactory) -> None:
        await users.change_own_password(uow_factory, auth.hashing, principal.user_id,
                                        current_password=data.current_password, new_password=data.new_password,
                                        keep_session_id=principal.session_id)
        auth.forget(user_id=principal.user_id)

    @post("/totp/enrolment", status_code=201, opt=SELF, responses=PROBLEM_RESPONSES,
          summary="Start two-factor enrolment: a new secret and its otpauth:// URI (QR code)")
    async def begin_enrolment(self, principal: Principal, auth: AuthService,
                              uow_factory: UnitOfWorkFactory) -> TotpEnrolmentOut:
        enrolment = await users.begin_totp_enrolment(uow_factory, principal.user_id,
                                                     issuer=auth.settings.totp_issuer)
        return TotpEnrolmentOut(secret=enrolment.secret, otpauth_uri=enrolment.otpauth_uri)

    @post("/totp/confirmation", status_code=200, opt=SELF, responses=PROBLEM_RESPONSES,
          summary="Turn two-factor authentication on with a first code; returns the recovery codes once")
    async def confirm_enrolment(self, data: TotpConfirmIn, principal: Principal, auth: AuthService,
                                uow_factory: UnitOfWorkFactory) -> RecoveryCodesOut:
        codes = await users.confirm_totp_enrolment(uow_factory, principal.user_id, code=data.code,
                                                   session_id=principal.session_id)
        auth.forget(session_id=principal.session_id)
        return RecoveryCodesOut(recovery_codes=codes)

    @post("/totp/recovery-codes", status_code=200, opt={"permission": "account:self"}, responses=PROBLEM_RESPONSES,
          summary="New recovery codes (the old ones stop working)")
    async def regenerate_codes(self, principal: Principal, uow_factory: UnitOfWorkFactory) -> RecoveryCodesOut:
        return RecoveryCodesOut(recovery_codes=await users.regenerate_recovery_codes(uow_factory, principal.user_id))
