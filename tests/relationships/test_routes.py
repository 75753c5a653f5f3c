from typing import Any

import pytest

from tests.factories import Factory
from tests.notes.support import Space, assert_validation_error, if_match, make_space
from tests.problems import assert_problem
from tests.relationships.support import (
    backlinks_of,
    graph_url,
    links_of,
    relate,
    relationships_url,
)

pytestmark = pytest.mark.anyio

UNKNOWN_ID = "01J00000000000000000000000"


async def two_notes(space: Space) -> tuple[dict[str, Any], dict[str, Any]]:
    return await space.make_note(title="Alpha"), await space.make_note(title="Beta")


class TestCreateRelationship:
    async def test_creates_a_manual_relation(self, space: Space) -> None:
        alpha, beta = await two_notes(space)
        response = await space.client.post(
            relationships_url(space),
            json={
                "source_note_id": alpha["id"],
                "target_note_id": beta["id"],
                "type": "supports",
                "comment": "  the numbers agree  ",
            },
            headers=space.owner.headers,
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["source"] == "manual"
        assert body["type"] == "supports"
        assert (body["source_note_id"], body["target_note_id"]) == (alpha["id"], beta["id"])
        assert body["comment"] == "the numbers agree"
        assert body["created_by"] == space.owner.user_id
        assert response.headers["location"] == f"{relationships_url(space)}/{body['id']}"

    async def test_same_notes_may_relate_with_another_type(self, space: Space) -> None:
        alpha, beta = await two_notes(space)
        await relate(space, alpha["id"], beta["id"], "supports")
        await relate(space, alpha["id"], beta["id"], "derived_from")
        await relate(space, beta["id"], alpha["id"], "supports")

    async def test_unknown_type_is_a_validation_error(self, space: Space) -> None:
        alpha, beta = await two_notes(space)
        response = await space.client.post(
            relationships_url(space),
            json={"source_note_id": alpha["id"], "target_note_id": beta["id"], "type": "likes"},
            headers=space.owner.headers,
        )
        assert_validation_error(response, "type")

    async def test_malformed_note_id_is_a_validation_error(self, space: Space) -> None:
        alpha = await space.make_note()
        response = await space.client.post(
            relationships_url(space),
            json={"source_note_id": alpha["id"], "target_note_id": "nope", "type": "related"},
            headers=space.owner.headers,
        )
        assert_validation_error(response, "target_note_id")

    async def test_self_relation_is_refused(self, space: Space) -> None:
        alpha = await space.make_note()
        response = await space.client.post(
            relationships_url(space),
            json={"source_note_id": alpha["id"], "target_note_id": alpha["id"], "type": "related"},
            headers=space.owner.headers,
        )
        assert_problem(response, 422, "self-relationship")

    async def test_duplicate_is_a_conflict_naming_the_existing_one(self, space: Space) -> None:
        alpha, beta = await two_notes(space)
        first = await relate(space, alpha["id"], beta["id"], "contradicts")
        response = await space.client.post(
            relationships_url(space),
            json={
                "source_note_id": alpha["id"],
                "target_note_id": beta["id"],
                "type": "contradicts",
            },
            headers=space.owner.headers,
        )
        problem = assert_problem(response, 409, "duplicate-relationship")
        assert problem["existing_id"] == first["id"]

    async def test_note_of_another_workspace_is_not_found(
        self, space: Space, factory: Factory
    ) -> None:
        alpha = await space.make_note()
        other = await make_space(factory)
        foreign = await other.make_note()
        response = await space.client.post(
            relationships_url(space),
            json={
                "source_note_id": alpha["id"],
                "target_note_id": foreign["id"],
                "type": "related",
            },
            headers=space.owner.headers,
        )
        assert_problem(response, 404, "note-not-found")

    async def test_trashed_note_is_refused(self, space: Space) -> None:
        alpha, beta = await two_notes(space)
        await space.client.delete(space.note(beta["id"]), headers=space.owner.headers)
        response = await space.client.post(
            relationships_url(space),
            json={"source_note_id": alpha["id"], "target_note_id": beta["id"], "type": "related"},
            headers=space.owner.headers,
        )
        assert_problem(response, 409, "related-note-in-trash")

    async def test_viewer_may_not_create(self, space: Space) -> None:
        alpha, beta = await two_notes(space)
        viewer = await space.factory.member(space.workspace, space.owner, "viewer")
        response = await space.client.post(
            relationships_url(space),
            json={"source_note_id": alpha["id"], "target_note_id": beta["id"], "type": "related"},
            headers=viewer.headers,
        )
        assert_problem(response, 403, "insufficient-role")

    async def test_non_member_gets_404(self, space: Space, factory: Factory) -> None:
        alpha, beta = await two_notes(space)
        stranger = await factory.user("stranger")
        response = await space.client.post(
            relationships_url(space),
            json={"source_note_id": alpha["id"], "target_note_id": beta["id"], "type": "related"},
            headers=stranger.headers,
        )
        assert_problem(response, 404, "workspace-not-found")

    async def test_requires_authentication(self, space: Space) -> None:
        response = await space.client.post(relationships_url(space), json={})
        assert_problem(response, 401, "unauthenticated")


class TestListRelationships:
    async def test_lists_body_links_and_manual_relations(self, space: Space) -> None:
        alpha, beta = await two_notes(space)
        await space.make_note(title="Gamma", body="About [[Alpha]].")
        await relate(space, alpha["id"], beta["id"], "parent_of")
        response = await space.client.get(relationships_url(space), headers=space.owner.headers)
        assert response.status_code == 200
        items = response.json()["items"]
        assert sorted((i["source"], i["type"]) for i in items) == [
            ("body", "references"),
            ("manual", "parent_of"),
        ]

    async def test_filters_by_note_type_and_source(self, space: Space) -> None:
        alpha, beta = await two_notes(space)
        gamma = await space.make_note(title="Gamma", body="[[Beta]]")
        await relate(space, alpha["id"], beta["id"], "parent_of")
        await relate(space, alpha["id"], gamma["id"], "related")

        async def listed(**params: str) -> list[tuple[str, str]]:
            response = await space.client.get(
                relationships_url(space), params=params, headers=space.owner.headers
            )
            assert response.status_code == 200, response.text
            return sorted((i["source_note_id"], i["type"]) for i in response.json()["items"])

        assert await listed(note_id=beta["id"]) == sorted(
            [(alpha["id"], "parent_of"), (gamma["id"], "references")]
        )
        assert await listed(type="related") == [(alpha["id"], "related")]
        assert await listed(source="body") == [(gamma["id"], "references")]

    async def test_pages_with_a_cursor(self, space: Space) -> None:
        hub = await space.make_note(title="Hub")
        made = [
            (await relate(space, hub["id"], (await space.make_note())["id"]))["id"]
            for _ in range(3)
        ]
        first = await space.client.get(
            relationships_url(space), params={"limit": 2}, headers=space.owner.headers
        )
        page = first.json()
        assert len(page["items"]) == 2
        second = await space.client.get(
            relationships_url(space),
            params={"limit": 2, "cursor": page["next_cursor"]},
            headers=space.owner.headers,
        )
        rest = second.json()
        assert rest["next_cursor"] is None
        assert [i["id"] for i in page["items"] + rest["items"]] == sorted(made)

    async def test_bad_cursor_is_a_problem(self, space: Space) -> None:
        response = await space.client.get(
            relationships_url(space), params={"cursor": "garbage"}, headers=space.owner.headers
        )
        assert_problem(response, 400, "invalid-cursor")

    async def test_other_workspaces_relations_are_not_listed(
        self, space: Space, factory: Factory
    ) -> None:
        other = await make_space(factory)
        a, b = await two_notes(other)
        await relate(other, a["id"], b["id"])
        response = await space.client.get(relationships_url(space), headers=space.owner.headers)
        assert response.json()["items"] == []

    async def test_requires_authentication(self, space: Space) -> None:
        assert_problem(await space.client.get(relationships_url(space)), 401, "unauthenticated")


class TestGetRelationship:
    async def test_viewer_reads_a_relation(self, space: Space) -> None:
        alpha, beta = await two_notes(space)
        made = await relate(space, alpha["id"], beta["id"])
        viewer = await space.factory.member(space.workspace, space.owner, "viewer")
        response = await space.client.get(
            f"{relationships_url(space)}/{made['id']}", headers=viewer.headers
        )
        assert response.status_code == 200
        assert response.json() == made

    async def test_id_of_another_workspace_is_not_found(
        self, space: Space, factory: Factory
    ) -> None:
        other = await make_space(factory)
        a, b = await two_notes(other)
        foreign = await relate(other, a["id"], b["id"])
        response = await space.client.get(
            f"{relationships_url(space)}/{foreign['id']}", headers=space.owner.headers
        )
        assert_problem(response, 404, "relationship-not-found")

    async def test_malformed_id_is_a_validation_error(self, space: Space) -> None:
        response = await space.client.get(
            f"{relationships_url(space)}/nope", headers=space.owner.headers
        )
        assert_validation_error(response, "relationship_id")


class TestDeleteRelationship:
    async def test_deletes_a_manual_relation(self, space: Space) -> None:
        alpha, beta = await two_notes(space)
        made = await relate(space, alpha["id"], beta["id"])
        url = f"{relationships_url(space)}/{made['id']}"
        response = await space.client.delete(url, headers=space.owner.headers)
        assert response.status_code == 204
        assert_problem(
            await space.client.get(url, headers=space.owner.headers),
            404,
            "relationship-not-found",
        )

    async def test_body_links_are_removed_by_editing_the_note(self, space: Space) -> None:
        await space.make_note(title="Alpha")
        await space.make_note(title="Source", body="[[Alpha]]")
        listed = await space.client.get(relationships_url(space), headers=space.owner.headers)
        [link] = listed.json()["items"]
        response = await space.client.delete(
            f"{relationships_url(space)}/{link['id']}", headers=space.owner.headers
        )
        assert_problem(response, 409, "body-link-read-only")

    async def test_viewer_may_not_delete(self, space: Space) -> None:
        alpha, beta = await two_notes(space)
        made = await relate(space, alpha["id"], beta["id"])
        viewer = await space.factory.member(space.workspace, space.owner, "viewer")
        response = await space.client.delete(
            f"{relationships_url(space)}/{made['id']}", headers=viewer.headers
        )
        assert_problem(response, 403, "insufficient-role")

    async def test_id_of_another_workspace_is_not_found(
        self, space: Space, factory: Factory
    ) -> None:
        other = await make_space(factory)
        a, b = await two_notes(other)
        foreign = await relate(other, a["id"], b["id"])
        response = await space.client.delete(
            f"{relationships_url(space)}/{foreign['id']}", headers=space.owner.headers
        )
        assert_problem(response, 404, "relationship-not-found")
        still = await other.client.get(
            f"{relationships_url(other)}/{foreign['id']}", headers=other.owner.headers
        )
        assert still.status_code == 200

    async def test_requires_authentication(self, space: Space) -> None:
        response = await space.client.delete(f"{relationships_url(space)}/{UNKNOWN_ID}")
        assert_problem(response, 401, "unauthenticated")


class TestListNoteLinks:
    async def test_lists_resolved_and_unresolved_links(self, space: Space) -> None:
        alpha = await space.make_note(title="Alpha")
        source = await space.make_note(
            title="Source", body="See [[alpha#Intro|the start]] and [[Missing]]."
        )
        links = await links_of(space, source["id"])
        by_title = {link["target_title"]: link for link in links}
        assert set(by_title) == {"alpha", "Missing"}
        resolved, unresolved = by_title["alpha"], by_title["Missing"]
        assert resolved["resolved"] is True
        assert resolved["target"] == {"id": alpha["id"], "title": "Alpha"}
        assert (resolved["heading"], resolved["alias"]) == ("Intro", "the start")
        assert resolved["source"] == "body"
        assert resolved["type"] == "references"
        assert unresolved["resolved"] is False
        assert unresolved["target"] is None
        assert unresolved["target_note_id"] is None

    async def test_includes_manual_relations(self, space: Space) -> None:
        alpha, beta = await two_notes(space)
        await relate(space, alpha["id"], beta["id"], "depends_on")
        [link] = await links_of(space, alpha["id"])
        assert (link["source"], link["type"], link["target"]["id"]) == (
            "manual",
            "depends_on",
            beta["id"],
        )

    async def test_links_in_code_are_not_listed(self, space: Space) -> None:
        body = "`[[Span]]`\n```\n[[Fenced]]\n```\n[[Real]]"
        source = await space.make_note(title="Source", body=body)
        assert [link["target_title"] for link in await links_of(space, source["id"])] == ["Real"]

    async def test_pages_in_body_order(self, space: Space) -> None:
        body = " ".join(f"[[T{i}]]" for i in range(5))
        source = await space.make_note(title="Source", body=body)
        first = await space.client.get(
            space.note(source["id"], "links"), params={"limit": 3}, headers=space.owner.headers
        )
        page = first.json()
        second = await space.client.get(
            space.note(source["id"], "links"),
            params={"limit": 3, "cursor": page["next_cursor"]},
            headers=space.owner.headers,
        )
        titles = [i["target_title"] for i in page["items"] + second.json()["items"]]
        assert titles == [f"T{i}" for i in range(5)]

    async def test_note_of_another_workspace_is_not_found(
        self, space: Space, factory: Factory
    ) -> None:
        other = await make_space(factory)
        foreign = await other.make_note(body="[[Anything]]")
        response = await space.client.get(
            space.note(foreign["id"], "links"), headers=space.owner.headers
        )
        assert_problem(response, 404, "note-not-found")

    async def test_viewer_reads_links(self, space: Space) -> None:
        source = await space.make_note(body="[[X]]")
        viewer = await space.factory.member(space.workspace, space.owner, "viewer")
        response = await space.client.get(space.note(source["id"], "links"), headers=viewer.headers)
        assert response.status_code == 200
        assert len(response.json()["items"]) == 1

    async def test_requires_authentication(self, space: Space) -> None:
        response = await space.client.get(space.note(UNKNOWN_ID, "links"))
        assert_problem(response, 401, "unauthenticated")


class TestListNoteBacklinks:
    async def test_backlinks_carry_the_linking_line(self, space: Space) -> None:
        alpha = await space.make_note(title="Alpha")
        source = await space.make_note(
            title="Source", body="# Heading\n\nWe build on [[Alpha]] here.\nOther line."
        )
        [backlink] = await backlinks_of(space, alpha["id"])
        assert backlink["context"] == "We build on [[Alpha]] here."
        assert backlink["source_note"] == {"id": source["id"], "title": "Source"}

    async def test_include_manual_relations(self, space: Space) -> None:
        alpha, beta = await two_notes(space)
        await relate(space, beta["id"], alpha["id"], "derived_from")
        [backlink] = await backlinks_of(space, alpha["id"])
        assert (backlink["source"], backlink["type"], backlink["context"]) == (
            "manual",
            "derived_from",
            None,
        )

    async def test_follow_rename_trash_restore_and_purge(self, space: Space) -> None:
        source = await space.make_note(title="Source", body="Waiting for [[Plan]].")
        target = await space.make_note(title="Draft")
        assert await backlinks_of(space, target["id"]) == []

        renamed = await space.client.patch(
            space.note(target["id"]), json={"title": "PLAN"}, headers=space.owner.headers
        )
        assert [b["source_note_id"] for b in await backlinks_of(space, target["id"])] == [
            source["id"]
        ]

        await space.client.delete(
            space.note(target["id"]),
            headers=if_match(renamed.json()["version"], space.owner.headers),
        )
        [link] = await links_of(space, source["id"])
        assert link["resolved"] is False

        await space.client.post(space.note(target["id"], "restore"), headers=space.owner.headers)
        [link] = await links_of(space, source["id"])
        assert link["target"]["id"] == target["id"]

        await space.client.delete(space.note(source["id"]), headers=space.owner.headers)
        assert await backlinks_of(space, target["id"]) == []
        purged = await space.client.post(
            space.note(source["id"], "purge"), headers=space.owner.headers
        )
        assert purged.status_code == 204
        listed = await space.client.get(
            relationships_url(space), params={"note_id": target["id"]}, headers=space.owner.headers
        )
        assert listed.json()["items"] == []

    async def test_note_of_another_workspace_is_not_found(
        self, space: Space, factory: Factory
    ) -> None:
        other = await make_space(factory)
        foreign = await other.make_note()
        response = await space.client.get(
            space.note(foreign["id"], "backlinks"), headers=space.owner.headers
        )
        assert_problem(response, 404, "note-not-found")

    async def test_requires_authentication(self, space: Space) -> None:
        response = await space.client.get(space.note(UNKNOWN_ID, "backlinks"))
        assert_problem(response, 401, "unauthenticated")


async def chain(space: Space, length: int) -> list[dict[str, Any]]:
    """Notes C0 → C1 → … linked by wikilinks, each to the next."""
    notes = [await space.make_note(title=f"C{length - 1}")]
    for i in range(length - 2, -1, -1):
        notes.insert(0, await space.make_note(title=f"C{i}", body=f"next: [[C{i + 1}]]"))
    return notes


class TestGetGraph:
    async def graph(self, space: Space, **params: Any) -> dict[str, Any]:
        response = await space.client.get(
            graph_url(space), params=params, headers=space.owner.headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def test_depth_bounds_the_walk(self, space: Space) -> None:
        notes = await chain(space, 5)
        ids = [n["id"] for n in notes]
        for depth in (1, 2, 3):
            graph = await self.graph(space, root=ids[0], depth=depth)
            assert {n["id"]: n["depth"] for n in graph["nodes"]} == {
                ids[i]: i for i in range(depth + 1)
            }
            assert len(graph["edges"]) == depth
            assert graph["truncated"] is False

    async def test_walks_incoming_links_too(self, space: Space) -> None:
        notes = await chain(space, 3)
        graph = await self.graph(space, root=notes[2]["id"], depth=2)
        assert {n["id"] for n in graph["nodes"]} == {n["id"] for n in notes}
        edge = next(e for e in graph["edges"] if e["target_note_id"] == notes[2]["id"])
        assert (edge["source_note_id"], edge["type"], edge["source"]) == (
            notes[1]["id"],
            "references",
            "body",
        )

    async def test_max_nodes_truncates(self, space: Space) -> None:
        hub = await space.make_note(title="Hub", body=" ".join(f"[[L{i}]]" for i in range(6)))
        for i in range(6):
            await space.make_note(title=f"L{i}")
        graph = await self.graph(space, root=hub["id"], max_nodes=4)
        assert len(graph["nodes"]) == 4
        assert graph["truncated"] is True
        node_ids = {n["id"] for n in graph["nodes"]}
        assert all(
            e["source_note_id"] in node_ids and e["target_note_id"] in node_ids
            for e in graph["edges"]
        )

    async def test_trashed_neighbours_are_left_out(self, space: Space) -> None:
        alpha, beta = await two_notes(space)
        await relate(space, alpha["id"], beta["id"])
        await space.client.delete(space.note(beta["id"]), headers=space.owner.headers)
        graph = await self.graph(space, root=alpha["id"])
        assert [n["id"] for n in graph["nodes"]] == [alpha["id"]]
        assert graph["edges"] == []

    async def test_depth_out_of_range_is_a_validation_error(self, space: Space) -> None:
        alpha = await space.make_note()
        for depth in (0, 4):
            response = await space.client.get(
                graph_url(space),
                params={"root": alpha["id"], "depth": depth},
                headers=space.owner.headers,
            )
            assert_validation_error(response, "depth")

    async def test_root_of_another_workspace_is_not_found(
        self, space: Space, factory: Factory
    ) -> None:
        other = await make_space(factory)
        foreign = await other.make_note()
        response = await space.client.get(
            graph_url(space), params={"root": foreign["id"]}, headers=space.owner.headers
        )
        assert_problem(response, 404, "note-not-found")

    async def test_requires_authentication(self, space: Space) -> None:
        response = await space.client.get(graph_url(space), params={"root": UNKNOWN_ID})
        assert_problem(response, 401, "unauthenticated")
