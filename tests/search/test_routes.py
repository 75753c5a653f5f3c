"""GET /v1/workspaces/{id}/search through the real app, on SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ainotes.core.db import Database
from ainotes.search import repository as search_repository
from ainotes.search import service as search_service
from ainotes.search.schemas import DocType
from tests.factories import Factory
from tests.problems import assert_problem
from tests.search.support import SearchSpace

pytestmark = pytest.mark.anyio


class TestSearchResults:
    async def test_finds_notes_by_title_and_body_as_typed_hits(self, space: SearchSpace):
        by_title = await space.note("Quokka habitats", "Islands off Western Australia.")
        by_body = await space.note("Marsupials", "The quokka smiles for selfies.")
        await space.note("Unrelated", "Nothing to see.")
        hits = await space.hits("quokka ")
        assert [hit["id"] for hit in hits] == [by_title["id"], by_body["id"]]
        first = hits[0]
        assert first["type"] == "note"
        assert first["note_id"] == by_title["id"]
        assert first["title"] == "Quokka habitats"
        assert first["tags"] == []
        assert first["archived"] is False
        assert datetime.fromisoformat(first["updated_at"]) == datetime.fromisoformat(
            by_title["updated_at"]
        )
        assert first["score"] > hits[1]["score"]

    async def test_every_word_must_match(self, space: SearchSpace):
        both = await space.note("Sourdough", "Flour, water and salt.")
        await space.note("Bread", "Flour and yeast.")
        assert await space.ids("flour salt ") == [both["id"]]

    async def test_exact_phrase_needs_the_words_in_order(self, space: SearchSpace):
        phrase = await space.note("A", "red blue green")
        await space.note("B", "blue red green")
        assert await space.ids('"red blue"') == [phrase["id"]]

    async def test_or_finds_either_word(self, space: SearchSpace):
        cat = await space.note("Cat", "")
        dog = await space.note("Dog", "")
        await space.note("Bird", "")
        assert set(await space.ids("cat OR dog ")) == {cat["id"], dog["id"]}

    async def test_minus_excludes(self, space: SearchSpace):
        keep = await space.note("Pasta carbonara", "eggs and cheese")
        await space.note("Pasta pomodoro", "tomato and basil")
        assert await space.ids("pasta -tomato") == [keep["id"]]

    async def test_last_word_matches_as_a_prefix_while_typing(self, space: SearchSpace):
        note = await space.note("Kubernetes operators", "")
        assert await space.ids("kuber") == [note["id"]]
        assert await space.ids("kuber ") == []

    async def test_accents_are_ignored(self, space: SearchSpace):
        note = await space.note("Café crème", "Déjà vu at the crêperie.")
        assert await space.ids("cafe deja ") == [note["id"]]
        assert await space.ids("CAFÉ ") == [note["id"]]

    async def test_snippet_marks_matches_and_escapes_everything_else(self, space: SearchSpace):
        await space.note(
            'Pwned <img src=x onerror="alert(1)">',
            "Before <script>alert('x')</script> the secret & more text after it.",
        )
        [hit] = await space.hits("secret pwned ")
        assert hit["highlighted_title"] == (
            "<mark>Pwned</mark> &lt;img src=x onerror=&quot;alert(1)&quot;&gt;"
        )
        snippet = hit["snippet"]
        assert "<mark>secret</mark>" in snippet
        assert "&amp; more text" in snippet
        # Markup in the body is escaped (SQLite) or dropped by ts_headline (PostgreSQL); either
        # way only our own <mark> elements survive as markup.
        unmarked = snippet.replace("<mark>", "").replace("</mark>", "")
        assert "<" not in unmarked
        assert ">" not in unmarked
        assert "'" not in unmarked

    async def test_highlight_markers_in_the_text_do_not_become_markup(self, space: SearchSpace):
        await space.note("Control \x02chars\x03 here", "body \x02x\x03")
        [hit] = await space.hits("control ")
        assert hit["highlighted_title"] == "<mark>Control</mark> chars here"


class TestSearchFollowsNoteWrites:
    async def test_rename_trash_restore_and_purge(self, space: SearchSpace):
        note = await space.note("Aardvark facts", "")
        url = f"{space.notes}/{note['id']}"
        headers = space.owner.headers
        response = await space.client.patch(url, json={"title": "Pangolin facts"}, headers=headers)
        assert response.status_code == 200, response.text
        assert await space.ids("aardvark ") == []
        assert await space.ids("pangolin ") == [note["id"]]
        assert (await space.client.delete(url, headers=headers)).status_code == 200
        assert await space.ids("pangolin ") == []
        assert (await space.client.post(f"{url}/restore", headers=headers)).status_code == 200
        assert await space.ids("pangolin ") == [note["id"]]
        assert (await space.client.delete(url, headers=headers)).status_code == 200
        assert (await space.client.post(f"{url}/purge", headers=headers)).status_code == 204
        assert await space.ids("pangolin ") == []

    async def test_archiving_updates_the_archived_flag(self, space: SearchSpace):
        note = await space.note("Okapi", "")
        response = await space.client.patch(
            f"{space.notes}/{note['id']}", json={"archived": True}, headers=space.owner.headers
        )
        assert response.status_code == 200, response.text
        [hit] = await space.hits("okapi ")
        assert hit["archived"] is True


class TestSearchFilters:
    async def test_tag(self, space: SearchSpace):
        tagged = await space.note("Lemur one", "", tags=["Madagascar Trip", "zoo"])
        await space.note("Lemur two", "", tags=["zoo"])
        assert await space.ids("lemur ", tag="#madagascar trip") == [tagged["id"]]
        assert await space.ids("lemur ", tag="nope") == []

    async def test_archived(self, space: SearchSpace):
        archived = await space.note("Tapir old", "", archived=True)
        live = await space.note("Tapir new", "")
        assert await space.ids("tapir ", archived="true") == [archived["id"]]
        assert await space.ids("tapir ", archived="false") == [live["id"]]
        assert len(await space.ids("tapir ")) == 2

    async def test_updated_after(self, space: SearchSpace):
        note = await space.note("Narwhal", "")
        updated = datetime.fromisoformat(note["updated_at"])
        before = (updated - timedelta(seconds=1)).isoformat()
        after = (updated + timedelta(seconds=1)).isoformat()
        assert await space.ids("narwhal ", updated_after=before) == [note["id"]]
        assert await space.ids("narwhal ", updated_after=after) == []

    async def test_updated_after_without_time_zone_is_422(self, space: SearchSpace):
        response = await space.get("narwhal", updated_after="2026-01-01T00:00:00")
        assert_problem(response, 422, "validation-failed")

    async def test_type(self, space: SearchSpace, database: Database):
        note = await space.note("Axolotl care", "")
        now = datetime.now(UTC)
        async with database.write_session() as session:
            await search_service.index_document(
                session,
                space.workspace["id"],
                DocType.TASK,
                "01JDTASK000000000000000000",
                title="Feed the axolotl",
                body="",
                tags=["pets"],
                archived=False,
                note_id=note["id"],
                updated_at=now,
            )
        tasks = await space.hits("axolotl ", type="task")
        assert [(h["type"], h["id"], h["note_id"]) for h in tasks] == [
            ("task", "01JDTASK000000000000000000", note["id"])
        ]
        assert await space.ids("axolotl ", type="note") == [note["id"]]
        assert len(await space.ids("axolotl ", type=["note", "task"])) == 2
        assert await space.ids("axolotl ", type="artifact") == []
        assert_problem(await space.get("axolotl", type="spreadsheet"), 422, "validation-failed")
        async with database.write_session() as session:
            await search_service.remove_document(
                session, space.workspace["id"], DocType.TASK, "01JDTASK000000000000000000"
            )
        assert await space.ids("axolotl ", type="task") == []


class TestSearchPagination:
    async def test_pages_cover_every_hit_once(self, space: SearchSpace):
        ids = {(await space.note(f"Gecko {i}", "gecko " * (i + 1)))["id"] for i in range(5)}
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            params: dict[str, Any] = {"limit": 2}
            if cursor:
                params["cursor"] = cursor
            response = await space.get("gecko ", **params)
            assert response.status_code == 200, response.text
            page = response.json()
            seen.extend(hit["id"] for hit in page["items"])
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert pages == 3
        assert sorted(seen) == sorted(ids)

    async def test_cursor_of_another_query_is_refused(self, space: SearchSpace):
        for i in range(3):
            await space.note(f"Ibis {i}", "")
        cursor = (await space.get("ibis ", limit=1)).json()["next_cursor"]
        assert cursor
        assert_problem(await space.get("ibis", limit=1, cursor=cursor), 400, "invalid-cursor")
        assert_problem(await space.get("ibis ", cursor="garbage!"), 400, "invalid-cursor")


HOSTILE = [
    '"',
    '"unbalanced',
    'a"b"c"',
    "NEAR(a b, 3)",
    "NEAR",
    "a AND OR NOT b",
    "AND",
    "OR",
    "NOT",
    "title:secret",
    "workspace_id:x",
    "{title body} : x",
    "^start",
    "*",
    "a*",
    "a * b",
    "(((",
    ")",
    "(a OR b) AND c",
    "'; DROP TABLE notes; --",
    "' OR 1=1 --",
    "\\",
    "a & b | !c <-> d:*",
    "!!",
    ":*",
    "%_%",
    "🎉",
    "naïve 東京 Ωmega 🎉",
    "-",
    "-a",
    "- -",
    "x" * 1000,
    "a " * 32,
    "\u0000",
    "\x02mark\x03",
]


class TestHostileQueries:
    @pytest.mark.parametrize("q", HOSTILE)
    async def test_never_a_server_error(self, space: SearchSpace, q: str):
        await space.note("Secret plans", "a b c d")
        response = await space.get(q)
        assert response.status_code in (200, 422), response.text
        if response.status_code == 422:
            assert_problem(response, 422, response.json()["type"].rsplit("/", 1)[1])

    async def test_query_over_1000_characters_is_422(self, space: SearchSpace):
        assert_problem(await space.get("x" * 10_000), 422, "validation-failed")

    async def test_too_many_words_is_422(self, space: SearchSpace):
        assert_problem(await space.get("a " * 33), 422, "search-query-too-complex")

    @pytest.mark.parametrize("q", ["", "   ", "\t\n"])
    async def test_blank_query_is_422(self, space: SearchSpace, q: str):
        response = await space.get(q)
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"

    @pytest.mark.parametrize("q", ["🎉", "***", "-secret"])
    async def test_query_without_words_to_find_returns_nothing(self, space: SearchSpace, q: str):
        await space.note("Secret", "🎉 ***")
        response = await space.get(q)
        assert response.status_code == 200
        assert response.json() == {"items": [], "next_cursor": None}

    async def test_sql_fragment_finds_a_note_with_those_words(self, space: SearchSpace):
        note = await space.note("Drop table notes", "")
        assert await space.ids("'; DROP TABLE notes; --") == [note["id"]]


class TestSearchAccess:
    async def test_notes_of_another_workspace_never_appear(
        self, space: SearchSpace, factory: Factory
    ):
        other_owner = await factory.user("other")
        other = await factory.workspace(other_owner)
        await factory.note(other, other_owner, title="Wombat secrets", body="wombat")
        mine = await space.note("Wombat public", "")
        assert await space.ids("wombat ") == [mine["id"]]
        assert await space.ids("secrets ") == []

    async def test_isolation_holds_when_workspaces_share_an_fts_rowid_block(
        self, space: SearchSpace, factory: Factory, monkeypatch: pytest.MonkeyPatch
    ):
        # SQLite confines a query to a rowid block chosen by hashing the workspace id; two
        # workspaces may hash to the same block, which must cost speed only.
        monkeypatch.setattr(search_repository, "rowid_block", lambda _: (1 << 40, (1 << 41) - 1))
        other_owner = await factory.user("other")
        other = await factory.workspace(other_owner)
        await factory.note(other, other_owner, title="Wombat secrets", body="")
        mine = await space.note("Wombat public", "")
        assert await space.ids("wombat ") == [mine["id"]]

    async def test_non_member_gets_404(self, space: SearchSpace, factory: Factory):
        stranger = await factory.user("stranger")
        response = await space.client.get(space.url, params={"q": "x"}, headers=stranger.headers)
        assert_problem(response, 404, "workspace-not-found")

    async def test_viewer_can_search(self, space: SearchSpace, factory: Factory):
        note = await space.note("Capybara", "")
        viewer = await factory.member(space.workspace, space.owner, "viewer")
        response = await space.client.get(
            space.url, params={"q": "capybara"}, headers=viewer.headers
        )
        assert response.status_code == 200
        assert [hit["id"] for hit in response.json()["items"]] == [note["id"]]

    async def test_without_token_401(self, space: SearchSpace):
        response = await space.client.get(space.url, params={"q": "x"})
        assert_problem(response, 401, "unauthenticated")
