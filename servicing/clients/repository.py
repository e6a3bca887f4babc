"""Reading and writing client rows: row <-> profile mapping, history rows, duplicate
look-ups and the KYC requirements. Never commits; the service functions do."""

from __future__ import annotations

from datetime import date
from typing import Any

import msgspec
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from servicing.clients.db.tables import (
    ClientGroupMemberRow,
    ClientHistoryRow,
    ClientRepresentativeRow,
    ClientRow,
    KycRequirementRow,
)
from servicing.clients.kyc_rules import DEFAULT_REQUIREMENTS, DocumentType, KycRequirement
from servicing.clients.model import Client, ClientProfile, ClientStatus, ClientType, Gender, Representative
from servicing.clients.rules import identity_key, phone_key, profile_name_key
from servicing.errors import NotFound
from servicing.staff.scope import OfficeScope

_ROW_FIELDS = (
    "office_id", "loan_officer", "region", "phone", "email", "address", "city", "first_name", "middle_name",
    "last_name", "birth_date", "national_id", "occupation", "income_monthly", "income_currency", "legal_name",
    "trade_name", "registration_number", "tax_number", "sector", "founded_on", "group_name", "leader_id",
)


class ClientRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A client as stored, with who created and last changed it."""

    client: Client
    created_at: Any
    created_by: str
    updated_at: Any
    updated_by: str


async def load_row(session: AsyncSession, client_id: int, *, for_update: bool = False,
                   scope: OfficeScope | None = None) -> ClientRow:
    """The client's row; a client outside `scope` (the user's office and its branches) is
    reported as unknown, so that other branches' clients are not even confirmed to exist."""
    statement = select(ClientRow).where(ClientRow.id == client_id)
    if for_update:
        statement = statement.with_for_update()
    row = (await session.scalars(statement)).one_or_none()
    if row is None or (scope is not None and not scope.includes(row.office_id)):
        raise NotFound(f"unknown client {client_id}", field="client_id")
    return row


async def load_record(session: AsyncSession, row: ClientRow) -> ClientRecord:
    representatives = (await session.scalars(
        select(ClientRepresentativeRow).where(ClientRepresentativeRow.client_id == row.id)
        .order_by(ClientRepresentativeRow.position))).all()
    members = (await session.scalars(
        select(ClientGroupMemberRow.member_id).where(ClientGroupMemberRow.group_id == row.id)
        .order_by(ClientGroupMemberRow.member_id))).all()
    return to_record(row, tuple(
        Representative(full_name=r.full_name, role=r.role, national_id=r.national_id, phone=r.phone)
        for r in representatives), tuple(members))


async def load_records(session: AsyncSession, rows: list[ClientRow]) -> list[ClientRecord]:
    """Records of many clients in three queries, whatever their number (a page of a listing)."""
    ids = [row.id for row in rows]
    if not ids:
        return []
    representatives: dict[int, list[Representative]] = {}
    for r in (await session.scalars(
            select(ClientRepresentativeRow).where(ClientRepresentativeRow.client_id.in_(ids))
            .order_by(ClientRepresentativeRow.client_id, ClientRepresentativeRow.position))).all():
        representatives.setdefault(r.client_id, []).append(
            Representative(full_name=r.full_name, role=r.role, national_id=r.national_id, phone=r.phone))
    members: dict[int, list[int]] = {}
    for group_id, member_id in (await session.execute(
            select(ClientGroupMemberRow.group_id, ClientGroupMemberRow.member_id)
            .where(ClientGroupMemberRow.group_id.in_(ids))
            .order_by(ClientGroupMemberRow.group_id, ClientGroupMemberRow.member_id))).all():
        members.setdefault(group_id, []).append(member_id)
    return [to_record(row, tuple(representatives.get(row.id, ())), tuple(members.get(row.id, ()))) for row in rows]


def to_record(row: ClientRow, representatives: tuple[Representative, ...], member_ids: tuple[int, ...]) -> ClientRecord:
    values = {field: getattr(row, field) for field in _ROW_FIELDS}
    profile = ClientProfile(
        client_type=ClientType(row.client_type), gender=Gender(row.gender) if row.gender else None,
        representatives=representatives, member_ids=member_ids, **values,
    )
    client = Client(
        client_id=row.id, status=ClientStatus(row.status), profile=profile, version=row.version,
        activated_on=row.activated_on, closed_on=row.closed_on, status_reason=row.status_reason,
    )
    return ClientRecord(client=client, created_at=row.created_at, created_by=row.created_by,
                        updated_at=row.updated_at, updated_by=row.updated_by)


def write_profile(row: ClientRow, profile: ClientProfile) -> None:
    """Copy a profile onto its row, with the derived search and duplicate keys."""
    for field in _ROW_FIELDS:
        setattr(row, field, getattr(profile, field))
    row.gender = profile.gender.value if profile.gender else None
    row.display_name = profile.display_name[:320]
    row.name_key = profile_name_key(profile)[:400]
    row.identity_key = identity_key(profile)
    row.phone_key = (phone_key(profile.phone) or "")[:20] or None


async def replace_children(session: AsyncSession, client_id: int, profile: ClientProfile,
                           before: ClientProfile | None) -> None:
    if before is None or before.representatives != profile.representatives:
        await session.execute(delete(ClientRepresentativeRow).where(ClientRepresentativeRow.client_id == client_id))
        session.add_all(ClientRepresentativeRow(
            client_id=client_id, position=i, full_name=r.full_name, role=r.role, national_id=r.national_id,
            phone=r.phone) for i, r in enumerate(profile.representatives))
    if before is None or set(before.member_ids) != set(profile.member_ids):
        await session.execute(delete(ClientGroupMemberRow).where(ClientGroupMemberRow.group_id == client_id))
        session.add_all(ClientGroupMemberRow(group_id=client_id, member_id=m) for m in profile.member_ids)


def add_history(session: AsyncSession, client_id: int, action: str, actor: str,
                before: dict[str, object], after: dict[str, object]) -> None:
    session.add(ClientHistoryRow(client_id=client_id, action=action, changed_by=actor, before=before, after=after))


async def find_identity_duplicates(session: AsyncSession, profile: ClientProfile, exclude_id: int | None) -> list[ClientRow]:
    key = identity_key(profile)
    if key is None:
        return []
    statement = select(ClientRow).where(ClientRow.client_type == profile.client_type.value, ClientRow.identity_key == key)
    if exclude_id is not None:
        statement = statement.where(ClientRow.id != exclude_id)
    return list((await session.scalars(statement.order_by(ClientRow.id).limit(5))).all())


async def find_name_birth_duplicates(session: AsyncSession, profile: ClientProfile, exclude_id: int | None) -> list[ClientRow]:
    """Individuals with the same normalised name and birth date. Takes a transaction lock on
    that (name, birth date) first, so two concurrent creations of the same person serialise."""
    if profile.client_type is not ClientType.INDIVIDUAL or profile.birth_date is None:
        return []
    key = profile_name_key(profile)
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 7))"),
                          {"k": f"client-name:{key}:{profile.birth_date.isoformat()}"})
    statement = select(ClientRow).where(
        ClientRow.client_type == ClientType.INDIVIDUAL.value, ClientRow.name_key == key,
        ClientRow.birth_date == profile.birth_date)
    if exclude_id is not None:
        statement = statement.where(ClientRow.id != exclude_id)
    return list((await session.scalars(statement.order_by(ClientRow.id).limit(5))).all())


async def load_requirement(session: AsyncSession, client_type: ClientType) -> KycRequirement:
    row = await session.get(KycRequirementRow, client_type.value)
    if row is None:
        return DEFAULT_REQUIREMENTS[client_type]
    return KycRequirement(
        client_type=client_type, required_fields=tuple(row.required_fields),
        required_documents=tuple(tuple(DocumentType(t) for t in group) for group in row.required_documents),
        duplicate_override_allowed=row.duplicate_override_allowed,
    )


def today() -> date:
    """The service layer's clock (the pure rules take dates as arguments)."""
    return date.today()
