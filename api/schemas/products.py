"""Wire shapes of the product catalogue.

A product's settings travel as the pure core's own Structs (`LoanProduct`, `DepositProduct`,
`TermDepositProduct`): they are frozen, refuse unknown fields, carry Decimals as strings, and
their validation answers every problem with its field path, so a second copy of a
hundred-field shape would only drift. Responses wrap them with the version metadata.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Self

import msgspec

from api.schemas.common import Id, check_date
from api.schemas.simulations import check_decimal_shape
from ledger.model import Side
from products.deposits.product import DepositProduct
from products.events import EVENT_PARTS_MAX, EventPart, LoanClassification, ProductEvent, TermBucket
from products.loans.product import CYCLE_NUMBER_MAX, LoanProduct, LoanTermOverrides
from products.posting_rules import Component, EventKind, ProductKind
from products.term_deposits.product import ClientAttribute, TermDepositProduct, TermLength
from servicing.products.service import PostingPreview, ProductRecord, VersionSummary


class _ProductOut(msgspec.Struct, kw_only=True):
    product_id: int
    kind: ProductKind
    active: bool
    current_version: int
    version: int
    version_created_at: datetime
    version_created_by: str
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str

    @classmethod
    def from_record(cls, record: ProductRecord) -> Self:
        """The route's kind decides the subclass; its `settings` annotation names the type."""
        fields = {name: getattr(record, name) for name in _ProductOut.__struct_fields__}
        fields["settings"] = record.settings
        return cls(**fields)


class LoanProductOut(_ProductOut, kw_only=True):
    settings: LoanProduct


class DepositProductOut(_ProductOut, kw_only=True):
    settings: DepositProduct


class TermDepositProductOut(_ProductOut, kw_only=True):
    settings: TermDepositProduct


class ProductVersionOut(msgspec.Struct, kw_only=True):
    version: int
    accounting_rule: str
    created_at: datetime
    created_by: str
    current: bool

    @classmethod
    def from_summary(cls, summary: VersionSummary) -> ProductVersionOut:
        return cls(**msgspec.structs.asdict(summary))


class EventPartIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    component: Component
    amount: Annotated[Decimal, msgspec.Meta(description="Decimal string, e.g. '150000'")]
    charge_id: Id | None = None

    def __post_init__(self) -> None:
        check_decimal_shape(self.amount, "amount")


class PostingPreviewIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An event of the product and its amounts; the answer is the entry's lines, unwritten."""

    event_kind: EventKind
    parts: Annotated[list[EventPartIn], msgspec.Meta(min_length=1, max_length=EVENT_PARTS_MAX)]
    payment_type_id: Id | None = None
    classification: LoanClassification = LoanClassification.HEALTHY
    previous_classification: LoanClassification | None = None
    term: TermBucket = TermBucket.SHORT
    version: Id | None = None

    def to_event(self, currency: str) -> ProductEvent:
        return ProductEvent(
            kind=self.event_kind, currency=currency,
            parts=tuple(EventPart(component=p.component, amount=p.amount, charge_id=p.charge_id) for p in self.parts),
            payment_type_id=self.payment_type_id, classification=self.classification,
            previous_classification=self.previous_classification, term=self.term)


class PreviewLineOut(msgspec.Struct, kw_only=True):
    account_code: str
    side: Side
    amount: Decimal


class PostingPreviewOut(msgspec.Struct, kw_only=True):
    product_id: int
    version: int
    kind: ProductKind
    accounting_rule: str
    currency: str
    lines: list[PreviewLineOut]
    debit_total: Decimal
    credit_total: Decimal
    balanced: bool

    @classmethod
    def from_preview(cls, preview: PostingPreview) -> PostingPreviewOut:
        debit = sum((line.amount for line in preview.lines if line.side is Side.DEBIT), Decimal(0))
        credit = sum((line.amount for line in preview.lines if line.side is Side.CREDIT), Decimal(0))
        return cls(product_id=preview.product_id, version=preview.version, kind=preview.kind,
                   accounting_rule=preview.accounting_rule, currency=preview.currency,
                   lines=[PreviewLineOut(account_code=line.account_code, side=line.side, amount=line.amount)
                          for line in preview.lines],
                   debit_total=debit, credit_total=credit, balanced=debit == credit)


class DerivedTermsIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The officer's choices, the borrower's loan cycle, and optionally the product version
    and the office whose working days and holidays move the due dates."""

    overrides: LoanTermOverrides
    cycle: Annotated[int, msgspec.Meta(ge=1, le=CYCLE_NUMBER_MAX)] = 1
    version: Id | None = None
    office_id: Id | None = None


class RateQuoteIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A deposit to price: when it opens, for how long, how much, and the client's attributes
    the product's incentives look at (e.g. {"gender": "female", "age": "34"})."""

    opened_on: date
    term: TermLength
    amount: Annotated[Decimal, msgspec.Meta(description="Decimal string, e.g. '500000'")]
    client: dict[ClientAttribute, Annotated[str, msgspec.Meta(max_length=50, pattern=r"^[^\x00-\x1f\x7f]*$")]] = msgspec.field(
        default_factory=dict)
    version: Id | None = None

    def __post_init__(self) -> None:
        check_decimal_shape(self.amount, "amount")
        check_date(self.opened_on, "opened_on")


class RateQuoteOut(msgspec.Struct, kw_only=True):
    product_id: int
    version: int
    rate_percent: Decimal
    base_rate_percent: Decimal
    chart_index: int
    slab_index: int
    incentives_applied: list[int]
