"""Identity documents of a client: record, attach files, list, download, verify.
Verification follows the four-eyes rule: whoever recorded a document cannot verify it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime

import msgspec
from sqlalchemy import func, select
from sqlalchemy.orm import undefer

from servicing.clients import repository as repo
from servicing.clients.commands import AttachFile, RecordDocument, VerifyDocument
from servicing.clients.db.tables import ClientDocumentFileRow, ClientDocumentRow
from servicing.clients.errors import DocumentRejected, FileTooLarge, SelfVerificationRefused, UnsupportedFile
from servicing.clients.kyc_rules import (
    DEFAULT_DOCUMENT_POLICY,
    DOCUMENTS_PER_CLIENT_MAX,
    FILES_PER_DOCUMENT_MAX,
    DocumentFacts,
    DocumentPolicy,
    DocumentType,
    FileRefusal,
    VerificationStatus,
    check_file,
)
from servicing.clients.model import ClientStatus
from servicing.clients.storage import DatabaseStore, DocumentStore, store_for
from servicing.config import Settings
from servicing.errors import Conflict, InvalidInput, NotFound, ServiceUnavailable
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWork


class FileInfo(msgspec.Struct, frozen=True, kw_only=True):
    file_id: int
    file_name: str
    content_type: str
    size_bytes: int
    sha256: str
    created_at: datetime
    created_by: str


class Document(msgspec.Struct, frozen=True, kw_only=True):
    document_id: int
    client_id: int
    document_type: DocumentType
    number: str | None
    issuing_authority: str | None
    issued_on: date | None
    expires_on: date | None
    status: VerificationStatus
    verified_by: str | None
    verified_at: datetime | None
    verification_comment: str | None
    created_at: datetime
    created_by: str
    files: tuple[FileInfo, ...]

    def facts(self) -> DocumentFacts:
        return DocumentFacts(document_id=self.document_id, document_type=self.document_type, status=self.status,
                             expires_on=self.expires_on, file_count=len(self.files))


class FileContent(msgspec.Struct, frozen=True, kw_only=True):
    info: FileInfo
    content: bytes


async def record_document(uow: UnitOfWork, command: RecordDocument, *, scope: OfficeScope | None = None) -> Document:
    if command.issued_on and command.expires_on and command.issued_on > command.expires_on:
        raise DocumentRejected("the expiry date is before the issue date", field="expires_on")
    if command.issued_on and command.issued_on > repo.today():
        raise DocumentRejected("the issue date cannot be in the future", field="issued_on")
    async with uow:
        session = uow.session
        client = await repo.load_row(session, command.client_id, for_update=True, scope=scope)
        if ClientStatus(client.status) is ClientStatus.CLOSED:
            raise Conflict(f"client {client.id} is closed", field="client_id")
        count = await session.scalar(select(func.count()).where(ClientDocumentRow.client_id == client.id))
        if (count or 0) >= DOCUMENTS_PER_CLIENT_MAX:
            raise Conflict(f"a client has at most {DOCUMENTS_PER_CLIENT_MAX} documents", field="client_id")
        row = ClientDocumentRow(
            client_id=client.id, document_type=command.document_type.value, number=command.number,
            issuing_authority=command.issuing_authority, issued_on=command.issued_on,
            expires_on=command.expires_on, created_by=command.actor)
        session.add(row)
        await session.flush()
        after = msgspec.to_builtins(msgspec.structs.asdict(command), order="deterministic")
        after.pop("actor")
        after["document_id"] = row.id
        repo.add_history(session, client.id, "document_recorded", command.actor, {}, after)
        await session.flush()
        await session.refresh(row)
        document = _to_document(row, [])
        await uow.commit()
    return document


async def attach_file(uow: UnitOfWork, store: DocumentStore, command: AttachFile, *,
                      policy: DocumentPolicy = DEFAULT_DOCUMENT_POLICY, scope: OfficeScope | None = None) -> FileInfo:
    """Keep one file of a document after checking its size and, by its bytes, its type."""
    content = command.content
    sniffed, refusal = check_file(content, command.declared_content_type, policy)
    accepted = ", ".join(sorted(policy.content_types))
    if refusal is FileRefusal.EMPTY:
        raise InvalidInput("the file is empty", field="file")
    if refusal is FileRefusal.TOO_LARGE:
        raise FileTooLarge(f"the file has {len(content)} bytes; at most {policy.bytes_max} are accepted", field="file")
    if refusal is FileRefusal.NOT_RECOGNISED:
        raise UnsupportedFile(f"the file is not one of {accepted} (checked by its content)", field="file")
    if refusal is FileRefusal.NOT_ACCEPTED:
        raise UnsupportedFile(f"the file is {sniffed}; this institution accepts {accepted}", field="file")
    if refusal is FileRefusal.MISDECLARED:
        declared = command.declared_content_type.split(";")[0].strip().lower()
        raise UnsupportedFile(f"the file is {sniffed} but was sent as {declared}", field="content_type")
    assert sniffed is not None and refusal is None, (sniffed, refusal)
    sha256 = hashlib.sha256(content).hexdigest()
    async with uow:
        session = uow.session
        document = await _load_document_row(uow, command.client_id, command.document_id, for_update=True,
                                            scope=scope)
        if document.status != VerificationStatus.PENDING.value:
            raise Conflict(f"document {document.id} is {document.status}: record a new document instead",
                           field="document_id")
        count = await session.scalar(select(func.count()).where(ClientDocumentFileRow.document_id == document.id))
        if (count or 0) >= FILES_PER_DOCUMENT_MAX:
            raise Conflict(f"a document has at most {FILES_PER_DOCUMENT_MAX} files", field="document_id")
        row = ClientDocumentFileRow(
            document_id=document.id, file_name=command.file_name, content_type=sniffed.value,
            size_bytes=len(content), sha256=sha256, storage=store.kind,
            content=await store.put(sha256, content), created_by=command.actor)
        session.add(row)
        await session.flush()
        repo.add_history(session, command.client_id, "document_file_added", command.actor, {}, {
            "document_id": document.id, "file_id": row.id, "file_name": row.file_name,
            "content_type": row.content_type, "size_bytes": row.size_bytes, "sha256": sha256})
        await session.flush()
        await session.refresh(row)
        info = _to_file(row)
        await uow.commit()
    return info


async def verify_document(uow: UnitOfWork, command: VerifyDocument, *, scope: OfficeScope | None = None) -> Document:
    if command.status is VerificationStatus.PENDING:
        raise InvalidInput("a verification decides: verified or rejected", field="status")
    if command.status is VerificationStatus.REJECTED and not (command.comment and command.comment.strip()):
        raise InvalidInput("a rejection needs a comment saying why", field="comment")
    async with uow:
        session = uow.session
        row = await _load_document_row(uow, command.client_id, command.document_id, for_update=True, scope=scope)
        if row.status != VerificationStatus.PENDING.value:
            raise Conflict(f"document {row.id} is already {row.status} by {row.verified_by}", field="document_id")
        files = await _files_of(uow, [row.id])
        makers = {row.created_by} | {f.created_by for f in files.get(row.id, [])}
        if command.actor in makers:
            raise SelfVerificationRefused(
                "whoever recorded a document or attached its files cannot verify it (four eyes)", field="actor")
        if command.status is VerificationStatus.VERIFIED and not files.get(row.id):
            raise Conflict(f"document {row.id} has no file to verify", field="document_id")
        if (command.status is VerificationStatus.VERIFIED and row.expires_on is not None
                and row.expires_on < repo.today()):
            raise Conflict(f"document {row.id} expired on {row.expires_on}: record the new one", field="expires_on")
        row.status = command.status.value
        row.verified_by = command.actor
        row.verified_at = datetime.now(UTC)
        row.verification_comment = command.comment
        repo.add_history(session, command.client_id, "document_verified", command.actor,
                         {"document_id": row.id, "status": VerificationStatus.PENDING.value},
                         {"document_id": row.id, "status": row.status, "comment": command.comment})
        await session.flush()
        document = _to_document(row, files.get(row.id, []))
        await uow.commit()
    return document


async def list_documents(uow: UnitOfWork, client_id: int, *, scope: OfficeScope | None = None) -> list[Document]:
    async with uow:
        await repo.load_row(uow.session, client_id, scope=scope)
        return await documents_of(uow, client_id)


async def documents_of(uow: UnitOfWork, client_id: int) -> list[Document]:
    """Inside an open unit of work: the client's documents with their files."""
    rows = (await uow.session.scalars(
        select(ClientDocumentRow).where(ClientDocumentRow.client_id == client_id).order_by(ClientDocumentRow.id))).all()
    files = await _files_of(uow, [r.id for r in rows])
    return [_to_document(r, files.get(r.id, [])) for r in rows]


async def get_document(uow: UnitOfWork, client_id: int, document_id: int, *,
                       scope: OfficeScope | None = None) -> Document:
    async with uow:
        row = await _load_document_row(uow, client_id, document_id, scope=scope)
        files = await _files_of(uow, [row.id])
        return _to_document(row, files.get(row.id, []))


async def read_file(uow: UnitOfWork, store: DocumentStore, client_id: int, document_id: int, file_id: int, *,
                    scope: OfficeScope | None = None) -> FileContent:
    async with uow:
        await _load_document_row(uow, client_id, document_id, scope=scope)
        row = (await uow.session.scalars(
            select(ClientDocumentFileRow).options(undefer(ClientDocumentFileRow.content))
            .where(ClientDocumentFileRow.id == file_id, ClientDocumentFileRow.document_id == document_id))).one_or_none()
        if row is None:
            raise NotFound(f"document {document_id} has no file {file_id}", field="file_id")
        info, stored_kind, row_content = _to_file(row), row.storage, row.content
    if stored_kind == "database":
        store = DatabaseStore()
    elif store.kind != stored_kind:
        raise ServiceUnavailable("this file is kept in a document folder that is not configured", field="file_id")
    return FileContent(info=info, content=await store.get(info.sha256, row_content))


async def _load_document_row(uow: UnitOfWork, client_id: int, document_id: int, *,
                             for_update: bool = False, scope: OfficeScope | None = None) -> ClientDocumentRow:
    await repo.load_row(uow.session, client_id, scope=scope)
    statement = select(ClientDocumentRow).where(ClientDocumentRow.id == document_id,
                                                ClientDocumentRow.client_id == client_id)
    if for_update:
        statement = statement.with_for_update()
    row = (await uow.session.scalars(statement)).one_or_none()
    if row is None:
        raise NotFound(f"client {client_id} has no document {document_id}", field="document_id")
    return row


async def _files_of(uow: UnitOfWork, document_ids: list[int]) -> dict[int, list[FileInfo]]:
    if not document_ids:
        return {}
    rows = (await uow.session.scalars(
        select(ClientDocumentFileRow).where(ClientDocumentFileRow.document_id.in_(document_ids))
        .order_by(ClientDocumentFileRow.id))).all()
    files: dict[int, list[FileInfo]] = {}
    for row in rows:
        files.setdefault(row.document_id, []).append(_to_file(row))
    return files


def _to_file(row: ClientDocumentFileRow) -> FileInfo:
    return FileInfo(file_id=row.id, file_name=row.file_name, content_type=row.content_type,
                    size_bytes=row.size_bytes, sha256=row.sha256, created_at=row.created_at, created_by=row.created_by)


def _to_document(row: ClientDocumentRow, files: list[FileInfo]) -> Document:
    return Document(
        document_id=row.id, client_id=row.client_id, document_type=DocumentType(row.document_type),
        number=row.number, issuing_authority=row.issuing_authority, issued_on=row.issued_on,
        expires_on=row.expires_on, status=VerificationStatus(row.status), verified_by=row.verified_by,
        verified_at=row.verified_at, verification_comment=row.verification_comment,
        created_at=row.created_at, created_by=row.created_by, files=tuple(files))


@dataclass(frozen=True)
class DocumentConfig:
    """Where files go and what is accepted, from the settings; the API keeps one."""

    store: DocumentStore
    policy: DocumentPolicy

    @classmethod
    def from_settings(cls, settings: Settings) -> DocumentConfig:
        return cls(store=store_for(settings.documents_folder), policy=settings.document_policy())
