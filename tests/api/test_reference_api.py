"""Reference data through HTTP: every route's happy path, and refusals that name the field
and write nothing. The database is shared by the session, so names carry a unique suffix and
dated rows (tax rates, usury caps) use a year of their own."""

from __future__ import annotations

import itertools
import os
from typing import Any

import pytest

_counter = itertools.count(1)
_years = itertools.count(2030)


def unique(prefix: str) -> str:
    return f"{prefix}-{os.getpid() % 10000}-{next(_counter)}"


def own_year() -> int:
    """A year no other test uses, for rows whose validity periods must not overlap (the
    database lives for one session; the seeded defaults are in 2014-2026, UMOA and Mali)."""
    year = next(_years)
    assert year < 2199, "too many dated rows for the date range"
    return year


def assert_problem(response: Any, status: int, field: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body.get("field") == field or any(e.get("field") == field for e in body.get("errors") or []), body
    return body


@pytest.fixture
async def currencies_enabled(client) -> None:  # type: ignore[no-untyped-def]
    for code in ("XOF", "EUR"):
        response = await client.put(f"/api/v1/currencies/{code}", json={"enabled": True})
        assert response.status_code == 200, response.text


# Currencies


async def test_currencies_are_enabled_and_carry_iso_decimals(client, currencies_enabled) -> None:  # type: ignore[no-untyped-def]
    xof = await client.put("/api/v1/currencies/XOF", json={"in_multiples_of": "5"})
    assert xof.status_code == 200, xof.text
    assert xof.json()["decimals"] == 0 and xof.json()["in_multiples_of"] == "5" and xof.json()["enabled"]
    assert (await client.put("/api/v1/currencies/XOF", json={})).json()["in_multiples_of"] is None
    listed = {c["code"] for c in (await client.get("/api/v1/currencies")).json()}
    assert {"XOF", "EUR"} <= listed
    everything = (await client.get("/api/v1/currencies", params={"include_unconfigured": "true"})).json()
    kwd = next(c for c in everything if c["code"] == "KWD")
    assert kwd["decimals"] == 3
    assert (await client.get("/api/v1/currencies/EUR")).json()["decimals"] == 2


async def test_currency_refusals(client, currencies_enabled) -> None:  # type: ignore[no-untyped-def]
    assert_problem(await client.put("/api/v1/currencies/ZZZ", json={}), 404, "code")
    assert_problem(await client.put("/api/v1/currencies/EUR", json={"in_multiples_of": "0.001"}), 422,
                   "in_multiples_of")
    assert (await client.get("/api/v1/currencies/EUR")).json()["in_multiples_of"] is None
    assert (await client.put("/api/v1/currencies/xof", json={})).status_code == 400
    assert (await client.put("/api/v1/currencies/XOF", json={"enabled": "yes"})).status_code == 400


async def test_a_currency_in_use_cannot_be_disabled(client, world, currencies_enabled) -> None:  # type: ignore[no-untyped-def]
    await client.put("/api/v1/currencies/CHF", json={"enabled": True})
    created = await client.post("/api/v1/charges", json=charge_body(world, name=unique("Frais CHF"), currency="CHF",
                                                                     calculation="flat", amount="10.50",
                                                                     amount_min=None, amount_max=None))
    assert created.status_code == 201, created.text
    assert_problem(await client.put("/api/v1/currencies/CHF", json={"enabled": False}), 409, "enabled")
    await client.patch(f"/api/v1/charges/{created.json()['id']}", json={"active": False})
    assert (await client.put("/api/v1/currencies/CHF", json={"enabled": False})).json()["enabled"] is False
    again = await client.post("/api/v1/charges", json=charge_body(world, name=unique("Frais CHF"), currency="CHF"))
    assert_problem(again, 422, "currency")


# Fund sources and payment types


async def test_fund_sources_link_a_detail_asset_account(client, world) -> None:  # type: ignore[no-untyped-def]
    name = unique("Ligne BOAD")
    created = await client.post("/api/v1/fund-sources", json={
        "name": name, "source_type": "donor", "gl_account_code": world.cash, "phone": "+221 33 800 00 00",
        "contact_name": "Awa Diop", "email": "awa@example.org", "address": "Dakar"})
    assert created.status_code == 201, created.text
    source = created.json()
    assert source["gl_account_code"] == world.cash and source["version"] == 1 and source["created_by"]
    assert (await client.get(f"/api/v1/fund-sources/{source['id']}")).json()["name"] == name
    changed = await client.patch(f"/api/v1/fund-sources/{source['id']}", json={"fax": "+221 33 800 00 01",
                                                                                "contact_name": None})
    assert changed.status_code == 200, changed.text
    assert changed.json()["fax"] == "+221 33 800 00 01" and changed.json()["contact_name"] is None
    assert changed.json()["version"] == 2 and changed.json()["phone"] == "+221 33 800 00 00"
    listed = (await client.get("/api/v1/fund-sources", params={"active": "true", "limit": 500})).json()
    assert any(item["id"] == source["id"] for item in listed)


@pytest.mark.parametrize(("account", "status"), [("header", 422), ("income", 422), ("disabled", 422),
                                                  ("missing", 404)])
async def test_fund_source_accounts_are_checked_and_nothing_is_written(client, world, account: str,  # type: ignore[no-untyped-def]
                                                                       status: int) -> None:
    name = unique("Fonds")
    code = f"{world.prefix}.NOPE" if account == "missing" else getattr(world, account)
    response = await client.post("/api/v1/fund-sources", json={"name": name, "source_type": "ngo",
                                                               "gl_account_code": code})
    assert_problem(response, status, "gl_account_code")
    listed = (await client.get("/api/v1/fund-sources", params={"limit": 500})).json()
    assert all(item["name"] != name for item in listed)


async def test_fund_source_refusals(client, world) -> None:  # type: ignore[no-untyped-def]
    name = unique("Fonds propres")
    body = {"name": name, "source_type": "own_funds", "gl_account_code": world.cash}
    assert (await client.post("/api/v1/fund-sources", json=body)).status_code == 201
    assert_problem(await client.post("/api/v1/fund-sources", json=body), 409, "name")
    assert_problem(await client.post("/api/v1/fund-sources", json={**body, "source_type": "bank"}), 400,
                   "source_type")
    assert (await client.post("/api/v1/fund-sources", json={**body, "colour": "red"})).status_code == 400
    assert_problem(await client.get("/api/v1/fund-sources/999999999"), 404, "id")
    assert_problem(await client.get("/api/v1/fund-sources/99999999999"), 404, "id")
    assert_problem(await client.patch("/api/v1/fund-sources/999999999", json={"name": "x"}), 404, "id")


async def test_payment_types_with_an_account_override(client, world) -> None:  # type: ignore[no-untyped-def]
    name = unique("Orange Money")
    created = await client.post("/api/v1/payment-types", json={
        "name": name, "kind": "mobile_money", "is_cash": False, "gl_account_code": world.cash, "position": 4})
    assert created.status_code == 201, created.text
    item = created.json()
    assert item["gl_account_code"] == world.cash
    assert_problem(await client.patch(f"/api/v1/payment-types/{item['id']}", json={"is_cash": True}), 422, "is_cash")
    assert_problem(await client.patch(f"/api/v1/payment-types/{item['id']}", json={"gl_account_code": world.deposits}),
                   422, "gl_account_code")
    assert (await client.get(f"/api/v1/payment-types/{item['id']}")).json() == item
    cleared = await client.patch(f"/api/v1/payment-types/{item['id']}", json={"gl_account_code": None})
    assert cleared.json()["gl_account_code"] is None
    assert any(p["id"] == item["id"] for p in (await client.get("/api/v1/payment-types")).json())


# Charges and tax rates


def charge_body(world: Any, **changes: Any) -> dict[str, Any]:
    body = {"name": unique("Frais de dossier"), "applies_to": "loan", "charge_time": "disbursement",
            "calculation": "percent_of_amount", "amount": "1.5", "currency": "XOF", "amount_min": "1000",
            "amount_max": "25000", "income_gl_account_code": world.income}
    body.update(changes)
    return body


async def tax_rate(client: Any, **changes: Any) -> dict[str, Any]:
    year = own_year()
    body = {"code": unique("TAF"), "name": "TAF", "tax_kind": "taf", "country": "SN", "operation_kind": "loan_charges",
            "rate_percent": "17", "valid_from": f"{year}-01-01", "valid_to": f"{year}-12-31",
            "source": "test"}
    body.update(changes)
    response = await client.post("/api/v1/tax-rates", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_charges_are_created_changed_and_listed(client, world, currencies_enabled) -> None:  # type: ignore[no-untyped-def]
    taf = await tax_rate(client)
    created = await client.post("/api/v1/charges", json=charge_body(world, tax_rate_id=taf["id"]))
    assert created.status_code == 201, created.text
    charge = created.json()
    assert charge["amount"] == "1.5" and charge["tax_rate_id"] == taf["id"]
    assert charge["income_gl_account_code"] == world.income
    changed = await client.patch(f"/api/v1/charges/{charge['id']}", json={"amount": "2", "amount_max": "30000"})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["amount"], changed.json()["amount_max"], changed.json()["version"]) == ("2", "30000", 2)
    penalty = await client.post("/api/v1/charges", json=charge_body(
        world, charge_time="overdue_instalment", calculation="percent_of_overdue_amount", is_penalty=True,
        frequency_every=1, frequency_unit="months", grace_days=5, amount_min=None, amount_max=None))
    assert penalty.status_code == 201, penalty.text
    monthly = await client.post("/api/v1/charges", json=charge_body(
        world, applies_to="deposit", charge_time="monthly", calculation="flat", amount="500", due_day=28,
        amount_min=None, amount_max=None))
    assert monthly.status_code == 201, monthly.text
    ids = {c["id"] for c in (await client.get("/api/v1/charges", params={"limit": 500})).json()}
    assert {charge["id"], penalty.json()["id"], monthly.json()["id"]} <= ids


@pytest.mark.parametrize(("changes", "status", "field"), [
    ({"applies_to": "deposit", "charge_time": "instalment_fee"}, 422, "charge_time"),
    ({"charge_time": "withdrawal"}, 422, "charge_time"),
    ({"charge_time": "instalment_fee", "calculation": "percent_of_balance"}, 422, "calculation"),
    ({"amount": "150"}, 422, "amount"),
    ({"calculation": "flat", "amount": "100.5", "amount_min": None, "amount_max": None}, 422, "amount"),
    ({"amount_min": "30000"}, 422, "amount_max"),
    ({"charge_time": "overdue_instalment", "calculation": "percent_of_overdue_amount"}, 422, "is_penalty"),
    ({"currency": "ZZZ"}, 404, "currency"),
    ({"tax_rate_id": 999999999}, 404, "tax_rate_id"),
    ({"income_gl_account_code": "CASH-NOT-INCOME"}, 404, "income_gl_account_code"),
    ({"due_month": 13}, 400, "due_month"),
])
async def test_charge_refusals_name_the_field_and_write_nothing(client, world, currencies_enabled,  # type: ignore[no-untyped-def]
                                                                changes: dict[str, Any], status: int,
                                                                field: str) -> None:
    body = charge_body(world, **changes)
    assert_problem(await client.post("/api/v1/charges", json=body), status, field)
    assert all(c["name"] != body["name"] for c in (await client.get("/api/v1/charges", params={"limit": 500})).json())


async def test_a_change_that_breaks_a_charge_is_refused_and_the_charge_kept(client, world, currencies_enabled) -> None:  # type: ignore[no-untyped-def]
    charge = (await client.post("/api/v1/charges", json=charge_body(world))).json()
    assert_problem(await client.patch(f"/api/v1/charges/{charge['id']}", json={"charge_time": "withdrawal"}), 422,
                   "charge_time")
    assert_problem(await client.patch(f"/api/v1/charges/{charge['id']}",
                                      json={"income_gl_account_code": world.cash}), 422, "income_gl_account_code")
    assert_problem(await client.patch(f"/api/v1/charges/{charge['id']}", json={"name": None}), 400, "name")
    assert (await client.get(f"/api/v1/charges/{charge['id']}")).json() == charge


async def test_tax_rates_do_not_overlap_for_one_country_and_operation(client) -> None:  # type: ignore[no-untyped-def]
    first = await tax_rate(client, country="ML", operation_kind="penalties")
    year = first["valid_from"][:4]
    clash = await client.post("/api/v1/tax-rates", json={**{k: first[k] for k in (
        "name", "tax_kind", "country", "operation_kind", "rate_percent")}, "code": unique("TAF"),
        "valid_from": f"{year}-06-01"})
    assert_problem(clash, 409, "valid_from")
    other_operation = await tax_rate(client, country="ML", operation_kind="loan_interest",
                                     valid_from=f"{year}-06-01", valid_to=None)
    assert other_operation["valid_to"] is None
    exempt = await client.post("/api/v1/tax-rates", json={
        "code": unique("TOB"), "name": "TOB", "tax_kind": "tob", "country": "CI", "operation_kind": "loan_interest",
        "rate_percent": "10", "valid_from": f"{own_year()}-01-01", "institution_exempt": True})
    assert_problem(exempt, 422, "exemption_reference")
    ended = await client.patch(f"/api/v1/tax-rates/{other_operation['id']}", json={"valid_to": f"{year}-05-31"})
    assert_problem(ended, 422, "valid_to")
    assert_problem(await client.post("/api/v1/tax-rates", json={**first, "code": unique("T"), "country": "Senegal"}),
                   400, "country")


async def test_usury_caps_by_institution_type_do_not_overlap(client) -> None:  # type: ignore[no-untyped-def]
    year = own_year()
    body = {"zone": "CEMAC", "institution_type": "other", "rate_annual_percent": "24", "valid_from": f"{year}-01-01",
            "valid_to": f"{year}-12-31", "legal_reference": "Règlement COBAC (test)", "source": "test"}
    created = await client.post("/api/v1/usury-caps", json=body)
    assert created.status_code == 201, created.text
    assert_problem(await client.post("/api/v1/usury-caps", json={**body, "valid_from": f"{year}-12-31",
                                                                 "valid_to": None}), 409, "valid_from")
    bank = await client.post("/api/v1/usury-caps", json={**body, "institution_type": "bank"})
    assert bank.status_code == 201
    assert_problem(await client.post("/api/v1/usury-caps", json={**body, "valid_from": f"{year + 1}-01-01",
                                                                 "rate_annual_percent": "0"}), 422,
                   "rate_annual_percent")
    moved = await client.patch(f"/api/v1/usury-caps/{created.json()['id']}", json={"rate_annual_percent": "22"})
    assert moved.json()["rate_annual_percent"] == "22"
    caps = (await client.get("/api/v1/usury-caps", params={"limit": 500})).json()
    assert {created.json()["id"], bank.json()["id"]} <= {c["id"] for c in caps}


# Holidays and working weeks


async def test_holidays_and_working_days_of_an_office(client, world) -> None:  # type: ignore[no-untyped-def]
    year = own_year()
    office = world.office_id
    week = await client.put(f"/api/v1/working-weeks/{office}", json={
        "working_weekdays": ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]})
    assert week.status_code == 200, week.text
    assert week.json()["office_id"] == office
    holiday = await client.post("/api/v1/holidays", json={
        "name": unique("Tabaski"), "from_date": f"{year}-06-01", "to_date": f"{year}-06-02",
        "office_ids": [office], "repayments_moved_to": f"{year}-06-03"})
    assert holiday.status_code == 201, holiday.text
    assert holiday.json()["office_ids"] == [office] and holiday.json()["all_offices"] is False
    answer = await client.get(f"/api/v1/working-weeks/{office}/working-day", params={"on": f"{year}-06-01"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["is_working_day"] is False
    assert answer.json()["working_day"] > f"{year}-06-02"
    before = await client.get(f"/api/v1/working-weeks/{office}/working-day",
                              params={"on": f"{year}-06-02", "rule": "previous_working_day"})
    assert before.json()["working_day"] < f"{year}-06-01"
    head = await client.get(f"/api/v1/working-weeks/{world.head_office_id}/working-day",
                            params={"on": f"{year}-06-01"})
    assert head.json()["requested"] == f"{year}-06-01"
    listed = (await client.get("/api/v1/holidays", params={"limit": 500})).json()
    assert any(h["id"] == holiday.json()["id"] for h in listed)
    everywhere = await client.patch(f"/api/v1/holidays/{holiday.json()['id']}",
                                    json={"all_offices": True, "office_ids": []})
    assert everywhere.status_code == 200, everywhere.text
    assert everywhere.json()["office_ids"] == []
    weeks = (await client.get("/api/v1/working-weeks")).json()
    assert any(w["office_id"] == office for w in weeks)
    calendar = await client.get(f"/api/v1/working-weeks/{office}/calendar",
                                params={"from": f"{year}-05-30", "to": f"{year}-06-30"})
    assert calendar.status_code == 200, calendar.text
    assert calendar.json()["working_weekdays"][-1] == "saturday"
    assert {f"{year}-06-01", f"{year}-06-02"} <= set(calendar.json()["holidays"])
    too_long = await client.get(f"/api/v1/working-weeks/{office}/calendar",
                                params={"from": f"{year}-01-01", "to": f"{year + 1}-01-05"})
    assert_problem(too_long, 422, "to")


async def test_the_default_week_applies_to_offices_without_their_own(client, world) -> None:  # type: ignore[no-untyped-def]
    default = await client.put("/api/v1/working-weeks/default", json={
        "working_weekdays": ["monday", "tuesday", "wednesday", "thursday", "friday"]})
    assert default.status_code == 200 and default.json()["office_id"] is None
    sunday = await client.get(f"/api/v1/working-weeks/{world.office_id}/working-day", params={"on": "2026-11-22"})
    assert sunday.json() == {"office_id": world.office_id, "requested": "2026-11-22", "working_day": "2026-11-23",
                             "is_working_day": False}


async def test_holiday_and_week_refusals(client, world) -> None:  # type: ignore[no-untyped-def]
    body = {"name": unique("Fête"), "from_date": "2026-04-04", "to_date": "2026-04-04", "office_ids": [999999999]}
    assert_problem(await client.post("/api/v1/holidays", json=body), 404, "office_ids[0]")
    assert_problem(await client.post("/api/v1/holidays", json={**body, "office_ids": []}), 422, "office_ids")
    assert_problem(await client.post("/api/v1/holidays", json={**body, "office_ids": [world.office_id],
                                                               "to_date": "2026-04-03"}), 422, "to_date")
    too_old = await client.post("/api/v1/holidays", json={**body, "from_date": "1800-01-01"})
    assert too_old.status_code == 400 and "from_date" in too_old.json()["detail"]
    assert all(h["name"] != body["name"] for h in (await client.get("/api/v1/holidays", params={"limit": 500})).json())
    assert_problem(await client.put("/api/v1/working-weeks/999999999", json={"working_weekdays": ["monday"]}), 404,
                   "office_id")
    assert (await client.put("/api/v1/working-weeks/default", json={"working_weekdays": []})).status_code == 400
    assert_problem(await client.put(f"/api/v1/working-weeks/{world.office_id}",
                                    json={"working_weekdays": ["monday", "monday"]}), 422, "working_weekdays")
    assert_problem(await client.get("/api/v1/working-weeks/999999999/working-day", params={"on": "2026-01-01"}),
                   404, "office_id")


# Sectors, purposes, decision reasons, validation levels


async def test_sectors_purposes_and_categories(client) -> None:  # type: ignore[no-untyped-def]
    agriculture = (await client.post("/api/v1/activity-sectors", json={"code": unique("AGR"),
                                                                       "name": "Agriculture"})).json()
    market = await client.post("/api/v1/activity-sectors", json={"code": unique("MAR"), "name": "Maraîchage",
                                                                  "parent_id": agriculture["id"]})
    assert market.status_code == 201, market.text
    cycle = await client.patch(f"/api/v1/activity-sectors/{agriculture['id']}",
                               json={"parent_id": market.json()["id"]})
    assert_problem(cycle, 422, "parent_id")
    assert_problem(await client.post("/api/v1/activity-sectors", json={"code": agriculture["code"], "name": "x"}),
                   409, "code")
    category = await client.post("/api/v1/loan-purposes/categories", json={"code": unique("EQP"),
                                                                           "name": "Équipement"})
    assert category.status_code == 201, category.text
    purpose = await client.post("/api/v1/loan-purposes", json={
        "code": unique("MOTO"), "name": "Achat de motopompe", "category_id": category.json()["id"],
        "activity_sector_id": market.json()["id"]})
    assert purpose.status_code == 201, purpose.text
    assert_problem(await client.post("/api/v1/loan-purposes", json={"code": unique("X"), "name": "x",
                                                                    "category_id": 999999999}), 404, "category_id")
    await client.patch(f"/api/v1/loan-purposes/categories/{category.json()['id']}", json={"active": False})
    assert_problem(await client.post("/api/v1/loan-purposes", json={
        "code": unique("X"), "name": "x", "category_id": category.json()["id"]}), 422, "category_id")
    assert (await client.get(f"/api/v1/loan-purposes/{purpose.json()['id']}")).json()["category_id"] == \
        category.json()["id"]
    assert any(c["id"] == category.json()["id"]
               for c in (await client.get("/api/v1/loan-purposes/categories", params={"active": "false"})).json())
    assert any(s["id"] == market.json()["id"] for s in (await client.get("/api/v1/activity-sectors")).json())
    assert any(p["id"] == purpose.json()["id"] for p in (await client.get("/api/v1/loan-purposes")).json())


async def test_decision_reasons(client) -> None:  # type: ignore[no-untyped-def]
    label = unique("Garanties insuffisantes")
    created = await client.post("/api/v1/decision-reasons", json={"label": label, "decision": "reject"})
    assert created.status_code == 201, created.text
    assert_problem(await client.post("/api/v1/decision-reasons", json={"label": label, "decision": "reject"}), 409,
                   "label")
    assert_problem(await client.post("/api/v1/decision-reasons", json={"label": unique("x"), "decision": "maybe"}),
                   400, "decision")
    changed = await client.patch(f"/api/v1/decision-reasons/{created.json()['id']}", json={"decision": "defer"})
    assert changed.json()["decision"] == "defer"
    assert any(r["label"] == label for r in (await client.get("/api/v1/decision-reasons")).json())


async def test_validation_levels(client, currencies_enabled, validation_levels) -> None:  # type: ignore[no-untyped-def]
    order = 1 + next(_counter) % 50
    body = {"level_order": order, "label": unique("Comité de crédit"), "currency": "EUR", "role_name": "administrator",
            "amount_min": "0", "amount_max": "1500.5"}
    existing = (await client.get("/api/v1/validation-levels", params={"limit": 500})).json()
    taken = {level["level_order"] for level in existing if level["currency"] == "EUR"}
    body["level_order"] = next(n for n in range(1, 51) if n not in taken)
    created = await client.post("/api/v1/validation-levels", json=body)
    assert created.status_code == 201, created.text
    assert_problem(await client.post("/api/v1/validation-levels", json=body), 409, "level_order")
    other_order = next(n for n in range(1, 51) if n not in taken | {body["level_order"]})
    assert_problem(await client.post("/api/v1/validation-levels", json={
        **body, "level_order": other_order, "role_name": "nobody-here"}), 404, "role_name")
    assert_problem(await client.patch(f"/api/v1/validation-levels/{created.json()['id']}",
                                      json={"amount_min": "2000"}), 422, "amount_max")
    assert_problem(await client.patch(f"/api/v1/validation-levels/{created.json()['id']}",
                                      json={"amount_max": "10.001"}), 422, "amount_max")
    assert (await client.get(f"/api/v1/validation-levels/{created.json()['id']}")).json()["amount_max"] == "1500.5"


async def test_credit_insurances(client) -> None:  # type: ignore[no-untyped-def]
    name = unique("Assurance décès-invalidité")
    created = await client.post("/api/v1/credit-insurances", json={"name": name, "insurer": "Mutuelle X"})
    assert created.status_code == 201, created.text
    assert_problem(await client.post("/api/v1/credit-insurances", json={"name": name}), 409, "name")
    changed = await client.patch(f"/api/v1/credit-insurances/{created.json()['id']}", json={"insurer": None})
    assert changed.json()["insurer"] is None
    assert (await client.get(f"/api/v1/credit-insurances/{created.json()['id']}")).json() == changed.json()
    assert any(i["name"] == name for i in (await client.get("/api/v1/credit-insurances")).json())


# Delinquency grids and credit parameters


GRID = [
    {"label": "Sain", "days_overdue_min": 0, "days_overdue_max": 30, "loan_state": "healthy",
     "provision_rate_percent": "0"},
    {"label": "Retard", "days_overdue_min": 31, "days_overdue_max": 90, "loan_state": "healthy",
     "provision_rate_percent": "5"},
    {"label": "Douteux", "days_overdue_min": 91, "days_overdue_max": None, "loan_state": "doubtful",
     "provision_rate_percent": "50", "source": "politique interne"},
]


async def test_a_grid_is_replaced_as_a_whole(client) -> None:  # type: ignore[no-untyped-def]
    replaced = await client.put("/api/v1/delinquency-buckets/rescheduled_loan", json={"buckets": GRID[::-1]})
    assert replaced.status_code == 200, replaced.text
    assert [b["days_overdue_min"] for b in replaced.json()] == [0, 31, 91]
    in_force = (await client.get("/api/v1/delinquency-buckets", params={"kind": "rescheduled_loan"})).json()
    assert [b["label"] for b in in_force] == ["Sain", "Retard", "Douteux"]
    assert all(b["kind"] == "rescheduled_loan" for b in in_force)


@pytest.mark.parametrize(("grid", "status", "field"), [
    ([GRID[0], {**GRID[1], "days_overdue_min": 35}], 422, "buckets[1].days_overdue_min"),
    ([GRID[0], {**GRID[1], "days_overdue_min": 20}], 422, "buckets[1].days_overdue_min"),
    ([GRID[0], {**GRID[1], "provision_rate_percent": "-1"}], 422, "buckets[1].provision_rate_percent"),
    ([{**GRID[2], "days_overdue_min": 0}, GRID[1]], 422, "buckets[0].days_overdue_max"),
    ([], 400, "buckets"),
])
async def test_a_broken_grid_is_refused_and_the_old_one_stays(client, grid: list[dict[str, Any]], status: int,  # type: ignore[no-untyped-def]
                                                              field: str) -> None:
    await client.put("/api/v1/delinquency-buckets/rescheduled_loan", json={"buckets": GRID})
    assert_problem(await client.put("/api/v1/delinquency-buckets/rescheduled_loan", json={"buckets": grid}),
                   status, field)
    in_force = (await client.get("/api/v1/delinquency-buckets", params={"kind": "rescheduled_loan"})).json()
    assert [b["label"] for b in in_force] == ["Sain", "Retard", "Douteux"]


async def test_grid_templates_load_every_kind_they_cover(client) -> None:  # type: ignore[no-untyped-def]
    templates = {t["name"]: t for t in (await client.get("/api/v1/delinquency-buckets/templates")).json()}
    assert templates["bceao-sfd"]["kinds"] == ["loan", "overdraft"]
    assert templates["generic"]["kinds"] == ["loan", "overdraft", "rescheduled_loan"]
    loaded = await client.post("/api/v1/delinquency-buckets/templates/generic")
    assert loaded.status_code == 200, loaded.text
    assert sorted({b["kind"] for b in loaded.json()}) == ["loan", "overdraft", "rescheduled_loan"]
    rescheduled = (await client.get("/api/v1/delinquency-buckets", params={"kind": "rescheduled_loan"})).json()
    assert [(b["days_overdue_min"], b["loan_state"], b["provision_rate_percent"]) for b in rescheduled] == [
        (0, "healthy", "0"), (1, "healthy", "1"), (31, "healthy", "5"), (61, "healthy", "10"), (91, "doubtful", "50"),
        (181, "doubtful", "75"), (366, "doubtful", "100")]
    sfd = await client.post("/api/v1/delinquency-buckets/templates/bceao-sfd")
    assert sfd.status_code == 200, sfd.text
    loans = (await client.get("/api/v1/delinquency-buckets", params={"kind": "loan"})).json()
    assert [(b["days_overdue_min"], b["provision_rate_percent"]) for b in loans] == [
        (0, "0"), (91, "40"), (181, "80"), (366, "100"), (731, "100")]
    assert loans[1]["label"] == "Plus de 3 à 6 mois (2991)"
    assert_problem(await client.post("/api/v1/delinquency-buckets/templates/mortgage"), 422, "template")


async def test_unknown_grid_kind_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    assert (await client.put("/api/v1/delinquency-buckets/mortgage", json={"buckets": GRID})).status_code == 400


CREDIT_PARAMETERS = {
    "institution_type": "microfinance", "country": "SN", "loans_per_client_max": 1, "loans_per_group_member_max": 1,
    "loans_per_guarantor_max": 2, "due_date_on_holiday": "next_working_day", "interest_rate_editable": False,
    "follow_up_sheet_printed": True, "contract_number_required": True, "grace_period_amounts_added": False,
    "contract_printed_at_disbursement": True, "debt_acknowledgement_printed": True, "monthly_rate_shown": True,
    "commission_before_disbursement": True, "partial_disbursement_allowed": False, "schedule_totals_shown": True,
    "repayment_availability_required": True, "days_late_tolerated": 3, "recovery_entries_on_repayment": True,
    "guarantee_deposit_reduced_on_repayment": False, "interest_charged_on_early_repayment": False,
    "credit_jobs_enabled": True, "doubtful_loan_arrears_editable": False, "healthy_loan_rescheduling_allowed": False,
    "rescheduling_term_editable": True, "unpaid_instalment_rescheduling_allowed": False,
    "downgrade_jobs_enabled": True, "valid_from": "2026-01-01",
}


async def test_credit_parameters_are_versioned(client) -> None:  # type: ignore[no-untyped-def]
    first = await client.put("/api/v1/credit-parameters", json=CREDIT_PARAMETERS)
    assert first.status_code == 200, first.text
    second = await client.put("/api/v1/credit-parameters", json={**CREDIT_PARAMETERS, "days_late_tolerated": 5,
                                                                  "comment": "Comité du 2 février"})
    assert second.json()["version"] == first.json()["version"] + 1
    current = (await client.get("/api/v1/credit-parameters")).json()
    assert current["version"] >= second.json()["version"]
    versions = (await client.get("/api/v1/credit-parameters/versions")).json()
    by_version = {v["version"]: v for v in versions}
    assert by_version[first.json()["version"]]["days_late_tolerated"] == 3
    assert by_version[second.json()["version"]]["days_late_tolerated"] == 5
    earlier = await client.put("/api/v1/credit-parameters", json={**CREDIT_PARAMETERS, "valid_from": "2025-12-31"})
    assert_problem(earlier, 422, "valid_from")


@pytest.mark.parametrize(("changes", "field"), [
    ({"loans_per_client_max": 0}, "loans_per_client_max"),
    ({"days_late_tolerated": 400}, "days_late_tolerated"),
    ({"due_date_on_holiday": "whenever"}, "due_date_on_holiday"),
    ({"country": "SEN"}, "country"),
])
async def test_credit_parameter_refusals(client, changes: dict[str, Any], field: str) -> None:  # type: ignore[no-untyped-def]
    before = (await client.get("/api/v1/credit-parameters/versions", params={"limit": 1})).json()
    assert_problem(await client.put("/api/v1/credit-parameters", json={**CREDIT_PARAMETERS, **changes}), 400, field)
    missing = {k: v for k, v in CREDIT_PARAMETERS.items() if k != "credit_jobs_enabled"}
    assert (await client.put("/api/v1/credit-parameters", json=missing)).status_code == 400
    assert (await client.get("/api/v1/credit-parameters/versions", params={"limit": 1})).json() == before


async def test_reading_is_not_changing(client, staff_user) -> None:  # type: ignore[no-untyped-def]
    auditor = await staff_user("auditor")
    assert (await client.get("/api/v1/charges", headers=auditor.headers)).status_code == 200
    refused = await client.post("/api/v1/decision-reasons", headers=auditor.headers,
                                json={"label": unique("x"), "decision": "approve"})
    assert refused.status_code == 403


async def test_a_gl_account_named_by_reference_data_cannot_be_deleted(client, world) -> None:  # type: ignore[no-untyped-def]
    created = await client.post("/api/v1/fund-sources", json={"name": unique("Fonds"), "source_type": "other",
                                                               "gl_account_code": world.cash})
    assert created.status_code == 201, created.text
    refused = await client.request("DELETE", f"/api/v1/gl-accounts/{world.cash}")
    assert refused.status_code == 409, refused.text
    assert (await client.get(f"/api/v1/fund-sources/{created.json()['id']}")).json()["gl_account_code"] == world.cash


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-sNaN", "1E+999999", "0.00000000001"])
async def test_numbers_that_are_not_amounts_are_refused(client, value: str) -> None:  # type: ignore[no-untyped-def]
    response = await client.put("/api/v1/currencies/XOF", json={"in_multiples_of": value})
    assert response.status_code == 400, response.text
    assert "in_multiples_of" in response.json()["detail"]
    grid = [{**GRID[0], "provision_rate_percent": value}]
    assert (await client.put("/api/v1/delinquency-buckets/overdraft", json={"buckets": grid})).status_code == 400


async def test_the_rate_and_the_cap_in_force_on_a_date(client) -> None:  # type: ignore[no-untyped-def]
    general = await tax_rate(client, country="BJ", operation_kind="all_financial_services", rate_percent="18")
    year = general["valid_from"][:4]
    interest = await tax_rate(client, country="BJ", operation_kind="loan_interest", rate_percent="10",
                              valid_from=f"{year}-07-01", valid_to=f"{year}-12-31")
    url = "/api/v1/tax-rates/in-force"
    query = {"country": "BJ", "tax_kind": "taf", "operation_kind": "loan_interest"}
    assert (await client.get(url, params={**query, "on": f"{year}-03-01"})).json()["id"] == general["id"]
    assert (await client.get(url, params={**query, "on": f"{year}-07-01"})).json()["id"] == interest["id"]
    assert_problem(await client.get(url, params={**query, "on": "1999-01-01"}), 404, "country")
    cap_year = own_year()
    cap = await client.post("/api/v1/usury-caps", json={
        "zone": "CEMAC", "institution_type": "microfinance", "rate_annual_percent": "24",
        "valid_from": f"{cap_year}-01-01", "valid_to": f"{cap_year}-12-31", "legal_reference": "test"})
    assert cap.status_code == 201, cap.text
    found = await client.get("/api/v1/usury-caps/in-force", params={
        "zone": "CEMAC", "institution_type": "microfinance", "on": f"{cap_year}-06-30"})
    assert found.json()["id"] == cap.json()["id"] and found.json()["rate_annual_percent"] == "24"
    assert_problem(await client.get("/api/v1/usury-caps/in-force", params={
        "zone": "CEMAC", "institution_type": "microfinance", "on": f"{cap_year + 1}-06-30"}), 404, "institution_type")


async def test_a_branch_without_its_own_week_works_its_parents(client, world) -> None:  # type: ignore[no-untyped-def]
    child = await client.post("/api/v1/offices", json={"code": unique("SUB"), "name": "Guichet",
                                                       "parent_id": world.office_id, "opened_on": "2026-01-01"})
    assert child.status_code == 201, child.text
    await client.put(f"/api/v1/working-weeks/{world.office_id}", json={"working_weekdays": ["tuesday", "wednesday"]})
    monday = await client.get(f"/api/v1/working-weeks/{child.json()['id']}/working-day", params={"on": "2026-11-23"})
    assert monday.json()["working_day"] == "2026-11-24"


async def test_text_that_postgresql_cannot_store_is_refused_not_a_server_error(client, world) -> None:  # type: ignore[no-untyped-def]
    """Found by fuzzing the OpenAPI schema: a NUL in an e-mail address used to reach PostgreSQL."""
    created = await client.post("/api/v1/fund-sources", json={
        "name": unique("Source NUL"), "source_type": "donor", "gl_account_code": world.cash})
    assert created.status_code == 201, created.text
    source_id = created.json()["id"]
    for body in ({"email": "a\u0000b@example.org"}, {"description": "avant\u0000après"}):
        answer = await client.patch(f"/api/v1/fund-sources/{source_id}", json=body)
        assert 400 <= answer.status_code < 500, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
    assert (await client.get(f"/api/v1/fund-sources/{source_id}")).json()["version"] == 1
