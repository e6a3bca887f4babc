"""Offices: the head office and its branches. Users see their office and its branches only."""

from __future__ import annotations

from litestar import Controller, get, post

from api.schemas.common import INT32_MAX
from api.schemas.problems import PROBLEM_RESPONSES
from api.schemas.reference_data import OfficeIn, OfficeOut
from servicing import offices
from servicing.commands import CreateOffice
from servicing.errors import NotFound
from servicing.staff.scope import OfficeScope
from servicing.staff.sessions import AuthService
from servicing.unit_of_work import UnitOfWorkFactory


class OfficeController(Controller):
    path = "/api/v1/offices"
    tags = ["Offices"]  # noqa: RUF012  (Litestar reads a list)

    @post(responses=PROBLEM_RESPONSES, opt={"permission": "offices:write"}, path="/", status_code=201, summary="Create the head office or a branch")
    async def create_office(
        self, data: OfficeIn, uow_factory: UnitOfWorkFactory, actor: str, office_scope: OfficeScope, auth: AuthService
    ) -> OfficeOut:
        if data.parent_id is not None:
            office_scope.require(data.parent_id, field="parent_id")
        command = CreateOffice(code=data.code, name=data.name, opened_on=data.opened_on, actor=actor,
                               parent_id=data.parent_id, region=data.region)
        office = await offices.create_office(uow_factory(), command)
        auth.forget_all()  # cached office scopes do not hold the new branch yet
        return OfficeOut.from_office(office)

    @get(responses=PROBLEM_RESPONSES, opt={"permission": "offices:read"}, path="/", summary="List my office and its branches")
    async def list_offices(self, uow_factory: UnitOfWorkFactory, office_scope: OfficeScope) -> list[OfficeOut]:
        return [OfficeOut.from_office(o) for o in await offices.list_offices(uow_factory())
                if office_scope.includes(o.office_id)]

    @get(responses=PROBLEM_RESPONSES, opt={"permission": "offices:read"}, path="/{office_id:int}", summary="Read one office")
    async def get_office(self, office_id: int, uow_factory: UnitOfWorkFactory, office_scope: OfficeScope) -> OfficeOut:
        if not 1 <= office_id <= INT32_MAX or not office_scope.includes(office_id):
            raise NotFound(f"unknown office {office_id}", field="office_id")
        return OfficeOut.from_office(await offices.get_office(uow_factory(), office_id))
