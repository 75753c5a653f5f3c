"""Note listings, one statement per shape of filters run on the driver (core/rows.py): each
gives what SQLAlchemy's execution of the same statement gives, and paging through the API
covers every note once."""

from datetime import datetime, timedelta, timezone
from itertools import product

import httpx
import pytest

from ainotes.core.db import Database
from ainotes.core.pagination import bound_page_parameters, encode_cursor
from ainotes.notes.repository import _listing
from ainotes.notes.schemas import NoteFilters, NoteSort, SortOrder
from ainotes.notes.service import ORDERINGS
from tests.factories import Factory

pytestmark = pytest.mark.anyio


class TestNoteListingsMatchSqlalchemy:
    """Every shape of listing gives what SQLAlchemy's execution of the same statement gives
    (conversions, order, cursors), on both backends."""

    async def test_every_shape(self, database: Database, factory: Factory):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        notes = []
        for index in range(5):
            notes.append(
                await factory.note(
                    workspace,
                    owner,
                    tags=["t"] if index % 2 else [],
                    pinned=index % 3 == 0,
                )
            )
        trashed = await factory.note(workspace, owner)
        deleted = await factory.client.delete(
            f"/v1/workspaces/{workspace['id']}/notes/{trashed['id']}",
            headers={**owner.headers, "If-Match": '"1"'},
        )
        assert deleted.status_code in (200, 204), deleted.text
        first_change = datetime.fromisoformat(notes[1]["updated_at"])
        five_east = timezone(timedelta(hours=5))
        checked = 0
        async with database.read_session() as session:
            for sort, order, trash, pinned, archived, after, tag, with_cursor in product(
                NoteSort,
                SortOrder,
                (False, True),
                (None, True),
                (None, False),
                (None, (first_change - timedelta(microseconds=1)).astimezone(five_east)),
                (None, "t"),
                (False, True),
            ):
                filters = NoteFilters(
                    tag=tag, pinned=pinned, archived=archived, updated_after=after, trashed=trash
                )
                ordering = ORDERINGS[(sort, order)]
                cursor = None
                if with_cursor:
                    anchor = notes[2]
                    cursor = encode_cursor(
                        ordering,
                        [datetime.fromisoformat(anchor[ordering.column.key]), anchor["id"]],
                    )
                query = _listing(filters, ordering, after=cursor is not None)
                parameters = {
                    "workspace_id": workspace["id"],
                    "pinned": pinned,
                    "archived": archived,
                    "updated_after": after,
                    "tag": tag,
                    **bound_page_parameters(ordering, cursor, 2),
                }
                ours = await query.all(session, parameters)
                theirs = (await session.execute(query.statement, parameters)).mappings().all()
                assert ours == [dict(row) for row in theirs], (sort, order, filters, cursor)
                for row in ours:
                    assert row["updated_at"].tzinfo is not None
                    assert isinstance(row["pinned"], bool)
                    assert isinstance(row["tags"], list)
                checked += 1
        assert checked == 256

    async def test_pages_through_the_api_cover_every_note_once(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        ids = {(await factory.note(workspace, owner))["id"] for _ in range(7)}
        for sort, order in product(("updated_at", "created_at"), ("asc", "desc")):
            seen: list[str] = []
            cursor = None
            while True:
                params = {"limit": 2, "sort": sort, "order": order}
                if cursor:
                    params["cursor"] = cursor
                response = await client.get(
                    f"/v1/workspaces/{workspace['id']}/notes", params=params, headers=owner.headers
                )
                assert response.status_code == 200, response.text
                page = response.json()
                seen += [item["id"] for item in page["items"]]
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            assert sorted(seen) == sorted(ids)
            assert len(seen) == len(ids)
