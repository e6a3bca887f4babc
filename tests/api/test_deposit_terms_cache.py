"""The deposit product terms cached per process follow the reference data they carry: a
payment type's GL account and a fee's tax rate changed through the API apply to the next
movement, without a restart (servicing/deposits/terms.py, revision 0031)."""

from __future__ import annotations

from datetime import date, timedelta

from servicing.deposits import terms
from tests.api.test_deposit_accounts_api import (
    move,
    open_account,
    reconciliation_row,
    refs,  # noqa: F401  (module fixture)
)
from tests.api.test_deposit_servicing_api import codes, lines_of
from tests.deposit_support import deposit_world

TODAY = date.today()


async def test_a_changed_tax_rate_applies_to_the_next_fee(client, uow_factory, world, refs) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    taf = await client.post("/api/v1/tax-rates", json={
        "code": f"TAFC-{world.prefix}", "name": "TAF sur frais", "tax_kind": "taf", "country": "ST",
        "operation_kind": "deposit_charges", "rate_percent": "17",
        "valid_from": (TODAY - timedelta(days=400)).isoformat(), "source": "test"})
    assert taf.status_code == 201, taf.text
    charge = await client.post("/api/v1/charges", json={
        "name": f"Frais de retrait taxés cache {world.prefix}", "applies_to": "deposit", "charge_time": "withdrawal",
        "calculation": "flat", "amount": "200", "currency": "XOF", "tax_rate_id": taf.json()["id"]})
    assert charge.status_code == 201, charge.text
    dw = await deposit_world(uow_factory, world, withdrawal_fee_charge_id=charge.json()["id"])
    account_id = (await open_account(client, uow_factory, dw, overdraft_limit="0"))["account_id"]
    await move(client, account_id, "deposits", "10000")
    first = await move(client, account_id, "withdrawals", "1000")
    assert [(t["kind"], t["amount"]) for t in first["transactions"]] == [
        ("withdrawal", "1000"), ("fee", "200"), ("fee_tax", "34")]  # 17 % of 200

    lowered = await client.patch(f"/api/v1/tax-rates/{taf.json()['id']}", json={"rate_percent": "10"})
    assert lowered.status_code == 200, lowered.text
    second = await move(client, account_id, "withdrawals", "1000")
    assert [(t["kind"], t["amount"]) for t in second["transactions"]] == [
        ("withdrawal", "1000"), ("fee", "200"), ("fee_tax", "20")]  # 10 % of 200, not the cached 17 %

    raised = await client.patch(f"/api/v1/charges/{charge.json()['id']}", json={"amount": "300"})
    assert raised.status_code == 200, raised.text
    third = await move(client, account_id, "withdrawals", "1000")
    assert [(t["kind"], t["amount"]) for t in third["transactions"]] == [
        ("withdrawal", "1000"), ("fee", "300"), ("fee_tax", "30")]
    assert (await reconciliation_row(client, dw))["difference"] == "0"


async def test_a_payment_types_new_gl_account_receives_the_next_deposit(  # type: ignore[no-untyped-def]
        client, uow_factory, world, refs) -> None:  # noqa: F811
    dw = await deposit_world(uow_factory, world, withdrawal_fee_charge_id=refs.withdrawal_fee_id)
    c = codes(dw)
    till = await client.post("/api/v1/payment-types", json={
        "name": f"Caisse annexe {world.prefix}", "kind": "cash", "is_cash": True,
        "gl_account_code": c["overdraft_portfolio"]})
    assert till.status_code == 201, till.text
    payment_type_id = till.json()["id"]
    account_id = (await open_account(client, uow_factory, dw))["account_id"]
    first = await move(client, account_id, "deposits", "5000", payment_type_id=payment_type_id)
    assert await lines_of(client, first["journal_entry_id"]) == {
        (c["overdraft_portfolio"], "debit", "5000"), (c["deposit_control"], "credit", "5000")}
    cached = len(terms._cache)

    moved = await client.patch(f"/api/v1/payment-types/{payment_type_id}", json={"gl_account_code": c["fund_source"]})
    assert moved.status_code == 200, moved.text
    second = await move(client, account_id, "deposits", "7000", payment_type_id=payment_type_id)
    assert await lines_of(client, second["journal_entry_id"]) == {
        (c["fund_source"], "debit", "7000"), (c["deposit_control"], "credit", "7000")}
    assert len(terms._cache) == cached, "the entry is replaced, not added beside the stale one"
