"""The audit log: every command and every refusal is recorded with who, from where, what
and the outcome; PostgreSQL keeps it append-only; its hash chain exposes tampering."""

from __future__ import annotations

import asyncio
import csv
import io

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from servicing.errors import sqlstate_of
from servicing.staff.audit import verify_chain
from tests.api.test_journal_api import body


async def latest(client, **filters: object) -> dict:  # type: ignore[no-untyped-def, type-arg]
    page = await client.get("/api/v1/audit-log", params={"limit": 1, **filters})
    assert page.status_code == 200, page.text
    return page.json()["items"][0]  # type: ignore[no-any-return]


async def test_a_command_is_recorded_with_who_where_what_and_after(client, admin, world) -> None:  # type: ignore[no-untyped-def]
    posted = (await client.post("/api/v1/journal-entries", json=body(world, "4200"))).json()
    row = await latest(client, action="journal:post", actor=admin.username)
    assert row["method"] == "POST" and row["path"] == "/api/v1/journal-entries"
    assert row["status"] == 201 and row["outcome"] == "succeeded"
    assert row["user_id"] == admin.user_id and row["client_address"]
    assert row["detail"]["request"]["lines"][0]["amount"] == "4200"
    assert row["detail"]["after"]["id"] == posted["id"]
    assert len(row["row_hash"]) == 64 and len(row["previous_hash"]) == 64


async def test_refused_and_rejected_requests_are_recorded(client, anonymous, world, staff_user) -> None:  # type: ignore[no-untyped-def]
    await anonymous.post("/api/v1/gl-accounts", json={"code": "PIRATE"})
    row = await latest(client, path_prefix="/api/v1/gl-accounts", outcome="refused")
    assert (row["actor"], row["status"], row["detail"]["reason"]) == ("anonymous", 401, "no token")
    assert row["detail"]["request"] == {"code": "PIRATE"}
    teller = await staff_user("teller")
    await client.post("/api/v1/gl-accounts", json={"code": "PIRATE2"}, headers=teller.headers)
    row = await latest(client, actor=teller.username)
    assert (row["status"], row["outcome"], row["action"]) == (403, "refused", "chart:write")
    await client.get("/api/v1/users", headers=teller.headers)
    row = await latest(client, actor=teller.username)
    assert (row["method"], row["status"]) == ("GET", 403), "refused reads are recorded too"
    unbalanced = body(world, "10")
    unbalanced["lines"][0]["amount"] = "11"
    await client.post("/api/v1/journal-entries", json=unbalanced)
    row = await latest(client, action="journal:post", outcome="rejected")
    assert row["status"] == 422 and row["detail"]["problem"]["type"].endswith("unbalanced-entry")


async def test_auditors_search_and_export_but_change_nothing(client, staff_user, world) -> None:  # type: ignore[no-untyped-def]
    auditor = await staff_user("auditor")
    assert (await client.post("/api/v1/journal-entries", json=body(world), headers=auditor.headers)).status_code == 403
    page = await client.get("/api/v1/audit-log", params={"limit": 2}, headers=auditor.headers)
    assert page.status_code == 200 and len(page.json()["items"]) == 2
    older = await client.get("/api/v1/audit-log", headers=auditor.headers,
                             params={"limit": 2, "before_sequence": page.json()["next_before_sequence"]})
    assert older.json()["items"][0]["sequence"] < page.json()["items"][-1]["sequence"]
    exported = await client.get("/api/v1/audit-log", params={"format": "csv", "actor": auditor.username},
                                headers=auditor.headers)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert rows and {r["actor"] for r in rows} == {auditor.username}
    assert rows[0]["status"] == "403", "the refused posting comes first (oldest first)"
    reads = await latest(client, actor=auditor.username, method="GET")
    assert reads["path"] == "/api/v1/audit-log", "reading the audit log is itself recorded"
    verified = await client.get("/api/v1/audit-log/verify", headers=auditor.headers)
    assert verified.status_code == 200 and verified.json()["ok"] is True


async def test_the_database_keeps_the_audit_log_append_only(engine, admin_engine) -> None:  # type: ignore[no-untyped-def]
    for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
        async with engine.connect() as connection:
            with pytest.raises(DBAPIError) as refused:
                await connection.execute(text(statement))
            assert sqlstate_of(refused.value) == "42501", statement  # the app role has no such privilege
        async with admin_engine.connect() as connection:
            with pytest.raises(DBAPIError) as refused:
                await connection.execute(text(statement))
            assert sqlstate_of(refused.value) == "GL040", statement  # and the owner meets the trigger


async def test_tampering_is_detected_by_the_chain_check(client, uow_factory, admin_engine) -> None:  # type: ignore[no-untyped-def]
    await client.get("/api/v1/audit-log/verify")
    assert (await verify_chain(uow_factory)).ok
    async with admin_engine.connect() as connection:
        target, actor = (await connection.execute(text(
            "SELECT seq, actor FROM audit_log ORDER BY seq DESC OFFSET 3 LIMIT 1"))).one()
    async def owner(sql: str) -> None:
        async with admin_engine.begin() as connection:
            await connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
            await connection.execute(text(sql), {"seq": target, "actor": actor})
            await connection.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
    await owner("UPDATE audit_log SET actor = 'quelqu''un d''autre' WHERE seq = :seq")
    try:
        report = await verify_chain(uow_factory)
        assert not report.ok and report.first_break is not None
        assert report.first_break.sequence == target and "changed" in report.first_break.reason
        answer = (await client.get("/api/v1/audit-log/verify")).json()
        assert answer["ok"] is False and answer["first_break"]["sequence"] == target
    finally:
        await owner("UPDATE audit_log SET actor = :actor WHERE seq = :seq")
    assert (await verify_chain(uow_factory)).ok


async def test_the_chain_stays_whole_under_concurrent_requests(client, world, uow_factory) -> None:  # type: ignore[no-untyped-def]
    answers = await asyncio.gather(*[client.post("/api/v1/journal-entries", json=body(world, str(100 + i)))
                                     for i in range(40)])
    assert all(a.status_code == 201 for a in answers)
    report = await verify_chain(uow_factory)
    assert report.ok, report
