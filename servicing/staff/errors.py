"""Errors of authentication and authorization, mapped to 401 and 403 problems."""

from __future__ import annotations

from ledger.errors import LedgerError


class NotAuthenticated(LedgerError):
    code = "not-authenticated"
    status_hint = 401


class SignInFailed(NotAuthenticated):
    """One message for every cause, so that sign-in reveals nothing; `reason` goes to the audit log only."""

    code = "sign-in-failed"

    def __init__(self, reason: str) -> None:
        super().__init__("sign-in failed: wrong user name, password or code, or the account is locked or disabled")
        self.reason = reason


class PermissionDenied(LedgerError):
    code = "permission-denied"
    status_hint = 403


class SelfApprovalRefused(PermissionDenied):
    code = "self-approval-refused"


class TooManyAttempts(LedgerError):
    code = "too-many-requests"
    status_hint = 429
