"""Wire shapes of loan applications and loans. Requests are strict (unknown fields refused,
amounts as decimal strings checked for shape); answers are the service's own records."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

import msgspec

from api.schemas.common import Id, LongText, ShortText, check_date
from api.schemas.simulations import check_decimal_shape
from products.loans.limits import TRANCHES_MAX
from products.loans.terms import TrancheSpec
from servicing.loans.model import (
    CO_SIGNERS_MAX,
    COLLATERAL_MAX,
    GUARANTORS_MAX,
    AddCharge,
    ApplicationDetails,
    Collateral,
    Disburse,
    FundsChannel,
    GuarantorIn,
    LoanApplication,
    Repay,
    Waive,
)
from servicing.loans.tranches import DisburseTranche

Count = Annotated[int, msgspec.Meta(ge=0, le=1000)]
Receipt = Annotated[str, msgspec.Meta(min_length=1, max_length=50, pattern=r"^[^\x00-\x1f\x7f]+$")]


class GuarantorWire(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    amount: Decimal
    client_id: Id | None = None
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")] | None = None


class CollateralWire(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    collateral_type: Annotated[str, msgspec.Meta(min_length=1, max_length=50, pattern=r"^[^\x00-\x1f\x7f]+$")]
    value: Decimal
    description: LongText = ""


class TrancheWire(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A planned tranche: expected date and amount."""

    expected_date: date
    amount: Decimal


class LoanApplicationIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A loan application: terms left out take the product's defaults for the borrower's cycle."""

    client_id: Id
    product_id: Id
    expected_disbursement_date: date
    principal_amount: Decimal
    repayment_count: Annotated[int, msgspec.Meta(ge=1, le=1000)] | None = None
    interest_rate_percent: Decimal | None = None
    repayment_every: Annotated[int, msgspec.Meta(ge=1, le=1000)] | None = None
    first_repayment_date: date | None = None
    grace_on_principal_periods: Count | None = None
    grace_on_interest_payment_periods: Count | None = None
    tranches: Annotated[tuple[TrancheWire, ...], msgspec.Meta(max_length=TRANCHES_MAX)] = ()
    """Planned tranches (multi-disbursement products), in date order, the first on the expected disbursement
    date, adding up to the principal."""
    purpose: LongText = ""
    loan_purpose_id: Id | None = None
    activity_sector_id: Id | None = None
    guarantors: Annotated[tuple[GuarantorWire, ...], msgspec.Meta(max_length=GUARANTORS_MAX)] = ()
    co_signers: Annotated[tuple[Id, ...], msgspec.Meta(max_length=CO_SIGNERS_MAX)] = ()
    collateral: Annotated[tuple[CollateralWire, ...], msgspec.Meta(max_length=COLLATERAL_MAX)] = ()

    def __post_init__(self) -> None:
        check_date(self.expected_disbursement_date, "expected_disbursement_date")
        check_date(self.first_repayment_date, "first_repayment_date")
        check_decimal_shape(self.principal_amount, "principal_amount")
        check_decimal_shape(self.interest_rate_percent, "interest_rate_percent")
        for index, guarantor in enumerate(self.guarantors):
            check_decimal_shape(guarantor.amount, f"guarantors[{index}].amount")
        for index, item in enumerate(self.collateral):
            check_decimal_shape(item.value, f"collateral[{index}].value")
        for index, tranche in enumerate(self.tranches):
            check_date(tranche.expected_date, f"tranches[{index}].expected_date")
            check_decimal_shape(tranche.amount, f"tranches[{index}].amount")

    def to_application(self) -> LoanApplication:
        return LoanApplication(
            client_id=self.client_id, product_id=self.product_id,
            expected_disbursement_date=self.expected_disbursement_date, principal_amount=self.principal_amount,
            repayment_count=self.repayment_count, interest_rate_percent=self.interest_rate_percent,
            repayment_every=self.repayment_every, first_repayment_date=self.first_repayment_date,
            grace_on_principal_periods=self.grace_on_principal_periods,
            grace_on_interest_payment_periods=self.grace_on_interest_payment_periods,
            tranches=tuple(TrancheSpec(expected_date=t.expected_date, amount=t.amount) for t in self.tranches),
            guarantors=tuple(GuarantorIn(amount=g.amount, client_id=g.client_id, name=g.name) for g in self.guarantors),
            details=ApplicationDetails(
                purpose=self.purpose, loan_purpose_id=self.loan_purpose_id, activity_sector_id=self.activity_sector_id,
                co_signers=self.co_signers,
                collateral=tuple(Collateral(collateral_type=c.collateral_type, value=c.value, description=c.description)
                                 for c in self.collateral)))


class ApprovalIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Approve the next validation level, possibly for a lower amount."""

    principal_amount: Decimal | None = None
    reason_ids: Annotated[tuple[Id, ...], msgspec.Meta(max_length=20)] = ()
    note: LongText = ""

    def __post_init__(self) -> None:
        check_decimal_shape(self.principal_amount, "principal_amount")


class RejectionIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    reason_ids: Annotated[tuple[Id, ...], msgspec.Meta(min_length=1, max_length=20)]
    note: LongText = ""


class SendBackIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What the officer must complete or change before submitting again."""

    note: Annotated[str, msgspec.Meta(min_length=1, max_length=1000, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")]


class UndoIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    note: LongText = ""


class _Channel(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    payment_type_id: Id | None = None
    deposit_account_id: Id | None = None
    receipt_number: Receipt | None = None

    def channel(self) -> FundsChannel:
        return FundsChannel(payment_type_id=self.payment_type_id, deposit_account_id=self.deposit_account_id,
                            receipt_number=self.receipt_number)


class DisbursementIn(_Channel, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Disburse the approved amount on ``value_date`` by a payment type (or, later, to a deposit account)."""

    value_date: date
    note: ShortText = ""

    def __post_init__(self) -> None:
        check_date(self.value_date, "value_date")

    def to_command(self) -> Disburse:
        return Disburse(value_date=self.value_date, channel=self.channel(), note=self.note)


class _MoneyIn(_Channel, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An amount moved on ``value_date`` by a payment type (or a deposit account)."""

    value_date: date
    amount: Decimal
    note: ShortText = ""

    def __post_init__(self) -> None:
        check_date(self.value_date, "value_date")
        check_decimal_shape(self.amount, "amount")


class TrancheIn(_MoneyIn, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Pay out one tranche of an approved or active loan on ``value_date``."""

    def to_command(self) -> DisburseTranche:
        return DisburseTranche(value_date=self.value_date, amount=self.amount, channel=self.channel(), note=self.note)


class RepaymentIn(_MoneyIn, frozen=True, kw_only=True, forbid_unknown_fields=True):
    def to_command(self) -> Repay:
        return Repay(value_date=self.value_date, amount=self.amount, channel=self.channel(), note=self.note)


class ChargeIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A reference charge (``charge_id``: its income account, fee or penalty) or a one-off fee."""

    value_date: date
    amount: Decimal
    due_date: date | None = None
    charge_id: Id | None = None

    def __post_init__(self) -> None:
        check_date(self.value_date, "value_date")
        check_date(self.due_date, "due_date")
        check_decimal_shape(self.amount, "amount")

    def to_command(self) -> AddCharge:
        return AddCharge(value_date=self.value_date, amount=self.amount, due_date=self.due_date,
                         charge_id=self.charge_id)


class WaiverIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    value_date: date
    component: Literal["interest", "fee", "penalty"]
    amount: Decimal
    instalment: Annotated[int, msgspec.Meta(ge=1, le=100_000)] | None = None
    note: LongText = ""

    def __post_init__(self) -> None:
        check_date(self.value_date, "value_date")
        check_decimal_shape(self.amount, "amount")

    def to_command(self) -> Waive:
        return Waive(value_date=self.value_date, component=self.component, amount=self.amount,
                     instalment=self.instalment, note=self.note)
