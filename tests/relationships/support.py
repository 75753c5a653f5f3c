"""Helpers for the relationships tests: link listings over HTTP, and services called directly."""

from dataclasses import dataclass
from typing import Any

from ainotes.core.db import Database
from ainotes.core.principal import Principal, PrincipalKind
from ainotes.notes import service as notes_service
from ainotes.notes.models import Note
from ainotes.notes.schemas import NoteCreate, NoteUpdate
from ainotes.relationships import service as relationships_service
from ainotes.workspaces import service as workspaces_service
from ainotes.workspaces.models import Role
from ainotes.workspaces.service import WorkspaceAccess
from tests.factories import Factory
from tests.notes.support import Space

LIMITS = notes_service.NoteLimits(max_body_chars=100_000)


def relationships_url(space: Space) -> str:
    return f"/v1/workspaces/{space.workspace['id']}/relationships"


def graph_url(space: Space) -> str:
    return f"/v1/workspaces/{space.workspace['id']}/graph"


async def _all_pages(space: Space, url: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 200}
    while True:
        response = await space.client.get(url, params=params, headers=space.owner.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        if page["next_cursor"] is None:
            return items
        params["cursor"] = page["next_cursor"]


async def links_of(space: Space, note_id: str) -> list[dict[str, Any]]:
    return await _all_pages(space, space.note(note_id, "links"))


async def backlinks_of(space: Space, note_id: str) -> list[dict[str, Any]]:
    return await _all_pages(space, space.note(note_id, "backlinks"))


async def relate(space: Space, source: str, target: str, type_: str = "related") -> dict[str, Any]:
    response = await space.client.post(
        relationships_url(space),
        json={"source_note_id": source, "target_note_id": target, "type": type_},
        headers=space.owner.headers,
    )
    assert response.status_code == 201, response.text
    relationship: dict[str, Any] = response.json()
    return relationship


@dataclass
class Desk:
    """A workspace and its owner's access, for calling the services directly."""

    database: Database
    access: WorkspaceAccess

    async def create(self, title: str, body: str = "") -> Note:
        async with self.database.write_session() as session:
            return await notes_service.create(
                session, self.access, NoteCreate(title=title, body=body), LIMITS
            )

    async def update(self, note: Note, **changes: Any) -> Note:
        async with self.database.write_session() as session:
            return await notes_service.update(
                session, self.access, note.id, NoteUpdate(**changes), None, LIMITS
            )

    async def trash(self, note: Note) -> None:
        async with self.database.write_session() as session:
            await notes_service.trash(session, self.access, note.id, None)

    async def restore(self, note: Note) -> None:
        async with self.database.write_session() as session:
            await notes_service.restore(session, self.access, note.id, None)

    async def purge(self, note: Note) -> None:
        async with self.database.write_session() as session:
            await notes_service.purge(session, self.access, note.id, None)

    async def targets(self, note: Note) -> dict[str, str | None]:
        """The note's body links: target title as written → id of the note it resolves to."""
        async with self.database.read_session() as session:
            rows, _ = await relationships_service.outgoing_links(
                session, self.access, note.id, None, 1000
            )
            return {
                str(relationship.target_title): relationship.target_note_id
                for relationship, _ in rows
                if relationship.source == "body"
            }

    async def link_ids(self, note: Note) -> dict[str, str]:
        async with self.database.read_session() as session:
            rows, _ = await relationships_service.outgoing_links(
                session, self.access, note.id, None, 1000
            )
            return {str(relationship.target_title): relationship.id for relationship, _ in rows}


async def make_desk(factory: Factory, database: Database) -> Desk:
    owner = await factory.user("owner")
    workspace = await factory.workspace(owner)
    principal = Principal(kind=PrincipalKind.USER, id=owner.user_id, name=owner.username)
    # A write session commits (and keeps loaded objects); a read session's rollback would
    # expire the workspace the access carries.
    async with database.write_session() as session:
        access = await workspaces_service.get_access(
            session, principal, workspace["id"], Role.EDITOR
        )
    return Desk(database, access)
