"""Wikilink resolution as notes are created, renamed, trashed, restored and purged."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from ainotes.core.db import Database
from ainotes.relationships import service as relationships_service
from ainotes.relationships.errors import DuplicateRelationship
from ainotes.relationships.repository import RelationshipRepository
from ainotes.relationships.schemas import RelationshipCreate, RelationshipType
from tests.factories import Factory
from tests.relationships.support import Desk, make_desk

pytestmark = pytest.mark.anyio


@contextmanager
def counted_statements(database: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    engine = database.write_engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


class TestResolutionOnCreate:
    async def test_link_to_an_existing_note_resolves(self, desk: Desk) -> None:
        target = await desk.create("Target")
        source = await desk.create("Source", "see [[target]]")
        assert await desk.targets(source) == {"target": target.id}

    async def test_link_to_a_missing_title_waits_unresolved(self, desk: Desk) -> None:
        source = await desk.create("Source", "see [[Later]]")
        assert await desk.targets(source) == {"Later": None}
        later = await desk.create("LATER")
        assert await desk.targets(source) == {"Later": later.id}

    async def test_a_note_may_link_to_itself(self, desk: Desk) -> None:
        note = await desk.create("Loop", "I am [[loop]]")
        assert await desk.targets(note) == {"loop": note.id}

    async def test_titles_resolve_case_insensitively_beyond_ascii(self, desk: Desk) -> None:
        target = await desk.create("Straße")
        source = await desk.create("Source", "[[STRASSE]]")
        assert await desk.targets(source) == {"STRASSE": target.id}

    async def test_same_title_in_two_notes_resolves_to_the_oldest(self, desk: Desk) -> None:
        first = await desk.create("Twin")
        await desk.create("twin")
        source = await desk.create("Source", "[[Twin]]")
        assert await desk.targets(source) == {"Twin": first.id}

    async def test_notes_of_other_workspaces_never_resolve(
        self, desk: Desk, factory: Factory, database: Database
    ) -> None:
        other = await make_desk(factory, database)
        await other.create("Elsewhere")
        source = await desk.create("Source", "[[Elsewhere]]")
        assert await desk.targets(source) == {"Elsewhere": None}


class TestResolutionOnRename:
    async def test_renaming_into_place_resolves(self, desk: Desk) -> None:
        source = await desk.create("Source", "[[Goal]]")
        note = await desk.create("Draft")
        await desk.update(note, title="goal")
        assert await desk.targets(source) == {"Goal": note.id}

    async def test_renaming_away_unresolves(self, desk: Desk) -> None:
        target = await desk.create("Goal")
        source = await desk.create("Source", "[[Goal]]")
        await desk.update(target, title="Renamed")
        assert await desk.targets(source) == {"Goal": None}

    async def test_renaming_away_falls_back_to_another_note_with_the_title(
        self, desk: Desk
    ) -> None:
        first = await desk.create("Goal")
        second = await desk.create("goal")
        source = await desk.create("Source", "[[Goal]]")
        await desk.update(first, title="Old goal")
        assert await desk.targets(source) == {"Goal": second.id}

    async def test_editing_the_body_keeps_unchanged_links_and_their_ids(self, desk: Desk) -> None:
        await desk.create("A")
        source = await desk.create("Source", "[[A]] and [[B]]")
        before = await desk.link_ids(source)
        await desk.update(source, body="now [[A]] and [[C]]\nwith more text")
        after = await desk.link_ids(source)
        assert set(after) == {"A", "C"}
        assert after["A"] == before["A"]

    async def test_editing_the_link_context_updates_it(self, desk: Desk) -> None:
        source = await desk.create("Source", "old line [[A]]")
        await desk.update(source, body="new line [[A]]")
        async with desk.database.read_session() as session:
            rows, _ = await relationships_service.outgoing_links(
                session, desk.access, source.id, None, 10
            )
            assert [row[0].context for row in rows] == ["new line [[A]]"]


class TestResolutionOnTrash:
    async def test_trashing_the_target_unresolves(self, desk: Desk) -> None:
        target = await desk.create("Goal")
        source = await desk.create("Source", "[[Goal]]")
        await desk.trash(target)
        assert await desk.targets(source) == {"Goal": None}

    async def test_trashed_notes_are_not_link_targets(self, desk: Desk) -> None:
        target = await desk.create("Goal")
        await desk.trash(target)
        source = await desk.create("Source", "[[Goal]]")
        assert await desk.targets(source) == {"Goal": None}

    async def test_restoring_the_target_resolves_again(self, desk: Desk) -> None:
        target = await desk.create("Goal")
        source = await desk.create("Source", "[[Goal]]")
        await desk.trash(target)
        await desk.restore(target)
        assert await desk.targets(source) == {"Goal": target.id}

    async def test_a_trashed_source_keeps_its_links_for_its_restore(self, desk: Desk) -> None:
        target = await desk.create("Goal")
        source = await desk.create("Source", "[[Goal]]")
        await desk.trash(source)
        await desk.restore(source)
        assert await desk.targets(source) == {"Goal": target.id}


class TestResolutionOnPurge:
    async def test_purging_a_source_removes_its_links(self, desk: Desk) -> None:
        target = await desk.create("Goal")
        source = await desk.create("Source", "[[Goal]]")
        await desk.trash(source)
        await desk.purge(source)
        async with desk.database.read_session() as session:
            rows = await RelationshipRepository(session, desk.access.workspace_id).page(
                target.id, None, None, None, 10
            )
        assert rows == []

    async def test_purging_a_target_removes_relations_to_it_and_unresolves_links(
        self, desk: Desk
    ) -> None:
        target = await desk.create("Goal")
        source = await desk.create("Source", "[[Goal]]")
        async with desk.database.write_session() as session:
            await relationships_service.create(
                session,
                desk.access,
                RelationshipCreate(
                    source_note_id=source.id,
                    target_note_id=target.id,
                    type=RelationshipType.SUPPORTS,
                ),
            )
        await desk.trash(target)
        await desk.purge(target)
        async with desk.database.read_session() as session:
            rows, _ = await relationships_service.outgoing_links(
                session, desk.access, source.id, None, 10
            )
            assert [(r.source, r.target_title, r.target_note_id) for r, _ in rows] == [
                ("body", "Goal", None)
            ]
        replacement = await desk.create("Goal")
        assert await desk.targets(source) == {"Goal": replacement.id}


class TestManualRelations:
    async def test_duplicate_is_refused(self, desk: Desk) -> None:
        a, b = await desk.create("A"), await desk.create("B")
        data = RelationshipCreate(
            source_note_id=a.id, target_note_id=b.id, type=RelationshipType.SUPPORTS
        )
        async with desk.database.write_session() as session:
            first = await relationships_service.create(session, desk.access, data)
        with pytest.raises(DuplicateRelationship) as raised:
            async with desk.database.write_session() as session:
                await relationships_service.create(session, desk.access, data)
        assert raised.value.extensions["existing_id"] == first.id


class TestCost:
    async def test_twenty_links_cost_a_fixed_number_of_statements(self, desk: Desk) -> None:
        for i in range(10):
            await desk.create(f"Topic {i}")
        body = "\n".join(f"- see [[Topic {i}]]" for i in range(20))
        with counted_statements(desk.database) as statements:
            note = await desk.create("Hub", body)
        link_statements = [s for s in statements if "relationships" in s or "title_keys" in s]
        # Title key insert, re-resolve, one lookup for all titles, one batched insert.
        assert len(link_statements) == 4, link_statements
        targets = await desk.targets(note)
        assert len(targets) == 20
        assert sum(target is not None for target in targets.values()) == 10
