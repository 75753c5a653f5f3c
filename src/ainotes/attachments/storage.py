"""Blob storage behind a small async interface, content-addressed by sha256.

The local implementation keeps blobs under ``<root>/ab/cd/abcd…`` so that identical files are
stored once. A blob is first written to a temporary file under ``<root>/tmp`` (same filesystem,
so ``os.replace`` into place is atomic) while its sha256 is computed; readers never see a
partial blob. An S3-compatible store fits the same protocol: a writer uploads to a temporary
key (multipart) and ``commit`` copies it to the content address.

Keys are always hex sha256 digests made here; nothing a client sends becomes a path.
"""

import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Protocol

import anyio
import anyio.to_thread

from ainotes.core.config import Settings

# Writes and reads move through a worker thread in chunks this large, so that the thread hop
# and the syscall cost are paid per megabyte, not per network packet.
CHUNK_BYTES = 1024 * 1024
_KEY = re.compile(r"^[0-9a-f]{64}$")
_FANOUT = re.compile(r"^[0-9a-f]{2}$")


class BlobMissing(Exception):
    """The store has no blob under this key."""


@dataclass(frozen=True, slots=True)
class BlobInfo:
    key: str
    size: int


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """A committed blob as the store lists it."""

    key: str
    size: int
    # When the blob was last placed (a re-upload of the same bytes places it anew).
    modified_at: datetime


class BlobWriter(Protocol):
    """One blob being written: ``write`` chunks, then ``commit`` or ``abort``."""

    @property
    def size(self) -> int: ...

    @property
    def sha256(self) -> str:
        """Hex digest of everything written so far."""
        ...

    async def write(self, chunk: bytes) -> None: ...

    async def commit(self) -> BlobInfo:
        """Make the blob readable under its sha256 (a no-op copy if it is stored already)."""
        ...

    async def abort(self) -> None:
        """Drop what was written; safe to call more than once, and after ``commit``."""
        ...


class BlobStore(Protocol):
    async def open_writer(self) -> BlobWriter: ...

    async def put_stream(self, chunks: AsyncIterable[bytes]) -> BlobInfo: ...

    async def open_range(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes ``start``..``end`` (inclusive) of a blob. The blob is opened before this
        returns, so a missing blob raises ``BlobMissing`` here, not mid-stream."""
        ...

    async def delete(self, key: str) -> None: ...

    async def exists(self, key: str) -> bool: ...

    def list_blobs(self) -> AsyncIterator[StoredBlob]:
        """Every committed blob, in no set order; uploads still being written are not listed.
        (S3: ListObjectsV2 over the blob prefix, with Size and LastModified.)"""
        ...


def _check_key(key: str) -> str:
    if not _KEY.match(key):
        raise ValueError("a blob key is a lower-case hex sha256 digest")
    return key


class _LocalWriter:
    def __init__(self, store: "LocalBlobStore", file: IO[bytes], path: Path) -> None:
        self._store = store
        self._file: IO[bytes] | None = file
        self._path = path
        self._hash = hashlib.sha256()
        self._buffer = bytearray()
        self._size = 0
        self._committed = False

    @property
    def size(self) -> int:
        return self._size

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def _write_sync(self, data: bytes) -> None:
        assert self._file is not None
        self._file.write(data)

    async def _flush_buffer(self) -> None:
        if self._buffer:
            data = bytes(self._buffer)
            self._buffer.clear()
            await anyio.to_thread.run_sync(self._write_sync, data)

    async def write(self, chunk: bytes) -> None:
        if self._file is None:
            raise RuntimeError("the blob writer is closed")
        self._hash.update(chunk)
        self._size += len(chunk)
        self._buffer += chunk
        if len(self._buffer) >= CHUNK_BYTES:
            await self._flush_buffer()

    def _close_sync(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _commit_sync(self, key: str) -> None:
        assert self._file is not None
        self._file.flush()
        os.fsync(self._file.fileno())
        self._close_sync()
        target = self._store.path_for(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Identical bytes are stored once; replacing an existing blob with the same content is
        # still atomic, so readers of the old file are never disturbed.
        os.replace(self._path, target)

    async def commit(self) -> BlobInfo:
        if self._committed:
            return BlobInfo(self.sha256, self._size)
        await self._flush_buffer()
        key = self.sha256
        await anyio.to_thread.run_sync(self._commit_sync, key)
        self._committed = True
        return BlobInfo(key, self._size)

    def _abort_sync(self) -> None:
        self._close_sync()
        self._path.unlink(missing_ok=True)

    async def abort(self) -> None:
        if self._committed:
            return
        self._buffer.clear()
        await anyio.to_thread.run_sync(self._abort_sync)


class LocalBlobStore:
    """Blobs in a local directory (default ``<data_dir>/blobs``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / "tmp"

    def path_for(self, key: str) -> Path:
        key = _check_key(key)
        return self.root / key[:2] / key[2:4] / key

    def _open_temp(self) -> tuple[IO[bytes], Path]:
        self._tmp.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self._tmp, prefix="upload-", suffix=".part")
        return os.fdopen(fd, "wb"), Path(name)

    async def open_writer(self) -> BlobWriter:
        file, path = await anyio.to_thread.run_sync(self._open_temp)
        return _LocalWriter(self, file, path)

    async def put_stream(self, chunks: AsyncIterable[bytes]) -> BlobInfo:
        writer = await self.open_writer()
        try:
            async for chunk in chunks:
                await writer.write(chunk)
            return await writer.commit()
        finally:
            await writer.abort()

    def _open_sync(self, key: str, start: int) -> IO[bytes]:
        try:
            file = self.path_for(key).open("rb")
        except FileNotFoundError:
            raise BlobMissing(key) from None
        file.seek(start)
        return file

    async def open_range(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        # Opened now: once open, the file stays readable even if the blob is deleted meanwhile.
        file = await anyio.to_thread.run_sync(self._open_sync, key, start)
        return _read_range(file, end - start + 1)

    def _delete_sync(self, key: str) -> None:
        path = self.path_for(key)
        path.unlink(missing_ok=True)
        # Leave the shared ab/cd directories in place: removing them races with writers.

    async def delete(self, key: str) -> None:
        await anyio.to_thread.run_sync(self._delete_sync, key)

    async def exists(self, key: str) -> bool:
        return await anyio.Path(self.path_for(key)).is_file()

    def _fanout_sync(self, directory: Path) -> list[Path]:
        try:
            return sorted(
                Path(entry.path)
                for entry in os.scandir(directory)
                if entry.is_dir(follow_symlinks=False) and _FANOUT.match(entry.name)
            )
        except FileNotFoundError:
            return []

    def _blobs_in_sync(self, directory: Path) -> list[StoredBlob]:
        prefix = directory.parent.name + directory.name
        found = []
        try:
            entries = list(os.scandir(directory))
        except FileNotFoundError:
            return []
        for entry in entries:
            # Only names this store makes: anything else under root is not ours to report.
            if not (_KEY.match(entry.name) and entry.name.startswith(prefix)):
                continue
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
                stat = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # deleted since the directory was read
            found.append(
                StoredBlob(entry.name, stat.st_size, datetime.fromtimestamp(stat.st_mtime, tz=UTC))
            )
        return found

    async def list_blobs(self) -> AsyncIterator[StoredBlob]:
        # One leaf directory per thread hop: memory stays bounded by a directory, not the store.
        for first in await anyio.to_thread.run_sync(self._fanout_sync, self.root):
            for second in await anyio.to_thread.run_sync(self._fanout_sync, first):
                for blob in await anyio.to_thread.run_sync(self._blobs_in_sync, second):
                    yield blob


def blob_store(settings: Settings) -> BlobStore:
    """The store the application and the CLI use (one place to switch backends)."""
    return LocalBlobStore(settings.data_dir / "blobs")


async def _read_range(file: IO[bytes], length: int) -> AsyncIterator[bytes]:
    try:
        remaining = length
        while remaining > 0:
            chunk = await anyio.to_thread.run_sync(file.read, min(CHUNK_BYTES, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        file.close()
