"""Pure client rules: the status machine, the keys that find duplicates, profile checks and
the before/after diff kept in the history. No I/O, no clock: `today` is an argument."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Final

import msgspec

from ledger.errors import LedgerError
from ledger.limits import AMOUNT_MAX
from ledger.money import minor_unit_digits
from servicing.clients.model import (
    COMMON_FIELDS,
    FIELDS_BY_TYPE,
    MEMBERS_PER_GROUP_MAX,
    NATIONAL_ID_LENGTH_MAX,
    PROFILE_FIELDS,
    ClientProfile,
    ClientStatus,
    ClientType,
)

AGE_YEARS_MAX: Final = 120
PHONE_DIGITS_MIN: Final = 6
PHONE_DIGITS_MAX: Final = 15
"""E.164 caps a number at 15 digits; the shortest local numbers in the region have 6+."""

ALLOWED_TRANSITIONS: Final[Mapping[ClientStatus, frozenset[ClientStatus]]] = {
    ClientStatus.PENDING: frozenset({ClientStatus.ACTIVE, ClientStatus.CLOSED, ClientStatus.BLACKLISTED}),
    ClientStatus.ACTIVE: frozenset({ClientStatus.CLOSED, ClientStatus.BLACKLISTED}),
    ClientStatus.CLOSED: frozenset({ClientStatus.PENDING}),
    ClientStatus.BLACKLISTED: frozenset({ClientStatus.PENDING, ClientStatus.CLOSED}),
}
"""A closed or blacklisted client comes back only through review (pending), never straight
to active: someone must look at the file again before the client can operate."""

EDITABLE_STATUSES: Final = frozenset({ClientStatus.PENDING, ClientStatus.ACTIVE, ClientStatus.BLACKLISTED})
"""A closed client's record is frozen until it is reopened."""

GROUP_MEMBER_STATUSES: Final = frozenset({ClientStatus.PENDING, ClientStatus.ACTIVE})


class FieldProblem(msgspec.Struct, frozen=True, kw_only=True):
    field: str
    message: str
    code: str = "invalid"


class TransitionRefused(LedgerError):
    code = "transition-refused"
    status_hint = 409


class ReasonRequired(TransitionRefused):
    """The change is allowed, but not without saying why: bad input rather than a conflict."""

    code = "reason-required"
    status_hint = 422


def reason_required(current: ClientStatus, target: ClientStatus) -> bool:
    """Closing, blacklisting and lifting a blacklist need a written reason (auditors ask why)."""
    return target in (ClientStatus.CLOSED, ClientStatus.BLACKLISTED) or current is ClientStatus.BLACKLISTED


def check_transition(current: ClientStatus, target: ClientStatus, reason: str | None) -> None:
    """Refuse a status change the lifecycle does not allow, or one that lacks its reason."""
    if target not in ALLOWED_TRANSITIONS[current]:
        allowed = ", ".join(sorted(ALLOWED_TRANSITIONS[current])) or "none"
        raise TransitionRefused(f"a {current} client cannot become {target} (allowed: {allowed})", field="status")
    if reason_required(current, target) and not (reason and reason.strip()):
        raise ReasonRequired(f"going from {current} to {target} needs a reason", field="reason")


_LIGATURES: Final = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ø": "o", "Ø": "o", "đ": "d", "ł": "l"})
_NOT_ALNUM: Final = re.compile(r"[^0-9a-z]+")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NOT_ALNUM.sub(" ", stripped.casefold()).strip()


def name_key(*parts: str | None) -> str:
    """Comparable form of a name: no accents, no case, no punctuation, tokens sorted.

    'Ndèye-Fatou DIOP' and 'diop ndeye fatou' give the same key: records in the region
    often swap family and given names, so order must not matter.
    """
    tokens = [token for part in parts if part for token in _fold(part).split()]
    return " ".join(sorted(tokens))


def national_id_key(value: str | None) -> str | None:
    """Identity numbers compare without case, spaces, dots or dashes ('1 751 1985-00234' = '17511985 00234')."""
    if value is None:
        return None
    key = re.sub(r"[^0-9A-Z]", "", unicodedata.normalize("NFKC", value).upper())
    return key or None


def phone_key(value: str | None) -> str | None:
    """The digits of a phone number ('+221 77 123 45 67' -> '221771234567')."""
    if value is None:
        return None
    digits = "".join(c for c in value if c.isascii() and c.isdigit())
    if digits.startswith("00"):
        digits = digits[2:]
    return digits or None


def profile_name_key(profile: ClientProfile) -> str:
    if profile.client_type is ClientType.INDIVIDUAL:
        return name_key(profile.first_name, profile.middle_name, profile.last_name)
    return name_key(profile.display_name)


def identity_key(profile: ClientProfile) -> str | None:
    """The unique identity number of a client: national id (person) or registration number (business)."""
    if profile.client_type is ClientType.INDIVIDUAL:
        return national_id_key(profile.national_id)
    if profile.client_type is ClientType.BUSINESS:
        return national_id_key(profile.registration_number)
    return None


def _present(value: object) -> bool:
    return value not in (None, "", ())


def check_profile(profile: ClientProfile, *, today: date) -> list[FieldProblem]:
    """Every problem of a profile, each naming its field; empty when the profile is acceptable."""
    problems: list[FieldProblem] = []
    own = FIELDS_BY_TYPE[profile.client_type]
    for field in PROFILE_FIELDS:
        if field in own or field in COMMON_FIELDS or field == "client_type":
            continue
        if _present(getattr(profile, field)):
            problems.append(FieldProblem(field=field, message=f"does not apply to a {profile.client_type} client"))
    required = {
        ClientType.INDIVIDUAL: ("first_name", "last_name"),
        ClientType.BUSINESS: ("legal_name",),
        ClientType.GROUP: ("group_name",),
    }[profile.client_type]
    for field in required:
        if not _present(getattr(profile, field)) or not str(getattr(profile, field)).strip():
            problems.append(FieldProblem(field=field, message="is required", code="required"))
    problems.extend(_check_dates(profile, today))
    problems.extend(_check_income(profile))
    problems.extend(_check_contacts(profile))
    problems.extend(_check_group(profile))
    for field in ("national_id", "registration_number"):
        value = getattr(profile, field)
        key = national_id_key(value)
        if value is not None and key is None:
            problems.append(FieldProblem(field=field, message="must contain letters or digits"))
        elif key is not None and len(key) > NATIONAL_ID_LENGTH_MAX:
            problems.append(FieldProblem(field=field, message=f"has more than {NATIONAL_ID_LENGTH_MAX} letters and digits"))
    return problems


def _check_dates(profile: ClientProfile, today: date) -> Iterable[FieldProblem]:
    for field in ("birth_date", "founded_on"):
        value: date | None = getattr(profile, field)
        if value is None:
            continue
        if value > today:
            yield FieldProblem(field=field, message="cannot be in the future")
        elif today.year - value.year > AGE_YEARS_MAX:
            yield FieldProblem(field=field, message=f"is more than {AGE_YEARS_MAX} years ago")


def _check_income(profile: ClientProfile) -> Iterable[FieldProblem]:
    income, currency = profile.income_monthly, profile.income_currency
    if income is None:
        if currency is not None:
            yield FieldProblem(field="income_monthly", message="is required when income_currency is given")
        return
    if currency is None:
        yield FieldProblem(field="income_currency", message="is required with income_monthly", code="required")
        return
    try:
        digits = minor_unit_digits(currency)
    except LedgerError:
        yield FieldProblem(field="income_currency", message=f"unknown currency {currency!r}")
        return
    if not income.is_finite() or income < 0 or income >= AMOUNT_MAX:
        yield FieldProblem(field="income_monthly", message="must be a non-negative amount")
    elif income != income.quantize(Decimal(1).scaleb(-digits)):
        yield FieldProblem(field="income_monthly", message=f"{currency} amounts have {digits} decimal(s)")


def _check_contacts(profile: ClientProfile) -> Iterable[FieldProblem]:
    phones = [("phone", profile.phone)]
    phones += [(f"representatives[{i}].phone", r.phone) for i, r in enumerate(profile.representatives)]
    for field, phone in phones:
        if phone is None:
            continue
        digits = phone_key(phone) or ""
        if not PHONE_DIGITS_MIN <= len(digits) <= PHONE_DIGITS_MAX or not re.fullmatch(r"[0-9+ ().-]+", phone):
            yield FieldProblem(field=field, message=f"must be a phone number of {PHONE_DIGITS_MIN}-{PHONE_DIGITS_MAX} digits")
    if profile.email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", profile.email):
        yield FieldProblem(field="email", message="must be an e-mail address")
    for i, representative in enumerate(profile.representatives):
        if not representative.full_name.strip():
            yield FieldProblem(field=f"representatives[{i}].full_name", message="is required", code="required")


def _check_group(profile: ClientProfile) -> Iterable[FieldProblem]:
    if profile.client_type is not ClientType.GROUP:
        return
    members = profile.member_ids
    if len(set(members)) != len(members):
        yield FieldProblem(field="member_ids", message="lists a member twice")
    if len(members) > MEMBERS_PER_GROUP_MAX:
        yield FieldProblem(field="member_ids", message=f"a group has at most {MEMBERS_PER_GROUP_MAX} members")
    if profile.leader_id is not None and profile.leader_id not in members:
        yield FieldProblem(field="leader_id", message="the leader must be one of the members")


def _wire(value: object) -> object:
    return msgspec.to_builtins(value, builtin_types=(), order="deterministic")


def profile_changes(before: ClientProfile | None, after: ClientProfile) -> tuple[dict[str, object], dict[str, object]]:
    """The fields that differ, as two JSON-ready maps (before, after) for the history.

    A creation (before is None) records every present field of `after`.
    """
    old: dict[str, object] = {}
    new: dict[str, object] = {}
    for field in PROFILE_FIELDS:
        value_after = getattr(after, field)
        value_before = getattr(before, field) if before is not None else None
        if before is None and not _present(value_after):
            continue
        if before is not None and value_before == value_after:
            continue
        if before is not None:
            old[field] = _wire(value_before)
        new[field] = _wire(value_after)
    return old, new
