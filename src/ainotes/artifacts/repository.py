from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, exists, func, select

from ainotes.artifacts.models import Artifact, ArtifactSource
from ainotes.core.db import ReadOnlySession
from ainotes.core.pagination import Ordering, paginate
from ainotes.core.repository import WorkspaceRepository

# Read-only join target for staleness: one query compares recorded and current versions.
# Writes to notes still go through the notes service only.
from ainotes.notes.models import Note


@dataclass(frozen=True, slots=True)
class SourceRow:
    artifact_id: str
    note_id: str
    note_version: int
    # None when the note no longer exists (purged).
    current_version: int | None
    trashed_at: datetime | None


class ArtifactRepository(WorkspaceRepository[Artifact]):
    model = Artifact

    async def get_for_update(self, artifact_id: str) -> Artifact | None:
        statement = self.select().where(Artifact.id == artifact_id).with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def page(
        self,
        kind: str | None,
        source_note_id: str | None,
        ordering: Ordering,
        cursor: str | None,
        limit: int,
    ) -> Sequence[Artifact]:
        statement = self.select()
        if kind is not None:
            statement = statement.where(Artifact.kind == kind)
        if source_note_id is not None:
            statement = statement.where(
                exists().where(
                    ArtifactSource.workspace_id == self.workspace_id,
                    ArtifactSource.artifact_id == Artifact.id,
                    ArtifactSource.note_id == source_note_id,
                )
            )
        statement = paginate(statement, ordering, cursor, limit)
        return (await self.session.execute(statement)).scalars().all()

    async def delete(self, artifact: Artifact) -> None:
        await self.session.delete(artifact)

    async def batch_after(self, after_id: str, size: int) -> Sequence[Artifact]:
        """Up to ``size`` artifacts with ids above ``after_id``, in id order."""
        statement = self.select().where(Artifact.id > after_id).order_by(Artifact.id).limit(size)
        return (await self.session.execute(statement)).scalars().all()


async def count_per_workspace(session: ReadOnlySession, workspace_id: str | None) -> dict[str, int]:
    """How many artifacts each workspace that has any holds (or only ``workspace_id``): the
    one query here across workspaces, for a reindex to plan its work."""
    statement = select(Artifact.workspace_id, func.count()).group_by(Artifact.workspace_id)
    if workspace_id is not None:
        statement = statement.where(Artifact.workspace_id == workspace_id)
    return dict((await session.execute(statement)).all())


class ArtifactSourceRepository(WorkspaceRepository[ArtifactSource]):
    model = ArtifactSource

    async def replace(self, artifact_id: str, sources: Sequence[tuple[str, int]]) -> None:
        await self.session.execute(
            delete(ArtifactSource).where(
                ArtifactSource.workspace_id == self.workspace_id,
                ArtifactSource.artifact_id == artifact_id,
            )
        )
        self.session.add_all(
            ArtifactSource(
                workspace_id=self.workspace_id,
                artifact_id=artifact_id,
                note_id=note_id,
                note_version=version,
                position=position,
            )
            for position, (note_id, version) in enumerate(sources)
        )

    async def with_current_versions(self, artifact_ids: Sequence[str]) -> list[SourceRow]:
        """The sources of these artifacts beside their notes' current state, in one query."""
        if not artifact_ids:
            return []
        statement = (
            select(
                ArtifactSource.artifact_id,
                ArtifactSource.note_id,
                ArtifactSource.note_version,
                Note.version,
                Note.trashed_at,
            )
            .outerjoin(
                Note,
                and_(
                    Note.workspace_id == ArtifactSource.workspace_id,
                    Note.id == ArtifactSource.note_id,
                ),
            )
            .where(
                ArtifactSource.workspace_id == self.workspace_id,
                ArtifactSource.artifact_id.in_(artifact_ids),
            )
            .order_by(ArtifactSource.artifact_id, ArtifactSource.position)
        )
        rows = (await self.session.execute(statement)).all()
        return [SourceRow(row[0], row[1], row[2], row[3], row[4]) for row in rows]
