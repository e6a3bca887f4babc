"""The permission catalogue and the default roles. Pure: no I/O.

A permission is a plain string `<resource>:<action>` (e.g. `journal:post`). Every route
declares one (`opt={"permission": ...}`) and a role is a configurable set of grants. A
grant is a permission or a pattern with `*` in place of the resource or the action
(`*:read` for a read-only auditor, `*` for the administrator), so that routes added later
under new names are covered by the roles that should see them.

To add permissions for a new feature, add them to `CATALOGUE` (one line each, with what
they allow); the route-walking test refuses routes whose permission is not listed here.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Final

import msgspec

SELF_SERVICE: Final = "account:self"
"""Granted to every signed-in user: their own profile, password, 2FA and sign-out."""

CATALOGUE: Final[dict[str, str]] = {
    SELF_SERVICE: "one's own account: profile, password, two-factor enrolment, sign-out",
    "offices:read": "see offices (one's own office and its branches)",
    "offices:write": "create offices and branches",
    "chart:read": "see the chart of accounts",
    "chart:write": "create, change, import, delete GL accounts",
    "journal:read": "see journal entries",
    "journal:post": "post manual journal entries",
    "journal:reverse": "reverse journal entries",
    "closures:read": "see accounting closures",
    "closures:write": "close and reopen accounting periods",
    "reports:read": "trial balance and accounting reports",
    "ledger:verify": "recompute everything derived from the journal",
    "business_days:read": "see the closed business days and what each end-of-day step did",
    "business_days:close": "run the close of business (end-of-day steps) for the institution",
    "events:read": "read the outbox feed of events (reminders, alerts) to deliver them",
    "loans:simulate": "simulate loan schedules",
    "loans:read": "see loans and loan applications",
    "loans:write": "create and change loan applications",
    "loans:approve": "approve or reject loan applications",
    "loans:disburse": "disburse loans",
    "loans:repay": "record loan repayments",
    "loans:reverse": "reverse loan repayments (later ones are re-applied) and recoveries",
    "loans:collect": "run the automatic collection of loan instalments from deposit accounts",
    "loans:reschedule": "reschedule loans (new terms, capitalised interest and penalties)",
    "loans:write_off": "write loans off (passage en perte) by hand, and reverse a write-off",
    "products:read": "see loan, savings and deposit products",
    "products:write": "create and change products",
    "clients:read": "see clients",
    "clients:write": "create and change clients",
    "kyc:verify": "verify clients' identity documents",
    "kyc:configure": "change the KYC requirements per client type",
    "savings:read": "see savings and current accounts",
    "savings:write": "open and change savings and current accounts",
    "savings:transact": "deposits, withdrawals and transfers",
    "savings:reverse": "reverse a deposit, withdrawal or transfer booked by mistake (a manager, not a teller)",
    "users:read": "see staff users",
    "users:write": "create, disable and reset staff users",
    "roles:read": "see roles and their permissions",
    "roles:write": "change roles",
    "approvals:read": "see commands waiting for a second person",
    "approvals:decide": "approve or reject other people's commands",
    "approvals:configure": "choose which commands need a second person",
    "audit:read": "search and export the audit log",
    "audit:verify": "check the audit log's hash chain",
}

READ_ACTIONS: Final = frozenset({"read", "simulate", "verify", "self"})
"""Actions that neither move money nor change configuration."""


class RoleDefinition(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    label: str
    grants: tuple[str, ...]
    totp_required: bool


def matches(grant: str, permission: str) -> bool:
    """Whether a grant (a permission, `resource:*`, `*:action` or `*`) covers a permission."""
    if grant in ("*", permission):
        return True
    grant_resource, _, grant_action = grant.partition(":")
    resource, _, action = permission.partition(":")
    return (grant_resource == "*" and grant_action == action) or (grant_action == "*" and grant_resource == resource)


def allows(grants: Iterable[str], permission: str) -> bool:
    """Whether any grant covers the permission. Everyone signed in has `account:self`."""
    if permission == SELF_SERVICE:
        return True
    return any(matches(grant, permission) for grant in grants)


@functools.lru_cache(maxsize=4_096)
def allows_cached(grants: tuple[str, ...], permission: str) -> bool:
    """`allows` for the guard, which asks the same questions on every request."""
    return allows(grants, permission)


def is_valid_grant(grant: str) -> bool:
    if grant == "*":
        return True
    resource, colon, action = grant.partition(":")
    if not colon or not resource or not action:
        return False
    if resource == "*" and action == "*":
        return False
    if "*" not in (resource, action):
        return grant in CATALOGUE
    return any(matches(grant, permission) for permission in CATALOGUE)


def is_sensitive(permission: str) -> bool:
    """Moves money or changes configuration: anything but reading."""
    return permission.partition(":")[2] not in READ_ACTIONS


def needs_totp_by_default(grants: Iterable[str]) -> bool:
    """Two-factor authentication is on by default for every role that can do more than read."""
    grant_list = list(grants)
    return any(is_sensitive(p) and allows(grant_list, p) for p in CATALOGUE)


def _role(name: str, label: str, grants: tuple[str, ...]) -> RoleDefinition:
    return RoleDefinition(name=name, label=label, grants=grants, totp_required=needs_totp_by_default(grants))


DEFAULT_ROLES: Final[tuple[RoleDefinition, ...]] = (
    _role("administrator", "Administrateur", ("*",)),
    _role("auditor", "Auditeur (lecture seule)", ("*:read", "ledger:verify", "audit:verify")),
    _role("accountant", "Comptable", (
        "offices:read", "chart:*", "journal:*", "closures:*", "reports:read", "ledger:verify",
        "products:read", "approvals:read", "approvals:decide", "business_days:*")),
    _role("teller", "Caissier", (
        "offices:read", "clients:read", "savings:read", "savings:transact", "loans:read", "loans:repay",
        "journal:read")),
    _role("loan_officer", "Agent de crédit", (
        "offices:read", "clients:*", "kyc:verify", "products:read", "loans:read", "loans:write", "loans:simulate",
        "savings:read")),
    _role("branch_manager", "Chef d'agence", (
        "offices:read", "clients:*", "kyc:verify", "products:read", "loans:*", "savings:*", "journal:read",
        "closures:read", "reports:read", "users:read", "approvals:read", "approvals:decide")),
    _role("credit_committee", "Comité de crédit", (
        "offices:read", "clients:read", "products:read", "loans:read", "loans:simulate", "loans:approve",
        "reports:read", "approvals:read", "approvals:decide")),
)

assert all(is_valid_grant(g) for role in DEFAULT_ROLES for g in role.grants), "default roles use catalogued grants"
assert all(":" in p and p == p.lower() for p in CATALOGUE), "permissions are lower-case resource:action"


def within(grants: Iterable[str], granter_grants: Iterable[str]) -> bool:
    """Whether every permission the grants cover is also covered for the granter: nobody
    hands out more than they hold."""
    granted = list(grants)
    held = list(granter_grants)
    return all(allows(held, p) for p in CATALOGUE if allows(granted, p))
