"""Staff users, roles and the permission catalogue (administrators)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, patch, post, put
from litestar.params import Parameter

from api.audit_hook import audit_context
from api.schemas.common import INT32_MAX
from api.schemas.problems import PROBLEM_RESPONSES
from api.schemas.staff import PermissionOut, RoleIn, RoleOut, UserIn, UserOut, UserPatch, UserResetIn
from servicing.staff import roles, users
from servicing.staff.permissions import CATALOGUE
from servicing.staff.sessions import AuthService, Principal
from servicing.unit_of_work import UnitOfWorkFactory

UserId = Annotated[int, Parameter(ge=1, le=INT32_MAX)]
RoleNamePath = Annotated[str, Parameter(max_length=50, pattern=r"^[a-z][a-z0-9_-]*$")]


def _out(user: users.StaffUser) -> UserOut:
    return UserOut(**msgspec.structs.asdict(user))


class UserController(Controller):
    path = "/api/v1/users"
    tags = ["Staff users"]  # noqa: RUF012  (Litestar reads a list)

    @get("/", opt={"permission": "users:read"}, responses=PROBLEM_RESPONSES,
         summary="Users of my office and its branches")
    async def list_users(self, principal: Principal, uow_factory: UnitOfWorkFactory) -> list[UserOut]:
        return [_out(u) for u in await users.list_users(uow_factory, principal.scope)]

    @post("/", status_code=201, opt={"permission": "users:write"}, responses=PROBLEM_RESPONSES,
          summary="Create a user with a temporary password (changed at first sign-in)")
    async def create_user(self, data: UserIn, principal: Principal, auth: AuthService,
                          uow_factory: UnitOfWorkFactory) -> UserOut:
        command = users.CreateStaffUser(username=data.username, display_name=data.display_name,
                                        office_id=data.office_id, roles=tuple(data.roles), password=data.password,
                                        actor=principal.username)
        return _out(await users.create_user(uow_factory, auth.hashing, command, principal.scope, principal.grants))

    @get("/{user_id:int}", opt={"permission": "users:read"}, responses=PROBLEM_RESPONSES, summary="Read one user")
    async def get_user(self, user_id: UserId, principal: Principal, uow_factory: UnitOfWorkFactory) -> UserOut:
        return _out(await users.get_user(uow_factory, user_id, principal.scope))

    @patch("/{user_id:int}", opt={"permission": "users:write"}, responses=PROBLEM_RESPONSES,
           summary="Change name, office or roles (the user's sessions end)")
    async def update_user(self, request: Request[Any, Any, Any], user_id: UserId, data: UserPatch,
                          principal: Principal, auth: AuthService, uow_factory: UnitOfWorkFactory) -> UserOut:
        command = users.UpdateStaffUser(user_id=user_id, actor=principal.username, display_name=data.display_name,
                                        office_id=data.office_id,
                                        roles=tuple(data.roles) if data.roles is not None else None)
        before, after = await users.update_user(uow_factory, command, principal.scope, principal.grants)
        audit_context(request.scope).before = msgspec.to_builtins(before)
        auth.forget(user_id=user_id)
        return _out(after)

    @post("/{user_id:int}/disable", status_code=200, opt={"permission": "users:write"}, responses=PROBLEM_RESPONSES,
          summary="Disable a user (their sessions end at once)")
    async def disable_user(self, request: Request[Any, Any, Any], user_id: UserId, principal: Principal,
                           auth: AuthService, uow_factory: UnitOfWorkFactory) -> UserOut:
        before, after = await users.set_status(uow_factory, user_id, active=False, actor_user_id=principal.user_id,
                                               scope=principal.scope)
        audit_context(request.scope).before = {"status": before.status}
        auth.forget(user_id=user_id)
        return _out(after)

    @post("/{user_id:int}/enable", status_code=200, opt={"permission": "users:write"}, responses=PROBLEM_RESPONSES,
          summary="Enable a user again (and lift a lockout)")
    async def enable_user(self, request: Request[Any, Any, Any], user_id: UserId, principal: Principal,
                          uow_factory: UnitOfWorkFactory) -> UserOut:
        before, after = await users.set_status(uow_factory, user_id, active=True, actor_user_id=principal.user_id,
                                               scope=principal.scope)
        audit_context(request.scope).before = {"status": before.status, "locked_until": before.locked_until}
        return _out(after)

    @post("/{user_id:int}/reset", status_code=200, opt={"permission": "users:write"}, responses=PROBLEM_RESPONSES,
          summary="Temporary password, lockout lifted, sessions ended; optionally 2FA to enrol again")
    async def reset_user(self, user_id: UserId, data: UserResetIn, principal: Principal, auth: AuthService,
                         uow_factory: UnitOfWorkFactory) -> UserOut:
        user = await users.reset_user(uow_factory, auth.hashing, user_id, temporary_password=data.temporary_password,
                                      reset_totp=data.reset_totp, scope=principal.scope)
        auth.forget(user_id=user_id)
        return _out(user)


class RoleController(Controller):
    path = "/api/v1"
    tags = ["Staff users"]  # noqa: RUF012  (Litestar reads a list)

    @get("/roles", opt={"permission": "roles:read"}, responses=PROBLEM_RESPONSES, summary="Roles and their grants")
    async def list_roles(self, uow_factory: UnitOfWorkFactory) -> list[RoleOut]:
        return [RoleOut(**msgspec.structs.asdict(r)) for r in await roles.list_roles(uow_factory)]

    @get("/roles/{name:str}", opt={"permission": "roles:read"}, responses=PROBLEM_RESPONSES, summary="Read one role")
    async def get_role(self, name: RoleNamePath, uow_factory: UnitOfWorkFactory) -> RoleOut:
        return RoleOut(**msgspec.structs.asdict(await roles.get_role(uow_factory, name)))

    @put("/roles/{name:str}", opt={"permission": "roles:write"}, responses=PROBLEM_RESPONSES,
         summary="Create or replace a role (grants: permissions, 'resource:*', '*:action' or '*')")
    async def put_role(self, request: Request[Any, Any, Any], name: RoleNamePath, data: RoleIn, actor: str,
                       auth: AuthService, uow_factory: UnitOfWorkFactory) -> RoleOut:
        before, after = await roles.put_role(uow_factory, roles.PutRole(
            name=name, label=data.label, grants=tuple(data.grants), totp_required=data.totp_required, actor=actor))
        audit_context(request.scope).before = msgspec.to_builtins(before) if before else None
        auth.forget_all()
        return RoleOut(**msgspec.structs.asdict(after))

    @get("/permissions", opt={"permission": "roles:read"}, responses=PROBLEM_RESPONSES,
         summary="Every permission a role can grant")
    async def list_permissions(self) -> list[PermissionOut]:
        return [PermissionOut(permission=p, description=d) for p, d in sorted(CATALOGUE.items())]
