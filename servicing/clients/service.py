"""Client commands and queries: create, update, change status, read, list, search, history.
One unit of work per command; every change writes its history row in the same transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

import msgspec
from sqlalchemy import Select, any_, literal, or_, select
from sqlalchemy.exc import DBAPIError

from ledger.db.tables import OfficeRow
from ledger.errors import UnknownOffice
from ledger.limits import PAGE_SIZE_MAX
from servicing.clients import repository as repo
from servicing.clients.commands import (
    AddGroupMember,
    ChangeClientStatus,
    ClientFilter,
    CreateClient,
    ProfileChanges,
    RemoveGroupMember,
    SetGroupLeader,
    UpdateClient,
)
from servicing.clients.db.tables import ClientHistoryRow, ClientRow
from servicing.clients.errors import ClientRejected, DuplicateClient
from servicing.clients.model import ClientProfile, ClientStatus, ClientType
from servicing.clients.rules import (
    EDITABLE_STATUSES,
    GROUP_MEMBER_STATUSES,
    FieldProblem,
    TransitionRefused,
    check_profile,
    check_transition,
    name_key,
    national_id_key,
    phone_key,
    profile_changes,
)
from servicing.errors import Conflict, InvalidInput, NotFound, translate_database_error
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWork

ClientRecord = repo.ClientRecord
SEARCH_RESULTS_MAX: Final = 50
PHONE_SEARCH_DIGITS_MIN: Final = 6


class HistoryItem(msgspec.Struct, frozen=True, kw_only=True):
    history_id: int
    action: str
    changed_at: datetime
    changed_by: str
    before: dict[str, Any]
    after: dict[str, Any]


class ClientPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[ClientRecord]
    next_cursor: str | None


async def create_client(uow: UnitOfWork, command: CreateClient, *, scope: OfficeScope | None = None) -> ClientRecord:
    profile = command.profile
    if scope is not None:
        scope.require(profile.office_id)
    async with uow:
        session = uow.session
        await _check(uow, profile, exclude_id=None, before=None)
        duplicates = await _check_duplicates(uow, profile, None, command.allow_duplicate)
        row = ClientRow(client_type=profile.client_type.value, status=ClientStatus.PENDING.value,
                        created_by=command.actor, updated_by=command.actor)
        repo.write_profile(row, profile)
        session.add(row)
        await _flush(uow)
        await repo.replace_children(session, row.id, profile, None)
        _, after = profile_changes(None, profile)
        after["status"] = ClientStatus.PENDING.value
        if duplicates:
            after["duplicate_override"] = duplicates
        repo.add_history(session, row.id, "created", command.actor, {}, after)
        return await _commit_with_history(uow, row)


async def update_client(uow: UnitOfWork, command: UpdateClient, *, scope: OfficeScope | None = None) -> ClientRecord:
    """Change profile fields; a client moved to another office must land in `scope` too."""
    if scope is not None and command.changes.office_id is not msgspec.UNSET:
        scope.require(command.changes.office_id)
    return await _update(uow, command.client_id, lambda _profile: command.changes, actor=command.actor,
                         action="updated", allow_duplicate=command.allow_duplicate,
                         expected_version=command.expected_version, scope=scope)


async def add_group_member(uow: UnitOfWork, command: AddGroupMember, *, scope: OfficeScope | None = None) -> ClientRecord:
    """Add an individual of the group's office to a group (and make them its leader if asked)."""

    def changes(profile: ClientProfile) -> ProfileChanges:
        _require_group(profile, command.group_id)
        if command.member_id in profile.member_ids:
            raise Conflict(f"client {command.member_id} is already a member of group {command.group_id}",
                           field="member_id")
        leader = command.member_id if command.leader else profile.leader_id
        return ProfileChanges(member_ids=(*profile.member_ids, command.member_id), leader_id=leader)

    return await _update(uow, command.group_id, changes, actor=command.actor, action="member_added",
                         expected_version=command.expected_version, scope=scope)


async def remove_group_member(uow: UnitOfWork, command: RemoveGroupMember, *,
                              scope: OfficeScope | None = None) -> ClientRecord:
    """Take a member out of a group; the leader leaves only once another member leads."""

    def changes(profile: ClientProfile) -> ProfileChanges:
        _require_group(profile, command.group_id)
        if command.member_id not in profile.member_ids:
            raise NotFound(f"client {command.member_id} is not a member of group {command.group_id}", field="member_id")
        if profile.leader_id == command.member_id:
            raise Conflict(f"client {command.member_id} leads group {command.group_id}: choose another leader first",
                           field="member_id")
        return ProfileChanges(member_ids=tuple(m for m in profile.member_ids if m != command.member_id))

    return await _update(uow, command.group_id, changes, actor=command.actor, action="member_removed",
                         expected_version=command.expected_version, scope=scope)


async def set_group_leader(uow: UnitOfWork, command: SetGroupLeader, *, scope: OfficeScope | None = None) -> ClientRecord:
    def changes(profile: ClientProfile) -> ProfileChanges:
        _require_group(profile, command.group_id)
        if command.leader_id not in profile.member_ids:
            raise InvalidInput(f"client {command.leader_id} is not a member of group {command.group_id}",
                               field="leader_id")
        return ProfileChanges(leader_id=command.leader_id)

    return await _update(uow, command.group_id, changes, actor=command.actor, action="leader_changed",
                         expected_version=command.expected_version, scope=scope)


def _require_group(profile: ClientProfile, client_id: int) -> None:
    if profile.client_type is not ClientType.GROUP:
        raise InvalidInput(f"client {client_id} is a {profile.client_type}, not a group", field="client_id")


async def _update(uow: UnitOfWork, client_id: int, changes_for: Callable[[ClientProfile], ProfileChanges], *,
                  actor: str, action: str, allow_duplicate: bool = False, expected_version: int | None = None,
                  scope: OfficeScope | None) -> ClientRecord:
    """Load the client under lock, derive the changes from its current profile, check them like a
    creation, write the row and its history. A change that changes nothing writes nothing."""
    async with uow:
        session = uow.session
        row = await repo.load_row(session, client_id, for_update=True, scope=scope)
        current = await repo.load_record(session, row)
        if expected_version is not None and expected_version != row.version:
            raise Conflict(f"client {row.id} changed since version {expected_version} (now {row.version})",
                           field="expected_version")
        if current.client.status not in EDITABLE_STATUSES:
            raise TransitionRefused(f"a {current.client.status} client cannot be changed; reopen it first",
                                    field="status")
        before_profile = current.client.profile
        profile = changes_for(before_profile).apply_to(before_profile)
        before, after = profile_changes(before_profile, profile)
        if not after:
            return current
        await _check(uow, profile, exclude_id=row.id, before=before_profile)
        duplicates = await _check_duplicates(uow, profile, row.id, allow_duplicate)
        repo.write_profile(row, profile)
        row.version += 1
        row.updated_by = actor
        row.updated_at = _now()
        await repo.replace_children(session, row.id, profile, before_profile)
        if duplicates:
            after["duplicate_override"] = duplicates
        repo.add_history(session, row.id, action, actor, before, after)
        return await _commit_with_history(uow, row)


async def change_status(uow: UnitOfWork, command: ChangeClientStatus, *,
                        scope: OfficeScope | None = None) -> ClientRecord:
    async with uow:
        session = uow.session
        row = await repo.load_row(session, command.client_id, for_update=True, scope=scope)
        current = ClientStatus(row.status)
        check_transition(current, command.status, command.reason)
        effective_on = command.effective_on or repo.today()
        if effective_on > repo.today():
            raise InvalidInput("a status change cannot be dated in the future", field="effective_on")
        before: dict[str, object] = {"status": current.value, "status_reason": row.status_reason}
        row.status = command.status.value
        row.status_reason = command.reason
        if command.status is ClientStatus.ACTIVE:
            row.activated_on = effective_on
            row.closed_on = None
        elif command.status is ClientStatus.CLOSED:
            row.closed_on = effective_on
        row.version += 1
        row.updated_by = command.actor
        row.updated_at = _now()
        after: dict[str, object] = {"status": command.status.value, "status_reason": command.reason,
                                    "effective_on": effective_on.isoformat()}
        repo.add_history(session, row.id, "status_changed", command.actor, before, after)
        return await _commit_with_history(uow, row)


async def get_client(uow: UnitOfWork, client_id: int, *, scope: OfficeScope | None = None) -> ClientRecord:
    async with uow:
        return await repo.load_record(uow.session, await repo.load_row(uow.session, client_id, scope=scope))


async def list_clients(uow: UnitOfWork, filters: ClientFilter, *, limit: int, cursor: str | None) -> ClientPage:
    """Clients in creation order, `limit` at a time; `cursor` is the last id of the previous page."""
    assert 1 <= limit <= PAGE_SIZE_MAX, limit
    after_id = _parse_cursor(cursor)
    statement = _filtered(select(ClientRow), filters).where(ClientRow.id > after_id).order_by(ClientRow.id).limit(limit + 1)
    async with uow:
        rows = list((await uow.session.scalars(statement)).all())
        records = await repo.load_records(uow.session, rows[:limit])
        next_cursor = str(rows[limit - 1].id) if len(rows) > limit else None
    return ClientPage(items=records, next_cursor=next_cursor)


async def search_clients(uow: UnitOfWork, query: str, *, limit: int = SEARCH_RESULTS_MAX,
                         office_id: int | None = None) -> list[ClientRecord]:
    """Clients whose name contains every word of `query`, or whose national id / registration
    number is `query`, or whose phone number ends with its digits; of `office_id` and its
    branches when given."""
    assert 1 <= limit <= SEARCH_RESULTS_MAX, limit
    conditions = []
    tokens = name_key(query).split()
    if tokens:
        conditions.append(_name_condition(tokens))
    identity = national_id_key(query)
    if identity:
        conditions.append(ClientRow.identity_key == identity)
    digits = phone_key(query)
    if digits and len(digits) >= PHONE_SEARCH_DIGITS_MIN:
        conditions.append(ClientRow.phone_key.endswith(digits, autoescape=True))
    if not conditions:
        raise InvalidInput("the search needs letters or digits", field="q")
    statement = _filtered(select(ClientRow), ClientFilter(office_id=office_id))
    statement = statement.where(or_(*conditions)).order_by(ClientRow.id).limit(limit)
    async with uow:
        return await repo.load_records(uow.session, list((await uow.session.scalars(statement)).all()))


async def client_history(uow: UnitOfWork, client_id: int, *, limit: int, cursor: str | None,
                         scope: OfficeScope | None = None) -> tuple[list[HistoryItem], str | None]:
    assert 1 <= limit <= PAGE_SIZE_MAX, limit
    after_id = _parse_cursor(cursor, HISTORY_ID_MAX)
    async with uow:
        await repo.load_row(uow.session, client_id, scope=scope)
        rows = (await uow.session.scalars(
            select(ClientHistoryRow).where(ClientHistoryRow.client_id == client_id, ClientHistoryRow.id > after_id)
            .order_by(ClientHistoryRow.id).limit(limit + 1))).all()
        items = [HistoryItem(history_id=r.id, action=r.action, changed_at=r.changed_at, changed_by=r.changed_by,
                             before=r.before, after=r.after) for r in rows[:limit]]
        next_cursor = str(rows[limit - 1].id) if len(rows) > limit else None
    return items, next_cursor


def _filtered(statement: Select[Any], filters: ClientFilter) -> Select[Any]:
    if filters.office_id is not None:
        branches = select(OfficeRow.id).where(literal(filters.office_id) == any_(OfficeRow.lineage))
        statement = statement.where(ClientRow.office_id.in_(branches))
    if filters.status is not None:
        statement = statement.where(ClientRow.status == filters.status.value)
    if filters.client_type is not None:
        statement = statement.where(ClientRow.client_type == filters.client_type.value)
    if filters.loan_officer is not None:
        statement = statement.where(ClientRow.loan_officer == filters.loan_officer)
    if filters.region is not None:
        statement = statement.where(ClientRow.region == filters.region)
    if filters.name is not None:
        statement = statement.where(_name_condition(name_key(filters.name).split()))
    if filters.national_id is not None:
        statement = statement.where(ClientRow.identity_key == (national_id_key(filters.national_id) or ""))
    if filters.phone is not None:
        statement = statement.where(ClientRow.phone_key.endswith(phone_key(filters.phone) or "-", autoescape=True))
    return statement


def _name_condition(tokens: list[str]) -> Any:
    from sqlalchemy import and_, false

    if not tokens:
        return false()
    return and_(*(ClientRow.name_key.contains(token, autoescape=True) for token in tokens))


CLIENT_ID_MAX: Final = 2_147_483_647
HISTORY_ID_MAX: Final = 9_223_372_036_854_775_807
"""PostgreSQL integer and bigint: a cursor beyond them is not one this API gave."""


def _parse_cursor(cursor: str | None, maximum: int = CLIENT_ID_MAX) -> int:
    if cursor is None:
        return 0
    if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > 19 or int(cursor) > maximum:
        raise InvalidInput("cursor is not one this API gave", field="cursor")
    return int(cursor)


def _now() -> datetime:
    from datetime import UTC

    return datetime.now(UTC)


async def _commit_with_history(uow: UnitOfWork, row: ClientRow) -> ClientRecord:
    """Write the change and its history row, answer with the record as stored, commit once."""
    await _flush(uow)
    await uow.session.refresh(row)
    record = await repo.load_record(uow.session, row)
    await uow.commit()
    return record


async def _flush(uow: UnitOfWork) -> None:
    try:
        await uow.session.flush()
    except DBAPIError as error:
        translated = translate_database_error(error)
        if translated is not None and "client_identity_unique" in str(error):
            raise DuplicateClient("another client has this identity number", field="national_id",
                                  duplicate_ids=[], problems=[{"field": "national_id", "code": "duplicate",
                                                               "message": "another client has this identity number"}]) from error
        raise translated or error from error


async def _check(uow: UnitOfWork, profile: ClientProfile, *, exclude_id: int | None,
                 before: ClientProfile | None) -> None:
    """The pure profile rules, then those that need the database (office, group members).

    Only members joining now are checked against the membership rules: a member who was
    closed or moved since joining must not block every later change of the group."""
    problems = [msgspec.structs.asdict(p) for p in check_profile(profile, today=repo.today())]
    if problems:
        raise ClientRejected(problems)
    session = uow.session
    if await session.get(OfficeRow, profile.office_id) is None:
        raise UnknownOffice(f"unknown office {profile.office_id}", field="office_id")
    if profile.client_type is ClientType.GROUP and profile.member_ids:
        members = {r.id: r for r in (await session.scalars(
            select(ClientRow).where(ClientRow.id.in_(profile.member_ids)))).all()}
        member_problems: list[FieldProblem] = []
        already = set(before.member_ids) if before is not None and before.office_id == profile.office_id else set()
        for i, member_id in enumerate(profile.member_ids):
            field = f"member_ids[{i}]"
            member = members.get(member_id)
            if member_id in already and member is not None:
                continue
            if member is None:
                member_problems.append(FieldProblem(field=field, message=f"unknown client {member_id}"))
            elif member.client_type != ClientType.INDIVIDUAL.value or member_id == exclude_id:
                member_problems.append(FieldProblem(field=field, message=f"client {member_id} is not an individual"))
            elif ClientStatus(member.status) not in GROUP_MEMBER_STATUSES:
                member_problems.append(FieldProblem(field=field, message=f"client {member_id} is {member.status}"))
            elif member.office_id != profile.office_id:
                member_problems.append(FieldProblem(
                    field=field, message=f"client {member_id} belongs to office {member.office_id}, not the group's"))
        if member_problems:
            raise ClientRejected([msgspec.structs.asdict(p) for p in member_problems])


async def _check_duplicates(uow: UnitOfWork, profile: ClientProfile, exclude_id: int | None,
                            allow_duplicate: bool) -> list[int]:
    """Refuse an identity number already in use; refuse a name + birth date already in use unless
    the caller overrides it and the institution allows overriding. Returns the overridden ids."""
    session = uow.session
    field = "national_id" if profile.client_type is ClientType.INDIVIDUAL else "registration_number"
    same_identity = await repo.find_identity_duplicates(session, profile, exclude_id)
    if same_identity:
        problems = [{"field": field, "code": "duplicate",
                     "message": f"client {r.id} ({r.display_name}, {r.status}) has {field} {getattr(r, field)}"} for r in same_identity]
        raise DuplicateClient(f"{field} is already used by " + _names(same_identity), field=field,
                              duplicate_ids=[r.id for r in same_identity], problems=problems)
    same_person = await repo.find_name_birth_duplicates(session, profile, exclude_id)
    if not same_person:
        return []
    requirement = await repo.load_requirement(session, profile.client_type)
    overridable = requirement.duplicate_override_allowed
    if allow_duplicate and overridable:
        return [r.id for r in same_person]
    problems = [{"field": "last_name", "code": "duplicate",
                 "message": f"client {r.id} ({r.display_name}, {r.status}) has the same name and birth date {r.birth_date}"}
                for r in same_person]
    if allow_duplicate:
        raise DuplicateClient("the institution does not allow overriding a duplicate name and birth date",
                              field="allow_duplicate", duplicate_ids=[r.id for r in same_person], problems=problems)
    hint = "; send allow_duplicate=true if this is another person" if overridable else ""
    raise DuplicateClient("same name and birth date as " + _names(same_person) + hint, field="last_name",
                          duplicate_ids=[r.id for r in same_person], problems=problems, overridable=overridable)


def _names(rows: list[ClientRow]) -> str:
    return ", ".join(f"client {r.id} ({r.display_name})" for r in rows)


