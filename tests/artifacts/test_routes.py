"""Artifacts over HTTP: content schemas per kind, sources and staleness, provenance, If-Match."""

from typing import Any

import pytest

from tests.factories import Actor, Factory
from tests.notes.support import assert_validation_error, if_match
from tests.problems import assert_problem

pytestmark = pytest.mark.anyio

PROVENANCE = {"generator": "study-helper", "model": "gpt-test", "parameters": {"temperature": 0.2}}

VALID_CONTENT: dict[str, Any] = {
    "summary": {"text": "Mitochondria make ATP."},
    "flashcards": {"cards": [{"front": "ATP?", "back": "Energy currency"}]},
    "quiz": {
        "questions": [
            {"prompt": "Where is ATP made?", "choices": ["Nucleus", "Mitochondria"], "answer": 1}
        ]
    },
    "outline": {"items": [{"text": "Cells", "children": [{"text": "Organelles"}]}]},
    "glossary": {"entries": [{"term": "ATP", "definition": "Adenosine triphosphate"}]},
    "custom": {"mindmap": {"root": "Cells", "edges": [["Cells", "ATP"]]}},
}


class Space:
    def __init__(self, factory: Factory, owner: Actor, workspace: dict[str, Any]) -> None:
        self.factory = factory
        self.client = factory.client
        self.owner = owner
        self.workspace = workspace
        self.url = f"/v1/workspaces/{workspace['id']}/artifacts"
        self.notes = f"/v1/workspaces/{workspace['id']}/notes"

    async def note(self, **fields: Any) -> dict[str, Any]:
        return await self.factory.note(self.workspace, self.owner, **fields)

    async def create(self, kind: str = "summary", **fields: Any) -> dict[str, Any]:
        body = {
            "kind": kind,
            "title": f"A {kind}",
            "content": VALID_CONTENT[kind],
            "provenance": PROVENANCE,
            **fields,
        }
        response = await self.client.post(self.url, json=body, headers=self.owner.headers)
        assert response.status_code == 201, response.text
        artifact: dict[str, Any] = response.json()
        return artifact

    async def get(self, artifact_id: str) -> dict[str, Any]:
        response = await self.client.get(f"{self.url}/{artifact_id}", headers=self.owner.headers)
        assert response.status_code == 200, response.text
        artifact: dict[str, Any] = response.json()
        return artifact

    async def edit_note(self, note_id: str, **changes: Any) -> dict[str, Any]:
        response = await self.client.patch(
            f"{self.notes}/{note_id}", json=changes, headers=self.owner.headers
        )
        assert response.status_code == 200, response.text
        note: dict[str, Any] = response.json()
        return note


@pytest.fixture
async def space(factory: Factory) -> Space:
    owner = await factory.user("owner")
    return Space(factory, owner, await factory.workspace(owner))


class TestCreateArtifact:
    @pytest.mark.parametrize("kind", sorted(VALID_CONTENT))
    async def test_each_kind_is_stored_with_its_content(self, space: Space, kind: str) -> None:
        created = await space.create(kind)
        assert created["kind"] == kind
        fetched = await space.get(created["id"])
        assert fetched["content"] == created["content"]
        assert fetched["kind"] == kind

    async def test_sources_default_to_current_version_and_provenance_is_recorded(
        self, space: Space
    ) -> None:
        note = await space.note()
        note = await space.edit_note(note["id"], body="second version")
        response = await space.client.post(
            space.url,
            json={
                "kind": "summary",
                "title": "Summary",
                "content": {"text": "short"},
                "sources": [{"note_id": note["id"]}],
                "provenance": PROVENANCE,
            },
            headers=space.owner.headers,
        )
        assert response.status_code == 201, response.text
        artifact = response.json()
        assert response.headers["etag"] == '"1"'
        assert response.headers["location"].endswith(artifact["id"])
        assert artifact["sources"] == [
            {"note_id": note["id"], "version": 2, "current_version": 2, "state": "current"}
        ]
        assert artifact["stale"] is False
        assert artifact["stale_sources"] == []
        assert artifact["provenance"] == PROVENANCE
        assert artifact["created_by"] == space.owner.user_id
        assert artifact["version"] == 1

    async def test_an_older_source_version_makes_it_stale_from_the_start(
        self, space: Space
    ) -> None:
        note = await space.note()
        await space.edit_note(note["id"], body="newer")
        artifact = await space.create(sources=[{"note_id": note["id"], "version": 1}])
        assert artifact["stale"] is True
        assert artifact["sources"][0]["state"] == "changed"
        assert artifact["sources"][0]["current_version"] == 2

    async def test_source_version_above_current_is_refused(self, space: Space) -> None:
        note = await space.note()
        response = await space.client.post(
            space.url,
            json={
                "kind": "summary",
                "title": "t",
                "content": {"text": "x"},
                "sources": [{"note_id": note["id"], "version": 5}],
                "provenance": PROVENANCE,
            },
            headers=space.owner.headers,
        )
        problem = assert_problem(response, 409, "source-version-ahead")
        assert problem["current_version"] == 1

    async def test_source_note_of_another_workspace_is_refused(
        self, space: Space, factory: Factory
    ) -> None:
        other = await factory.workspace(space.owner, "Other")
        foreign = await factory.note(other, space.owner)
        response = await space.client.post(
            space.url,
            json={
                "kind": "summary",
                "title": "t",
                "content": {"text": "x"},
                "sources": [{"note_id": foreign["id"]}],
                "provenance": PROVENANCE,
            },
            headers=space.owner.headers,
        )
        problem = assert_problem(response, 422, "source-note-not-found")
        assert problem["note_id"] == foreign["id"]

    async def test_trashed_source_note_is_refused(self, space: Space) -> None:
        note = await space.note()
        trashed = await space.client.delete(
            f"{space.notes}/{note['id']}", headers=space.owner.headers
        )
        assert trashed.status_code == 200
        response = await space.client.post(
            space.url,
            json={
                "kind": "summary",
                "title": "t",
                "content": {"text": "x"},
                "sources": [{"note_id": note["id"]}],
                "provenance": PROVENANCE,
            },
            headers=space.owner.headers,
        )
        assert_problem(response, 409, "source-note-in-trash")

    async def test_duplicate_sources_are_refused(self, space: Space) -> None:
        note = await space.note()
        response = await space.client.post(
            space.url,
            json={
                "kind": "summary",
                "title": "t",
                "content": {"text": "x"},
                "sources": [{"note_id": note["id"]}, {"note_id": note["id"]}],
                "provenance": PROVENANCE,
            },
            headers=space.owner.headers,
        )
        assert_validation_error(response, "summary", "sources")

    @pytest.mark.parametrize(
        ("kind", "content", "location"),
        [
            ("summary", {"text": "   "}, ("summary", "content", "text")),
            ("flashcards", {"cards": []}, ("flashcards", "content", "cards")),
            ("flashcards", {"cards": [{"front": "q"}]}, ("flashcards", "content", "cards")),
            (
                "quiz",
                {"questions": [{"prompt": "p", "choices": ["a", "b"], "answer": 2}]},
                ("quiz", "content", "questions"),
            ),
            (
                "quiz",
                {"questions": [{"prompt": "p", "choices": ["only"], "answer": 0}]},
                ("quiz", "content", "questions"),
            ),
            (
                "glossary",
                {
                    "entries": [
                        {"term": "ATP", "definition": "a"},
                        {"term": "atp", "definition": "b"},
                    ]
                },
                ("glossary", "content"),
            ),
            ("custom", {"blob": "x" * 70_000}, ("custom", "content")),
            ("summary", {"text": "ok", "extra": 1}, ("summary", "content", "extra")),
        ],
    )
    async def test_content_that_does_not_fit_its_kind_is_422(
        self, space: Space, kind: str, content: dict[str, Any], location: tuple[str, ...]
    ) -> None:
        response = await space.client.post(
            space.url,
            json={"kind": kind, "title": "t", "content": content, "provenance": PROVENANCE},
            headers=space.owner.headers,
        )
        assert_validation_error(response, *location)

    async def test_outline_deeper_than_the_limit_is_422(self, space: Space) -> None:
        item: dict[str, Any] = {"text": "leaf"}
        for level in range(10):
            item = {"text": f"level {level}", "children": [item]}
        response = await space.client.post(
            space.url,
            json={
                "kind": "outline",
                "title": "t",
                "content": {"items": [item]},
                "provenance": PROVENANCE,
            },
            headers=space.owner.headers,
        )
        assert_validation_error(response, "outline", "content")

    async def test_unknown_kind_is_422(self, space: Space) -> None:
        response = await space.client.post(
            space.url,
            json={"kind": "poem", "title": "t", "content": {}, "provenance": PROVENANCE},
            headers=space.owner.headers,
        )
        assert_problem(response, 422, "validation-failed")

    async def test_viewer_cannot_create(self, space: Space) -> None:
        viewer = await space.factory.member(space.workspace, space.owner, "viewer")
        response = await space.client.post(
            space.url,
            json={
                "kind": "summary",
                "title": "t",
                "content": {"text": "x"},
                "provenance": PROVENANCE,
            },
            headers=viewer.headers,
        )
        assert_problem(response, 403, "insufficient-role")

    async def test_without_token_is_401(self, space: Space) -> None:
        response = await space.client.post(
            space.url,
            json={
                "kind": "summary",
                "title": "t",
                "content": {"text": "x"},
                "provenance": PROVENANCE,
            },
        )
        assert_problem(response, 401, "unauthenticated")


class TestGetArtifact:
    async def test_non_member_gets_404(self, space: Space) -> None:
        artifact = await space.create()
        stranger = await space.factory.user("stranger")
        response = await space.client.get(f"{space.url}/{artifact['id']}", headers=stranger.headers)
        assert_problem(response, 404, "workspace-not-found")

    async def test_artifact_of_another_workspace_is_404(self, space: Space) -> None:
        artifact = await space.create()
        other = await space.factory.workspace(space.owner, "Other")
        response = await space.client.get(
            f"/v1/workspaces/{other['id']}/artifacts/{artifact['id']}", headers=space.owner.headers
        )
        assert_problem(response, 404, "artifact-not-found")

    async def test_viewer_can_read(self, space: Space) -> None:
        artifact = await space.create()
        viewer = await space.factory.member(space.workspace, space.owner, "viewer")
        response = await space.client.get(f"{space.url}/{artifact['id']}", headers=viewer.headers)
        assert response.status_code == 200
        assert response.headers["etag"] == '"1"'


class TestStaleness:
    async def test_editing_a_source_note_makes_the_artifact_stale(self, space: Space) -> None:
        kept = await space.note()
        edited = await space.note()
        artifact = await space.create(sources=[{"note_id": kept["id"]}, {"note_id": edited["id"]}])
        assert artifact["stale"] is False
        await space.edit_note(edited["id"], body="rewritten")
        fetched = await space.get(artifact["id"])
        assert fetched["stale"] is True
        assert fetched["stale_sources"] == [edited["id"]]
        assert [s["state"] for s in fetched["sources"]] == ["current", "changed"]
        assert fetched["sources"][1]["version"] == 1
        assert fetched["sources"][1]["current_version"] == 2

    async def test_trash_and_purge_of_a_source_are_reported(self, space: Space) -> None:
        note = await space.note()
        artifact = await space.create(sources=[{"note_id": note["id"]}])
        trashed = await space.client.delete(
            f"{space.notes}/{note['id']}", headers=space.owner.headers
        )
        assert trashed.status_code == 200
        source = (await space.get(artifact["id"]))["sources"][0]
        assert source["state"] == "trashed"
        purged = await space.client.post(
            f"{space.notes}/{note['id']}/purge", headers=space.owner.headers
        )
        assert purged.status_code == 204
        fetched = await space.get(artifact["id"])
        assert fetched["stale"] is True
        assert fetched["sources"] == [
            {"note_id": note["id"], "version": 1, "current_version": None, "state": "purged"}
        ]

    async def test_replacing_sources_after_regenerating_clears_staleness(
        self, space: Space
    ) -> None:
        note = await space.note()
        artifact = await space.create(sources=[{"note_id": note["id"]}])
        await space.edit_note(note["id"], body="changed")
        response = await space.client.patch(
            f"{space.url}/{artifact['id']}",
            json={"content": {"text": "regenerated"}, "sources": [{"note_id": note["id"]}]},
            headers=if_match(1, space.owner.headers),
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["stale"] is False
        assert body["sources"][0]["version"] == 2
        assert body["version"] == 2
        assert response.headers["etag"] == '"2"'

    async def test_listing_reports_staleness_per_item(self, space: Space) -> None:
        note = await space.note()
        stale = await space.create(sources=[{"note_id": note["id"]}])
        await space.edit_note(note["id"], body="changed")
        fresh = await space.create(sources=[{"note_id": note["id"]}])
        response = await space.client.get(space.url, headers=space.owner.headers)
        assert response.status_code == 200
        by_id = {item["id"]: item for item in response.json()["items"]}
        assert by_id[stale["id"]]["stale"] is True
        assert by_id[fresh["id"]]["stale"] is False
        assert "content" not in by_id[fresh["id"]]


class TestListArtifacts:
    async def test_filters_by_kind_and_source_note(self, space: Space) -> None:
        note = await space.note()
        quiz = await space.create("quiz", sources=[{"note_id": note["id"]}])
        summary = await space.create("summary", sources=[{"note_id": note["id"]}])
        await space.create("quiz")
        by_kind = await space.client.get(
            space.url, params={"kind": "summary"}, headers=space.owner.headers
        )
        assert [a["id"] for a in by_kind.json()["items"]] == [summary["id"]]
        by_note = await space.client.get(
            space.url, params={"source_note_id": note["id"]}, headers=space.owner.headers
        )
        assert [a["id"] for a in by_note.json()["items"]] == [summary["id"], quiz["id"]]
        both = await space.client.get(
            space.url,
            params={"source_note_id": note["id"], "kind": "quiz"},
            headers=space.owner.headers,
        )
        assert [a["id"] for a in both.json()["items"]] == [quiz["id"]]

    async def test_pages_follow_the_cursor_newest_first(self, space: Space) -> None:
        created = [await space.create() for _ in range(5)]
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2}
            if cursor:
                params["cursor"] = cursor
            response = await space.client.get(space.url, params=params, headers=space.owner.headers)
            assert response.status_code == 200
            page = response.json()
            seen += [a["id"] for a in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [a["id"] for a in reversed(created)]

    async def test_bad_cursor_is_400(self, space: Space) -> None:
        response = await space.client.get(
            space.url, params={"cursor": "nonsense"}, headers=space.owner.headers
        )
        assert_problem(response, 400, "invalid-cursor")


class TestUpdateArtifact:
    async def test_stale_if_match_returns_412_with_current_version(self, space: Space) -> None:
        artifact = await space.create()
        first = await space.client.patch(
            f"{space.url}/{artifact['id']}",
            json={"title": "Renamed"},
            headers=if_match(1, space.owner.headers),
        )
        assert first.status_code == 200
        assert first.headers["etag"] == '"2"'
        second = await space.client.patch(
            f"{space.url}/{artifact['id']}",
            json={"title": "Again"},
            headers=if_match(1, space.owner.headers),
        )
        problem = assert_problem(second, 412, "stale-version")
        assert problem["current_version"] == 2
        assert (await space.get(artifact["id"]))["title"] == "Renamed"

    async def test_content_is_checked_against_the_artifacts_kind(self, space: Space) -> None:
        artifact = await space.create("quiz")
        response = await space.client.patch(
            f"{space.url}/{artifact['id']}",
            json={"content": {"questions": [{"prompt": "p", "choices": ["a", "b"], "answer": 7}]}},
            headers=space.owner.headers,
        )
        problem = assert_problem(response, 422, "invalid-artifact-content")
        assert problem["errors"][0]["loc"][:3] == ["body", "content", "questions"]
        wrong_kind = await space.client.patch(
            f"{space.url}/{artifact['id']}",
            json={"content": {"text": "a summary is not a quiz"}},
            headers=space.owner.headers,
        )
        assert_problem(wrong_kind, 422, "invalid-artifact-content")
        assert (await space.get(artifact["id"]))["version"] == 1

    async def test_provenance_can_be_replaced(self, space: Space) -> None:
        artifact = await space.create()
        editor = await space.factory.member(space.workspace, space.owner, "editor")
        new_provenance = {"generator": "other-tool", "model": None, "parameters": {}}
        response = await space.client.patch(
            f"{space.url}/{artifact['id']}",
            json={"provenance": new_provenance},
            headers=editor.headers,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["provenance"] == new_provenance
        assert body["updated_by"] == editor.user_id
        assert body["created_by"] == space.owner.user_id

    async def test_unchanged_patch_keeps_the_version(self, space: Space) -> None:
        artifact = await space.create()
        response = await space.client.patch(
            f"{space.url}/{artifact['id']}",
            json={"title": artifact["title"], "content": artifact["content"]},
            headers=space.owner.headers,
        )
        assert response.status_code == 200
        assert response.json()["version"] == 1

    async def test_viewer_cannot_update(self, space: Space) -> None:
        artifact = await space.create()
        viewer = await space.factory.member(space.workspace, space.owner, "viewer")
        response = await space.client.patch(
            f"{space.url}/{artifact['id']}", json={"title": "x"}, headers=viewer.headers
        )
        assert_problem(response, 403, "insufficient-role")


class TestDeleteArtifact:
    async def test_delete_then_404(self, space: Space) -> None:
        artifact = await space.create(sources=[{"note_id": (await space.note())["id"]}])
        stale = await space.client.delete(
            f"{space.url}/{artifact['id']}", headers=if_match(3, space.owner.headers)
        )
        assert_problem(stale, 412, "stale-version")
        response = await space.client.delete(
            f"{space.url}/{artifact['id']}", headers=if_match(1, space.owner.headers)
        )
        assert response.status_code == 204
        gone = await space.client.get(f"{space.url}/{artifact['id']}", headers=space.owner.headers)
        assert_problem(gone, 404, "artifact-not-found")
