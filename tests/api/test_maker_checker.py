"""Maker-checker on manual journal entries: above the threshold an entry waits for a
second person; the maker cannot approve it; approving runs it once; rejecting never."""

from __future__ import annotations

import asyncio

import pytest

from tests.api.test_journal_api import body, entry_count


@pytest.fixture
async def threshold(client):  # type: ignore[no-untyped-def]
    """Manual entries above 1,000,000 XOF need approval, for the test's duration."""
    rule = await client.put("/api/v1/approval-rules/journal-entry.post", json={
        "enabled": True, "amount_threshold": "1000000", "currency": "XOF"})
    assert rule.status_code == 200, rule.text
    client.app.state.maker_checker._rules_until = 0.0
    yield rule.json()
    await client.put("/api/v1/approval-rules/journal-entry.post", json={
        "enabled": False, "amount_threshold": "5000000", "currency": "XOF"})


async def test_entries_above_the_threshold_wait_for_another_person(  # type: ignore[no-untyped-def]
    client, threshold, world, staff_user, uow_factory,
) -> None:
    maker = await staff_user("accountant", office_id=world.office_id)
    checker = await staff_user("accountant")
    teller = await staff_user("teller")
    small = await client.post("/api/v1/journal-entries", json=body(world, "1000000"), headers=maker.headers)
    assert small.status_code == 201, "at the threshold: booked at once"
    submitted = await client.post("/api/v1/journal-entries", json=body(world, "2500000"), headers=maker.headers)
    assert submitted.status_code == 202, submitted.text
    pending = submitted.json()
    assert pending["status"] == "pending" and pending["maker"] == maker.username
    assert pending["amount"] == "2500000" and pending["office_id"] == world.office_id
    assert await entry_count(uow_factory, world) == 1, "nothing booked before approval"
    approval = f"/api/v1/approvals/{pending['approval_id']}"

    own = await client.post(f"{approval}/approve", headers=maker.headers)
    assert own.status_code == 403 and own.json()["type"] == "urn:grandlivre:problem:self-approval-refused"
    assert (await client.post(f"{approval}/approve", headers=teller.headers)).status_code == 403
    listed = (await client.get("/api/v1/approvals", headers=checker.headers)).json()
    assert pending["approval_id"] in [p["approval_id"] for p in listed]
    assert await entry_count(uow_factory, world) == 1

    first, second = await asyncio.gather(
        client.post(f"{approval}/approve", headers=checker.headers, json={"reason": "pièces vues"}),
        client.post(f"{approval}/approve", headers=checker.headers))
    statuses = sorted([first.status_code, second.status_code])
    assert statuses == [200, 409], (first.text, second.text)
    decided = first.json() if first.status_code == 200 else second.json()
    assert decided["status"] == "executed" and decided["checker"] == checker.username
    assert decided["result"]["entry"]["actor"] == maker.username, "the entry is the maker's, approved by the checker"
    assert await entry_count(uow_factory, world) == 2, "run exactly once"
    entry = await client.get(f"/api/v1/journal-entries/{decided['result']['entry']['entry_id']}")
    assert entry.status_code == 200 and entry.json()["lines"][0]["amount"] == "2500000"


async def test_rejected_commands_never_run(client, threshold, world, staff_user, uow_factory) -> None:  # type: ignore[no-untyped-def]
    maker = await staff_user("accountant")
    checker = await staff_user("branch_manager")
    pending = (await client.post("/api/v1/journal-entries", json=body(world, "3000000"), headers=maker.headers,
                                 )).json()
    again = await client.post("/api/v1/journal-entries", json=body(world, "3000000"),
                              headers={**maker.headers, "Idempotency-Key": "mc-1"})
    replay = await client.post("/api/v1/journal-entries", json=body(world, "3000000"),
                               headers={**maker.headers, "Idempotency-Key": "mc-1"})
    assert again.json()["approval_id"] == replay.json()["approval_id"], "a resent request is the same command"
    rejected = await client.post(f"/api/v1/approvals/{pending['approval_id']}/reject", headers=checker.headers,
                                 json={"reason": "montant non justifié"})
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert (await client.post(f"/api/v1/approvals/{pending['approval_id']}/approve",
                              headers=checker.headers)).status_code == 409
    assert await entry_count(uow_factory, world) == 0
    batch = await client.post("/api/v1/journal-entries/batch", headers=maker.headers,
                              json={"entries": [body(world, "10"), body(world, "3000000")]})
    assert batch.status_code == 422 and batch.json()["field"] == "entries[1]"


async def test_rules_name_known_commands_and_permissions(client) -> None:  # type: ignore[no-untyped-def]
    rules = (await client.get("/api/v1/approval-rules")).json()
    assert [r["command"] for r in rules] == ["deposit-account.transfer", "deposit-account.withdrawal",
                                             "journal-entry.post"]
    unknown = await client.put("/api/v1/approval-rules/loan.disburse", json={"enabled": True})
    assert unknown.status_code == 404 and unknown.json()["field"] == "command"
    bad = await client.put("/api/v1/approval-rules/journal-entry.post",
                           json={"enabled": True, "checker_permission": "magic:wand"})
    assert bad.status_code == 422 and bad.json()["field"] == "checker_permission"
