"""Eligibility pre-check of a loan application (M2.3): every rule, each with its outcome.

The servicing layer gathers the facts (the client's status and KYC, their loans, the
guarantors' commitments, the institution's credit parameters and usury cap, the TEG of the
frozen terms); this module judges them. It never stops at the first failure: a loan officer
sees every rule checked, passed or failed, and why. A failed *blocking* rule refuses
submission; a rule that cannot be checked (a fact not known) says so instead of pretending to
pass. Pure.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

import msgspec

from products.loans.requirements import LoanRequirements

_HUNDRED = Decimal(100)


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_APPLICABLE = "not_applicable"
    UNVERIFIED = "unverified"
    """The rule applies but its facts are not available to this system yet (said in the reason)."""


class RuleResult(msgspec.Struct, frozen=True, kw_only=True):
    rule: str
    outcome: Outcome
    blocking: bool
    reason: str
    field: str | None = None


class Guarantee(msgspec.Struct, frozen=True, kw_only=True):
    """A guarantor's commitment: a client of the institution or an outsider."""

    client_id: int | None
    amount: Decimal
    loans_guaranteed: int = 0
    """Active or pending loans this guarantor already guarantees (clients only)."""


class EligibilityFacts(msgspec.Struct, frozen=True, kw_only=True):
    currency: str
    principal: Decimal
    terms_problem: str | None
    """Why the product refuses the requested terms (None: they are within its limits)."""
    terms_problem_field: str | None
    client_status: str
    client_is_group: bool
    """The borrower is a group (solidarity group, association), not a person or a business."""
    group_lending: str
    """The product's group lending: individual_only, group (a loan to the group) or joint_liability
    (a loan to each member of a group)."""
    client_is_group_member: bool
    kyc_complete: bool
    kyc_missing: tuple[str, ...]
    client_loans: int
    """The client's loans that count toward the limits: submitted, approved or active."""
    client_loans_of_product: int
    client_restricted_products: tuple[int, ...]
    """Products the client holds that this product's mix forbids."""
    loans_per_client_max: int | None
    loans_per_group_member_max: int | None
    loans_per_guarantor_max: int | None
    concurrent_loans_of_product_max: int | None
    requirements: LoanRequirements | None
    guarantors: tuple[Guarantee, ...]
    co_signers: int
    collateral_value: Decimal
    monthly_income: Decimal | None
    monthly_instalment: Decimal | None
    """This loan's largest instalment per month plus what the client's active loans ask each month."""
    debt_ratio_max_percent: Decimal | None
    apr_annual_percent: Decimal | None
    usury_cap_percent: Decimal | None
    product_apr_max_percent: Decimal | None
    deposits_available: Decimal | None = None
    """What the client's active deposit accounts in the loan's currency hold free of holds
    (None: not known, the deposit rules answer unverified)."""


def _result(rule: str, ok: bool, reason_ok: str, reason_failed: str, *, blocking: bool = True,
            field: str | None = None) -> RuleResult:
    return RuleResult(rule=rule, outcome=Outcome.PASSED if ok else Outcome.FAILED, blocking=blocking,
                      reason=reason_ok if ok else reason_failed, field=None if ok else field)


def _na(rule: str, reason: str) -> RuleResult:
    return RuleResult(rule=rule, outcome=Outcome.NOT_APPLICABLE, blocking=False, reason=reason)


def _limit(rule: str, count: int, maximum: int | None, what: str, field: str) -> RuleResult:
    if maximum is None:
        return _na(rule, f"no limit on {what}")
    return _result(rule, count < maximum, f"{count} {what}, at most {maximum}",
                   f"already {count} {what}; the limit is {maximum}", field=field)


def check_eligibility(facts: EligibilityFacts) -> tuple[RuleResult, ...]:
    """Every rule, in a stable order (the API shows them as they come)."""
    f = facts
    results = [
        _result("product_limits", f.terms_problem is None, "amount, term and rate are within the product's limits",
                f.terms_problem or "", field=f.terms_problem_field),
        _result("client_active", f.client_status == "active", "the client is active",
                f"the client is {f.client_status}", field="client_id"),
        _result("client_not_blacklisted", f.client_status != "blacklisted", "the client is not blacklisted",
                "the client is blacklisted", field="client_id"),
        _result("kyc_complete", f.kyc_complete, "the client's KYC file is complete",
                "KYC incomplete: " + ", ".join(f.kyc_missing), field="client_id"),
        _limit("loans_per_client", f.client_loans, f.loans_per_client_max, "loans held or applied for", "client_id"),
    ]
    results.append(_group_lending(f))
    if f.client_is_group_member:
        results.append(_limit("loans_per_group_member", f.client_loans, f.loans_per_group_member_max,
                              "loans as a group member", "client_id"))
    else:
        results.append(_na("loans_per_group_member", "the client is not a group member"))
    results.append(_limit("concurrent_loans_of_product", f.client_loans_of_product,
                          f.concurrent_loans_of_product_max, "loans of this product", "product_id"))
    results.append(_result(
        "product_mix", not f.client_restricted_products, "no loan of a product this one excludes",
        "the client holds a loan of product(s) " + ", ".join(map(str, f.client_restricted_products))
        + " which this product cannot be combined with", field="product_id"))
    results.extend(_guarantee_rules(f))
    results.extend(_deposit_rules(f))
    results.append(_debt_ratio(f))
    results.append(_apr_rule("usury_cap", f.apr_annual_percent, f.usury_cap_percent, "the institution's usury cap"))
    results.append(_apr_rule("product_apr_max", f.apr_annual_percent, f.product_apr_max_percent,
                             "the product's TEG ceiling"))
    return tuple(results)


def _guarantee_rules(f: EligibilityFacts) -> list[RuleResult]:
    results: list[RuleResult] = []
    req = f.requirements
    if req is None:
        return [_na(rule, "the requested terms are outside the product") for rule in (
            "guarantors_count", "co_signers_count", "guarantee_coverage", "guarantee_external", "loans_per_guarantor")]
    results.append(_result("guarantors_count", len(f.guarantors) >= req.guarantors_required,
                           f"{len(f.guarantors)} guarantor(s), {req.guarantors_required} required",
                           f"{req.guarantors_required} guarantor(s) required, {len(f.guarantors)} given",
                           field="guarantors") if req.guarantors_required else _na("guarantors_count", "no guarantor required"))
    results.append(_result("co_signers_count", f.co_signers >= req.co_signers_required,
                           f"{f.co_signers} co-signer(s), {req.co_signers_required} required",
                           f"{req.co_signers_required} co-signer(s) required, {f.co_signers} given",
                           field="co_signers") if req.co_signers_required else _na("co_signers_count", "no co-signer required"))
    guaranteed = sum((g.amount for g in f.guarantors), Decimal(0))
    covered = guaranteed + f.collateral_value
    if req.guarantee_amount > 0:
        results.append(_result("guarantee_coverage", covered >= req.guarantee_amount,
                               f"guarantees and collateral cover {covered} of the {req.guarantee_amount} required",
                               f"guarantees and collateral cover {covered}; {req.guarantee_amount} {f.currency} required",
                               field="guarantors"))
    else:
        results.append(_na("guarantee_coverage", "the product asks for no guarantee"))
    if req.guarantee_external_min_amount > 0:
        results.append(_result("guarantee_external", guaranteed >= req.guarantee_external_min_amount,
                               f"guarantors cover {guaranteed}, at least {req.guarantee_external_min_amount} required",
                               f"guarantors cover {guaranteed}; at least {req.guarantee_external_min_amount} "
                               f"{f.currency} must come from an external guarantor", field="guarantors"))
    else:
        results.append(_na("guarantee_external", "no external guarantee required"))
    if f.loans_per_guarantor_max is None or not any(g.client_id is not None for g in f.guarantors):
        results.append(_na("loans_per_guarantor", "no guarantor who is a client, or no limit"))
    else:
        over = [g.client_id for g in f.guarantors if g.client_id is not None
                and g.loans_guaranteed >= f.loans_per_guarantor_max]
        results.append(_result("loans_per_guarantor", not over,
                               f"each guarantor guarantees fewer than {f.loans_per_guarantor_max} loans",
                               "client(s) " + ", ".join(map(str, over)) + " already guarantee "
                               f"{f.loans_per_guarantor_max} loans", field="guarantors"))
    return results


def _deposit_rules(f: EligibilityFacts) -> list[RuleResult]:
    """Mandatory savings, cash collateral and the own-funds guarantee must be present on the
    borrower's deposit accounts (available: free of holds, above the minimum balance). They are
    held on the same money, so each rule needs what it asks plus what the rules before it ask."""
    req = f.requirements
    results = []
    needed = Decimal(0)
    for rule, amount, what in (
            ("mandatory_savings", req.mandatory_savings_amount if req else None, "mandatory savings"),
            ("cash_collateral", req.cash_collateral_min_amount if req else None, "cash collateral"),
            ("guarantee_own_funds", req.guarantee_own_funds_min_amount if req else None, "own-funds guarantee")):
        if amount is None or amount == 0:
            results.append(_na(rule, f"the product asks for no {what}"))
            continue
        before = needed
        needed += amount
        if f.deposits_available is None:
            results.append(RuleResult(
                rule=rule, outcome=Outcome.UNVERIFIED, blocking=False,
                reason=f"{amount} {f.currency} of {what} required; the client's deposits are not known"))
            continue
        also = f" (after {before} {f.currency} for the rules above)" if before else ""
        results.append(_result(
            rule, f.deposits_available >= needed,
            f"{f.deposits_available} {f.currency} available on the client's deposit accounts covers the "
            f"{amount} of {what}{also}",
            f"{amount} {f.currency} of {what} required{also}: the client's deposit accounts have "
            f"{f.deposits_available} available, {needed - f.deposits_available} missing", field="client_id"))
    return results


def _group_lending(f: EligibilityFacts) -> RuleResult:
    rule = "group_lending"
    if f.group_lending == "group":
        return _result(rule, f.client_is_group, "the product lends to groups and the borrower is a group",
                       "the product lends to groups only", field="client_id")
    if f.group_lending == "joint_liability":
        return _result(rule, f.client_is_group_member and not f.client_is_group,
                       "a member of a group, under the group's joint liability",
                       "the product lends to members of a group only", field="client_id")
    return _result(rule, not f.client_is_group, "an individual loan to a person or a business",
                   "the product lends to individuals only, not to groups", field="client_id")


def _debt_ratio(f: EligibilityFacts) -> RuleResult:
    rule = "debt_to_income"
    if f.debt_ratio_max_percent is None:
        return _na(rule, "the product sets no debt-to-income limit")
    if f.monthly_income is None or f.monthly_income <= 0 or f.monthly_instalment is None:
        return RuleResult(rule=rule, outcome=Outcome.UNVERIFIED, blocking=False,
                          reason="the client's monthly income is not known")
    ratio = (f.monthly_instalment * _HUNDRED / f.monthly_income).quantize(Decimal("0.01"))
    return _result(rule, ratio <= f.debt_ratio_max_percent,
                   f"instalments are {ratio} % of monthly income, at most {f.debt_ratio_max_percent} %",
                   f"instalments are {ratio} % of monthly income; the product allows {f.debt_ratio_max_percent} %",
                   field="principal_amount")


def _apr_rule(rule: str, apr: Decimal | None, cap: Decimal | None, what: str) -> RuleResult:
    if cap is None:
        return _na(rule, f"no {what} is recorded")
    if apr is None:
        return RuleResult(rule=rule, outcome=Outcome.UNVERIFIED, blocking=True,
                          reason="the TEG cannot be computed for terms outside the product")
    return _result(rule, apr <= cap, f"TEG {apr} % within {what} of {cap} %",
                   f"TEG {apr} % exceeds {what} of {cap} %", field="interest_rate_percent")


def blocking_failures(results: tuple[RuleResult, ...]) -> tuple[RuleResult, ...]:
    return tuple(r for r in results if r.blocking and r.outcome is Outcome.FAILED)
