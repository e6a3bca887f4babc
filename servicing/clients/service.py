"""Client commands and queries: create, update, change status, read, list, search, history.
One unit of work per command; every change writes its history row in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import msgspec
from sqlalchemy import Select, or_, select
from sqlalchemy.exc import DBAPIError

from ledger.db.tables import OfficeRow
from ledger.errors import UnknownOffice
from ledger.limits import PAGE_SIZE_MAX
from servicing.clients import repository as repo
from servicing.clients.commands import ChangeClientStatus, ClientFilter, CreateClient, UpdateClient
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
from servicing.errors import Conflict, InvalidInput, translate_database_error
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


async def create_client(uow: UnitOfWork, command: CreateClient) -> ClientRecord:
    profile = command.profile
    async with uow:
        session = uow.session
        await _check(uow, profile, exclude_id=None)
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


async def update_client(uow: UnitOfWork, command: UpdateClient) -> ClientRecord:
    async with uow:
        session = uow.session
        row = await repo.load_row(session, command.client_id, for_update=True)
        current = await repo.load_record(session, row)
        if command.expected_version is not None and command.expected_version != row.version:
            raise Conflict(f"client {row.id} changed since version {command.expected_version} (now {row.version})",
                           field="expected_version")
        if current.client.status not in EDITABLE_STATUSES:
            raise TransitionRefused(f"a {current.client.status} client cannot be changed; reopen it first",
                                    field="status")
        before_profile = current.client.profile
        profile = command.changes.apply_to(before_profile)
        before, after = profile_changes(before_profile, profile)
        if not after:
            return current
        await _check(uow, profile, exclude_id=row.id)
        duplicates = await _check_duplicates(uow, profile, row.id, command.allow_duplicate)
        repo.write_profile(row, profile)
        row.version += 1
        row.updated_by = command.actor
        row.updated_at = _now()
        await repo.replace_children(session, row.id, profile, before_profile)
        if duplicates:
            after["duplicate_override"] = duplicates
        repo.add_history(session, row.id, "updated", command.actor, before, after)
        return await _commit_with_history(uow, row)


async def change_status(uow: UnitOfWork, command: ChangeClientStatus) -> ClientRecord:
    async with uow:
        session = uow.session
        row = await repo.load_row(session, command.client_id, for_update=True)
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


async def get_client(uow: UnitOfWork, client_id: int) -> ClientRecord:
    async with uow:
        return await repo.load_record(uow.session, await repo.load_row(uow.session, client_id))


async def list_clients(uow: UnitOfWork, filters: ClientFilter, *, limit: int, cursor: str | None) -> ClientPage:
    """Clients in creation order, `limit` at a time; `cursor` is the last id of the previous page."""
    assert 1 <= limit <= PAGE_SIZE_MAX, limit
    after_id = _parse_cursor(cursor)
    statement = _filtered(select(ClientRow), filters).where(ClientRow.id > after_id).order_by(ClientRow.id).limit(limit + 1)
    async with uow:
        rows = list((await uow.session.scalars(statement)).all())
        records = [await repo.load_record(uow.session, row) for row in rows[:limit]]
        next_cursor = str(rows[limit - 1].id) if len(rows) > limit else None
    return ClientPage(items=records, next_cursor=next_cursor)


async def search_clients(uow: UnitOfWork, query: str, *, limit: int = SEARCH_RESULTS_MAX) -> list[ClientRecord]:
    """Clients whose name contains every word of `query`, or whose national id / registration
    number is `query`, or whose phone number ends with its digits."""
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
    statement = select(ClientRow).where(or_(*conditions)).order_by(ClientRow.id).limit(limit)
    async with uow:
        rows = (await uow.session.scalars(statement)).all()
        return [await repo.load_record(uow.session, row) for row in rows]


async def client_history(uow: UnitOfWork, client_id: int, *, limit: int, cursor: str | None) -> tuple[list[HistoryItem], str | None]:
    assert 1 <= limit <= PAGE_SIZE_MAX, limit
    after_id = _parse_cursor(cursor)
    async with uow:
        await repo.load_row(uow.session, client_id)
        rows = (await uow.session.scalars(
            select(ClientHistoryRow).where(ClientHistoryRow.client_id == client_id, ClientHistoryRow.id > after_id)
            .order_by(ClientHistoryRow.id).limit(limit + 1))).all()
        items = [HistoryItem(history_id=r.id, action=r.action, changed_at=r.changed_at, changed_by=r.changed_by,
                             before=r.before, after=r.after) for r in rows[:limit]]
        next_cursor = str(rows[limit - 1].id) if len(rows) > limit else None
    return items, next_cursor


def _filtered(statement: Select[tuple[ClientRow]], filters: ClientFilter) -> Select[tuple[ClientRow]]:
    if filters.office_id is not None:
        branches = select(OfficeRow.id).where(OfficeRow.lineage.any(filters.office_id))
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


def _parse_cursor(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit() or len(cursor) > 10:
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


async def _check(uow: UnitOfWork, profile: ClientProfile, *, exclude_id: int | None) -> None:
    """The pure profile rules, then those that need the database (office, group members)."""
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
        for i, member_id in enumerate(profile.member_ids):
            field = f"member_ids[{i}]"
            member = members.get(member_id)
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
                     "message": f"client {r.id} ({r.display_name}) has {field} {getattr(r, field)}"} for r in same_identity]
        raise DuplicateClient(f"{field} is already used by " + _names(same_identity), field=field,
                              duplicate_ids=[r.id for r in same_identity], problems=problems)
    same_person = await repo.find_name_birth_duplicates(session, profile, exclude_id)
    if not same_person:
        return []
    requirement = await repo.load_requirement(session, profile.client_type)
    if allow_duplicate and requirement.duplicate_override_allowed:
        return [r.id for r in same_person]
    problems = [{"field": "last_name", "code": "duplicate",
                 "message": f"client {r.id} ({r.display_name}) has the same name and birth date {r.birth_date}"}
                for r in same_person]
    if allow_duplicate:
        raise DuplicateClient("the institution does not allow overriding a duplicate name and birth date",
                              field="allow_duplicate", duplicate_ids=[r.id for r in same_person], problems=problems)
    raise DuplicateClient(
        "same name and birth date as " + _names(same_person) + "; send allow_duplicate=true if this is another person",
        field="last_name", duplicate_ids=[r.id for r in same_person], problems=problems)


def _names(rows: list[ClientRow]) -> str:
    return ", ".join(f"client {r.id} ({r.display_name})" for r in rows)


