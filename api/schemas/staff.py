"""Wire types of authentication, users, roles, approvals and the audit log."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

from servicing.staff.passwords import PASSWORD_LENGTH_MAX
from servicing.staff.users import USERNAME_PATTERN

NO_CONTROL = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=PASSWORD_LENGTH_MAX, pattern=r"^[^\x00]+$")]
DisplayName = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=NO_CONTROL)]
Username = Annotated[str, msgspec.Meta(min_length=2, max_length=100, pattern=USERNAME_PATTERN)]
RoleName = Annotated[str, msgspec.Meta(min_length=1, max_length=50, pattern=r"^[a-z][a-z0-9_-]*$")]
Code = Annotated[str, msgspec.Meta(min_length=6, max_length=32, pattern=r"^[0-9A-Za-z -]+$")]
Grant = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=r"^[a-z*][a-z0-9_*-]*(:[a-z*][a-z0-9_*-]*)?$")]


class SignInIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=NO_CONTROL)]
    password: Password
    totp_code: Code | None = None
    recovery_code: Code | None = None


class RefreshIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]


class SessionOut(msgspec.Struct, kw_only=True):
    token_type: str
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    totp_enrolment_required: bool
    password_change_required: bool


class MeOut(msgspec.Struct, kw_only=True):
    user_id: int
    username: str
    office_id: int
    office_ids: list[int]
    grants: list[str]
    totp_enrolment_required: bool
    password_change_required: bool
    access_expires_at: datetime


class PasswordChangeIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    current_password: Password
    new_password: Password


class TotpEnrolmentOut(msgspec.Struct, kw_only=True):
    secret: str
    otpauth_uri: str
    """Show it as a QR code, or type the secret into the authenticator app."""


class TotpConfirmIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6}$")]


class RecoveryCodesOut(msgspec.Struct, kw_only=True):
    recovery_codes: list[str]
    """Shown once: each signs in once instead of a TOTP code."""


class UserIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    username: Username
    display_name: DisplayName
    office_id: Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
    roles: Annotated[list[RoleName], msgspec.Meta(min_length=1, max_length=20)]
    password: Password
    """Temporary: the user chooses their own at first sign-in."""


class UserPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    display_name: DisplayName | None = None
    office_id: Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)] | None = None
    roles: Annotated[list[RoleName], msgspec.Meta(min_length=1, max_length=20)] | None = None


class UserResetIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    temporary_password: Password
    reset_totp: bool = False


class UserOut(msgspec.Struct, kw_only=True):
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


class RoleIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    label: Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=NO_CONTROL)]
    grants: Annotated[list[Grant], msgspec.Meta(max_length=200)]
    totp_required: bool | None = None


class RoleOut(msgspec.Struct, kw_only=True):
    name: str
    label: str
    grants: list[str]
    totp_required: bool
    builtin: bool
    updated_at: datetime
    updated_by: str


class PermissionOut(msgspec.Struct, kw_only=True):
    permission: str
    description: str


class ApprovalRuleIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    enabled: bool
    amount_threshold: Decimal | None = None
    currency: Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$")] | None = None
    checker_permission: Annotated[str, msgspec.Meta(min_length=3, max_length=100, pattern=r"^[a-z_-]+:[a-z_-]+$")] = (
        "approvals:decide")

    def __post_init__(self) -> None:
        if self.amount_threshold is not None and not (0 <= self.amount_threshold < Decimal("1e18")):
            raise ValueError("amount_threshold must be between 0 and 1e18")


class ApprovalRuleOut(msgspec.Struct, kw_only=True):
    command: str
    enabled: bool
    amount_threshold: Decimal | None
    currency: str | None
    checker_permission: str
    updated_at: datetime | None
    updated_by: str | None


class DecisionIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=500, pattern=NO_CONTROL)] | None = None


class PendingCommandOut(msgspec.Struct, kw_only=True):
    approval_id: UUID
    command: str
    summary: str
    payload: Any
    amount: Decimal | None
    currency: str | None
    office_id: int | None
    maker: str
    created_at: datetime
    status: Literal["pending", "rejected", "executed", "failed"]
    checker: str | None
    decided_at: datetime | None
    reason: str | None
    result: Any

    @classmethod
    def from_pending(cls, pending: Any) -> PendingCommandOut:
        values = msgspec.structs.asdict(pending)
        values["payload"] = msgspec.json.decode(pending.payload)
        values["result"] = msgspec.json.decode(pending.result) if pending.result is not None else None
        return cls(**values)


class AuditRowOut(msgspec.Struct, kw_only=True):
    sequence: int
    occurred_at: datetime
    actor: str
    user_id: int | None
    office_id: int | None
    client_address: str | None
    method: str
    path: str
    action: str
    status: int
    outcome: str
    detail: Any
    previous_hash: str
    row_hash: str


class AuditPageOut(msgspec.Struct, kw_only=True):
    items: list[AuditRowOut]
    next_before_sequence: int | None
