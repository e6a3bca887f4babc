"""The close-of-business step `loan_accrual` on real loans: interest earned day by day on the
product's receivable and income accounts (the journal lines written out here), one shared entry
per product for a chunk of loans, nothing accrued for a non-performing loan, a run repeated
posting nothing, a missed stretch of days caught up exactly as the days one by one, and the loan
reconciliation (per loan and per shared entry) at zero afterwards.

The product charges 18 % a year on 300 000 XOF over 6 months with interest computed per
repayment period: every instalment carries 300 000 x 18 % / 12 = 4 500 XOF of interest on the
first one, so by the close of day n of a first period of L days, n x 4 500 / L is earned."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import msgspec
from sqlalchemy import text

from chart_of_accounts import AccountType, AccountUsage, GLAccount
from products.catalogue.common import AmountRange, CountRange
from products.loans.product import LoanProduct
from products.posting_rules import AccountingRole, AccountingRule, ProductKind
from servicing import chart
from servicing.close_of_business.loan_accrual import accrue_loans
from servicing.close_of_business.loan_arrears import age_loans
from servicing.commands import CreateGLAccounts
from servicing.loans.reconciliation import VERIFY_QUERIES, loan_reconciliation
from servicing.products import demo
from tests.api.test_loans_api import (  # noqa: F401  (fixtures)
    DISBURSED_ON,
    TODAY,
    approved_loan,
    disburse,
    ids,
    make_product,
    refs,
)
from tests.api.test_products_api import unique

D = Decimal


def xof(value: Decimal) -> Decimal:
    return value.quantize(D(1), rounding=ROUND_HALF_EVEN)


async def loan_rows(uow_factory: Any, loan_id: int, *kinds: str) -> list[Any]:
    async with uow_factory() as uow:
        return list((await uow.session.execute(text(
            "SELECT * FROM loan_transaction WHERE loan_id = :l AND kind = ANY(:k) ORDER BY sequence_number"),
            {"l": loan_id, "k": list(kinds)})).all())


async def entry_lines(uow_factory: Any, entry_id: Any) -> set[tuple[str, str, Decimal]]:
    async with uow_factory() as uow:
        rows = (await uow.session.execute(text(
            "SELECT a.code, l.side, l.amount FROM journal_line l JOIN gl_account a ON a.id = l.account_id "
            "WHERE l.entry_id = :id"), {"id": entry_id})).all()
    return {(code, side, D(amount).normalize()) for code, side, amount in rows}


async def verify_problems(uow_factory: Any) -> dict[str, list[str]]:
    async with uow_factory() as uow:
        return {name: [r.detail for r in (await uow.session.execute(text(sql))).all()] for name, sql in VERIFY_QUERIES}


async def receivable_of(uow_factory: Any, product_id: int) -> str:
    async with uow_factory() as uow:
        return str(await uow.session.scalar(text(
            "SELECT a.code FROM product_version_account m JOIN gl_account a ON a.id = m.gl_account_id"
            " WHERE m.product_id = :p AND m.role = 'interest_receivable' AND m.classification IS NULL"),
            {"p": product_id}))


async def first_period(client: Any, loan_id: int) -> dict[str, Any]:
    schedule = (await client.get(f"/api/v1/loans/{loan_id}")).json()["loan"]["schedule"]
    return dict(schedule["instalments"][0])


async def approved_through_levels(client: Any, world: Any, staff_user: Any, product_id: int, **changes: Any) -> int:
    """An approved loan whatever validation levels other tests configured for its currency
    (each level approved by a different administrator)."""
    from tests.api.test_loans_api import APPS, application, borrower

    made = await client.post(APPS, json=application(await borrower(client, world, staff_user), product_id, **changes))
    assert made.status_code == 201, made.text
    loan_id = int(made.json()["loan_id"])
    assert (await client.post(f"{APPS}/{loan_id}/submit")).status_code == 200
    for _level in range(20):
        checker = await staff_user("administrator")
        approved = await client.post(f"{APPS}/{loan_id}/approve", json={}, headers=checker.headers)
        assert approved.status_code == 200, approved.text
        if approved.json()["status"] == "approved":
            return loan_id
    raise AssertionError("more than 20 validation levels")


async def test_xof_interest_accrues_day_by_day_through_the_rules_and_once(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.ACCRUAL_PERIODIC,
                                                own_receivables=True)
    receivable = await receivable_of(uow_factory, product_id)
    first = await approved_loan(client, world, staff_user, product_id)
    second = await approved_loan(client, world, staff_user, product_id)
    for loan_id in (first, second):
        assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    period = await first_period(client, first)
    assert D(period["interest_amount"]) == 4500
    length = (date.fromisoformat(period["due_date"]) - DISBURSED_ON).days
    day = DISBURSED_ON + timedelta(days=10)

    outcome = await accrue_loans(uow_factory, day, "tests")
    assert outcome.items >= 2
    expected = xof(D(4500) * 10 / length)  # 10 days of 4 500: 1 452 for a 31-day period, 1 500 for 30
    (one,) = await loan_rows(uow_factory, first, "accrual")
    (two,) = await loan_rows(uow_factory, second, "accrual")
    assert (one.interest, one.fee, one.amount, one.value_date, one.classification) == (
        expected, 0, expected, day, "healthy")
    assert one.journal_entry_id == two.journal_entry_id, "one entry for the product's loans of the chunk"
    assert await entry_lines(uow_factory, one.journal_entry_id) == {
        (receivable, "D", 2 * expected), ("7021", "C", 2 * expected)}

    statement = (await client.get(f"/api/v1/loans/{first}/statement")).json()
    (accrued,) = [i for i in statement["items"] if i["transaction"]["kind"] == "accrual"]
    assert {(x["account_code"], x["side"], D(x["amount"])) for x in accrued["journal_lines"]} == {
        (receivable, "debit", expected), ("7021", "credit", expected)}, "the loan's share, not the whole entry"

    again = await accrue_loans(uow_factory, day, "tests")
    assert again.items >= 2
    assert len(await loan_rows(uow_factory, first, "accrual", "accrual_adjustment")) == 1, "a day run twice posts once"

    next_day = day + timedelta(days=1)
    await accrue_loans(uow_factory, next_day, "tests")
    _first, following = await loan_rows(uow_factory, first, "accrual")
    assert following.interest == xof(D(4500) * 11 / length) - expected, "the rounding is carried, not lost"
    report = await loan_reconciliation(uow_factory())
    mine = [r for r in report.rows if r.product_id == product_id]
    assert {r.account_code for r in mine} >= {receivable} and all(r.difference == 0 for r in mine), mine
    assert await verify_problems(uow_factory) == {name: [] for name, _sql in VERIFY_QUERIES}


async def test_a_missed_stretch_is_caught_up_exactly_as_day_by_day(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.ACCRUAL_PERIODIC,
                                                own_receivables=True)
    daily = await approved_loan(client, world, staff_user, product_id)
    assert (await disburse(client, daily, ids["cash"])).status_code == 201
    start = DISBURSED_ON + timedelta(days=3)
    days = [start + timedelta(days=n) for n in range(40)]  # across the first due date
    for day in days:
        await accrue_loans(uow_factory, day, "tests")
    caught_up = await approved_loan(client, world, staff_user, product_id)  # disbursed the same day, later
    assert (await disburse(client, caught_up, ids["cash"])).status_code == 201
    await accrue_loans(uow_factory, days[-1], "tests")

    by_day = await loan_rows(uow_factory, daily, "accrual")
    (at_once,) = await loan_rows(uow_factory, caught_up, "accrual")
    assert len(by_day) == len(days)
    assert sum(r.interest for r in by_day) == at_once.interest
    period = await first_period(client, daily)
    due = date.fromisoformat(period["due_date"])
    assert sum(r.interest for r in by_day if r.value_date <= due) == 4500, "a period's days add up to its interest"
    assert await verify_problems(uow_factory) == {name: [] for name, _sql in VERIFY_QUERIES}


async def test_a_non_performing_loan_accrues_nothing(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.ACCRUAL_PERIODIC,
                                                own_receivables=True, days_to_npa=30)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    late = await age_loans(uow_factory, TODAY, "tests")
    assert int(late.detail["loans_non_performing"]) >= 1
    outcome = await accrue_loans(uow_factory, TODAY, "tests")
    assert await loan_rows(uow_factory, loan_id, "accrual", "accrual_adjustment") == []
    schedule = (await client.get(f"/api/v1/loans/{loan_id}")).json()["loan"]["schedule"]
    earned = sum(D(p["interest_amount"]) for p in schedule["instalments"] if p["due_date"] <= TODAY.isoformat())
    assert earned >= 4500 and D(outcome.detail["interest_withheld"]) >= earned, "periods earned, none recognised"


async def test_an_eur_loan_accrues_in_cents(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    receivable = f"{world.prefix}.eur-int"
    await chart.create_accounts(uow_factory(), CreateGLAccounts(accounts=(GLAccount(
        code=receivable, name="Intérêts courus EUR", type=AccountType.ASSET, usage=AccountUsage.DETAIL,
        parent_code=world.header),), actor="tests"))
    accounting = demo._mapping(ProductKind.LOAN, AccountingRule.ACCRUAL_PERIODIC, refs)
    accounting = msgspec.structs.replace(accounting, accounts={
        **accounting.accounts, AccountingRole.INTEREST_RECEIVABLE: receivable})
    product = LoanProduct(
        identity=unique("Prêt EUR"), currency="EUR", fund_source_id=refs.own_funds_id,
        principal=AmountRange(minimum=D(1_000), default=D(10_000), maximum=D(100_000)),
        repayment_count=CountRange(minimum=3, default=6, maximum=24),
        interest_rate_percent=AmountRange(minimum=D(6), default=D(12), maximum=D(20)), accounting=accounting)
    made = await client.post("/api/v1/loan-products", json=msgspec.to_builtins(product))
    assert made.status_code == 201, made.text
    loan_id = await approved_through_levels(client, world, staff_user, made.json()["product_id"],
                                            principal_amount="10000")
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    period = await first_period(client, loan_id)
    assert D(period["interest_amount"]) == 100  # 10 000 x 12 % / 12
    length = (date.fromisoformat(period["due_date"]) - DISBURSED_ON).days
    day = DISBURSED_ON + timedelta(days=10)
    await accrue_loans(uow_factory, day, "tests")
    (row,) = await loan_rows(uow_factory, loan_id, "accrual")
    expected = (D(100) * 10 / length).quantize(D("0.01"), rounding=ROUND_HALF_EVEN)  # 32.26 of a 31-day period
    assert row.interest == expected and row.currency == "EUR"
    assert await entry_lines(uow_factory, row.journal_entry_id) == {
        (receivable, "D", expected.normalize()), ("7021", "C", expected.normalize())}


async def instalment_fee_product(client: Any, refs: Any, world: Any, uow_factory: Any) -> int:  # noqa: F811
    """An accrual-periodic product at 12 % with a flat 50 XOF fee on every instalment (income 7022)."""
    fee = await client.post("/api/v1/charges", json={
        "name": f"Frais de suivi {world.prefix}", "applies_to": "loan", "charge_time": "instalment_fee",
        "calculation": "flat", "amount": "50", "currency": "XOF", "income_gl_account_code": "7022"})
    assert fee.status_code == 201, fee.text
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.ACCRUAL_PERIODIC,
                                                own_receivables=True, charge_ids=(refs.loan_fee_id, fee.json()["id"]),
                                                interest_rate_percent=AmountRange(minimum=D(6), default=D(12),
                                                                                  maximum=D(24)))
    return int(product_id)


async def test_an_instalment_fee_is_recognised_on_its_due_date_on_its_accounts(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    product_id = await instalment_fee_product(client, refs, world, uow_factory)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    due = date.fromisoformat((await first_period(client, loan_id))["due_date"])
    async with uow_factory() as uow:
        fees_receivable = str(await uow.session.scalar(text(
            "SELECT a.code FROM product_version_account m JOIN gl_account a ON a.id = m.gl_account_id"
            " WHERE m.product_id = :p AND m.role = 'fees_receivable'"), {"p": product_id}))

    await accrue_loans(uow_factory, due - timedelta(days=1), "tests")
    (before,) = await loan_rows(uow_factory, loan_id, "accrual")
    assert before.fee == 0
    await accrue_loans(uow_factory, due, "tests")
    await accrue_loans(uow_factory, due, "tests")
    _before, on_due = await loan_rows(uow_factory, loan_id, "accrual")
    # 12 % a year: 300 000 x 12 % / 12 = 3 000 of interest on the first instalment
    assert (on_due.fee, on_due.interest) == (50, 3000 - before.interest), "the period's last day closes it"
    receivable = await receivable_of(uow_factory, product_id)
    assert await entry_lines(uow_factory, on_due.journal_entry_id) == {
        (receivable, "D", on_due.interest), ("7021", "C", on_due.interest),
        (fees_receivable, "D", 50), ("7022", "C", 50)}
    assert await verify_problems(uow_factory) == {name: [] for name, _sql in VERIFY_QUERIES}


def test_the_target_of_a_non_performing_loan_stops_at_what_was_recognised_or_paid() -> None:
    from products.loans.schedule import generate_schedule
    from products.rounding import Rounding, compile_rounding
    from servicing.close_of_business.loan_accrual import accrual_target
    from tests.products.factories import xof_terms

    # 1,200,000 XOF at 24 %: instalment 1 runs 1 Jan -> 1 Feb 2025 with 24,000 of interest;
    # by the close of 4 January 2,323 is earned (24,000 x 3 / 31 = 2,322.58).
    schedule, rounder = generate_schedule(xof_terms()), compile_rounding(Rounding(), "XOF")
    on = date(2025, 1, 4)

    def target(*, npa: bool, accrued: int, floor: int = 0, periodic: bool = True) -> tuple[Decimal, Decimal]:
        found = accrual_target(schedule, None, on, rounder, accrues_interest=periodic, non_performing=npa,
                               accrued=(D(accrued), D(0)), floor=(D(floor), D(0)))
        return found.interest, found.interest_withheld

    assert target(npa=False, accrued=774) == (2323, 0)
    assert target(npa=True, accrued=774) == (774, 1549), "nothing more once non-performing"
    # A repayment recognises the interest it pays beyond the receivable (`true_up_on_settlement`):
    assert target(npa=True, accrued=2000, floor=2000) == (2000, 323), "interest paid is cash: kept recognised"
    assert target(npa=True, accrued=9000, floor=9000) == (9000, 0), "paid ahead: never taken back"
    assert target(npa=False, accrued=9000, floor=9000) == (9000, 0), "paid ahead: the night adds nothing"
    assert target(npa=False, accrued=3000, floor=1000) == (2323, 0), "a target that went down (recalculated)"
    assert target(npa=False, accrued=700, periodic=False) == (700, 0), "upfront: nothing to accrue"


def test_a_fee_accrual_is_split_by_charge_in_due_date_order() -> None:
    from products.loans.accrual import FeeRecognition
    from servicing.close_of_business.loan_accrual import fee_slice

    def fee(name: str, month: int, amount: int) -> FeeRecognition:
        return FeeRecognition(name=name, instalment=month, due_date=date(2025, month, 1), amount=D(amount),
                              vat_amount=D(0))

    fees = [fee("suivi", 2, 1000), fee("assurance", 2, 500), fee("suivi", 3, 1000)]
    charge_ids = {"suivi": 7, "assurance": 8}
    assert fee_slice(fees, D(0), D(1500), charge_ids) == [(8, D(500)), (7, D(1000))]
    assert fee_slice(fees, D(1500), D(2500), charge_ids) == [(7, D(1000))]
    assert fee_slice(fees, D(2500), D(1500), charge_ids) == [(7, D(1000))], "an adjustment takes back the latest"
    assert fee_slice(fees, D(2500), D(2700), charge_ids) == [(7, D(200))], "beyond the schedule: the last fee's"
    assert fee_slice([], D(0), D(50), charge_ids) == [(None, D(50))], "no fee left: the plain fee income account"


async def test_accrual_follows_the_recalculated_schedule_after_an_early_repayment(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    from tests.api.test_loans_api import repay

    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.ACCRUAL_PERIODIC,
                                                own_receivables=True, interest_recalculation=True)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    due = date.fromisoformat((await first_period(client, loan_id))["due_date"])
    length = (due - DISBURSED_ON).days
    await accrue_loans(uow_factory, DISBURSED_ON + timedelta(days=5), "tests")
    paid = await repay(client, loan_id, "100000", ids["cash"], on=DISBURSED_ON + timedelta(days=10))
    assert paid.status_code == 201, paid.text
    assert D(paid.json()["interest"]) == xof(D(4500) * 10 / length), "the interest locked by the early payment"
    await accrue_loans(uow_factory, DISBURSED_ON + timedelta(days=10), "tests")
    await accrue_loans(uow_factory, due, "tests")

    schedule = (await client.get(f"/api/v1/loans/{loan_id}", params={"as_of": due.isoformat()})).json()
    recalculated = D(schedule["loan"]["schedule"]["instalments"][0]["interest_amount"])
    assert recalculated < 4500, "less principal outstanding after the 10th day"
    accrued = await loan_rows(uow_factory, loan_id, "accrual", "accrual_adjustment")
    signed = sum(r.interest if r.kind == "accrual" else -r.interest for r in accrued)
    assert signed == recalculated, "the period's accruals add up to the recalculated interest"
    assert await verify_problems(uow_factory) == {name: [] for name, _sql in VERIFY_QUERIES}


async def test_a_product_version_is_published_to_concurrent_chunks_only_whole(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Chunks are computed concurrently: one that finds a product version already loaded by
    another must find its charges too (a chunk once read the version before its charges were in)."""
    import asyncio
    from types import SimpleNamespace

    from products.rounding import Rounding
    from servicing.close_of_business import loan_accrual

    charges_read = asyncio.Event()

    class Session:
        async def execute(self, _statement: Any) -> Any:
            await charges_read.wait()
            return SimpleNamespace(all=lambda: [("Frais de dossier", 7)])

    async def product_in(_uow: Any, _product_id: int, _version: int) -> Any:
        return SimpleNamespace(charge_ids=(7,), rounding=Rounding(decimals=None))

    monkeypatch.setattr(loan_accrual, "get_product_in", product_in)
    products = loan_accrual._Products()
    loading = asyncio.create_task(products.load(SimpleNamespace(session=Session()), (1, 1), "XOF"))
    await asyncio.sleep(0.01)  # the first chunk waits on the version's charges
    assert (1, 1) not in products.settings, "published before its charges"
    charges_read.set()
    await loading
    assert products.settings[(1, 1)].charge_ids == (7,)
    assert products.charges[(1, 1)] == {"Frais de dossier": 7}


async def test_the_plain_accrual_columns_write_what_a_posting_writes(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, monkeypatch) -> None:  # noqa: F811
    """Two identical loans on a night their windows cover: one takes the columns
    (`InterestAccruals`), the other is made to take the full derivation and a `Posting`. Their
    transactions and shares are the same, in the same shared entry, and everything reconciles."""
    from servicing.close_of_business import loan_accrual

    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.ACCRUAL_PERIODIC,
                                                own_receivables=True)
    first, second = [loan async for loan in _loans(client, world, staff_user, product_id, ids)]
    day = DISBURSED_ON + timedelta(days=10)
    await accrue_loans(uow_factory, day, "tests", loans=[first, second])  # writes both windows
    windows = loan_accrual._from_windows

    def all_but_second(loans: Any, on: Any, products: Any) -> Any:
        return {loan_id: target for loan_id, target in windows(loans, on, products).items() if loan_id != second}

    monkeypatch.setattr(loan_accrual, "_from_windows", all_but_second)
    outcome = await accrue_loans(uow_factory, day + timedelta(days=1), "tests", loans=[first, second])
    assert outcome.detail["loans_from_window"] == "1"

    async def written(loan_id: int) -> tuple[Any, ...]:
        async with uow_factory() as uow:
            row = (await uow.session.execute(text(
                "SELECT id, sequence_number, kind, value_date, amount, principal, interest, fee, penalty, vat,"
                " classification, charge_id, CAST(allocation AS text) AS allocation, journal_entry_id"
                " FROM loan_transaction WHERE loan_id = :l ORDER BY sequence_number DESC LIMIT 1"),
                {"l": loan_id})).one()
            shares = (await uow.session.execute(text(
                "SELECT a.code, s.side, s.amount, s.entry_id FROM loan_entry_share s"
                " JOIN gl_account a ON a.id = s.account_id WHERE s.loan_transaction_id = :t ORDER BY 1, 2"),
                {"t": row.id})).all()
        return (*row[1:], tuple(shares))

    assert (await written(first)) == (await written(second))
    mine = await written(first)
    assert mine[1] == "accrual" and mine[5] > 0 and len(mine[-1]) == 2, mine
    assert await verify_problems(uow_factory) == {name: [] for name, _sql in VERIFY_QUERIES}


async def _loans(client: Any, world: Any, staff_user: Any, product_id: int, ids: Any) -> Any:  # noqa: F811
    for _ in range(2):
        loan_id = await approved_loan(client, world, staff_user, product_id)
        assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
        yield loan_id
