"""Typed refusals of the client and KYC services. Each carries `problems` (field, code,
message) so the API can list every one, and names the field at fault."""

from __future__ import annotations

from ledger.errors import LedgerError
from servicing.errors import Conflict, InvalidInput
from servicing.staff.errors import PermissionDenied


class ClientRejected(InvalidInput):
    """A client profile breaks one or more rules; nothing was written."""

    code = "invalid-client"

    def __init__(self, problems: list[dict[str, str]]) -> None:
        first = problems[0]
        super().__init__(f"{first['field']}: {first['message']}", field=first["field"])
        self.problems = problems


class DuplicateClient(Conflict):
    """Another client has the same identity number, or the same name and birth date.

    `extensions` adds `duplicate_client_ids` to the problem document, so that a front end
    can show the suspected duplicates and let the user confirm with `allow_duplicate`."""

    code = "duplicate-client"

    def __init__(self, message: str, *, field: str, duplicate_ids: list[int], problems: list[dict[str, str]],
                 overridable: bool = False) -> None:
        super().__init__(message, field=field)
        self.duplicate_ids = duplicate_ids
        self.problems = problems
        self.extensions: dict[str, object] = {"duplicate_client_ids": duplicate_ids, "overridable": overridable}


class KycIncomplete(LedgerError):
    """The client's KYC file lacks fields or valid documents the operation requires."""

    code = "kyc-incomplete"
    status_hint = 422

    def __init__(self, message: str, problems: list[dict[str, str]]) -> None:
        super().__init__(message, field="kyc")
        self.problems = problems


class DocumentRejected(InvalidInput):
    code = "invalid-document"


class UnsupportedFile(LedgerError):
    code = "unsupported-file"
    status_hint = 415


class FileTooLarge(LedgerError):
    code = "file-too-large"
    status_hint = 413


class SelfVerificationRefused(PermissionDenied):
    """Whoever recorded a document or attached one of its files cannot verify it (four eyes)."""

    code = "self-verification-refused"
