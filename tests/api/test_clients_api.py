"""Clients through the HTTP API: every operation and every refusal, office scoping, and
"nothing written on bad input". Names and identity numbers are unique per test (the
database is shared by the whole session)."""

from __future__ import annotations

import itertools
import os
from datetime import date, timedelta
from typing import Any

import pytest

from servicing.clients.kyc_rules import DOCUMENT_BYTES_MAX

_ids = itertools.count(1)
JPEG = b"\xff\xd8\xff\xe0" + b"\x10JFIF" + b"\x00" * 200
PDF = b"%PDF-1.4\n" + b"0" * 200
URL = "/api/v1/clients"


def unique(world: Any) -> str:
    return f"{world.prefix}x{next(_ids)}p{os.getpid() % 1000}"


def person(world: Any, **overrides: Any) -> dict[str, Any]:
    tag = unique(world)
    body = {"kind": "individual", "office_id": world.office_id, "first_name": "Awa", "last_name": f"Diop {tag}",
            "birth_date": "1990-05-17", "gender": "female", "national_id": f"NI-{tag}", "phone": "+221 77 123 45 67",
            "address": "Rue 10, Thiès", "occupation": "Commerçante", "income_monthly": "150000",
            "income_currency": "XOF", "loan_officer": "agent-1", "region": "Thiès"}
    body.update(overrides)
    return body


async def create(client: Any, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    response = await client.post(URL, json=body, **kwargs)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def assert_problem(response: Any, status: int, field: str | None = None, type_: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    if field is not None:
        assert body["field"] == field, body
        assert any(e["field"] == field for e in body["errors"]), body
    if type_ is not None:
        assert body["type"] == f"urn:grandlivre:problem:{type_}", body
    return body  # type: ignore[no-any-return]


async def count_named(client: Any, national_id: str) -> int:
    response = await client.get(URL, params={"national_id": national_id})
    assert response.status_code == 200
    return len(response.json()["items"])


# --- create, read, kinds -------------------------------------------------------------------------

async def test_create_each_kind_and_read_back(client, world) -> None:  # type: ignore[no-untyped-def]
    awa = await create(client, person(world))
    assert awa["status"] == "pending" and awa["kind"] == "individual" and awa["version"] == 1
    assert awa["income_monthly"] == "150000" and awa["created_by"] == "teller-1"
    assert awa["display_name"].startswith("DIOP ")
    business = await create(client, {
        "kind": "business", "office_id": world.office_id, "legal_name": f"SARL Baobab {unique(world)}",
        "registration_number": f"SN-DKR-{unique(world)}", "sector": "Commerce", "founded_on": "2015-03-01",
        "representatives": [{"full_name": "Moussa Ndiaye", "role": "gérant", "phone": "+221 77 000 11 22"}]})
    assert business["kind"] == "business" and business["representatives"][0]["role"] == "gérant"
    member = await create(client, person(world))
    group = await create(client, {"kind": "group", "office_id": world.office_id,
                                  "group_name": f"GIE Ndiambour {unique(world)}",
                                  "member_ids": [awa["client_id"], member["client_id"]], "leader_id": awa["client_id"]})
    assert sorted(group["member_ids"]) == sorted([awa["client_id"], member["client_id"]])
    assert group["leader_id"] == awa["client_id"]
    read = (await client.get(f"{URL}/{business['client_id']}")).json()
    assert read == business
    listed = (await client.get(URL, params={"office_id": world.office_id, "limit": 500})).json()["items"]
    assert {c["client_id"]: c for c in listed}[group["client_id"]] == group
    assert {c["client_id"]: c for c in listed}[business["client_id"]] == business
    assert_problem(await client.get(f"{URL}/2147483000"), 404, "client_id", "not-found")


async def test_malformed_bodies_are_400_naming_the_field_and_write_nothing(client, world) -> None:  # type: ignore[no-untyped-def]
    body = person(world)
    national_id = body["national_id"]
    for bad in ({**body, "kind": "martian"}, {k: v for k, v in body.items() if k != "first_name"},
                {**body, "legal_name": "SARL"}, {**body, "income_monthly": 150000},
                {**body, "income_monthly": "1e5"}, {**body, "first_name": "A\x00b"}, {**body, "birth_date": "1850-01-01"},
                {**body, "office_id": 0}):
        response = await client.post(URL, json=bad)
        problem = assert_problem(response, 400, type_="invalid-request")
        assert problem["errors"] and problem["field"] not in (None, "data", "body"), problem
    assert await count_named(client, national_id) == 0


async def test_rule_breaches_are_422_listing_every_field_and_write_nothing(client, world) -> None:  # type: ignore[no-untyped-def]
    body = person(world, birth_date=(date.today() + timedelta(days=1)).isoformat(), phone="12",
                  income_monthly="10.5", email="not-an-address")
    problem = assert_problem(await client.post(URL, json=body), 422, type_="invalid-client")
    assert {e["field"] for e in problem["errors"]} == {"birth_date", "phone", "income_monthly", "email"}
    assert await count_named(client, body["national_id"]) == 0
    assert_problem(await client.post(URL, json=person(world, office_id=2_000_000_000)), 422, "office_id")


# --- duplicates ----------------------------------------------------------------------------------

async def test_duplicate_identity_number_is_409_listing_the_client_and_cannot_be_overridden(client, world) -> None:  # type: ignore[no-untyped-def]
    tag = unique(world)
    first = await create(client, person(world, national_id=f"1 751 {tag}"))
    again = person(world, national_id=f"1751-{tag.upper()}", allow_duplicate=True)
    problem = assert_problem(await client.post(URL, json=again), 409, "national_id", "duplicate-client")
    assert problem["duplicate_client_ids"] == [first["client_id"]] and problem["overridable"] is False
    assert str(first["client_id"]) in problem["errors"][0]["message"]


async def test_same_name_and_birth_date_is_409_until_overridden(client, world) -> None:  # type: ignore[no-untyped-def]
    tag = unique(world)
    first = await create(client, person(world, first_name=f"Ndèye-Fatou {tag}", last_name="Sène", national_id=None))
    twin = person(world, first_name="SENE", last_name=f"ndeye fatou {tag}", national_id=None)
    problem = assert_problem(await client.post(URL, json=twin), 409, "last_name", "duplicate-client")
    assert problem["duplicate_client_ids"] == [first["client_id"]] and problem["overridable"] is True
    listed = (await client.get(URL, params={"name": f"fatou {tag}"})).json()["items"]
    assert [c["client_id"] for c in listed] == [first["client_id"]], "the refused twin was not written"
    second = await create(client, {**twin, "allow_duplicate": True})
    history = (await client.get(f"{URL}/{second['client_id']}/history")).json()["items"]
    assert history[0]["action"] == "created" and history[0]["after"]["duplicate_override"] == [first["client_id"]]


# --- list, filters, pagination, office scope -----------------------------------------------------

async def test_list_filters_and_cursor_pagination(client, world) -> None:  # type: ignore[no-untyped-def]
    tag = unique(world)
    made = [await create(client, person(world, last_name=f"Fall {tag}", first_name=f"Cheikh{i}")) for i in range(3)]
    await client.post(f"{URL}/{made[0]['client_id']}/activate")
    first = (await client.get(URL, params={"name": f"FALL {tag}", "limit": 2})).json()
    assert [c["client_id"] for c in first["items"]] == [made[0]["client_id"], made[1]["client_id"]]
    second = (await client.get(URL, params={"name": f"FALL {tag}", "limit": 2, "cursor": first["next_cursor"]})).json()
    assert [c["client_id"] for c in second["items"]] == [made[2]["client_id"]] and second["next_cursor"] is None
    active = (await client.get(URL, params={"name": f"fall {tag}", "status": "active"})).json()["items"]
    assert [c["client_id"] for c in active] == [made[0]["client_id"]]
    by_kind = (await client.get(URL, params={"name": f"fall {tag}", "kind": "business"})).json()["items"]
    assert by_kind == []
    by_id = (await client.get(URL, params={"national_id": made[1]["national_id"].lower()})).json()["items"]
    assert [c["client_id"] for c in by_id] == [made[1]["client_id"]]
    by_office = (await client.get(URL, params={"name": f"fall {tag}", "office_id": world.office_id})).json()["items"]
    assert len(by_office) == 3
    assert_problem(await client.get(URL, params={"cursor": "not-a-cursor"}), 422, "cursor")
    assert_problem(await client.get(URL, params={"limit": 0}), 400)
    assert_problem(await client.get(URL, params={"status": "asleep"}), 400)


@pytest.fixture
async def other_branch(uow_factory, head_office) -> int:  # type: ignore[no-untyped-def]
    from servicing import offices
    from servicing.commands import CreateOffice

    tag = f"OB{os.getpid() % 1000}x{next(_ids)}"
    office = await offices.create_office(uow_factory(), CreateOffice(
        code=tag, name=f"Agence {tag}", parent_id=head_office.office_id, region="Kaolack",
        opened_on=date(2026, 1, 1), actor="tests"))
    return office.office_id  # type: ignore[no-any-return]


async def test_branch_staff_see_and_act_on_their_branch_only(client, world, other_branch, staff_user) -> None:  # type: ignore[no-untyped-def]
    officer = await staff_user("loan_officer", office_id=world.office_id)
    tag = unique(world)
    mine = await create(client, person(world, last_name=f"Kane {tag}"))
    theirs = await create(client, person(world, office_id=other_branch, last_name=f"Kane {tag}", first_name="Binta"))
    headers = officer.headers
    listed = (await client.get(URL, params={"name": f"kane {tag}"}, headers=headers)).json()["items"]
    assert [c["client_id"] for c in listed] == [mine["client_id"]]
    assert_problem(await client.get(URL, params={"office_id": other_branch}, headers=headers), 403, "office_id",
                   "office-out-of-scope")
    theirs_url = f"{URL}/{theirs['client_id']}"
    for method, path, body in (("GET", "", None), ("PATCH", "", {"city": "Mbour"}), ("GET", "/history", None),
                               ("GET", "/kyc", None), ("GET", "/documents", None), ("POST", "/activate", None),
                               ("POST", "/documents", {"document_type": "passport"})):
        response = await client.request(method, theirs_url + path, json=body, headers=headers)
        assert_problem(response, 404, "client_id")
    assert_problem(await client.post(URL, json=person(world, office_id=other_branch), headers=headers), 403,
                   "office_id", "office-out-of-scope")
    assert_problem(await client.patch(f"{URL}/{mine['client_id']}", json={"office_id": other_branch},
                                      headers=headers), 403, "office_id")
    unchanged = (await client.get(theirs_url)).json()
    assert unchanged["version"] == 1 and unchanged["status"] == "pending"
    assert (await client.get(f"{URL}/{mine['client_id']}", headers=headers)).status_code == 200


async def test_a_teller_reads_but_cannot_write_or_verify(client, world, staff_user) -> None:  # type: ignore[no-untyped-def]
    teller = await staff_user("teller", office_id=world.office_id)
    made = await create(client, person(world))
    assert (await client.get(f"{URL}/{made['client_id']}", headers=teller.headers)).status_code == 200
    assert_problem(await client.post(URL, json=person(world), headers=teller.headers), 403, type_="permission-denied")
    assert_problem(await client.post(f"{URL}/{made['client_id']}/documents/1/verify", headers=teller.headers), 403)


# --- update and history --------------------------------------------------------------------------

async def test_update_keeps_before_and_after_in_the_history(client, world, staff_user) -> None:  # type: ignore[no-untyped-def]
    officer = await staff_user("loan_officer", office_id=world.office_id)
    made = await create(client, person(world))
    url = f"{URL}/{made['client_id']}"
    response = await client.patch(url, json={"phone": "+221 70 000 00 01", "occupation": None, "expected_version": 1},
                                  headers=officer.headers)
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["version"] == 2 and updated["phone"] == "+221 70 000 00 01" and updated["occupation"] is None
    assert updated["updated_by"] == officer.username
    same = (await client.patch(url, json={"phone": "+221 70 000 00 01"})).json()
    assert same["version"] == 2, "a change that changes nothing writes nothing"
    assert_problem(await client.patch(url, json={"city": "Mbour", "expected_version": 1}), 409, "expected_version")
    assert_problem(await client.patch(url, json={"legal_name": "SARL"}), 422, "legal_name", "invalid-client")
    assert_problem(await client.patch(url, json={"first_name": None}), 400)
    assert_problem(await client.patch(url, json={"shoe_size": 42}), 400)
    history = (await client.get(f"{url}/history")).json()
    assert [i["action"] for i in history["items"]] == ["created", "updated"]
    change = history["items"][1]
    assert change["changed_by"] == officer.username
    assert change["before"] == {"phone": "+221 77 123 45 67", "occupation": "Commerçante"}
    assert change["after"] == {"phone": "+221 70 000 00 01", "occupation": None}
    page = (await client.get(f"{url}/history", params={"limit": 1})).json()
    assert len(page["items"]) == 1 and page["next_cursor"] is not None
    rest = (await client.get(f"{url}/history", params={"limit": 1, "cursor": page["next_cursor"]})).json()
    assert rest["items"][0]["action"] == "updated"


async def test_changing_the_identity_number_to_another_clients_is_409(client, world) -> None:  # type: ignore[no-untyped-def]
    first = await create(client, person(world))
    second = await create(client, person(world))
    response = await client.patch(f"{URL}/{second['client_id']}", json={"national_id": first["national_id"]})
    assert_problem(response, 409, "national_id", "duplicate-client")
    assert (await client.get(f"{URL}/{second['client_id']}")).json()["version"] == 1


# --- status lifecycle ----------------------------------------------------------------------------

async def test_status_lifecycle_and_its_refusals(client, world) -> None:  # type: ignore[no-untyped-def]
    made = await create(client, person(world))
    url = f"{URL}/{made['client_id']}"
    future = (date.today() + timedelta(days=2)).isoformat()
    assert_problem(await client.post(f"{url}/activate", json={"effective_on": future}), 422, "effective_on")
    active = (await client.post(f"{url}/activate")).json()
    assert active["status"] == "active" and active["activated_on"] == date.today().isoformat()
    assert_problem(await client.post(f"{url}/activate"), 409, "status", "transition-refused")
    assert_problem(await client.post(f"{url}/close"), 422, "reason", "reason-required")
    assert_problem(await client.post(f"{url}/close", json={"reason": ""}), 400, "reason")
    closed = (await client.post(f"{url}/close", json={"reason": "Départ de la zone"})).json()
    assert closed["status"] == "closed" and closed["status_reason"] == "Départ de la zone"
    assert_problem(await client.post(f"{url}/activate"), 409, "status")
    assert_problem(await client.patch(url, json={"city": "Mbour"}), 409, "status")
    assert_problem(await client.post(f"{url}/documents", json={"document_type": "passport"}), 409, "client_id")
    reopened = (await client.post(f"{url}/reopen")).json()
    assert reopened["status"] == "pending"
    blacklisted = (await client.post(f"{url}/blacklist", json={"reason": "Fraude documentaire"})).json()
    assert blacklisted["status"] == "blacklisted"
    assert_problem(await client.post(f"{url}/reopen"), 422, "reason", "reason-required")
    assert (await client.post(f"{url}/reopen", json={"reason": "Levée après enquête"})).json()["status"] == "pending"
    history = (await client.get(f"{url}/history")).json()["items"]
    assert [i["after"].get("status") for i in history] == ["pending", "active", "closed", "pending", "blacklisted",
                                                           "pending"]


# --- groups --------------------------------------------------------------------------------------

async def test_group_membership_and_leader(client, world, other_branch) -> None:  # type: ignore[no-untyped-def]
    a, b, c = [(await create(client, person(world)))["client_id"] for _ in range(3)]
    outsider = (await create(client, person(world, office_id=other_branch)))["client_id"]
    business = (await create(client, {"kind": "business", "office_id": world.office_id,
                                      "legal_name": f"SARL {unique(world)}"}))["client_id"]
    group = await create(client, {"kind": "group", "office_id": world.office_id, "group_name": f"GIE {unique(world)}",
                                  "member_ids": [a, b], "leader_id": a})
    url = f"{URL}/{group['client_id']}"
    added = (await client.post(f"{url}/members", json={"member_id": c, "leader": True})).json()
    assert c in added["member_ids"] and added["leader_id"] == c
    assert_problem(await client.post(f"{url}/members", json={"member_id": c}), 409, "member_id")
    assert_problem(await client.post(f"{url}/members", json={"member_id": business}), 422, "member_ids[3]")
    assert_problem(await client.post(f"{url}/members", json={"member_id": outsider}), 422, "member_ids[3]")
    assert_problem(await client.post(f"{url}/members", json={"member_id": 2_000_000_000}), 422, "member_ids[3]")
    assert_problem(await client.delete(f"{url}/members/{c}"), 409, "member_id")
    assert_problem(await client.put(f"{url}/leader", json={"leader_id": outsider}), 422, "leader_id")
    assert (await client.put(f"{url}/leader", json={"leader_id": b})).json()["leader_id"] == b
    removed = (await client.delete(f"{url}/members/{c}")).json()
    assert sorted(removed["member_ids"]) == sorted([a, b])
    assert_problem(await client.delete(f"{url}/members/{c}"), 404, "member_id")
    assert_problem(await client.post(f"{URL}/{a}/members", json={"member_id": b}), 422, "client_id")
    # a member closed after joining does not block later changes of the group
    await client.post(f"{URL}/{a}/close", json={"reason": "Décès"})
    assert (await client.patch(url, json={"city": "Louga"})).json()["city"] == "Louga"
    actions = [i["action"] for i in (await client.get(f"{url}/history")).json()["items"]]
    assert actions == ["created", "member_added", "leader_changed", "member_removed", "updated"]


# --- documents, files, verification, KYC ---------------------------------------------------------

async def test_documents_files_verification_and_kyc(client, world, staff_user) -> None:  # type: ignore[no-untyped-def]
    maker = await staff_user("loan_officer", office_id=world.office_id)
    checker = await staff_user("branch_manager", office_id=world.office_id)
    made = await create(client, person(world))
    url = f"{URL}/{made['client_id']}"
    kyc = (await client.get(f"{url}/kyc")).json()
    assert kyc["complete"] is False and kyc["missing_fields"] == []
    assert kyc["missing_documents"] == [["national_id_card", "passport", "consular_card", "voter_card"]]

    assert_problem(await client.post(f"{url}/documents", json={
        "document_type": "national_id_card", "issued_on": "2024-01-01", "expires_on": "2023-01-01"}), 422, "expires_on")
    assert_problem(await client.post(f"{url}/documents", json={"document_type": "tattoo"}), 400, "document_type")
    expiry = (date.today() + timedelta(days=30)).isoformat()
    document = (await client.post(f"{url}/documents", headers=maker.headers, json={
        "document_type": "national_id_card", "number": "1 751 1990 00123", "issuing_authority": "DAF Dakar",
        "issued_on": "2020-01-01", "expires_on": expiry})).json()
    doc_url = f"{url}/documents/{document['document_id']}"
    assert document["status"] == "pending" and document["files"] == []
    assert_problem(await client.post(f"{doc_url}/verify", headers=checker.headers), 409, "document_id")

    files_url = f"{doc_url}/files"
    assert_problem(await client.post(files_url, files={"file": ("cni.exe", b"MZ\x90\x00", "image/jpeg")},
                                     headers=maker.headers), 415, "file", "unsupported-file")
    assert_problem(await client.post(files_url, files={"file": ("cni.jpg", PDF, "image/jpeg")},
                                     headers=maker.headers), 415, "content_type")
    assert_problem(await client.post(files_url, files={"file": ("cni.jpg", b"", "image/jpeg")},
                                     headers=maker.headers), 422, "file")
    too_large = b"%PDF-1.4\n" + b"0" * DOCUMENT_BYTES_MAX
    assert_problem(await client.post(files_url, files={"file": ("big.pdf", too_large, "application/pdf")},
                                     headers=maker.headers), 413, "file", "file-too-large")
    assert_problem(await client.post(files_url, json={"file": "aGVsbG8="}, headers=maker.headers), 400)
    assert (await client.get(doc_url)).json()["files"] == [], "refused files are not kept"
    stored = await client.post(files_url, files={"file": ("../../etc/cni recto.jpg", JPEG, "image/jpeg")},
                               headers=maker.headers)
    assert stored.status_code == 201, stored.text
    info = stored.json()
    assert info["file_name"] == "cni recto.jpg" and info["size_bytes"] == len(JPEG)
    octet = await client.post(files_url, files={"file": ("verso", PDF, "application/octet-stream")}, headers=maker.headers)
    assert octet.status_code == 201 and octet.json()["content_type"] == "application/pdf"

    download = await client.get(f"{files_url}/{info['file_id']}")
    assert download.status_code == 200 and download.content == JPEG
    assert download.headers["content-type"] == "image/jpeg"
    assert download.headers["content-disposition"] == 'attachment; filename="cni recto.jpg"'
    assert_problem(await client.get(f"{files_url}/2147483000"), 404, "file_id")

    refused = assert_problem(await client.post(f"{doc_url}/verify", headers=maker.headers), 403, "actor",
                             "self-verification-refused")
    assert "four eyes" in refused["detail"]
    assert_problem(await client.post(f"{doc_url}/reject", json={}, headers=checker.headers), 400, "comment")
    verified = (await client.post(f"{doc_url}/verify", json={"comment": "Conforme à l'original"},
                                  headers=checker.headers)).json()
    assert verified["status"] == "verified" and verified["verified_by"] == checker.username
    assert_problem(await client.post(f"{doc_url}/reject", json={"comment": "Illisible"}, headers=checker.headers),
                   409, "document_id")
    assert_problem(await client.post(files_url, files={"file": ("x.jpg", JPEG, "image/jpeg")}, headers=maker.headers),
                   409, "document_id")

    kyc = (await client.get(f"{url}/kyc")).json()
    assert kyc["complete"] is True and kyc["missing_documents"] == []
    later = (await client.get(f"{url}/kyc", params={"on": (date.today() + timedelta(days=31)).isoformat()})).json()
    assert later["complete"] is False and later["expired_documents"] == [document["document_id"]]
    listed = (await client.get(f"{url}/documents")).json()
    assert [d["document_id"] for d in listed] == [document["document_id"]] and len(listed[0]["files"]) == 2
    actions = [i["action"] for i in (await client.get(f"{url}/history")).json()["items"]]
    assert actions == ["created", "document_recorded", "document_file_added", "document_file_added",
                       "document_verified"]


async def test_a_rejected_document_needs_a_reason_and_does_not_count(client, world, staff_user) -> None:  # type: ignore[no-untyped-def]
    checker = await staff_user("loan_officer", office_id=world.office_id)
    made = await create(client, person(world))
    url = f"{URL}/{made['client_id']}"
    document = (await client.post(f"{url}/documents", json={"document_type": "passport", "number": "A123"})).json()
    await client.post(f"{url}/documents/{document['document_id']}/files", files={"file": ("p.png", b"\x89PNG\r\n\x1a\n" + b"0" * 20, "image/png")})
    rejected = (await client.post(f"{url}/documents/{document['document_id']}/reject",
                                  json={"comment": "Photo illisible"}, headers=checker.headers)).json()
    assert rejected["status"] == "rejected" and rejected["verification_comment"] == "Photo illisible"
    assert (await client.get(f"{url}/kyc")).json()["complete"] is False


async def test_an_expired_document_cannot_be_verified(client, world, staff_user) -> None:  # type: ignore[no-untyped-def]
    checker = await staff_user("loan_officer", office_id=world.office_id)
    made = await create(client, person(world))
    url = f"{URL}/{made['client_id']}"
    document = (await client.post(f"{url}/documents", json={"document_type": "passport", "issued_on": "2010-01-01",
                                                            "expires_on": "2020-01-01"})).json()
    await client.post(f"{url}/documents/{document['document_id']}/files", files={"file": ("p.jpg", JPEG, "image/jpeg")})
    assert_problem(await client.post(f"{url}/documents/{document['document_id']}/verify", headers=checker.headers),
                   409, "expires_on")


async def test_kyc_requirements_can_be_read_and_changed(client) -> None:  # type: ignore[no-untyped-def]
    requirements = {r["kind"]: r for r in (await client.get("/api/v1/kyc-requirements")).json()}
    assert set(requirements) == {"individual", "business", "group"}
    group = requirements["group"]
    assert_problem(await client.put("/api/v1/kyc-requirements/group", json={
        "required_fields": ["first_name"], "required_documents": [[]]}), 422, "required_fields")
    assert_problem(await client.put("/api/v1/kyc-requirements/martian", json={
        "required_fields": [], "required_documents": []}), 400)
    try:
        changed = await client.put("/api/v1/kyc-requirements/group", json={
            "required_fields": [*group["required_fields"], "phone"],
            "required_documents": group["required_documents"]})
        assert changed.status_code == 200, changed.text
        assert changed.json()["required_fields"][-1] == "phone"
    finally:
        restored = await client.put("/api/v1/kyc-requirements/group", json={
            k: group[k] for k in ("required_fields", "required_documents", "duplicate_override_allowed")})
        assert restored.status_code == 200


async def test_inputs_that_reached_postgresql_limits_are_refused_as_4xx(client, world) -> None:  # type: ignore[no-untyped-def]
    assert_problem(await client.get(URL, params={"cursor": "9999999999"}), 422, "cursor")
    made = await create(client, person(world))
    url = f"{URL}/{made['client_id']}"
    assert_problem(await client.get(f"{url}/history", params={"cursor": "99999999999999999999"}), 422, "cursor")
    # NFKC turns one character into three: the comparable identity number must still fit
    assert_problem(await client.post(URL, json=person(world, national_id="㍱" * 40)), 422, "national_id",
                   "invalid-client")
    document = (await client.post(f"{url}/documents", json={"document_type": "photo"})).json()
    files_url = f"{url}/documents/{document['document_id']}/files"
    info = (await client.post(files_url, files={"file": ("证件.jpg", JPEG, "image/jpeg")})).json()
    assert info["file_name"] == "证件.jpg"
    download = await client.get(f"{files_url}/{info['file_id']}")
    assert download.status_code == 200
    assert download.headers["content-disposition"] == "attachment; filename=\"__.jpg\"; filename*=UTF-8''%E8%AF%81%E4%BB%B6.jpg"


async def test_concurrent_creations_of_one_person_make_one_client(client, world) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    tag = unique(world)
    same_id = [person(world, national_id=f"{tag}-{'.' * i}77", last_name=f"Sow {tag} {i}") for i in range(6)]
    same_name = [person(world, national_id=None, last_name=f"Ba {tag}", first_name="Oumar") for _ in range(6)]
    for bodies in (same_id, same_name):
        responses = await asyncio.gather(*(client.post(URL, json=b) for b in bodies))
        codes = sorted(r.status_code for r in responses)
        assert codes == [201, 409, 409, 409, 409, 409], [r.text for r in responses]
        assert all(r.json()["type"] == "urn:grandlivre:problem:duplicate-client" for r in responses
                   if r.status_code == 409)


async def test_a_configured_folder_and_limits_apply_to_uploads(  # type: ignore[no-untyped-def]
    client, database, settings, staff_settings, admin, world, tmp_path,
) -> None:
    import msgspec
    from litestar.testing import AsyncTestClient

    from api.app import create_app

    folder_settings = msgspec.structs.replace(settings, documents_folder=tmp_path, document_bytes_max=1_000,
                                              document_content_types=("image/png",))
    application = create_app(folder_settings, database=database, migrate=False, staff_settings=staff_settings)
    png = b"\x89PNG\r\n\x1a\n" + b"1" * 100
    async with AsyncTestClient(app=application) as folder_client:
        folder_client.headers.update(admin.headers)
        made = await create(folder_client, person(world))
        document = (await folder_client.post(f"{URL}/{made['client_id']}/documents",
                                             json={"document_type": "photo"})).json()
        files_url = f"{URL}/{made['client_id']}/documents/{document['document_id']}/files"
        refused = assert_problem(await folder_client.post(files_url, files={"file": ("a.jpg", JPEG, "image/jpeg")}),
                                 415, "file", "unsupported-file")
        assert "accepts image/png" in refused["detail"]
        assert_problem(await folder_client.post(files_url, files={"file": ("a.png", png + b"1" * 900, "image/png")}),
                       413, "file", "file-too-large")
        info = (await folder_client.post(files_url, files={"file": ("a.png", png, "image/png")})).json()
        stored = tmp_path / info["sha256"][:2] / info["sha256"]
        assert stored.read_bytes() == png
        assert (await folder_client.get(f"{files_url}/{info['file_id']}")).content == png
        stored.write_bytes(png + b"tampered")
        tampered = await folder_client.get(f"{files_url}/{info['file_id']}")
        assert_problem(tampered, 500, type_="stored-file-corrupt")
    # the default application (database store) cannot read what the folder holds
    assert_problem(await client.get(f"{files_url}/{info['file_id']}"), 503, "file_id", "service-unavailable")


async def test_search_at_the_counter_within_my_offices(client, world, other_branch, staff_user) -> None:  # type: ignore[no-untyped-def]
    officer = await staff_user("loan_officer", office_id=world.office_id)
    tag = unique(world)
    mine = await create(client, person(world, last_name=f"Gueye {tag}", phone=f"+221 77 {next(_ids):03d} 98 76"))
    await create(client, person(world, office_id=other_branch, last_name=f"Gueye {tag}", first_name="Rama"))
    by_name = (await client.get(f"{URL}/search", params={"q": f"GUEYE {tag}"}, headers=officer.headers)).json()
    assert [c["client_id"] for c in by_name] == [mine["client_id"]]
    by_id = (await client.get(f"{URL}/search", params={"q": mine["national_id"]}, headers=officer.headers)).json()
    assert [c["client_id"] for c in by_id] == [mine["client_id"]]
    assert len((await client.get(f"{URL}/search", params={"q": f"gueye {tag}"})).json()) == 2, "head office sees both"
    assert_problem(await client.get(f"{URL}/search", params={"q": "!!!"}), 422, "q")
    assert_problem(await client.get(f"{URL}/search", params={"q": "x", "office_id": other_branch},
                                    headers=officer.headers), 403, "office_id")
