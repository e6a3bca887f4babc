"""Clients, their identity documents and KYC on the wire.

A new client is one of three kinds, told apart by `kind` (a tagged union): `individual`,
`business` or `group`. Amounts are decimal strings; dates ISO 8601. Every string has a
length and refuses control characters (PostgreSQL cannot store a NUL)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec

from api.schemas.common import CurrencyCode, Id, check_date
from api.schemas.staff import NO_CONTROL
from ledger.money import normalize_amount
from servicing.clients.commands import ProfileChanges
from servicing.clients.documents import Document, FileInfo
from servicing.clients.kyc_rules import DocumentType, KycReport, KycRequirement
from servicing.clients.model import (
    ADDRESS_LENGTH_MAX,
    LEGAL_NAME_LENGTH_MAX,
    MEMBERS_PER_GROUP_MAX,
    NAME_LENGTH_MAX,
    NATIONAL_ID_LENGTH_MAX,
    PHONE_LENGTH_MAX,
    REASON_LENGTH_MAX,
    REPRESENTATIVES_MAX,
    ClientProfile,
    ClientStatus,
    ClientType,
    Gender,
    Representative,
)
from servicing.clients.repository import ClientRecord
from servicing.clients.service import HistoryItem

_U = msgspec.UnsetType
_UNSET = msgspec.UNSET


PersonName = Annotated[str, msgspec.Meta(min_length=1, max_length=NAME_LENGTH_MAX, pattern=NO_CONTROL)]
LegalName = Annotated[str, msgspec.Meta(min_length=1, max_length=LEGAL_NAME_LENGTH_MAX, pattern=NO_CONTROL)]
Text100 = Annotated[str, msgspec.Meta(max_length=100, pattern=NO_CONTROL)]
Text200 = Annotated[str, msgspec.Meta(max_length=200, pattern=NO_CONTROL)]
Role = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=NO_CONTROL,
                                   description="gérant, directeur, mandataire...")]
IdentityNumber = Annotated[str, msgspec.Meta(min_length=1, max_length=NATIONAL_ID_LENGTH_MAX, pattern=NO_CONTROL,
                                             description="Compared without case, spaces, dots or dashes")]
Phone = Annotated[str, msgspec.Meta(max_length=PHONE_LENGTH_MAX, pattern=NO_CONTROL,
                                    description="Digits, spaces, '+', '(', ')', '.', '-'; 6 to 15 digits")]
Email = Annotated[str, msgspec.Meta(max_length=200, pattern=NO_CONTROL)]
Address = Annotated[str, msgspec.Meta(max_length=ADDRESS_LENGTH_MAX, pattern=NO_CONTROL)]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=REASON_LENGTH_MAX, pattern=NO_CONTROL)]
Income = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,18}(\.[0-9]{1,4})?$",
                                     description="Monthly income, decimal string in income_currency's minor unit")]
Kind = Literal["individual", "business", "group"]


class RepresentativeIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    full_name: LegalName
    role: Role
    national_id: IdentityNumber | None = None
    phone: Phone | None = None

    def to_domain(self) -> Representative:
        return Representative(full_name=self.full_name, role=self.role, national_id=self.national_id, phone=self.phone)


class _ClientIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, tag_field="kind"):
    """What every kind of client has: office, loan officer, region and contact."""

    office_id: Id
    loan_officer: Text100 | None = None
    region: Text100 | None = None
    phone: Phone | None = None
    email: Email | None = None
    address: Address | None = None
    city: Text100 | None = None
    allow_duplicate: bool = False
    """Create even though a client with the same name and birth date exists (homonyms);
    identity numbers are never overridden."""

    def _common(self) -> dict[str, Any]:
        return {"office_id": self.office_id, "loan_officer": self.loan_officer, "region": self.region,
                "phone": self.phone, "email": self.email, "address": self.address, "city": self.city}


class IndividualIn(_ClientIn, tag="individual"):
    first_name: PersonName
    last_name: PersonName
    middle_name: PersonName | None = None
    birth_date: date | None = None
    gender: Gender | None = None
    national_id: IdentityNumber | None = None
    occupation: Text100 | None = None
    income_monthly: Income | None = None
    income_currency: CurrencyCode | None = None

    def __post_init__(self) -> None:
        check_date(self.birth_date, "birth_date")

    def to_profile(self) -> ClientProfile:
        return ClientProfile(
            client_type=ClientType.INDIVIDUAL, **self._common(), first_name=self.first_name,
            middle_name=self.middle_name, last_name=self.last_name, birth_date=self.birth_date, gender=self.gender,
            national_id=self.national_id, occupation=self.occupation,
            income_monthly=Decimal(self.income_monthly) if self.income_monthly is not None else None,
            income_currency=self.income_currency)


class BusinessIn(_ClientIn, tag="business"):
    legal_name: LegalName
    trade_name: LegalName | None = None
    registration_number: IdentityNumber | None = None
    tax_number: IdentityNumber | None = None
    sector: Text100 | None = None
    founded_on: date | None = None
    representatives: Annotated[list[RepresentativeIn], msgspec.Meta(max_length=REPRESENTATIVES_MAX)] = []

    def __post_init__(self) -> None:
        check_date(self.founded_on, "founded_on")

    def to_profile(self) -> ClientProfile:
        return ClientProfile(
            client_type=ClientType.BUSINESS, **self._common(), legal_name=self.legal_name, trade_name=self.trade_name,
            registration_number=self.registration_number, tax_number=self.tax_number, sector=self.sector,
            founded_on=self.founded_on, representatives=tuple(r.to_domain() for r in self.representatives))


class GroupIn(_ClientIn, tag="group"):
    group_name: LegalName
    member_ids: Annotated[list[Id], msgspec.Meta(max_length=MEMBERS_PER_GROUP_MAX)] = []
    leader_id: Id | None = None

    def to_profile(self) -> ClientProfile:
        return ClientProfile(client_type=ClientType.GROUP, **self._common(), group_name=self.group_name,
                             member_ids=tuple(self.member_ids), leader_id=self.leader_id)


ClientIn = IndividualIn | BusinessIn | GroupIn


class ClientPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Fields to change: an absent field keeps its value, null clears an optional one. Fields of
    another kind of client are refused (422). Group members and leader change through
    /members and /leader."""

    office_id: Id | _U = _UNSET
    loan_officer: Text100 | _U | None = _UNSET
    region: Text100 | _U | None = _UNSET
    phone: Phone | _U | None = _UNSET
    email: Email | _U | None = _UNSET
    address: Address | _U | None = _UNSET
    city: Text100 | _U | None = _UNSET
    first_name: PersonName | _U = _UNSET
    middle_name: PersonName | _U | None = _UNSET
    last_name: PersonName | _U = _UNSET
    birth_date: date | _U | None = _UNSET
    gender: Gender | _U | None = _UNSET
    national_id: IdentityNumber | _U | None = _UNSET
    occupation: Text100 | _U | None = _UNSET
    income_monthly: Income | _U | None = _UNSET
    income_currency: CurrencyCode | _U | None = _UNSET
    legal_name: LegalName | _U = _UNSET
    trade_name: LegalName | _U | None = _UNSET
    registration_number: IdentityNumber | _U | None = _UNSET
    tax_number: IdentityNumber | _U | None = _UNSET
    sector: Text100 | _U | None = _UNSET
    founded_on: date | _U | None = _UNSET
    representatives: Annotated[list[RepresentativeIn], msgspec.Meta(max_length=REPRESENTATIVES_MAX)] | _U = _UNSET
    group_name: LegalName | _U = _UNSET
    expected_version: Annotated[int, msgspec.Meta(ge=1)] | None = None
    """When given, the change is refused (409) if someone changed the client since."""
    allow_duplicate: bool = False

    def __post_init__(self) -> None:
        for field in ("birth_date", "founded_on"):
            value = getattr(self, field)
            check_date(value if isinstance(value, date) else None, field)

    def to_changes(self) -> ProfileChanges:
        values: dict[str, Any] = {}
        for field in ProfileChanges.__struct_fields__:
            value = getattr(self, field, _UNSET)
            if value is _UNSET:
                continue
            if field == "income_monthly" and value is not None:
                value = Decimal(value)
            elif field == "representatives":
                value = tuple(r.to_domain() for r in value)
            values[field] = value
        return ProfileChanges(**values)


class StatusChangeIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Closing, blacklisting and reopening a blacklisted client need a reason."""

    reason: Reason | None = None
    effective_on: date | None = None
    """Defaults to today; never in the future."""

    def __post_init__(self) -> None:
        check_date(self.effective_on, "effective_on")


class MemberIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    member_id: Id
    leader: bool = False
    """Make the new member the group's leader."""
    expected_version: Annotated[int, msgspec.Meta(ge=1)] | None = None


class LeaderIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    leader_id: Id
    expected_version: Annotated[int, msgspec.Meta(ge=1)] | None = None


class RepresentativeOut(msgspec.Struct, kw_only=True):
    full_name: str
    role: str
    national_id: str | None
    phone: str | None


class ClientOut(msgspec.Struct, kw_only=True):
    """A client as stored; fields of other kinds are null."""

    client_id: int
    kind: Kind
    status: ClientStatus
    display_name: str
    version: int
    office_id: int
    loan_officer: str | None
    region: str | None
    phone: str | None
    email: str | None
    address: str | None
    city: str | None
    first_name: str | None
    middle_name: str | None
    last_name: str | None
    birth_date: date | None
    gender: Gender | None
    national_id: str | None
    occupation: str | None
    income_monthly: str | None
    income_currency: str | None
    legal_name: str | None
    trade_name: str | None
    registration_number: str | None
    tax_number: str | None
    sector: str | None
    founded_on: date | None
    representatives: list[RepresentativeOut]
    group_name: str | None
    member_ids: list[int]
    leader_id: int | None
    activated_on: date | None
    closed_on: date | None
    status_reason: str | None
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str

    @classmethod
    def from_record(cls, record: ClientRecord) -> ClientOut:
        client = record.client
        profile = client.profile
        income = profile.income_monthly
        if income is not None and profile.income_currency is not None:
            income = normalize_amount(income, profile.income_currency)
        return cls(
            client_id=client.client_id, kind=profile.client_type.value, status=client.status,
            display_name=profile.display_name, version=client.version, office_id=profile.office_id,
            loan_officer=profile.loan_officer, region=profile.region, phone=profile.phone, email=profile.email,
            address=profile.address, city=profile.city, first_name=profile.first_name,
            middle_name=profile.middle_name, last_name=profile.last_name, birth_date=profile.birth_date,
            gender=profile.gender, national_id=profile.national_id, occupation=profile.occupation,
            income_monthly=str(income) if income is not None else None, income_currency=profile.income_currency,
            legal_name=profile.legal_name, trade_name=profile.trade_name,
            registration_number=profile.registration_number, tax_number=profile.tax_number, sector=profile.sector,
            founded_on=profile.founded_on,
            representatives=[RepresentativeOut(full_name=r.full_name, role=r.role, national_id=r.national_id,
                                               phone=r.phone) for r in profile.representatives],
            group_name=profile.group_name, member_ids=list(profile.member_ids), leader_id=profile.leader_id,
            activated_on=client.activated_on, closed_on=client.closed_on, status_reason=client.status_reason,
            created_at=record.created_at, created_by=record.created_by, updated_at=record.updated_at,
            updated_by=record.updated_by)


class ClientPageOut(msgspec.Struct, kw_only=True):
    items: list[ClientOut]
    next_cursor: str | None
    """Pass as `cursor` to read the next page; null on the last page."""


class HistoryItemOut(msgspec.Struct, kw_only=True):
    history_id: int
    action: str
    """created, updated, status_changed, member_added, member_removed, leader_changed,
    document_recorded, document_file_added, document_verified."""
    changed_at: datetime
    changed_by: str
    before: dict[str, Any]
    after: dict[str, Any]

    @classmethod
    def from_item(cls, item: HistoryItem) -> HistoryItemOut:
        return cls(history_id=item.history_id, action=item.action, changed_at=item.changed_at,
                   changed_by=item.changed_by, before=item.before, after=item.after)


class HistoryPageOut(msgspec.Struct, kw_only=True):
    items: list[HistoryItemOut]
    next_cursor: str | None


class KycOut(msgspec.Struct, kw_only=True):
    """What the client's KYC file lacks on `as_of`; `complete` when nothing required is missing."""

    client_id: int
    kind: Kind
    as_of: date
    complete: bool
    missing_fields: list[str]
    missing_documents: list[list[DocumentType]]
    """Each item is one requirement, as the document types that would satisfy it."""
    expired_documents: list[int]
    unverified_documents: list[int]

    @classmethod
    def from_report(cls, client_id: int, report: KycReport) -> KycOut:
        return cls(client_id=client_id, kind=report.client_type.value, as_of=report.as_of,
                   complete=report.complete, missing_fields=list(report.missing_fields),
                   missing_documents=[list(a) for a in report.missing_documents],
                   expired_documents=list(report.expired_documents),
                   unverified_documents=list(report.unverified_documents))


class DocumentIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    document_type: DocumentType
    number: IdentityNumber | None = None
    issuing_authority: Text200 | None = None
    issued_on: date | None = None
    expires_on: date | None = None

    def __post_init__(self) -> None:
        check_date(self.issued_on, "issued_on")
        check_date(self.expires_on, "expires_on")


class VerificationIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    comment: Reason | None = None


class RejectionIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    comment: Reason
    """Why the document is refused (illegible, not the client, forged...)."""


class FileOut(msgspec.Struct, kw_only=True):
    file_id: int
    file_name: str
    content_type: str
    size_bytes: int
    sha256: str
    created_at: datetime
    created_by: str

    @classmethod
    def from_info(cls, info: FileInfo) -> FileOut:
        return cls(**msgspec.structs.asdict(info))


class DocumentOut(msgspec.Struct, kw_only=True):
    document_id: int
    client_id: int
    document_type: DocumentType
    number: str | None
    issuing_authority: str | None
    issued_on: date | None
    expires_on: date | None
    status: Literal["pending", "verified", "rejected"]
    verified_by: str | None
    verified_at: datetime | None
    verification_comment: str | None
    created_at: datetime
    created_by: str
    files: list[FileOut]

    @classmethod
    def from_document(cls, document: Document) -> DocumentOut:
        values = msgspec.structs.asdict(document)
        values["files"] = [FileOut.from_info(f) for f in document.files]
        values["status"] = document.status.value
        return cls(**values)


class KycRequirementIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    required_fields: Annotated[list[Annotated[str, msgspec.Meta(pattern=r"^[a-z_]{1,40}$")]],
                               msgspec.Meta(max_length=40)]
    required_documents: Annotated[list[Annotated[list[DocumentType], msgspec.Meta(max_length=20)]],
                                  msgspec.Meta(max_length=20)]
    """Each item lists acceptable alternatives: one verified, unexpired document of any satisfies it."""
    duplicate_override_allowed: bool = True

    def to_requirement(self, client_type: ClientType) -> KycRequirement:
        return KycRequirement(client_type=client_type, required_fields=tuple(self.required_fields),
                              required_documents=tuple(tuple(a) for a in self.required_documents),
                              duplicate_override_allowed=self.duplicate_override_allowed)


class KycRequirementOut(msgspec.Struct, kw_only=True):
    kind: Kind
    required_fields: list[str]
    required_documents: list[list[DocumentType]]
    duplicate_override_allowed: bool

    @classmethod
    def from_requirement(cls, requirement: KycRequirement) -> KycRequirementOut:
        return cls(kind=requirement.client_type.value,
                   required_fields=list(requirement.required_fields),
                   required_documents=[list(a) for a in requirement.required_documents],
                   duplicate_override_allowed=requirement.duplicate_override_allowed)
