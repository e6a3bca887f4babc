"""Chart of accounts and offices through HTTP: templates, CSV round trip, PATCH and DELETE
rules, problem details."""

from __future__ import annotations

from tests.api.test_journal_api import body


async def test_templates_load_once(client) -> None:  # type: ignore[no-untyped-def]
    templates = {t["name"]: t for t in (await client.get("/api/v1/gl-accounts/templates")).json()}
    assert set(templates) == {"sfd-uemoa", "generic-en"}
    first = await client.post("/api/v1/gl-accounts/templates/generic-en")
    again = await client.post("/api/v1/gl-accounts/templates/generic-en")
    assert first.status_code == again.status_code == 201
    assert again.json()["created"] == 0
    assert (await client.post("/api/v1/gl-accounts/templates/nope")).status_code == 404


async def test_csv_import_and_export(client, world) -> None:  # type: ignore[no-untyped-def]
    csv_text = (
        "code,name,type,usage,parent_code,currency,manual_entries_allowed,active,tags,description\n"
        f"{world.prefix}.IMP,Importés,expense,header,,,true,true,,\n"
        f"{world.prefix}.IMP1,Loyers,expense,detail,{world.prefix}.IMP,XOF,true,true,charges|loyer,\"Loyer, agence\"\n"
    )
    response = await client.post("/api/v1/gl-accounts/import", content=csv_text.encode(),
                                 headers={"content-type": "text/csv"})
    assert response.status_code == 201, response.text
    assert response.json()["created"] == 2
    exported = await client.get("/api/v1/gl-accounts/export")
    assert exported.headers["content-type"].startswith("text/csv")
    assert f'{world.prefix}.IMP1,Loyers,expense,detail,{world.prefix}.IMP,XOF,true,true,charges|loyer,"Loyer, agence"' in exported.text
    again = await client.post("/api/v1/gl-accounts/import", content=csv_text.encode(), headers={"content-type": "text/csv"})
    assert again.status_code == 409


async def test_csv_import_problems_name_rows_and_write_nothing(client, world) -> None:  # type: ignore[no-untyped-def]
    bad = f"code,name,type,usage\n{world.prefix}.X1,Un,asset,detail\n{world.prefix}.X2,Deux,actif,detail\n"
    response = await client.post("/api/v1/gl-accounts/import", content=bad.encode(), headers={"content-type": "text/csv"})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"row": "3", "field": "type", "message": "unknown type 'actif'"}]
    assert (await client.get(f"/api/v1/gl-accounts/{world.prefix}.X1")).status_code == 404
    huge = await client.post("/api/v1/gl-accounts/import", content=b'code,name,type,usage\n"' + b"x" * 200_000 + b'",n,asset,detail\n',
                             headers={"content-type": "text/csv"})
    assert huge.status_code == 422
    not_utf8 = await client.post("/api/v1/gl-accounts/import", content=b"\xff\xfe", headers={"content-type": "text/csv"})
    assert not_utf8.status_code == 422


async def test_patch_and_delete_follow_the_posting_rules(client, world) -> None:  # type: ignore[no-untyped-def]
    renamed = await client.patch(f"/api/v1/gl-accounts/{world.cash}", json={"name": "Caisse principale", "tags": ["caisse"]})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Caisse principale"
    assert renamed.json()["type"] == "asset", "absent fields keep their value"
    await client.post("/api/v1/journal-entries", json=body(world, "100"))
    changed_type = await client.patch(f"/api/v1/gl-accounts/{world.cash}", json={"type": "expense"})
    assert changed_type.status_code == 409
    deleted = await client.delete(f"/api/v1/gl-accounts/{world.cash}")
    assert deleted.status_code == 409
    disabled = await client.patch(f"/api/v1/gl-accounts/{world.cash}", json={"active": False})
    assert disabled.status_code == 200
    refused = await client.post("/api/v1/journal-entries", json=body(world, "100"))
    assert refused.status_code == 422 and refused.json()["field"] == "lines[0].account_code"
    history = (await client.get("/api/v1/journal-entries", params={"account_code": world.cash})).json()
    assert len(history["items"]) == 1, "disabling keeps the history"
    unused = await client.delete(f"/api/v1/gl-accounts/{world.income}")
    assert unused.status_code == 204


async def test_offices_hierarchy(client, world) -> None:  # type: ignore[no-untyped-def]
    office = (await client.get(f"/api/v1/offices/{world.office_id}")).json()
    assert office["hierarchy"] == [world.office_id, world.head_office_id]
    second_head = await client.post("/api/v1/offices", json={"code": f"{world.prefix}-HQ2", "name": "Autre siège",
                                                            "opened_on": "2026-01-01"})
    assert second_head.status_code == 409 and second_head.json()["field"] == "parent_id"
    assert (await client.get("/api/v1/offices/99999999")).status_code == 404
