"""GET /v1/workspaces/{id}/audit and /audit/verify: owners read and verify their chain."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, update

from ainotes.core import audit
from ainotes.core.db import Database
from tests.factories import Actor, Factory
from tests.problems import assert_problem

pytestmark = pytest.mark.anyio


def audit_url(workspace: dict[str, Any], suffix: str = "") -> str:
    return f"/v1/workspaces/{workspace['id']}/audit{suffix}"


async def list_events(
    client: httpx.AsyncClient, workspace: dict[str, Any], owner: Actor, **params: Any
) -> list[dict[str, Any]]:
    response = await client.get(audit_url(workspace), params=params, headers=owner.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def edit_note(
    client: httpx.AsyncClient,
    workspace: dict[str, Any],
    note: dict[str, Any],
    author: Actor,
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> httpx.Response:
    response = await client.patch(
        f"/v1/workspaces/{workspace['id']}/notes/{note['id']}",
        json=fields,
        headers={**author.headers, **(headers or {})},
    )
    assert response.status_code == 200, response.text
    return response


class TestListAuditEvents:
    async def test_owner_sees_every_change_newest_first(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        owner = await factory.user("owner")
        workspace = await factory.workspace(owner)
        note = await factory.note(workspace, owner)
        await edit_note(client, workspace, note, owner, title="Renamed")

        events = await list_events(client, workspace, owner)

        assert [(e["seq"], e["action"]) for e in events] == [
            (3, "note.updated"),
            (2, "note.created"),
            (1, "workspace.created"),
        ]
        assert events[0]["target_type"] == "note"
        assert events[0]["target_id"] == note["id"]
        assert events[0]["actor_id"] == owner.user_id
        assert events[0]["actor_kind"] == "user"
        assert events[0]["changes"]["title"] == {"before": note["title"], "after": "Renamed"}
        assert events[0]["changes"]["version"] == {"before": 1, "after": 2}
        assert events[2]["target_id"] == workspace["id"]
        ascending = await list_events(client, workspace, owner, order="asc")
        assert [e["seq"] for e in ascending] == [1, 2, 3]

    async def test_body_edit_is_kept_as_digests_without_the_text(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        owner = await factory.user("owner")
        workspace = await factory.workspace(owner)
        old_body = "first line\nsecret plan"
        note = await factory.note(workspace, owner, body=old_body)
        new_body = "first line\nrevised plan"
        await edit_note(client, workspace, note, owner, body=new_body)

        [event] = await list_events(client, workspace, owner, action="note.updated")

        assert event["changes"]["body"] == {
            "before_digest": audit.digest(old_body),
            "after_digest": audit.digest(new_body),
        }
        assert "plan" not in str(event)

    async def test_filters_narrow_the_listing(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        owner = await factory.user("owner")
        workspace = await factory.workspace(owner)
        editor = await factory.member(workspace, owner, "editor")
        note = await factory.note(workspace, owner)
        other = await factory.note(workspace, owner)
        context = {"X-Correlation-ID": "corr-audit-1", "X-Workflow-ID": "flow-audit-1"}
        edited = await edit_note(client, workspace, note, editor, context, title="By the editor")
        request_id = edited.headers["x-request-id"]

        def seqs(events: list[dict[str, Any]]) -> list[int]:
            return [e["seq"] for e in events]

        by_editor = await list_events(client, workspace, owner, actor_id=editor.user_id)
        assert [e["action"] for e in by_editor] == ["note.updated"]
        by_request = await list_events(client, workspace, owner, request_id=request_id)
        by_correlation = await list_events(client, workspace, owner, correlation_id="corr-audit-1")
        by_workflow = await list_events(client, workspace, owner, workflow_id="flow-audit-1")
        assert seqs(by_request) == seqs(by_correlation) == seqs(by_workflow) == seqs(by_editor)
        assert by_request[0]["correlation_id"] == "corr-audit-1"
        on_other = await list_events(
            client, workspace, owner, target_type="note", target_id=other["id"]
        )
        assert [e["action"] for e in on_other] == ["note.created"]
        members = await list_events(client, workspace, owner, action="member.added")
        assert [e["target_id"] for e in members] == [editor.user_id]

        everything = await list_events(client, workspace, owner, order="asc")
        cut = datetime.fromisoformat(everything[2]["occurred_at"])
        since = await list_events(client, workspace, owner, since=cut.isoformat())
        until = await list_events(client, workspace, owner, until=cut.isoformat())
        assert sorted(seqs(since) + seqs(until)) == seqs(everything)
        assert min(seqs(since)) == everything[2]["seq"]
        later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        assert await list_events(client, workspace, owner, since=later) == []

    async def test_pages_follow_the_cursor_without_gaps_or_repeats(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        owner = await factory.user("owner")
        workspace = await factory.workspace(owner)
        for _ in range(4):
            await factory.note(workspace, owner)
        for order, expected in (("desc", [5, 4, 3, 2, 1]), ("asc", [1, 2, 3, 4, 5])):
            seen: list[int] = []
            params: dict[str, Any] = {"limit": 2, "order": order}
            while True:
                response = await client.get(
                    audit_url(workspace), params=params, headers=owner.headers
                )
                assert response.status_code == 200, response.text
                page = response.json()
                assert len(page["items"]) <= 2
                seen += [e["seq"] for e in page["items"]]
                if page["next_cursor"] is None:
                    break
                params["cursor"] = page["next_cursor"]
            assert seen == expected

    async def test_a_cursor_of_another_workspace_is_refused(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        owner = await factory.user("owner")
        first = await factory.workspace(owner)
        second = await factory.workspace(owner)
        await factory.note(first, owner)
        page = (
            await client.get(audit_url(first), params={"limit": 1}, headers=owner.headers)
        ).json()
        response = await client.get(
            audit_url(second),
            params={"limit": 1, "cursor": page["next_cursor"]},
            headers=owner.headers,
        )
        assert assert_problem(response, 400)["type"].endswith("invalid-cursor")
        tampered = await client.get(
            audit_url(first), params={"cursor": "not-a-cursor"}, headers=owner.headers
        )
        assert_problem(tampered, 400)

    async def test_limit_above_the_page_size_is_refused(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        owner = await factory.user("owner")
        workspace = await factory.workspace(owner)
        response = await client.get(
            audit_url(workspace), params={"limit": 100_000}, headers=owner.headers
        )
        assert_problem(response, 422)

    @pytest.mark.parametrize("suffix", ["", "/verify"])
    @pytest.mark.parametrize("role", ["editor", "viewer"])
    async def test_members_who_are_not_owners_get_403(
        self, client: httpx.AsyncClient, factory: Factory, role: str, suffix: str
    ) -> None:
        owner = await factory.user("owner")
        workspace = await factory.workspace(owner)
        member = await factory.member(workspace, owner, role)
        response = await client.get(audit_url(workspace, suffix), headers=member.headers)
        assert_problem(response, 403)

    @pytest.mark.parametrize("suffix", ["", "/verify"])
    async def test_non_members_get_404(
        self, client: httpx.AsyncClient, factory: Factory, suffix: str
    ) -> None:
        owner = await factory.user("owner")
        workspace = await factory.workspace(owner)
        stranger = await factory.user("stranger")
        response = await client.get(audit_url(workspace, suffix), headers=stranger.headers)
        assert_problem(response, 404)

    async def test_reading_and_verifying_record_nothing(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        owner = await factory.user("owner")
        workspace = await factory.workspace(owner)
        await factory.note(workspace, owner)
        before = await list_events(client, workspace, owner)
        for _ in range(2):
            await client.get(audit_url(workspace, "/verify"), headers=owner.headers)
            await list_events(client, workspace, owner)
        assert await list_events(client, workspace, owner) == before


class TestVerifyAuditChain:
    async def verify(
        self, client: httpx.AsyncClient, workspace: dict[str, Any], owner: Actor
    ) -> dict[str, Any]:
        response = await client.get(audit_url(workspace, "/verify"), headers=owner.headers)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def seeded(self, factory: Factory) -> tuple[Actor, dict[str, Any]]:
        owner = await factory.user("owner")
        workspace = await factory.workspace(owner)
        for _ in range(4):
            await factory.note(workspace, owner)
        return owner, workspace

    async def test_an_untouched_chain_verifies(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        owner, workspace = await self.seeded(factory)
        assert await self.verify(client, workspace, owner) == {
            "ok": True,
            "events": 5,
            "first_broken_seq": None,
            "reason": None,
        }

    async def test_an_event_edited_in_the_database_is_named(
        self, client: httpx.AsyncClient, factory: Factory, database: Database
    ) -> None:
        owner, workspace = await self.seeded(factory)
        async with database.write_session() as session:
            await session.execute(
                update(audit.AuditEvent)
                .where(audit.AuditEvent.chain_id == workspace["id"], audit.AuditEvent.seq == 3)
                .values(actor_name="someone else")
            )
        result = await self.verify(client, workspace, owner)
        assert result["ok"] is False
        assert result["first_broken_seq"] == 3
        assert "hash" in result["reason"]

    async def test_an_event_deleted_from_the_database_is_named(
        self, client: httpx.AsyncClient, factory: Factory, database: Database
    ) -> None:
        owner, workspace = await self.seeded(factory)
        async with database.write_session() as session:
            await session.execute(
                delete(audit.AuditEvent).where(
                    audit.AuditEvent.chain_id == workspace["id"], audit.AuditEvent.seq == 2
                )
            )
        result = await self.verify(client, workspace, owner)
        assert (result["ok"], result["first_broken_seq"]) == (False, 2)
