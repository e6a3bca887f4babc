"""What every product shares: identification, min/default/max ranges, and validation that
collects *every* problem (each naming the field path the API spells) instead of stopping at
the first, so an administrator fixes a product form in one round trip.

Validation is pure and total: it never raises on bad input, it returns `Problem`s. The
service turns a non-empty list into one 422 problem-details answer listing them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Final

import moneyed
import msgspec

from products.accounting import ProductAccounting
from products.errors import ProductError
from products.loans.limits import DATE_MAX, DATE_MIN, DECIMAL_PLACES_MAX
from products.posting_rules import AccountingRule
from products.rounding import CURRENCY_DECIMALS_MAX, currency_decimals, is_multiple_of

NAME_LENGTH_MAX: Final = 100
SHORT_NAME_LENGTH_MAX: Final = 10
CODE_LENGTH_MAX: Final = 20
DESCRIPTION_LENGTH_MAX: Final = 1000
AMOUNT_MAX: Final = Decimal("1000000000000000")
"""10^15 major units: above any single loan or deposit, exact with 4 decimals in 34 digits."""
PERCENT_MAX: Final = Decimal(1000)
"""A rate ceiling for nominal rates (annual percent); shares and penalties stay at 100 %."""
SHARE_PERCENT_MAX: Final = Decimal(100)
CHARGES_MAX: Final = 50
ID_MAX: Final = 2**31 - 1
"""Reference ids are PostgreSQL integers; a larger one is refused here, not by the driver."""
ACCOUNT_CODE_LENGTH_MAX: Final = 30
PROBLEMS_MAX: Final = 100
"""A hopeless product form answers its first hundred problems, not thousands."""


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """One broken rule: ``field`` is the path as the API spells it (``amount_bands[1].amount_min``)."""

    field: str
    message: str


class ProductRejected(ProductError):
    """A product setting breaks one or more rules; `problems` lists them all (first one in
    ``field``), and the API answers them as one 422 with an ``errors`` list."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        assert problems
        first = problems[0]
        super().__init__(first.field, first.message)
        self.problems = [{"field": p.field, "message": p.message} for p in problems[:PROBLEMS_MAX]]


def raise_problems(problems: Sequence[Problem]) -> None:
    if problems:
        raise ProductRejected(problems)


class AmountRange(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Default with optional bounds (seed 001: "par défaut obligatoire, min/max optionnels")."""

    default: Decimal
    minimum: Decimal | None = None
    maximum: Decimal | None = None

    def contains(self, value: Decimal) -> bool:
        return (self.minimum is None or value >= self.minimum) and (self.maximum is None or value <= self.maximum)


class CountRange(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Integer default with optional bounds (number of repayments, cycle counts)."""

    default: int
    minimum: int | None = None
    maximum: int | None = None

    def contains(self, value: int) -> bool:
        return (self.minimum is None or value >= self.minimum) and (self.maximum is None or value <= self.maximum)


class ProductIdentity(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Name, short name, code and description, and the dates between which accounts may be
    opened on the product (seed 001: "date d'ouverture / de clôture du produit")."""

    name: str
    short_name: str
    code: str | None = None
    description: str = ""
    open_date: date | None = None
    close_date: date | None = None


class Checker:
    """Collects problems; each check names its field and never raises."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, field: str, message: str) -> None:
        if len(self.problems) < PROBLEMS_MAX:
            self.problems.append(Problem(field=field, message=message))

    def text(self, field: str, value: str | None, *, length_max: int, required: bool = True) -> None:
        if value is None or not value.strip():
            if required:
                self.add(field, "is required")
            return
        if len(value) > length_max:
            self.add(field, f"has at most {length_max} characters")
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            self.add(field, "contains control characters")

    def decimal(self, field: str, value: Decimal | None, *, minimum: Decimal = Decimal(0),
                maximum: Decimal = AMOUNT_MAX, positive: bool = False, places: int = DECIMAL_PLACES_MAX) -> bool:
        """True when the value broke no rule (so arithmetic on it is safe); adds problems otherwise."""
        if value is None:
            return True
        if not value.is_finite():
            self.add(field, "must be a finite number")
            return False
        before = len(self.problems)
        exponent = value.as_tuple().exponent
        assert isinstance(exponent, int)
        if exponent < -places:
            self.add(field, f"has at most {places} decimal places")
        if positive and value <= 0:
            self.add(field, "must be greater than 0")
        elif value < minimum:
            self.add(field, f"must be at least {minimum}")
        if value > maximum:
            self.add(field, f"must be at most {maximum}")
        return len(self.problems) == before

    def count(self, field: str, value: int | None, *, minimum: int = 0, maximum: int) -> None:
        if value is not None and not minimum <= value <= maximum:
            self.add(field, f"must be between {minimum} and {maximum}")

    def day(self, field: str, value: date | None) -> None:
        if value is not None and not DATE_MIN <= value <= DATE_MAX:
            self.add(field, f"must be between {DATE_MIN.isoformat()} and {DATE_MAX.isoformat()}")

    def ordered(self, field_low: str, low: Decimal | int | date | None, field_high: str,
                high: Decimal | int | date | None, *, strict: bool = False, blame: str | None = None) -> None:
        """``low <= high`` (or ``<``); the problem names the higher field, or ``blame``."""
        if low is None or high is None:
            return
        if isinstance(low, Decimal) and not low.is_finite():
            return
        if isinstance(high, Decimal) and not high.is_finite():
            return
        if (low >= high) if strict else (low > high):  # type: ignore[operator]
            relation = "after" if isinstance(low, date) else "greater than"
            relation = relation if strict else ("on or after" if isinstance(low, date) else "at least")
            if blame is None:
                self.add(field_high, f"must be {relation} {field_low} ({low})")
            else:
                self.add(blame, f"{field_high} ({high}) must be {relation} {field_low} ({low})")

    def amount_range(self, field: str, value: AmountRange, *, places: int = DECIMAL_PLACES_MAX,
                     maximum: Decimal = AMOUNT_MAX, positive: bool = False) -> None:
        """Each bound valid, and minimum <= default <= maximum."""
        ok = all([
            self.decimal(f"{field}.minimum", value.minimum, places=places, maximum=maximum, positive=positive),
            self.decimal(f"{field}.default", value.default, places=places, maximum=maximum, positive=positive),
            self.decimal(f"{field}.maximum", value.maximum, places=places, maximum=maximum, positive=positive),
        ])
        if ok:
            self.ordered(f"{field}.minimum", value.minimum, f"{field}.default", value.default)
            self.ordered(f"{field}.default", value.default, f"{field}.maximum", value.maximum)
            self.ordered(f"{field}.minimum", value.minimum, f"{field}.maximum", value.maximum)

    def count_range(self, field: str, value: CountRange, *, minimum: int = 0, maximum: int) -> None:
        for name, bound in (("minimum", value.minimum), ("default", value.default), ("maximum", value.maximum)):
            self.count(f"{field}.{name}", bound, minimum=minimum, maximum=maximum)
        self.ordered(f"{field}.minimum", value.minimum, f"{field}.default", value.default)
        self.ordered(f"{field}.default", value.default, f"{field}.maximum", value.maximum)

    def identity(self, identity: ProductIdentity) -> None:
        self.text("identity.name", identity.name, length_max=NAME_LENGTH_MAX)
        self.text("identity.short_name", identity.short_name, length_max=SHORT_NAME_LENGTH_MAX)
        self.text("identity.code", identity.code, length_max=CODE_LENGTH_MAX, required=False)
        self.text("identity.description", identity.description, length_max=DESCRIPTION_LENGTH_MAX, required=False)
        self.day("identity.open_date", identity.open_date)
        self.day("identity.close_date", identity.close_date)
        self.ordered("identity.open_date", identity.open_date, "identity.close_date", identity.close_date, strict=True)

    def currency(self, field: str, code: str, decimals: int | None, in_multiples_of: Decimal | None,
                 *, multiple_field: str = "in_multiples_of") -> int:
        """The product's decimals once checked against the currency (its minor unit at most)."""
        try:
            moneyed.get_currency(code)
            currency_places = currency_decimals(code)
        except (KeyError, ValueError, AssertionError, moneyed.CurrencyDoesNotExist):
            self.add(field, f"unknown currency {code!r}")
            return 0
        places = currency_places if decimals is None else decimals
        if decimals is not None and not 0 <= decimals <= min(currency_places, CURRENCY_DECIMALS_MAX):
            self.add("decimals", f"{code} has {currency_places} decimals; a product keeps 0 to {currency_places}")
            places = currency_places
        usable = in_multiples_of is not None and self.decimal(multiple_field, in_multiples_of, positive=True,
                                                              places=places)
        if usable and in_multiples_of is not None and in_multiples_of > 0 \
                and not is_multiple_of(in_multiples_of, Decimal(1).scaleb(-places)):
            self.add(multiple_field, f"must be a whole number of {Decimal(1).scaleb(-places)} {code}")
        return places

    def charges(self, field: str, charge_ids: Sequence[int]) -> None:
        if len(charge_ids) > CHARGES_MAX:
            self.add(field, f"at most {CHARGES_MAX} charges")
        if len(set(charge_ids)) != len(charge_ids):
            self.add(field, "names a charge twice")
        for index, charge_id in enumerate(charge_ids):
            self.reference(f"{field}[{index}]", charge_id, "charge")

    def reference(self, field: str, value: int | None, what: str) -> None:
        if value is not None and not 1 <= value <= ID_MAX:
            self.add(field, f"is a {what} id (a positive integer up to {ID_MAX})")

    def accounting(self, accounting: ProductAccounting) -> None:
        """Shape of the account mapping: ids and codes in range. The chart check is the service's."""
        for role, code in accounting.accounts.items():
            self.text(f"accounting.accounts.{role.value}", code, length_max=ACCOUNT_CODE_LENGTH_MAX)
        for payment_type_id, code in accounting.payment_type_accounts.items():
            field = f"accounting.payment_type_accounts.{payment_type_id}"
            self.reference(field, payment_type_id, "payment type")
            self.text(field, code, length_max=ACCOUNT_CODE_LENGTH_MAX)
        for charge_id, code in accounting.charge_accounts.items():
            field = f"accounting.charge_accounts.{charge_id}"
            self.reference(field, charge_id, "charge")
            self.text(field, code, length_max=ACCOUNT_CODE_LENGTH_MAX)
        for index, classified in enumerate(accounting.classified_accounts):
            self.text(f"accounting.classified_accounts[{index}].account_code", classified.account_code,
                      length_max=ACCOUNT_CODE_LENGTH_MAX)
        if accounting.rule is AccountingRule.NONE and (
                accounting.accounts or accounting.payment_type_accounts or accounting.charge_accounts
                or accounting.classified_accounts):
            self.add("accounting.accounts", "a product without accounting maps no accounts")
