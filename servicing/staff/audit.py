"""The audit log: appending (grouped, chained), searching, verifying.

Requests are recorded by one writer task per process: records waiting in the queue are
appended in one transaction and one INSERT, after taking a transaction-level advisory lock
that every writer of every process takes, so the chain has one order: each group reads the
last row's hash under the lock and chains its rows from it. A request waits until its
record is committed before it is answered, so an answered command is always in the log,
while the cost per request stays a fraction of one INSERT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Final

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.limits import PAGE_SIZE_MAX
from servicing.errors import ServiceUnavailable
from servicing.staff.audit_chain import (
    GENESIS_HASH,
    AuditRecord,
    ChainBreak,
    ChainedRecord,
    chain,
    first_break,
)
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWorkFactory

_log = logging.getLogger(__name__)

AUDIT_LOCK_KEY: Final = 7_406_100_006
"""pg_advisory_xact_lock key serializing appends to the chain across processes."""
GROUP_RECORDS_MAX: Final = 1_000
QUEUE_RECORDS_MAX: Final = 50_000
VERIFY_PAGE_ROWS: Final = 5_000
DETAIL_LENGTH_MAX: Final = 32_000


async def append_records(session: AsyncSession, records: Sequence[AuditRecord]) -> list[int]:
    """Chain and insert records in the caller's transaction; returns their sequence numbers."""
    assert records
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_LOCK_KEY})
    previous = await session.scalar(text("SELECT row_hash FROM audit_log ORDER BY seq DESC LIMIT 1"))
    links = chain(previous or GENESIS_HASH, records)
    columns = ("occurred_at", "actor", "user_id", "office_id", "client_address", "method", "path", "action",
               "status", "outcome", "detail")
    types = ("timestamptz", "text", "int", "int", "text", "text", "text", "text", "smallint", "text", "text")
    params: dict[str, object] = {c: [getattr(r, c) for r in records] for c in columns}
    params["previous_hash"] = [link[0] for link in links]
    params["row_hash"] = [link[1] for link in links]
    unnest = ", ".join(f"CAST(:{c} AS {t}[])" for c, t in (*zip(columns, types, strict=True),
                                                            ("previous_hash", "text"), ("row_hash", "text")))
    names = ", ".join((*columns, "previous_hash", "row_hash"))
    sequences = (await session.execute(text(
        f"INSERT INTO audit_log ({names}) SELECT * FROM unnest({unnest}) RETURNING seq"), params)).scalars().all()
    return list(sequences)


class _Pending:
    __slots__ = ("future", "record")

    def __init__(self, record: AuditRecord, future: asyncio.Future[None]) -> None:
        self.record = record
        self.future = future


class AuditWriter:
    """Appends records through a group commit; `record` returns once the record is committed."""

    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop())

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self._queue.empty():
            pending = self._queue.get_nowait()
            if not pending.future.done():
                pending.future.set_exception(ServiceUnavailable("the audit log is shutting down"))

    async def record(self, record: AuditRecord) -> None:
        await self.start()
        if self._queue.qsize() >= QUEUE_RECORDS_MAX:
            raise ServiceUnavailable("the audit log is saturated; send the request again shortly")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(record, future))
        await future

    async def _loop(self) -> None:
        while True:
            group = [await self._queue.get()]
            while len(group) < GROUP_RECORDS_MAX and not self._queue.empty():
                group.append(self._queue.get_nowait())
            try:
                async with self._uow_factory() as uow:
                    await append_records(uow.session, [p.record for p in group])
                    await uow.commit()
            except Exception as error:  # the writer must survive anything a group throws
                _log.exception("audit writer failed a group of %d records", len(group))
                for pending in group:
                    if not pending.future.done():
                        pending.future.set_exception(error)
                continue
            for pending in group:
                if not pending.future.done():
                    pending.future.set_result(None)


class AuditFilter(msgspec.Struct, frozen=True, kw_only=True):
    actor: str | None = None
    user_id: int | None = None
    outcome: str | None = None
    action: str | None = None
    method: str | None = None
    path_prefix: str | None = None
    status: int | None = None
    client_address: str | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None


class AuditRow(msgspec.Struct, frozen=True, kw_only=True):
    sequence: int
    occurred_at: datetime
    actor: str
    user_id: int | None
    office_id: int | None
    client_address: str | None
    method: str
    path: str
    action: str
    status: int
    outcome: str
    detail: str
    previous_hash: str
    row_hash: str


_ROW_COLUMNS = ("a.seq AS sequence, a.occurred_at, a.actor, a.user_id, a.office_id, a.client_address, a.method, a.path, "
                "a.action, a.status, a.outcome, a.detail, a.previous_hash, a.row_hash")


def _where(filters: AuditFilter, scope: OfficeScope) -> tuple[str, dict[str, object]]:
    """Rows of users in the auditor's office subtree; rows without a user (anonymous
    requests) only for auditors of the head office."""
    conditions = [
        f"({scope.sql_condition('a.office_id')} OR (a.office_id IS NULL AND EXISTS "
        "(SELECT 1 FROM office h WHERE h.id = CAST(:scope_office_id AS int) AND h.parent_id IS NULL)))"
    ]
    params: dict[str, object] = {"scope_office_id": scope.office_id}
    for column in ("actor", "user_id", "outcome", "action", "method", "status", "client_address"):
        value = getattr(filters, column)
        if value is not None:
            conditions.append(f"a.{column} = :{column}")
            params[column] = value
    if filters.path_prefix is not None:
        conditions.append("starts_with(a.path, :path_prefix)")
        params["path_prefix"] = filters.path_prefix
    if filters.occurred_from is not None:
        conditions.append("a.occurred_at >= :occurred_from")
        params["occurred_from"] = filters.occurred_from
    if filters.occurred_to is not None:
        conditions.append("a.occurred_at < :occurred_to")
        params["occurred_to"] = filters.occurred_to
    return " AND ".join(conditions), params


async def search(uow_factory: UnitOfWorkFactory, filters: AuditFilter, scope: OfficeScope, *, limit: int,
                 before_sequence: int | None = None) -> list[AuditRow]:
    """Newest first; page with `before_sequence` = the last sequence of the previous page."""
    assert 1 <= limit <= PAGE_SIZE_MAX + 1, limit
    where, params = _where(filters, scope)
    if before_sequence is not None:
        where += " AND a.seq < :before"
        params["before"] = before_sequence
    async with uow_factory() as uow:
        rows = (await uow.session.execute(text(
            f"SELECT {_ROW_COLUMNS} FROM audit_log a WHERE {where} ORDER BY a.seq DESC LIMIT :limit"),
            {**params, "limit": limit})).all()
    return [AuditRow(**row._asdict()) for row in rows]


async def export_rows(uow_factory: UnitOfWorkFactory, filters: AuditFilter, scope: OfficeScope, *,
                      rows_max: int) -> AsyncIterator[AuditRow]:
    """Every matching row, oldest first, page by page (for CSV export)."""
    after = 0
    produced = 0
    where, params = _where(filters, scope)
    while produced < rows_max:
        page = min(VERIFY_PAGE_ROWS, rows_max - produced)
        async with uow_factory() as uow:
            rows = (await uow.session.execute(text(
                f"SELECT {_ROW_COLUMNS} FROM audit_log a WHERE {where} AND a.seq > :after ORDER BY a.seq LIMIT :limit"),
                {**params, "after": after, "limit": page})).all()
        for row in rows:
            yield AuditRow(**row._asdict())
        produced += len(rows)
        if len(rows) < page:
            return
        after = rows[-1].sequence


class ChainReport(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    rows_checked: int
    last_sequence: int | None
    last_hash: str
    first_break: ChainBreak | None


async def verify_chain(uow_factory: UnitOfWorkFactory) -> ChainReport:
    """Recompute the whole chain in sequence order; report the first row that does not match."""
    expected = GENESIS_HASH
    after = 0
    total = 0
    last_sequence: int | None = None
    while True:
        async with uow_factory() as uow:
            rows = (await uow.session.execute(text(
                "SELECT seq, occurred_at, actor, user_id, office_id, client_address, method, path, action, status, "
                "outcome, detail, previous_hash, row_hash FROM audit_log WHERE seq > :after ORDER BY seq LIMIT :n"),
                {"after": after, "n": VERIFY_PAGE_ROWS})).all()
        if not rows:
            return ChainReport(ok=True, rows_checked=total, last_sequence=last_sequence, last_hash=expected,
                               first_break=None)
        chained = [ChainedRecord(
            sequence=r.seq, previous_hash=r.previous_hash, row_hash=r.row_hash,
            record=AuditRecord(occurred_at=r.occurred_at, actor=r.actor, user_id=r.user_id, office_id=r.office_id,
                               client_address=r.client_address, method=r.method, path=r.path, action=r.action,
                               status=r.status, outcome=r.outcome, detail=r.detail)) for r in rows]
        broken, expected, checked = first_break(chained, expected_previous=expected)
        total += checked
        if broken is not None:
            return ChainReport(ok=False, rows_checked=total, last_sequence=broken.sequence, last_hash=expected,
                               first_break=broken)
        after = last_sequence = rows[-1].seq
