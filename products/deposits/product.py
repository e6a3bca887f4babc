"""A current or savings (deposit) product: the account a loan disburses into and repays
from (M1.5). Pure settings and their validation; accounts keep the version they opened with."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Final

import msgspec

from products.accounting import ProductAccounting
from products.catalogue.common import PERCENT_MAX, Checker, Problem, ProductIdentity
from products.deposits.interest_settings import InterestSettings, check_interest_settings
from products.posting_rules import AccountingRule

DORMANCY_DAYS_MAX: Final = 3650


class DepositType(StrEnum):
    CURRENT = "current"
    SAVINGS = "savings"


class Overdraft(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Overdraft allowed up to a limit, at a nominal annual rate."""

    limit_amount: Decimal
    interest_rate_annual_percent: Decimal = Decimal(0)


class DepositProduct(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    identity: ProductIdentity
    currency: str
    deposit_type: DepositType = DepositType.SAVINGS
    decimals: int | None = None
    in_multiples_of: Decimal | None = None
    interest_rate_annual_percent: Decimal = Decimal(0)
    interest: InterestSettings = InterestSettings()
    minimum_opening_balance: Decimal = Decimal(0)
    minimum_balance: Decimal = Decimal(0)
    overdraft: Overdraft | None = None
    withdrawal_fee_charge_ids: tuple[int, ...] = ()
    charge_ids: tuple[int, ...] = ()
    dormancy_days: int | None = None
    """Days without a client transaction after which the account turns dormant; ``None``: never."""
    accounting: ProductAccounting = msgspec.field(default_factory=ProductAccounting)

    def referenced_charge_ids(self) -> frozenset[int]:
        return frozenset(self.charge_ids) | frozenset(self.withdrawal_fee_charge_ids)


def validate_deposit_product(product: DepositProduct) -> list[Problem]:
    check = Checker()
    check.identity(product.identity)
    places = check.currency("currency", product.currency, product.decimals, product.in_multiples_of)
    check.decimal("interest_rate_annual_percent", product.interest_rate_annual_percent, maximum=PERCENT_MAX)
    check_interest_settings(check, "interest", product.interest)
    check.decimal("minimum_opening_balance", product.minimum_opening_balance, places=places)
    check.decimal("minimum_balance", product.minimum_balance, places=places)
    check.ordered("minimum_balance", product.minimum_balance, "minimum_opening_balance",
                  product.minimum_opening_balance)
    if product.overdraft is not None:
        check.decimal("overdraft.limit_amount", product.overdraft.limit_amount, positive=True, places=places)
        check.decimal("overdraft.interest_rate_annual_percent", product.overdraft.interest_rate_annual_percent,
                      maximum=PERCENT_MAX)
        if product.minimum_balance.is_finite() and product.minimum_balance > 0:
            check.add("overdraft", "an account with a minimum balance cannot be overdrawn")
    check.charges("charge_ids", product.charge_ids)
    check.charges("withdrawal_fee_charge_ids", product.withdrawal_fee_charge_ids)
    check.count("dormancy_days", product.dormancy_days, minimum=1, maximum=DORMANCY_DAYS_MAX)
    if product.accounting.rule is AccountingRule.ACCRUAL_UPFRONT:
        check.add("accounting.rule", "deposit products use none, cash or accrual_periodic accounting")
    check.accounting(product.accounting)
    return check.problems
