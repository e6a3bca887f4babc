"""Pure KYC rules: which identity documents and fields a client type needs, what is missing
for a given client on a given date, and what a file really is (by its bytes, not its name).

Lending (and any other operation) can call `kyc_gaps` and refuse when it is not complete."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import date
from typing import Final

import msgspec

from servicing.clients.model import ClientProfile, ClientType

DOCUMENT_BYTES_MAX: Final = 5 * 1024 * 1024
"""A phone photo of an ID card or a scanned PDF fits; a video does not."""
FILES_PER_DOCUMENT_MAX: Final = 10
DOCUMENTS_PER_CLIENT_MAX: Final = 100
DOCUMENT_NUMBER_LENGTH_MAX: Final = 50

assert DOCUMENT_BYTES_MAX < 8 * 1024 * 1024, "a file must fit in one request body"


class DocumentType(enum.StrEnum):
    NATIONAL_ID_CARD = "national_id_card"
    PASSPORT = "passport"
    DRIVING_LICENCE = "driving_licence"
    VOTER_CARD = "voter_card"
    CONSULAR_CARD = "consular_card"
    RESIDENCE_PERMIT = "residence_permit"
    BIRTH_CERTIFICATE = "birth_certificate"
    PROOF_OF_ADDRESS = "proof_of_address"
    PHOTO = "photo"
    BUSINESS_REGISTRATION = "business_registration"
    """RCCM extract."""
    TAX_REGISTRATION = "tax_registration"
    """NINEA, IFU, NIU: the tax identification certificate."""
    ARTICLES_OF_ASSOCIATION = "articles_of_association"
    """Statuts of a business, or the charter of a group."""
    MEETING_MINUTES = "meeting_minutes"
    """Procès-verbal naming a group's officers."""
    OTHER = "other"


class VerificationStatus(enum.StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"


class ContentType(enum.StrEnum):
    PDF = "application/pdf"
    JPEG = "image/jpeg"
    PNG = "image/png"
    WEBP = "image/webp"


ALLOWED_CONTENT_TYPES: Final = frozenset(ContentType)
"""The types Grand Livre can recognise by their bytes; an institution may accept fewer."""

UNDECLARED_CONTENT_TYPES: Final = frozenset({"", "application/octet-stream", "binary/octet-stream"})
"""What a browser or curl sends when it does not know a file's type: the bytes decide."""


class DocumentPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """The institution's limits on KYC files (settings `GRANDLIVRE_DOCUMENT_BYTES_MAX` and
    `GRANDLIVRE_DOCUMENT_CONTENT_TYPES`), within what Grand Livre itself accepts."""

    bytes_max: int = DOCUMENT_BYTES_MAX
    content_types: frozenset[ContentType] = ALLOWED_CONTENT_TYPES

    def __post_init__(self) -> None:
        if not 1 <= self.bytes_max <= DOCUMENT_BYTES_MAX:
            raise ValueError(f"the file size limit must be between 1 and {DOCUMENT_BYTES_MAX} bytes")
        if not self.content_types:
            raise ValueError("at least one file type must be accepted")


DEFAULT_DOCUMENT_POLICY: Final = DocumentPolicy()


def sniff_content_type(content: bytes) -> ContentType | None:
    """The type the bytes actually are (magic numbers), or None when not an allowed type."""
    if content.startswith(b"%PDF-"):
        return ContentType.PDF
    if content.startswith(b"\xff\xd8\xff"):
        return ContentType.JPEG
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return ContentType.PNG
    if len(content) >= 12 and content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return ContentType.WEBP
    return None


class FileRefusal(enum.Enum):
    EMPTY = "empty"
    TOO_LARGE = "too_large"
    NOT_RECOGNISED = "not_recognised"
    NOT_ACCEPTED = "not_accepted"
    MISDECLARED = "misdeclared"


def check_file(content: bytes, declared_content_type: str,
               policy: DocumentPolicy) -> tuple[ContentType | None, FileRefusal | None]:
    """The type of a file by its bytes, or why it is refused. Pure.

    A declared type ('image/jpeg; charset=...' is read as 'image/jpeg') must agree with
    the bytes, unless nothing specific was declared (`UNDECLARED_CONTENT_TYPES`): a PDF
    sent as a JPEG is refused, because a file that lies about itself is not evidence.
    """
    if not content:
        return None, FileRefusal.EMPTY
    if len(content) > policy.bytes_max:
        return None, FileRefusal.TOO_LARGE
    sniffed = sniff_content_type(content)
    if sniffed is None:
        return None, FileRefusal.NOT_RECOGNISED
    if sniffed not in policy.content_types:
        return sniffed, FileRefusal.NOT_ACCEPTED
    declared = declared_content_type.split(";")[0].strip().lower()
    if declared not in UNDECLARED_CONTENT_TYPES and declared != sniffed.value:
        return sniffed, FileRefusal.MISDECLARED
    return sniffed, None


class KycRequirement(msgspec.Struct, frozen=True, kw_only=True):
    """What a client type needs to be KYC-complete; configured per institution (data).

    required_documents: each item is a set of acceptable alternatives; one verified,
        unexpired document of any of them satisfies it (a national id card OR a passport).
    required_fields: profile fields that must be filled ("member_ids" needs at least one
        member, "representatives" at least one representative).
    """

    client_type: ClientType
    required_fields: tuple[str, ...]
    required_documents: tuple[tuple[DocumentType, ...], ...]
    duplicate_override_allowed: bool = True
    """Whether staff may knowingly create a client whose name and birth date match another's
    (homonyms exist); identity numbers never repeat."""


DEFAULT_REQUIREMENTS: Final[dict[ClientType, KycRequirement]] = {
    ClientType.INDIVIDUAL: KycRequirement(
        client_type=ClientType.INDIVIDUAL,
        required_fields=("first_name", "last_name", "birth_date", "gender", "national_id", "phone", "address"),
        required_documents=((DocumentType.NATIONAL_ID_CARD, DocumentType.PASSPORT, DocumentType.CONSULAR_CARD,
                             DocumentType.VOTER_CARD),),
    ),
    ClientType.BUSINESS: KycRequirement(
        client_type=ClientType.BUSINESS,
        required_fields=("legal_name", "registration_number", "sector", "address", "phone", "representatives"),
        required_documents=((DocumentType.BUSINESS_REGISTRATION,), (DocumentType.TAX_REGISTRATION,)),
    ),
    ClientType.GROUP: KycRequirement(
        client_type=ClientType.GROUP,
        required_fields=("group_name", "member_ids", "leader_id"),
        required_documents=((DocumentType.MEETING_MINUTES, DocumentType.ARTICLES_OF_ASSOCIATION),),
    ),
}


def check_requirement(requirement: KycRequirement) -> list[tuple[str, str]]:
    """Problems of a requirement (field, message): unknown or foreign fields, empty alternatives."""
    from servicing.clients.model import COMMON_FIELDS, FIELDS_BY_TYPE

    allowed = COMMON_FIELDS | FIELDS_BY_TYPE[requirement.client_type]
    problems = [
        ("required_fields", f"{field!r} is not a field of a {requirement.client_type} client")
        for field in requirement.required_fields if field not in allowed
    ]
    problems += [
        ("required_documents", "each requirement lists at least one document type")
        for alternatives in requirement.required_documents if not alternatives
    ]
    return problems


class DocumentFacts(msgspec.Struct, frozen=True, kw_only=True):
    """What completeness needs to know of one identity document."""

    document_id: int
    document_type: DocumentType
    status: VerificationStatus
    expires_on: date | None
    file_count: int


class KycReport(msgspec.Struct, frozen=True, kw_only=True):
    """What a client lacks; `complete` only when every list is empty."""

    client_type: ClientType
    as_of: date
    missing_fields: tuple[str, ...]
    missing_documents: tuple[tuple[DocumentType, ...], ...]
    """Requirements no valid document satisfies, each as its accepted alternatives."""
    expired_documents: tuple[int, ...]
    unverified_documents: tuple[int, ...]
    """Documents of a required type still pending or rejected, or with no file."""

    @property
    def complete(self) -> bool:
        return not (self.missing_fields or self.missing_documents)


def is_valid_on(document: DocumentFacts, on: date) -> bool:
    """A document counts when verified, with a file, and not expired on `on` (valid through its expiry date)."""
    if document.status is not VerificationStatus.VERIFIED or document.file_count < 1:
        return False
    return document.expires_on is None or document.expires_on >= on


def kyc_gaps(
    profile: ClientProfile, documents: Sequence[DocumentFacts], requirement: KycRequirement, *, on: date
) -> KycReport:
    """What the client still lacks on date `on` under `requirement`. Pure."""
    assert requirement.client_type is profile.client_type, (requirement.client_type, profile.client_type)
    missing_fields = tuple(
        field for field in requirement.required_fields if getattr(profile, field, None) in (None, "", ())
    )
    valid_types = {d.document_type for d in documents if is_valid_on(d, on)}
    missing_documents = tuple(
        alternatives for alternatives in requirement.required_documents if not valid_types & set(alternatives)
    )
    required_types = {t for alternatives in requirement.required_documents for t in alternatives}
    expired = tuple(
        d.document_id for d in documents if d.expires_on is not None and d.expires_on < on
        and d.status is not VerificationStatus.REJECTED
    )
    unverified = tuple(
        d.document_id for d in documents
        if d.document_type in required_types and d.document_id not in expired and not is_valid_on(d, on)
    )
    return KycReport(
        client_type=profile.client_type, as_of=on, missing_fields=missing_fields,
        missing_documents=missing_documents, expired_documents=expired, unverified_documents=unverified,
    )
