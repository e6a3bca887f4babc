"""Close of business against the published behaviour of Apache Fineract (Mifos X) and Mambu:
arrears ageing with a tolerance, late-payment penalties with tolerance periods, NPA marking and
exit with the accrual stopped, write-off and recovery entries, and what a loan officer reads on
the loan afterwards. Each scenario names its source; docs/acceptance.md says what matched.

The published scenarios are dated (Fineract: 1 October 2023...); here the loans are disbursed a
number of days before today, so the same day offsets from the due date are closed. Amounts are
in XOF (no minor unit). Each test closes only the days it checks, for its own office (every step
is idempotent and catches up what the days in between would have done)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from sqlalchemy import text

from products.catalogue.common import AmountRange, CountRange
from products.loans.product import OverduePenalty, PenaltyBase, RateOrFlat
from products.posting_rules import AccountingRule
from servicing.close_of_business.steps import STEPS
from servicing.reference import credit_parameters
from servicing.reference.defaults import DEMO_CREDIT_PARAMETERS
from servicing.reference.grid_templates import load_grid_template
from servicing.staff.scope import OfficeScope
from tests.api import test_loans_api
from tests.api.test_loans_api import TODAY, approved_loan, disburse, entry_lines, lines, make_product, repay

D = Decimal
refs = test_loans_api.refs  # the loan tests' module fixtures: demo chart, references, payment types
ids = test_loans_api.ids

FINERACT_DELINQUENCY = ("https://github.com/apache/fineract/blob/develop/fineract-e2e-tests-runner/src/test/"
                        "resources/features/LoanDelinquency.feature")
MAMBU_PENALTIES = "https://support.mambu.com/docs/loan-penalties-setup"
MAMBU_ARREARS = "https://support.mambu.com/docs/arrears-settings"


@pytest.fixture(autouse=True)
async def rcsfd_grid(uow_factory: Any) -> AsyncIterator[None]:
    """The RCSFD grid of the UEMOA SFDs (0-90 days healthy, 91-180 doubtful 40 %...), in force
    for each scenario whatever an earlier test loaded, and again after it."""
    await load_grid_template(uow_factory, "bceao-sfd", "acceptance")
    yield
    await load_grid_template(uow_factory, "bceao-sfd", "acceptance")


async def close(uow_factory: Any, office_id: int, *days: date) -> None:
    """The close of business of ``days`` for one office: every shipped step, in its order."""
    scope = OfficeScope(office_id=office_id, office_ids=frozenset({office_id}))
    for day in days:
        for step in STEPS:
            assert step.by_office, step.name
            await step.run(uow_factory, day, "acceptance", scope)


async def late_loan(client, world, staff_user, ids, product_id: int, disbursed: date) -> tuple[int, list[dict[str, Any]]]:  # type: ignore[no-untyped-def]
    """300,000 XOF at 18 % over 6 months (instalments of 52,658), nothing repaid."""
    loan_id = await approved_loan(client, world, staff_user, product_id,
                                  expected_disbursement_date=disbursed.isoformat())
    made = await disburse(client, loan_id, ids["cash"], value_date=disbursed.isoformat())
    assert made.status_code == 201, made.text
    view = (await client.get(f"/api/v1/loans/{loan_id}")).json()
    return loan_id, view["loan"]["schedule"]["instalments"]


async def arrears_of(client, loan_id: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    view = await client.get(f"/api/v1/loans/{loan_id}")
    assert view.status_code == 200, view.text
    arrears: dict[str, Any] = view.json()["arrears"]
    return arrears


async def test_fineract_delinquency_grace_ages_the_real_days_and_delays_the_status(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:
    """Fineract LoanDelinquency.feature (C4620 and the scenario before it): 250 unpaid from
    1 October with 3 days of grace on ageing; the inline COB of 2, 4, 5 and 10 October shows
    pastDueDays 1, 3, 4, 9 and delinquentDays 0, 0, 1, 6 (NO_DELINQUENCY until the 4th, a
    delinquency range from the 5th). Ours with `arrears_tolerance_days: 3`: days overdue 1, 3,
    4, 9 (the real age, Fineract's pastDueDays) and the status performing until due + 3, in
    arrears from due + 4 (Fineract's first delinquent day). Fineract grades its delinquency
    range on the days after the grace; we grade the bucket, the PAR and the provision on the real
    age (docs/acceptance.md, "Differences")."""
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH,
                                                arrears_tolerance_days=3)
    loan_id, schedule = await late_loan(client, world, staff_user, ids, product_id, TODAY - timedelta(days=60))
    due = date.fromisoformat(schedule[0]["due_date"])
    seen = []
    for offset in (1, 3, 4, 9):
        await close(uow_factory, world.office_id, due + timedelta(days=offset))
        arrears = await arrears_of(client, loan_id)
        seen.append((arrears["business_date"], arrears["days_overdue"], arrears["status"]))
    assert seen == [((due + timedelta(days=1)).isoformat(), 1, "performing"),
                    ((due + timedelta(days=3)).isoformat(), 3, "performing"),
                    ((due + timedelta(days=4)).isoformat(), 4, "in_arrears"),
                    ((due + timedelta(days=9)).isoformat(), 9, "in_arrears")]
    assert D(arrears["overdue_amount"]) == 52_658 and arrears["classification"] == "healthy"


async def test_mambu_arrears_tolerance_amount_keeps_a_small_remainder_current(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:
    """Mambu "Arrears Settings" (arrears tolerance amount) and the practice it answers (a client
    pays 250 of 250.25: the remainder must not put the account in arrears nor cost a penalty).
    Instalment 1 (52,658) paid 52,500: 158 XOF unpaid, within a 500 XOF tolerance. The close finds
    the loan current (0 days, performing) and charges no penalty; the 158 is still owed."""
    penalty = OverduePenalty(charge_id=refs.loan_penalty_id, basis=RateOrFlat.FLAT, flat_amount=D(1_000))
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH,
                                                arrears_tolerance_amount=D(500), overdue_penalty=penalty)
    loan_id, schedule = await late_loan(client, world, staff_user, ids, product_id, TODAY - timedelta(days=60))
    due = date.fromisoformat(schedule[0]["due_date"])
    paid = await repay(client, loan_id, "52500", ids["cash"], on=due)
    assert paid.status_code == 201, paid.text
    await close(uow_factory, world.office_id, due + timedelta(days=10))
    arrears = await arrears_of(client, loan_id)
    assert (arrears["days_overdue"], arrears["status"], D(arrears["overdue_amount"])) == (0, "performing", 158)
    view = (await client.get(f"/api/v1/loans/{loan_id}")).json()
    penalties = [c for c in view["position"]["components"] if c["component"] == "penalty"]
    assert all(D(c["expected"]) == 0 for c in penalties), penalties


@pytest.mark.parametrize(("arrears_days", "penalty_days", "late", "charged"), [
    (32, 40, 34, False), (32, 40, 41, True), (40, 32, 34, False), (40, 32, 41, True)])
async def test_mambu_penalties_wait_for_both_tolerance_periods(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, arrears_days, penalty_days, late, charged) -> None:
    """Mambu "Loan Penalties Setup", examples with the penalty calculation method: arrears
    tolerance 32 days and penalty tolerance 40: no penalty at 34 days late, one at 41; "penalties
    are applied after the arrears and penalty tolerance period has passed". Ours: the product's
    `arrears_tolerance_days` and the penalty charge's `grace_days`; the flat penalty of 1,000 XOF
    falls on the first close after both (fixed: the charge's grace alone used to decide)."""
    charge = await client.post("/api/v1/charges", json={
        "name": f"Pénalité Mambu {arrears_days}/{penalty_days}/{late} {world.prefix}", "applies_to": "loan",
        "charge_time": "overdue_instalment", "calculation": "flat", "amount": "1000", "currency": "XOF",
        "is_penalty": True, "grace_days": penalty_days})
    assert charge.status_code == 201, charge.text
    penalty = OverduePenalty(charge_id=charge.json()["id"], basis=RateOrFlat.FLAT, flat_amount=D(1_000))
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH,
                                                arrears_tolerance_days=arrears_days, overdue_penalty=penalty)
    loan_id, schedule = await late_loan(client, world, staff_user, ids, product_id, TODAY - timedelta(days=80))
    due = date.fromisoformat(schedule[0]["due_date"])
    await close(uow_factory, world.office_id, due + timedelta(days=late))
    async with uow_factory() as uow:
        found = (await uow.session.execute(text(
            "SELECT instalment, period, charged_on FROM loan_penalty_charge WHERE loan_id = :l"), {"l": loan_id})).all()
    first_day = due + timedelta(days=max(arrears_days, penalty_days) + 1)
    assert [tuple(row) for row in found] == ([(1, 1, first_day)] if charged else [])
    arrears = await arrears_of(client, loan_id)
    assert arrears["days_overdue"] == late
    assert arrears["status"] == ("in_arrears" if late > arrears_days else "performing")


async def accrued(uow_factory: Any, loan_id: int) -> Decimal:
    async with uow_factory() as uow:
        total = await uow.session.scalar(text(
            "SELECT coalesce(sum(interest), 0) FROM loan_accrual_total WHERE loan_id = :l"), {"l": loan_id})
    return D(total).normalize()


async def test_fineract_npa_stops_the_accrual_and_exits_only_when_arrears_are_paid(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:
    """Fineract loan product "Overdue days for NPA" and "Account moves out of NPA only after all
    arrears have been cleared" (Mifos X user manual, loan products; the periodic accrual job
    skips NPA loans and does not reverse what was accrued before). Ours: `days_to_npa: 30`,
    `npa_exit_requires_arrears_paid: true`, accrual periodic. Instalment 1 unpaid: 30 days late
    in arrears, 31 days NPA; no accrual posted while NPA; instalment 1 paid (instalment 2 still
    late): still NPA; all arrears paid: performing again, and the nights accrue again."""
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.ACCRUAL_PERIODIC,
                                                own_receivables=True, days_to_npa=30)
    loan_id, schedule = await late_loan(client, world, staff_user, ids, product_id, TODAY - timedelta(days=110))
    due = date.fromisoformat(schedule[0]["due_date"])
    await close(uow_factory, world.office_id, due + timedelta(days=30))
    assert (await arrears_of(client, loan_id))["status"] == "in_arrears"
    await close(uow_factory, world.office_id, due + timedelta(days=31))
    assert (await arrears_of(client, loan_id))["status"] == "non_performing"
    before = await accrued(uow_factory, loan_id)
    assert before > 0
    await close(uow_factory, world.office_id, due + timedelta(days=40))
    assert await accrued(uow_factory, loan_id) == before, "nothing accrued while NPA, nothing reversed"

    first = await repay(client, loan_id, "52658", ids["cash"], on=due + timedelta(days=41))
    assert first.status_code == 201, first.text
    await close(uow_factory, world.office_id, due + timedelta(days=41))
    arrears = await arrears_of(client, loan_id)
    assert arrears["status"] == "non_performing" and 0 < arrears["days_overdue"] < 30, arrears
    rest = await repay(client, loan_id, arrears["overdue_amount"], ids["cash"], on=due + timedelta(days=42))
    assert rest.status_code == 201, rest.text
    await close(uow_factory, world.office_id, due + timedelta(days=42))
    arrears = await arrears_of(client, loan_id)
    assert (arrears["status"], arrears["days_overdue"], D(arrears["overdue_amount"])) == ("performing", 0, 0)
    settled = await accrued(uow_factory, loan_id)
    await close(uow_factory, world.office_id, due + timedelta(days=43))
    assert await accrued(uow_factory, loan_id) > settled, "the accrual resumes once the loan performs again"


async def test_fineract_write_off_and_recovery_entries(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:
    """Fineract accounting ("Accounting rules for loans", cash based): write-off Dr Losses
    written off / Cr Loan portfolio for the principal; a recovery payment after write-off Dr Fund
    source / Cr Income from recovery repayments. Ours under cash accounting, nothing provisioned:
    Dr 665 pertes 300,000 / Cr portfolio 300,000, then Dr 1012 10,000 / Cr 762 récupérations
    10,000; the loan leaves the active portfolio (status written_off) and keeps its history."""
    product_id, portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH)
    loan_id, _schedule = await late_loan(client, world, staff_user, ids, product_id, TODAY - timedelta(days=100))
    written = await client.post(f"/api/v1/loans/{loan_id}/write-off", json={
        "reason": "Irrécouvrable : débiteur introuvable", "value_date": (TODAY - timedelta(days=2)).isoformat()})
    assert written.status_code == 201, written.text
    assert await entry_lines(uow_factory, written.json()["journal_entry_id"]) == lines(
        ("665", "D", 300_000), (portfolio, "C", 300_000))
    recovered = await client.post(f"/api/v1/loans/{loan_id}/recoveries", json={
        "value_date": TODAY.isoformat(), "amount": "10000", "payment_type_id": ids["cash"]},
        headers={"Idempotency-Key": f"recovery-{loan_id}"})
    assert recovered.status_code == 201, recovered.text
    assert await entry_lines(uow_factory, recovered.json()["journal_entry_id"]) == lines(
        ("1012", "D", 10_000), ("762", "C", 10_000))
    loan = (await client.get(f"/api/v1/loans/{loan_id}")).json()["loan"]
    assert loan["status"] == "written_off"


async def test_portfolio_reports_a_loan_officer_reads_after_the_close(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:
    """What a Mifos X / Mambu user looks for after the night (Mifos "Portfolio at Risk" and
    "Aging Summary" reports, Mambu PAR): PAR by office with the total, ageing per bucket with the
    provision it requires, provisions required vs booked, the arrears and follow-up lists; each
    narrowed to an office and a product, JSON and CSV, in XOF without decimals, buckets labelled
    in French. One loan 119 days late (the RCSFD's « Plus de 3 à 6 mois », 40 %), one current."""
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH)
    late, _ = await late_loan(client, world, staff_user, ids, product_id, TODAY - timedelta(days=150))
    await late_loan(client, world, staff_user, ids, product_id, TODAY - timedelta(days=20))
    await close(uow_factory, world.office_id, TODAY - timedelta(days=1))
    mine = {"office_id": world.office_id, "product_id": product_id}

    async with uow_factory() as uow:
        office_name = await uow.session.scalar(text("SELECT name FROM office WHERE id = :o"), {"o": world.office_id})
    par = (await client.get("/api/v1/reports/portfolio-at-risk", params={"group_by": "office", **mine})).json()
    assert [(r["label"], r["loans"], r["outstanding_principal"], r["par_1"], r["par_30"], r["par_90"],
             r["par_30_percent"], r["loans_at_risk_30"]) for r in par["rows"]] == [
        (office_name, 2, "600000", "300000", "300000", "300000", "50.00", 1)]
    assert [(t["group"], t["label"], t["currency"], t["outstanding_principal"], t["par_30"], t["par_30_percent"])
            for t in par["totals"]] == [("total", "Total", "XOF", "600000", "300000", "50.00")]
    csv = await client.get("/api/v1/reports/portfolio-at-risk", params={"group_by": "office", "format": "csv", **mine})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.strip().splitlines()[-1] == "total;Total;XOF;2;600000;300000;300000;300000;50.00;50.00;50.00;1"

    ageing = (await client.get("/api/v1/reports/loan-ageing", params=mine)).json()
    assert [(r["bucket"], r["classification"], r["provision_rate_percent"], r["loans"], r["outstanding_principal"],
             r["provision_required"]) for r in ageing["rows"]] == [
        ("0 à 3 mois (provision facultative)", "healthy", "0", 1, "300000", "0"),
        ("Plus de 3 à 6 mois (2991)", "doubtful", "40", 1, "300000", "120000")]
    # The grid's bounds, as the practitioner reads the bucket (« plus de 3 à 6 mois »: 91 to 180
    # days), not the youngest loan in it; what the loans show is named as observed.
    assert [(r["days_overdue_from"], r["days_overdue_to"], r["observed_days_overdue_min"],
             r["observed_days_overdue_max"]) for r in ageing["rows"]] == [(0, 90, 0, 0), (91, 180, 119, 119)]
    assert [(t["bucket"], t["loans"], t["outstanding_principal"], t["provision_required"]) for t in ageing["totals"]] \
        == [("Total", 2, "600000", "120000")]
    assert [(t["days_overdue_from"], t["days_overdue_to"], t["observed_days_overdue_max"])
            for t in ageing["totals"]] == [(0, 180, 119)]

    provisions = (await client.get("/api/v1/reports/provisioning", params=mine)).json()
    assert [(t["loans"], t["provision_required"], t["provision_booked"], t["difference"])
            for t in provisions["totals"]] == [(2, "120000", "120000", "0")]
    provisions_csv = await client.get("/api/v1/reports/provisioning", params={"format": "csv", **mine})
    assert provisions_csv.text.strip().splitlines()[-1] == "Total;0;0;;XOF;2;600000;120000;120000;0"

    arrears = (await client.get("/api/v1/reports/arrears", params=mine)).json()
    assert [(r["loan_id"], r["days_overdue"], r["status"], r["bucket"]) for r in arrears] == [
        (late, 119, "in_arrears", "Plus de 3 à 6 mois (2991)")]
    officer = arrears[0]["loan_officer"]
    follow_ups = (await client.get("/api/v1/reports/loan-follow-ups",
                                   params={"office_id": world.office_id, "officer": officer})).json()
    assert [r["loan_id"] for r in follow_ups] == [late]
    assert (await client.get("/api/v1/reports/arrears", params={"min_days": 120, **mine})).json() == []
    loan = await arrears_of(client, late)
    assert (loan["days_overdue"], loan["classification"], loan["provision_rate_percent"]) == (119, "doubtful", "40")

    manager = await staff_user("branch_manager", office_id=world.office_id)
    refused = await client.get("/api/v1/reports/portfolio-at-risk", params={"office_id": world.head_office_id},
                               headers=manager.headers)
    assert refused.status_code == 403 and refused.json()["field"] == "office_id", refused.text


async def test_cgap_par_30_counts_loans_more_than_30_days_late(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:
    """CGAP "Definitions of selected financial terms" (2003), portfolio at risk, as Mifos and
    Fineract practitioners quote it: "the value of all loans outstanding that have one or more
    instalments of principal past due more than a certain number of days", the entire unpaid
    principal. A loan exactly 30 days late is in PAR 1, not in PAR 30; one 31 days late is in
    both (fixed: PAR N counted N days late; PAR 90 now equals the RCSFD grid's doubtful loans,
    91 days and more)."""
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH)
    base = TODAY - timedelta(days=75)
    thirty, first = await late_loan(client, world, staff_user, ids, product_id, base)
    more, _ = await late_loan(client, world, staff_user, ids, product_id, base - timedelta(days=1))
    day = date.fromisoformat(first[0]["due_date"]) + timedelta(days=30)
    await close(uow_factory, world.office_id, day)
    ages = [(await arrears_of(client, loan))["days_overdue"] for loan in (thirty, more)]
    assert ages[0] == 30 and 30 < ages[1] < 90, ages  # (a due date on a week-end moves to the Monday)
    par = (await client.get("/api/v1/reports/portfolio-at-risk",
                            params={"office_id": world.office_id, "product_id": product_id})).json()
    (row,) = par["rows"]
    assert (row["par_1"], row["par_30"], row["par_90"], row["par_30_percent"], row["loans_at_risk_30"]) == (
        "600000", "300000", "0", "50.00", 1)


def month_start_of_31_days(latest: date) -> date:
    """The latest day on or before ``latest`` from which one month is 31 days and falls on a
    weekday (a due date on a week-end would move): Fineract's 1 January to 1 February."""
    day = latest
    while True:
        following = date(day.year + (day.month == 12), day.month % 12 + 1, day.day) if day.day <= 28 else None
        if following is not None and (following - day).days == 31 and following.weekday() < 5:
            return day
        day -= timedelta(days=1)


async def test_fineract_daily_accrual_of_the_first_period(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:
    """Fineract LoanAccrualActivity.feature (100 at 7 %, 6 months, 360 days / 30-day months,
    daily interest, disbursed 1 January 2024, instalment 1 = 16.43 + 0.58 on 1 February): the COB
    posts an accrual a day, 0.02, 0.02, 0.02, 0.02, 0.01, 0.02, 0.02, 0.02 for 2 to 9 January,
    and the period's 0.58 by the due date. Here x 100 (10,000 XOF, interest 58), configured as
    the payoff scenario (per repayment period, actual days in month). Ours: 2, 2, 2, 1, 2, 2, 2,
    2 — the same 15 by the eighth night and the same 58 on the due date; the one-franc day comes
    a night earlier because we spread the instalment's rounded interest (58 x days / 31) where
    Fineract spreads the unrounded 58.33 (docs/acceptance.md, "Differences")."""
    product_id, _portfolio = await make_product(
        client, refs, world, uow_factory, AccountingRule.ACCRUAL_PERIODIC, own_receivables=True,
        principal=AmountRange(minimum=D(1_000), default=D(10_000), maximum=D(1_000_000)),
        repayment_count=CountRange(minimum=1, default=6, maximum=12),
        interest_rate_percent=AmountRange(minimum=D(1), default=D(7), maximum=D(24)),
        interest_calculation_period="same_as_repayment_period", days_in_month="actual", days_in_year="360")
    disbursed = month_start_of_31_days(TODAY - timedelta(days=45))
    loan_id = await approved_loan(client, world, staff_user, product_id, principal_amount="10000", repayment_count=6,
                                  interest_rate_percent="7", expected_disbursement_date=disbursed.isoformat())
    made = await disburse(client, loan_id, ids["cash"], value_date=disbursed.isoformat())
    assert made.status_code == 201, made.text
    first = (await client.get(f"/api/v1/loans/{loan_id}")).json()["loan"]["schedule"]["instalments"][0]
    due = date.fromisoformat(first["due_date"])
    assert ((due - disbursed).days, first["principal_amount"], first["interest_amount"]) == (31, "1643", "58")
    nights = [disbursed + timedelta(days=n) for n in range(1, 9)]
    await close(uow_factory, world.office_id, *nights)
    async with uow_factory() as uow:
        posted = (await uow.session.execute(text(
            "SELECT value_date, interest FROM loan_transaction WHERE loan_id = :l AND kind = 'accrual'"
            " ORDER BY value_date"), {"l": loan_id})).all()
    assert [(d, int(i)) for d, i in posted] == list(zip(nights, [2, 2, 2, 1, 2, 2, 2, 2], strict=True))
    await close(uow_factory, world.office_id, due)
    assert await accrued(uow_factory, loan_id) == 58, "the whole instalment's interest by its due date"


async def test_mambu_days_in_arrears_from_the_oldest_instalment_still_late(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:
    """Mambu "Arrears Settings", arrears days calculated from "the date of the oldest currently
    late repayment" (Fineract ages from the oldest overdue instalment too): instalment 1 paid
    late after instalment 2 fell due, the days in arrears restart from instalment 2's due date
    (not from the day the account first went into arrears)."""
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH)
    loan_id, schedule = await late_loan(client, world, staff_user, ids, product_id, TODAY - timedelta(days=90))
    first, second = (date.fromisoformat(i["due_date"]) for i in schedule[:2])
    day = second + timedelta(days=5)
    await close(uow_factory, world.office_id, day)
    assert (await arrears_of(client, loan_id))["days_overdue"] == (day - first).days
    paid = await repay(client, loan_id, "52658", ids["cash"], on=day + timedelta(days=1))
    assert paid.status_code == 201, paid.text
    await close(uow_factory, world.office_id, day + timedelta(days=1))
    arrears = await arrears_of(client, loan_id)
    assert (arrears["days_overdue"], D(arrears["overdue_amount"])) == ((day + timedelta(days=1) - second).days, 52_658)


async def test_mambu_daily_penalty_on_overdue_principal(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:
    """Mambu "Loan Penalties Setup", method "Overdue Principal * Number of Late Days * Penalty
    Rate" (the rate is a daily one: a monthly 3 % is 0.1 % a day), no tolerance: instalment 1's
    48,158 of principal unpaid five days costs 5 x 48.158 = 240.79, applied day by day. Ours: a
    penalty charge recurring every day, 0.1 % of the overdue principal, no grace days: 48 a day
    (rounded to the franc each day, as each daily application is), 240 after five days; under
    accrual periodic Dr penalties receivable / Cr 7023 each day."""
    charge = await client.post("/api/v1/charges", json={
        "name": f"Pénalité journalière {world.prefix}", "applies_to": "loan", "charge_time": "overdue_instalment",
        "calculation": "percent_of_overdue_amount", "amount": "0.1", "currency": "XOF", "is_penalty": True,
        "frequency_every": 1, "frequency_unit": "days", "grace_days": 0})
    assert charge.status_code == 201, charge.text
    penalty = OverduePenalty(charge_id=charge.json()["id"], basis=RateOrFlat.RATE, rate_percent=D("0.1"),
                             base=PenaltyBase.OVERDUE_PRINCIPAL)
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH,
                                                overdue_penalty=penalty)
    loan_id, schedule = await late_loan(client, world, staff_user, ids, product_id, TODAY - timedelta(days=60))
    due = date.fromisoformat(schedule[0]["due_date"])
    assert schedule[0]["principal_amount"] == "48158"
    await close(uow_factory, world.office_id, *(due + timedelta(days=n) for n in range(1, 6)))
    async with uow_factory() as uow:
        found = (await uow.session.execute(text(
            "SELECT p.period, p.charged_on, p.base, t.penalty FROM loan_penalty_charge p"
            " JOIN loan_transaction t ON t.id = p.loan_transaction_id WHERE p.loan_id = :l ORDER BY p.period"),
            {"l": loan_id})).all()
    assert [(row.period, row.charged_on, int(row.base), int(row.penalty)) for row in found] == [
        (n, due + timedelta(days=n), 48_158, 48) for n in range(1, 6)]


async def test_fineract_provisioning_criteria_as_a_grid(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:
    """Fineract/Mifos X loan-loss provisioning criteria (Mifos wiki "Loan Loss Provisioning":
    Standard, Sub-standard 20 %, Doubtful 50 %, Loss 100 % of the outstanding, by age) and Mambu's
    loan risk levels (arrearsFrom, arrearsTo, provisioningPercent): the same rows are our loan
    grid, replaced through the API. 300,000 unpaid: 45 days late, sub-standard, provision 60,000
    (Dr 662 / Cr provisions); 75 days late, doubtful, 150,000 booked in all (Dr 662 90,000 more:
    Fineract re-books the category's whole amount at each run, we post the difference; the
    balance is the same). The ageing report shows the institution's own labels."""
    from tests.servicing.test_loan_classes_provisions import balance
    from tests.servicing.test_loan_classes_provisions import make_product as make_classified_product

    criteria = [("Standard", 0, 30, "healthy", "0"), ("Sub-standard", 31, 60, "doubtful", "20"),
                ("Doubtful", 61, 90, "doubtful", "50"), ("Loss", 91, None, "doubtful", "100")]
    grid = await client.put("/api/v1/delinquency-buckets/loan", json={"buckets": [
        {"label": label, "days_overdue_min": low, "days_overdue_max": high, "loan_state": state,
         "provision_rate_percent": rate, "source": "Mifos wiki, Loan Loss Provisioning"}
        for label, low, high, state, rate in criteria]})
    assert grid.status_code == 200, grid.text
    books = await make_classified_product(client, refs, world, uow_factory, AccountingRule.CASH)
    loan_id, schedule = await late_loan(client, world, staff_user, ids, books.product_id, TODAY - timedelta(days=120))
    due = date.fromisoformat(schedule[0]["due_date"])
    await close(uow_factory, world.office_id, due + timedelta(days=45))
    arrears = await arrears_of(client, loan_id)
    assert (arrears["bucket"], arrears["classification"], arrears["provision_rate_percent"]) == (
        "Sub-standard", "doubtful", "20")
    assert await balance(uow_factory, books.provisions) == -60_000
    await close(uow_factory, world.office_id, due + timedelta(days=75))
    assert (await arrears_of(client, loan_id))["bucket"] == "Doubtful"
    assert await balance(uow_factory, books.provisions) == -150_000
    ageing = (await client.get("/api/v1/reports/loan-ageing",
                               params={"office_id": world.office_id, "product_id": books.product_id})).json()
    assert [(r["bucket"], r["provision_rate_percent"], r["provision_required"]) for r in ageing["rows"]] == [
        ("Doubtful", "50", "150000")]


async def loan_events(client, uow_factory: Any, loan_id: int) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """The loan's events as the outbox feed serves them (from the feed position of its first)."""
    assert (await client.get("/api/v1/outbox-events", params={"after": 2**62, "limit": 1})).json() == []  # publishes
    async with uow_factory() as uow:
        first = await uow.session.scalar(text(
            "SELECT min(f.position) FROM outbox_feed f JOIN outbox_event e ON e.id = f.event_id"
            " WHERE e.subject_type = 'loan' AND e.subject_id = :l"), {"l": loan_id})
    if first is None:
        return []
    feed = await client.get("/api/v1/outbox-events", params={"after": first - 1, "limit": 1000})
    assert feed.status_code == 200, feed.text
    return [e for e in feed.json() if e["subject_type"] == "loan" and e["subject_id"] == loan_id]


async def test_repayment_reminders_and_overdue_notices_once_each(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:
    """Mambu notification templates ("days before the due date", "account in arrears") and
    Fineract's loan repayment reminder / overdue SMS campaigns: the night three days before the
    due date writes one "instalment due soon" event, the night after the due date one "instalment
    overdue"; a night run again writes neither twice. The events carry what the message needs
    (amount in XOF without decimals, due date, loan officer)."""
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH)
    loan_id, schedule = await late_loan(client, world, staff_user, ids, product_id, TODAY - timedelta(days=40))
    due = date.fromisoformat(schedule[0]["due_date"])
    await close(uow_factory, world.office_id, due - timedelta(days=3), due - timedelta(days=3))
    await close(uow_factory, world.office_id, due + timedelta(days=1), due + timedelta(days=1))
    events = [(e["event_type"], e["occurred_on"], e["payload"]["instalment"], e["payload"]["amount"],
               e["payload"]["due_date"]) for e in await loan_events(client, uow_factory, loan_id)]
    assert events == [
        ("instalment.due_soon", (due - timedelta(days=3)).isoformat(), 1, "52658", due.isoformat()),
        ("instalment.overdue", (due + timedelta(days=1)).isoformat(), 1, "52658", due.isoformat())]


def monthly_weekdays(latest: date, months: int) -> date:
    """The latest day on or before ``latest`` whose next ``months`` monthly dates all fall on
    weekdays (no due date moved by a week-end) and whose first month is 31 days long."""
    def plus(day: date, n: int) -> date:
        month = day.month - 1 + n
        return date(day.year + month // 12, month % 12 + 1, day.day)

    day = latest
    while not (day.day <= 28 and (plus(day, 1) - day).days == 31
               and all(plus(day, n).weekday() < 5 for n in range(1, months + 1))):
        day -= timedelta(days=1)
    return day


async def test_fineract_reschedule_with_a_new_interest_rate(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:
    """Fineract LoanInterestRateChange.feature C3217: 100 at 7 %, 6 months, 360/30 (EMI 17.01);
    instalment 1 paid on 1 February; rescheduled from then at 4 %: the five instalments left become
    16.88 (principal 16.60, 16.66, 16.71, 16.77, interest 0.28, 0.22, 0.17, 0.11) and a last
    16.89 (16.83 + 0.06). Here x 100 in XOF: the plan drawn on the 8,357 outstanding on the due
    date, five instalments at 4 %, gives exactly those figures."""
    await credit_parameters.set_parameters(uow_factory(), msgspec.structs.replace(
        DEMO_CREDIT_PARAMETERS, healthy_loan_rescheduling_allowed=True), "acceptance")
    try:
        product_id, _portfolio = await make_product(
            client, refs, world, uow_factory, AccountingRule.CASH,
            principal=AmountRange(minimum=D(1_000), default=D(10_000), maximum=D(1_000_000)),
            repayment_count=CountRange(minimum=1, default=6, maximum=12),
            interest_rate_percent=AmountRange(minimum=D(1), default=D(7), maximum=D(24)),
            interest_calculation_period="same_as_repayment_period", days_in_month="actual", days_in_year="360")
        disbursed = monthly_weekdays(TODAY - timedelta(days=45), 6)
        loan_id = await approved_loan(client, world, staff_user, product_id, principal_amount="10000",
                                      repayment_count=6, interest_rate_percent="7",
                                      expected_disbursement_date=disbursed.isoformat())
        assert (await disburse(client, loan_id, ids["cash"], value_date=disbursed.isoformat())).status_code == 201
        first = (await client.get(f"/api/v1/loans/{loan_id}")).json()["loan"]["schedule"]["instalments"][0]
        assert (first["principal_amount"], first["interest_amount"]) == ("1643", "58")
        paid = await repay(client, loan_id, "1701", ids["cash"], on=date.fromisoformat(first["due_date"]))
        assert paid.status_code == 201, paid.text
        preview = await client.post(f"/api/v1/loans/{loan_id}/reschedulings/preview", json={
            "rescheduled_on": first["due_date"], "repayment_count": 5, "interest_rate_percent": "4"})
        assert preview.status_code == 200, preview.text
        plan = preview.json()
        assert plan["principal_outstanding"] == "8357"
        assert [(i["principal_amount"], i["interest_amount"], i["total_amount"])
                for i in plan["new_plan"]["instalments"]] == [
            ("1660", "28", "1688"), ("1666", "22", "1688"), ("1671", "17", "1688"), ("1677", "11", "1688"),
            ("1683", "6", "1689")]
    finally:
        await credit_parameters.set_parameters(uow_factory(), DEMO_CREDIT_PARAMETERS, "acceptance")
