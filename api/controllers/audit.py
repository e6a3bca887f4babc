"""The audit log: search (JSON pages or CSV export) and the chain check (auditors). Reading
the audit log is itself recorded (`opt["audit"]`)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Response, get
from litestar.params import Parameter
from litestar.response import Stream

from api.schemas.common import INT32_MAX
from api.schemas.problems import PROBLEM_RESPONSES
from api.schemas.staff import AuditPageOut, AuditRowOut
from ledger.limits import ACTOR_LENGTH_MAX, PAGE_SIZE_MAX
from servicing.staff import audit
from servicing.staff.sessions import Principal
from servicing.unit_of_work import UnitOfWorkFactory

CSV_ROWS_MAX = 1_000_000
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
CSV_COLUMNS = ("sequence", "occurred_at", "actor", "user_id", "office_id", "client_address", "method", "path",
               "action", "status", "outcome", "detail", "previous_hash", "row_hash")


def _row_out(row: audit.AuditRow) -> AuditRowOut:
    values = msgspec.structs.asdict(row)
    values["detail"] = msgspec.json.decode(row.detail)
    return AuditRowOut(**values)


async def _csv_lines(rows: AsyncIterator[audit.AuditRow]) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    async for row in rows:
        writer.writerow([getattr(row, c).isoformat() if c == "occurred_at" else getattr(row, c) for c in CSV_COLUMNS])
        if buffer.tell() > 65_536:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


class AuditLogController(Controller):
    path = "/api/v1/audit-log"
    tags = ["Audit log"]  # noqa: RUF012  (Litestar reads a list)

    @get("/", opt={"permission": "audit:read", "audit": True}, responses=PROBLEM_RESPONSES,
         summary="Search the audit log, newest first (JSON), or export it oldest first (?format=csv)")
    async def search(
        self,
        principal: Principal,
        uow_factory: UnitOfWorkFactory,
        actor_filter: Annotated[str | None, Parameter(query="actor", max_length=ACTOR_LENGTH_MAX, required=False,
                                                                pattern=PRINTABLE)] = None,
        user_id: Annotated[int | None, Parameter(query="user_id", ge=1, le=INT32_MAX, required=False)] = None,
        outcome: Annotated[Literal["succeeded", "refused", "rejected", "failed"] | None,
                           Parameter(query="outcome", required=False)] = None,
        action: Annotated[str | None, Parameter(query="action", max_length=100, required=False, pattern=PRINTABLE)] = None,
        method: Annotated[Literal["GET", "POST", "PUT", "PATCH", "DELETE"] | None,
                          Parameter(query="method", required=False)] = None,
        path_prefix: Annotated[str | None, Parameter(query="path_prefix", max_length=500, required=False,
                                                                pattern=PRINTABLE)] = None,
        status: Annotated[int | None, Parameter(query="status", ge=100, le=599, required=False)] = None,
        client_address: Annotated[str | None, Parameter(query="client_address", max_length=64, required=False,
                                                                   pattern=PRINTABLE)] = None,
        occurred_from: Annotated[datetime | None, Parameter(query="from", required=False)] = None,
        occurred_to: Annotated[datetime | None, Parameter(query="to", required=False)] = None,
        before_sequence: Annotated[int | None, Parameter(query="before_sequence", ge=1, le=2**62,
                                                         required=False)] = None,
        limit: Annotated[int, Parameter(query="limit", ge=1, le=PAGE_SIZE_MAX)] = 100,
        output_format: Annotated[Literal["json", "csv"], Parameter(query="format")] = "json",
    ) -> Response[Any]:
        filters = audit.AuditFilter(actor=actor_filter, user_id=user_id, outcome=outcome, action=action, method=method,
                                    path_prefix=path_prefix, status=status, client_address=client_address,
                                    occurred_from=occurred_from, occurred_to=occurred_to)
        if output_format == "csv":
            rows = audit.export_rows(uow_factory, filters, principal.scope, rows_max=CSV_ROWS_MAX)
            return Stream(_csv_lines(rows), media_type="text/csv",
                          headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'})
        found = await audit.search(uow_factory, filters, principal.scope, limit=limit + 1,
                                   before_sequence=before_sequence)
        page = found[:limit]
        next_before = page[-1].sequence if len(found) > limit and page else None
        return Response(AuditPageOut(items=[_row_out(r) for r in page], next_before_sequence=next_before))

    @get("/verify", opt={"permission": "audit:verify", "audit": True}, responses=PROBLEM_RESPONSES,
         summary="Recompute the hash chain; report the first row that does not match")
    async def verify(self, uow_factory: UnitOfWorkFactory) -> audit.ChainReport:
        return await audit.verify_chain(uow_factory)
