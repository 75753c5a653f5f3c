"""Across modules: one note with wikilinks, tasks and an attachment reference goes through its
life (create, edit, rename, trash, restore) while another note links to it, and at every step
links, backlinks, tasks, search hits, the note's attachments and an artifact's staleness
follow. A second workspace holding notes with the same titles sees none of it. On SQLite and
PostgreSQL through the real app."""

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.factories import Actor, Factory

pytestmark = pytest.mark.anyio


@dataclass
class Space:
    client: httpx.AsyncClient
    owner: Actor
    workspace_id: str

    @property
    def base(self) -> str:
        return f"/v1/workspaces/{self.workspace_id}"

    async def call(
        self, method: str, path: str, expected: int = 200, **kwargs: Any
    ) -> dict[str, Any]:
        response = await self.client.request(
            method, self.base + path, headers=self.owner.headers, **kwargs
        )
        assert response.status_code == expected, response.text
        body: dict[str, Any] = response.json() if response.content else {}
        return body

    async def items(self, path: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (await self.call("GET", path, params=params))["items"]
        return items

    async def note(self, title: str, body: str) -> dict[str, Any]:
        return await self.call("POST", "/notes", 201, json={"title": title, "body": body})

    async def edit(self, note_id: str, **changes: Any) -> dict[str, Any]:
        return await self.call("PATCH", f"/notes/{note_id}", json=changes)

    async def links(self, note_id: str) -> list[tuple[str, str | None]]:
        """(title as written, resolved target id) of the note's links."""
        return [
            (link["target_title"], link["target"]["id"] if link["resolved"] else None)
            for link in await self.items(f"/notes/{note_id}/links")
        ]

    async def backlinks(self, note_id: str) -> list[tuple[str, str]]:
        """(linking note id, context) of the note's backlinks."""
        return [
            (link["source_note"]["id"], link["context"])
            for link in await self.items(f"/notes/{note_id}/backlinks")
        ]

    async def tasks(self, note_id: str) -> dict[str, str]:
        """text → id of the note's tasks."""
        return {task["text"]: task["id"] for task in await self.items(f"/notes/{note_id}/tasks")}

    async def task_list(self) -> set[str]:
        return {task["id"] for task in await self.items("/tasks", limit=200)}

    async def search(self, q: str) -> set[tuple[str, str, str | None]]:
        return {
            (hit["type"], hit["id"], hit["note_id"])
            for hit in await self.items("/search", q=q, limit=50)
        }

    async def stale(self, artifact_id: str) -> bool:
        stale: bool = (await self.call("GET", f"/artifacts/{artifact_id}"))["stale"]
        return stale

    async def attachments_of(self, note_id: str) -> list[str]:
        note = await self.call("GET", f"/notes/{note_id}")
        return [attachment["id"] for attachment in note["attachments"]]


async def make_space(factory: Factory) -> Space:
    owner = await factory.user("owner")
    workspace = await factory.workspace(owner)
    return Space(factory.client, owner, workspace["id"])


LINKER_LINE = "Before the trip, read [[Zebra facts]] twice."
RENAMED_LINKER_LINE = "Before the trip, read [[Zebra handbook]] twice."


def zebra_body(attachment_id: str, *tasks: str) -> str:
    items = "\n".join(f"- [ ] {task}" for task in tasks)
    return f"Zebras live on the [[Savanna]].\n\n{items}\n\n![stripes](attachment:{attachment_id})\n"


class Twin:
    """The second workspace: same titles, same link, same task texts; it must never see the
    first workspace's notes, links, tasks or hits, nor be changed by its writes."""

    def __init__(self, space: Space, zebra: dict[str, Any], linker: dict[str, Any]) -> None:
        self.space, self.zebra, self.linker = space, zebra, linker

    async def check(self, other: Space, other_zebra_id: str) -> None:
        zebra_id, linker_id = self.zebra["id"], self.linker["id"]
        assert await self.space.backlinks(zebra_id) == [(linker_id, LINKER_LINE)]
        assert await self.space.links(linker_id) == [("Zebra facts", zebra_id)]
        [task_id] = (await self.space.tasks(zebra_id)).values()
        assert await self.space.task_list() == {task_id}
        assert await self.space.search("zebras ") == {
            ("note", zebra_id, zebra_id),
            ("task", task_id, zebra_id),
        }
        assert await self.space.attachments_of(zebra_id) == []
        # And the other way round: the first workspace's note is not found from here.
        response = await self.space.client.get(
            f"{self.space.base}/notes/{other_zebra_id}", headers=self.space.owner.headers
        )
        assert response.status_code == 404
        response = await other.client.get(
            f"{other.base}/notes/{zebra_id}/backlinks", headers=other.owner.headers
        )
        assert response.status_code == 404


async def test_a_note_and_everything_derived_from_it_follow_its_life(factory: Factory):
    space = await make_space(factory)
    twin_space = await make_space(factory)
    twin = Twin(
        twin_space,
        await twin_space.note("Zebra facts", "- [ ] count the zebras"),
        await twin_space.note("Linker", LINKER_LINE),
    )

    upload = await space.client.post(
        f"{space.base}/attachments",
        content=b"stripes",
        params={"filename": "stripes.txt"},
        headers={**space.owner.headers, "Content-Type": "text/plain"},
    )
    assert upload.status_code == 201, upload.text
    attachment_id = upload.json()["id"]

    # --- create: the zebra note, a note linking to it, an artifact made from it ---------
    zebra = await space.note(
        "Zebra facts", zebra_body(attachment_id, "count the zebras", "photograph foals")
    )
    zebra_id = zebra["id"]
    linker = await space.note("Linker", LINKER_LINE)
    linker_id = linker["id"]
    artifact = await space.call(
        "POST",
        "/artifacts",
        201,
        json={
            "kind": "summary",
            "title": "Zebra summary",
            "content": {"text": "Zebras have stripes."},
            "sources": [{"note_id": zebra_id}],
            "provenance": {"generator": "tests"},
        },
    )
    artifact_id = artifact["id"]

    tasks = await space.tasks(zebra_id)
    assert list(tasks) == ["count the zebras", "photograph foals"]
    count_id, photo_id = tasks["count the zebras"], tasks["photograph foals"]
    assert await space.links(zebra_id) == [("Savanna", None)]
    assert await space.links(linker_id) == [("Zebra facts", zebra_id)]
    assert await space.backlinks(zebra_id) == [(linker_id, LINKER_LINE)]
    assert await space.task_list() == {count_id, photo_id}
    assert await space.search("zebras ") == {
        ("note", zebra_id, zebra_id),
        ("task", count_id, zebra_id),
        ("artifact", artifact_id, zebra_id),
    }
    assert await space.attachments_of(zebra_id) == [attachment_id]
    assert await space.stale(artifact_id) is False
    await twin.check(space, zebra_id)

    # --- edit: a task re-worded, one added; a note for the unresolved link appears ------
    await space.edit(
        zebra_id,
        body=zebra_body(
            attachment_id, "count the zebras at dawn", "photograph foals", "ring the ranger"
        ),
    )
    savanna = await space.note("Savanna", "Grassland.")
    tasks = await space.tasks(zebra_id)
    assert tasks["count the zebras at dawn"] == count_id
    assert tasks["photograph foals"] == photo_id
    ranger_id = tasks["ring the ranger"]
    assert ranger_id not in (count_id, photo_id)
    assert await space.links(zebra_id) == [("Savanna", savanna["id"])]
    assert await space.backlinks(savanna["id"]) == [(zebra_id, "Zebras live on the [[Savanna]].")]
    assert await space.backlinks(zebra_id) == [(linker_id, LINKER_LINE)]
    assert await space.task_list() == {count_id, photo_id, ranger_id}
    assert await space.search("dawn ") == {
        ("note", zebra_id, zebra_id),
        ("task", count_id, zebra_id),
    }
    assert await space.search("ranger ") == {
        ("note", zebra_id, zebra_id),
        ("task", ranger_id, zebra_id),
    }
    assert await space.stale(artifact_id) is True
    await twin.check(space, zebra_id)

    # --- rename: the old title no longer resolves until the linking note follows -------
    await space.edit(zebra_id, title="Zebra handbook")
    assert await space.links(linker_id) == [("Zebra facts", None)]
    assert await space.backlinks(zebra_id) == []
    assert ("note", zebra_id, zebra_id) in await space.search("handbook ")
    await space.edit(linker_id, body=RENAMED_LINKER_LINE)
    assert await space.links(linker_id) == [("Zebra handbook", zebra_id)]
    assert await space.backlinks(zebra_id) == [(linker_id, RENAMED_LINKER_LINE)]
    assert (await space.tasks(zebra_id))["count the zebras at dawn"] == count_id
    await twin.check(space, zebra_id)

    # --- trash: out of search, the task list and link resolution; the artifact says so --
    await space.call("DELETE", f"/notes/{zebra_id}")
    assert await space.search("zebras ") == {("artifact", artifact_id, zebra_id)}
    assert await space.search("ranger ") == set()
    assert await space.task_list() == set()
    assert await space.links(linker_id) == [("Zebra handbook", None)]
    assert await space.stale(artifact_id) is True
    # The trashed note itself still shows what it holds.
    assert await space.attachments_of(zebra_id) == [attachment_id]
    await twin.check(space, zebra_id)

    # --- restore: everything comes back, with the same task ids -------------------------
    await space.call("POST", f"/notes/{zebra_id}/restore")
    assert await space.tasks(zebra_id) == {
        "count the zebras at dawn": count_id,
        "photograph foals": photo_id,
        "ring the ranger": ranger_id,
    }
    assert await space.task_list() == {count_id, photo_id, ranger_id}
    assert await space.links(linker_id) == [("Zebra handbook", zebra_id)]
    assert await space.backlinks(zebra_id) == [(linker_id, RENAMED_LINKER_LINE)]
    assert await space.links(zebra_id) == [("Savanna", savanna["id"])]
    assert await space.search("zebras ") == {
        ("note", zebra_id, zebra_id),
        ("task", count_id, zebra_id),
        ("artifact", artifact_id, zebra_id),
    }
    assert await space.attachments_of(zebra_id) == [attachment_id]
    # Regenerating from the current version clears staleness.
    await space.call(
        "PATCH", f"/artifacts/{artifact_id}", json={"sources": [{"note_id": zebra_id}]}
    )
    assert await space.stale(artifact_id) is False
    await twin.check(space, zebra_id)
