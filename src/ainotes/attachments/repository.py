from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import exists, func, select

from ainotes.attachments.models import Attachment
from ainotes.core.db import ReadOnlySession
from ainotes.core.pagination import Ordering, paginate
from ainotes.core.repository import WorkspaceRepository

# Read-only: which live notes mention an attachment. Notes are written by their service only.
from ainotes.notes.models import Note

# Reference lookups on note bodies; a LIKE scan is bounded by the workspace index prefix.
LIKE_ESCAPE = "\\"


@dataclass(frozen=True, slots=True)
class NoteMention:
    note_id: str
    title: str
    body: str


def _like_literal(text: str) -> str:
    return (
        text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )


class AttachmentRepository(WorkspaceRepository[Attachment]):
    model = Attachment

    async def get_for_update(self, attachment_id: str) -> Attachment | None:
        statement = self.select().where(Attachment.id == attachment_id).with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def page(
        self, ordering: Ordering, cursor: str | None, limit: int
    ) -> Sequence[Attachment]:
        statement = paginate(self.select(), ordering, cursor, limit)
        return (await self.session.execute(statement)).scalars().all()

    async def by_ids(self, attachment_ids: Sequence[str]) -> Sequence[Attachment]:
        if not attachment_ids:
            return []
        statement = self.select().where(Attachment.id.in_(attachment_ids))
        return (await self.session.execute(statement)).scalars().all()

    def add(self, attachment: Attachment) -> None:
        self.session.add(attachment)

    async def delete(self, attachment: Attachment) -> None:
        await self.session.delete(attachment)

    async def live_notes_mentioning(self, text: str) -> list[NoteMention]:
        """Live notes of the workspace whose body contains ``text`` (a candidate list: the
        caller parses the bodies to confirm real references)."""
        statement = (
            select(Note.id, Note.title, Note.body)
            .where(
                Note.workspace_id == self.workspace_id,
                Note.trashed_at.is_(None),
                Note.body.like(f"%{_like_literal(text)}%", escape=LIKE_ESCAPE),
            )
            .order_by(Note.id)
        )
        rows = (await self.session.execute(statement)).all()
        return [NoteMention(row[0], row[1], row[2]) for row in rows]


class BlobReferences:
    """Attachment rows per blob, across all workspaces: the blob store is shared, so a blob may
    be removed only when no workspace's attachment uses it. Reveals nothing to clients."""

    def __init__(self, session: ReadOnlySession) -> None:
        self.session = session

    async def lock(self, sha256: str) -> None:
        """Serialize placing and removing the same blob until the transaction ends.

        PostgreSQL: a transaction-scoped advisory lock keyed by the digest, so that an upload
        committing the blob cannot interleave with a delete that found no other reference.
        SQLite: write transactions are serialized already (BEGIN IMMEDIATE).
        """
        if self.session.get_bind().dialect.name != "postgresql":
            return
        key = int.from_bytes(bytes.fromhex(sha256[:16]), "big", signed=True)
        await self.session.execute(select(func.pg_advisory_xact_lock(key)))

    async def is_referenced(self, sha256: str) -> bool:
        statement = select(exists().where(Attachment.sha256 == sha256))
        return bool((await self.session.execute(statement)).scalar_one())

    async def referenced_among(self, digests: Sequence[str]) -> set[str]:
        """Which of ``digests`` some attachment (in any workspace) uses."""
        if not digests:
            return set()
        statement = select(Attachment.sha256).where(Attachment.sha256.in_(digests)).distinct()
        return set((await self.session.execute(statement)).scalars().all())
