"""The notes API over HTTP, through the real app, on SQLite and PostgreSQL."""

from datetime import datetime, timedelta
from typing import Any

import pytest

from ainotes.core.ids import new_id
from tests.factories import Factory
from tests.notes.support import (
    Space,
    assert_problem,
    assert_validation_error,
    if_match,
    make_space,
    notes_url,
)

pytestmark = pytest.mark.anyio

MAX_BODY_CHARS = 100_000
JSON = {"Content-Type": "application/json"}


async def _trashed_note(space: Space, **fields: Any) -> dict[str, Any]:
    note = await space.make_note(**fields)
    response = await space.client.delete(space.note(note["id"]), headers=space.owner.headers)
    assert response.status_code == 200, response.text
    trashed: dict[str, Any] = response.json()
    return trashed


async def _revisions(space: Space, note_id: str) -> list[dict[str, Any]]:
    response = await space.client.get(space.note(note_id, "revisions"), headers=space.owner.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def _listing(space: Space, **params: Any) -> list[dict[str, Any]]:
    response = await space.client.get(space.notes, params=params, headers=space.owner.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


class TestCreateNote:
    async def test_creates_note_at_version_1_with_etag_and_location(self, space: Space) -> None:
        response = await space.client.post(
            space.notes,
            json={"title": "  Plans  ", "body": "# Plans", "pinned": True},
            headers=space.owner.headers,
        )

        assert response.status_code == 201, response.text
        note = response.json()
        assert note["title"] == "Plans"
        assert note["body"] == "# Plans"
        assert note["pinned"] is True
        assert note["archived"] is False
        assert note["tags"] == []
        assert note["version"] == 1
        assert note["workspace_id"] == space.workspace["id"]
        assert note["created_by"] == note["updated_by"] == space.owner.user_id
        assert note["trashed_at"] is None
        assert response.headers["etag"] == '"1"'
        assert response.headers["location"] == space.note(note["id"])

    async def test_created_note_can_be_read_back(self, space: Space) -> None:
        created = await space.make_note(title="Read me", body="text")

        response = await space.client.get(space.note(created["id"]), headers=space.owner.headers)

        # The single-note read also lists the attachments the body references.
        assert response.json() == {**created, "attachments": []}

    async def test_tags_are_normalized_and_deduplicated(self, space: Space) -> None:
        response = await space.client.post(
            space.notes,
            json={"title": "ML", "tags": ["#Machine Learning", "machine_learning", " Ideas/Big "]},
            headers=space.owner.headers,
        )

        assert response.status_code == 201, response.text
        assert response.json()["tags"] == ["machine-learning", "ideas/big"]

    async def test_records_a_create_revision(self, space: Space) -> None:
        note = await space.make_note(title="First")

        revisions = await _revisions(space, note["id"])

        assert [(r["version"], r["change"], r["title"]) for r in revisions] == [
            (1, "create", "First")
        ]
        assert revisions[0]["unconditional"] is False

    async def test_editor_can_create(self, space: Space) -> None:
        editor = await space.factory.member(space.workspace, space.owner, "editor")

        response = await space.client.post(
            space.notes, json={"title": "By editor"}, headers=editor.headers
        )

        assert response.status_code == 201, response.text
        assert response.json()["created_by"] == editor.user_id

    async def test_missing_title_returns_422(self, space: Space) -> None:
        response = await space.client.post(
            space.notes, json={"body": "no title"}, headers=space.owner.headers
        )

        assert_validation_error(response, "title")

    async def test_blank_title_returns_422(self, space: Space) -> None:
        response = await space.client.post(
            space.notes, json={"title": "   "}, headers=space.owner.headers
        )

        assert_validation_error(response, "title")

    async def test_title_over_300_characters_returns_422(self, space: Space) -> None:
        response = await space.client.post(
            space.notes, json={"title": "t" * 301}, headers=space.owner.headers
        )

        assert_validation_error(response, "title")

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("title", 12),
            ("body", ["not", "text"]),
            ("tags", "one-tag"),
            ("tags", [1, 2]),
            ("pinned", "sometimes"),
            ("archived", {"yes": True}),
        ],
    )
    async def test_wrong_type_returns_422(self, space: Space, field: str, value: Any) -> None:
        response = await space.client.post(
            space.notes, json={"title": "Typed", field: value}, headers=space.owner.headers
        )

        assert_validation_error(response, field)

    async def test_unknown_field_returns_422(self, space: Space) -> None:
        response = await space.client.post(
            space.notes, json={"title": "x", "version": 9}, headers=space.owner.headers
        )

        assert_validation_error(response, "version")

    async def test_more_than_50_tags_returns_422(self, space: Space) -> None:
        tags = [f"tag-{i}" for i in range(51)]

        response = await space.client.post(
            space.notes, json={"title": "Tagged", "tags": tags}, headers=space.owner.headers
        )

        assert_validation_error(response, "tags")

    async def test_50_distinct_tags_are_accepted(self, space: Space) -> None:
        # Duplicates collapse before the limit is checked.
        tags = [f"tag-{i}" for i in range(50)] + ["TAG-0", "#tag_1"]

        response = await space.client.post(
            space.notes, json={"title": "Tagged", "tags": tags}, headers=space.owner.headers
        )

        assert response.status_code == 201, response.text
        assert len(response.json()["tags"]) == 50

    @pytest.mark.parametrize("tag", ["c++", "a!b", "#", "   ", "x" * 65, "semi;colon"])
    async def test_bad_tag_returns_422(self, space: Space, tag: str) -> None:
        response = await space.client.post(
            space.notes, json={"title": "Tagged", "tags": [tag]}, headers=space.owner.headers
        )

        assert_validation_error(response, "tags")

    async def test_malformed_json_returns_400(self, space: Space) -> None:
        response = await space.client.post(
            space.notes, content=b'{"title": "x",', headers={**space.owner.headers, **JSON}
        )

        assert_problem(response, 400, "malformed-body")

    async def test_body_over_the_limit_returns_413(self, space: Space) -> None:
        response = await space.client.post(
            space.notes,
            json={"title": "Big", "body": "x" * (MAX_BODY_CHARS + 1)},
            headers=space.owner.headers,
        )

        problem = assert_problem(response, 413, "note-too-large")
        assert problem["max_body_chars"] == MAX_BODY_CHARS

    async def test_body_at_the_limit_is_accepted(self, space: Space) -> None:
        response = await space.client.post(
            space.notes,
            json={"title": "Big", "body": "x" * MAX_BODY_CHARS},
            headers=space.owner.headers,
        )

        assert response.status_code == 201, response.text

    async def test_without_token_returns_401(self, space: Space) -> None:
        response = await space.client.post(space.notes, json={"title": "x"})

        assert_problem(response, 401, "unauthenticated")
        assert response.headers["www-authenticate"].startswith("Bearer")

    async def test_non_member_gets_404(self, space: Space) -> None:
        stranger = await space.factory.user("stranger")

        response = await space.client.post(
            space.notes, json={"title": "x"}, headers=stranger.headers
        )

        assert_problem(response, 404, "workspace-not-found")

    async def test_viewer_gets_403(self, space: Space) -> None:
        viewer = await space.factory.member(space.workspace, space.owner, "viewer")

        response = await space.client.post(space.notes, json={"title": "x"}, headers=viewer.headers)

        assert_problem(response, 403, "insufficient-role")
        assert await _listing(space) == []


class TestGetNote:
    async def test_returns_note_with_etag(self, space: Space) -> None:
        note = await space.make_note(title="Hello", tags=["a"])

        response = await space.client.get(space.note(note["id"]), headers=space.owner.headers)

        assert response.status_code == 200
        assert response.json()["title"] == "Hello"
        assert response.headers["etag"] == '"1"'

    async def test_viewer_can_read(self, space: Space) -> None:
        note = await space.make_note()
        viewer = await space.factory.member(space.workspace, space.owner, "viewer")

        response = await space.client.get(space.note(note["id"]), headers=viewer.headers)

        assert response.status_code == 200
        assert response.json()["id"] == note["id"]

    async def test_trashed_note_is_still_readable(self, space: Space) -> None:
        note = await _trashed_note(space)

        response = await space.client.get(space.note(note["id"]), headers=space.owner.headers)

        assert response.status_code == 200
        assert response.json()["trashed_at"] is not None

    async def test_unknown_note_returns_404(self, space: Space) -> None:
        response = await space.client.get(space.note(new_id()), headers=space.owner.headers)

        assert_problem(response, 404, "note-not-found")

    async def test_note_of_another_workspace_returns_404(self, space: Space) -> None:
        other = await make_space(space.factory)
        foreign = await other.make_note()
        # The owner of ``space`` is also a member of the other workspace.
        await space.client.post(
            f"/v1/workspaces/{other.workspace['id']}/members",
            json={"user_id": space.owner.user_id, "role": "viewer"},
            headers=other.owner.headers,
        )

        response = await space.client.get(space.note(foreign["id"]), headers=space.owner.headers)

        assert_problem(response, 404, "note-not-found")

    async def test_non_member_gets_404(self, space: Space) -> None:
        note = await space.make_note()
        stranger = await space.factory.user("stranger")

        response = await space.client.get(space.note(note["id"]), headers=stranger.headers)

        assert_problem(response, 404, "workspace-not-found")

    async def test_without_token_returns_401(self, space: Space) -> None:
        note = await space.make_note()

        response = await space.client.get(space.note(note["id"]))

        assert_problem(response, 401, "unauthenticated")

    async def test_malformed_note_id_returns_422(self, space: Space) -> None:
        response = await space.client.get(space.note("not-an-id"), headers=space.owner.headers)

        assert_validation_error(response, "note_id")


class TestListNotes:
    async def test_lists_summaries_without_body(self, space: Space) -> None:
        note = await space.make_note(title="Listed", body="secret body", tags=["x"])

        items = await _listing(space)

        assert [item["id"] for item in items] == [note["id"]]
        assert "body" not in items[0]
        assert items[0]["title"] == "Listed"
        assert items[0]["tags"] == ["x"]
        assert items[0]["version"] == 1

    async def test_only_lists_notes_of_the_workspace(self, space: Space) -> None:
        other = await make_space(space.factory)
        await other.make_note()
        mine = await space.make_note()

        items = await _listing(space)

        assert [item["id"] for item in items] == [mine["id"]]

    async def test_trashed_notes_leave_default_listing_and_appear_in_trash(
        self, space: Space
    ) -> None:
        live = await space.make_note()
        trashed = await _trashed_note(space)

        assert [n["id"] for n in await _listing(space)] == [live["id"]]
        in_trash = await _listing(space, trashed="true")
        assert [n["id"] for n in in_trash] == [trashed["id"]]
        assert in_trash[0]["trashed_at"] is not None

    async def test_filters_by_normalized_tag(self, space: Space) -> None:
        tagged = await space.make_note(tags=["Machine Learning"])
        await space.make_note(tags=["cooking"])
        await space.make_note()

        assert [n["id"] for n in await _listing(space, tag="#machine_learning")] == [tagged["id"]]
        assert await _listing(space, tag="nothing-has-this") == []
        assert await _listing(space, tag="!!") == []

    async def test_tag_filter_follows_tag_updates(self, space: Space) -> None:
        note = await space.make_note(tags=["old"])
        await space.client.patch(
            space.note(note["id"]), json={"tags": ["new"]}, headers=space.owner.headers
        )

        assert await _listing(space, tag="old") == []
        assert [n["id"] for n in await _listing(space, tag="new")] == [note["id"]]

    async def test_filters_by_pinned_and_archived(self, space: Space) -> None:
        pinned = await space.make_note(pinned=True)
        archived = await space.make_note(archived=True)
        plain = await space.make_note()

        def ids(items: list[dict[str, Any]]) -> set[str]:
            return {item["id"] for item in items}

        assert ids(await _listing(space, pinned="true")) == {pinned["id"]}
        assert ids(await _listing(space, pinned="false")) == {archived["id"], plain["id"]}
        assert ids(await _listing(space, archived="true")) == {archived["id"]}
        assert ids(await _listing(space, archived="false", pinned="false")) == {plain["id"]}

    async def test_filters_by_updated_after(self, space: Space) -> None:
        old = await space.make_note()
        boundary = await space.make_note()
        new = await space.make_note()

        items = await _listing(space, updated_after=boundary["updated_at"])

        assert [item["id"] for item in items] == [new["id"]]
        before_all = datetime.fromisoformat(old["updated_at"]) - timedelta(seconds=1)
        assert len(await _listing(space, updated_after=before_all.isoformat())) == 3

    async def test_updated_after_with_an_offset_is_compared_in_utc(self, space: Space) -> None:
        note = await space.make_note()
        in_berlin = datetime.fromisoformat(note["updated_at"]).astimezone(
            datetime.fromisoformat("2026-01-01T00:00:00+02:00").tzinfo
        ) - timedelta(seconds=1)

        items = await _listing(space, updated_after=in_berlin.isoformat())

        assert [item["id"] for item in items] == [note["id"]]

    async def test_updated_after_without_timezone_returns_422(self, space: Space) -> None:
        response = await space.client.get(
            space.notes,
            params={"updated_after": "2026-01-01T00:00:00"},
            headers=space.owner.headers,
        )

        assert_validation_error(response, "updated_after")

    @pytest.mark.parametrize(("sort", "order"), [("created_at", "asc"), ("created_at", "desc")])
    async def test_sorts_by_created_at(self, space: Space, sort: str, order: str) -> None:
        created = [(await space.make_note())["id"] for _ in range(3)]
        # Editing the first note must not move it in a created_at listing.
        await space.client.patch(
            space.note(created[0]), json={"body": "changed"}, headers=space.owner.headers
        )

        items = await _listing(space, sort=sort, order=order)

        expected = created if order == "asc" else created[::-1]
        assert [item["id"] for item in items] == expected

    @pytest.mark.parametrize("order", ["asc", "desc"])
    async def test_sorts_by_updated_at(self, space: Space, order: str) -> None:
        first, second, third = [(await space.make_note())["id"] for _ in range(3)]
        await space.client.patch(
            space.note(first), json={"body": "changed"}, headers=space.owner.headers
        )

        items = await _listing(space, sort="updated_at", order=order)

        expected = [second, third, first]
        assert [item["id"] for item in items] == (expected if order == "asc" else expected[::-1])

    async def test_default_order_is_most_recently_updated_first(self, space: Space) -> None:
        first = await space.make_note()
        second = await space.make_note()

        assert [n["id"] for n in await _listing(space)] == [second["id"], first["id"]]

    @pytest.mark.parametrize("limit", [0, 201, -1])
    async def test_limit_out_of_bounds_returns_422(self, space: Space, limit: int) -> None:
        response = await space.client.get(
            space.notes, params={"limit": limit}, headers=space.owner.headers
        )

        assert_validation_error(response, "limit")

    async def test_limit_200_is_accepted(self, space: Space) -> None:
        await space.make_note()

        assert len(await _listing(space, limit=200)) == 1

    @pytest.mark.parametrize("param", ["sort", "order", "pinned"])
    async def test_bad_query_value_returns_422(self, space: Space, param: str) -> None:
        response = await space.client.get(
            space.notes, params={param: "sideways"}, headers=space.owner.headers
        )

        assert_validation_error(response, param)

    @pytest.mark.parametrize("order", ["asc", "desc"])
    async def test_cursor_pages_by_created_at_survive_inserts_and_updates(
        self, space: Space, order: str
    ) -> None:
        existing = [(await space.make_note())["id"] for _ in range(7)]
        seen: list[str] = []
        cursor = None
        params: dict[str, Any] = {"sort": "created_at", "order": order, "limit": 2}
        pages = 0
        while True:
            response = await space.client.get(
                space.notes,
                params={**params, **({"cursor": cursor} if cursor else {})},
                headers=space.owner.headers,
            )
            assert response.status_code == 200, response.text
            page = response.json()
            seen.extend(item["id"] for item in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
            pages += 1
            # Between fetches: a new note arrives, and one seen and one unseen note change.
            await space.make_note()
            for note_id in {seen[0], existing[(pages * 3) % len(existing)]}:
                edit = await space.client.patch(
                    space.note(note_id), json={"body": f"edit {pages}"}, headers=space.owner.headers
                )
                assert edit.status_code == 200, edit.text

        assert pages >= 3
        assert len(seen) == len(set(seen))
        assert set(existing) <= set(seen)
        listed_existing = [note_id for note_id in seen if note_id in existing]
        assert listed_existing == (existing if order == "asc" else existing[::-1])

    @pytest.mark.parametrize("order", ["asc", "desc"])
    async def test_cursor_pages_by_updated_at_survive_inserts(
        self, space: Space, order: str
    ) -> None:
        existing = [(await space.make_note())["id"] for _ in range(5)]
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"sort": "updated_at", "order": order, "limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = (
                await space.client.get(space.notes, params=params, headers=space.owner.headers)
            ).json()
            seen.extend(item["id"] for item in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
            await space.make_note()

        assert len(seen) == len(set(seen))
        assert [n for n in seen if n in existing] == (
            existing if order == "asc" else existing[::-1]
        )

    async def test_last_page_has_no_cursor(self, space: Space) -> None:
        await space.make_note()
        await space.make_note()

        first = await space.client.get(
            space.notes, params={"limit": 1}, headers=space.owner.headers
        )
        second = await space.client.get(
            space.notes,
            params={"limit": 1, "cursor": first.json()["next_cursor"]},
            headers=space.owner.headers,
        )

        assert first.json()["next_cursor"] is not None
        assert len(second.json()["items"]) == 1
        assert second.json()["next_cursor"] is None

    async def test_cursor_from_another_sort_returns_400(self, space: Space) -> None:
        await space.make_note()
        await space.make_note()
        first = await space.client.get(
            space.notes, params={"limit": 1, "sort": "created_at"}, headers=space.owner.headers
        )

        response = await space.client.get(
            space.notes,
            params={"limit": 1, "sort": "updated_at", "cursor": first.json()["next_cursor"]},
            headers=space.owner.headers,
        )

        assert_problem(response, 400, "invalid-cursor")

    async def test_cursor_from_another_order_returns_400(self, space: Space) -> None:
        await space.make_note()
        await space.make_note()
        first = await space.client.get(
            space.notes, params={"limit": 1, "order": "asc"}, headers=space.owner.headers
        )

        response = await space.client.get(
            space.notes,
            params={"limit": 1, "order": "desc", "cursor": first.json()["next_cursor"]},
            headers=space.owner.headers,
        )

        assert_problem(response, 400, "invalid-cursor")

    @pytest.mark.parametrize(
        "cursor",
        [
            "garbage!",
            "bm90IGpzb24",  # "not json"
            "eyJvIjoidXBkYXRlZF9hdDpkZXNjIiwiayI6WzEsMl19",  # key with a non-string id
            "eyJvIjoidXBkYXRlZF9hdDpkZXNjIiwiayI6WyJub3QgYSBkYXRlIiwiYSJdfQ",  # bad datetime
            "WzFd",  # a JSON list, not an object
        ],
    )
    async def test_garbage_cursor_returns_400(self, space: Space, cursor: str) -> None:
        response = await space.client.get(
            space.notes, params={"cursor": cursor}, headers=space.owner.headers
        )

        assert_problem(response, 400, "invalid-cursor")

    async def test_viewer_can_list(self, space: Space) -> None:
        note = await space.make_note()
        viewer = await space.factory.member(space.workspace, space.owner, "viewer")

        response = await space.client.get(space.notes, headers=viewer.headers)

        assert [item["id"] for item in response.json()["items"]] == [note["id"]]

    async def test_non_member_gets_404(self, space: Space) -> None:
        stranger = await space.factory.user("stranger")

        response = await space.client.get(space.notes, headers=stranger.headers)

        assert_problem(response, 404, "workspace-not-found")

    async def test_without_token_returns_401(self, space: Space) -> None:
        response = await space.client.get(space.notes)

        assert_problem(response, 401, "unauthenticated")


class TestUpdateNote:
    async def test_updates_given_fields_and_bumps_version(self, space: Space) -> None:
        note = await space.make_note(title="Old", body="old body", tags=["keep"])

        response = await space.client.patch(
            space.note(note["id"]),
            json={"title": "New", "pinned": True},
            headers=if_match(1, space.owner.headers),
        )

        assert response.status_code == 200, response.text
        updated = response.json()
        assert updated["title"] == "New"
        assert updated["pinned"] is True
        assert updated["body"] == "old body"
        assert updated["tags"] == ["keep"]
        assert updated["version"] == 2
        assert response.headers["etag"] == '"2"'
        assert updated["updated_at"] >= note["updated_at"]
        assert updated["created_at"] == note["created_at"]

    async def test_records_update_revision_with_new_content(self, space: Space) -> None:
        note = await space.make_note(title="Old")
        await space.client.patch(
            space.note(note["id"]),
            json={"title": "New"},
            headers=if_match(1, space.owner.headers),
        )

        revisions = await _revisions(space, note["id"])

        assert [(r["version"], r["change"], r["title"]) for r in revisions] == [
            (2, "update", "New"),
            (1, "create", "Old"),
        ]
        assert revisions[0]["unconditional"] is False

    async def test_editor_update_is_attributed_to_editor(self, space: Space) -> None:
        note = await space.make_note()
        editor = await space.factory.member(space.workspace, space.owner, "editor")

        response = await space.client.patch(
            space.note(note["id"]), json={"body": "edited"}, headers=editor.headers
        )

        assert response.json()["updated_by"] == editor.user_id
        assert response.json()["created_by"] == space.owner.user_id

    async def test_tags_are_normalized_and_deduplicated(self, space: Space) -> None:
        note = await space.make_note()

        response = await space.client.patch(
            space.note(note["id"]),
            json={"tags": ["#Machine Learning", "machine_learning"]},
            headers=space.owner.headers,
        )

        assert response.json()["tags"] == ["machine-learning"]

    async def test_unchanged_content_keeps_the_version(self, space: Space) -> None:
        note = await space.make_note(title="Same", body="same")

        response = await space.client.patch(
            space.note(note["id"]),
            json={"title": "Same", "body": "same"},
            headers=if_match(1, space.owner.headers),
        )

        assert response.status_code == 200
        assert response.json()["version"] == 1
        assert response.headers["etag"] == '"1"'
        assert len(await _revisions(space, note["id"])) == 1

    async def test_stale_if_match_returns_412_with_current_version(self, space: Space) -> None:
        note = await space.make_note(title="v1")
        await space.client.patch(
            space.note(note["id"]), json={"title": "v2"}, headers=space.owner.headers
        )

        response = await space.client.patch(
            space.note(note["id"]),
            json={"title": "lost"},
            headers=if_match(1, space.owner.headers),
        )

        problem = assert_problem(response, 412, "stale-version")
        assert problem["current_version"] == 2
        current = await space.client.get(space.note(note["id"]), headers=space.owner.headers)
        assert current.json()["title"] == "v2"

    async def test_weak_etag_is_accepted(self, space: Space) -> None:
        note = await space.make_note()

        response = await space.client.patch(
            space.note(note["id"]),
            json={"body": "x"},
            headers=if_match('W/"1"', space.owner.headers),
        )

        assert response.status_code == 200, response.text

    @pytest.mark.parametrize("header", [None, "*"])
    async def test_without_a_version_last_write_wins_and_is_recorded_unconditional(
        self, space: Space, header: str | None
    ) -> None:
        note = await space.make_note(title="v1")
        await space.client.patch(
            space.note(note["id"]), json={"title": "v2"}, headers=if_match(1, space.owner.headers)
        )
        headers = space.owner.headers if header is None else if_match(header, space.owner.headers)

        response = await space.client.patch(
            space.note(note["id"]), json={"title": "v3"}, headers=headers
        )

        assert response.status_code == 200, response.text
        assert response.json()["version"] == 3
        revisions = await _revisions(space, note["id"])
        assert [(r["version"], r["unconditional"]) for r in revisions] == [
            (3, True),
            (2, False),
            (1, False),
        ]

    @pytest.mark.parametrize("header", ["1", '"one"', '"1", "2"', "W/1", '""'])
    async def test_malformed_if_match_returns_400(self, space: Space, header: str) -> None:
        note = await space.make_note()

        response = await space.client.patch(
            space.note(note["id"]),
            json={"body": "x"},
            headers=if_match(header, space.owner.headers),
        )

        assert_problem(response, 400, "invalid-if-match")

    async def test_trashed_note_returns_409(self, space: Space) -> None:
        note = await _trashed_note(space)

        response = await space.client.patch(
            space.note(note["id"]), json={"body": "x"}, headers=space.owner.headers
        )

        assert_problem(response, 409, "note-in-trash")

    async def test_body_over_the_limit_returns_413(self, space: Space) -> None:
        note = await space.make_note()

        response = await space.client.patch(
            space.note(note["id"]),
            json={"body": "y" * (MAX_BODY_CHARS + 1)},
            headers=space.owner.headers,
        )

        assert_problem(response, 413, "note-too-large")
        current = await space.client.get(space.note(note["id"]), headers=space.owner.headers)
        assert current.json()["version"] == 1

    async def test_title_over_300_characters_returns_422(self, space: Space) -> None:
        note = await space.make_note()

        response = await space.client.patch(
            space.note(note["id"]), json={"title": "t" * 301}, headers=space.owner.headers
        )

        assert_validation_error(response, "title")

    async def test_wrong_type_returns_422(self, space: Space) -> None:
        note = await space.make_note()

        response = await space.client.patch(
            space.note(note["id"]), json={"pinned": "often"}, headers=space.owner.headers
        )

        assert_validation_error(response, "pinned")

    async def test_unknown_field_returns_422(self, space: Space) -> None:
        note = await space.make_note()

        response = await space.client.patch(
            space.note(note["id"]), json={"created_by": "me"}, headers=space.owner.headers
        )

        assert_validation_error(response, "created_by")

    async def test_too_many_tags_returns_422(self, space: Space) -> None:
        note = await space.make_note()

        response = await space.client.patch(
            space.note(note["id"]),
            json={"tags": [f"t{i}" for i in range(51)]},
            headers=space.owner.headers,
        )

        assert_validation_error(response, "tags")

    async def test_bad_tag_returns_422(self, space: Space) -> None:
        note = await space.make_note()

        response = await space.client.patch(
            space.note(note["id"]), json={"tags": ["ok", "not ok!"]}, headers=space.owner.headers
        )

        assert_validation_error(response, "tags")

    async def test_malformed_json_returns_400(self, space: Space) -> None:
        note = await space.make_note()

        response = await space.client.patch(
            space.note(note["id"]), content=b"{title:", headers={**space.owner.headers, **JSON}
        )

        assert_problem(response, 400, "malformed-body")

    async def test_note_of_another_workspace_returns_404(self, space: Space) -> None:
        other = await make_space(space.factory)
        foreign = await other.make_note(title="theirs")

        response = await space.client.patch(
            space.note(foreign["id"]), json={"title": "mine"}, headers=space.owner.headers
        )

        assert_problem(response, 404, "note-not-found")
        unchanged = await other.client.get(other.note(foreign["id"]), headers=other.owner.headers)
        assert unchanged.json()["title"] == "theirs"

    async def test_non_member_gets_404(self, space: Space) -> None:
        note = await space.make_note()
        stranger = await space.factory.user("stranger")

        response = await space.client.patch(
            space.note(note["id"]), json={"title": "x"}, headers=stranger.headers
        )

        assert_problem(response, 404, "workspace-not-found")

    async def test_viewer_gets_403(self, space: Space) -> None:
        note = await space.make_note()
        viewer = await space.factory.member(space.workspace, space.owner, "viewer")

        response = await space.client.patch(
            space.note(note["id"]), json={"title": "x"}, headers=viewer.headers
        )

        assert_problem(response, 403, "insufficient-role")

    async def test_without_token_returns_401(self, space: Space) -> None:
        note = await space.make_note()

        response = await space.client.patch(space.note(note["id"]), json={"title": "x"})

        assert_problem(response, 401, "unauthenticated")


class TestTrashNote:
    async def test_moves_note_to_trash_as_a_new_version(self, space: Space) -> None:
        note = await space.make_note()

        response = await space.client.delete(
            space.note(note["id"]), headers=if_match(1, space.owner.headers)
        )

        assert response.status_code == 200, response.text
        assert response.json()["trashed_at"] is not None
        assert response.json()["version"] == 2
        assert response.headers["etag"] == '"2"'
        revisions = await _revisions(space, note["id"])
        assert [(r["version"], r["change"]) for r in revisions] == [(2, "trash"), (1, "create")]

    async def test_trash_revision_records_trashed_state(self, space: Space) -> None:
        note = await _trashed_note(space)

        response = await space.client.get(
            space.note(note["id"], "revisions", "2"), headers=space.owner.headers
        )

        assert response.json()["trashed"] is True

    async def test_trashing_a_trashed_note_changes_nothing(self, space: Space) -> None:
        note = await _trashed_note(space)

        response = await space.client.delete(space.note(note["id"]), headers=space.owner.headers)

        assert response.status_code == 200
        assert response.json()["version"] == note["version"]
        assert response.json()["trashed_at"] == note["trashed_at"]

    async def test_stale_if_match_returns_412_with_current_version(self, space: Space) -> None:
        note = await space.make_note()
        await space.client.patch(
            space.note(note["id"]), json={"body": "x"}, headers=space.owner.headers
        )

        response = await space.client.delete(
            space.note(note["id"]), headers=if_match(1, space.owner.headers)
        )

        assert assert_problem(response, 412, "stale-version")["current_version"] == 2
        assert len(await _listing(space)) == 1

    async def test_without_if_match_is_recorded_unconditional(self, space: Space) -> None:
        note = await _trashed_note(space)

        revisions = await _revisions(space, note["id"])

        assert revisions[0]["change"] == "trash"
        assert revisions[0]["unconditional"] is True

    async def test_malformed_if_match_returns_400(self, space: Space) -> None:
        note = await space.make_note()

        response = await space.client.delete(
            space.note(note["id"]), headers=if_match("v1", space.owner.headers)
        )

        assert_problem(response, 400, "invalid-if-match")

    async def test_note_of_another_workspace_returns_404(self, space: Space) -> None:
        other = await make_space(space.factory)
        foreign = await other.make_note()

        response = await space.client.delete(space.note(foreign["id"]), headers=space.owner.headers)

        assert_problem(response, 404, "note-not-found")
        assert len(await _listing(other)) == 1

    async def test_non_member_gets_404(self, space: Space) -> None:
        note = await space.make_note()
        stranger = await space.factory.user("stranger")

        response = await space.client.delete(space.note(note["id"]), headers=stranger.headers)

        assert_problem(response, 404, "workspace-not-found")

    async def test_viewer_gets_403(self, space: Space) -> None:
        note = await space.make_note()
        viewer = await space.factory.member(space.workspace, space.owner, "viewer")

        response = await space.client.delete(space.note(note["id"]), headers=viewer.headers)

        assert_problem(response, 403, "insufficient-role")

    async def test_without_token_returns_401(self, space: Space) -> None:
        note = await space.make_note()

        response = await space.client.delete(space.note(note["id"]))

        assert_problem(response, 401, "unauthenticated")


class TestRestoreNote:
    async def test_takes_note_out_of_trash_as_a_new_version(self, space: Space) -> None:
        note = await _trashed_note(space, title="Back")

        response = await space.client.post(
            space.note(note["id"], "restore"), headers=if_match(2, space.owner.headers)
        )

        assert response.status_code == 200, response.text
        restored = response.json()
        assert restored["trashed_at"] is None
        assert restored["version"] == 3
        assert response.headers["etag"] == '"3"'
        assert [n["id"] for n in await _listing(space)] == [note["id"]]
        assert await _listing(space, trashed="true") == []
        revisions = await _revisions(space, note["id"])
        assert [(r["version"], r["change"]) for r in revisions] == [
            (3, "restore"),
            (2, "trash"),
            (1, "create"),
        ]

    async def test_live_note_returns_409(self, space: Space) -> None:
        note = await space.make_note()

        response = await space.client.post(
            space.note(note["id"], "restore"), headers=space.owner.headers
        )

        assert_problem(response, 409, "note-not-in-trash")

    async def test_stale_if_match_returns_412_with_current_version(self, space: Space) -> None:
        note = await _trashed_note(space)

        response = await space.client.post(
            space.note(note["id"], "restore"), headers=if_match(1, space.owner.headers)
        )

        assert assert_problem(response, 412, "stale-version")["current_version"] == 2

    async def test_malformed_if_match_returns_400(self, space: Space) -> None:
        note = await _trashed_note(space)

        response = await space.client.post(
            space.note(note["id"], "restore"), headers=if_match("2", space.owner.headers)
        )

        assert_problem(response, 400, "invalid-if-match")

    async def test_note_of_another_workspace_returns_404(self, space: Space) -> None:
        other = await make_space(space.factory)
        foreign = await _trashed_note(other)

        response = await space.client.post(
            space.note(foreign["id"], "restore"), headers=space.owner.headers
        )

        assert_problem(response, 404, "note-not-found")

    async def test_non_member_gets_404(self, space: Space) -> None:
        note = await _trashed_note(space)
        stranger = await space.factory.user("stranger")

        response = await space.client.post(
            space.note(note["id"], "restore"), headers=stranger.headers
        )

        assert_problem(response, 404, "workspace-not-found")

    async def test_viewer_gets_403(self, space: Space) -> None:
        note = await _trashed_note(space)
        viewer = await space.factory.member(space.workspace, space.owner, "viewer")

        response = await space.client.post(
            space.note(note["id"], "restore"), headers=viewer.headers
        )

        assert_problem(response, 403, "insufficient-role")

    async def test_without_token_returns_401(self, space: Space) -> None:
        note = await _trashed_note(space)

        response = await space.client.post(space.note(note["id"], "restore"))

        assert_problem(response, 401, "unauthenticated")


class TestPurgeNote:
    async def test_purges_trashed_note_and_its_revisions(self, space: Space) -> None:
        note = await _trashed_note(space)

        response = await space.client.post(
            space.note(note["id"], "purge"), headers=if_match(2, space.owner.headers)
        )

        assert response.status_code == 204, response.text
        assert response.content == b""
        headers = space.owner.headers
        assert_problem(
            await space.client.get(space.note(note["id"]), headers=headers), 404, "note-not-found"
        )
        assert_problem(
            await space.client.get(space.note(note["id"], "revisions"), headers=headers),
            404,
            "note-not-found",
        )
        assert_problem(
            await space.client.get(space.note(note["id"], "revisions", "1"), headers=headers),
            404,
            "note-not-found",
        )
        assert await _listing(space, trashed="true") == []

    async def test_purging_again_returns_404(self, space: Space) -> None:
        note = await _trashed_note(space)
        await space.client.post(space.note(note["id"], "purge"), headers=space.owner.headers)

        response = await space.client.post(
            space.note(note["id"], "purge"), headers=space.owner.headers
        )

        assert_problem(response, 404, "note-not-found")

    async def test_live_note_returns_409(self, space: Space) -> None:
        note = await space.make_note()

        response = await space.client.post(
            space.note(note["id"], "purge"), headers=space.owner.headers
        )

        assert_problem(response, 409, "note-not-in-trash")
        assert len(await _revisions(space, note["id"])) == 1

    async def test_stale_if_match_returns_412_with_current_version(self, space: Space) -> None:
        note = await _trashed_note(space)

        response = await space.client.post(
            space.note(note["id"], "purge"), headers=if_match(1, space.owner.headers)
        )

        assert assert_problem(response, 412, "stale-version")["current_version"] == 2
        assert len(await _listing(space, trashed="true")) == 1

    async def test_malformed_if_match_returns_400(self, space: Space) -> None:
        note = await _trashed_note(space)

        response = await space.client.post(
            space.note(note["id"], "purge"), headers=if_match("W/", space.owner.headers)
        )

        assert_problem(response, 400, "invalid-if-match")

    async def test_note_of_another_workspace_returns_404(self, space: Space) -> None:
        other = await make_space(space.factory)
        foreign = await _trashed_note(other)

        response = await space.client.post(
            space.note(foreign["id"], "purge"), headers=space.owner.headers
        )

        assert_problem(response, 404, "note-not-found")
        assert len(await _listing(other, trashed="true")) == 1

    async def test_non_member_gets_404(self, space: Space) -> None:
        note = await _trashed_note(space)
        stranger = await space.factory.user("stranger")

        response = await space.client.post(
            space.note(note["id"], "purge"), headers=stranger.headers
        )

        assert_problem(response, 404, "workspace-not-found")

    async def test_viewer_gets_403(self, space: Space) -> None:
        note = await _trashed_note(space)
        viewer = await space.factory.member(space.workspace, space.owner, "viewer")

        response = await space.client.post(space.note(note["id"], "purge"), headers=viewer.headers)

        assert_problem(response, 403, "insufficient-role")

    async def test_without_token_returns_401(self, space: Space) -> None:
        note = await _trashed_note(space)

        response = await space.client.post(space.note(note["id"], "purge"))

        assert_problem(response, 401, "unauthenticated")


class TestListRevisions:
    async def test_lists_every_version_newest_first(self, space: Space) -> None:
        note = await space.make_note(title="v1")
        headers = space.owner.headers
        await space.client.patch(space.note(note["id"]), json={"title": "v2"}, headers=headers)
        await space.client.delete(space.note(note["id"]), headers=headers)
        await space.client.post(space.note(note["id"], "restore"), headers=headers)
        await space.client.post(
            space.note(note["id"], "revisions", "1", "restore"), headers=headers
        )

        revisions = await _revisions(space, note["id"])

        assert [(r["version"], r["change"], r["title"]) for r in revisions] == [
            (5, "revision_restore", "v1"),
            (4, "restore", "v2"),
            (3, "trash", "v2"),
            (2, "update", "v2"),
            (1, "create", "v1"),
        ]
        assert all(r["created_by"] == space.owner.user_id for r in revisions)
        assert "body" not in revisions[0]

    async def test_pages_with_a_cursor(self, space: Space) -> None:
        note = await space.make_note()
        for i in range(4):
            await space.client.patch(
                space.note(note["id"]), json={"body": str(i)}, headers=space.owner.headers
            )
        versions: list[int] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            response = await space.client.get(
                space.note(note["id"], "revisions"), params=params, headers=space.owner.headers
            )
            versions.extend(r["version"] for r in response.json()["items"])
            cursor = response.json()["next_cursor"]
            if cursor is None:
                break

        assert versions == [5, 4, 3, 2, 1]

    async def test_cursor_from_note_listing_returns_400(self, space: Space) -> None:
        note = await space.make_note()
        await space.make_note()
        notes_cursor = (
            await space.client.get(space.notes, params={"limit": 1}, headers=space.owner.headers)
        ).json()["next_cursor"]

        response = await space.client.get(
            space.note(note["id"], "revisions"),
            params={"cursor": notes_cursor},
            headers=space.owner.headers,
        )

        assert_problem(response, 400, "invalid-cursor")

    async def test_limit_out_of_bounds_returns_422(self, space: Space) -> None:
        note = await space.make_note()

        response = await space.client.get(
            space.note(note["id"], "revisions"), params={"limit": 0}, headers=space.owner.headers
        )

        assert_validation_error(response, "limit")

    async def test_viewer_can_list(self, space: Space) -> None:
        note = await space.make_note()
        viewer = await space.factory.member(space.workspace, space.owner, "viewer")

        response = await space.client.get(
            space.note(note["id"], "revisions"), headers=viewer.headers
        )

        assert response.status_code == 200
        assert len(response.json()["items"]) == 1

    async def test_unknown_note_returns_404(self, space: Space) -> None:
        response = await space.client.get(
            space.note(new_id(), "revisions"), headers=space.owner.headers
        )

        assert_problem(response, 404, "note-not-found")

    async def test_note_of_another_workspace_returns_404(self, space: Space) -> None:
        other = await make_space(space.factory)
        foreign = await other.make_note()

        response = await space.client.get(
            space.note(foreign["id"], "revisions"), headers=space.owner.headers
        )

        assert_problem(response, 404, "note-not-found")

    async def test_non_member_gets_404(self, space: Space) -> None:
        note = await space.make_note()
        stranger = await space.factory.user("stranger")

        response = await space.client.get(
            space.note(note["id"], "revisions"), headers=stranger.headers
        )

        assert_problem(response, 404, "workspace-not-found")

    async def test_without_token_returns_401(self, space: Space) -> None:
        note = await space.make_note()

        response = await space.client.get(space.note(note["id"], "revisions"))

        assert_problem(response, 401, "unauthenticated")


class TestGetRevision:
    async def test_returns_the_content_of_that_version(self, space: Space) -> None:
        note = await space.make_note(title="v1", body="first", tags=["a"], pinned=True)
        await space.client.patch(
            space.note(note["id"]),
            json={"title": "v2", "body": "second", "tags": ["b"], "pinned": False},
            headers=space.owner.headers,
        )

        response = await space.client.get(
            space.note(note["id"], "revisions", "1"), headers=space.owner.headers
        )

        assert response.status_code == 200
        revision = response.json()
        assert revision["note_id"] == note["id"]
        assert (revision["version"], revision["title"], revision["body"]) == (1, "v1", "first")
        assert revision["tags"] == ["a"]
        assert revision["pinned"] is True
        assert revision["trashed"] is False
        assert revision["change"] == "create"
        assert revision["created_at"] == note["updated_at"]

    async def test_unknown_version_returns_404(self, space: Space) -> None:
        note = await space.make_note()

        response = await space.client.get(
            space.note(note["id"], "revisions", "2"), headers=space.owner.headers
        )

        assert_problem(response, 404, "revision-not-found")

    @pytest.mark.parametrize("version", ["0", "-1", "one", str(2**31)])
    async def test_invalid_version_returns_422(self, space: Space, version: str) -> None:
        note = await space.make_note()

        response = await space.client.get(
            space.note(note["id"], "revisions", version), headers=space.owner.headers
        )

        assert_validation_error(response, "version")

    async def test_note_of_another_workspace_returns_404(self, space: Space) -> None:
        other = await make_space(space.factory)
        foreign = await other.make_note()

        response = await space.client.get(
            space.note(foreign["id"], "revisions", "1"), headers=space.owner.headers
        )

        assert_problem(response, 404, "note-not-found")

    async def test_non_member_gets_404(self, space: Space) -> None:
        note = await space.make_note()
        stranger = await space.factory.user("stranger")

        response = await space.client.get(
            space.note(note["id"], "revisions", "1"), headers=stranger.headers
        )

        assert_problem(response, 404, "workspace-not-found")

    async def test_without_token_returns_401(self, space: Space) -> None:
        note = await space.make_note()

        response = await space.client.get(space.note(note["id"], "revisions", "1"))

        assert_problem(response, 401, "unauthenticated")


class TestRestoreRevision:
    async def test_old_content_becomes_a_new_version(self, space: Space) -> None:
        note = await space.make_note(title="v1", body="first", tags=["a"], archived=True)
        await space.client.patch(
            space.note(note["id"]),
            json={"title": "v2", "body": "second", "tags": ["b"], "archived": False},
            headers=space.owner.headers,
        )

        response = await space.client.post(
            space.note(note["id"], "revisions", "1", "restore"),
            headers=if_match(2, space.owner.headers),
        )

        assert response.status_code == 200, response.text
        restored = response.json()
        assert (restored["title"], restored["body"], restored["tags"]) == ("v1", "first", ["a"])
        assert restored["archived"] is True
        assert restored["version"] == 3
        assert response.headers["etag"] == '"3"'
        revisions = await _revisions(space, note["id"])
        assert [(r["version"], r["change"], r["title"]) for r in revisions] == [
            (3, "revision_restore", "v1"),
            (2, "update", "v2"),
            (1, "create", "v1"),
        ]
        assert [n["id"] for n in await _listing(space, tag="a")] == [note["id"]]
        assert await _listing(space, tag="b") == []

    async def test_restoring_the_trash_revision_keeps_the_note_live(self, space: Space) -> None:
        note = await _trashed_note(space, title="t")
        await space.client.post(space.note(note["id"], "restore"), headers=space.owner.headers)

        response = await space.client.post(
            space.note(note["id"], "revisions", "2", "restore"), headers=space.owner.headers
        )

        assert response.status_code == 200, response.text
        assert response.json()["trashed_at"] is None
        assert response.json()["version"] == 4

    async def test_trashed_note_returns_409(self, space: Space) -> None:
        note = await _trashed_note(space)

        response = await space.client.post(
            space.note(note["id"], "revisions", "1", "restore"), headers=space.owner.headers
        )

        assert_problem(response, 409, "note-in-trash")

    async def test_unknown_version_returns_404(self, space: Space) -> None:
        note = await space.make_note()

        response = await space.client.post(
            space.note(note["id"], "revisions", "7", "restore"), headers=space.owner.headers
        )

        assert_problem(response, 404, "revision-not-found")
        assert len(await _revisions(space, note["id"])) == 1

    async def test_stale_if_match_returns_412_with_current_version(self, space: Space) -> None:
        note = await space.make_note()
        await space.client.patch(
            space.note(note["id"]), json={"body": "x"}, headers=space.owner.headers
        )

        response = await space.client.post(
            space.note(note["id"], "revisions", "1", "restore"),
            headers=if_match(1, space.owner.headers),
        )

        assert assert_problem(response, 412, "stale-version")["current_version"] == 2

    async def test_without_if_match_is_recorded_unconditional(self, space: Space) -> None:
        note = await space.make_note()
        await space.client.patch(
            space.note(note["id"]), json={"body": "x"}, headers=if_match(1, space.owner.headers)
        )

        await space.client.post(
            space.note(note["id"], "revisions", "1", "restore"), headers=space.owner.headers
        )

        revisions = await _revisions(space, note["id"])
        assert [(r["change"], r["unconditional"]) for r in revisions] == [
            ("revision_restore", True),
            ("update", False),
            ("create", False),
        ]

    async def test_malformed_if_match_returns_400(self, space: Space) -> None:
        note = await space.make_note()

        response = await space.client.post(
            space.note(note["id"], "revisions", "1", "restore"),
            headers=if_match("'1'", space.owner.headers),
        )

        assert_problem(response, 400, "invalid-if-match")

    async def test_note_of_another_workspace_returns_404(self, space: Space) -> None:
        other = await make_space(space.factory)
        foreign = await other.make_note()

        response = await space.client.post(
            space.note(foreign["id"], "revisions", "1", "restore"), headers=space.owner.headers
        )

        assert_problem(response, 404, "note-not-found")

    async def test_non_member_gets_404(self, space: Space) -> None:
        note = await space.make_note()
        stranger = await space.factory.user("stranger")

        response = await space.client.post(
            space.note(note["id"], "revisions", "1", "restore"), headers=stranger.headers
        )

        assert_problem(response, 404, "workspace-not-found")

    async def test_viewer_gets_403(self, space: Space) -> None:
        note = await space.make_note()
        viewer = await space.factory.member(space.workspace, space.owner, "viewer")

        response = await space.client.post(
            space.note(note["id"], "revisions", "1", "restore"), headers=viewer.headers
        )

        assert_problem(response, 403, "insufficient-role")

    async def test_without_token_returns_401(self, space: Space) -> None:
        note = await space.make_note()

        response = await space.client.post(space.note(note["id"], "revisions", "1", "restore"))

        assert_problem(response, 401, "unauthenticated")


async def test_unknown_workspace_returns_404(factory: Factory) -> None:
    user = await factory.user()

    response = await factory.client.get(notes_url({"id": new_id()}), headers=user.headers)

    assert_problem(response, 404, "workspace-not-found")
