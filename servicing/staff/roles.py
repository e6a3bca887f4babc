"""Roles: configurable sets of grants, and whether they require two-factor authentication."""

from __future__ import annotations

from datetime import datetime

import msgspec
from sqlalchemy import text

from servicing.errors import InvalidInput, NotFound
from servicing.staff.permissions import is_valid_grant, needs_totp_by_default
from servicing.unit_of_work import UnitOfWorkFactory


class Role(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    label: str
    grants: list[str]
    totp_required: bool
    builtin: bool
    updated_at: datetime
    updated_by: str


class PutRole(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    label: str
    grants: tuple[str, ...]
    actor: str
    totp_required: bool | None = None
    """None: on when the role can do more than read (the default policy)."""


_COLUMNS = "name, label, grants, totp_required, builtin, updated_at, updated_by"


def _role(row: object) -> Role:
    return Role(**{field: getattr(row, field) for field in Role.__struct_fields__})


async def list_roles(uow_factory: UnitOfWorkFactory) -> list[Role]:
    async with uow_factory() as uow:
        rows = (await uow.session.execute(text(f"SELECT {_COLUMNS} FROM staff_role ORDER BY name"))).all()
    return [_role(row) for row in rows]


async def get_role(uow_factory: UnitOfWorkFactory, name: str) -> Role:
    async with uow_factory() as uow:
        row = (await uow.session.execute(text(f"SELECT {_COLUMNS} FROM staff_role WHERE name = :n"),
                                         {"n": name})).one_or_none()
    if row is None:
        raise NotFound(f"unknown role {name!r}", field="name")
    return _role(row)


async def put_role(uow_factory: UnitOfWorkFactory, command: PutRole) -> tuple[Role | None, Role]:
    """Create or replace a role; (before, after). Users keep the role; their next token check sees the change."""
    bad = [grant for grant in command.grants if not is_valid_grant(grant)]
    if bad:
        raise InvalidInput(f"unknown permissions: {', '.join(bad)}", field="grants")
    totp_required = command.totp_required if command.totp_required is not None else needs_totp_by_default(command.grants)
    async with uow_factory() as uow:
        session = uow.session
        before_row = (await session.execute(text(f"SELECT {_COLUMNS} FROM staff_role WHERE name = :n FOR UPDATE"),
                                            {"n": command.name})).one_or_none()
        params = {"n": command.name, "label": command.label, "grants": list(dict.fromkeys(command.grants)),
                  "totp": totp_required, "actor": command.actor}
        if before_row is None:
            await session.execute(text("INSERT INTO staff_role (name, label, grants, totp_required, updated_by) "
                                       "VALUES (:n, :label, :grants, :totp, :actor)"), params)
        else:
            await session.execute(text("UPDATE staff_role SET label = :label, grants = :grants, totp_required = :totp, "
                                       "updated_at = now(), updated_by = :actor WHERE name = :n"), params)
        after = _role((await session.execute(text(f"SELECT {_COLUMNS} FROM staff_role WHERE name = :n"),
                                             {"n": command.name})).one())
        await uow.commit()
    return (_role(before_row) if before_row is not None else None), after
