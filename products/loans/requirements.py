"""What a loan of a given principal requires under its product: guarantees, guarantors and
co-signers, mandatory savings, cash collateral, social shares, the overdue penalty and the
financial analysis. A band's own setting replaces the product's (seed 002: each "tranche"
carries its own); amounts are computed in the product's rounding. Pure.

Loan applications use this for the eligibility pre-check (M2.3) and to tell the borrower
what to bring; loan servicing uses the penalty and the hold on guarantee funds."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import msgspec

from products.errors import ProductError
from products.loans.derivation import amount_band
from products.loans.product import (
    CashCollateral,
    FinancialAnalysis,
    GuarantorRule,
    LoanProduct,
    MandatorySavings,
    OverduePenalty,
    RateOrFlat,
    SocialShares,
)
from products.rounding import round_amount

_HUNDRED = Decimal(100)


class LoanRequirements(msgspec.Struct, frozen=True, kw_only=True):
    """Requirements of one loan; amounts in the product's currency, rounded its way."""

    principal_amount: Decimal
    guarantee_amount: Decimal
    """Share of the principal to cover by guarantees (seed 001 "garantie obligatoire")."""
    guarantee_own_funds_min_amount: Decimal
    guarantee_external_min_amount: Decimal
    hold_guarantee_funds: bool
    guarantors_required: int
    co_signers_required: int
    mandatory_savings: MandatorySavings | None
    mandatory_savings_amount: Decimal | None
    """Savings on the principal (rate) or per instalment (flat, or a rate of each instalment
    when ``on_total_instalment``: then ``None`` here, the schedule gives the base)."""
    cash_collateral: CashCollateral | None
    cash_collateral_min_amount: Decimal | None
    cash_collateral_max_amount: Decimal | None
    social_shares_amount: Decimal | None
    overdue_penalty: OverduePenalty | None
    financial_analysis: FinancialAnalysis | None


def _share(product: LoanProduct, principal: Decimal, percent: Decimal) -> Decimal:
    return round_amount(principal * percent / _HUNDRED, product.rounding, product.currency)


def _guarantor_count(rule: GuarantorRule, principal: Decimal) -> int:
    if not rule.required:
        return 0
    if rule.amount_threshold is not None and principal < rule.amount_threshold:
        return 0
    return rule.count_min


def loan_requirements(product: LoanProduct, principal: Decimal) -> LoanRequirements:
    """Requirements for a loan of ``principal`` (already within the product's bounds)."""
    assert principal.is_finite() and principal > 0, principal
    band = amount_band(product, principal)

    def pick(name: str) -> object:
        own = getattr(band, name, None) if band is not None else None
        return own if own is not None else getattr(product, name)

    guarantees = product.guarantees
    guarantors = pick("guarantors")
    co_signers = pick("co_signers")
    savings = pick("mandatory_savings")
    collateral = pick("cash_collateral")
    shares = pick("social_shares")
    penalty = pick("overdue_penalty")
    analysis = pick("financial_analysis")
    assert isinstance(guarantors, GuarantorRule) and isinstance(co_signers, GuarantorRule)
    assert savings is None or isinstance(savings, MandatorySavings)
    assert collateral is None or isinstance(collateral, CashCollateral)
    assert shares is None or isinstance(shares, SocialShares)
    assert penalty is None or isinstance(penalty, OverduePenalty)
    assert analysis is None or isinstance(analysis, FinancialAnalysis)
    savings_amount: Decimal | None = None
    if savings is not None:
        if savings.basis is RateOrFlat.FLAT:
            assert savings.flat_amount is not None
            savings_amount = savings.flat_amount
        elif not savings.on_total_instalment:
            assert savings.rate_percent is not None
            savings_amount = _share(product, principal, savings.rate_percent)
    return LoanRequirements(
        principal_amount=principal,
        guarantee_amount=_share(product, principal, guarantees.mandatory_percent),
        guarantee_own_funds_min_amount=_share(product, principal, guarantees.own_funds_min_percent),
        guarantee_external_min_amount=_share(product, principal, guarantees.external_guarantor_min_percent),
        hold_guarantee_funds=guarantees.hold_guarantee_funds,
        guarantors_required=_guarantor_count(guarantors, principal),
        co_signers_required=_guarantor_count(co_signers, principal),
        mandatory_savings=savings,
        mandatory_savings_amount=savings_amount,
        cash_collateral=collateral,
        cash_collateral_min_amount=_share(product, principal, collateral.rate_min_percent) if collateral else None,
        cash_collateral_max_amount=_share(product, principal, collateral.rate_max_percent) if collateral else None,
        social_shares_amount=(_share(product, principal, shares.rate_percent)
                              if shares is not None and shares.required else None),
        overdue_penalty=penalty,
        financial_analysis=analysis,
    )


def check_product_mix(product: LoanProduct, product_id: int, held_product_ids: Sequence[int]) -> None:
    """Refuse a new loan on ``product`` for a borrower whose active loans are on
    ``held_product_ids`` (one entry per loan): a restricted product held, or too many loans of
    this product at once (seed 001 "product mix"). The restriction works both ways, so the
    caller also checks each held product's own mix against ``product_id``."""
    mix = product.product_mix
    for held in held_product_ids:
        if held in mix.restricted_product_ids:
            raise ProductError("product_id", f"the borrower holds a loan on product {held}, which this product "
                                             f"may not be combined with")
    same = sum(1 for held in held_product_ids if held == product_id)
    if mix.concurrent_loans_max is not None and same >= mix.concurrent_loans_max:
        raise ProductError("product_id", f"at most {mix.concurrent_loans_max} loans of this product at once")
