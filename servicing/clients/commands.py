"""Commands of the client and KYC services: typed values, each with the actor who asks."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import msgspec

from servicing.clients.kyc_rules import DocumentType, KycRequirement, VerificationStatus
from servicing.clients.model import ClientProfile, ClientStatus, ClientType, Gender, Representative

_U = msgspec.UnsetType
_UNSET = msgspec.UNSET


class CreateClient(msgspec.Struct, frozen=True, kw_only=True):
    profile: ClientProfile
    actor: str
    allow_duplicate: bool = False
    """Create even when a client with the same name and birth date exists (if the policy allows)."""


class ProfileChanges(msgspec.Struct, frozen=True, kw_only=True):
    """Fields to change; UNSET keeps the current value, None clears an optional one."""

    office_id: int | _U = _UNSET
    loan_officer: str | _U | None = _UNSET
    region: str | _U | None = _UNSET
    phone: str | _U | None = _UNSET
    email: str | _U | None = _UNSET
    address: str | _U | None = _UNSET
    city: str | _U | None = _UNSET
    first_name: str | _U | None = _UNSET
    middle_name: str | _U | None = _UNSET
    last_name: str | _U | None = _UNSET
    birth_date: date | _U | None = _UNSET
    gender: Gender | _U | None = _UNSET
    national_id: str | _U | None = _UNSET
    occupation: str | _U | None = _UNSET
    income_monthly: Decimal | _U | None = _UNSET
    income_currency: str | _U | None = _UNSET
    legal_name: str | _U | None = _UNSET
    trade_name: str | _U | None = _UNSET
    registration_number: str | _U | None = _UNSET
    tax_number: str | _U | None = _UNSET
    sector: str | _U | None = _UNSET
    founded_on: date | _U | None = _UNSET
    representatives: tuple[Representative, ...] | _U = _UNSET
    group_name: str | _U | None = _UNSET
    member_ids: tuple[int, ...] | _U = _UNSET
    leader_id: int | _U | None = _UNSET

    def apply_to(self, profile: ClientProfile) -> ClientProfile:
        changes = {f: getattr(self, f) for f in self.__struct_fields__ if getattr(self, f) is not _UNSET}
        return msgspec.structs.replace(profile, **changes)


class UpdateClient(msgspec.Struct, frozen=True, kw_only=True):
    client_id: int
    changes: ProfileChanges
    actor: str
    allow_duplicate: bool = False
    expected_version: int | None = None
    """When given, the update is refused if someone changed the client since it was read."""


class AddGroupMember(msgspec.Struct, frozen=True, kw_only=True):
    group_id: int
    member_id: int
    actor: str
    leader: bool = False
    expected_version: int | None = None


class RemoveGroupMember(msgspec.Struct, frozen=True, kw_only=True):
    group_id: int
    member_id: int
    actor: str
    expected_version: int | None = None


class SetGroupLeader(msgspec.Struct, frozen=True, kw_only=True):
    group_id: int
    leader_id: int
    actor: str
    expected_version: int | None = None


class ChangeClientStatus(msgspec.Struct, frozen=True, kw_only=True):
    client_id: int
    status: ClientStatus
    actor: str
    reason: str | None = None
    effective_on: date | None = None


class ClientFilter(msgspec.Struct, frozen=True, kw_only=True):
    office_id: int | None = None
    """Clients of this office and of all its branches."""
    status: ClientStatus | None = None
    client_type: ClientType | None = None
    loan_officer: str | None = None
    region: str | None = None
    name: str | None = None
    national_id: str | None = None
    phone: str | None = None


class RecordDocument(msgspec.Struct, frozen=True, kw_only=True):
    client_id: int
    document_type: DocumentType
    actor: str
    number: str | None = None
    issuing_authority: str | None = None
    issued_on: date | None = None
    expires_on: date | None = None


class AttachFile(msgspec.Struct, frozen=True, kw_only=True):
    client_id: int
    document_id: int
    file_name: str
    declared_content_type: str
    content: bytes
    actor: str


class VerifyDocument(msgspec.Struct, frozen=True, kw_only=True):
    client_id: int
    document_id: int
    status: VerificationStatus
    actor: str
    comment: str | None = None


class SetKycRequirement(msgspec.Struct, frozen=True, kw_only=True):
    requirement: KycRequirement
    actor: str
