"""What ``ainotes reindex`` rebuilds besides the notes' search documents: links and tasks of
notes that predate those tables, through the service functions the command calls, and the
artifacts' search documents, through the command itself. On SQLite and PostgreSQL."""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from ainotes.app import create_app
from ainotes.cli import app as cli
from ainotes.core import migrations
from ainotes.core.config import Settings, get_settings
from ainotes.core.db import Database
from ainotes.relationships import service as relationships_service
from ainotes.tasks import service as tasks_service
from tests.conftest import _drop_postgres_database, make_database_url, served, settings_for
from tests.factories import Factory
from tests.tasks.support import Space, make_space

pytestmark = pytest.mark.anyio

PROVENANCE = {"generator": "tests"}


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


# --- artifacts, through the command --------------------------------------------------------


async def reindex_command(settings: Settings, *args: str) -> str:
    """``ainotes reindex`` as an operator runs it, against the database of ``settings``."""
    env = {
        "AINOTES_DATABASE_URL": settings.database_url,
        "AINOTES_DATA_DIR": str(settings.data_dir),
    }

    def run() -> str:
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(cli, ["reindex", *args], env=env)
        finally:
            get_settings.cache_clear()
        assert result.exit_code == 0, (result.output, result.exception)
        return result.output

    # The command runs its own event loop.
    return await anyio.to_thread.run_sync(run)


@pytest.fixture
def _no_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Settings also read ./.env; the command runs where there is none.
    monkeypatch.chdir(tmp_path)


async def make_artifact(space: Space, **fields: Any) -> dict[str, Any]:
    body = {"kind": "summary", "provenance": PROVENANCE, **fields}
    response = await space.client.post(
        f"{space.base}/artifacts", json=body, headers=space.owner.headers
    )
    assert response.status_code == 201, response.text
    artifact: dict[str, Any] = response.json()
    return artifact


def artifact_hits(found: list[dict[str, Any]]) -> list[tuple[str, str | None, str]]:
    return [(hit["id"], hit["note_id"], hit["title"]) for hit in found if hit["type"] == "artifact"]


async def spoil_artifact_documents(database: Database, workspace_id: str, stale_id: str) -> None:
    """An index that lost some artifacts' documents and kept another's out of date."""
    async with database.write_session() as session:
        await session.execute(
            text(
                "UPDATE search_documents SET title = 'stale', body = 'stale' "
                "WHERE workspace_id = :ws AND doc_type = 'artifact' AND doc_id = :id"
            ),
            {"ws": workspace_id, "id": stale_id},
        )
        await session.execute(
            text(
                "DELETE FROM search_documents "
                "WHERE workspace_id = :ws AND doc_type = 'artifact' AND doc_id <> :id"
            ),
            {"ws": workspace_id, "id": stale_id},
        )


@pytest.mark.usefixtures("_no_dotenv")
async def test_command_rebuilds_artifact_documents(
    factory: Factory, database: Database, settings: Settings
):
    space = await make_space(factory)
    workspace_id = space.workspace["id"]
    first = await space.make_note("Plain text.", title="Field trip")
    second = await space.make_note("More text.", title="Follow-up")
    sourced = await make_artifact(
        space,
        title="Pangolin digest",
        content={"text": "Scaly anteaters roll up."},
        sources=[{"note_id": first["id"]}, {"note_id": second["id"]}],
    )
    unsourced = await make_artifact(
        space,
        kind="flashcards",
        title="Cards",
        content={"cards": [{"front": "What rolls up?", "back": "A pangolin"}]},
    )
    query = {"q": "pangolin", "type": "artifact"}
    # As written by the artifact routes: the note of an artifact's hit is its first source.
    indexed = sorted(
        [(sourced["id"], first["id"], "Pangolin digest"), (unsourced["id"], None, "Cards")]
    )
    assert sorted(artifact_hits(await items(space, "/search", **query))) == indexed
    await spoil_artifact_documents(database, workspace_id, stale_id=unsourced["id"])
    assert artifact_hits(await items(space, "/search", **query)) == []

    output = await reindex_command(settings, "--workspace", workspace_id)

    assert "rebuilt for 1 workspace(s)" in output
    assert sorted(artifact_hits(await items(space, "/search", **query))) == indexed
    assert artifact_hits(await items(space, "/search", q="stale")) == []


@pytest.mark.usefixtures("_no_dotenv")
async def test_command_removes_documents_of_artifacts_that_are_gone(
    factory: Factory, database: Database, settings: Settings
):
    space = await make_space(factory)
    workspace_id = space.workspace["id"]
    kept = await make_artifact(space, title="Okapi notes", content={"text": "Forest giraffe."})
    gone = await make_artifact(space, title="Okapi cards", content={"text": "Striped legs."})
    # As after restoring the artifacts table from an older backup than the index.
    async with database.write_session() as session:
        await session.execute(
            text("DELETE FROM artifacts WHERE workspace_id = :ws AND id = :id"),
            {"ws": workspace_id, "id": gone["id"]},
        )
    found = await items(space, "/search", q="okapi", type="artifact")
    assert {hit["id"] for hit in found} == {kept["id"], gone["id"]}

    await reindex_command(settings, "--workspace", workspace_id)

    found = await items(space, "/search", q="okapi", type="artifact")
    assert [hit["id"] for hit in found] == [kept["id"]]


@pytest.fixture
async def own_database(
    settings: Settings, tmp_path: Path
) -> AsyncIterator[tuple[Settings, Factory]]:
    """A database of the test's own, for a reindex of every workspace in it, and a factory
    working through the app on it."""
    backend = "sqlite" if settings.is_sqlite else "postgres"
    url = await make_database_url(backend, tmp_path, f"reindex_{uuid.uuid4().hex[:8]}")
    own = settings_for(url, tmp_path / "data")
    try:
        await anyio.to_thread.run_sync(migrations.upgrade, own.effective_database_url)
        app = create_app(own)
        async with served(app) as http:
            yield own, Factory(app.state.database, http)
    finally:
        if backend == "postgres":
            await _drop_postgres_database(url)


@pytest.mark.usefixtures("_no_dotenv")
async def test_command_visits_workspaces_with_artifacts_and_no_notes(
    own_database: tuple[Settings, Factory],
):
    own, factory = own_database
    with_notes = await make_space(factory)
    await with_notes.make_note("Where the quokkas live.", title="Rottnest")
    artifacts_only = await make_space(factory)
    artifact = await make_artifact(
        artifacts_only, title="Quokka facts", content={"text": "They smile."}
    )
    await spoil_artifact_documents(factory.database, artifacts_only.workspace["id"], stale_id="")

    output = await reindex_command(own)

    assert "rebuilt for 2 workspace(s)" in output
    found = await items(artifacts_only, "/search", q="quokka")
    assert artifact_hits(found) == [(artifact["id"], None, "Quokka facts")]


@pytest.mark.usefixtures("_no_dotenv")
async def test_command_visits_workspaces_left_with_documents_only(
    own_database: tuple[Settings, Factory],
):
    own, factory = own_database
    space = await make_space(factory)
    gone = await make_artifact(space, title="Tapir facts", content={"text": "A long nose."})
    async with factory.database.write_session() as session:
        await session.execute(
            text("DELETE FROM artifacts WHERE workspace_id = :ws AND id = :id"),
            {"ws": space.workspace["id"], "id": gone["id"]},
        )
    assert artifact_hits(await items(space, "/search", q="tapir")) != []

    await reindex_command(own)

    assert artifact_hits(await items(space, "/search", q="tapir")) == []
