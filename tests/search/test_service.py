"""Rules of the search service that HTTP does not reach: rebuilding the index."""

from datetime import UTC, datetime

import pytest

from ainotes.core.db import Database
from ainotes.search import service as search_service
from ainotes.search.schemas import DocType
from tests.search.support import SearchSpace

pytestmark = pytest.mark.anyio


class TestReindex:
    async def test_rebuilds_note_documents_from_live_notes(
        self, space: SearchSpace, database: Database
    ):
        live = [(await space.note(f"Dugong {i}", "seagrass"))["id"] for i in range(3)]
        trashed = await space.note("Dugong trashed", "")
        url = f"{space.notes}/{trashed['id']}"
        assert (await space.client.delete(url, headers=space.owner.headers)).status_code == 200
        workspace_id = space.workspace["id"]
        async with database.write_session() as session:
            for note_id in live[:2]:
                await search_service.remove_document(session, workspace_id, DocType.NOTE, note_id)
            # A leftover document of a note that no longer exists.
            await search_service.index_document(
                session,
                workspace_id,
                DocType.NOTE,
                "01JDGHOST00000000000000000",
                title="Dugong ghost",
                body="",
                tags=[],
                archived=False,
                note_id="01JDGHOST00000000000000000",
                updated_at=datetime.now(UTC),
            )
        assert len(await space.ids("dugong ")) == 2

        async with database.read_session() as session:
            plan = await search_service.plan_reindex(session, workspace_id)
        assert [(p.workspace_id, p.notes) for p in plan] == [(workspace_id, 3)]
        progress: list[int] = []
        async with database.write_session() as session:
            done = await search_service.reindex_workspace(session, workspace_id, progress.append)
            await search_service.rebuild_engine(session)
        assert done == 3
        assert sum(progress) == 3
        assert sorted(await space.ids("dugong ")) == sorted(live)

    async def test_plan_for_all_workspaces_includes_this_one(
        self, space: SearchSpace, database: Database
    ):
        await space.note("Manatee", "")
        async with database.read_session() as session:
            plan = await search_service.plan_reindex(session, None)
        assert (space.workspace["id"], 1) in [(p.workspace_id, p.notes) for p in plan]
