"""Rules across rows hold under concurrent commands: of two overlapping tax rates created at
once, one is refused; of two grids replaced at once, exactly one is in force."""

from __future__ import annotations

import asyncio
import os
from datetime import date
from decimal import Decimal

from products.reference.model import (
    BucketKind,
    DelinquencyBucket,
    LoanState,
    TaxedOperation,
    TaxKind,
    TaxRateDefinition,
)
from servicing.errors import Conflict
from servicing.reference import buckets, catalogue, lists


async def test_two_overlapping_tax_rates_created_at_once_cannot_both_pass(uow_factory) -> None:  # type: ignore[no-untyped-def]
    year = 2160 + os.getpid() % 30

    def rate(code: str, month: int) -> TaxRateDefinition:
        return TaxRateDefinition(code=code, name="TVA", tax_kind=TaxKind.VAT, country="NE",
                                 operation_kind=TaxedOperation.LOAN_CHARGES, rate_percent=Decimal(19),
                                 valid_from=date(year, month, 1), valid_to=date(year, 12, 31))

    results = await asyncio.gather(
        *(catalogue.create(uow_factory(), lists.TAX_RATES, rate(f"NE-{year}-{n}", n), "tests") for n in (1, 2, 3)),
        return_exceptions=True)
    created = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(created) == 1
    assert all(isinstance(r, Conflict) for r in refused)


async def test_grids_replaced_at_once_leave_exactly_one_grid(uow_factory) -> None:  # type: ignore[no-untyped-def]
    def grid(split: int) -> list[DelinquencyBucket]:
        return [DelinquencyBucket(label="a", days_overdue_min=0, days_overdue_max=split, loan_state=LoanState.HEALTHY,
                                  provision_rate_percent=Decimal(0)),
                DelinquencyBucket(label="b", days_overdue_min=split + 1, days_overdue_max=None,
                                  loan_state=LoanState.DOUBTFUL, provision_rate_percent=Decimal(100))]

    await asyncio.gather(*(buckets.replace_grid(uow_factory(), BucketKind.RESCHEDULED_LOAN, grid(split), "tests")
                           for split in (30, 60, 90, 120)))
    in_force = await buckets.list_buckets(uow_factory(), BucketKind.RESCHEDULED_LOAN)
    assert [b.bucket.label for b in in_force] == ["a", "b"]
    assert in_force[1].bucket.days_overdue_min == in_force[0].bucket.days_overdue_max + 1  # type: ignore[operator]
