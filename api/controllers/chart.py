"""GL accounts: CRUD, shipped templates, CSV import and export."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.params import Parameter

from api.schemas.problems import PROBLEM_RESPONSES
from api.schemas.reference_data import (
    ChartLoadOut,
    ChartTemplateOut,
    GLAccountIn,
    GLAccountOut,
    GLAccountPatch,
)
from chart_of_accounts import TEMPLATES, load_template
from chart_of_accounts.csv_io import CSV_BYTES_MAX
from servicing import chart
from servicing.commands import CreateGLAccounts, DeleteGLAccount, UpdateGLAccount
from servicing.errors import InvalidInput
from servicing.unit_of_work import UnitOfWorkFactory

CodePath = Annotated[str, Parameter(max_length=30, pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]*$")]


class GLAccountController(Controller):
    path = "/api/v1/gl-accounts"
    tags = ["Chart of accounts"]  # noqa: RUF012  (Litestar reads a list)

    @get(responses=PROBLEM_RESPONSES, opt={"permission": "chart:read"}, path="/", summary="List the chart of accounts")
    async def list_accounts(self, uow_factory: UnitOfWorkFactory) -> list[GLAccountOut]:
        return [GLAccountOut.from_stored(i, a) for i, a in await chart.list_accounts(uow_factory())]

    @post(responses=PROBLEM_RESPONSES, opt={"permission": "chart:write"}, path="/", status_code=201, summary="Create a GL account")
    async def create_account(self, data: GLAccountIn, uow_factory: UnitOfWorkFactory, actor: str) -> GLAccountOut:
        command = CreateGLAccounts(accounts=(data.to_account(),), actor=actor)
        ((account_id, account),) = await chart.create_accounts(uow_factory(), command)
        return GLAccountOut.from_stored(account_id, account)

    @get(responses=PROBLEM_RESPONSES, opt={"permission": "chart:read"}, path="/templates", summary="Charts shipped with Grand Livre")
    async def list_templates(self) -> list[ChartTemplateOut]:
        return [ChartTemplateOut(name=name, label=label, account_count=len(load_template(name)))
                for name, (_file, label) in TEMPLATES.items()]

    @post(responses=PROBLEM_RESPONSES, opt={"permission": "chart:write"}, path="/templates/{name:str}", status_code=201, summary="Load a shipped chart (accounts already present are kept)")
    async def load_chart_template(
        self, name: Annotated[str, Parameter(max_length=50)], uow_factory: UnitOfWorkFactory, actor: str
    ) -> ChartLoadOut:
        stored = await chart.load_chart_template(uow_factory(), name, actor)
        return ChartLoadOut(created=len(stored), accounts=[GLAccountOut.from_stored(i, a) for i, a in stored])

    @get(responses=PROBLEM_RESPONSES, opt={"permission": "chart:read"}, path="/export", summary="The chart as CSV", media_type="text/csv")
    async def export_csv(self, uow_factory: UnitOfWorkFactory) -> Response[str]:
        text = await chart.export_chart_csv(uow_factory())
        return Response(content=text, media_type="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="chart-of-accounts.csv"'})

    @post(responses=PROBLEM_RESPONSES, opt={"permission": "chart:write"}, path="/import", status_code=201, summary="Add the accounts of a CSV file (all or none)",
          description="Body: text/csv with the export's columns (code,name,type,usage,parent_code,currency,"
                      "manual_entries_allowed,active,tags,description).")
    async def import_csv(
        self, request: Request[Any, Any, Any], uow_factory: UnitOfWorkFactory, actor: str
    ) -> ChartLoadOut:
        data = await request.body()
        if len(data) > CSV_BYTES_MAX:
            raise InvalidInput(f"a chart file is limited to {CSV_BYTES_MAX} bytes", field="body")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidInput("the file must be UTF-8 text", field="body") from error
        stored = await chart.import_chart_csv(uow_factory(), text, actor)
        return ChartLoadOut(created=len(stored), accounts=[GLAccountOut.from_stored(i, a) for i, a in stored])

    @get(responses=PROBLEM_RESPONSES, opt={"permission": "chart:read"}, path="/{code:str}", summary="Read one GL account")
    async def get_account(self, code: CodePath, uow_factory: UnitOfWorkFactory) -> GLAccountOut:
        account_id, account = await chart.get_account(uow_factory(), code)
        return GLAccountOut.from_stored(account_id, account)

    @patch(responses=PROBLEM_RESPONSES, opt={"permission": "chart:write"}, path="/{code:str}", summary="Change a GL account (type and usage are fixed once it has postings)")
    async def update_account(
        self, code: CodePath, data: GLAccountPatch, uow_factory: UnitOfWorkFactory, actor: str
    ) -> GLAccountOut:
        command = UpdateGLAccount(code=code, changes=data.to_changes(), actor=actor)
        account_id, account = await chart.update_account(uow_factory(), command)
        return GLAccountOut.from_stored(account_id, account)

    @delete(responses=PROBLEM_RESPONSES, opt={"permission": "chart:write"}, path="/{code:str}", status_code=204, summary="Delete an account that never had postings")
    async def delete_account(self, code: CodePath, uow_factory: UnitOfWorkFactory, actor: str) -> None:
        await chart.delete_account(uow_factory(), DeleteGLAccount(code=code, actor=actor))
