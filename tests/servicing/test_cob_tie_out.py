"""The auditor's tie-out after a close of business: the portfolio at risk, the ageing by bucket,
the provisioning report and the loan reconciliation against the general ledger.

One product with its own portfolio (healthy, doubtful), interest receivable and provisions
accounts, so their balances are this test's loans only; loans in every state: current, in
arrears (healthy), doubtful and provisioned, rescheduled, written off (against its provision)
and then recovered. The day is closed as the run does it, and every figure that should tie is
compared with the account that holds it:

* PAR outstanding of the product = healthy + doubtful portfolio accounts in the trial balance as
  of the closed day, and per class the loans graded in that class = that class's account (a
  loan written off the morning after still counts, on both sides);
* the ageing buckets add up to the PAR total, and their provision required to the provisioning
  report's (the same rule, loan by loan);
* provision booked = the provisions account's credit balance as of the day; required =
  outstanding x rate;
* the write-off used exactly the provision booked for the loan; the recovery is income;
* the loan reconciliation and `grandlivre verify` show no difference.

A manual entry on the provisions account (an allowed path: nothing in the journal is edited)
must then show as a difference in the provisioning report and in `verify`."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from api.report_cli import ReportOptions, render_report
from products.posting_rules import AccountingRule
from servicing.close_of_business.provisioning_report import provisioning_report
from servicing.close_of_business.risk_reports import RiskGrouping, ageing, portfolio_at_risk
from servicing.close_of_business.tie_out import portfolio_tie_out, tie_out_lines
from servicing.loans.reconciliation import loan_reconciliation
from servicing.reference import credit_parameters
from servicing.reference.defaults import DEMO_CREDIT_PARAMETERS
from servicing.reference.grid_templates import load_grid_template
from servicing.staff.scope import OfficeScope
from servicing.verification import verify_journal
from tests.api.test_loans_api import (  # noqa: F401  (fixtures)
    TODAY,
    approved_loan,
    disburse,
    entry_lines,
    ids,
    refs,
)
from tests.servicing.test_loan_classes_provisions import Books, balance, close, make_product, rows

D = Decimal
DAY = TODAY - timedelta(days=1)
"""The business day closed: every loan below is graded as of it."""
WHOLE = OfficeScope(office_id=0, office_ids=frozenset(), whole_institution=True)


@pytest.fixture(autouse=True)
async def policy(uow_factory) -> Any:  # type: ignore[no-untyped-def]
    """The BCEAO SFD grid (0-90 days healthy 0 %, 91-180 doubtful 40 %...), rescheduling allowed,
    provisions released by the evening run (not with each repayment); the demo policy afterwards."""
    await load_grid_template(uow_factory, "bceao-sfd", "tests")
    await credit_parameters.set_parameters(uow_factory(), msgspec.structs.replace(
        DEMO_CREDIT_PARAMETERS, doubtful_loan_arrears_editable=True, healthy_loan_rescheduling_allowed=True,
        rescheduling_term_editable=True, unpaid_instalment_rescheduling_allowed=True,
        recovery_entries_on_repayment=False), "tests")
    yield
    await credit_parameters.set_parameters(uow_factory(), DEMO_CREDIT_PARAMETERS, "tests")


async def balance_on(uow_factory, code: str, day: date) -> Decimal:  # type: ignore[no-untyped-def]
    """The account's debit balance in the trial balance as of `day` (entries value-dated up to it)."""
    (found,) = await rows(uow_factory, """
        SELECT coalesce(sum(CASE l.side WHEN 'D' THEN l.amount ELSE -l.amount END), 0) AS b
          FROM journal_line l JOIN journal_entry e ON e.id = l.entry_id JOIN gl_account a ON a.id = l.account_id
         WHERE a.code = :c AND e.value_date <= :d""", c=code, d=day)
    return D(found.b).normalize()


async def loan_disbursed(client, world, staff_user, ids, books: Books, days_ago: int,  # type: ignore[no-untyped-def]  # noqa: F811
                         principal: str = "300000") -> int:
    """`principal` in 6 monthly instalments, disbursed `days_ago` days before today, nothing repaid."""
    on = (TODAY - timedelta(days=days_ago)).isoformat()
    loan_id = await approved_loan(client, world, staff_user, books.product_id, expected_disbursement_date=on,
                                  principal_amount=principal)
    paid_out = await disburse(client, loan_id, ids["cash"], value_date=on)
    assert paid_out.status_code == 201, paid_out.text
    return loan_id


async def test_par_ageing_provisioning_and_reconciliation_tie_to_the_general_ledger(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    books = await make_product(client, refs, world, uow_factory, AccountingRule.ACCRUAL_PERIODIC,
                               vat_on_recoveries_percent=D(0))
    current = await loan_disbursed(client, world, staff_user, ids, books, 10)
    in_arrears = await loan_disbursed(client, world, staff_user, ids, books, 45)
    # 300,001 at 40 % is 120,000.4: each loan's provision is rounded, not the bucket's (120,000 x 2,
    # where 600,002 x 40 % would round to 240,001).
    doubtful = await loan_disbursed(client, world, staff_user, ids, books, 160, "300001")
    rescheduled = await loan_disbursed(client, world, staff_user, ids, books, 75)
    written_off = await loan_disbursed(client, world, staff_user, ids, books, 160, "300001")

    await close(uow_factory, DAY - timedelta(days=1))
    plan = await client.post(f"/api/v1/loans/{rescheduled}/reschedulings", json={
        "rescheduled_on": DAY.isoformat(), "repayment_count": 9, "note": "Comité de crédit"},
        headers={"Idempotency-Key": f"tie-resch-{rescheduled}"})
    assert plan.status_code == 201, plan.text
    # The provision used by the write-off is what the close booked for this loan the day before.
    (booked_before,) = await rows(uow_factory, "SELECT sum(amount) AS amount FROM loan_provision_movement"
                                               " WHERE loan_id = :l AND kind = 'allowance'", l=written_off)
    assert booked_before.amount == 120000  # 300,001 at 40 %: more than 90 days late
    gone = await client.post(f"/api/v1/loans/{written_off}/write-off", json={"reason": "Débiteur introuvable"},
                             headers={"Idempotency-Key": f"tie-wo-{written_off}"})
    assert gone.status_code == 201, gone.text
    loss = await entry_lines(uow_factory, gone.json()["journal_entry_id"])
    assert (books.provisions, "D", D(120000)) in loss and (books.doubtful, "C", D(300001)) in loss, loss
    recovered = await client.post(f"/api/v1/loans/{written_off}/recoveries", json={
        "value_date": TODAY.isoformat(), "amount": "25000", "payment_type_id": ids["cash"],
        "receipt_number": "REC-TIE"}, headers={"Idempotency-Key": f"tie-rec-{written_off}"})
    assert recovered.status_code == 201, recovered.text
    assert ("762", "C", D(25000)) in await entry_lines(uow_factory, recovered.json()["journal_entry_id"])

    await close(uow_factory, DAY)

    states = {r.loan_id: r for r in await rows(
        uow_factory, "SELECT * FROM loan_arrears_state WHERE loan_id = ANY(:l)",
        l=[current, in_arrears, doubtful, rescheduled, written_off])}
    assert states[current].days_overdue == 0 and states[current].classification == "healthy"
    assert 1 <= states[in_arrears].days_overdue < 90 and states[in_arrears].classification == "healthy"
    assert states[doubtful].days_overdue > 90 and states[doubtful].classification == "doubtful"
    assert states[rescheduled].business_date == DAY
    # Written off the morning after: still in the evening's portfolio, as in the trial balance of the day.
    assert states[written_off].business_date == DAY and states[written_off].classification == "doubtful"
    healthy, doubtful_gl, provisions = (await balance_on(uow_factory, books.healthy, DAY),
                                        await balance_on(uow_factory, books.doubtful, DAY),
                                        -await balance_on(uow_factory, books.provisions, DAY))
    aged = list(states.values())
    # Whatever grid other tests left for rescheduled loans: the two late loans are doubtful at 40 %.
    assert doubtful_gl == sum(s.outstanding_principal for s in aged if s.classification == "doubtful") >= 600002
    assert provisions == sum((s.outstanding_principal * s.provision_rate_percent / 100).quantize(D(1))
                             for s in aged) >= 240000 and healthy > 0

    # PAR outstanding = the product's portfolio accounts in the trial balance of the day.
    par = await portfolio_at_risk(uow_factory(), RiskGrouping.PRODUCT, WHOLE)
    # The latest close of the shared test database (other tests age their offices' loans today);
    # this test's office closed DAY, and its loans are counted as of then.
    assert par.as_of is not None and par.as_of >= DAY
    (mine,) = [r for r in par.rows if r.group == str(books.product_id)]
    assert mine.loans == 5 and mine.outstanding_principal == healthy + doubtful_gl
    assert mine.par_1 == sum(s.outstanding_principal for s in aged if s.days_overdue >= 1)
    assert mine.par_90 == sum(s.outstanding_principal for s in aged if s.days_overdue >= 90) >= 600002

    # The provisioning report, per bucket: its class's account, outstanding x rate, booked = GL.
    as_of, buckets = await ageing(uow_factory(), WHOLE)
    classes = {b.bucket: b.classification for b in buckets}
    report = await provisioning_report(uow_factory(), WHOLE)
    own = [r for r in report.rows if r.product_id == books.product_id]
    by_class: dict[str, Decimal] = {}
    for row in own:
        by_class[classes[row.bucket]] = by_class.get(classes[row.bucket], D(0)) + row.outstanding_principal
        assert row.provision_required == sum((s.outstanding_principal * row.provision_rate_percent / 100).quantize(D(1))
                                             for s in aged if s.bucket_label == row.bucket)
        assert row.provision_booked == row.provision_required and row.difference == 0, row
    assert by_class == {"healthy": healthy, "doubtful": doubtful_gl}
    assert sum(r.provision_booked for r in own) == provisions
    # The accounts line is today's: the write-off used the 120,000 booked for its loan.
    provisions_now = -await balance(uow_factory, books.provisions)
    assert provisions_now == provisions - 120000
    (account,) = [a for a in report.accounts if a.account_code == books.provisions]
    assert (account.booked_per_loan, account.general_ledger, account.difference) == (provisions_now,) * 2 + (0,)

    # Institution-wide, in one reading: ageing total = PAR total; the ageing's provision = the report's.
    assert as_of == par.as_of == report.as_of
    assert sum(b.outstanding_principal for b in buckets) == sum(r.outstanding_principal for r in par.rows)
    assert sum(b.loans for b in buckets) == sum(r.loans for r in par.rows)
    assert sum(b.provision_required for b in buckets) == sum(r.provision_required for r in report.rows)

    # The tie-out the demo prints: the same figures against the trial balance as of the day.
    tie = await portfolio_tie_out(uow_factory)
    (xof,) = [t for t in tie.currencies if t.currency == "XOF"]
    assert tie.as_of == par.as_of and xof.par_outstanding == xof.ageing_outstanding
    if tie.as_of == DAY:  # the trial balance of the tie-out is the institution's, as of its last close
        assert xof.portfolio_accounts[books.healthy] == healthy
        assert xof.portfolio_accounts[books.doubtful] == doubtful_gl
        assert xof.provisions_accounts[books.provisions] == provisions
    assert xof.ageing_provision_required == xof.provision_required
    printed = "\n".join(tie_out_lines(tie))
    assert "rapprochement : " in printed and tie.as_of is not None and tie.as_of.isoformat() in printed
    # And the reports as `grandlivre report` prints them for the branch.
    office = f"{world.prefix}-BR"
    par_table = await render_report(uow_factory, ReportOptions(kind="portfolio-at-risk", office=office))
    assert par_table.startswith(f"as of {par.as_of.isoformat()}") and str(mine.outstanding_principal) in par_table
    as_csv = await render_report(uow_factory, ReportOptions(kind="provisioning", office=office, output="csv"))
    assert as_csv.startswith("\ufeffbucket;") and ";".join(("XOF", "2", "600002", "240000", "240000")) in as_csv
    as_json = json.loads(await render_report(uow_factory, ReportOptions(kind="loan-ageing", office=office,
                                                                         output="json")))
    assert as_json["as_of"] == par.as_of.isoformat() and as_json["rows"]

    # The sub-ledger and the general ledger, and the verify checks.
    reconciliation = await loan_reconciliation(uow_factory())
    lines = [r for r in reconciliation.rows if r.product_id == books.product_id]
    assert lines and all(r.difference == 0 for r in lines), lines
    principal = {(r.classification, r.account_code): r.subledger for r in lines if r.component == "principal"}
    assert sum(v for (_c, a), v in principal.items() if a == books.healthy) == await balance(
        uow_factory, books.healthy) == healthy
    assert sum(v for (_c, a), v in principal.items() if a == books.doubtful) == await balance(
        uow_factory, books.doubtful) == doubtful_gl - 300001
    problems = [p for p in (await verify_journal(uow_factory)).problems if p.check.startswith("loan-")]
    assert not problems, problems

    # A manual entry on the provisions account: the report and verify both show it.
    manual = await client.post("/api/v1/journal-entries", json={
        "office_id": world.office_id, "value_date": TODAY.isoformat(), "description": "Dotation manuelle",
        "lines": [{"account_code": "662", "side": "debit", "amount": "5000", "currency": "XOF"},
                  {"account_code": books.provisions, "side": "credit", "amount": "5000", "currency": "XOF"}]})
    assert manual.status_code == 201, manual.text
    try:
        report = await provisioning_report(uow_factory(), WHOLE)
        (account,) = [a for a in report.accounts if a.account_code == books.provisions]
        assert (account.booked_per_loan, account.general_ledger, account.difference) == (
            provisions_now, provisions_now + 5000, 5000)
        found = [p for p in (await verify_journal(uow_factory)).problems if p.account_code == books.provisions]
        assert [p.check for p in found] == ["loan-provisions-equal-gl"], found
    finally:
        undone = await client.post(f"/api/v1/journal-entries/{manual.json()['id']}/reversal",
                                   json={"description": "Annulation"})
        assert undone.status_code == 201, undone.text
    assert not [p for p in (await verify_journal(uow_factory)).problems if p.check.startswith("loan-")]


async def test_a_part_run_day_is_read_from_the_run_s_record_of_the_ageing(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    """The reports take each office's last close from the run's record of its `loan_arrears` step
    (not from a scan of every loan's state), which the run writes as soon as the step has
    finished: a run that died after the ageing (the day itself not recorded) is read as of that
    day, and a loan written off the morning after still counts in it, as in the trial balance of
    the day. The resumed run closes the day; the reports do not change."""
    from servicing.close_of_business.risk_reports import RiskFilter, follow_up_list
    from servicing.close_of_business.run import close_business_days
    from servicing.close_of_business.steps import STEPS, Step

    books = await make_product(client, refs, world, uow_factory, AccountingRule.ACCRUAL_PERIODIC,
                               vat_on_recoveries_percent=D(0))
    late = await loan_disbursed(client, world, staff_user, ids, books, 75)
    written_off = await loan_disbursed(client, world, staff_user, ids, books, 160, "300001")
    (ageing_step,) = [step for step in STEPS if step.name == "loan_arrears"]

    class PowerCut(Exception):
        pass

    async def power_cut(*_args: Any) -> Any:
        raise PowerCut

    with pytest.raises(PowerCut):
        await close_business_days(uow_factory, DAY, "tests", today=TODAY, office_id=world.office_id,
                                  steps=(ageing_step, Step(name="power_cut", label="Coupure", run=power_cut)))
    recorded = await rows(uow_factory, "SELECT step, business_date FROM business_day_step WHERE office_id = :o",
                          o=world.office_id)
    assert [(r.step, r.business_date) for r in recorded] == [("loan_arrears", DAY)]
    assert not await rows(uow_factory, "SELECT 1 FROM business_day WHERE office_id = :o", o=world.office_id)
    gone = await client.post(f"/api/v1/loans/{written_off}/write-off", json={"reason": "Débiteur introuvable"},
                             headers={"Idempotency-Key": f"part-wo-{written_off}"})
    assert gone.status_code == 201, gone.text

    mine = RiskFilter(office_id=world.office_id)

    async def reports() -> tuple[Any, ...]:
        par = await portfolio_at_risk(uow_factory(), RiskGrouping.PRODUCT, WHOLE, mine)
        _as_of, buckets = await ageing(uow_factory(), WHOLE, mine)
        follow_ups = await follow_up_list(uow_factory(), WHOLE, institution_days=30, narrowed=mine)
        return ([(r.group, r.loans, r.outstanding_principal, r.par_30) for r in par.rows],
                sum(b.outstanding_principal for b in buckets), sorted(r.loan_id for r in follow_ups))

    before = await reports()
    assert before == ([(str(books.product_id), 2, D(600001), D(600001))], D(600001), sorted([late, written_off]))
    run = await close_business_days(uow_factory, DAY, "tests", today=TODAY, office_id=world.office_id,
                                    steps=(ageing_step,))
    assert [day.business_date for day in run.days] == [DAY] and run.days[0].steps[0].resumed
    assert await reports() == before
