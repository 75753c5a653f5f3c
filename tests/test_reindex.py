"""What ``ainotes reindex`` rebuilds besides the search index: links and tasks of notes that
predate those tables, through the service functions the command calls. On SQLite and
PostgreSQL."""

from typing import Any

import pytest
from sqlalchemy import text

from ainotes.core.db import Database
from ainotes.relationships import service as relationships_service
from ainotes.tasks import service as tasks_service
from tests.factories import Factory
from tests.tasks.support import Space, make_space

pytestmark = pytest.mark.anyio


async def items(space: Space, path: str, **params: Any) -> list[dict[str, Any]]:
    response = await space.client.get(space.base + path, params=params, headers=space.owner.headers)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["items"]
    return found


async def forget_derived_data(database: Database, workspace_id: str) -> None:
    """The state of a workspace whose notes were written before links and tasks existed."""
    async with database.write_session() as session:
        for table in ("task_labels", "tasks", "relationships", "note_title_keys"):
            await session.execute(
                text(f"DELETE FROM {table} WHERE workspace_id = :ws"),
                {"ws": workspace_id},
            )
        await session.execute(
            text("DELETE FROM search_documents WHERE workspace_id = :ws AND doc_type = 'task'"),
            {"ws": workspace_id},
        )


async def rebuild(database: Database, workspace_id: str) -> tuple[int, int]:
    async with database.write_session() as session:
        links = await relationships_service.rebuild(session, workspace_id)
        tasks = await tasks_service.resync(session, workspace_id)
    return links, tasks


async def snapshot(space: Space, source: dict[str, Any], target: dict[str, Any]) -> Any:
    return (
        [
            (link["id"], link["target_note_id"])
            for link in await items(space, f"/notes/{source['id']}/links")
        ],
        [
            (link["source_note"]["id"], link["context"])
            for link in await items(space, f"/notes/{target['id']}/backlinks")
        ],
        {task["text"]: task["id"] for task in await space.note_tasks(source)},
    )


async def test_rebuild_restores_links_tasks_and_task_hits(factory: Factory, database: Database):
    space = await make_space(factory)
    workspace_id = space.workspace["id"]
    target = await space.make_note("Plain text.", title="Capybara")
    source = await space.make_note(
        "Read about the [[Capybara]] first.\n- [ ] visit the capybaras #zoo", title="Plans"
    )
    await forget_derived_data(database, workspace_id)
    assert await items(space, f"/notes/{target['id']}/backlinks") == []
    assert await space.note_tasks(source) == []
    assert await items(space, "/search", q="capybaras", type="task") == []

    assert await rebuild(database, workspace_id) == (2, 2)

    links, backlinks, tasks = await snapshot(space, source, target)
    assert [target_id for _, target_id in links] == [target["id"]]
    assert backlinks == [(source["id"], "Read about the [[Capybara]] first.")]
    assert list(tasks) == ["visit the capybaras #zoo"]
    assert [t["id"] for t in await space.list_tasks(tag="zoo")] == list(tasks.values())
    hits = await items(space, "/search", q="capybaras", type="task")
    assert [(hit["id"], hit["note_id"]) for hit in hits] == [
        (tasks["visit the capybaras #zoo"], source["id"])
    ]

    # Running it again changes nothing: link and task ids stay.
    await rebuild(database, workspace_id)
    assert await snapshot(space, source, target) == (links, backlinks, tasks)


async def test_tasks_of_trashed_notes_come_back_out_of_the_list_until_restored(
    factory: Factory, database: Database
):
    space = await make_space(factory)
    workspace_id = space.workspace["id"]
    note = await space.make_note("- [ ] feed the axolotl", title="Pond")
    response = await space.client.delete(space.note(note["id"]), headers=space.owner.headers)
    assert response.status_code == 200, response.text
    await forget_derived_data(database, workspace_id)

    await rebuild(database, workspace_id)

    [task] = await space.note_tasks(note)
    assert await space.list_tasks() == []
    assert await items(space, "/search", q="axolotl", type="task") == []
    response = await space.client.post(
        space.note(note["id"], "restore"), headers=space.owner.headers
    )
    assert response.status_code == 200, response.text
    assert [t["id"] for t in await space.list_tasks()] == [task["id"]]
    hits = await items(space, "/search", q="axolotl", type="task")
    assert [hit["id"] for hit in hits] == [task["id"]]
