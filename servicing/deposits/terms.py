"""What an account's frozen product version says, in the shapes the pure core takes.

An account keeps the product version it was opened on; every movement reads that version
and maps it onto `products.deposits` structures: balance rules, the withdrawal fee charges, the
interest settings, and the accounting that posts each movement.

The terms are cached per process. A version row never changes (PostgreSQL refuses it), but the
terms also carry reference data that does: the fund-source GL account of each payment type, the
fee charges and their VAT/TAF rates. So a cached entry is keyed on the state of that reference
data too: the number of rows of `reference_data_change` (revision 0031: one per statement
changing a payment type, tax rate, charge or GL account), read in the same query as the data.
Each call reads that count (one small query) and rebuilds the entry when it moved.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Final

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from products.accounting import ProductAccounting
from products.deposits import (
    BalanceRules,
    CalculationMethod,
    CompoundingPeriod,
    DaysInYear,
    InterestSettings,
    PostingPeriod,
    RateTimeline,
    WithdrawalFee,
    withdrawal_fee,
)
from products.deposits.balances import fee_tax
from products.deposits.product import DepositProduct
from products.posting_rules import AccountingRole, ProductKind
from products.reference.taxes import ChargeTax, charge_tax
from products.rounding import Rounder, Rounding, RoundingMode, compile_rounding
from servicing.errors import NotFound
from servicing.products.kinds import decode_settings

CACHED_VERSIONS_MAX: Final = 4096


class FeeCharge(msgspec.Struct, frozen=True, kw_only=True):
    """A withdrawal fee charge of the product, as the pure fee function takes it."""

    charge_id: int
    fee: WithdrawalFee
    tax: ChargeTax | None = None
    """VAT/TAF charged on top of the fee, owed to the State (none when the charge names no tax rate,
    the rate is inactive, or the institution is exempt)."""


class ProductTerms(msgspec.Struct, frozen=True, kw_only=True):
    """One deposit product version, ready for servicing."""

    product_id: int
    version: int
    product: DepositProduct
    fee_charges: tuple[FeeCharge, ...]
    payment_type_accounts: dict[int, str]
    """Fund-source account of each payment type (reference data), under the product's own overrides."""

    @property
    def currency(self) -> str:
        return self.product.currency

    @property
    def rounder(self) -> Rounder:
        """Precision of movements: the product's decimals, else the currency's minor unit."""
        return compile_rounding(Rounding(decimals=self.product.decimals), self.product.currency)

    @property
    def accounting(self) -> ProductAccounting:
        """The product's accounting, with payment types' own fund-source accounts where the
        product maps none (product overrides stay first)."""
        own = self.product.accounting
        merged = {**self.payment_type_accounts, **own.payment_type_accounts}
        return msgspec.structs.replace(own, payment_type_accounts=merged)

    @property
    def posts(self) -> bool:
        return self.product.accounting.rule.value != "none"

    def control_account(self) -> str | None:
        return self.product.accounting.accounts.get(AccountingRole.DEPOSIT_CONTROL)

    def overdraft_account(self) -> str | None:
        return self.product.accounting.accounts.get(AccountingRole.OVERDRAFT_PORTFOLIO)

    def fees_for(self, amount: Decimal) -> list[tuple[int, Decimal]]:
        """Each withdrawal fee charge and its amount (zero fees left out)."""
        fees = [(c.charge_id, withdrawal_fee(amount, c.fee, self.rounder)) for c in self.fee_charges]
        return [(charge_id, fee) for charge_id, fee in fees if fee > 0]

    def taxes_on(self, fees: list[tuple[int, Decimal]], on: date) -> list[tuple[int, Decimal]]:
        """The VAT/TAF of each fee whose charge has a tax rate in force on ``on`` (fee x rate,
        rounded the product's way; zero taxes left out)."""
        taxes_of = {c.charge_id: c.tax for c in self.fee_charges if c.tax is not None}
        taxes = [(charge_id, fee_tax(fee, taxes_of[charge_id].rate_on(on), self.rounder))
                 for charge_id, fee in fees if charge_id in taxes_of]
        return [(charge_id, tax) for charge_id, tax in taxes if tax > 0]

    def interest_settings(self, rate_annual_percent: Decimal) -> InterestSettings:
        product = self.product
        overdraft_rate = product.overdraft.interest_rate_annual_percent if product.overdraft else Decimal(0)
        return InterestSettings(
            currency=product.currency,
            rate=RateTimeline.constant(rate_annual_percent),
            overdraft_rate=RateTimeline.constant(overdraft_rate) if overdraft_rate else RateTimeline(),
            method=CalculationMethod(product.interest.balance_method.value),
            days_in_year=DaysInYear(product.interest.days_in_year.value),
            compounding=CompoundingPeriod(product.interest.compounding_period.value),
            posting=PostingPeriod(product.interest.posting_period.value),
            # Interest owed to clients is never rounded up: fractions carry to the next period.
            rounding=Rounding(decimals=product.decimals, mode=RoundingMode.DOWN),
        )


class AccountRules(msgspec.Struct, frozen=True, kw_only=True):
    """An account's own limits (product defaults or the overrides chosen at opening)."""

    minimum_balance: Decimal
    overdraft_limit: Decimal

    def balance_rules(self) -> BalanceRules:
        return BalanceRules(minimum_balance=self.minimum_balance, overdraft_limit=self.overdraft_limit)


_cache: dict[tuple[str, int, int], tuple[int, ProductTerms]] = {}
"""Per database (the URL) and product version, with the reference-data state it was read at:
one process may serve several databases."""

REFERENCE_STATE_SQL: Final = "SELECT count(*) FROM reference_data_change"
"""The reference-data state a cached version was read at (revision 0031 appends a row per change)."""
_REFERENCE_STATE = text(REFERENCE_STATE_SQL)

_VERSION = text("""
SELECT p.kind, v.settings,
       coalesce((SELECT jsonb_agg(jsonb_build_object('id', c.id, 'calculation', c.calculation,
                        'amount', c.amount, 'min', c.amount_min, 'max', c.amount_max,
                        'tax_percent', x.rate_percent, 'tax_from', x.valid_from, 'tax_to', x.valid_to,
                        'tax_active', x.active, 'tax_exempt', x.institution_exempt) ORDER BY c.id)
                   FROM charge c
                   LEFT JOIN tax_rate x ON x.id = c.tax_rate_id
                  WHERE c.id IN (SELECT (jsonb_array_elements_text(v.settings -> 'withdrawal_fee_charge_ids'))::int)),
                '[]'::jsonb) AS fees,
       (SELECT count(*) FROM reference_data_change) AS reference_state,
       coalesce((SELECT jsonb_object_agg(t.id::text, a.code)
                   FROM payment_type t JOIN gl_account a ON a.id = t.gl_account_id), '{}'::jsonb) AS payment_accounts
  FROM product p JOIN product_version v ON v.product_id = p.id
 WHERE p.id = :product_id AND v.version = :version
""")


def _plain(value: object) -> Decimal:
    number = Decimal(str(value))
    return number.quantize(Decimal(1)) if number == number.to_integral_value() else number.normalize()


async def product_terms(session: AsyncSession, product_id: int, version: int, *,
                        reference_state: int | None = None) -> ProductTerms:
    """The terms of a deposit product version (cached until the reference data they carry changes).
    ``reference_state``: the state the caller has just read in its own statement (saves a round trip)."""
    key = (str(session.bind.url), product_id, version)
    cached = _cache.get(key)
    if cached is not None and cached[0] == (
            reference_state if reference_state is not None else await session.scalar(_REFERENCE_STATE)):
        return cached[1]
    row = (await session.execute(_VERSION, {"product_id": product_id, "version": version})).one_or_none()
    if row is None or row.kind != ProductKind.DEPOSIT.value:
        raise NotFound(f"unknown deposit product {product_id}", field="product_id")
    product = decode_settings(ProductKind.DEPOSIT, row.settings)
    assert isinstance(product, DepositProduct), product
    fees = []
    for charge in row.fees:
        amount = _plain(charge["amount"])
        flat = charge["calculation"] == "flat"
        fees.append(FeeCharge(charge_id=charge["id"], fee=WithdrawalFee(
            flat_amount=amount if flat else Decimal(0), percent_of_amount=Decimal(0) if flat else amount,
            minimum_amount=None if charge["min"] is None else _plain(charge["min"]),
            maximum_amount=None if charge["max"] is None else _plain(charge["max"])),
            tax=None if charge["tax_percent"] is None else charge_tax(
                _plain(charge["tax_percent"]), valid_from=date.fromisoformat(charge["tax_from"]),
                valid_to=date.fromisoformat(charge["tax_to"]) if charge["tax_to"] else None,
                active=charge["tax_active"], institution_exempt=charge["tax_exempt"])))
    terms = ProductTerms(product_id=product_id, version=version, product=product, fee_charges=tuple(fees),
                         payment_type_accounts={int(k): v for k, v in row.payment_accounts.items()})
    if len(_cache) < CACHED_VERSIONS_MAX or key in _cache:
        _cache[key] = (row.reference_state, terms)
    return terms


def today() -> date:
    return date.today()
