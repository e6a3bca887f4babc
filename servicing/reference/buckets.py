"""Delinquency grids (loans, overdrafts, rescheduled loans): read the grid in force, replace
a grid as a whole. A grid is checked as a whole (contiguous, no overlap, provisions never
lower for longer delays), so it is replaced in one command; the replaced buckets stay in the
table, retired, for the provisions computed with them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec
from sqlalchemy import func, select, update

from products.reference.db.tables import DelinquencyBucketRow
from products.reference.model import BucketKind, DelinquencyBucket
from products.reference.validation import validate_bucket_grid
from servicing.reference.catalogue import flush, lock
from servicing.reference.queries import bucket_of
from servicing.unit_of_work import UnitOfWork


class StoredBucket(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    kind: BucketKind
    bucket: DelinquencyBucket
    created_at: datetime
    created_by: str


def _stored(row: DelinquencyBucketRow) -> StoredBucket:
    return StoredBucket(id=row.id, kind=BucketKind(row.bucket_kind), bucket=bucket_of(row), created_at=row.created_at,
                        created_by=row.created_by)


async def list_buckets(uow: UnitOfWork, kind: BucketKind | None = None) -> list[StoredBucket]:
    """The grids in force, by kind then days overdue."""
    async with uow:
        query = (select(DelinquencyBucketRow).where(DelinquencyBucketRow.retired_at.is_(None))
                 .order_by(DelinquencyBucketRow.bucket_kind, DelinquencyBucketRow.days_overdue_min))
        if kind is not None:
            query = query.where(DelinquencyBucketRow.bucket_kind == kind.value)
        return [_stored(row) for row in (await uow.session.scalars(query)).all()]


async def replace_grid(uow: UnitOfWork, kind: BucketKind, buckets: Sequence[DelinquencyBucket],
                       actor: str) -> list[StoredBucket]:
    grid = validate_bucket_grid(buckets)
    async with uow:
        session = uow.session
        await lock(session, f"delinquency_bucket:{kind.value}")
        await session.execute(
            update(DelinquencyBucketRow)
            .where(DelinquencyBucketRow.bucket_kind == kind.value, DelinquencyBucketRow.retired_at.is_(None))
            .values(retired_at=func.now(), retired_by=actor))
        rows = [DelinquencyBucketRow(bucket_kind=kind.value, created_by=actor, **msgspec.structs.asdict(bucket))
                for bucket in grid]
        session.add_all(rows)
        await flush(session)
        for row in rows:
            await session.refresh(row)
        stored = [_stored(row) for row in rows]
        await uow.commit()
    return stored
