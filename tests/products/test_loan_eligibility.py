"""Eligibility rules, judged on facts: every rule answered, each failure blocking with its field and reason."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from products.catalogue.common import AmountRange, CountRange, ProductIdentity
from products.loans.eligibility import (
    EligibilityFacts,
    Guarantee,
    Outcome,
    blocking_failures,
    check_eligibility,
)
from products.loans.product import FinancialAnalysis, Guarantees, GuarantorRule, LoanProduct, MandatorySavings
from products.loans.requirements import loan_requirements

D = Decimal
PRODUCT = LoanProduct(
    identity=ProductIdentity(name="Test", short_name="T"), currency="XOF",
    principal=AmountRange(minimum=D(10_000), default=D(100_000), maximum=D(1_000_000)),
    repayment_count=CountRange(minimum=1, default=12, maximum=24),
    interest_rate_percent=AmountRange(minimum=D(10), default=D(18), maximum=D(24)),
    guarantees=Guarantees(mandatory_percent=D(50), external_guarantor_min_percent=D(20)),
    guarantors=GuarantorRule(required=True, count_min=1),
    mandatory_savings=MandatorySavings(rate_percent=D(10)),
    financial_analysis=FinancialAnalysis(debt_ratio_max_percent=D(33), apr_max_percent=D(30)),
)
GOOD = EligibilityFacts(
    currency="XOF", principal=D(100_000), terms_problem=None, terms_problem_field=None, client_status="active",
    client_is_group=False, group_lending="individual_only", client_is_group_member=False, kyc_complete=True, kyc_missing=(), client_loans=0, client_loans_of_product=0,
    client_restricted_products=(), loans_per_client_max=2, loans_per_group_member_max=1, loans_per_guarantor_max=2,
    concurrent_loans_of_product_max=None, requirements=loan_requirements(PRODUCT, D(100_000)),
    guarantors=(Guarantee(client_id=7, amount=D(30_000), loans_guaranteed=0),), co_signers=0,
    collateral_value=D(25_000), monthly_income=D(150_000), monthly_instalment=D(9_200), debt_ratio_max_percent=D(33),
    apr_annual_percent=D("19.5"), usury_cap_percent=D(24), product_apr_max_percent=D(30))
RULES = {"product_limits", "group_lending", "client_active", "client_not_blacklisted", "kyc_complete", "loans_per_client",
         "loans_per_group_member", "concurrent_loans_of_product", "product_mix", "guarantors_count",
         "co_signers_count", "guarantee_coverage", "guarantee_external", "loans_per_guarantor", "mandatory_savings",
         "cash_collateral", "guarantee_own_funds", "debt_to_income", "usury_cap", "product_apr_max"}


def test_every_rule_is_answered_and_a_good_application_passes() -> None:
    results = check_eligibility(GOOD)
    assert {r.rule for r in results} == RULES and len(results) == len(RULES)
    assert blocking_failures(results) == ()
    by_rule = {r.rule: r for r in results}
    assert by_rule["guarantee_coverage"].outcome is Outcome.PASSED  # 30 000 + 25 000 >= 50 000
    assert by_rule["mandatory_savings"].outcome is Outcome.UNVERIFIED
    assert "10000 XOF" in by_rule["mandatory_savings"].reason
    assert by_rule["debt_to_income"].reason.startswith("instalments are 6.13 %")


def _failed(**changes: object) -> dict[str, tuple[str | None, str]]:
    results = check_eligibility(msgspec.structs.replace(GOOD, **changes))
    return {r.rule: (r.field, r.reason) for r in blocking_failures(results)}


def test_each_failure_names_its_field_and_why() -> None:
    assert _failed(client_status="blacklisted") == {
        "client_active": ("client_id", "the client is blacklisted"),
        "client_not_blacklisted": ("client_id", "the client is blacklisted")}
    assert _failed(kyc_complete=False, kyc_missing=("birth_date",)) == {
        "kyc_complete": ("client_id", "KYC incomplete: birth_date")}
    assert _failed(client_loans=2) == {"loans_per_client": ("client_id", "already 2 loans held or applied for; the limit is 2")}
    assert _failed(client_restricted_products=(4,))["product_mix"][0] == "product_id"
    assert _failed(guarantors=())["guarantors_count"] == ("guarantors", "1 guarantor(s) required, 0 given")
    assert set(_failed(guarantors=(Guarantee(client_id=7, amount=D(10_000)),), collateral_value=D(0))) == {
        "guarantee_coverage", "guarantee_external"}
    assert _failed(guarantors=(Guarantee(client_id=7, amount=D(30_000), loans_guaranteed=2),)) == {
        "loans_per_guarantor": ("guarantors", "client(s) 7 already guarantee 2 loans")}
    assert _failed(client_is_group=True) == {
        "group_lending": ("client_id", "the product lends to individuals only, not to groups")}
    assert set(_failed(group_lending="joint_liability")) == {"group_lending"}
    assert _failed(group_lending="joint_liability", client_is_group_member=True) == {}
    assert _failed(monthly_instalment=D(60_000))["debt_to_income"][0] == "principal_amount"
    assert _failed(apr_annual_percent=D("24.01")) == {
        "usury_cap": ("interest_rate_percent", "TEG 24.01 % exceeds the institution's usury cap of 24 %")}
    assert _failed(terms_problem="must be at most 1000000 (product)", terms_problem_field="principal_amount") == {
        "product_limits": ("principal_amount", "must be at most 1000000 (product)")}


def test_rules_without_a_limit_or_facts_do_not_block() -> None:
    results = check_eligibility(msgspec.structs.replace(
        GOOD, loans_per_client_max=None, monthly_income=None, usury_cap_percent=None, requirements=None))
    by_rule = {r.rule: r for r in results}
    assert by_rule["loans_per_client"].outcome is Outcome.NOT_APPLICABLE
    assert by_rule["debt_to_income"].outcome is Outcome.UNVERIFIED
    assert by_rule["usury_cap"].outcome is Outcome.NOT_APPLICABLE
    assert blocking_failures(results) == ()


def test_deposit_rules_pass_or_fail_from_the_clients_available_deposits() -> None:
    """Mandatory savings 10 % of 100 000 = 10 000; cash collateral 5 % = 5 000, held on the same
    money: the collateral rule needs 15 000 in all."""
    req = msgspec.structs.replace(GOOD.requirements, cash_collateral_min_amount=D(5_000))

    def outcomes(available: str) -> dict[str, tuple[Outcome, bool, str]]:
        facts = msgspec.structs.replace(GOOD, requirements=req, deposits_available=D(available))
        return {r.rule: (r.outcome, r.blocking, r.reason) for r in check_eligibility(facts)
                if r.rule in ("mandatory_savings", "cash_collateral", "guarantee_own_funds")}

    enough = outcomes("15000")
    assert enough["mandatory_savings"][0] is Outcome.PASSED and enough["cash_collateral"][0] is Outcome.PASSED
    assert "15000 XOF available" in enough["mandatory_savings"][2]
    short = outcomes("12000")
    assert short["mandatory_savings"][0] is Outcome.PASSED
    assert short["cash_collateral"][:2] == (Outcome.FAILED, True)
    assert short["cash_collateral"][2] == ("5000 XOF of cash collateral required (after 10000 XOF for the rules "
                                           "above): the client's deposit accounts have 12000 available, 3000 missing")
    none = outcomes("0")
    assert none["mandatory_savings"][0] is Outcome.FAILED and "10000 missing" in none["mandatory_savings"][2]
    assert _failed(requirements=req, deposits_available=D(0)).keys() == {"mandatory_savings", "cash_collateral"}
