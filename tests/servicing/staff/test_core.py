"""The pure core of staff security: grants, password policy, TOTP, the audit hash chain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from servicing.staff import totp
from servicing.staff.audit_chain import GENESIS_HASH, AuditRecord, ChainedRecord, chain, first_break
from servicing.staff.passwords import PasswordHashing, PasswordRejected, check_policy
from servicing.staff.permissions import (
    CATALOGUE,
    DEFAULT_ROLES,
    allows,
    is_valid_grant,
    matches,
    needs_totp_by_default,
    within,
)
from servicing.staff.scope import OfficeOutOfScope, OfficeScope

ROLES = {role.name: role for role in DEFAULT_ROLES}


def test_grant_patterns() -> None:
    assert matches("journal:post", "journal:post")
    assert matches("journal:*", "journal:reverse")
    assert matches("*:read", "clients:read")
    assert matches("*", "users:write")
    assert not matches("journal:*", "chart:write")
    assert not matches("*:read", "journal:post")
    assert not matches("journal:po", "journal:post")
    assert allows([], "account:self"), "every signed-in user manages their own account"
    assert not allows([], "journal:read")


def test_grants_must_name_catalogued_permissions() -> None:
    assert is_valid_grant("journal:post") and is_valid_grant("*:read") and is_valid_grant("*")
    assert not is_valid_grant("journal:fly")
    assert not is_valid_grant("*:*")
    assert not is_valid_grant("journal")
    assert not is_valid_grant("nothing:*")


def test_default_roles() -> None:
    auditor = ROLES["auditor"].grants
    assert all(not allows(auditor, p) for p in CATALOGUE if not p.endswith(":read") and p not in (
        "ledger:verify", "audit:verify", "account:self")), "the auditor only reads"
    assert allows(auditor, "audit:read")
    assert allows(ROLES["teller"].grants, "savings:transact") and not allows(ROLES["teller"].grants, "journal:post")
    assert allows(ROLES["accountant"].grants, "journal:post") and not allows(ROLES["accountant"].grants, "users:write")
    assert allows(ROLES["credit_committee"].grants, "loans:approve")
    assert all(allows(ROLES["administrator"].grants, p) for p in CATALOGUE)
    assert {name for name, role in ROLES.items() if not role.totp_required} == {"auditor"}, \
        "2FA is on for every role that moves money or changes configuration"
    assert not needs_totp_by_default(["*:read"]) and needs_totp_by_default(["loans:repay"])


def test_nobody_grants_more_than_they_hold() -> None:
    assert within(ROLES["teller"].grants, ROLES["administrator"].grants)
    assert within(ROLES["teller"].grants, ROLES["branch_manager"].grants), "a branch manager holds what a teller does"
    assert not within(ROLES["administrator"].grants, ROLES["branch_manager"].grants)
    assert within(["clients:read"], ROLES["branch_manager"].grants)


@pytest.mark.parametrize(("password", "problem"), [
    ("short", "at least 12"),
    ("x" * 129, "at most 128"),
    ("motdepasse123", "too common"),
    ("aaaaaaaaaaaaaaaa", "too common"),
    ("awa.diop-2026-xyz", "user name"),
    ("tab\there-is-bad", "printable"),
])
def test_password_policy_refuses(password: str, problem: str) -> None:
    with pytest.raises(PasswordRejected, match=problem):
        check_policy(password, username="awa.diop")


def test_password_policy_accepts_a_passphrase_and_hashes_with_argon2id() -> None:
    check_policy("le baobab de Thiès 2026", username="awa.diop")
    hashing = PasswordHashing(memory_kib=8_192, time_cost=1)
    digest = hashing.hash("le baobab de Thiès 2026")
    assert digest.startswith("$argon2id$")
    assert hashing.verify(digest, "le baobab de Thiès 2026")
    assert not hashing.verify(digest, "le baobab de Thies 2026")
    assert not hashing.verify(None, "anything"), "unknown users never pass, after the same work"
    assert not hashing.verify("not a hash", "anything")


NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)


def test_totp_accepts_the_current_code_once_and_tolerates_one_step_of_drift() -> None:
    secret = totp.new_secret()
    code = totp.code_at(secret, NOW)
    step = totp.accepted_step(secret, code, now=NOW, last_step=None)
    assert step == int(NOW.timestamp()) // 30
    assert totp.accepted_step(secret, code, now=NOW, last_step=step) is None, "a code is not replayed"
    late = totp.code_at(secret, NOW - timedelta(seconds=30))
    assert totp.accepted_step(secret, late, now=NOW, last_step=None) == step - 1
    stale = totp.code_at(secret, NOW - timedelta(seconds=90))
    assert totp.accepted_step(secret, stale, now=NOW, last_step=None) is None
    assert totp.accepted_step(secret, "12345", now=NOW, last_step=None) is None
    assert totp.accepted_step(secret, "abcdef", now=NOW, last_step=None) is None


def test_rfc_6238_vector() -> None:
    # RFC 6238 appendix B, SHA-1, T = 59 s: 94287082 (8 digits); we use the last 6.
    import base64

    secret = base64.b32encode(b"12345678901234567890").decode()
    assert totp.code_at(secret, datetime.fromtimestamp(59, UTC)) == "287082"


def test_recovery_codes_are_random_and_compared_by_digest() -> None:
    codes = totp.new_recovery_codes()
    assert len(codes) == len(set(codes)) == totp.RECOVERY_CODES_PER_USER
    assert totp.recovery_digest(codes[0].lower()) == totp.recovery_digest(f" {codes[0][:6]}-{codes[0][6:]} ")
    assert "otpauth://totp/" in totp.provisioning_uri(totp.new_secret(), username="awa", issuer="Grand Livre")


def _record(n: int, actor: str = "awa") -> AuditRecord:
    return AuditRecord(occurred_at=NOW + timedelta(microseconds=n), actor=actor, user_id=1, office_id=1,
                       client_address="10.0.0.1", method="POST", path="/api/v1/journal-entries",
                       action="journal:post", status=201, outcome="succeeded", detail=f'{{"n":{n}}}')


def _chained(records: list[AuditRecord]) -> list[ChainedRecord]:
    return [ChainedRecord(sequence=i + 1, record=r, previous_hash=p, row_hash=h)
            for i, (r, (p, h)) in enumerate(zip(records, chain(GENESIS_HASH, records), strict=True))]


def test_chain_detects_a_change_a_removal_and_an_insertion() -> None:
    rows = _chained([_record(n) for n in range(6)])
    assert first_break(rows)[0] is None
    changed = list(rows)
    changed[3] = msgspec.structs.replace(rows[3], record=_record(3, actor="mallory"))
    assert first_break(changed)[0].sequence == 4  # type: ignore[union-attr]
    removed = rows[:2] + rows[3:]
    assert first_break(removed)[0].sequence == 4  # type: ignore[union-attr]
    intruder = ChainedRecord(sequence=99, record=_record(99), previous_hash=rows[1].row_hash, row_hash="f" * 64)
    assert first_break([*rows[:2], intruder, *rows[2:]])[0].sequence == 99  # type: ignore[union-attr]


@given(st.lists(st.text(max_size=30), min_size=1, max_size=8), st.data())
def test_chain_breaks_exactly_where_any_field_changes(actors: list[str], data: st.DataObject) -> None:
    records = [_record(i, actor) for i, actor in enumerate(actors)]
    rows = _chained(records)
    index = data.draw(st.integers(0, len(rows) - 1))
    field = data.draw(st.sampled_from(["actor", "status", "detail", "client_address", "occurred_at"]))
    original = rows[index].record
    value = {"actor": original.actor + "x", "status": original.status + 1, "detail": original.detail + " ",
             "client_address": None, "occurred_at": original.occurred_at + timedelta(microseconds=1)}[field]
    tampered = list(rows)
    tampered[index] = msgspec.structs.replace(rows[index], record=msgspec.structs.replace(original, **{field: value}))
    broken, _last, _checked = first_break(tampered)
    assert broken is not None and broken.sequence == index + 1


def test_office_scope() -> None:
    scope = OfficeScope(office_id=2, office_ids=frozenset({2, 5}))
    assert scope.includes(5) and not scope.includes(3) and not scope.includes(None)
    assert scope.narrow(None) == 2 and scope.narrow(5) == 5
    with pytest.raises(OfficeOutOfScope) as refused:
        scope.require(3, field="entries[0].office_id")
    assert refused.value.status_hint == 403 and refused.value.field == "entries[0].office_id"
    assert OfficeScope(office_id=1, office_ids=frozenset({1}), whole_institution=True).includes(42)


def test_the_security_page_lists_every_role_and_permission() -> None:
    from pathlib import Path

    page = (Path(__file__).resolve().parents[3] / "docs" / "security.md").read_text()
    missing = [f"`{name}`" for name in [*CATALOGUE, *ROLES] if f"`{name}`" not in page]
    assert not missing, f"docs/security.md does not list {missing}"
