"""The accounting reports through HTTP: each route's happy path (JSON and CSV), its
refusals as problem details naming the field, and the year-end close, which writes nothing
when it refuses."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from sqlalchemy import text

from chart_of_accounts import AccountType, AccountUsage, GLAccount
from servicing import chart, offices
from servicing.commands import CreateGLAccounts, CreateOffice


def entry(world, day: str, debit: str, credit: str, amount: str, currency: str = "XOF", **extra) -> dict:  # type: ignore[no-untyped-def]
    payload = {
        "office_id": world.office_id, "value_date": day, "description": f"Opération {amount}",
        "lines": [{"account_code": debit, "side": "debit", "amount": amount, "currency": currency},
                  {"account_code": credit, "side": "credit", "amount": amount, "currency": currency}],
    }
    payload.update(extra)
    return payload


async def post(client, payload) -> dict:  # type: ignore[no-untyped-def]
    response = await client.post("/api/v1/journal-entries", json=payload)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
async def books(client, world, uow_factory):  # type: ignore[no-untyped-def]
    """The world's branch with an expense and an equity account, and a few entries in 2025-2026."""
    p = world.prefix
    await chart.create_accounts(uow_factory(), CreateGLAccounts(actor="tests", accounts=(
        GLAccount(code=f"{p}.EXP", name="Charges", type=AccountType.EXPENSE, usage=AccountUsage.DETAIL,
                  parent_code=f"{p}.H"),
        GLAccount(code=f"{p}.RES", name="Résultat", type=AccountType.EQUITY, usage=AccountUsage.DETAIL,
                  parent_code=f"{p}.H"),
    )))
    await post(client, entry(world, "2025-03-01", world.cash, world.deposits, "100000"))
    await post(client, entry(world, "2025-06-01", world.cash, world.income, "30000",
                             reference={"source_type": "loan-transaction", "source_id": "LN-7"}))
    await post(client, entry(world, "2025-07-01", f"{p}.EXP", world.cash, "12000"))
    await post(client, entry(world, "2026-01-10", world.cash, world.income, "5000"))
    return world


def rows_of(response) -> list[list[str]]:  # type: ignore[no-untyped-def]
    assert response.headers["content-type"].startswith("text/csv")
    content = response.content.decode("utf-8")
    assert content.startswith("\ufeff")
    return list(csv.reader(io.StringIO(content[1:]), delimiter=";"))


async def test_trial_balance_for_a_period_with_opening_and_closing(client, books) -> None:  # type: ignore[no-untyped-def]
    response = await client.get("/api/v1/reports/trial-balance", params={
        "from": "2026-01-01", "to": "2026-12-31", "office_id": books.office_id})
    assert response.status_code == 200, response.text
    report = response.json()
    rows = {(r["account_code"], r["currency"]): r for r in report["rows"]}
    cash = rows[(books.cash, "XOF")]
    assert (cash["opening_debit"], cash["period_debit"], cash["closing_debit"]) == ("118000", "5000", "123000")
    income = rows[(books.income, "XOF")]
    assert (income["opening_credit"], income["period_credit"], income["closing_credit"]) == ("30000", "5000", "35000")
    header = rows[(books.header, "XOF")]
    assert header["is_header"] and header["closing_debit"] == "0" and header["closing_credit"] == "0"
    (total,) = report["totals"]
    assert total["balanced"] and total["closing_debit"] == total["closing_credit"] == "135000"


async def test_trial_balance_as_of_a_date_csv(client, books) -> None:  # type: ignore[no-untyped-def]
    response = await client.get("/api/v1/reports/trial-balance", params={
        "as_of": "2025-12-31", "office_id": books.office_id, "format": "csv"})
    assert response.status_code == 200
    rows = rows_of(response)
    assert rows[0][:3] == ["currency", "account_code", "account_name"]
    cash = next(r for r in rows if r[1] == books.cash)
    assert cash[10:] == ["118000", "0"]
    assert rows[-1][1] == "TOTAL" and rows[-1][10] == rows[-1][11] == "130000"
    by_accept = await client.get("/api/v1/reports/trial-balance", params={"as_of": "2025-12-31",
                                 "office_id": books.office_id}, headers={"Accept": "text/csv"})
    assert by_accept.content == response.content


async def test_trial_balance_hides_or_shows_zero_accounts(client, books) -> None:  # type: ignore[no-untyped-def]
    params = {"as_of": "2026-12-31", "office_id": books.office_id, "currency": "XOF"}
    hidden = (await client.get("/api/v1/reports/trial-balance", params=params)).json()
    shown = (await client.get("/api/v1/reports/trial-balance", params={**params, "show_zero": "true"})).json()
    codes_hidden = {r["account_code"] for r in hidden["rows"]}
    codes_shown = {r["account_code"] for r in shown["rows"]}
    assert books.euro_only not in codes_hidden and books.euro_only in codes_shown
    assert hidden["totals"] == shown["totals"]


@pytest.mark.parametrize(("params", "field", "status"), [
    ({"from": "2026-02-01", "to": "2026-01-01"}, "from", 422),
    ({"as_of": "2026-13-01"}, "as_of", 400),
    ({"as_of": "1800-01-01"}, "as_of", 422),
    ({"as_of": "2026-01-01", "to": "2026-01-02"}, "as_of", 422),
    ({"office_id": "999999"}, "office_id", 404),
    ({"currency": "xof"}, "currency", 400),
])
async def test_trial_balance_refusals_name_the_field(client, params, field, status) -> None:  # type: ignore[no-untyped-def]
    response = await client.get("/api/v1/reports/trial-balance", params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["field"] == field


async def test_a_branch_user_sees_only_their_subtree(client, books, staff_user) -> None:  # type: ignore[no-untyped-def]
    user = await staff_user("accountant", office_id=books.office_id)
    mine = await client.get("/api/v1/reports/trial-balance", headers=user.headers)
    assert mine.status_code == 200 and mine.json()["office_id"] == books.office_id
    head = await client.get("/api/v1/reports/trial-balance", params={"office_id": books.head_office_id},
                            headers=user.headers)
    assert head.status_code == 403 and head.json()["field"] == "office_id"


async def test_general_ledger_pages_carry_the_running_balance(client, books) -> None:  # type: ignore[no-untyped-def]
    params = {"account_code": books.cash, "from": "2025-06-01", "to": "2026-12-31", "office_id": books.office_id,
              "limit": 1}
    pages = []
    cursor = None
    while True:
        response = await client.get("/api/v1/reports/general-ledger", params={**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        pages.append(response.json())
        cursor = pages[-1]["next_cursor"]
        if cursor is None:
            break
    lines = [line for page in pages for line in page["lines"]]
    assert pages[0]["opening"] == [{"currency": "XOF", "balance": "100000"}]
    assert [(line["debit"], line["credit"], line["balance"]) for line in lines] == [
        ("30000", "0", "130000"), ("0", "12000", "118000"), ("5000", "0", "123000")]
    assert lines[0]["source_id"] == "LN-7"
    assert pages[-1]["closing"] == [{"currency": "XOF", "balance": "123000"}]
    header = (await client.get("/api/v1/reports/general-ledger", params={
        "account_code": books.header, "from": "2025-01-01", "to": "2026-12-31", "office_id": books.office_id})).json()
    assert len(header["lines"]) == 8 and header["closing"] == [{"currency": "XOF", "balance": "0"}]
    exported = rows_of(await client.get("/api/v1/reports/general-ledger", params={**params, "format": "csv"}))
    assert [r[7] for r in (exported[1], exported[-1])] == ["Solde d'ouverture", "Solde de clôture"]
    assert [r[11] for r in exported[2:-1]] == ["130000", "118000", "123000"]


@pytest.mark.parametrize(("params", "field", "status"), [
    ({"account_code": "NOPE-404"}, "account_code", 404),
    ({}, "account_code", 400),
    ({"cursor": "not-a-cursor"}, "cursor", 422),
    ({"from": "2026-05-01", "to": "2026-04-01"}, "from", 422),
])
async def test_general_ledger_refusals(client, books, params, field, status) -> None:  # type: ignore[no-untyped-def]
    query = {"account_code": books.cash, **params} if params else {}
    response = await client.get("/api/v1/reports/general-ledger", params=query)
    assert response.status_code == status, response.text
    assert response.json()["field"] == field


async def test_a_general_ledger_cursor_is_bound_to_its_query(client, books) -> None:  # type: ignore[no-untyped-def]
    params = {"account_code": books.cash, "from": "2025-01-01", "to": "2026-12-31", "limit": 1}
    cursor = (await client.get("/api/v1/reports/general-ledger", params=params)).json()["next_cursor"]
    other = await client.get("/api/v1/reports/general-ledger", params={**params, "account_code": books.income,
                                                                       "cursor": cursor})
    assert other.status_code == 422 and other.json()["field"] == "cursor"


async def test_journal_listing_filters_and_csv(client, books) -> None:  # type: ignore[no-untyped-def]
    base = {"office_id": books.office_id}
    by_amount = (await client.get("/api/v1/reports/journal", params={**base, "amount_min": "20000",
                                                                     "amount_max": "50000"})).json()
    assert [e["lines"][0]["amount"] for e in by_amount["items"]] == ["30000"]
    by_reference = (await client.get("/api/v1/reports/journal", params={**base, "reference": "LN-7"})).json()
    assert len(by_reference["items"]) == 1
    by_dates = (await client.get("/api/v1/reports/journal", params={**base, "from": "2026-01-01"})).json()
    assert [e["value_date"] for e in by_dates["items"]] == ["2026-01-10"]
    by_actor = (await client.get("/api/v1/reports/journal", params={**base, "actor": "nobody"})).json()
    assert by_actor["items"] == []
    exported = rows_of(await client.get("/api/v1/reports/journal", params={**base, "format": "csv"}))
    assert len(exported) == 1 + 8 and exported[0][0] == "value_date"


@pytest.mark.parametrize(("params", "field"), [
    ({"amount_min": "10", "amount_max": "5"}, "amount_min"),
    ({"from": "2026-02-01", "to": "2026-01-01"}, "from"),
    ({"cursor": "%%%"}, "cursor"),
    ({"amount_min": "-5"}, "amount_min"),
    ({"office_id": "999999"}, "office_id"),
    ({"account_code": "NOPE-404"}, "account_code"),
])
async def test_journal_listing_refusals(client, params, field) -> None:  # type: ignore[no-untyped-def]
    response = await client.get("/api/v1/reports/journal", params=params)
    assert response.status_code in (400, 404, 422), response.text
    assert response.json()["field"] == field


async def test_balance_sheet_and_income_statement(client, books) -> None:  # type: ignore[no-untyped-def]
    sheet = (await client.get("/api/v1/reports/balance-sheet", params={"as_of": "2025-12-31",
                                                                       "office_id": books.office_id})).json()
    (xof,) = sheet["sheets"]
    assert xof["assets"]["total"] == "118000" and xof["liabilities"]["total"] == "100000"
    assert xof["current_year_result"] == "18000" and xof["balanced"]
    statement = (await client.get("/api/v1/reports/income-statement", params={
        "from": "2025-01-01", "to": "2025-12-31", "office_id": books.office_id})).json()
    (xof,) = statement["statements"]
    assert (xof["income"]["total"], xof["expenses"]["total"], xof["net_result"]) == ("30000", "12000", "18000")
    exported = rows_of(await client.get("/api/v1/reports/income-statement", params={
        "to": "2025-12-31", "office_id": books.office_id, "format": "csv"}))
    assert exported[-1][2:] == ["RESULT", "Résultat net", "18000"]
    exported = rows_of(await client.get("/api/v1/reports/balance-sheet", params={
        "as_of": "2025-12-31", "office_id": books.office_id, "format": "csv"}))
    assert exported[-2][4] == "18000" and exported[-1][4] == "118000"


async def journal_count(uow_factory, office_id: int) -> int:  # type: ignore[no-untyped-def]
    async with uow_factory() as uow:
        return int(await uow.session.scalar(
            text("SELECT count(*) FROM journal_entry WHERE office_id = :o"), {"o": office_id}) or 0)


async def test_year_end_close_posts_once_and_reverses(client, books, uow_factory) -> None:  # type: ignore[no-untyped-def]
    body = {"year": 2025, "office_id": books.office_id, "retained_earnings_account": f"{books.prefix}.RES"}
    statement_before = (await client.get("/api/v1/reports/income-statement", params={
        "to": "2025-12-31", "office_id": books.office_id})).json()
    closed = await client.post("/api/v1/closures/year-end", json=body)
    assert closed.status_code == 201, closed.text
    (closing,) = closed.json()["entries"]
    assert closing["value_date"] == "2025-12-31"
    assert closing["reference"] == {"source_type": "year_end_close", "source_id": f"2025-office-{books.office_id}"}
    assert {(line["account_code"], line["side"], line["amount"]) for line in closing["lines"]} == {
        (books.income, "debit", "30000"), (f"{books.prefix}.EXP", "credit", "12000"),
        (f"{books.prefix}.RES", "credit", "18000")}
    count = await journal_count(uow_factory, books.office_id)
    again = await client.post("/api/v1/closures/year-end", json=body)
    assert again.status_code == 409 and again.json()["field"] == "year"
    assert await journal_count(uow_factory, books.office_id) == count
    statement_after = (await client.get("/api/v1/reports/income-statement", params={
        "to": "2025-12-31", "office_id": books.office_id})).json()
    assert statement_after == statement_before
    sheet = (await client.get("/api/v1/reports/balance-sheet", params={"as_of": "2025-12-31",
                                                                       "office_id": books.office_id})).json()
    (xof,) = sheet["sheets"]
    assert xof["current_year_result"] == "0" and xof["equity"]["total"] == "18000" and xof["balanced"]
    count = await journal_count(uow_factory, books.office_id)
    generic = await client.post(f"/api/v1/journal-entries/{closing['id']}/reversal", json={})
    assert generic.status_code == 409, generic.text
    assert generic.json()["field"] == "entry_id"
    assert closing["id"] in generic.json()["detail"]
    assert "/api/v1/closures/year-end/reversal" in generic.json()["detail"]
    assert await journal_count(uow_factory, books.office_id) == count
    reopened = await client.post("/api/v1/closures/year-end/reversal", json={"year": 2025, "office_id": books.office_id})
    assert reopened.status_code == 201, reopened.text
    assert reopened.json()[0]["reverses"] == closing["id"]
    assert (await client.get("/api/v1/reports/income-statement", params={
        "to": "2025-12-31", "office_id": books.office_id})).json() == statement_before
    rerun = await client.post("/api/v1/closures/year-end", json=body)
    assert rerun.status_code == 201, rerun.text
    assert rerun.json()["entries"][0]["id"] != closing["id"]


@pytest.mark.parametrize(("body", "field", "status"), [
    ({"year": date.today().year}, "year", 422),
    ({"year": 2025, "retained_earnings_account": "NOPE-404"}, "retained_earnings_account", 422),
    ({"year": 2025, "office_id": 999999}, "office_id", 404),
    ({"year": 1800}, "year", 400),
    ({"year": 2019}, "year", 422),
])
async def test_year_end_close_refusals_write_nothing(client, books, uow_factory, body, field, status) -> None:  # type: ignore[no-untyped-def]
    payload = {"office_id": books.office_id, "retained_earnings_account": f"{books.prefix}.RES", **body}
    count = await journal_count(uow_factory, books.office_id)
    response = await client.post("/api/v1/closures/year-end", json=payload)
    assert response.status_code == status, response.text
    assert response.json()["field"] == field
    assert await journal_count(uow_factory, books.office_id) == count


async def test_reopening_a_year_without_a_close_is_refused(client, books) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/api/v1/closures/year-end/reversal", json={"year": 2024, "office_id": books.office_id})
    assert response.status_code == 404 and response.json()["field"] == "year"


async def test_closing_a_head_office_closes_each_branch_in_its_own_entry(client, uow_factory, head_office) -> None:  # type: ignore[no-untyped-def]
    region = await offices.create_office(uow_factory(), CreateOffice(
        code=f"REG-{id(client) % 10000}-{date.today().toordinal() % 1000}", name="Région", parent_id=head_office.office_id,
        opened_on=date(2020, 1, 1), actor="tests"))
    branch = await offices.create_office(uow_factory(), CreateOffice(
        code=f"{region.code}-A", name="Agence A", parent_id=region.office_id, opened_on=date(2020, 1, 1), actor="tests"))
    p = f"Y{region.office_id}"
    await chart.create_accounts(uow_factory(), CreateGLAccounts(actor="tests", accounts=(
        GLAccount(code=f"{p}.CASH", name="Caisse", type=AccountType.ASSET, usage=AccountUsage.DETAIL),
        GLAccount(code=f"{p}.INC", name="Produits", type=AccountType.INCOME, usage=AccountUsage.DETAIL),
        GLAccount(code=f"{p}.RES", name="Résultat", type=AccountType.EQUITY, usage=AccountUsage.DETAIL),
    )))
    for office_id, amount in ((region.office_id, "700"), (branch.office_id, "300")):
        await post(client, {"office_id": office_id, "value_date": "2024-05-05", "description": "Produit",
                            "lines": [{"account_code": f"{p}.CASH", "side": "debit", "amount": amount, "currency": "XOF"},
                                      {"account_code": f"{p}.INC", "side": "credit", "amount": amount,
                                       "currency": "XOF"}]})
    closed = (await client.post("/api/v1/closures/year-end", json={
        "year": 2024, "office_id": region.office_id, "retained_earnings_account": f"{p}.RES"})).json()
    assert sorted((e["office_id"], e["lines"][-1]["amount"]) for e in closed["entries"]) == sorted(
        [(region.office_id, "700"), (branch.office_id, "300")])
    branch_sheet = (await client.get("/api/v1/reports/balance-sheet", params={
        "as_of": "2024-12-31", "office_id": branch.office_id})).json()["sheets"][0]
    assert branch_sheet["equity"]["total"] == "300" and branch_sheet["current_year_result"] == "0"


@pytest.mark.parametrize(("path", "params", "field", "status"), [
    ("balance-sheet", {"as_of": "2026-02-30"}, "as_of", 400),
    ("balance-sheet", {"as_of": "2200-01-01"}, "as_of", 422),
    ("balance-sheet", {"office_id": "999999"}, "office_id", 404),
    ("balance-sheet", {"format": "xlsx"}, "format", 400),
    ("income-statement", {"from": "2026-05-01", "to": "2026-04-30"}, "from", 422),
    ("income-statement", {"from": "2026-05-01", "to": "2025-12-31"}, "from", 422),
    ("income-statement", {"office_id": "0"}, "office_id", 400),
    ("income-statement", {"from": "2026-13-01"}, "from", 400),
    ("general-ledger", {"account_code": "1011", "to": "31/12/2026"}, "to", 400),
    ("income-statement", {"currency": "EURO"}, "currency", 400),
])
async def test_statement_refusals_name_the_field(client, path, params, field, status) -> None:  # type: ignore[no-untyped-def]
    response = await client.get(f"/api/v1/reports/{path}", params=params)
    assert response.status_code == status, response.text
    assert response.json()["field"] == field


async def test_general_ledger_in_one_currency(client, books) -> None:  # type: ignore[no-untyped-def]
    await post(client, entry(books, "2026-02-01", books.euro_only, books.deposits, "12.50", currency="EUR"))
    params = {"account_code": books.header, "from": "2026-01-01", "to": "2026-12-31", "office_id": books.office_id}
    both = (await client.get("/api/v1/reports/general-ledger", params=params)).json()
    assert {b["currency"] for b in both["closing"]} == {"XOF", "EUR"}
    euro = (await client.get("/api/v1/reports/general-ledger", params={**params, "currency": "EUR"})).json()
    assert euro["opening"] == [{"currency": "EUR", "balance": "0.00"}]
    assert [(line["debit"], line["credit"], line["balance"]) for line in euro["lines"]] == [
        ("12.50", "0.00", "12.50"), ("0.00", "12.50", "0.00")]
    assert euro["closing"] == [{"currency": "EUR", "balance": "0.00"}]
    trial = (await client.get("/api/v1/reports/trial-balance", params={
        "as_of": "2026-12-31", "office_id": books.office_id, "currency": "EUR"})).json()
    assert {r["currency"] for r in trial["rows"]} == {"EUR"} and trial["totals"][0]["closing_debit"] == "12.50"


async def test_year_end_close_into_a_closed_period_is_refused_and_writes_nothing(client, books, uow_factory) -> None:  # type: ignore[no-untyped-def]
    closure = await client.post("/api/v1/accounting-closures", json={"office_id": books.office_id,
                                                                      "closing_date": "2025-12-31"})
    assert closure.status_code == 201, closure.text
    count = await journal_count(uow_factory, books.office_id)
    response = await client.post("/api/v1/closures/year-end", json={
        "year": 2025, "office_id": books.office_id, "retained_earnings_account": f"{books.prefix}.RES"})
    assert response.status_code == 409, response.text
    assert response.json()["type"] == "urn:grandlivre:problem:period-closed"
    assert await journal_count(uow_factory, books.office_id) == count


async def test_year_end_close_outside_ones_office_is_forbidden(client, books, staff_user) -> None:  # type: ignore[no-untyped-def]
    user = await staff_user("accountant", office_id=books.office_id)
    response = await client.post("/api/v1/closures/year-end", json={"year": 2025, "office_id": books.head_office_id},
                                 headers=user.headers)
    assert response.status_code == 403 and response.json()["field"] == "office_id"
    bad_date = await client.post("/api/v1/closures/year-end/reversal", json={
        "year": 2025, "office_id": books.office_id, "value_date": "1800-01-01"})
    assert bad_date.status_code == 422 and bad_date.json()["field"] == "value_date"
