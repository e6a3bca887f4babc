"""Clients (individuals, businesses, groups), their status, group membership, history, KYC
completeness and identity documents. Staff see and act on the clients of their office and
its branches only: another branch's client answers 404, as if it did not exist."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Annotated
from urllib.parse import quote

from litestar import Controller, Response, delete, get, patch, post, put
from litestar.datastructures import State, UploadFile
from litestar.di import Provide
from litestar.enums import RequestEncodingType
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Body, Parameter

from api.schemas.clients import (
    ClientIn,
    ClientOut,
    ClientPageOut,
    ClientPatch,
    DocumentIn,
    DocumentOut,
    FileOut,
    HistoryItemOut,
    HistoryPageOut,
    KycOut,
    KycRequirementIn,
    KycRequirementOut,
    LeaderIn,
    MemberIn,
    RejectionIn,
    StatusChangeIn,
    VerificationIn,
)
from api.schemas.common import DATE_MAX, DATE_MIN, INT32_MAX
from api.schemas.problems import PROBLEM_JSON, PROBLEM_RESPONSES, ProblemOut
from ledger.limits import PAGE_SIZE_MAX
from servicing.clients import documents, kyc, service
from servicing.clients.commands import (
    AddGroupMember,
    AttachFile,
    ChangeClientStatus,
    ClientFilter,
    CreateClient,
    RecordDocument,
    RemoveGroupMember,
    SetGroupLeader,
    SetKycRequirement,
    UpdateClient,
    VerifyDocument,
)
from servicing.clients.kyc_rules import VerificationStatus
from servicing.clients.model import ClientStatus, ClientType
from servicing.errors import InvalidInput
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWorkFactory

ClientId = Annotated[int, Parameter(ge=1, le=INT32_MAX)]
DocumentId = Annotated[int, Parameter(ge=1, le=INT32_MAX)]
FileId = Annotated[int, Parameter(ge=1, le=INT32_MAX)]
MemberId = Annotated[int, Parameter(ge=1, le=INT32_MAX)]
FILE_NAME_LENGTH_MAX = 200
_UNSAFE_IN_FILE_NAME = re.compile(r'[\x00-\x1f\x7f"\\/]')

UPLOAD_RESPONSES = {**PROBLEM_RESPONSES, 415: ResponseSpec(
    data_container=ProblemOut, media_type=PROBLEM_JSON, generate_examples=False,
    description="The file is not of an accepted type (recognised by its bytes), or is declared as another type")}
READ = {"permission": "clients:read"}
WRITE = {"permission": "clients:write"}
VERIFY = {"permission": "kyc:verify"}


def provide_document_config(state: State) -> documents.DocumentConfig:
    config: documents.DocumentConfig = state.client_documents
    return config


@dataclass
class FileUpload:
    """multipart/form-data with one part named `file` (curl -F file=@cni.jpg)."""

    file: UploadFile


def _check_on(value: date | None, field: str) -> None:
    if value is not None and not DATE_MIN <= value <= DATE_MAX:
        raise InvalidInput(f"{field} must be between {DATE_MIN} and {DATE_MAX}", field=field)


def _safe_file_name(name: str | None) -> str:
    """The file's own name without any folder, quotes or control characters, for download headers."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE_IN_FILE_NAME.sub("_", base).strip()[:FILE_NAME_LENGTH_MAX]
    return cleaned or "document"


def _attachment(file_name: str) -> str:
    """Content-Disposition for any name: an ASCII fallback, and the UTF-8 name (RFC 6266)."""
    name = _safe_file_name(file_name)
    fallback = name.encode("ascii", "replace").decode("ascii").replace("?", "_")
    if fallback == name:
        return f'attachment; filename="{name}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


class ClientController(Controller):
    path = "/api/v1/clients"
    tags = ["Clients"]  # noqa: RUF012  (Litestar reads a list)
    dependencies = {"document_config": Provide(provide_document_config, sync_to_thread=False)}  # noqa: RUF012

    @post("/", status_code=201, opt=WRITE, responses=PROBLEM_RESPONSES,
          summary="Open a client file (individual, business or group), pending until activated; "
                  "a suspected duplicate answers 409 listing it, unless allow_duplicate is sent")
    async def create_client(self, data: ClientIn, actor: str, office_scope: OfficeScope,
                            uow_factory: UnitOfWorkFactory) -> ClientOut:
        command = CreateClient(profile=data.to_profile(), actor=actor, allow_duplicate=data.allow_duplicate)
        return ClientOut.from_record(await service.create_client(uow_factory(), command, scope=office_scope))

    @get("/", opt=READ, responses=PROBLEM_RESPONSES,
         summary="List clients of my office and its branches (or of one office in my scope), oldest first")
    async def list_clients(
        self, office_scope: OfficeScope, uow_factory: UnitOfWorkFactory,
        office_id: Annotated[int | None, Parameter(query="office_id", ge=1, le=INT32_MAX, required=False,
                                                   description="That office and its branches")] = None,
        status: Annotated[ClientStatus | None, Parameter(query="status", required=False)] = None,
        kind: Annotated[ClientType | None, Parameter(query="kind", required=False)] = None,
        name: Annotated[str | None, Parameter(query="name", min_length=1, max_length=100, required=False,
                                              pattern=r"^[^\x00-\x1f\x7f]+$",
                                              description="Every word, in any order, without accents or case")] = None,
        national_id: Annotated[str | None, Parameter(query="national_id", min_length=1, max_length=50,
                                                     required=False, pattern=r"^[^\x00-\x1f\x7f]+$",
                                                     description="National id or registration number")] = None,
        loan_officer: Annotated[str | None, Parameter(query="loan_officer", min_length=1, max_length=100,
                                                      required=False, pattern=r"^[^\x00-\x1f\x7f]+$")] = None,
        region: Annotated[str | None, Parameter(query="region", min_length=1, max_length=100, required=False,
                                                pattern=r"^[^\x00-\x1f\x7f]+$")] = None,
        phone: Annotated[str | None, Parameter(query="phone", min_length=1, max_length=30, required=False,
                                               pattern=r"^[0-9+ ().-]+$", description="Ends with these digits")] = None,
        limit: Annotated[int, Parameter(query="limit", ge=1, le=PAGE_SIZE_MAX)] = 50,
        cursor: Annotated[str | None, Parameter(query="cursor", max_length=64, required=False)] = None,
    ) -> ClientPageOut:
        filters = ClientFilter(office_id=office_scope.narrow(office_id), status=status, client_type=kind,
                               loan_officer=loan_officer, region=region, name=name, national_id=national_id,
                               phone=phone)
        page = await service.list_clients(uow_factory(), filters, limit=limit, cursor=cursor)
        return ClientPageOut(items=[ClientOut.from_record(r) for r in page.items], next_cursor=page.next_cursor)

    @get("/search", opt=READ, responses=PROBLEM_RESPONSES,
         summary="Find a client at the counter: every word of the name, an identity number, or a phone number's end")
    async def search_clients(
        self, office_scope: OfficeScope, uow_factory: UnitOfWorkFactory,
        q: Annotated[str, Parameter(query="q", min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")],
        office_id: Annotated[int | None, Parameter(query="office_id", ge=1, le=INT32_MAX, required=False)] = None,
        limit: Annotated[int, Parameter(query="limit", ge=1, le=service.SEARCH_RESULTS_MAX)] = 20,
    ) -> list[ClientOut]:
        found = await service.search_clients(uow_factory(), q, limit=limit, office_id=office_scope.narrow(office_id))
        return [ClientOut.from_record(r) for r in found]

    @get("/{client_id:int}", opt=READ, responses=PROBLEM_RESPONSES, summary="Read one client")
    async def get_client(self, client_id: ClientId, office_scope: OfficeScope,
                         uow_factory: UnitOfWorkFactory) -> ClientOut:
        return ClientOut.from_record(await service.get_client(uow_factory(), client_id, scope=office_scope))

    @patch("/{client_id:int}", opt=WRITE, responses=PROBLEM_RESPONSES,
           summary="Change a client's information (kept in its history, with before and after)")
    async def update_client(self, client_id: ClientId, data: ClientPatch, actor: str, office_scope: OfficeScope,
                            uow_factory: UnitOfWorkFactory) -> ClientOut:
        command = UpdateClient(client_id=client_id, changes=data.to_changes(), actor=actor,
                               allow_duplicate=data.allow_duplicate, expected_version=data.expected_version)
        return ClientOut.from_record(await service.update_client(uow_factory(), command, scope=office_scope))

    async def _status(self, client_id: int, status: ClientStatus, data: StatusChangeIn | None, actor: str,
                      office_scope: OfficeScope, uow_factory: UnitOfWorkFactory) -> ClientOut:
        body = data or StatusChangeIn()
        command = ChangeClientStatus(client_id=client_id, status=status, actor=actor, reason=body.reason,
                                     effective_on=body.effective_on)
        return ClientOut.from_record(await service.change_status(uow_factory(), command, scope=office_scope))

    @post("/{client_id:int}/activate", status_code=200, opt=WRITE, responses=PROBLEM_RESPONSES,
          summary="Activate a pending client")
    async def activate_client(self, client_id: ClientId, actor: str, office_scope: OfficeScope,
                              uow_factory: UnitOfWorkFactory, data: StatusChangeIn | None = None) -> ClientOut:
        return await self._status(client_id, ClientStatus.ACTIVE, data, actor, office_scope, uow_factory)

    @post("/{client_id:int}/close", status_code=200, opt=WRITE, responses=PROBLEM_RESPONSES,
          summary="Close a client (reason required); its record is then frozen until reopened")
    async def close_client(self, client_id: ClientId, actor: str, office_scope: OfficeScope,
                           uow_factory: UnitOfWorkFactory, data: StatusChangeIn | None = None) -> ClientOut:
        return await self._status(client_id, ClientStatus.CLOSED, data, actor, office_scope, uow_factory)

    @post("/{client_id:int}/blacklist", status_code=200, opt=WRITE, responses=PROBLEM_RESPONSES,
          summary="Blacklist a client (reason required)")
    async def blacklist_client(self, client_id: ClientId, actor: str, office_scope: OfficeScope,
                               uow_factory: UnitOfWorkFactory, data: StatusChangeIn | None = None) -> ClientOut:
        return await self._status(client_id, ClientStatus.BLACKLISTED, data, actor, office_scope, uow_factory)

    @post("/{client_id:int}/reopen", status_code=200, opt=WRITE, responses=PROBLEM_RESPONSES,
          summary="Send a closed or blacklisted client back to pending for review (reason required after a blacklist)")
    async def reopen_client(self, client_id: ClientId, actor: str, office_scope: OfficeScope,
                            uow_factory: UnitOfWorkFactory, data: StatusChangeIn | None = None) -> ClientOut:
        return await self._status(client_id, ClientStatus.PENDING, data, actor, office_scope, uow_factory)

    @post("/{client_id:int}/members", status_code=200, opt=WRITE, responses=PROBLEM_RESPONSES,
          summary="Add an individual of the group's office to a group")
    async def add_member(self, client_id: ClientId, data: MemberIn, actor: str, office_scope: OfficeScope,
                         uow_factory: UnitOfWorkFactory) -> ClientOut:
        command = AddGroupMember(group_id=client_id, member_id=data.member_id, actor=actor, leader=data.leader,
                                 expected_version=data.expected_version)
        return ClientOut.from_record(await service.add_group_member(uow_factory(), command, scope=office_scope))

    @delete("/{client_id:int}/members/{member_id:int}", status_code=200, opt=WRITE, responses=PROBLEM_RESPONSES,
            summary="Take a member out of a group (not its leader: choose another leader first)")
    async def remove_member(self, client_id: ClientId, member_id: MemberId, actor: str, office_scope: OfficeScope,
                            uow_factory: UnitOfWorkFactory) -> ClientOut:
        command = RemoveGroupMember(group_id=client_id, member_id=member_id, actor=actor)
        return ClientOut.from_record(await service.remove_group_member(uow_factory(), command, scope=office_scope))

    @put("/{client_id:int}/leader", opt=WRITE, responses=PROBLEM_RESPONSES, summary="Choose a group's leader among its members")
    async def set_leader(self, client_id: ClientId, data: LeaderIn, actor: str, office_scope: OfficeScope,
                         uow_factory: UnitOfWorkFactory) -> ClientOut:
        command = SetGroupLeader(group_id=client_id, leader_id=data.leader_id, actor=actor,
                                 expected_version=data.expected_version)
        return ClientOut.from_record(await service.set_group_leader(uow_factory(), command, scope=office_scope))

    @get("/{client_id:int}/history", opt=READ, responses=PROBLEM_RESPONSES,
         summary="Every change of the client's record, oldest first: who, when, before and after")
    async def client_history(
        self, client_id: ClientId, office_scope: OfficeScope, uow_factory: UnitOfWorkFactory,
        limit: Annotated[int, Parameter(query="limit", ge=1, le=PAGE_SIZE_MAX)] = 100,
        cursor: Annotated[str | None, Parameter(query="cursor", max_length=64, required=False)] = None,
    ) -> HistoryPageOut:
        items, next_cursor = await service.client_history(uow_factory(), client_id, limit=limit, cursor=cursor,
                                                          scope=office_scope)
        return HistoryPageOut(items=[HistoryItemOut.from_item(i) for i in items], next_cursor=next_cursor)

    @get("/{client_id:int}/kyc", opt=READ, responses=PROBLEM_RESPONSES,
         summary="KYC completeness: the fields and verified documents the client still lacks")
    async def client_kyc(
        self, client_id: ClientId, office_scope: OfficeScope, uow_factory: UnitOfWorkFactory,
        on: Annotated[date | None, Parameter(query="on", required=False, description="Defaults to today")] = None,
    ) -> KycOut:
        _check_on(on, "on")
        report = await kyc.kyc_report(uow_factory(), client_id, on=on, scope=office_scope)
        return KycOut.from_report(client_id, report)

    @get("/{client_id:int}/documents", opt=READ, responses=PROBLEM_RESPONSES, summary="The client's identity documents")
    async def list_documents(self, client_id: ClientId, office_scope: OfficeScope,
                             uow_factory: UnitOfWorkFactory) -> list[DocumentOut]:
        found = await documents.list_documents(uow_factory(), client_id, scope=office_scope)
        return [DocumentOut.from_document(d) for d in found]

    @post("/{client_id:int}/documents", status_code=201, opt=WRITE, responses=PROBLEM_RESPONSES,
          summary="Record an identity document (then attach its scans to /files)")
    async def record_document(self, client_id: ClientId, data: DocumentIn, actor: str, office_scope: OfficeScope,
                              uow_factory: UnitOfWorkFactory) -> DocumentOut:
        command = RecordDocument(client_id=client_id, document_type=data.document_type, actor=actor,
                                 number=data.number, issuing_authority=data.issuing_authority,
                                 issued_on=data.issued_on, expires_on=data.expires_on)
        return DocumentOut.from_document(await documents.record_document(uow_factory(), command, scope=office_scope))

    @get("/{client_id:int}/documents/{document_id:int}", opt=READ, responses=PROBLEM_RESPONSES,
         summary="Read one document and its files")
    async def get_document(self, client_id: ClientId, document_id: DocumentId, office_scope: OfficeScope,
                           uow_factory: UnitOfWorkFactory) -> DocumentOut:
        found = await documents.get_document(uow_factory(), client_id, document_id, scope=office_scope)
        return DocumentOut.from_document(found)

    @post("/{client_id:int}/documents/{document_id:int}/files", status_code=201, opt=WRITE,
          responses=UPLOAD_RESPONSES,
          summary="Attach a scan or photo (multipart part 'file'): PDF, JPEG, PNG or WebP as configured, "
                  "recognised by its bytes; too large answers 413, another type 415")
    async def attach_file(
        self, client_id: ClientId, document_id: DocumentId,
        data: Annotated[FileUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
        actor: str, office_scope: OfficeScope, uow_factory: UnitOfWorkFactory,
        document_config: documents.DocumentConfig,
    ) -> FileOut:
        upload = data.file
        if not isinstance(upload, UploadFile):
            raise InvalidInput("send the file as the multipart part named 'file'", field="file")
        content = await upload.read(document_config.policy.bytes_max + 1)
        command = AttachFile(client_id=client_id, document_id=document_id, file_name=_safe_file_name(upload.filename),
                             declared_content_type=upload.content_type or "", content=content, actor=actor)
        info = await documents.attach_file(uow_factory(), document_config.store, command,
                                           policy=document_config.policy, scope=office_scope)
        return FileOut.from_info(info)

    @get("/{client_id:int}/documents/{document_id:int}/files/{file_id:int}", opt=READ,
         responses=PROBLEM_RESPONSES, media_type="application/octet-stream",
         summary="Download a file, checked against its SHA-256")
    async def download_file(self, client_id: ClientId, document_id: DocumentId, file_id: FileId,
                            office_scope: OfficeScope, uow_factory: UnitOfWorkFactory,
                            document_config: documents.DocumentConfig) -> Response[bytes]:
        found = await documents.read_file(uow_factory(), document_config.store, client_id, document_id, file_id,
                                          scope=office_scope)
        return Response(content=found.content, media_type=found.info.content_type, headers={
            "Content-Disposition": _attachment(found.info.file_name), "ETag": f'"{found.info.sha256}"'})

    @post("/{client_id:int}/documents/{document_id:int}/verify", status_code=200, opt=VERIFY,
          responses=PROBLEM_RESPONSES,
          summary="Verify a document against its files (not by whoever recorded it or attached a file)")
    async def verify_document(self, client_id: ClientId, document_id: DocumentId, actor: str,
                              office_scope: OfficeScope, uow_factory: UnitOfWorkFactory,
                              data: VerificationIn | None = None) -> DocumentOut:
        command = VerifyDocument(client_id=client_id, document_id=document_id, status=VerificationStatus.VERIFIED,
                                 actor=actor, comment=data.comment if data else None)
        return DocumentOut.from_document(await documents.verify_document(uow_factory(), command, scope=office_scope))

    @post("/{client_id:int}/documents/{document_id:int}/reject", status_code=200, opt=VERIFY,
          responses=PROBLEM_RESPONSES, summary="Reject a document, saying why")
    async def reject_document(self, client_id: ClientId, document_id: DocumentId, data: RejectionIn, actor: str,
                              office_scope: OfficeScope, uow_factory: UnitOfWorkFactory) -> DocumentOut:
        command = VerifyDocument(client_id=client_id, document_id=document_id, status=VerificationStatus.REJECTED,
                                 actor=actor, comment=data.comment)
        return DocumentOut.from_document(await documents.verify_document(uow_factory(), command, scope=office_scope))


class KycRequirementController(Controller):
    path = "/api/v1/kyc-requirements"
    tags = ["Clients"]  # noqa: RUF012  (Litestar reads a list)

    @get("/", opt=READ, responses=PROBLEM_RESPONSES, summary="What each kind of client needs to be KYC-complete")
    async def list_requirements(self, uow_factory: UnitOfWorkFactory) -> list[KycRequirementOut]:
        return [KycRequirementOut.from_requirement(r) for r in await kyc.list_requirements(uow_factory())]

    @put("/{kind:str}", opt={"permission": "kyc:configure"}, responses=PROBLEM_RESPONSES,
         summary="Change what a kind of client needs to be KYC-complete")
    async def put_requirement(self, kind: Annotated[ClientType, Parameter(description="individual, business or group")],
                              data: KycRequirementIn, actor: str, uow_factory: UnitOfWorkFactory) -> KycRequirementOut:
        command = SetKycRequirement(requirement=data.to_requirement(kind), actor=actor)
        return KycRequirementOut.from_requirement(await kyc.set_requirement(uow_factory(), command))
