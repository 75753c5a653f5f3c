from typing import Any

import pytest

from tests.problems import assert_problem
from tests.tasks.support import UNKNOWN_ID, Space, ids_by_text, make_space

pytestmark = pytest.mark.anyio

PLAN = """# Plan

- [ ] book flights 📅 2026-12-01 #trip @ann
  - [x] compare prices #trip
- [ ] renew passport due:2026-11-30
1. [ ] pack bags @bob

```
- [ ] not a task
```
"""


async def viewer_of(space: Space) -> Any:
    return await space.factory.member(space.workspace, space.owner, "viewer")


class TestListTasks:
    async def test_lists_every_note_soonest_due_first_undated_last(self, space: Space) -> None:
        await space.make_note(PLAN)
        await space.make_note("- [ ] water plants due:2026-11-29\n- [ ] read a book")
        tasks = await space.list_tasks()
        assert [(t["text"], t["due"]) for t in tasks] == [
            ("water plants", "2026-11-29"),
            ("renew passport", "2026-11-30"),
            ("book flights #trip @ann", "2026-12-01"),
            ("compare prices #trip", None),
            ("pack bags @bob", None),
            ("read a book", None),
        ]

    async def test_task_fields(self, space: Space) -> None:
        note = await space.make_note(PLAN)
        tasks = {t["text"]: t for t in await space.list_tasks()}
        flights = tasks["book flights #trip @ann"]
        prices = tasks["compare prices #trip"]
        assert flights["note_id"] == note["id"]
        assert flights["note_version"] == 1
        assert (flights["line"], flights["level"], flights["parent_id"]) == (3, 0, None)
        assert (flights["status"], flights["tags"], flights["assignees"]) == (
            "open",
            ["trip"],
            ["ann"],
        )
        assert (prices["line"], prices["level"], prices["parent_id"]) == (4, 1, flights["id"])
        assert prices["status"] == "done"

    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            ({"status": "done"}, ["compare prices #trip"]),
            ({"status": "open", "tag": "trip"}, ["book flights #trip @ann"]),
            ({"tag": "#TRIP"}, ["book flights #trip @ann", "compare prices #trip"]),
            ({"assignee": "@Bob"}, ["pack bags @bob"]),
            ({"assignee": "ann", "tag": "trip"}, ["book flights #trip @ann"]),
            ({"due_before": "2026-12-01"}, ["renew passport"]),
            ({"due_after": "2026-11-30"}, ["book flights #trip @ann"]),
            (
                {"due_after": "2026-11-01", "due_before": "2026-12-31"},
                [
                    "renew passport",
                    "book flights #trip @ann",
                ],
            ),
            ({"tag": "nothing-has-this"}, []),
        ],
    )
    async def test_filters(self, space: Space, params: dict[str, str], expected: list[str]) -> None:
        await space.make_note(PLAN)
        assert [t["text"] for t in await space.list_tasks(**params)] == expected

    async def test_filter_by_note(self, space: Space) -> None:
        await space.make_note(PLAN)
        other = await space.make_note("- [ ] only here")
        tasks = await space.list_tasks(note_id=other["id"])
        assert [t["text"] for t in tasks] == ["only here"]

    async def test_pages_follow_the_cursor_without_gaps_or_repeats(self, space: Space) -> None:
        await space.make_note(PLAN)
        await space.make_note("- [ ] x due:2026-12-01\n- [ ] y due:2026-12-01\n- [ ] z")
        everything = await space.list_tasks(limit=100)
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2}
            if cursor:
                params["cursor"] = cursor
            response = await space.client.get(
                space.tasks, params=params, headers=space.owner.headers
            )
            page = response.json()
            assert len(page["items"]) <= 2
            seen += [t["id"] for t in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [t["id"] for t in everything]
        assert len(seen) == 7

    async def test_filtered_pages_keep_the_filter(self, space: Space) -> None:
        await space.make_note("\n".join(f"- [ ] t{n} #a" for n in range(5)) + "\n- [ ] u")
        first = await space.client.get(
            space.tasks, params={"tag": "a", "limit": 3}, headers=space.owner.headers
        )
        second = await space.client.get(
            space.tasks,
            params={"tag": "a", "limit": 3, "cursor": first.json()["next_cursor"]},
            headers=space.owner.headers,
        )
        texts = [t["text"] for t in first.json()["items"] + second.json()["items"]]
        assert texts == [f"t{n} #a" for n in range(5)]
        assert second.json()["next_cursor"] is None

    async def test_invalid_cursor_returns_400(self, space: Space) -> None:
        response = await space.client.get(
            space.tasks, params={"cursor": "bm9wZQ"}, headers=space.owner.headers
        )
        assert_problem(response, 400, "invalid-cursor")

    @pytest.mark.parametrize(
        "params",
        [{"status": "closed"}, {"due_before": "2026-02-30"}, {"limit": 0}, {"note_id": "x"}],
    )
    async def test_invalid_query_returns_422(self, space: Space, params: dict[str, Any]) -> None:
        response = await space.client.get(space.tasks, params=params, headers=space.owner.headers)
        assert_problem(response, 422, "validation-failed")

    async def test_viewer_can_read(self, space: Space) -> None:
        await space.make_note("- [ ] visible")
        viewer = await viewer_of(space)
        response = await space.client.get(space.tasks, headers=viewer.headers)
        assert [t["text"] for t in response.json()["items"]] == ["visible"]

    async def test_other_workspaces_tasks_are_not_listed(self, space: Space) -> None:
        other = await make_space(space.factory)
        await other.make_note("- [ ] someone else's")
        await space.make_note("- [ ] mine")
        assert [t["text"] for t in await space.list_tasks()] == ["mine"]

    async def test_non_member_gets_404(self, space: Space) -> None:
        stranger = await space.factory.user("stranger")
        response = await space.client.get(space.tasks, headers=stranger.headers)
        assert_problem(response, 404, "workspace-not-found")

    async def test_unauthenticated_returns_401(self, space: Space) -> None:
        assert_problem(await space.client.get(space.tasks), 401, "unauthenticated")


class TestTrashRestorePurge:
    async def test_trash_hides_restore_brings_back_with_the_same_ids(self, space: Space) -> None:
        note = await space.make_note(PLAN)
        before = await space.list_tasks()
        response = await space.client.delete(space.note(note["id"]), headers=space.owner.headers)
        assert response.status_code == 200
        assert await space.list_tasks() == []
        response = await space.client.post(
            space.note(note["id"], "restore"), headers=space.owner.headers
        )
        assert response.status_code == 200
        after = await space.list_tasks()
        assert [t["id"] for t in after] == [t["id"] for t in before]
        assert {t["note_version"] for t in after} == {3}

    async def test_trashed_notes_tasks_stay_readable_through_the_note(self, space: Space) -> None:
        note = await space.make_note("- [ ] in the trash")
        await space.client.delete(space.note(note["id"]), headers=space.owner.headers)
        assert [t["text"] for t in await space.note_tasks(note)] == ["in the trash"]

    async def test_purge_removes_the_tasks(self, space: Space) -> None:
        note = await space.make_note("- [ ] doomed")
        task_id = (await space.note_tasks(note))[0]["id"]
        await space.client.delete(space.note(note["id"]), headers=space.owner.headers)
        response = await space.client.post(
            space.note(note["id"], "purge"), headers=space.owner.headers
        )
        assert response.status_code == 204
        response = await space.client.get(space.task(task_id), headers=space.owner.headers)
        assert_problem(response, 404, "task-not-found")


class TestSyncOnNoteWrites:
    async def test_edits_keep_ids_text_edit_reorder_and_lines_above(self, space: Space) -> None:
        note = await space.make_note("- [ ] buy milk\n- [ ] call the plumber\n- [ ] pay rent")
        original = ids_by_text(await space.note_tasks(note))
        await space.edit_note(
            note,
            "# Errands\n\nFirst things first.\n"
            "- [ ] pay rent due:2026-12-01\n- [x] buy oat milk\n- [ ] call the plumber",
        )
        tasks = await space.note_tasks(note)
        assert [(t["id"], t["line"], t["status"]) for t in tasks] == [
            (original["pay rent"], 4, "open"),
            (original["buy milk"], 5, "done"),
            (original["call the plumber"], 6, "open"),
        ]
        assert tasks[0]["due"] == "2026-12-01"
        assert tasks[1]["text"] == "buy oat milk"
        assert {t["note_version"] for t in tasks} == {2}

    async def test_removed_line_removes_the_task(self, space: Space) -> None:
        note = await space.make_note("- [ ] keep\n- [ ] drop")
        dropped = ids_by_text(await space.note_tasks(note))["drop"]
        await space.edit_note(note, "- [ ] keep")
        assert [t["text"] for t in await space.note_tasks(note)] == ["keep"]
        response = await space.client.get(space.task(dropped), headers=space.owner.headers)
        assert_problem(response, 404, "task-not-found")

    async def test_tags_follow_the_text(self, space: Space) -> None:
        note = await space.make_note("- [ ] plan #old @ann")
        await space.edit_note(note, "- [ ] plan #new @bob")
        assert await space.list_tasks(tag="old") == []
        assert await space.list_tasks(assignee="ann") == []
        assert [t["text"] for t in await space.list_tasks(tag="new", assignee="bob")] == [
            "plan #new @bob"
        ]

    async def test_title_only_edit_keeps_tasks_and_moves_their_version(self, space: Space) -> None:
        note = await space.make_note("- [ ] stay")
        before = await space.note_tasks(note)
        response = await space.client.patch(
            space.note(note["id"]), json={"title": "Renamed"}, headers=space.owner.headers
        )
        assert response.status_code == 200
        after = await space.note_tasks(note)
        assert [t["id"] for t in after] == [t["id"] for t in before]
        assert after[0]["note_version"] == 2
        assert after[0]["updated_at"] == before[0]["updated_at"]


class TestListNoteTasks:
    async def test_reading_order_with_nesting(self, space: Space) -> None:
        note = await space.make_note(PLAN)
        tasks = await space.note_tasks(note)
        assert [(t["line"], t["level"]) for t in tasks] == [(3, 0), (4, 1), (5, 0), (6, 0)]
        assert tasks[1]["parent_id"] == tasks[0]["id"]

    async def test_pages(self, space: Space) -> None:
        note = await space.make_note("\n".join(f"- [ ] t{n}" for n in range(5)))
        url = space.note(note["id"], "tasks")
        first = (
            await space.client.get(url, params={"limit": 3}, headers=space.owner.headers)
        ).json()
        second = (
            await space.client.get(
                url,
                params={"limit": 3, "cursor": first["next_cursor"]},
                headers=space.owner.headers,
            )
        ).json()
        assert [t["text"] for t in first["items"] + second["items"]] == [f"t{n}" for n in range(5)]
        assert second["next_cursor"] is None

    async def test_note_without_tasks_gives_an_empty_page(self, space: Space) -> None:
        note = await space.make_note("No tasks here.")
        assert await space.note_tasks(note) == []

    async def test_unknown_note_returns_404(self, space: Space) -> None:
        response = await space.client.get(
            space.note(UNKNOWN_ID, "tasks"), headers=space.owner.headers
        )
        assert_problem(response, 404, "note-not-found")

    async def test_other_workspaces_note_returns_404(self, space: Space) -> None:
        other = await make_space(space.factory)
        foreign = await other.make_note("- [ ] theirs")
        response = await space.client.get(
            space.note(foreign["id"], "tasks"), headers=space.owner.headers
        )
        assert_problem(response, 404, "note-not-found")

    async def test_malformed_note_id_returns_422(self, space: Space) -> None:
        response = await space.client.get(space.note("nope", "tasks"), headers=space.owner.headers)
        assert_problem(response, 422, "validation-failed")

    async def test_unauthenticated_returns_401(self, space: Space) -> None:
        note = await space.make_note("- [ ] a")
        response = await space.client.get(space.note(note["id"], "tasks"))
        assert_problem(response, 401, "unauthenticated")


class TestGetTask:
    async def test_returns_the_task_with_the_note_version_as_etag(self, space: Space) -> None:
        note = await space.make_note("- [ ] one")
        await space.edit_note(note, "Intro\n- [ ] one")
        task = (await space.note_tasks(note))[0]
        response = await space.client.get(space.task(task["id"]), headers=space.owner.headers)
        assert response.status_code == 200
        assert response.headers["etag"] == '"2"'
        assert response.json() == task

    async def test_unknown_task_returns_404(self, space: Space) -> None:
        response = await space.client.get(space.task(UNKNOWN_ID), headers=space.owner.headers)
        assert_problem(response, 404, "task-not-found")

    async def test_other_workspaces_task_returns_404(self, space: Space) -> None:
        other = await make_space(space.factory)
        foreign = (await other.note_tasks(await other.make_note("- [ ] theirs")))[0]
        response = await space.client.get(space.task(foreign["id"]), headers=space.owner.headers)
        assert_problem(response, 404, "task-not-found")

    async def test_malformed_id_returns_422(self, space: Space) -> None:
        response = await space.client.get(space.task("123"), headers=space.owner.headers)
        assert_problem(response, 422, "validation-failed")

    async def test_unauthenticated_returns_401(self, space: Space) -> None:
        assert_problem(await space.client.get(space.task(UNKNOWN_ID)), 401, "unauthenticated")


class TestUpdateTask:
    async def one_task(self, space: Space, body: str) -> tuple[dict[str, Any], dict[str, Any]]:
        note = await space.make_note(body)
        return note, (await space.note_tasks(note))[0]

    async def body_of(self, space: Space, note: dict[str, Any]) -> tuple[str, int]:
        response = await space.client.get(space.note(note["id"]), headers=space.owner.headers)
        return response.json()["body"], response.json()["version"]

    async def test_check_writes_the_note_and_keeps_the_id(self, space: Space) -> None:
        note, task = await self.one_task(space, "Intro\n\n  3) [ ] pay rent 📅 2026-12-01 #home\n")
        response = await space.client.patch(
            space.task(task["id"]), json={"status": "done"}, headers=space.owner.headers
        )
        assert response.status_code == 200, response.text
        updated = response.json()
        assert (updated["id"], updated["status"], updated["note_version"]) == (
            task["id"],
            "done",
            2,
        )
        assert response.headers["etag"] == '"2"'
        assert await self.body_of(space, note) == (
            "Intro\n\n  3) [x] pay rent 📅 2026-12-01 #home\n",
            2,
        )
        revisions = await space.client.get(
            space.note(note["id"], "revisions"), headers=space.owner.headers
        )
        assert [r["version"] for r in revisions.json()["items"]] == [2, 1]

    async def test_check_and_reword_a_task_in_a_blockquote(self, space: Space) -> None:
        body = (
            "Notes from the call:\n\n"
            "> Agreed:\n"
            "> - [ ] call Bob @bob\n"
            "> > 1. [ ] send the deck due:2026-12-01\n"
            ">\n"
            "> ```\n"
            "> - [ ] an example, not a task\n"
            "> ```\n"
        )
        note = await space.make_note(body)
        bob, deck = await space.note_tasks(note)
        assert [(t["text"], t["line"]) for t in (bob, deck)] == [
            ("call Bob @bob", 4),
            ("send the deck", 5),
        ]
        response = await space.client.patch(
            space.task(deck["id"]), json={"status": "done"}, headers=space.owner.headers
        )
        assert response.status_code == 200, response.text
        assert (response.json()["id"], response.json()["status"]) == (deck["id"], "done")
        response = await space.client.patch(
            space.task(bob["id"]),
            json={"text": "call Bob and Ann @bob @ann"},
            headers=space.owner.headers,
        )
        assert response.status_code == 200, response.text
        assert response.json()["assignees"] == ["bob", "ann"]
        assert await self.body_of(space, note) == (
            body.replace("> - [ ] call Bob @bob", "> - [ ] call Bob and Ann @bob @ann").replace(
                "> > 1. [ ] send", "> > 1. [x] send"
            ),
            3,
        )
        tasks = await space.note_tasks(note)
        assert [(t["id"], t["status"]) for t in tasks] == [
            (bob["id"], "open"),
            (deck["id"], "done"),
        ]

    async def test_uncheck(self, space: Space) -> None:
        note, task = await self.one_task(space, "- [X] done")
        response = await space.client.patch(
            space.task(task["id"]), json={"status": "open"}, headers=space.owner.headers
        )
        assert response.json()["status"] == "open"
        assert (await self.body_of(space, note))[0] == "- [ ] done"

    async def test_text_edit_keeps_indent_marker_due_date_and_id(self, space: Space) -> None:
        note = await space.make_note("- [ ] parent\n    * [ ] old words due:2026-12-01\n- [ ] c")
        child = (await space.note_tasks(note))[1]
        response = await space.client.patch(
            space.task(child["id"]),
            json={"text": "something completely different #new"},
            headers=space.owner.headers,
        )
        updated = response.json()
        assert updated["id"] == child["id"]
        assert updated["parent_id"] == child["parent_id"]
        assert (updated["text"], updated["due"], updated["tags"]) == (
            "something completely different #new",
            "2026-12-01",
            ["new"],
        )
        assert (await self.body_of(space, note))[0] == (
            "- [ ] parent\n    * [ ] something completely different #new due:2026-12-01\n- [ ] c"
        )

    async def test_text_edit_to_a_duplicate_of_another_task_keeps_both_ids(
        self, space: Space
    ) -> None:
        note = await space.make_note("- [ ] walk the dog\n- [ ] feed the cat")
        dog, cat = await space.note_tasks(note)
        response = await space.client.patch(
            space.task(cat["id"]), json={"text": "walk the dog"}, headers=space.owner.headers
        )
        assert response.json()["id"] == cat["id"]
        assert [t["id"] for t in await space.note_tasks(note)] == [dog["id"], cat["id"]]

    async def test_text_with_a_due_date_replaces_it(self, space: Space) -> None:
        note, task = await self.one_task(space, "- [ ] pay 📅 2026-12-01")
        response = await space.client.patch(
            space.task(task["id"]),
            json={"text": "pay due:2027-01-02", "status": "done"},
            headers=space.owner.headers,
        )
        assert (response.json()["due"], response.json()["status"]) == ("2027-01-02", "done")
        assert (await self.body_of(space, note))[0] == "- [x] pay due:2027-01-02"

    async def test_matching_if_match_succeeds(self, space: Space) -> None:
        _, task = await self.one_task(space, "- [ ] a")
        response = await space.client.patch(
            space.task(task["id"]),
            json={"status": "done"},
            headers={**space.owner.headers, "If-Match": '"1"'},
        )
        assert response.status_code == 200

    async def test_stale_if_match_returns_412_with_current_version(self, space: Space) -> None:
        note, task = await self.one_task(space, "- [ ] a")
        await space.edit_note(note, "- [ ] a\n- [ ] b")
        response = await space.client.patch(
            space.task(task["id"]),
            json={"status": "done"},
            headers={**space.owner.headers, "If-Match": '"1"'},
        )
        problem = assert_problem(response, 412, "stale-version")
        assert problem["current_version"] == 2
        assert (await self.body_of(space, note)) == ("- [ ] a\n- [ ] b", 2)

    async def test_malformed_if_match_returns_400(self, space: Space) -> None:
        _, task = await self.one_task(space, "- [ ] a")
        response = await space.client.patch(
            space.task(task["id"]),
            json={"status": "done"},
            headers={**space.owner.headers, "If-Match": "one"},
        )
        assert_problem(response, 400, "invalid-if-match")

    async def test_no_change_writes_no_version(self, space: Space) -> None:
        note, task = await self.one_task(space, "- [x] already")
        response = await space.client.patch(
            space.task(task["id"]),
            json={"status": "done", "text": "already"},
            headers=space.owner.headers,
        )
        assert response.status_code == 200
        assert (await self.body_of(space, note))[1] == 1

    async def test_task_of_a_trashed_note_returns_409(self, space: Space) -> None:
        note, task = await self.one_task(space, "- [ ] a")
        await space.client.delete(space.note(note["id"]), headers=space.owner.headers)
        response = await space.client.patch(
            space.task(task["id"]), json={"status": "done"}, headers=space.owner.headers
        )
        assert_problem(response, 409, "note-in-trash")

    @pytest.mark.parametrize(
        "body",
        [
            {"status": "closed"},
            {"text": ""},
            {"text": "   "},
            {"text": "two\nlines"},
            {"text": "x" * 2001},
            {"due": "2026-12-01"},
        ],
    )
    async def test_invalid_body_returns_422(self, space: Space, body: dict[str, Any]) -> None:
        note, task = await self.one_task(space, "- [ ] a")
        response = await space.client.patch(
            space.task(task["id"]), json=body, headers=space.owner.headers
        )
        assert_problem(response, 422, "validation-failed")
        assert (await self.body_of(space, note))[1] == 1

    async def test_viewer_gets_403(self, space: Space) -> None:
        note, task = await self.one_task(space, "- [ ] a")
        viewer = await viewer_of(space)
        response = await space.client.patch(
            space.task(task["id"]), json={"status": "done"}, headers=viewer.headers
        )
        assert_problem(response, 403, "insufficient-role")
        assert (await self.body_of(space, note))[1] == 1

    async def test_other_workspaces_task_returns_404(self, space: Space) -> None:
        other = await make_space(space.factory)
        foreign_note = await other.make_note("- [ ] theirs")
        foreign = (await other.note_tasks(foreign_note))[0]
        response = await space.client.patch(
            space.task(foreign["id"]), json={"status": "done"}, headers=space.owner.headers
        )
        assert_problem(response, 404, "task-not-found")
        assert (await other.note_tasks(foreign_note))[0]["status"] == "open"

    async def test_unauthenticated_returns_401(self, space: Space) -> None:
        response = await space.client.patch(space.task(UNKNOWN_ID), json={"status": "done"})
        assert_problem(response, 401, "unauthenticated")
