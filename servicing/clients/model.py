"""Client value types: what a client is, independent of storage. Frozen Structs in, frozen
Structs out; the service layer maps rows to these and back."""

from __future__ import annotations

import enum
from datetime import date
from decimal import Decimal
from typing import Final

import msgspec

MEMBERS_PER_GROUP_MAX: Final = 100
"""Solidarity groups and village banks: Fineract-class systems cap them well below this."""

REPRESENTATIVES_MAX: Final = 10
NAME_LENGTH_MAX: Final = 100
LEGAL_NAME_LENGTH_MAX: Final = 200
NATIONAL_ID_LENGTH_MAX: Final = 50
PHONE_LENGTH_MAX: Final = 30
ADDRESS_LENGTH_MAX: Final = 300
REASON_LENGTH_MAX: Final = 500

assert MEMBERS_PER_GROUP_MAX >= 30, "village banks have a few dozen members"


class ClientType(enum.StrEnum):
    INDIVIDUAL = "individual"
    BUSINESS = "business"
    GROUP = "group"


class ClientStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    CLOSED = "closed"
    BLACKLISTED = "blacklisted"


class Gender(enum.StrEnum):
    FEMALE = "female"
    MALE = "male"


class Representative(msgspec.Struct, frozen=True, kw_only=True):
    """A person who acts for a business (gérant, directeur, mandataire)."""

    full_name: str
    role: str
    national_id: str | None = None
    phone: str | None = None


class ClientProfile(msgspec.Struct, frozen=True, kw_only=True):
    """Every field a client may have; which ones apply depends on `client_type`.

    Individuals use the person fields, businesses the legal ones and representatives,
    groups `group_name`, `member_ids` and `leader_id`. Contact fields apply to all.
    """

    client_type: ClientType
    office_id: int
    loan_officer: str | None = None
    region: str | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    city: str | None = None
    # individuals
    first_name: str | None = None
    middle_name: str | None = None
    last_name: str | None = None
    birth_date: date | None = None
    gender: Gender | None = None
    national_id: str | None = None
    occupation: str | None = None
    income_monthly: Decimal | None = None
    income_currency: str | None = None
    # businesses
    legal_name: str | None = None
    trade_name: str | None = None
    registration_number: str | None = None
    tax_number: str | None = None
    sector: str | None = None
    founded_on: date | None = None
    representatives: tuple[Representative, ...] = ()
    # groups
    group_name: str | None = None
    member_ids: tuple[int, ...] = ()
    leader_id: int | None = None

    @property
    def display_name(self) -> str:
        """The name staff read: 'LAST First Middle' for a person, the legal or group name otherwise."""
        if self.client_type is ClientType.INDIVIDUAL:
            parts = [(self.last_name or "").upper(), self.first_name or "", self.middle_name or ""]
            return " ".join(p for p in parts if p)
        if self.client_type is ClientType.BUSINESS:
            return self.legal_name or ""
        return self.group_name or ""


class Client(msgspec.Struct, frozen=True, kw_only=True):
    """A stored client: its profile plus identity, lifecycle and version."""

    client_id: int
    status: ClientStatus
    profile: ClientProfile
    version: int
    activated_on: date | None = None
    closed_on: date | None = None
    status_reason: str | None = None


PROFILE_FIELDS: Final = tuple(ClientProfile.__struct_fields__)

FIELDS_BY_TYPE: Final[dict[ClientType, frozenset[str]]] = {
    ClientType.INDIVIDUAL: frozenset({
        "first_name", "middle_name", "last_name", "birth_date", "gender", "national_id", "occupation",
        "income_monthly", "income_currency",
    }),
    ClientType.BUSINESS: frozenset({
        "legal_name", "trade_name", "registration_number", "tax_number", "sector", "founded_on", "representatives",
    }),
    ClientType.GROUP: frozenset({"group_name", "member_ids", "leader_id"}),
}
"""Fields that belong to one client type only; the others are common to all types."""

COMMON_FIELDS: Final = frozenset(PROFILE_FIELDS) - frozenset().union(*FIELDS_BY_TYPE.values()) - {"client_type"}
