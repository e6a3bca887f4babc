"""KYC completeness and requirements: the service side of `kyc_rules`. Other services (loans)
call `require_kyc_complete` inside their own unit of work before lending."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from servicing.clients import repository as repo
from servicing.clients.commands import SetKycRequirement
from servicing.clients.db.tables import KycRequirementRow
from servicing.clients.documents import documents_of
from servicing.clients.errors import ClientRejected, KycIncomplete
from servicing.clients.kyc_rules import KycReport, KycRequirement, check_requirement, kyc_gaps
from servicing.clients.model import ClientType
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWork


async def kyc_report(uow: UnitOfWork, client_id: int, *, on: date | None = None,
                     scope: OfficeScope | None = None) -> KycReport:
    async with uow:
        await repo.load_row(uow.session, client_id, scope=scope)
        return await _report(uow, client_id, on or repo.today())


async def require_kyc_complete(uow: UnitOfWork, client_id: int, *, on: date) -> KycReport:
    """Inside an open unit of work: the report, or KycIncomplete listing every gap."""
    report = await _report(uow, client_id, on)
    if not report.complete:
        problems = [{"field": field, "code": "missing", "message": "is required for KYC"}
                    for field in report.missing_fields]
        problems += [{"field": "documents", "code": "missing",
                      "message": "needs a verified, unexpired " + " or ".join(alternatives)}
                     for alternatives in report.missing_documents]
        raise KycIncomplete(f"client {client_id}'s KYC is incomplete: {problems[0]['field']} {problems[0]['message']}",
                            problems)
    return report


async def _report(uow: UnitOfWork, client_id: int, on: date) -> KycReport:
    record = await repo.load_record(uow.session, await repo.load_row(uow.session, client_id))
    profile = record.client.profile
    requirement = await repo.load_requirement(uow.session, profile.client_type)
    documents = await documents_of(uow, client_id)
    return kyc_gaps(profile, [d.facts() for d in documents], requirement, on=on)


async def list_requirements(uow: UnitOfWork) -> list[KycRequirement]:
    async with uow:
        return [await repo.load_requirement(uow.session, client_type) for client_type in ClientType]


async def set_requirement(uow: UnitOfWork, command: SetKycRequirement) -> KycRequirement:
    requirement = command.requirement
    problems = check_requirement(requirement)
    if problems:
        raise ClientRejected([{"field": field, "message": message} for field, message in problems])
    async with uow:
        session: AsyncSession = uow.session
        row = await session.get(KycRequirementRow, requirement.client_type.value, with_for_update=True)
        assert row is not None, "revision 0007 seeds one row per client type"
        row.required_fields = list(requirement.required_fields)
        row.required_documents = [[str(t) for t in group] for group in requirement.required_documents]
        row.duplicate_override_allowed = requirement.duplicate_override_allowed
        row.updated_by = command.actor
        row.updated_at = datetime.now(UTC)
        await session.flush()
        stored = await repo.load_requirement(session, requirement.client_type)
        await uow.commit()
    return stored
