"""Inputs a fuzzer threw at the OpenAPI schema that once answered 500: each is the client's
error, answered with a problem document, and nothing is written."""

from __future__ import annotations

import json
from typing import Any


def _is_client_problem(answer: Any) -> bool:
    return 400 <= answer.status_code < 500 and answer.headers["content-type"].startswith("application/problem+json")


async def test_a_closure_comment_longer_than_its_column(client: Any, world: Any) -> None:
    answer = await client.post("/api/v1/accounting-closures", json={
        "office_id": world.office_id, "closing_date": "2000-01-01", "comments": "0" * 1200})
    assert _is_client_problem(answer), answer.text


async def test_an_approval_rule_in_an_unknown_currency(client: Any) -> None:
    before = (await client.get("/api/v1/approval-rules")).json()
    answer = await client.put("/api/v1/approval-rules/journal-entry.post", json={
        "enabled": False, "amount_threshold": 0, "currency": "AAA", "checker_permission": "approvals:decide"})
    assert _is_client_problem(answer), answer.text
    assert answer.json().get("field") == "currency"
    assert (await client.get("/api/v1/approval-rules")).json() == before


async def test_a_business_day_office_beyond_an_identifier(client: Any) -> None:
    answer = await client.get("/api/v1/business-days", params={"office_id": -92123476938544})
    assert _is_client_problem(answer), answer.text
    assert answer.json().get("field") == "office_id"
    answer = await client.post("/api/v1/business-days/close", json={"business_date": "2000-01-03",
                                                                     "office_id": 2**40})
    assert _is_client_problem(answer), answer.text


async def test_a_body_field_named_like_a_dependency(client: Any) -> None:
    """`principal` is both a loan product's field and the signed-in user's dependency."""
    body = json.loads(_LOAN_PRODUCT)  # valid but for principal.default, missing
    answer = await client.post("/api/v1/loan-products", json=body)
    assert _is_client_problem(answer), answer.text
    assert answer.json()["field"].startswith("principal")


_LOAN_PRODUCT = """{"identity": {"name": "", "short_name": "", "code": null, "description": "", "open_date": "2000-01-01", "close_date": "2000-01-01"}, "currency": "USD", "fund_source_id": 1, "track_loan_cycle": true, "category": null, "group_lending": "individual_only", "overdraft": false, "decimals": null, "in_multiples_of": null, "instalment_in_multiples_of": null, "rounding_mode": "half_even", "principal": {"minimum": null, "maximum": null}, "repayment_count": {"default": 1, "minimum": null, "maximum": null}, "interest_rate_percent": {"default": "", "minimum": null, "maximum": null}, "interest_rate_period": "per_year", "repayment_every": 1, "repayment_frequency_unit": "months", "first_repayment_days_min": 0, "amortization_method": "equal_instalments", "interest_method": "declining_balance", "interest_calculation_period": "same_as_repayment_period", "grace_on_principal_periods": 0, "grace_on_interest_payment_periods": 0, "grace_on_interest_charged_periods": 0, "interest_free_days": 0, "days_in_year": "actual", "days_in_month": "actual", "weeks_in_year": 52, "allow_fixed_instalment_amount": false, "last_instalment_principal_threshold_percent": "0", "interest_recalculation": false, "partial_instalment_payment_allowed": true, "holiday_rule": "next_working_day", "allocation_order_healthy": ["penalty", "fee", "interest", "principal"], "allocation_order_doubtful": ["principal", "interest", "fee", "penalty"], "excluded_repayment_components": [], "arrears_tolerance_amount": "0", "arrears_tolerance_days": 0, "days_to_arrears": null, "days_to_npa": null, "npa_exit_requires_arrears_paid": true, "require_funds_available_for_repayment": false, "guarantees": {"mandatory_percent": "0", "own_funds_min_percent": "0", "external_guarantor_min_percent": "0", "hold_guarantee_funds": false}, "guarantors": {"required": false, "count_min": 0, "amount_threshold": null}, "co_signers": {"required": false, "count_min": 0, "amount_threshold": null}, "mandatory_savings": null, "cash_collateral": null, "social_shares": null, "financial_analysis": null, "multi_disbursement": null, "amount_bands": [], "cycle_variations": [], "allow_term_overrides": false, "overridable_terms": [], "charge_ids": [], "overdue_penalty": null, "vat_on_interest_percent": "0", "vat_on_penalties_percent": "0", "vat_on_fees_percent": "0", "vat_on_cash_collateral_percent": "0", "vat_on_recoveries_percent": "0", "limits": {"loans_per_client_max": null, "loans_per_group_member_max": null, "loans_per_guarantor_max": null}, "product_mix": {"restricted_product_ids": [], "concurrent_loans_max": null}, "accounting": {"rule": "none", "accounts": {}, "payment_type_accounts": {}, "charge_accounts": {}, "classified_accounts": []}}"""
