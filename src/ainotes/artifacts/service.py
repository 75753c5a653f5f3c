"""Artifacts: AI-derived material (summaries, flashcards, quizzes, ...) with provenance.

An artifact records the note versions it was made from. Whether it is stale is computed when it
is read, by comparing those versions with the notes' current ones in one query, so that there
is no background job to fall behind and nothing to keep in step on note writes.
"""

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm.exc import StaleDataError

from ainotes.artifacts.errors import (
    ArtifactNotFound,
    InvalidArtifactContent,
    SourceNoteInTrash,
    SourceNoteNotFound,
    SourceVersionAhead,
)
from ainotes.artifacts.models import Artifact
from ainotes.artifacts.repository import (
    ArtifactRepository,
    ArtifactSourceRepository,
    SourceRow,
    count_per_workspace,
)
from ainotes.artifacts.schemas import (
    CONTENT_ADAPTERS,
    ArtifactCreate,
    ArtifactKind,
    ArtifactUpdate,
    Provenance,
    SourceRef,
    SourceState,
)
from ainotes.core import audit
from ainotes.core.concurrency import StaleVersion, check_version
from ainotes.core.db import ReadOnlySession, WritableSession
from ainotes.core.models import utcnow
from ainotes.core.pagination import Ordering, page_of
from ainotes.notes import service as notes_service
from ainotes.notes.errors import NoteNotFound
from ainotes.search import service as search_service
from ainotes.search.schemas import DocType
from ainotes.workspaces.service import WorkspaceAccess

# Newest first by id: ULIDs sort by creation time, and the primary key then serves the listing.
ARTIFACT_ORDER = Ordering("id:desc", Artifact.id, Artifact.id, descending=True)
# Characters of content text put in the search document; the index keeps less than this
# anyway (search_service.MAX_INDEXED_BODY_CHARS), so collecting stops early on huge content.
SEARCH_TEXT_CHARS = 100_000


@dataclass(frozen=True, slots=True)
class SourceStatus:
    note_id: str
    version: int
    current_version: int | None
    state: SourceState


@dataclass(frozen=True, slots=True)
class ArtifactView:
    """An artifact with the state of its sources, as of this read."""

    artifact: Artifact
    sources: list[SourceStatus]

    @property
    def stale(self) -> bool:
        return any(source.state is not SourceState.CURRENT for source in self.sources)

    @property
    def stale_sources(self) -> list[str]:
        return [s.note_id for s in self.sources if s.state is not SourceState.CURRENT]


def _status(row: SourceRow) -> SourceStatus:
    if row.current_version is None:
        state = SourceState.PURGED
    elif row.trashed_at is not None:
        state = SourceState.TRASHED
    elif row.current_version != row.note_version:
        state = SourceState.CHANGED
    else:
        state = SourceState.CURRENT
    return SourceStatus(row.note_id, row.note_version, row.current_version, state)


async def _views(session: ReadOnlySession, artifacts: Sequence[Artifact]) -> list[ArtifactView]:
    if not artifacts:
        return []
    sources = ArtifactSourceRepository(session, artifacts[0].workspace_id)
    by_artifact: dict[str, list[SourceStatus]] = defaultdict(list)
    for row in await sources.with_current_versions([a.id for a in artifacts]):
        by_artifact[row.artifact_id].append(_status(row))
    return [ArtifactView(a, by_artifact.get(a.id, [])) for a in artifacts]


def search_text(content: Any) -> str:
    """The text of an artifact's content for search: its strings in document order (a
    summary's text, cards' fronts and backs, questions and choices, outline items, terms and
    definitions, a custom artifact's string values). Keys and numbers are left out."""
    parts: list[str] = []
    size = 0
    stack = [content]
    while stack and size < SEARCH_TEXT_CHARS:
        value = stack.pop()
        if isinstance(value, str):
            parts.append(value)
            size += len(value) + 1
        elif isinstance(value, dict):
            stack.extend(reversed(list(value.values())))
        elif isinstance(value, list):
            stack.extend(reversed(value))
    return "\n".join(parts)[:SEARCH_TEXT_CHARS]


async def _indexed(session: WritableSession, artifact: Artifact) -> ArtifactView:
    """The artifact's view, after indexing it by title and content text; the note it belongs
    to is its first source."""
    view = await _view(session, artifact)
    await search_service.index_document(
        session,
        artifact.workspace_id,
        DocType.ARTIFACT,
        artifact.id,
        title=artifact.title,
        body=search_text(artifact.content),
        tags=[],
        archived=False,
        note_id=view.sources[0].note_id if view.sources else None,
        updated_at=artifact.updated_at,
    )
    return view


async def _view(session: ReadOnlySession, artifact: Artifact) -> ArtifactView:
    return (await _views(session, [artifact]))[0]


def _not_found(artifact_id: str) -> ArtifactNotFound:
    return ArtifactNotFound(f"No artifact {artifact_id} exists in this workspace.")


async def _resolve_sources(
    session: ReadOnlySession, access: WorkspaceAccess, refs: Sequence[SourceRef]
) -> list[tuple[str, int]]:
    """Each source as (note id, version), checked against the note as it is now."""
    resolved = []
    for ref in refs:
        try:
            note = await notes_service.get(session, access, ref.note_id)
        except NoteNotFound:
            raise SourceNoteNotFound(
                f"No note {ref.note_id} exists in this workspace.", note_id=ref.note_id
            ) from None
        if note.trashed_at is not None:
            raise SourceNoteInTrash(
                f"Note {ref.note_id} is in the trash; an artifact made from it is stale already.",
                note_id=ref.note_id,
            )
        version = note.version if ref.version is None else ref.version
        if version > note.version:
            raise SourceVersionAhead(
                f"Note {ref.note_id} is at version {note.version}; it has no version {version}.",
                note_id=ref.note_id,
                current_version=note.version,
            )
        resolved.append((note.id, version))
    return resolved


def _content_json(content: Any) -> Any:
    return content.model_dump(mode="json") if isinstance(content, BaseModel) else content


def _validated_content(kind: ArtifactKind, content: dict[str, Any]) -> Any:
    try:
        return _content_json(CONTENT_ADAPTERS[kind].validate_python(content))
    except ValidationError as error:
        details = [
            {
                "loc": ["body", "content", *(str(part) for part in e["loc"])],
                "msg": e["msg"],
                "type": e["type"],
            }
            for e in error.errors()
        ]
        summary = "; ".join(f"{'.'.join(d['loc'][2:]) or 'content'}: {d['msg']}" for d in details)
        raise InvalidArtifactContent(
            f"The content is not valid {kind.value} content: {summary}", errors=details
        ) from None


def _audited(artifact: Artifact) -> dict[str, Any]:
    return {
        "kind": artifact.kind,
        "title": artifact.title,
        "content": artifact.content,
        "generator": artifact.generator,
        "model": artifact.model,
        "parameters": artifact.parameters,
        "version": artifact.version,
    }


def _audited_sources(sources: Sequence[tuple[str, int]]) -> list[str]:
    return [f"{note_id}@{version}" for note_id, version in sources]


async def _record(
    session: WritableSession,
    access: WorkspaceAccess,
    action: str,
    artifact: Artifact,
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    await audit.record(
        session,
        actor=access.principal,
        action=action,
        target_type="artifact",
        target_id=artifact.id,
        workspace_id=access.workspace_id,
        changes=audit.changes_between(before, after),
    )


def _apply_provenance(artifact: Artifact, provenance: Provenance) -> None:
    artifact.generator = provenance.generator
    artifact.model = provenance.model
    artifact.parameters = dict(provenance.parameters)


async def create(
    session: WritableSession, access: WorkspaceAccess, data: ArtifactCreate
) -> ArtifactView:
    """Store an artifact; sources default to their notes' current versions."""
    sources = await _resolve_sources(session, access, data.sources)
    actor_id = access.principal.id
    now = utcnow()
    artifact = Artifact(
        workspace_id=access.workspace_id,
        kind=data.kind.value,
        title=data.title,
        content=_content_json(data.content),
        created_by=actor_id,
        updated_by=actor_id,
        created_at=now,
        updated_at=now,
    )
    _apply_provenance(artifact, data.provenance)
    session.add(artifact)
    await session.flush()
    await ArtifactSourceRepository(session, access.workspace_id).replace(artifact.id, sources)
    await session.flush()
    after = {**_audited(artifact), "sources": _audited_sources(sources)}
    await _record(session, access, "artifact.created", artifact, {}, after)
    return await _indexed(session, artifact)


async def get(session: ReadOnlySession, access: WorkspaceAccess, artifact_id: str) -> ArtifactView:
    artifact = await ArtifactRepository(session, access.workspace_id).get(artifact_id)
    if artifact is None:
        raise _not_found(artifact_id)
    return await _view(session, artifact)


async def list_artifacts(
    session: ReadOnlySession,
    access: WorkspaceAccess,
    kind: ArtifactKind | None,
    source_note_id: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[ArtifactView], str | None]:
    rows = await ArtifactRepository(session, access.workspace_id).page(
        kind.value if kind else None, source_note_id, ARTIFACT_ORDER, cursor, limit
    )
    items, next_cursor = page_of(rows, ARTIFACT_ORDER, limit)
    return await _views(session, items), next_cursor


async def _locked(session: WritableSession, access: WorkspaceAccess, artifact_id: str) -> Artifact:
    artifact = await ArtifactRepository(session, access.workspace_id).get_for_update(artifact_id)
    if artifact is None:
        raise _not_found(artifact_id)
    return artifact


async def update(
    session: WritableSession,
    access: WorkspaceAccess,
    artifact_id: str,
    changes: ArtifactUpdate,
    expected_version: int | None,
) -> ArtifactView:
    """Apply ``changes``; without ``expected_version`` the last write wins."""
    artifact = await _locked(session, access, artifact_id)
    check_version("artifact", artifact.version, expected_version)
    # Everything is worked out before the row is touched: the source queries would otherwise
    # autoflush half an update, and bump the version twice.
    fields: dict[str, Any] = {}
    if changes.title is not None:
        fields["title"] = changes.title
    if changes.content is not None:
        fields["content"] = _validated_content(ArtifactKind(artifact.kind), changes.content)
    if changes.provenance is not None:
        fields["generator"] = changes.provenance.generator
        fields["model"] = changes.provenance.model
        fields["parameters"] = dict(changes.provenance.parameters)
    fields = {k: v for k, v in fields.items() if getattr(artifact, k) != v}
    sources = ArtifactSourceRepository(session, access.workspace_id)
    new_sources = None
    before = _audited(artifact)
    if changes.sources is not None:
        resolved = await _resolve_sources(session, access, changes.sources)
        current = await sources.with_current_versions([artifact.id])
        if resolved != [(row.note_id, row.note_version) for row in current]:
            new_sources = resolved
            before["sources"] = _audited_sources([(r.note_id, r.note_version) for r in current])
    if not fields and new_sources is None:
        return await _view(session, artifact)
    for key, value in fields.items():
        setattr(artifact, key, value)
    # Touching the row bumps its version even when only the source rows change.
    artifact.updated_by = access.principal.id
    artifact.updated_at = utcnow()
    if new_sources is not None:
        await sources.replace(artifact.id, new_sources)
    try:
        await session.flush()
    except StaleDataError:
        raise StaleVersion(
            f"The artifact changed while this request was writing it (it was at version "
            f"{artifact.version}).",
        ) from None
    after = _audited(artifact)
    if new_sources is not None:
        after["sources"] = _audited_sources(new_sources)
    await _record(session, access, "artifact.updated", artifact, before, after)
    return await _indexed(session, artifact)


async def delete(
    session: WritableSession,
    access: WorkspaceAccess,
    artifact_id: str,
    expected_version: int | None,
) -> None:
    artifact = await _locked(session, access, artifact_id)
    check_version("artifact", artifact.version, expected_version)
    await _record(session, access, "artifact.deleted", artifact, _audited(artifact), {})
    await ArtifactRepository(session, access.workspace_id).delete(artifact)
    await search_service.remove_document(
        session, access.workspace_id, DocType.ARTIFACT, artifact.id
    )
    await session.flush()


# Artifacts read per round trip while reindexing; their content can be large.
REINDEX_BATCH = 200


async def count_for_reindex(session: ReadOnlySession, workspace_id: str | None) -> dict[str, int]:
    """Artifacts per workspace (every workspace that has any, or just ``workspace_id``)."""
    return await count_per_workspace(session, workspace_id)


async def reindex(
    session: WritableSession, workspace_id: str, on_progress: Callable[[int], None]
) -> int:
    """Write every artifact's search document again, as ``_indexed`` writes it, in the
    caller's transaction; documents that are already right are left untouched, and those of
    artifacts that no longer exist are removed. Returns the number of artifacts read."""
    artifacts = ArtifactRepository(session, workspace_id)
    orphans = await search_service.indexed_ids(session, workspace_id, DocType.ARTIFACT)
    done, after = 0, ""
    while batch := await artifacts.batch_after(after, REINDEX_BATCH):
        orphans.difference_update(artifact.id for artifact in batch)
        documents = [
            search_service.Document(
                view.artifact.id,
                view.artifact.title,
                search_text(view.artifact.content),
                (),
                False,
                view.sources[0].note_id if view.sources else None,
                view.artifact.updated_at,
            )
            for view in await _views(session, batch)
        ]
        await search_service.index_documents(session, workspace_id, DocType.ARTIFACT, documents)
        done += len(batch)
        after = batch[-1].id
        on_progress(len(batch))
    await search_service.remove_documents(session, workspace_id, DocType.ARTIFACT, sorted(orphans))
    return done
