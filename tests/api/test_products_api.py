"""Product catalogue through HTTP: create, read, list, change (new version, the old one
unchanged), deactivate; every rule refused with a 422 naming the field and nothing written;
references (charges, fund sources, GL accounts, currencies) checked; posting previews for
every accounting rule and event, balanced and on the mapped accounts."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from products.accounting import ProductAccounting
from products.catalogue.common import AmountRange, CountRange, ProductIdentity
from products.events import LoanClassification
from products.loans.product import LoanProduct, OverduePenalty
from products.posting_rules import (
    RULE_TABLES,
    AccountingRole,
    AccountingRule,
    Component,
    EventKind,
    ProductKind,
)
from products.reference.db.tables import ChargeRow
from products.term_deposits.product import TermLength
from servicing import chart
from servicing.errors import sqlstate_of
from servicing.products import demo
from tests.products.catalogue_factories import savings_product, seed_004_term_deposit

D = Decimal
_names = itertools.count(1)
PATHS = {ProductKind.LOAN: "/api/v1/loan-products", ProductKind.DEPOSIT: "/api/v1/deposit-products",
         ProductKind.TERM_DEPOSIT: "/api/v1/term-deposit-products"}


@pytest.fixture(scope="module")
async def refs(uow_factory) -> demo.DemoReferences:  # type: ignore[no-untyped-def]
    """The SFD chart and the demo's reference rows (both found or created, idempotently)."""
    await chart.load_chart_template(uow_factory(), "sfd-uemoa", "tests")
    return await demo.ensure_demo_references(uow_factory)


def unique(prefix: str) -> ProductIdentity:
    n = next(_names)
    return ProductIdentity(name=f"{prefix} {n} {id(_names) % 10_000}", short_name=f"T{n}X{id(_names) % 1000}")


def mapping(kind: ProductKind, rule: AccountingRule, refs: demo.DemoReferences, **changes: Any) -> ProductAccounting:
    return msgspec.structs.replace(demo._mapping(kind, rule, refs, classified=demo.LOAN_CLASSIFIED
                                                 if kind is ProductKind.LOAN else ()), **changes)


def loan(refs: demo.DemoReferences, rule: AccountingRule = AccountingRule.CASH, **changes: Any) -> LoanProduct:
    product = LoanProduct(
        identity=unique("Prêt test"), currency="XOF", fund_source_id=refs.own_funds_id,
        principal=AmountRange(minimum=D(50_000), default=D(500_000), maximum=D(1_000_000)),
        repayment_count=CountRange(minimum=3, default=12, maximum=24),
        interest_rate_percent=AmountRange(minimum=D(12), default=D(18), maximum=D(24)),
        charge_ids=(refs.loan_fee_id,), overdue_penalty=OverduePenalty(charge_id=refs.loan_penalty_id,
                                                                        rate_percent=D(2)),
        accounting=mapping(ProductKind.LOAN, rule, refs, charge_accounts={refs.loan_fee_id: "7022"}),
    )
    return msgspec.structs.replace(product, **changes)


def body(settings: object) -> Any:
    return msgspec.to_builtins(settings)


async def create(client, kind: ProductKind, settings: object) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = await client.post(PATHS[kind], json=body(settings))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def product_rows(admin_engine) -> int:  # type: ignore[no-untyped-def]
    async with admin_engine.connect() as connection:
        return (await connection.execute(text("SELECT count(*) FROM product_version"))).scalar_one()  # type: ignore[no-any-return]


async def test_create_read_list_a_loan_product(client, refs) -> None:  # type: ignore[no-untyped-def]
    settings = loan(refs)
    created = await create(client, ProductKind.LOAN, settings)
    assert (created["version"], created["current_version"], created["active"]) == (1, 1, True)
    assert created["settings"]["principal"] == {"default": "500000", "minimum": "50000", "maximum": "1000000"}
    read = (await client.get(f"/api/v1/loan-products/{created['product_id']}")).json()
    assert msgspec.convert(read["settings"], type=LoanProduct, strict=False) == settings
    listed = (await client.get("/api/v1/loan-products", params={"after_id": created["product_id"] - 1,
                                                                "limit": 1})).json()
    assert [p["product_id"] for p in listed] == [created["product_id"]]
    # A loan product is not a deposit product.
    assert (await client.get(f"/api/v1/deposit-products/{created['product_id']}")).status_code == 404


async def test_create_deposit_and_term_deposit_products(client, refs) -> None:  # type: ignore[no-untyped-def]
    savings = savings_product(identity=unique("Épargne"), accounting=mapping(
        ProductKind.DEPOSIT, AccountingRule.ACCRUAL_PERIODIC, refs), withdrawal_fee_charge_ids=(refs.withdrawal_fee_id,))
    created = await create(client, ProductKind.DEPOSIT, savings)
    assert created["settings"]["accounting"]["rule"] == "accrual_periodic"
    term = seed_004_term_deposit(identity=unique("DAT"), currency="XOF", accounting=mapping(
        ProductKind.TERM_DEPOSIT, AccountingRule.CASH, refs))
    created = await create(client, ProductKind.TERM_DEPOSIT, term)
    assert created["settings"]["rate_charts"][0]["slabs"][0]["incentives"][0]["kind"] == "incentive"


async def test_every_problem_is_answered_with_its_field_and_nothing_written(client, refs, admin_engine) -> None:  # type: ignore[no-untyped-def]
    before = await product_rows(admin_engine)
    bad = body(loan(refs, principal=AmountRange(minimum=D(10), default=D(5)),
                    repayment_count=CountRange(default=10, maximum=5)))
    bad["identity"]["open_date"], bad["identity"]["close_date"] = "2026-05-01", "2026-01-01"
    response = await client.post(PATHS[ProductKind.LOAN], json=bad)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert {"principal.default", "repayment_count.maximum", "identity.close_date"} <= {
        e["field"] for e in problem["errors"]}
    assert await product_rows(admin_engine) == before


@pytest.mark.parametrize(("change", "field"), [
    ("unknown_charge", "charge_ids[0]"),
    ("deposit_charge", "charge_ids[0]"),
    ("fee_as_penalty", "overdue_penalty.charge_id"),
    ("unknown_fund", "fund_source_id"),
    ("unknown_account", "accounting.accounts.loan_portfolio"),
    ("wrong_type", "accounting.accounts.interest_income"),
    ("header_account", "accounting.accounts.fund_source"),
    ("missing_role", "accounting.accounts.vat_payable"),
    ("unknown_payment_type", "accounting.payment_type_accounts.999999"),
    ("unknown_currency", "currency"),
    ("currency_not_enabled", "currency"),
    ("eur_charge", "charge_ids[0]"),
    ("mix_unknown", "product_mix.restricted_product_ids[0]"),
])
async def test_references_must_exist_and_fit(client, refs, uow_factory, change: str, field: str) -> None:  # type: ignore[no-untyped-def]
    settings = loan(refs)
    accounts = dict(settings.accounting.accounts)
    if change == "unknown_charge":
        settings = msgspec.structs.replace(settings, charge_ids=(999_999,))
    elif change == "deposit_charge":
        settings = msgspec.structs.replace(settings, charge_ids=(refs.withdrawal_fee_id,))
    elif change == "fee_as_penalty":
        settings = msgspec.structs.replace(settings, overdue_penalty=OverduePenalty(
            charge_id=refs.loan_fee_id, rate_percent=D(2)))
    elif change == "unknown_fund":
        settings = msgspec.structs.replace(settings, fund_source_id=999_999)
    elif change in ("unknown_account", "wrong_type", "header_account", "missing_role"):
        if change == "unknown_account":
            accounts[AccountingRole.LOAN_PORTFOLIO] = "NOPE-999"
        elif change == "wrong_type":
            accounts[AccountingRole.INTEREST_INCOME] = "2022"
        elif change == "header_account":
            accounts[AccountingRole.FUND_SOURCE] = "101"
        else:
            del accounts[AccountingRole.VAT_PAYABLE]
        settings = msgspec.structs.replace(settings, accounting=msgspec.structs.replace(
            settings.accounting, accounts=accounts))
    elif change == "unknown_payment_type":
        settings = msgspec.structs.replace(settings, accounting=msgspec.structs.replace(
            settings.accounting, payment_type_accounts={999_999: "114"}))
    elif change == "unknown_currency":
        settings = msgspec.structs.replace(settings, currency="ZZZ")
    elif change == "currency_not_enabled":  # ISO 4217, but not one the institution configured
        settings = msgspec.structs.replace(settings, currency="GHS")
    elif change == "eur_charge":
        async with uow_factory() as uow:
            row = ChargeRow(name=f"Frais EUR {next(_names)} {id(refs)}", applies_to="loan", charge_time="disbursement",
                            calculation="flat", amount=D(10), currency="EUR", created_by="tests", updated_by="tests")
            uow.session.add(row)
            await uow.session.flush()
            charge_id = row.id
            await uow.commit()
        settings = msgspec.structs.replace(settings, charge_ids=(charge_id,), accounting=msgspec.structs.replace(
            settings.accounting, charge_accounts={}))
    elif change == "mix_unknown":
        settings = msgspec.structs.replace(settings, product_mix=msgspec.structs.replace(
            settings.product_mix, restricted_product_ids=(999_999,)))
    response = await client.post(PATHS[ProductKind.LOAN], json=body(settings))
    assert response.status_code == 422, response.text
    assert field in {e["field"] for e in response.json()["errors"]}, response.json()


async def test_bad_wire_values_are_4xx(client, refs) -> None:  # type: ignore[no-untyped-def]
    good = body(loan(refs))
    for path, value in ((("principal", "default"), "NaN"), (("principal", "default"), "1E+999999"),
                        (("repayment_every",), 10**12), (("fund_source_id",), 2**40),
                        (("identity", "name"), "a\x00b"), (("in_multiples_of",), "1E+99999")):
        data = msgspec.json.decode(msgspec.json.encode(good))
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        response = await client.post(PATHS[ProductKind.LOAN], json=data)
        assert 400 <= response.status_code < 500, (path, response.text)
    response = await client.post(PATHS[ProductKind.LOAN], json={**good, "surprise": 1})
    assert response.status_code == 400
    guarantees = await client.post(PATHS[ProductKind.LOAN], json={**good, "apply_guarantees_on_write_off": "yes"})
    assert 400 <= guarantees.status_code < 500 and "apply_guarantees_on_write_off" in guarantees.text, guarantees.text


async def test_changing_a_product_makes_a_version_and_keeps_the_old_one(client, refs, admin_engine) -> None:  # type: ignore[no-untyped-def]
    settings = loan(refs)
    created = await create(client, ProductKind.LOAN, settings)
    url = f"/api/v1/loan-products/{created['product_id']}"
    changed = msgspec.structs.replace(settings, interest_rate_percent=AmountRange(
        minimum=D(12), default=D(20), maximum=D(24)))
    response = await client.put(url, json=body(changed), params={"expected_version": 1})
    assert response.status_code == 200, response.text
    assert (response.json()["version"], response.json()["settings"]["interest_rate_percent"]["default"]) == (2, "20")
    old = (await client.get(f"{url}/versions/1")).json()
    assert old["settings"]["interest_rate_percent"]["default"] == "18"
    assert old["current_version"] == 2
    assert [(v["version"], v["current"]) for v in (await client.get(f"{url}/versions")).json()] == [
        (2, True), (1, False)]
    stale = await client.put(url, json=body(settings), params={"expected_version": 1})
    assert stale.status_code == 409
    assert stale.json()["field"] == "expected_version"
    same = await client.put(url, json=body(changed))
    assert same.json()["version"] == 2, "unchanged settings make no new version"
    assert (await client.get(f"{url}/versions/3")).status_code == 404
    async with admin_engine.connect() as connection:
        with pytest.raises(DBAPIError, match="append-only") as raised:
            await connection.execute(text("UPDATE product_version SET accounting_rule = 'none'"))
        assert sqlstate_of(raised.value) == "GL010"


async def test_deactivate_and_names_are_unique(client, refs) -> None:  # type: ignore[no-untyped-def]
    settings = loan(refs)
    created = await create(client, ProductKind.LOAN, settings)
    url = f"/api/v1/loan-products/{created['product_id']}"
    response = await client.post(f"{url}/deactivate")
    assert (response.status_code, response.json()["active"]) == (200, False)
    active = (await client.get(PATHS[ProductKind.LOAN], params={"active": "true", "limit": 500})).json()
    assert created["product_id"] not in {p["product_id"] for p in active}
    assert (await client.post(f"{url}/activate")).json()["active"] is True
    twin = msgspec.structs.replace(settings, identity=msgspec.structs.replace(
        settings.identity, short_name="OTHER"))
    response = await client.post(PATHS[ProductKind.LOAN], json=body(twin))
    assert (response.status_code, response.json()["field"]) == (409, "identity.name")


# --------------------------------------------------------------------------- posting previews

RULES = [(kind, rule) for (kind, rule) in RULE_TABLES if rule is not AccountingRule.NONE]


async def preview(client, product_id: int, payload: dict[str, Any]) -> Any:  # type: ignore[no-untyped-def]
    response = await client.post(f"/api/v1/products/{product_id}/posting-preview", json=payload)
    assert response.status_code == 200, response.text
    return response.json()


async def make_product(client, refs, kind: ProductKind, rule: AccountingRule) -> int:  # type: ignore[no-untyped-def]
    if kind is ProductKind.LOAN:
        settings: object = loan(refs, rule)
    elif kind is ProductKind.DEPOSIT:
        settings = savings_product(identity=unique("Épargne"), accounting=mapping(kind, rule, refs))
    else:
        settings = seed_004_term_deposit(identity=unique("DAT"), currency="XOF", accounting=mapping(kind, rule, refs))
    return (await create(client, kind, settings))["product_id"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(("kind", "rule"), RULES, ids=[f"{k.value}-{r.value}" for k, r in RULES])
async def test_every_event_previews_balanced_lines_on_the_mapped_accounts(client, refs, kind, rule) -> None:  # type: ignore[no-untyped-def]
    product_id = await make_product(client, refs, kind, rule)
    accounts = demo.SFD_ACCOUNTS
    for (event, component), (debit_role, credit_role) in RULE_TABLES[(kind, rule)].items():
        payload: dict[str, Any] = {"event_kind": event.value, "parts": [{"component": component.value,
                                                                          "amount": "12345"}]}
        expected = (accounts[debit_role], accounts[credit_role])
        if event is EventKind.RECLASSIFICATION:
            payload.update(classification="doubtful", previous_classification="healthy")
            out = await preview(client, product_id, payload)
            if component is Component.INTEREST:  # interest receivable is not classified in this mapping
                assert out["lines"] == [], out
                continue
            expected = ("292", accounts[credit_role])
        out = await preview(client, product_id, payload)
        assert out["balanced"] and out["debit_total"] == out["credit_total"] == "12345", (event, component, out)
        sides = {(line["side"], line["account_code"]) for line in out["lines"]}
        assert sides == {("debit", expected[0]), ("credit", expected[1])}, (event, component, out)
        assert all(D(line["amount"]) > 0 for line in out["lines"])


async def test_preview_follows_overrides(client, refs) -> None:  # type: ignore[no-untyped-def]
    product_id = await make_product(client, refs, ProductKind.LOAN, AccountingRule.CASH)
    by_mobile = await preview(client, product_id, {
        "event_kind": "repayment", "payment_type_id": refs.mobile_money_id,
        "parts": [{"component": "principal", "amount": "10000"}, {"component": "interest", "amount": "1500"},
                  {"component": "fee", "amount": "500", "charge_id": refs.loan_fee_id}]})
    lines = {(line["side"], line["account_code"]): line["amount"] for line in by_mobile["lines"]}
    assert lines == {("debit", "1013"): "12000", ("credit", "2022"): "10000", ("credit", "7021"): "1500",
                     ("credit", "7022"): "500"}
    medium = await preview(client, product_id, {"event_kind": "disbursement", "term": "medium",
                                                "parts": [{"component": "principal", "amount": "300000"}]})
    assert {(line["side"], line["account_code"]) for line in medium["lines"]} == {("debit", "2031"), ("credit", "1012")}


async def test_preview_errors_name_the_field(client, refs) -> None:  # type: ignore[no-untyped-def]
    product_id = await make_product(client, refs, ProductKind.LOAN, AccountingRule.CASH)
    url = f"/api/v1/products/{product_id}/posting-preview"
    cases = [
        ({"event_kind": "deposit", "parts": [{"component": "amount", "amount": "1"}]}, 422, "kind"),
        ({"event_kind": "repayment", "parts": [{"component": "overdraft", "amount": "1"}]}, 422, "parts[0].component"),
        ({"event_kind": "repayment", "parts": [{"component": "principal", "amount": "10.5"}]}, 422, "parts[0].amount"),
        ({"event_kind": "repayment", "parts": [{"component": "principal", "amount": "-3"}]}, 422, "parts[0].amount"),
        ({"event_kind": "reclassification", "parts": [{"component": "principal", "amount": "3"}]}, 422,
         "previous_classification"),
        ({"event_kind": "repayment", "parts": []}, 400, None),
        ({"event_kind": "repayment", "parts": [{"component": "principal", "amount": "NaN"}]}, 400, None),
        ({"event_kind": "repayment", "version": 9, "parts": [{"component": "principal", "amount": "1"}]}, 404,
         "version"),
    ]
    for payload, status, field in cases:
        response = await client.post(url, json=payload)
        assert response.status_code == status, (payload, response.text)
        if field is not None:
            assert response.json()["field"] == field, (payload, response.json())
    assert (await client.post("/api/v1/products/999999/posting-preview", json=cases[1][0])).status_code == 404


async def test_no_accounting_posts_nothing(client, refs) -> None:  # type: ignore[no-untyped-def]
    product_id = (await create(client, ProductKind.LOAN, loan(refs, accounting=ProductAccounting())))["product_id"]
    out = await preview(client, product_id, {"event_kind": "disbursement",
                                             "parts": [{"component": "principal", "amount": "1000"}]})
    assert (out["lines"], out["balanced"], out["accounting_rule"]) == ([], True, "none")


# --------------------------------------------------------------------------- demo products

DEMO_EVENTS = {
    ProductKind.LOAN: [
        {"event_kind": "disbursement", "parts": [{"component": "principal", "amount": "500000"},
                                                 {"component": "fee", "amount": "5000"}]},
        {"event_kind": "repayment", "parts": [{"component": "principal", "amount": "50000"},
                                              {"component": "interest", "amount": "9000"},
                                              {"component": "penalty", "amount": "600"},
                                              {"component": "vat", "amount": "100"}]},
        {"event_kind": "write_off", "classification": "written_off",
         "parts": [{"component": "principal", "amount": "70000"},
                   {"component": "principal_covered_by_provision", "amount": "30000"}]},
        {"event_kind": "provision", "classification": "doubtful", "parts": [{"component": "amount", "amount": "4000"}]},
    ],
    ProductKind.DEPOSIT: [
        {"event_kind": "deposit", "parts": [{"component": "overdraft", "amount": "20000"},
                                            {"component": "amount", "amount": "80000"}]},
        {"event_kind": "withdrawal", "payment_type_id": None, "parts": [{"component": "amount", "amount": "15000"}]},
        {"event_kind": "deposit_fee", "parts": [{"component": "fee", "amount": "200"}]},
    ],
    ProductKind.TERM_DEPOSIT: [
        {"event_kind": "deposit", "parts": [{"component": "amount", "amount": "1000000"}]},
        {"event_kind": "interest_posting", "parts": [{"component": "interest", "amount": "55000"}]},
        {"event_kind": "premature_closure_penalty", "parts": [{"component": "penalty", "amount": "10000"}]},
    ],
}


async def test_demo_products_are_created_once_and_preview_balanced_postings(client, uow_factory, refs) -> None:  # type: ignore[no-untyped-def]
    messages: list[str] = []
    ids = await demo.ensure_demo_products(uow_factory, messages.append)
    again = await demo.ensure_demo_products(uow_factory, messages.append)
    assert ids == again and len(ids) == 5
    for name, product_id in ids.items():
        record = (await client.get(f"/api/v1/loan-products/{product_id}"))
        kind = ProductKind.LOAN
        if record.status_code == 404:
            kind = ProductKind.DEPOSIT if (await client.get(
                f"/api/v1/deposit-products/{product_id}")).status_code == 200 else ProductKind.TERM_DEPOSIT
        for payload in DEMO_EVENTS[kind]:
            payload = {k: v for k, v in payload.items() if v is not None}
            out = await preview(client, product_id, payload)
            assert out["balanced"] and out["lines"], (name, payload, out)
            assert D(out["debit_total"]) == sum(D(p["amount"]) for p in payload["parts"]), (name, payload)


def test_demo_products_pass_their_own_rules() -> None:
    refs = demo.DemoReferences(own_funds_id=1, mobile_money_id=2, bank_transfer_id=3, loan_fee_id=4,
                               loan_penalty_id=5, withdrawal_fee_id=6, closure_penalty_id=7)
    from servicing.products.kinds import KINDS, kind_of
    products = demo.demo_products(refs)
    assert [kind_of(p).value for p in products] == ["loan", "loan", "loan", "deposit", "term_deposit"]
    for product in products:
        assert KINDS[kind_of(product)].validate(product) == [], product.identity.name
    agricultural = products[0]
    assert isinstance(agricultural, LoanProduct)
    assert (agricultural.interest_method.value, agricultural.grace_on_principal_periods) == ("flat", 3)
    assert products[1].accounting.rule is AccountingRule.ACCRUAL_PERIODIC
    assert LoanClassification.DOUBTFUL in {c.classification for c in agricultural.accounting.classified_accounts}


async def test_concurrent_changes_never_lose_a_version(client, refs, uow_factory) -> None:  # type: ignore[no-untyped-def]
    """Two administrators change the same product at once from version 1: one wins, the other
    is told (409); without expected_version both land, as versions 2 and 3."""
    import asyncio

    from servicing.errors import Conflict
    from servicing.products import service

    settings = loan(refs)
    product_id = (await create(client, ProductKind.LOAN, settings))["product_id"]
    first = msgspec.structs.replace(settings, repayment_every=2)
    second = msgspec.structs.replace(settings, repayment_every=3)
    results = await asyncio.gather(
        service.update_product(uow_factory(), ProductKind.LOAN, product_id, first, "a", expected_version=1),
        service.update_product(uow_factory(), ProductKind.LOAN, product_id, second, "b", expected_version=1),
        return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "ProductRecord"]
    assert any(isinstance(r, Conflict) for r in results)
    third = msgspec.structs.replace(settings, repayment_every=4)
    fourth = msgspec.structs.replace(settings, repayment_every=5)
    done = await asyncio.gather(
        service.update_product(uow_factory(), ProductKind.LOAN, product_id, third, "a"),
        service.update_product(uow_factory(), ProductKind.LOAN, product_id, fourth, "b"))
    assert sorted(r.version for r in done) == [3, 4]
    versions = await service.list_versions(uow_factory(), ProductKind.LOAN, product_id)
    assert [v.version for v in versions] == [4, 3, 2, 1]


async def test_derived_terms_apply_the_product(client, refs) -> None:  # type: ignore[no-untyped-def]
    product_id = (await create(client, ProductKind.LOAN, loan(refs)))["product_id"]
    url = f"/api/v1/loan-products/{product_id}/derived-terms"
    response = await client.post(url, json={"overrides": {"disbursement_date": "2026-03-02",
                                                          "principal_amount": "600000"}})
    assert response.status_code == 200, response.text
    derived = response.json()
    assert (derived["version"], derived["cycle"]) == (1, 1)
    terms = derived["terms"]
    assert (terms["principal_amount"], terms["repayment_count"], terms["interest_rate_percent"]) == (
        "600000", 12, "18")
    # The 1 % processing fee (a disbursement charge) is a schedule fee; the penalty is not a product charge.
    assert [(f["name"], f["calculation"], f["rate_percent"]) for f in terms["fees"]] == [
        ("Frais de dossier", "percent_of_amount", "1")]
    simulated = await client.post("/api/v1/loans/simulations", json={
        "currency": "XOF", "principal_amount": terms["principal_amount"],
        "disbursement_date": terms["disbursement_date"], "repayment_count": terms["repayment_count"],
        "interest_rate_percent": terms["interest_rate_percent"]})
    assert simulated.status_code == 200, simulated.text
    refused = await client.post(url, json={"overrides": {"disbursement_date": "2026-03-02",
                                                         "principal_amount": "5000000"}})
    assert (refused.status_code, refused.json()["field"]) == (422, "overrides.principal_amount")
    locked = await client.post(url, json={"overrides": {"disbursement_date": "2026-03-02",
                                                        "interest_method": "flat"}})
    assert (locked.status_code, locked.json()["field"]) == (422, "overrides.interest_method")


async def test_deposit_products_check_their_charges(client, refs) -> None:  # type: ignore[no-untyped-def]
    base = savings_product(identity=unique("Épargne"), accounting=mapping(ProductKind.DEPOSIT, AccountingRule.CASH,
                                                                          refs))
    cases = (({"withdrawal_fee_charge_ids": (refs.loan_fee_id,)}, "withdrawal_fee_charge_ids[0]"),
             ({"withdrawal_fee_charge_ids": (refs.closure_penalty_id,)}, "withdrawal_fee_charge_ids[0]"),
             ({"charge_ids": (999_999,)}, "charge_ids[0]"))
    for changes, field in cases:
        response = await client.post(PATHS[ProductKind.DEPOSIT], json=body(msgspec.structs.replace(base, **changes)))
        assert response.status_code == 422, response.text
        assert field in {e["field"] for e in response.json()["errors"]}
    term = seed_004_term_deposit(identity=unique("DAT"), currency="XOF", charge_ids=(refs.loan_penalty_id,),
                                 accounting=mapping(ProductKind.TERM_DEPOSIT, AccountingRule.CASH, refs))
    response = await client.post(PATHS[ProductKind.TERM_DEPOSIT], json=body(term))
    assert (response.status_code, response.json()["field"]) == (422, "charge_ids[0]")


async def test_charge_times_fit_their_use(client, refs, uow_factory) -> None:  # type: ignore[no-untyped-def]
    """A penalty charged at disbursement is no overdue penalty; a monthly fee is no withdrawal fee."""
    async with uow_factory() as uow:
        row = ChargeRow(name=f"Pénalité au décaissement {next(_names)} {id(refs)}", applies_to="loan",
                        charge_time="disbursement", calculation="flat", amount=D(10), currency="XOF",
                        is_penalty=True, created_by="tests", updated_by="tests")
        uow.session.add(row)
        await uow.session.flush()
        penalty_at_disbursement = row.id
        monthly = await uow.session.scalar(select(ChargeRow.id).where(ChargeRow.name == "Frais de tenue de compte"))
        await uow.commit()
    settings = loan(refs, overdue_penalty=OverduePenalty(charge_id=penalty_at_disbursement, rate_percent=D(2)))
    response = await client.post(PATHS[ProductKind.LOAN], json=body(settings))
    assert (response.status_code, response.json()["field"]) == (422, "overdue_penalty.charge_id")
    savings = savings_product(identity=unique("Épargne"), withdrawal_fee_charge_ids=(monthly,),
                              accounting=mapping(ProductKind.DEPOSIT, AccountingRule.CASH, refs))
    response = await client.post(PATHS[ProductKind.DEPOSIT], json=body(savings))
    assert (response.status_code, response.json()["field"]) == (422, "withdrawal_fee_charge_ids[0]")
    assert "monthly" in response.json()["detail"]


async def test_a_new_account_gets_the_current_version_of_an_open_active_product(client, refs, uow_factory) -> None:  # type: ignore[no-untyped-def]
    from datetime import date

    from products.errors import ProductError
    from servicing.products import service

    settings = loan(refs, identity=msgspec.structs.replace(unique("Prêt daté"), open_date=date(2026, 2, 1),
                                                           close_date=date(2026, 12, 31)))
    product_id = (await create(client, ProductKind.LOAN, settings))["product_id"]
    await client.put(f"/api/v1/loan-products/{product_id}", json=body(msgspec.structs.replace(
        settings, repayment_every=2)))
    record = await service.product_for_new_account(uow_factory(), ProductKind.LOAN, product_id, date(2026, 6, 1))
    assert (record.version, record.settings.repayment_every) == (2, 2)
    for day in (date(2026, 1, 31), date(2026, 12, 31)):
        with pytest.raises(ProductError):
            await service.product_for_new_account(uow_factory(), ProductKind.LOAN, product_id, day)
    await client.post(f"/api/v1/loan-products/{product_id}/deactivate")
    with pytest.raises(ProductError, match="inactive"):
        await service.product_for_new_account(uow_factory(), ProductKind.LOAN, product_id, date(2026, 6, 1))


async def test_derived_terms_move_due_dates_off_the_offices_holidays(client, refs, world, uow_factory) -> None:  # type: ignore[no-untyped-def]
    from datetime import date

    from products.loans import LoanTerms, generate_schedule
    from products.reference.model import HolidayDefinition
    from servicing.reference import calendar, catalogue

    await catalogue.create(uow_factory(), calendar.HOLIDAYS, HolidayDefinition(
        name=f"Fête {world.prefix}", from_date=date(2026, 4, 2), to_date=date(2026, 4, 2), all_offices=False,
        office_ids=(world.office_id,)), "tests")
    product_id = (await create(client, ProductKind.LOAN, loan(refs)))["product_id"]
    url = f"/api/v1/loan-products/{product_id}/derived-terms"
    overrides = {"disbursement_date": "2026-03-02"}
    plain = (await client.post(url, json={"overrides": overrides})).json()["terms"]
    in_office = await client.post(url, json={"overrides": overrides, "office_id": world.office_id})
    assert in_office.status_code == 200, in_office.text
    terms = in_office.json()["terms"]
    assert "2026-04-02" in terms["holidays"] and "2026-04-02" not in plain["holidays"]
    moved = generate_schedule(msgspec.convert(terms, type=LoanTerms, strict=False)).instalments[0].due_date
    assert moved != date(2026, 4, 2)
    assert generate_schedule(msgspec.convert(plain, type=LoanTerms, strict=False)).instalments[0].due_date == date(
        2026, 4, 2)
    unknown = await client.post(url, json={"overrides": overrides, "office_id": 999_999})
    assert unknown.status_code == 404


@pytest.mark.parametrize("statement", [
    "DELETE FROM product", "UPDATE product SET kind = 'deposit'", "UPDATE product_version SET settings = '{}'",
    "DELETE FROM product_version_account", "DELETE FROM product_version_charge",
])
async def test_the_application_cannot_rewrite_products(engine, statement: str) -> None:  # type: ignore[no-untyped-def]
    """The application role may add versions and change a product's name, dates and flag, never
    its kind nor a version's content."""
    async with engine.connect() as connection:
        with pytest.raises(DBAPIError, match=r"permission denied|append-only"):
            await connection.execute(text(statement))


async def test_term_deposit_rate_quote(client, refs) -> None:  # type: ignore[no-untyped-def]
    """Seed 004 through HTTP: 8 % for 1-12 months, +2 points for women, 8.5 % for 13-18 months."""
    term = seed_004_term_deposit(identity=unique("DAT"), currency="XOF", term_min=TermLength(count=12),
                                 term_max=TermLength(count=18), term_multiple=TermLength(count=3),
                                 accounting=mapping(ProductKind.TERM_DEPOSIT, AccountingRule.CASH, refs))
    product_id = (await create(client, ProductKind.TERM_DEPOSIT, term))["product_id"]
    url = f"/api/v1/term-deposit-products/{product_id}/rate-quote"

    async def quote(**changes: Any) -> Any:
        payload = {"opened_on": "2026-06-01", "term": {"count": 12, "unit": "months"}, "amount": "1000", **changes}
        return await client.post(url, json=payload)

    assert (await quote()).json()["rate_percent"] == "8"
    woman = (await quote(client={"gender": "female"})).json()
    assert (woman["rate_percent"], woman["base_rate_percent"], woman["incentives_applied"]) == ("10", "8", [0])
    assert (await quote(term={"count": 15, "unit": "months"})).json()["rate_percent"] == "8.5"
    for changes, status, field in (({"term": {"count": 14, "unit": "months"}}, 422, "term"),
                                   ({"amount": "60000"}, 422, "deposit_amount"),
                                   ({"opened_on": "2025-06-01"}, 422, "opened_on"),
                                   ({"amount": "NaN"}, 400, None),
                                   ({"client": {"shoe_size": "42"}}, 400, None)):
        response = await quote(**changes)
        assert response.status_code == status, (changes, response.text)
        if field:
            assert response.json()["field"] == field
