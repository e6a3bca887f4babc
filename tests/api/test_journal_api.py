"""The journal through HTTP: one happy path per route and every bad input the issue lists,
each answered with problem details naming the field, and nothing written."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text


def body(world, amount: str = "150000", **overrides) -> dict:  # type: ignore[no-untyped-def]
    payload = {
        "office_id": world.office_id,
        "value_date": "2026-10-05",
        "description": "Versement espèces",
        "lines": [
            {"account_code": world.cash, "side": "debit", "amount": amount, "currency": "XOF"},
            {"account_code": world.deposits, "side": "credit", "amount": amount, "currency": "XOF"},
        ],
    }
    payload.update(overrides)
    return payload


async def entry_count(uow_factory, world) -> int:  # type: ignore[no-untyped-def]
    async with uow_factory() as uow:
        return int(await uow.session.scalar(
            text("SELECT count(*) FROM journal_entry WHERE office_id = :o"), {"o": world.office_id}) or 0)


async def test_post_get_and_list_an_entry(client, world) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/api/v1/journal-entries", json=body(world, reference={
        "source_type": "loan-transaction", "source_id": "LN-0042"}))
    assert response.status_code == 201, response.text
    posted = response.json()
    assert posted["actor"] == "teller-1"
    assert posted["lines"][0] == {"line_no": 1, "account_code": world.cash, "side": "debit", "amount": "150000",
                                  "currency": "XOF"}
    assert {b["account_code"]: (b["balance_before"], b["balance_after"]) for b in posted["balances"]} == {
        world.cash: ("0", "150000"), world.deposits: ("0", "150000")}
    fetched = (await client.get(f"/api/v1/journal-entries/{posted['id']}")).json()
    assert fetched["id"] == posted["id"] and fetched["booked_at"] == posted["booked_at"]
    listed = (await client.get("/api/v1/journal-entries", params={"source_id": "LN-0042"})).json()
    assert [e["id"] for e in listed["items"]] == [posted["id"]]


async def test_listing_pages_with_a_stable_cursor_and_filters(client, world) -> None:  # type: ignore[no-untyped-def]
    ids = []
    for amount in range(1, 8):
        ids.append((await client.post("/api/v1/journal-entries", json=body(world, str(amount)))).json()["id"])
    seen: list[str] = []
    cursor = None
    while True:
        params = {"office_id": world.office_id, "account_code": world.cash, "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/journal-entries", params=params)).json()
        seen += [e["id"] for e in page["items"]]
        # A posting made while paging lands after the cursor and is seen exactly once.
        if len(seen) == 3:
            ids.append((await client.post("/api/v1/journal-entries", json=body(world, "99"))).json()["id"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    head_office_view = (await client.get("/api/v1/journal-entries",
                                         params={"office_id": world.head_office_id, "account_code": world.cash})).json()
    assert len(head_office_view["items"]) == len(ids), "an office includes its branches"


async def test_reversal_through_the_api(client, world) -> None:  # type: ignore[no-untyped-def]
    posted = (await client.post("/api/v1/journal-entries", json=body(world, "5000"))).json()
    reversal = await client.post(f"/api/v1/journal-entries/{posted['id']}/reversal", json={"description": "Erreur de saisie"})
    assert reversal.status_code == 201, reversal.text
    assert reversal.json()["reverses"] == posted["id"]
    assert [b["balance_after"] for b in reversal.json()["balances"]] == ["0", "0"]
    again = await client.post(f"/api/v1/journal-entries/{posted['id']}/reversal")
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    assert (await client.get(f"/api/v1/journal-entries/{posted['id']}")).json()["reversed_by"] == reversal.json()["id"]
    missing = await client.post("/api/v1/journal-entries/01a20845-0000-7000-8000-000000000000/reversal")
    assert missing.status_code == 404


async def test_idempotency_key_header_replays_the_original_response(client, uow_factory, world) -> None:  # type: ignore[no-untyped-def]
    headers = {"Idempotency-Key": f"{world.prefix}-pay-1"}
    first = await client.post("/api/v1/journal-entries", json=body(world, "777"), headers=headers)
    second = await client.post("/api/v1/journal-entries", json=body(world, "777"), headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    other = await client.post("/api/v1/journal-entries", json=body(world, "778"), headers=headers)
    assert other.status_code == 409 and other.json()["field"] == "idempotency_key"
    assert await entry_count(uow_factory, world) == 1


def _lines(world, *specs):  # type: ignore[no-untyped-def]
    return [{"account_code": code, "side": side, "amount": amount, "currency": currency}
            for code, side, amount, currency in specs]


BAD_INPUTS = {
    "unbalanced": (lambda w: body(w, lines=_lines(w, (w.cash, "debit", "100", "XOF"), (w.deposits, "credit", "90", "XOF"))),
                   422, "lines"),
    "negative": (lambda w: body(w, "-100"), 422, "lines[0].amount"),
    "zero": (lambda w: body(w, "0"), 422, "lines[0].amount"),
    "wrong-precision": (lambda w: body(w, "100.50"), 422, "lines[0].amount"),
    "unknown-account": (lambda w: body(w, lines=_lines(w, ("NOPE", "debit", "1", "XOF"), (w.deposits, "credit", "1", "XOF"))),
                        422, "lines[0].account_code"),
    "header-account": (lambda w: body(w, lines=_lines(w, (w.header, "debit", "1", "XOF"), (w.deposits, "credit", "1", "XOF"))),
                       422, "lines[0].account_code"),
    "disabled-account": (lambda w: body(w, lines=_lines(w, (w.cash, "debit", "1", "XOF"), (w.disabled, "credit", "1", "XOF"))),
                         422, "lines[1].account_code"),
    "currency-mismatch": (lambda w: body(w, lines=_lines(w, (w.euro_only, "debit", "1", "XOF"), (w.deposits, "credit", "1", "XOF"))),
                          422, "lines[0].account_code"),
    "mixed-currencies": (lambda w: body(w, lines=_lines(w, (w.cash, "debit", "1", "XOF"), (w.deposits, "credit", "1", "EUR"))),
                         422, "lines"),
    "unknown-office": (lambda w: body(w, office_id=2_000_000_000), 422, "office_id"),
    "office-id-overflow": (lambda w: body(w, office_id=2**40), 400, "office_id"),
    "one-line": (lambda w: body(w, lines=_lines(w, (w.cash, "debit", "1", "XOF"))), 400, "lines"),
    "unknown-field": (lambda w: body(w, colour="blue"), 400, "colour"),
    "amount-not-a-number": (lambda w: body(w, "abc"), 400, "lines[0].amount"),
    "nan": (lambda w: body(w, "NaN"), 400, "lines[0].amount"),
    "huge-exponent": (lambda w: body(w, "1e999999"), 400, "lines[0].amount"),
    "python-only-digits": (lambda w: body(w, "1_000"), 400, "lines[0].amount"),
    "too-many-digits": (lambda w: body(w, "1000000000000000000"), 400, "lines[0].amount"),
    "nul-in-description": (lambda w: body(w, description="a\u0000b"), 400, "description"),
    "absurd-date": (lambda w: body(w, value_date="0001-01-01"), 400, "value_date"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
async def test_bad_input_is_a_problem_naming_the_field_and_writes_nothing(client, uow_factory, world, case: str) -> None:  # type: ignore[no-untyped-def]
    make, status, field = BAD_INPUTS[case]
    response = await client.post("/api/v1/journal-entries", json=make(world))
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == status and problem["type"].startswith("urn:grandlivre:problem:")
    assert field in (problem.get("field") or "") + json.dumps(problem.get("errors", [])), problem
    assert await entry_count(uow_factory, world) == 0


async def test_closed_period_is_a_conflict(client, uow_factory, world) -> None:  # type: ignore[no-untyped-def]
    closure = await client.post("/api/v1/accounting-closures", json={"office_id": world.office_id, "closing_date": "2026-10-31"})
    assert closure.status_code == 201
    response = await client.post("/api/v1/journal-entries", json=body(world))
    assert response.status_code == 409 and response.json()["field"] == "value_date"
    assert await entry_count(uow_factory, world) == 0


async def test_malformed_json_and_missing_actor_and_huge_payloads(client, uow_factory, world) -> None:  # type: ignore[no-untyped-def]
    malformed = await client.post("/api/v1/journal-entries", content=b'{"office_id": 1,', headers={"content-type": "application/json"})
    assert malformed.status_code == 400
    assert malformed.headers["content-type"].startswith("application/problem+json")
    anonymous = await client.post("/api/v1/journal-entries", json=body(world), headers={"Authorization": ""})
    assert anonymous.status_code == 401
    huge = await client.post("/api/v1/journal-entries", content=b"[" + b"1," * 5_000_000 + b"1]",
                             headers={"content-type": "application/json"})
    assert huge.status_code == 413
    assert await entry_count(uow_factory, world) == 0


async def test_batch_posting_is_atomic_and_names_the_failing_entry(client, uow_factory, world) -> None:  # type: ignore[no-untyped-def]
    entries = [body(world, str(10 + i)) for i in range(20)]
    entries[13]["lines"][0]["amount"] = "5"
    failed = await client.post("/api/v1/journal-entries/batch", json={"entries": entries})
    assert failed.status_code == 422 and failed.json()["field"] == "entries[13].lines"
    assert await entry_count(uow_factory, world) == 0
    entries[13]["lines"][0]["amount"] = "23"
    posted = await client.post("/api/v1/journal-entries/batch", json={"entries": entries})
    assert posted.status_code == 201 and posted.json()["line_count"] == 40
    assert await entry_count(uow_factory, world) == 20


async def test_trial_balance_and_verify_endpoints(client, world) -> None:  # type: ignore[no-untyped-def]
    await client.post("/api/v1/journal-entries", json=body(world, "1000"))
    trial = (await client.get("/api/v1/reports/trial-balance", params={"office_id": world.office_id})).json()
    assert {(r["account_code"], r["closing_debit"], r["closing_credit"]) for r in trial["rows"]
            if not r["is_header"]} == {(world.cash, "1000", "0"), (world.deposits, "0", "1000")}
    (total,) = trial["totals"]
    assert (total["closing_debit"], total["closing_credit"], total["balanced"]) == ("1000", "1000", True)
    report = (await client.get("/api/v1/ledger/verify")).json()
    assert report["ok"] is True and report["problems"] == []


async def test_a_bad_idempotency_key_in_the_body_is_a_400_naming_it(client, world) -> None:  # type: ignore[no-untyped-def]
    # The body field shares its name with the header's dependency; it must stay a client error.
    for path in ("/api/v1/journal-entries", "/api/v1/journal-entries/01a20845-0000-7000-8000-000000000000/reversal"):
        payload = body(world) if path.endswith("entries") else {}
        response = await client.post(path, json={**payload, "idempotency_key": "clé avec espaces"})
        assert response.status_code == 400, response.text
        assert "idempotency_key" in response.json()["field"]
