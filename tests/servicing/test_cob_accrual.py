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
    loan_id = await approved_loan(client, world, staff_user, made.json()["product_id"], principal_amount="10000")
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
