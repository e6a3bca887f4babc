"""The audit log: appending (grouped, chained), searching, verifying.

Requests are recorded by one writer task per process: records waiting in the queue are
chained from the head the writer knows and appended in one INSERT; the UNIQUE previous
hash makes writers of several processes take turns (see `append_records`).

A request's answer completes only once its record is committed, so an answered command is
always in the log even if the server process dies. The writer's statements commit with
`synchronous_commit = off`: PostgreSQL acknowledges before flushing the WAL, so the audit
adds no disk flush to a request's latency; the price is that a crash of PostgreSQL itself
(not of Grand Livre) can lose the records of the last fraction of a second (at most three
times `wal_writer_delay`), which the hash chain does not hide: they are simply absent."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Final

import msgspec
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

from ledger.limits import PAGE_SIZE_MAX
from servicing.errors import ServiceUnavailable, sqlstate_of
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

APPEND_RETRIES_MAX: Final = 20
GROUP_RECORDS_MAX: Final = 1_000
QUEUE_RECORDS_MAX: Final = 50_000
VERIFY_PAGE_ROWS: Final = 5_000
DETAIL_LENGTH_MAX: Final = 32_000


_HEAD = text("SELECT row_hash FROM audit_log ORDER BY seq DESC LIMIT 1")
_COLUMNS: Final = ("occurred_at", "actor", "user_id", "office_id", "client_address", "method", "path", "action",
                   "status", "outcome", "detail")
_TYPES: Final = ("timestamptz", "text", "int", "int", "text", "text", "text", "text", "smallint", "text", "text")
_INSERT = text(
    "INSERT INTO audit_log ({names}, previous_hash, row_hash) "
    "SELECT {names}, previous_hash, row_hash FROM unnest({arrays}, CAST(:previous_hash AS text[]), "
    "CAST(:row_hash AS text[])) WITH ORDINALITY AS t({names}, previous_hash, row_hash, n) ORDER BY n RETURNING seq"
    .format(names=", ".join(_COLUMNS),
            arrays=", ".join(f"CAST(:{c} AS {t}[])" for c, t in zip(_COLUMNS, _TYPES, strict=True)))
)


class ChainMoved(Exception):
    """Another writer appended first: the head this writer knew is already someone's previous hash."""


async def chain_head(session: AsyncSession | AsyncConnection) -> str:
    head = await session.scalar(_HEAD)
    return str(head) if head is not None else GENESIS_HASH


async def append_records(session: AsyncSession | AsyncConnection, records: Sequence[AuditRecord], *, head: str | None = None) -> str:
    """Chain records after `head` (read when not given) and insert them in one statement, in
    the caller's transaction; returns the new head.

    No lock: `previous_hash` is UNIQUE, so of two writers chaining from the same head only
    one can commit; the other gets ChainMoved (after the first commits) and chains again
    from the new head. Every hash but the head's is someone's previous hash, so the chain
    can never fork, whatever the number of server processes."""
    assert records
    previous = head if head is not None else await chain_head(session)
    links = chain(previous, records)
    params: dict[str, object] = {c: [getattr(r, c) for r in records] for c in _COLUMNS}
    params["previous_hash"] = [link[0] for link in links]
    params["row_hash"] = [link[1] for link in links]
    try:
        await session.execute(_INSERT, params)
    except DBAPIError as error:
        if sqlstate_of(error) == "23505" and "previous_hash" in str(error):
            raise ChainMoved() from error
        raise
    return links[-1][1]


class _Pending:
    __slots__ = ("future", "record")

    def __init__(self, record: AuditRecord, future: asyncio.Future[None]) -> None:
        self.record = record
        self.future = future


class AuditWriter:
    """Appends records through a group commit; `record` returns once the record is committed.

    It has its own two connections, in autocommit with `synchronous_commit = off`: each
    group is one INSERT, one round trip, and no disk flush on the request's path."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = create_async_engine(
            engine.url, pool_size=2, max_overflow=0, isolation_level="AUTOCOMMIT",
            connect_args={"server_settings": {"application_name": "grandlivre-audit", "synchronous_commit": "off"}})
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._head: str | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop())

    async def aclose(self) -> None:
        """Stop after writing what is queued (a clean shutdown loses no record)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        remaining = []
        while not self._queue.empty():
            remaining.append(self._queue.get_nowait())
        for start in range(0, len(remaining), GROUP_RECORDS_MAX):
            group = remaining[start:start + GROUP_RECORDS_MAX]
            try:
                await self._append(group)
            except Exception:
                _log.exception("audit writer: %d records could not be written at shutdown", len(group))
        await self._engine.dispose()

    async def record(self, record: AuditRecord) -> None:
        """Queue a record and return once it is committed. (Measured: not waiting was no
        faster; waiting paces requests to what the database absorbs.)"""
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
                await self._append(group)
            except Exception as error:  # the writer must survive anything a group throws
                _log.exception("audit writer failed a group of %d records", len(group))
                for pending in group:
                    if not pending.future.done():
                        pending.future.set_exception(error)
                continue
            for pending in group:
                if not pending.future.done():
                    pending.future.set_result(None)


    async def _append(self, group: list[_Pending]) -> None:
        for _attempt in range(APPEND_RETRIES_MAX):
            try:
                async with self._engine.connect() as connection:
                    self._head = await append_records(connection, [p.record for p in group], head=self._head)
                return
            except ChainMoved:
                self._head = None  # another process appended: read the head again
        raise ServiceUnavailable("the audit log kept moving under concurrent writers; send the request again")


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
