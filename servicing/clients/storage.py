"""Where KYC files live: in the database (bytea, the default: one backup holds everything)
or in a configured folder (large volumes). Files are content-addressed and immutable; a
file read back is checked against its SHA-256, so a tampered file is detected."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path
from typing import Protocol

from ledger.errors import LedgerError


class StoredFileCorrupt(LedgerError):
    code = "stored-file-corrupt"
    status_hint = 500


class DocumentStore(Protocol):
    kind: str
    """'database' or 'folder', recorded with each file."""

    async def put(self, sha256: str, content: bytes) -> bytes | None:
        """Keep the bytes; return what goes into the row's `content` column (None when kept outside)."""

    async def get(self, sha256: str, row_content: bytes | None) -> bytes: ...


def checked(sha256: str, content: bytes) -> bytes:
    if hashlib.sha256(content).hexdigest() != sha256:
        raise StoredFileCorrupt(f"stored file {sha256} does not match its checksum")
    return content


class DatabaseStore:
    kind = "database"

    async def put(self, sha256: str, content: bytes) -> bytes | None:
        return content

    async def get(self, sha256: str, row_content: bytes | None) -> bytes:
        assert row_content is not None, sha256
        return checked(sha256, row_content)


class FolderStore:
    """Files under `root/ab/abcdef...`, written atomically (temporary name, then rename). A file
    written by a transaction that then rolls back stays as an unreferenced, harmless blob."""

    kind = "folder"

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str) -> Path:
        assert len(sha256) == 64 and all(c in "0123456789abcdef" for c in sha256), sha256
        return self.root / sha256[:2] / sha256

    async def put(self, sha256: str, content: bytes) -> bytes | None:
        await asyncio.to_thread(self._write, sha256, content)
        return None

    def _write(self, sha256: str, content: bytes) -> None:
        path = self._path(sha256)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_bytes(content)
        os.replace(temporary, path)

    async def get(self, sha256: str, row_content: bytes | None) -> bytes:
        try:
            content = await asyncio.to_thread(self._path(sha256).read_bytes)
        except FileNotFoundError as error:
            raise StoredFileCorrupt(f"stored file {sha256} is missing from the document folder") from error
        return checked(sha256, content)


def store_for(folder: Path | None) -> DocumentStore:
    return DatabaseStore() if folder is None else FolderStore(folder)
