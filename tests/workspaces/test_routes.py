"""/v1/workspaces and /v1/workspaces/{workspace_id}/members over HTTP, as each role sees them."""

import base64
import json
import uuid
from datetime import datetime
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import update

from ainotes.auth.models import User
from ainotes.core.db import Database
from ainotes.core.models import utcnow
from tests.factories import Actor, Factory
from tests.problems import assert_problem

pytestmark = pytest.mark.anyio

UNKNOWN_ID = "0" * 26
MALFORMED_IDS = ["short", "0" * 27, "I" * 26, "0" * 25 + "!"]
LOW_ROLES = ["viewer", "editor"]


def secret_name() -> str:
    return f"Secret plans {uuid.uuid4().hex}"


def url(workspace: dict[str, Any], suffix: str = "") -> str:
    return f"/v1/workspaces/{workspace['id']}{suffix}"


async def roles_of(factory: Factory, workspace: dict[str, Any], viewer: Actor) -> dict[str, str]:
    response = await factory.client.get(url(workspace, "/members"), headers=viewer.headers)
    assert response.status_code == 200, response.text
    return {member["user_id"]: member["role"] for member in response.json()}


class TestCreateWorkspace:
    async def test_creator_becomes_owner(self, client: httpx.AsyncClient, factory: Factory):
        owner = await factory.user()
        response = await client.post(
            "/v1/workspaces",
            json={"name": "Research", "description": "Papers"},
            headers=owner.headers,
        )
        assert response.status_code == 201, response.text
        workspace = response.json()
        assert workspace["name"] == "Research"
        assert workspace["description"] == "Papers"
        assert workspace["role"] == "owner"
        assert workspace["created_by"] == owner.user_id
        assert await roles_of(factory, workspace, owner) == {owner.user_id: "owner"}

    async def test_description_defaults_to_empty(self, client: httpx.AsyncClient, factory: Factory):
        owner = await factory.user()
        response = await client.post("/v1/workspaces", json={"name": "X"}, headers=owner.headers)
        assert response.json()["description"] == ""

    async def test_name_is_stripped(self, client: httpx.AsyncClient, factory: Factory):
        owner = await factory.user()
        response = await client.post(
            "/v1/workspaces", json={"name": "  Spaced  "}, headers=owner.headers
        )
        assert response.json()["name"] == "Spaced"

    async def test_name_of_200_characters_is_accepted(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        owner = await factory.user()
        response = await client.post(
            "/v1/workspaces", json={"name": "n" * 200}, headers=owner.headers
        )
        assert response.status_code == 201, response.text

    @pytest.mark.parametrize(
        "payload",
        [
            pytest.param({}, id="missing-name"),
            pytest.param({"name": ""}, id="empty-name"),
            pytest.param({"name": "   "}, id="blank-name"),
            pytest.param({"name": "n" * 201}, id="name-too-long"),
            pytest.param({"name": 7}, id="name-not-a-string"),
            pytest.param({"name": None}, id="name-null"),
            pytest.param({"name": "a", "description": "d" * 5001}, id="description-too-long"),
            pytest.param({"name": "a", "description": ["x"]}, id="description-not-a-string"),
            pytest.param({"name": "a", "owner": "someone"}, id="unknown-field"),
            pytest.param("a", id="not-an-object"),
        ],
    )
    async def test_invalid_body_422(
        self, client: httpx.AsyncClient, factory: Factory, payload: Any
    ):
        owner = await factory.user()
        response = await client.post("/v1/workspaces", json=payload, headers=owner.headers)
        assert assert_problem(response, 422, "validation-failed")["errors"]

    async def test_requires_authentication_401(self, client: httpx.AsyncClient):
        response = await client.post("/v1/workspaces", json={"name": "x"})
        assert_problem(response, 401, "unauthenticated")


class TestListWorkspaces:
    async def test_shows_only_workspaces_one_belongs_to_with_ones_role(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        me = await factory.user()
        stranger = await factory.user()
        mine = await factory.workspace(me, "Mine")
        shared = await factory.workspace(stranger, "Shared")
        await client.post(
            url(shared, "/members"),
            json={"user_id": me.user_id, "role": "viewer"},
            headers=stranger.headers,
        )
        hidden = await factory.workspace(stranger, secret_name())
        response = await client.get("/v1/workspaces", headers=me.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert [(w["id"], w["role"]) for w in page["items"]] == [
            (mine["id"], "owner"),
            (shared["id"], "viewer"),
        ]
        assert page["next_cursor"] is None
        assert hidden["name"] not in response.text

    async def test_new_user_sees_an_empty_list(self, client: httpx.AsyncClient, factory: Factory):
        me = await factory.user()
        response = await client.get("/v1/workspaces", headers=me.headers)
        assert response.json() == {"items": [], "next_cursor": None}

    async def test_pages_skip_and_repeat_nothing_while_workspaces_are_added(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        me = await factory.user()
        stranger = await factory.user()
        created = [(await factory.workspace(me, f"W{i}"))["id"] for i in range(5)]
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            params: dict[str, Any] = {"limit": 2}
            if cursor is not None:
                params["cursor"] = cursor
            response = await client.get("/v1/workspaces", params=params, headers=me.headers)
            assert response.status_code == 200, response.text
            page = response.json()
            assert len(page["items"]) <= 2
            seen.extend(w["id"] for w in page["items"])
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
            if pages <= 2:
                # Inserts between page fetches, mine and someone else's.
                created.append((await factory.workspace(me, f"Late{pages}"))["id"])
                await factory.workspace(stranger, "Noise")
        assert seen == created
        assert pages == 4

    async def test_last_page_has_no_cursor(self, client: httpx.AsyncClient, factory: Factory):
        me = await factory.user()
        for i in range(2):
            await factory.workspace(me, f"W{i}")
        response = await client.get("/v1/workspaces", params={"limit": 2}, headers=me.headers)
        assert len(response.json()["items"]) == 2
        assert response.json()["next_cursor"] is None

    @pytest.mark.parametrize("limit", ["0", "-1", "201", "many"])
    async def test_invalid_limit_422(self, client: httpx.AsyncClient, factory: Factory, limit: str):
        me = await factory.user()
        response = await client.get("/v1/workspaces", params={"limit": limit}, headers=me.headers)
        assert_problem(response, 422, "validation-failed")

    @pytest.mark.parametrize(
        "cursor",
        [
            pytest.param("not-a-cursor!", id="garbage"),
            pytest.param(
                base64.urlsafe_b64encode(
                    json.dumps({"o": "title", "k": ["a", UNKNOWN_ID]}).encode()
                ).decode(),
                id="another-ordering",
            ),
            pytest.param(
                base64.urlsafe_b64encode(json.dumps({"o": "created", "k": [1]}).encode()).decode(),
                id="short-key",
            ),
            pytest.param(
                base64.urlsafe_b64encode(
                    json.dumps({"o": "created", "k": ["yesterday", UNKNOWN_ID]}).encode()
                ).decode(),
                id="not-a-datetime",
            ),
        ],
    )
    async def test_invalid_cursor_400(
        self, client: httpx.AsyncClient, factory: Factory, cursor: str
    ):
        me = await factory.user()
        response = await client.get("/v1/workspaces", params={"cursor": cursor}, headers=me.headers)
        assert_problem(response, 400, "invalid-cursor")

    async def test_workspace_disappears_after_leaving(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        member = await factory.member(workspace, owner, "editor")
        await client.delete(url(workspace, f"/members/{member.user_id}"), headers=member.headers)
        response = await client.get("/v1/workspaces", headers=member.headers)
        assert response.json()["items"] == []

    async def test_requires_authentication_401(self, client: httpx.AsyncClient):
        assert_problem(await client.get("/v1/workspaces"), 401, "unauthenticated")


class TestGetWorkspace:
    @pytest.mark.parametrize("role", ["viewer", "editor", "owner"])
    async def test_member_sees_it_with_their_role(
        self, client: httpx.AsyncClient, factory: Factory, role: str
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner, "Team")
        member = await factory.member(workspace, owner, role)
        response = await client.get(url(workspace), headers=member.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["id"] == workspace["id"]
        assert body["name"] == "Team"
        assert body["role"] == role

    async def test_non_member_404_without_the_name(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        owner = await factory.user()
        stranger = await factory.user()
        workspace = await factory.workspace(owner, secret_name())
        response = await client.get(url(workspace), headers=stranger.headers)
        assert_problem(response, 404, "workspace-not-found")
        assert workspace["name"] not in response.text

    async def test_non_member_and_unknown_id_look_the_same(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        owner = await factory.user()
        stranger = await factory.user()
        workspace = await factory.workspace(owner)
        existing = await client.get(url(workspace), headers=stranger.headers)
        missing = await client.get(f"/v1/workspaces/{UNKNOWN_ID}", headers=stranger.headers)
        assert existing.status_code == missing.status_code == 404
        assert existing.json()["type"] == missing.json()["type"]
        assert existing.json()["title"] == missing.json()["title"]

    @pytest.mark.parametrize("workspace_id", MALFORMED_IDS)
    async def test_malformed_id_422(
        self, client: httpx.AsyncClient, factory: Factory, workspace_id: str
    ):
        me = await factory.user()
        response = await client.get(f"/v1/workspaces/{workspace_id}", headers=me.headers)
        assert_problem(response, 422, "validation-failed")

    async def test_requires_authentication_401(self, client: httpx.AsyncClient, factory: Factory):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        assert_problem(await client.get(url(workspace)), 401, "unauthenticated")


class TestUpdateWorkspace:
    async def test_owner_renames_and_describes(self, client: httpx.AsyncClient, factory: Factory):
        owner = await factory.user()
        workspace = await factory.workspace(owner, "Old")
        response = await client.patch(
            url(workspace), json={"name": "New", "description": "About"}, headers=owner.headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["name"], body["description"], body["role"]) == ("New", "About", "owner")
        assert datetime.fromisoformat(body["updated_at"]) > datetime.fromisoformat(
            workspace["updated_at"]
        )
        again = await client.get(url(workspace), headers=owner.headers)
        assert again.json()["name"] == "New"

    async def test_fields_left_out_are_unchanged(self, client: httpx.AsyncClient, factory: Factory):
        owner = await factory.user()
        workspace = await factory.workspace(owner, "Keep")
        await client.patch(url(workspace), json={"description": "D"}, headers=owner.headers)
        response = await client.patch(url(workspace), json={"name": None}, headers=owner.headers)
        assert response.status_code == 200, response.text
        assert (response.json()["name"], response.json()["description"]) == ("Keep", "D")

    async def test_second_owner_may_update(self, client: httpx.AsyncClient, factory: Factory):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        co_owner = await factory.member(workspace, owner, "owner")
        response = await client.patch(url(workspace), json={"name": "Co"}, headers=co_owner.headers)
        assert response.status_code == 200, response.text

    @pytest.mark.parametrize("role", LOW_ROLES)
    async def test_non_owner_member_403(
        self, client: httpx.AsyncClient, factory: Factory, role: str
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner, "Stable")
        member = await factory.member(workspace, owner, role)
        response = await client.patch(url(workspace), json={"name": "X"}, headers=member.headers)
        assert_problem(response, 403, "insufficient-role")
        assert (await client.get(url(workspace), headers=owner.headers)).json()["name"] == "Stable"

    async def test_non_member_404_without_the_name(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        owner = await factory.user()
        stranger = await factory.user()
        name = secret_name()
        workspace = await factory.workspace(owner, name)
        response = await client.patch(url(workspace), json={"name": "X"}, headers=stranger.headers)
        assert_problem(response, 404, "workspace-not-found")
        assert name not in response.text
        assert (await client.get(url(workspace), headers=owner.headers)).json()["name"] == name

    @pytest.mark.parametrize(
        "payload",
        [
            pytest.param({"name": ""}, id="empty-name"),
            pytest.param({"name": "n" * 201}, id="name-too-long"),
            pytest.param({"name": ["x"]}, id="name-not-a-string"),
            pytest.param({"description": "d" * 5001}, id="description-too-long"),
            pytest.param({"role": "owner"}, id="unknown-field"),
        ],
    )
    async def test_invalid_body_422(
        self, client: httpx.AsyncClient, factory: Factory, payload: Any
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        response = await client.patch(url(workspace), json=payload, headers=owner.headers)
        assert_problem(response, 422, "validation-failed")

    @pytest.mark.parametrize("workspace_id", MALFORMED_IDS)
    async def test_malformed_id_422(
        self, client: httpx.AsyncClient, factory: Factory, workspace_id: str
    ):
        me = await factory.user()
        response = await client.patch(
            f"/v1/workspaces/{workspace_id}", json={"name": "x"}, headers=me.headers
        )
        assert_problem(response, 422, "validation-failed")

    async def test_requires_authentication_401(self, client: httpx.AsyncClient, factory: Factory):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        response = await client.patch(url(workspace), json={"name": "x"})
        assert_problem(response, 401, "unauthenticated")


class TestDeleteWorkspace:
    async def test_owner_deletes_and_every_member_loses_access(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        editor = await factory.member(workspace, owner, "editor")
        await factory.note(workspace, editor)
        response = await client.delete(url(workspace), headers=owner.headers)
        assert response.status_code == 204, response.text
        assert response.content == b""
        for actor in (owner, editor):
            assert_problem(
                await client.get(url(workspace), headers=actor.headers),
                404,
                "workspace-not-found",
            )
            assert_problem(
                await client.get(url(workspace, "/members"), headers=actor.headers),
                404,
                "workspace-not-found",
            )
            listed = await client.get("/v1/workspaces", headers=actor.headers)
            assert workspace["id"] not in {w["id"] for w in listed.json()["items"]}

    async def test_deleting_twice_404(self, client: httpx.AsyncClient, factory: Factory):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        await client.delete(url(workspace), headers=owner.headers)
        response = await client.delete(url(workspace), headers=owner.headers)
        assert_problem(response, 404, "workspace-not-found")

    @pytest.mark.parametrize("role", LOW_ROLES)
    async def test_non_owner_member_403_and_nothing_is_deleted(
        self, client: httpx.AsyncClient, factory: Factory, role: str
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        member = await factory.member(workspace, owner, role)
        response = await client.delete(url(workspace), headers=member.headers)
        assert_problem(response, 403, "insufficient-role")
        assert (await client.get(url(workspace), headers=member.headers)).status_code == 200

    async def test_non_member_404_without_the_name(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        owner = await factory.user()
        stranger = await factory.user()
        workspace = await factory.workspace(owner, secret_name())
        response = await client.delete(url(workspace), headers=stranger.headers)
        assert_problem(response, 404, "workspace-not-found")
        assert workspace["name"] not in response.text
        assert (await client.get(url(workspace), headers=owner.headers)).status_code == 200

    @pytest.mark.parametrize("workspace_id", MALFORMED_IDS)
    async def test_malformed_id_422(
        self, client: httpx.AsyncClient, factory: Factory, workspace_id: str
    ):
        me = await factory.user()
        response = await client.delete(f"/v1/workspaces/{workspace_id}", headers=me.headers)
        assert_problem(response, 422, "validation-failed")

    async def test_requires_authentication_401(self, client: httpx.AsyncClient, factory: Factory):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        assert_problem(await client.delete(url(workspace)), 401, "unauthenticated")


class TestListMembers:
    @pytest.mark.parametrize("role", ["viewer", "editor", "owner"])
    async def test_any_member_lists_everyone_in_joining_order(
        self, client: httpx.AsyncClient, factory: Factory, role: str
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        asker = await factory.member(workspace, owner, role)
        other = await factory.member(workspace, owner, "viewer")
        response = await client.get(url(workspace, "/members"), headers=asker.headers)
        assert response.status_code == 200, response.text
        members = response.json()
        assert [(m["user_id"], m["role"]) for m in members] == [
            (owner.user_id, "owner"),
            (asker.user_id, role),
            (other.user_id, "viewer"),
        ]
        assert members[0]["username"] == owner.username
        assert set(members[0]) == {"user_id", "username", "display_name", "role", "created_at"}

    async def test_non_member_404_without_the_name(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        owner = await factory.user()
        stranger = await factory.user()
        workspace = await factory.workspace(owner, secret_name())
        response = await client.get(url(workspace, "/members"), headers=stranger.headers)
        assert_problem(response, 404, "workspace-not-found")
        assert workspace["name"] not in response.text
        assert owner.username not in response.text

    async def test_requires_authentication_401(self, client: httpx.AsyncClient, factory: Factory):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        assert_problem(await client.get(url(workspace, "/members")), 401, "unauthenticated")


class TestAddMember:
    async def test_owner_adds_by_user_id_and_the_member_gets_access(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        newcomer = await factory.user("newcomer")
        assert_problem(
            await client.get(url(workspace), headers=newcomer.headers), 404, "workspace-not-found"
        )
        response = await client.post(
            url(workspace, "/members"),
            json={"user_id": newcomer.user_id, "role": "editor"},
            headers=owner.headers,
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["user_id"], body["username"], body["role"]) == (
            newcomer.user_id,
            newcomer.username,
            "editor",
        )
        seen = await client.get(url(workspace), headers=newcomer.headers)
        assert seen.json()["role"] == "editor"

    async def test_owner_adds_by_username_in_any_case(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        newcomer = await factory.user("named")
        response = await client.post(
            url(workspace, "/members"),
            json={"username": f" {newcomer.username.upper()} ", "role": "viewer"},
            headers=owner.headers,
        )
        assert response.status_code == 201, response.text
        assert response.json()["user_id"] == newcomer.user_id
        assert (await roles_of(factory, workspace, owner))[newcomer.user_id] == "viewer"

    async def test_owner_can_add_another_owner(self, client: httpx.AsyncClient, factory: Factory):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        co_owner = await factory.member(workspace, owner, "owner")
        third = await factory.user()
        response = await client.post(
            url(workspace, "/members"),
            json={"user_id": third.user_id, "role": "viewer"},
            headers=co_owner.headers,
        )
        assert response.status_code == 201, response.text

    async def test_unknown_user_id_404(self, client: httpx.AsyncClient, factory: Factory):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        response = await client.post(
            url(workspace, "/members"),
            json={"user_id": UNKNOWN_ID, "role": "viewer"},
            headers=owner.headers,
        )
        assert_problem(response, 404, "user-not-found")

    async def test_unknown_username_404(self, client: httpx.AsyncClient, factory: Factory):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        response = await client.post(
            url(workspace, "/members"),
            json={"username": f"nobody-{uuid.uuid4().hex}", "role": "viewer"},
            headers=owner.headers,
        )
        assert_problem(response, 404, "user-not-found")

    async def test_disabled_user_404(
        self, client: httpx.AsyncClient, factory: Factory, database: Database
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        gone = await factory.user()
        async with database.write_session() as session:
            await session.execute(
                update(User).where(User.id == gone.user_id).values(disabled_at=utcnow())
            )
        response = await client.post(
            url(workspace, "/members"),
            json={"user_id": gone.user_id, "role": "viewer"},
            headers=owner.headers,
        )
        assert_problem(response, 404, "user-not-found")

    async def test_existing_member_409_and_role_unchanged(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        member = await factory.member(workspace, owner, "viewer")
        response = await client.post(
            url(workspace, "/members"),
            json={"username": member.username, "role": "owner"},
            headers=owner.headers,
        )
        assert_problem(response, 409, "already-member")
        assert (await roles_of(factory, workspace, owner))[member.user_id] == "viewer"

    async def test_adding_oneself_409(self, client: httpx.AsyncClient, factory: Factory):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        response = await client.post(
            url(workspace, "/members"),
            json={"user_id": owner.user_id, "role": "viewer"},
            headers=owner.headers,
        )
        assert_problem(response, 409, "already-member")
        assert (await roles_of(factory, workspace, owner))[owner.user_id] == "owner"

    @pytest.mark.parametrize("role", LOW_ROLES)
    async def test_non_owner_member_cannot_add_members_403(
        self, client: httpx.AsyncClient, factory: Factory, role: str
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        member = await factory.member(workspace, owner, role)
        outsider = await factory.user()
        response = await client.post(
            url(workspace, "/members"),
            json={"user_id": outsider.user_id, "role": "viewer"},
            headers=member.headers,
        )
        assert_problem(response, 403, "insufficient-role")
        assert outsider.user_id not in await roles_of(factory, workspace, owner)

    async def test_non_member_404_and_nobody_is_added(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        owner = await factory.user()
        stranger = await factory.user()
        workspace = await factory.workspace(owner, secret_name())
        response = await client.post(
            url(workspace, "/members"),
            json={"user_id": stranger.user_id, "role": "owner"},
            headers=stranger.headers,
        )
        assert_problem(response, 404, "workspace-not-found")
        assert workspace["name"] not in response.text
        assert stranger.user_id not in await roles_of(factory, workspace, owner)

    @pytest.mark.parametrize(
        "payload",
        [
            pytest.param({"role": "viewer"}, id="no-user"),
            pytest.param(
                {"user_id": UNKNOWN_ID, "username": "someone", "role": "viewer"}, id="both-users"
            ),
            pytest.param({"user_id": UNKNOWN_ID}, id="no-role"),
            pytest.param({"user_id": UNKNOWN_ID, "role": "admin"}, id="unknown-role"),
            pytest.param({"user_id": "not-an-id", "role": "viewer"}, id="malformed-user-id"),
            pytest.param({"user_id": 5, "role": "viewer"}, id="user-id-not-a-string"),
            pytest.param({"username": "bad name!", "role": "viewer"}, id="malformed-username"),
            pytest.param({"username": "u" * 65, "role": "viewer"}, id="username-too-long"),
            pytest.param(
                {"user_id": UNKNOWN_ID, "role": "viewer", "expires": "never"}, id="unknown-field"
            ),
        ],
    )
    async def test_invalid_body_422(
        self, client: httpx.AsyncClient, factory: Factory, payload: Any
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        response = await client.post(
            url(workspace, "/members"), json=payload, headers=owner.headers
        )
        assert_problem(response, 422, "validation-failed")

    async def test_requires_authentication_401(self, client: httpx.AsyncClient, factory: Factory):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        response = await client.post(
            url(workspace, "/members"), json={"user_id": owner.user_id, "role": "viewer"}
        )
        assert_problem(response, 401, "unauthenticated")


class TestUpdateMember:
    async def test_owner_changes_a_role_and_it_takes_effect(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        member = await factory.member(workspace, owner, "viewer")
        denied = await client.patch(url(workspace), json={"name": "x"}, headers=member.headers)
        assert denied.status_code == 403
        response = await client.patch(
            url(workspace, f"/members/{member.user_id}"),
            json={"role": "owner"},
            headers=owner.headers,
        )
        assert response.status_code == 200, response.text
        assert (response.json()["user_id"], response.json()["role"]) == (member.user_id, "owner")
        allowed = await client.patch(url(workspace), json={"name": "x"}, headers=member.headers)
        assert allowed.status_code == 200, allowed.text

    async def test_demoting_the_only_owner_409(self, client: httpx.AsyncClient, factory: Factory):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        await factory.member(workspace, owner, "editor")
        response = await client.patch(
            url(workspace, f"/members/{owner.user_id}"),
            json={"role": "editor"},
            headers=owner.headers,
        )
        assert_problem(response, 409, "last-owner")
        assert (await roles_of(factory, workspace, owner))[owner.user_id] == "owner"

    async def test_owner_may_demote_themselves_when_another_owner_remains(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        co_owner = await factory.member(workspace, owner, "owner")
        response = await client.patch(
            url(workspace, f"/members/{owner.user_id}"),
            json={"role": "viewer"},
            headers=owner.headers,
        )
        assert response.status_code == 200, response.text
        assert await roles_of(factory, workspace, co_owner) == {
            owner.user_id: "viewer",
            co_owner.user_id: "owner",
        }

    async def test_then_the_remaining_owner_cannot_be_demoted(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        co_owner = await factory.member(workspace, owner, "owner")
        first = await client.patch(
            url(workspace, f"/members/{co_owner.user_id}"),
            json={"role": "editor"},
            headers=owner.headers,
        )
        assert first.status_code == 200, first.text
        second = await client.patch(
            url(workspace, f"/members/{owner.user_id}"),
            json={"role": "editor"},
            headers=owner.headers,
        )
        assert_problem(second, 409, "last-owner")

    async def test_owners_demoting_each_other_at_once_keep_one_owner(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        co_owner = await factory.member(workspace, owner, "owner")
        statuses: list[int] = []

        async def demote(actor: Actor, target: Actor) -> None:
            response = await client.patch(
                url(workspace, f"/members/{target.user_id}"),
                json={"role": "editor"},
                headers=actor.headers,
            )
            statuses.append(response.status_code)

        async with anyio.create_task_group() as group:
            group.start_soon(demote, owner, co_owner)
            group.start_soon(demote, co_owner, owner)
        roles = await roles_of(factory, workspace, owner)
        assert sorted(statuses) in ([200, 403], [200, 409])
        assert list(roles.values()).count("owner") == 1

    async def test_setting_the_same_role_is_allowed(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        response = await client.patch(
            url(workspace, f"/members/{owner.user_id}"),
            json={"role": "owner"},
            headers=owner.headers,
        )
        assert response.status_code == 200, response.text

    @pytest.mark.parametrize("role", LOW_ROLES)
    async def test_non_owner_member_cannot_promote_themselves_403(
        self, client: httpx.AsyncClient, factory: Factory, role: str
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        member = await factory.member(workspace, owner, role)
        response = await client.patch(
            url(workspace, f"/members/{member.user_id}"),
            json={"role": "owner"},
            headers=member.headers,
        )
        assert_problem(response, 403, "insufficient-role")
        assert (await roles_of(factory, workspace, owner))[member.user_id] == role

    @pytest.mark.parametrize("role", LOW_ROLES)
    async def test_non_owner_member_cannot_change_others_403(
        self, client: httpx.AsyncClient, factory: Factory, role: str
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        member = await factory.member(workspace, owner, role)
        response = await client.patch(
            url(workspace, f"/members/{owner.user_id}"),
            json={"role": "viewer"},
            headers=member.headers,
        )
        assert_problem(response, 403, "insufficient-role")

    async def test_user_who_is_not_a_member_404(self, client: httpx.AsyncClient, factory: Factory):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        outsider = await factory.user()
        response = await client.patch(
            url(workspace, f"/members/{outsider.user_id}"),
            json={"role": "viewer"},
            headers=owner.headers,
        )
        assert_problem(response, 404, "member-not-found")
        assert outsider.user_id not in await roles_of(factory, workspace, owner)

    async def test_non_member_404_without_the_name(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        owner = await factory.user()
        stranger = await factory.user()
        workspace = await factory.workspace(owner, secret_name())
        response = await client.patch(
            url(workspace, f"/members/{owner.user_id}"),
            json={"role": "viewer"},
            headers=stranger.headers,
        )
        assert_problem(response, 404, "workspace-not-found")
        assert workspace["name"] not in response.text

    @pytest.mark.parametrize(
        "payload",
        [
            pytest.param({}, id="no-role"),
            pytest.param({"role": "admin"}, id="unknown-role"),
            pytest.param({"role": 2}, id="role-not-a-string"),
            pytest.param({"role": "viewer", "user_id": UNKNOWN_ID}, id="unknown-field"),
        ],
    )
    async def test_invalid_body_422(
        self, client: httpx.AsyncClient, factory: Factory, payload: Any
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        response = await client.patch(
            url(workspace, f"/members/{owner.user_id}"), json=payload, headers=owner.headers
        )
        assert_problem(response, 422, "validation-failed")

    @pytest.mark.parametrize("user_id", MALFORMED_IDS)
    async def test_malformed_user_id_422(
        self, client: httpx.AsyncClient, factory: Factory, user_id: str
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        response = await client.patch(
            url(workspace, f"/members/{user_id}"), json={"role": "viewer"}, headers=owner.headers
        )
        assert_problem(response, 422, "validation-failed")

    async def test_requires_authentication_401(self, client: httpx.AsyncClient, factory: Factory):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        response = await client.patch(
            url(workspace, f"/members/{owner.user_id}"), json={"role": "viewer"}
        )
        assert_problem(response, 401, "unauthenticated")


class TestRemoveMember:
    async def test_owner_removes_a_member_who_then_gets_404(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        member = await factory.member(workspace, owner, "editor")
        response = await client.delete(
            url(workspace, f"/members/{member.user_id}"), headers=owner.headers
        )
        assert response.status_code == 204, response.text
        assert response.content == b""
        assert_problem(
            await client.get(url(workspace), headers=member.headers), 404, "workspace-not-found"
        )
        assert member.user_id not in await roles_of(factory, workspace, owner)

    async def test_removed_member_can_be_added_again(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        member = await factory.member(workspace, owner, "editor")
        await client.delete(url(workspace, f"/members/{member.user_id}"), headers=owner.headers)
        response = await client.post(
            url(workspace, "/members"),
            json={"user_id": member.user_id, "role": "viewer"},
            headers=owner.headers,
        )
        assert response.status_code == 201, response.text

    @pytest.mark.parametrize("role", LOW_ROLES)
    async def test_member_may_leave(self, client: httpx.AsyncClient, factory: Factory, role: str):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        member = await factory.member(workspace, owner, role)
        response = await client.delete(
            url(workspace, f"/members/{member.user_id}"), headers=member.headers
        )
        assert response.status_code == 204, response.text
        assert member.user_id not in await roles_of(factory, workspace, owner)

    async def test_only_owner_cannot_leave_409(self, client: httpx.AsyncClient, factory: Factory):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        await factory.member(workspace, owner, "editor")
        response = await client.delete(
            url(workspace, f"/members/{owner.user_id}"), headers=owner.headers
        )
        assert_problem(response, 409, "last-owner")
        assert (await client.get(url(workspace), headers=owner.headers)).status_code == 200

    async def test_only_member_cannot_leave_409(self, client: httpx.AsyncClient, factory: Factory):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        response = await client.delete(
            url(workspace, f"/members/{owner.user_id}"), headers=owner.headers
        )
        assert_problem(response, 409, "last-owner")

    async def test_owner_may_leave_when_another_owner_remains(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        co_owner = await factory.member(workspace, owner, "owner")
        response = await client.delete(
            url(workspace, f"/members/{owner.user_id}"), headers=owner.headers
        )
        assert response.status_code == 204, response.text
        assert await roles_of(factory, workspace, co_owner) == {co_owner.user_id: "owner"}

    async def test_owner_removes_another_owner_but_not_the_last(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        co_owner = await factory.member(workspace, owner, "owner")
        first = await client.delete(
            url(workspace, f"/members/{co_owner.user_id}"), headers=owner.headers
        )
        assert first.status_code == 204, first.text
        second = await client.delete(
            url(workspace, f"/members/{owner.user_id}"), headers=owner.headers
        )
        assert_problem(second, 409, "last-owner")

    async def test_owners_leaving_at_once_keep_one_owner(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        co_owner = await factory.member(workspace, owner, "owner")
        statuses: dict[str, int] = {}

        async def leave(actor: Actor) -> None:
            response = await client.delete(
                url(workspace, f"/members/{actor.user_id}"), headers=actor.headers
            )
            statuses[actor.user_id] = response.status_code

        async with anyio.create_task_group() as group:
            group.start_soon(leave, owner)
            group.start_soon(leave, co_owner)
        assert sorted(statuses.values()) == [204, 409]
        stayed = owner if statuses[owner.user_id] == 409 else co_owner
        assert await roles_of(factory, workspace, stayed) == {stayed.user_id: "owner"}

    @pytest.mark.parametrize("role", LOW_ROLES)
    async def test_non_owner_member_cannot_remove_others_403(
        self, client: httpx.AsyncClient, factory: Factory, role: str
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        member = await factory.member(workspace, owner, role)
        victim = await factory.member(workspace, owner, "viewer")
        response = await client.delete(
            url(workspace, f"/members/{victim.user_id}"), headers=member.headers
        )
        assert_problem(response, 403, "insufficient-role")
        assert victim.user_id in await roles_of(factory, workspace, owner)

    async def test_user_who_is_not_a_member_404(self, client: httpx.AsyncClient, factory: Factory):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        outsider = await factory.user()
        response = await client.delete(
            url(workspace, f"/members/{outsider.user_id}"), headers=owner.headers
        )
        assert_problem(response, 404, "member-not-found")

    async def test_non_member_404_without_the_name(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        owner = await factory.user()
        stranger = await factory.user()
        workspace = await factory.workspace(owner, secret_name())
        for target in (owner.user_id, stranger.user_id):
            response = await client.delete(
                url(workspace, f"/members/{target}"), headers=stranger.headers
            )
            assert_problem(response, 404, "workspace-not-found")
            assert workspace["name"] not in response.text
        assert owner.user_id in await roles_of(factory, workspace, owner)

    @pytest.mark.parametrize("user_id", MALFORMED_IDS)
    async def test_malformed_user_id_422(
        self, client: httpx.AsyncClient, factory: Factory, user_id: str
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        response = await client.delete(url(workspace, f"/members/{user_id}"), headers=owner.headers)
        assert_problem(response, 422, "validation-failed")

    async def test_requires_authentication_401(self, client: httpx.AsyncClient, factory: Factory):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        response = await client.delete(url(workspace, f"/members/{owner.user_id}"))
        assert_problem(response, 401, "unauthenticated")
