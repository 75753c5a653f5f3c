"""Search finds task texts and artifact titles as typed hits, each naming its note; on SQLite
and PostgreSQL through the real app."""

from typing import Any

import pytest

from tests.search.support import SearchSpace

pytestmark = pytest.mark.anyio

PROVENANCE = {"generator": "tests"}


async def note_tasks(space: SearchSpace, note_id: str) -> list[dict[str, Any]]:
    response = await space.client.get(f"{space.notes}/{note_id}/tasks", headers=space.owner.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def edit(space: SearchSpace, note_id: str, **changes: Any) -> dict[str, Any]:
    response = await space.client.patch(
        f"{space.notes}/{note_id}", json=changes, headers=space.owner.headers
    )
    assert response.status_code == 200, response.text
    note: dict[str, Any] = response.json()
    return note


async def create_artifact(space: SearchSpace, **fields: Any) -> dict[str, Any]:
    body = {"kind": "summary", "provenance": PROVENANCE, **fields}
    response = await space.client.post(
        f"/v1/workspaces/{space.workspace['id']}/artifacts", json=body, headers=space.owner.headers
    )
    assert response.status_code == 201, response.text
    artifact: dict[str, Any] = response.json()
    return artifact


def typed(hits: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    return [(hit["type"], hit["id"], hit["note_id"]) for hit in hits]


class TestTaskHits:
    async def test_task_text_is_a_task_hit_naming_its_note(self, space: SearchSpace):
        note = await space.note("Groceries", "- [ ] buy pomegranates #shopping\n- [x] milk")
        [task, _] = await note_tasks(space, note["id"])
        [hit] = await space.hits("pomegranates ", type="task")
        assert typed([hit]) == [("task", task["id"], note["id"])]
        assert hit["title"] == task["text"]
        assert hit["highlighted_title"].startswith("buy <mark>pomegranates</mark>")
        assert hit["tags"] == ["shopping"]
        assert hit["archived"] is False

    async def test_note_and_its_task_are_told_apart_and_filtered_by_type(self, space: SearchSpace):
        note = await space.note("Wombat care", "- [ ] feed the wombat")
        [task] = await note_tasks(space, note["id"])
        assert set(typed(await space.hits("wombat "))) == {
            ("note", note["id"], note["id"]),
            ("task", task["id"], note["id"]),
        }
        assert typed(await space.hits("wombat ", type="task")) == [("task", task["id"], note["id"])]
        assert typed(await space.hits("wombat ", type="note")) == [("note", note["id"], note["id"])]

    async def test_editing_the_task_text_follows_and_removing_the_line_drops_it(
        self, space: SearchSpace
    ):
        note = await space.note("Chores", "- [ ] sweep the verandah")
        [task] = await note_tasks(space, note["id"])
        await edit(space, note["id"], body="- [ ] sweep the verandah and patio")
        assert typed(await space.hits("patio ", type="task")) == [("task", task["id"], note["id"])]
        await edit(space, note["id"], body="Nothing left to do.")
        assert await space.hits("verandah ") == []

    async def test_checking_a_task_through_the_task_api_keeps_its_hit(self, space: SearchSpace):
        note = await space.note("Garden", "- [ ] prune the bougainvillea")
        [task] = await note_tasks(space, note["id"])
        response = await space.client.patch(
            f"/v1/workspaces/{space.workspace['id']}/tasks/{task['id']}",
            json={"text": "prune the jacaranda"},
            headers={**space.owner.headers, "If-Match": f'"{task["note_version"]}"'},
        )
        assert response.status_code == 200, response.text
        assert typed(await space.hits("jacaranda ", type="task")) == [
            ("task", task["id"], note["id"])
        ]
        assert await space.hits("bougainvillea ") == []

    async def test_tasks_of_a_trashed_note_are_not_found_until_it_is_restored(
        self, space: SearchSpace
    ):
        note = await space.note("Trip", "- [ ] pack the snorkel")
        [task] = await note_tasks(space, note["id"])
        url = f"{space.notes}/{note['id']}"
        assert (await space.client.delete(url, headers=space.owner.headers)).status_code == 200
        assert await space.hits("snorkel ") == []
        response = await space.client.post(f"{url}/restore", headers=space.owner.headers)
        assert response.status_code == 200, response.text
        assert typed(await space.hits("snorkel ", type="task")) == [
            ("task", task["id"], note["id"])
        ]

    async def test_tasks_of_a_purged_note_are_gone(self, space: SearchSpace):
        note = await space.note("Old plan", "- [ ] call the locksmith")
        url = f"{space.notes}/{note['id']}"
        assert (await space.client.delete(url, headers=space.owner.headers)).status_code == 200
        response = await space.client.post(f"{url}/purge", headers=space.owner.headers)
        assert response.status_code == 204, response.text
        response = await space.client.post(f"{url}/restore", headers=space.owner.headers)
        assert response.status_code == 404
        assert await space.hits("locksmith ") == []

    async def test_tasks_follow_their_notes_archived_flag(self, space: SearchSpace):
        note = await space.note("Archive me", "- [ ] renew the passport")
        await edit(space, note["id"], archived=True)
        [hit] = await space.hits("passport ", type="task")
        assert hit["archived"] is True
        assert await space.hits("passport ", archived="false") == []
        await edit(space, note["id"], archived=False)
        hits = await space.hits("passport ", archived="false")
        assert sorted(h["type"] for h in hits) == ["note", "task"]

    async def test_many_tasks_of_one_note_are_all_found(self, space: SearchSpace):
        body = "\n".join(f"- [ ] numbat survey site {i}" for i in range(25))
        note = await space.note("Fieldwork", body)
        hits = await space.hits("numbat ", type="task", limit=50)
        assert len(hits) == 25
        assert {hit["note_id"] for hit in hits} == {note["id"]}


class TestArtifactHits:
    async def test_artifact_title_is_an_artifact_hit_naming_its_first_source(
        self, space: SearchSpace
    ):
        first = await space.note("Source one", "")
        second = await space.note("Source two", "")
        artifact = await create_artifact(
            space,
            title="Echidna digest",
            content={"text": "Spiny anteaters lay eggs."},
            sources=[{"note_id": first["id"]}, {"note_id": second["id"]}],
        )
        [hit] = await space.hits("echidna ")
        assert typed([hit]) == [("artifact", artifact["id"], first["id"])]
        assert hit["title"] == "Echidna digest"

    async def test_content_text_is_searchable(self, space: SearchSpace):
        artifact = await create_artifact(
            space,
            kind="flashcards",
            title="Cards",
            content={"cards": [{"front": "Capital of Tasmania?", "back": "Hobart"}]},
        )
        [hit] = await space.hits("hobart ")
        assert typed([hit]) == [("artifact", artifact["id"], None)]
        assert "<mark>Hobart</mark>" in hit["snippet"]

    async def test_renaming_and_deleting_follow(self, space: SearchSpace):
        artifact = await create_artifact(
            space, title="Platypus notes", content={"text": "Monotreme."}
        )
        url = f"/v1/workspaces/{space.workspace['id']}/artifacts/{artifact['id']}"
        response = await space.client.patch(
            url, json={"title": "Bilby notes"}, headers=space.owner.headers
        )
        assert response.status_code == 200, response.text
        assert await space.hits("platypus ") == []
        assert typed(await space.hits("bilby ")) == [("artifact", artifact["id"], None)]
        response = await space.client.delete(url, headers=space.owner.headers)
        assert response.status_code == 204, response.text
        assert await space.hits("bilby ") == []

    async def test_other_workspaces_do_not_see_them(self, space: SearchSpace):
        await create_artifact(space, title="Quoll report", content={"text": "Spotted."})
        await space.note("Quoll tasks", "- [ ] count the quolls")
        stranger = await space.factory.user("stranger")
        elsewhere = await space.factory.workspace(stranger)
        await space.factory.note(elsewhere, stranger, title="Unrelated", body="")
        response = await space.client.get(
            f"/v1/workspaces/{elsewhere['id']}/search",
            params={"q": "quoll"},
            headers=stranger.headers,
        )
        assert response.status_code == 200, response.text
        assert response.json()["items"] == []
