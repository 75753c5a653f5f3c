"""Links between notes: wikilinks extracted from bodies, and typed relations people make.

Wikilinks resolve by title through ``note_title_keys``, which holds the case-folded title of
every live note and is kept in step with the note events. A link whose title matches no live
note stays unresolved, and every event that changes which note holds a title key re-resolves
the links naming that key in one statement. When several live notes share a title, links
resolve to the oldest one, so that resolution does not depend on the order of events.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError

from ainotes.core import audit
from ainotes.core.db import ReadOnlySession, WritableSession
from ainotes.core.ids import new_id
from ainotes.core.models import utcnow
from ainotes.core.pagination import page_of
from ainotes.notes import service as notes_service
from ainotes.notes.events import NoteChange, NoteChangeKind
from ainotes.notes.models import Note
from ainotes.relationships.errors import (
    BodyLinkReadOnly,
    DuplicateRelationship,
    RelatedNoteInTrash,
    RelationshipNotFound,
    SelfRelationship,
)
from ainotes.relationships.models import BODY, MANUAL, Relationship
from ainotes.relationships.parser import WikiLink, parse_links, title_key
from ainotes.relationships.repository import BY_ID, RelationshipRepository, TitleKeyRepository
from ainotes.relationships.schemas import (
    GraphEdge,
    GraphNode,
    GraphRead,
    RelationshipCreate,
    RelationshipSource,
    RelationshipType,
)
from ainotes.workspaces.service import WorkspaceAccess

# A graph response stays small enough to render and cheap to build: at most this many notes
# by default, and never more than GRAPH_NODE_LIMIT whatever the client asks.
GRAPH_DEFAULT_NODES = 100
GRAPH_NODE_LIMIT = 500
GRAPH_MAX_DEPTH = 3
# Links read per hop of the walk; a hub note with more is reported as truncated.
GRAPH_EDGE_SCAN = 5000


# --- note events -------------------------------------------------------------------------


async def on_note_change(session: WritableSession, change: NoteChange) -> None:
    """Keep title keys and body links in step with a note write (same transaction)."""
    links = RelationshipRepository(session, change.workspace_id)
    old_key, new_key = await _update_title_key(session, change)
    if old_key != new_key:
        await links.reresolve({key for key in (old_key, new_key) if key is not None})
    if change.kind is NoteChangeKind.PURGED:
        await links.delete_for_purged_note(change.note_id)
    elif change.kind in (NoteChangeKind.CREATED, NoteChangeKind.UPDATED):
        await _sync_body_links(session, change)
    await session.flush()


async def _update_title_key(
    session: WritableSession, change: NoteChange
) -> tuple[str | None, str | None]:
    """Record the note's title key (none while trashed); return the key before and after."""
    titles = TitleKeyRepository(session, change.workspace_id)
    # A note just created has no key yet; saving the lookup keeps note creation cheap.
    old_key = None
    if change.kind is not NoteChangeKind.CREATED:
        old_key = await titles.key_of(change.note_id)
    is_live = not change.trashed and change.kind is not NoteChangeKind.PURGED
    new_key = title_key(change.title) if is_live else None
    if old_key == new_key:
        return old_key, new_key
    # Written at once (core/rows.py): the re-resolving UPDATE and the body's lookup read them.
    if new_key is None:
        await titles.remove(change.note_id)
    elif old_key is None:
        await titles.add(change.note_id, new_key)
    else:
        await titles.change(change.note_id, new_key)
    return old_key, new_key


async def _sync_body_links(session: WritableSession, change: NoteChange) -> None:
    """Make the note's body links match its body: a diff, so that unchanged links keep their
    ids, with one lookup resolving every title and one batch insert."""
    links = RelationshipRepository(session, change.workspace_id)
    parsed = parse_links(change.body)
    existing: dict[str, Relationship] = {}
    if change.kind is not NoteChangeKind.CREATED:
        existing = {
            str(row.target_title_key): row for row in await links.body_links_of(change.note_id)
        }
    wanted = {link.key for link in parsed}
    await links.delete_ids([row.id for key, row in existing.items() if key not in wanted])
    targets = await TitleKeyRepository(session, change.workspace_id).resolve(wanted)
    added = [link for link in parsed if link.key not in existing]
    # Sorted fresh ids list a new body's links in the order they are written.
    ids = sorted(new_id() for _ in added)
    now = utcnow()
    await links.insert_rows(
        [
            _body_link(change, link, targets.get(link.key), link_id, now)
            for link, link_id in zip(added, ids, strict=True)
        ]
    )
    for link in parsed:
        row = existing.get(link.key)
        if row is not None:
            row.target_note_id = targets.get(link.key)
            row.target_title = link.title
            row.heading = link.heading
            row.alias = link.alias
            row.context = link.context


def _body_link(
    change: NoteChange, link: WikiLink, target_note_id: str | None, link_id: str, now: datetime
) -> dict[str, Any]:
    return {
        "workspace_id": change.workspace_id,
        "id": link_id,
        "source_note_id": change.note_id,
        "target_note_id": target_note_id,
        "type": RelationshipType.REFERENCES.value,
        "source": BODY,
        "target_title": link.title,
        "target_title_key": link.key,
        "heading": link.heading,
        "alias": link.alias,
        "context": link.context,
        "comment": None,
        "created_by": change.actor_id,
        "created_at": now,
    }


async def rebuild(session: WritableSession, workspace_id: str) -> int:
    """Re-derive the workspace's title keys and body links from its notes (for notes written
    before this module existed, or after a restore from backup); links that are already right
    keep their ids. Returns the number of notes read."""
    done, after = 0, ""
    while batch := await notes_service.current_states(
        session, workspace_id, after, notes_service.REBUILD_BATCH
    ):
        for change in batch:
            await on_note_change(session, change)
        done += len(batch)
        after = batch[-1].note_id
    return done


# --- manual relations ----------------------------------------------------------------------


async def create(
    session: WritableSession, access: WorkspaceAccess, data: RelationshipCreate
) -> Relationship:
    """Relate two live notes of the workspace; ``(source, target, type)`` is unique."""
    if data.source_note_id == data.target_note_id:
        raise SelfRelationship("A relationship joins two different notes.")
    links = RelationshipRepository(session, access.workspace_id)
    # Held before they are checked: a trash or purge racing this request then comes wholly
    # before the check (404/409) or wholly after the insert, never in between, where it
    # would leave a relation to a trashed note or fail the insert on the foreign key.
    await links.hold_notes([data.source_note_id, data.target_note_id])
    for note_id in (data.source_note_id, data.target_note_id):
        note = await notes_service.get(session, access, note_id)
        if note.trashed_at is not None:
            raise RelatedNoteInTrash(f"Note {note_id} is in the trash; restore it first.")
    existing = await links.find_manual(data.source_note_id, data.target_note_id, data.type.value)
    if existing is not None:
        raise _duplicate(data, existing)
    relationship = Relationship(
        workspace_id=access.workspace_id,
        source_note_id=data.source_note_id,
        target_note_id=data.target_note_id,
        type=data.type.value,
        source=MANUAL,
        comment=data.comment or None,
        created_by=access.principal.id,
        created_at=utcnow(),
    )
    try:
        # In a savepoint: on PostgreSQL a failed INSERT aborts the transaction it runs in,
        # and the winner still has to be looked up.
        async with session.begin_nested():
            links.add(relationship)
    except IntegrityError:
        # A concurrent request made the same relation between our check and our insert (the
        # notes are held, so it is not their foreign keys that failed).
        winner = await links.find_manual(data.source_note_id, data.target_note_id, data.type.value)
        raise _duplicate(data, winner) from None
    await _record(session, access, "relationship.created", relationship, {}, _audited(relationship))
    return relationship


def _audited(relationship: Relationship) -> dict[str, str | None]:
    return {
        "source_note_id": relationship.source_note_id,
        "target_note_id": relationship.target_note_id,
        "type": relationship.type,
        "comment": relationship.comment,
    }


async def _record(
    session: WritableSession,
    access: WorkspaceAccess,
    action: str,
    relationship: Relationship,
    before: dict[str, str | None],
    after: dict[str, str | None],
) -> None:
    # Only manual relations get events of their own; body links are covered by the note's.
    await audit.record(
        session,
        actor=access.principal,
        action=action,
        target_type="relationship",
        target_id=relationship.id,
        workspace_id=access.workspace_id,
        changes=audit.changes_between(before, after),
    )


def _duplicate(data: RelationshipCreate, existing_id: str | None) -> DuplicateRelationship:
    return DuplicateRelationship(
        f"Note {data.source_note_id} already has a {data.type.value} relationship "
        f"to note {data.target_note_id}.",
        existing_id=existing_id,
    )


def _not_found(relationship_id: str) -> RelationshipNotFound:
    return RelationshipNotFound(f"No relationship {relationship_id} exists in this workspace.")


async def get(
    session: ReadOnlySession, access: WorkspaceAccess, relationship_id: str
) -> Relationship:
    relationship = await RelationshipRepository(session, access.workspace_id).get(relationship_id)
    if relationship is None:
        raise _not_found(relationship_id)
    return relationship


async def delete(session: WritableSession, access: WorkspaceAccess, relationship_id: str) -> None:
    """Remove a manual relation; body links go away when the note's text stops writing them."""
    links = RelationshipRepository(session, access.workspace_id)
    # Locked, so that of racing deletes one removes it (and records one event) and the others
    # find it gone.
    relationship = await links.get_for_update(relationship_id)
    if relationship is None:
        raise _not_found(relationship_id)
    if relationship.source == BODY:
        raise BodyLinkReadOnly(
            f"Relationship {relationship_id} is a link written in note "
            f"{relationship.source_note_id}; edit the note to remove it."
        )
    await _record(session, access, "relationship.deleted", relationship, _audited(relationship), {})
    await links.delete(relationship)


async def list_relationships(
    session: ReadOnlySession,
    access: WorkspaceAccess,
    note_id: str | None,
    type_: RelationshipType | None,
    source: RelationshipSource | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Relationship], str | None]:
    rows = await RelationshipRepository(session, access.workspace_id).page(
        note_id,
        type_.value if type_ is not None else None,
        source.value if source is not None else None,
        cursor,
        limit,
    )
    return page_of(rows, BY_ID, limit)


# --- links of one note, and the graph ------------------------------------------------------


async def outgoing_links(
    session: ReadOnlySession, access: WorkspaceAccess, note_id: str, cursor: str | None, limit: int
) -> tuple[list[Row[Relationship, Note | None]], str | None]:
    """The note's links, resolved or not, each with its target note (or none)."""
    await notes_service.get(session, access, note_id)
    rows = await RelationshipRepository(session, access.workspace_id).outgoing(
        note_id, cursor, limit
    )
    return page_of(rows, BY_ID, limit, key=lambda row: row[0])


async def backlinks(
    session: ReadOnlySession, access: WorkspaceAccess, note_id: str, cursor: str | None, limit: int
) -> tuple[list[Row[Relationship, Note]], str | None]:
    """Links to the note from live notes, each with the note it comes from."""
    await notes_service.get(session, access, note_id)
    rows = await RelationshipRepository(session, access.workspace_id).incoming(
        note_id, cursor, limit
    )
    return page_of(rows, BY_ID, limit, key=lambda row: row[0])


@dataclass
class _Walk:
    nodes: dict[str, GraphNode]
    edges: dict[str, GraphEdge]
    max_nodes: int
    truncated: bool = False

    def admit(self, note_id: str, title: str, depth: int) -> bool:
        if note_id in self.nodes:
            return False
        if len(self.nodes) >= self.max_nodes:
            self.truncated = True
            return False
        self.nodes[note_id] = GraphNode(id=note_id, title=title, depth=depth)
        return True


async def graph(
    session: ReadOnlySession,
    access: WorkspaceAccess,
    root_id: str,
    depth: int,
    max_nodes: int = GRAPH_DEFAULT_NODES,
) -> GraphRead:
    """The notes within ``depth`` resolved links of the root (either direction), breadth
    first, and the links among them seen on the way; at most ``max_nodes`` notes, with notes in
    the trash left out. Each hop is two queries: the links, then the new notes' titles."""
    root = await notes_service.get(session, access, root_id)
    links = RelationshipRepository(session, access.workspace_id)
    walk = _Walk(nodes={}, edges={}, max_nodes=max_nodes)
    walk.admit(root.id, root.title, 0)
    frontier = [root.id]
    for hop in range(1, depth + 1):
        if not frontier:
            break
        rows = await links.edges_touching(frontier, GRAPH_EDGE_SCAN)
        if len(rows) >= GRAPH_EDGE_SCAN:
            walk.truncated = True
        far_ends = {end for row in rows for end in (row[1], row[2]) if end not in walk.nodes}
        titles = await links.live_titles(far_ends)
        frontier = []
        for edge_id, source_note_id, target_note_id, type_, source in rows:
            for end in (source_note_id, target_note_id):
                if end in titles and walk.admit(end, titles[end], hop):
                    frontier.append(end)
            if source_note_id in walk.nodes and target_note_id in walk.nodes:
                walk.edges[edge_id] = GraphEdge(
                    id=edge_id,
                    source_note_id=source_note_id,
                    target_note_id=target_note_id,
                    type=RelationshipType(type_),
                    source=RelationshipSource(source),
                )
    return GraphRead(
        root=root.id,
        depth=depth,
        max_nodes=max_nodes,
        nodes=list(walk.nodes.values()),
        edges=list(walk.edges.values()),
        truncated=walk.truncated,
    )
