"""Attachments: files uploaded to a workspace, stored once per content in the blob store.

An upload streams into a temporary blob (hashing and counting as it goes) before any write
transaction starts, so that a slow client never holds the database's write lock; the row and
the blob are then committed together in the request's transaction.
"""

import re
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from datetime import timedelta

import anyio

from ainotes.attachments.errors import (
    AttachmentContentMissing,
    AttachmentInUse,
    AttachmentNotFound,
    AttachmentTooLarge,
    RangeNotSatisfiable,
)
from ainotes.attachments.headers import (
    ByteRange,
    UnsatisfiableRange,
    clean_filename,
    etag_matches,
    parse_range,
)
from ainotes.attachments.models import Attachment
from ainotes.attachments.multipart import FormFile
from ainotes.attachments.repository import AttachmentRepository, BlobReferences
from ainotes.attachments.sniffing import SNIFF_BYTES, normalize_declared, served_type, sniff
from ainotes.attachments.storage import BlobMissing, BlobStore, BlobWriter, StoredBlob
from ainotes.core import audit
from ainotes.core.db import Database, ReadOnlySession, WritableSession
from ainotes.core.errors import BodyTooLarge
from ainotes.core.ids import new_id
from ainotes.core.models import utcnow
from ainotes.core.pagination import Ordering, page_of
from ainotes.workspaces.service import WorkspaceAccess

# Newest first by id: ULIDs sort by creation time, and the primary key then serves the listing.
ATTACHMENT_ORDER = Ordering("id:desc", Attachment.id, Attachment.id, descending=True)
# How many referencing notes a 409 names; enough to act on, bounded for huge workspaces.
MAX_NAMED_NOTES = 20
# Blobs younger than this are never swept: an upload places its blob before its transaction
# commits, and a commit slowed by a busy database must not find its bytes gone.
DEFAULT_SWEEP_GRACE = timedelta(hours=1)
# Digests looked up per query while sweeping; far below SQLite's and PostgreSQL's bind limits.
SWEEP_BATCH = 500

_ID = r"[0-9A-HJKMNP-TV-Z]{26}"
# [text](attachment:ID), ![alt](attachment:ID "title"), and <…> around the destination.
_INLINE_REFERENCE = re.compile(
    r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?attachment:(" + _ID + r")>?(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)"
)
# Reference-style definitions: [label]: attachment:ID
_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?attachment:(" + _ID + r")>?", re.MULTILINE)
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)


def _without_code(body: str) -> str:
    """The body with fenced blocks and code spans blanked: a reference shown as code is an
    example, not a reference."""
    kept: list[str] = []
    fence: str | None = None
    for line in body.splitlines():
        match = _FENCE.match(line)
        if fence is None and match is not None:
            fence = match.group(1)
            continue
        if fence is not None:
            if (
                match is not None
                and match.group(1)[0] == fence[0]
                and len(match.group(1)) >= len(fence)
            ):
                fence = None
            continue
        kept.append(line)
    return _CODE_SPAN.sub("", "\n".join(kept))


def referenced_ids(body: str) -> list[str]:
    """Ids of the attachments a markdown body links to or embeds, in order of first mention."""
    if "attachment:" not in body:
        # Every reference spells this out; most bodies have none, and reading a note is hot.
        return []
    text = _without_code(body)
    ids = [m.group(1) for m in _INLINE_REFERENCE.finditer(text)]
    ids += [m.group(1) for m in _DEFINITION.finditer(text)]
    return list(dict.fromkeys(ids))


async def list_referenced(
    session: ReadOnlySession, workspace_id: str, body: str
) -> list[Attachment]:
    """The attachments of the workspace that ``body`` references, in order of first mention;
    references to ids that do not exist (here) are left out."""
    ids = referenced_ids(body)
    found = {a.id: a for a in await AttachmentRepository(session, workspace_id).by_ids(ids)}
    return [found[i] for i in ids if i in found]


# --- upload -----------------------------------------------------------------------------


@dataclass(slots=True)
class StagedUpload:
    """An upload fully received into a temporary blob, not yet stored or recorded."""

    writer: BlobWriter
    filename: str
    declared_content_type: str | None
    sniffed_content_type: str | None

    async def discard(self) -> None:
        """Drop the temporary blob unless it was committed."""
        with anyio.CancelScope(shield=True):
            await self.writer.abort()


def _too_large(max_bytes: int) -> AttachmentTooLarge:
    return AttachmentTooLarge(
        f"The file exceeds the {max_bytes} bytes an attachment may have.", max_bytes=max_bytes
    )


async def _receive(
    store: BlobStore, chunks: AsyncIterable[bytes], max_bytes: int
) -> tuple[BlobWriter, bytes]:
    """Stream ``chunks`` into a temporary blob; the writer and the first bytes, for sniffing."""
    writer = await store.open_writer()
    head = bytearray()
    try:
        async for chunk in chunks:
            if writer.size + len(chunk) > max_bytes:
                raise _too_large(max_bytes)
            if len(head) < SNIFF_BYTES:
                head += chunk[: SNIFF_BYTES - len(head)]
            await writer.write(chunk)
    except BodyTooLarge:
        # The server-wide body limit tripped first (it equals max_bytes by default).
        with anyio.CancelScope(shield=True):
            await writer.abort()
        raise _too_large(max_bytes) from None
    except BaseException:
        # Client gone, cancelled, malformed, or a storage error: no partial blob stays behind.
        with anyio.CancelScope(shield=True):
            await writer.abort()
        raise
    return writer, bytes(head)


async def stage(
    store: BlobStore,
    chunks: AsyncIterable[bytes],
    filename: str | None,
    declared_content_type: str | None,
    max_bytes: int,
) -> StagedUpload:
    """Stream ``chunks`` into a temporary blob, hashing and sniffing on the way. Past
    ``max_bytes`` the upload stops with 413 and nothing of it is kept."""
    writer, head = await _receive(store, chunks, max_bytes)
    return StagedUpload(
        writer=writer,
        filename=clean_filename(filename),
        declared_content_type=normalize_declared(declared_content_type),
        sniffed_content_type=sniff(head),
    )


async def stage_form(
    store: BlobStore, form: FormFile, filename: str | None, max_bytes: int
) -> StagedUpload:
    """``stage`` for the file part of a multipart/form-data body: the part's name and type
    stand where the raw upload's headers do, and ``filename`` (from the query) overrides the
    part's. ``max_bytes`` bounds the file part; a malformed form raises ``MalformedUpload``."""
    async with aclosing(form.chunks()) as chunks:
        writer, head = await _receive(store, chunks, max_bytes)
    return StagedUpload(
        writer=writer,
        filename=clean_filename(filename or form.filename),
        declared_content_type=normalize_declared(form.content_type),
        sniffed_content_type=sniff(head),
    )


async def create(
    session: WritableSession, access: WorkspaceAccess, staged: StagedUpload
) -> Attachment:
    """Record a staged upload and move its bytes into the blob store."""
    writer = staged.writer
    attachment = Attachment(
        workspace_id=access.workspace_id,
        id=new_id(),
        filename=staged.filename,
        declared_content_type=staged.declared_content_type,
        sniffed_content_type=staged.sniffed_content_type,
        content_type=served_type(staged.declared_content_type, staged.sniffed_content_type),
        size=writer.size,
        sha256=writer.sha256,
        created_by=access.principal.id,
        created_at=utcnow(),
    )
    await BlobReferences(session).lock(attachment.sha256)
    AttachmentRepository(session, access.workspace_id).add(attachment)
    await session.flush()
    await _record(session, access, "attachment.created", attachment, {}, _audited(attachment))
    # The row first: if storing the blob fails, the transaction rolls the row back. If the
    # commit fails after this, the blob stays unreferenced, which costs space but no data.
    await writer.commit()
    return attachment


def _audited(attachment: Attachment) -> dict[str, str | int | None]:
    return {
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
    }


async def _record(
    session: WritableSession,
    access: WorkspaceAccess,
    action: str,
    attachment: Attachment,
    before: dict[str, str | int | None],
    after: dict[str, str | int | None],
) -> None:
    await audit.record(
        session,
        actor=access.principal,
        action=action,
        target_type="attachment",
        target_id=attachment.id,
        workspace_id=access.workspace_id,
        changes=audit.changes_between(before, after),
    )


# --- reads ------------------------------------------------------------------------------


def _not_found(attachment_id: str) -> AttachmentNotFound:
    return AttachmentNotFound(f"No attachment {attachment_id} exists in this workspace.")


async def get(session: ReadOnlySession, access: WorkspaceAccess, attachment_id: str) -> Attachment:
    attachment = await AttachmentRepository(session, access.workspace_id).get(attachment_id)
    if attachment is None:
        raise _not_found(attachment_id)
    return attachment


async def list_attachments(
    session: ReadOnlySession, access: WorkspaceAccess, cursor: str | None, limit: int
) -> tuple[list[Attachment], str | None]:
    rows = await AttachmentRepository(session, access.workspace_id).page(
        ATTACHMENT_ORDER, cursor, limit
    )
    return page_of(rows, ATTACHMENT_ORDER, limit)


def etag_of(attachment: Attachment) -> str:
    return f'"{attachment.sha256}"'


@dataclass(frozen=True, slots=True)
class Download:
    attachment: Attachment
    # None: the whole content. Set: a 206 of this range.
    byte_range: ByteRange | None
    not_modified: bool
    chunks: AsyncIterator[bytes] | None


async def open_content(
    session: ReadOnlySession,
    access: WorkspaceAccess,
    attachment_id: str,
    store: BlobStore,
    *,
    range_header: str | None,
    if_range: str | None,
    if_none_match: str | None,
    with_body: bool = True,
) -> Download:
    """What to send for GET …/content: the whole file, one range of it, or "not modified".
    Without the body (HEAD), the blob is only checked to exist, never opened."""
    attachment = await get(session, access, attachment_id)
    etag = etag_of(attachment)
    if etag_matches(if_none_match, etag):
        return Download(attachment, None, not_modified=True, chunks=None)
    # If-Range: the range applies only to the representation the client already has part of.
    if if_range is not None and if_range.strip() != etag:
        range_header = None
    try:
        byte_range = parse_range(range_header, attachment.size)
    except UnsatisfiableRange as error:
        raise RangeNotSatisfiable(
            f"The range '{range_header}' cannot be served from {attachment.size} bytes: {error}.",
            headers={"Content-Range": f"bytes */{attachment.size}"},
            size=attachment.size,
        ) from None
    start, end = (
        (0, attachment.size - 1) if byte_range is None else (byte_range.start, byte_range.end)
    )
    missing = AttachmentContentMissing(
        f"The content of attachment {attachment_id} is missing from storage."
    )
    if not with_body:
        if not await store.exists(attachment.sha256):
            raise missing
        return Download(attachment, byte_range, not_modified=False, chunks=_no_chunks())
    try:
        chunks = await store.open_range(attachment.sha256, start, end)
    except BlobMissing:
        raise missing from None
    return Download(attachment, byte_range, not_modified=False, chunks=chunks)


async def _no_chunks() -> AsyncIterator[bytes]:
    """The body of a HEAD: nothing (an async generator that yields no chunk)."""
    return
    yield


# --- delete -----------------------------------------------------------------------------


async def referencing_notes(
    session: ReadOnlySession, workspace_id: str, attachment_id: str
) -> list[tuple[str, str]]:
    """(id, title) of the live notes that reference the attachment."""
    candidates = await AttachmentRepository(session, workspace_id).live_notes_mentioning(
        f"attachment:{attachment_id}"
    )
    return [(n.note_id, n.title) for n in candidates if attachment_id in referenced_ids(n.body)]


async def delete(
    session: WritableSession,
    access: WorkspaceAccess,
    attachment_id: str,
    store: BlobStore,
    *,
    force: bool,
) -> None:
    """Delete the attachment; refused while live notes reference it, unless ``force``. Its
    blob goes too once no attachment in any workspace uses it."""
    attachments = AttachmentRepository(session, access.workspace_id)
    attachment = await attachments.get_for_update(attachment_id)
    if attachment is None:
        raise _not_found(attachment_id)
    if not force:
        notes = await referencing_notes(session, access.workspace_id, attachment_id)
        if notes:
            named = ", ".join(f"'{title}' ({note_id})" for note_id, title in notes[:5])
            raise AttachmentInUse(
                f"{len(notes)} note(s) reference this attachment: {named}. Remove the "
                "references or delete with force=true.",
                notes=[
                    {"id": note_id, "title": title} for note_id, title in notes[:MAX_NAMED_NOTES]
                ],
            )
    blobs = BlobReferences(session)
    await blobs.lock(attachment.sha256)
    # Before the blob can go: removing it cannot be rolled back if recording failed.
    await _record(session, access, "attachment.deleted", attachment, _audited(attachment), {})
    await attachments.delete(attachment)
    await session.flush()
    # Checked after the row is gone, in the same transaction and under the blob lock, so that
    # a concurrent upload of the same bytes either is seen here or places the blob afterwards.
    if not await blobs.is_referenced(attachment.sha256):
        await store.delete(attachment.sha256)


# --- orphaned blobs ---------------------------------------------------------------------


async def remove_if_unreferenced(session: WritableSession, store: BlobStore, key: str) -> bool:
    """Delete the blob unless an attachment (in any workspace) uses it. Under the blob's lock,
    as in ``delete``: an upload of the same bytes either committed its row before (and the
    blob stays) or places the blob again after."""
    blobs = BlobReferences(session)
    await blobs.lock(key)
    if await blobs.is_referenced(key):
        return False
    await store.delete(key)
    return True


async def _sweep_batch(
    database: Database, store: BlobStore, candidates: list[StoredBlob], *, dry_run: bool
) -> list[StoredBlob]:
    async with database.read_session() as session:
        used = await BlobReferences(session).referenced_among([b.key for b in candidates])
    orphans = [blob for blob in candidates if blob.key not in used]
    if dry_run:
        return orphans
    removed = []
    for blob in orphans:
        # One short transaction per blob: the lock (on SQLite, the whole database's write
        # lock) is held for one check and one unlink, never for the whole sweep.
        async with database.write_session() as session:
            if await remove_if_unreferenced(session, store, blob.key):
                removed.append(blob)
    return removed


async def sweep_orphan_blobs(
    database: Database,
    store: BlobStore,
    *,
    grace: timedelta = DEFAULT_SWEEP_GRACE,
    dry_run: bool = False,
) -> list[StoredBlob]:
    """Remove the stored blobs that no attachment uses and that were placed more than
    ``grace`` ago, and return them (with ``dry_run``: the ones that would go, removing none).

    Such blobs are left when the process dies, or the transaction rolls back, after an upload
    placed its blob. Work outside a request: it opens its own transactions, one per removal.
    """
    cutoff = utcnow() - grace
    swept: list[StoredBlob] = []
    batch: list[StoredBlob] = []
    async for blob in store.list_blobs():
        if blob.modified_at >= cutoff:
            continue
        batch.append(blob)
        if len(batch) >= SWEEP_BATCH:
            swept += await _sweep_batch(database, store, batch, dry_run=dry_run)
            batch = []
    if batch:
        swept += await _sweep_batch(database, store, batch, dry_run=dry_run)
    return swept
