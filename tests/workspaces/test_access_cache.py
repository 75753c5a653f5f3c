"""Remembered access (core/access_cache.py) as clients see it: what this process changes
applies at once, what another process changes reaches reads within the cache's lifetime and
writes at once, and only access that exists is remembered."""

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from ainotes.app import create_app
from ainotes.auth.models import AccessToken
from ainotes.auth.service import hash_token
from ainotes.core.config import Settings
from ainotes.core.db import Database
from ainotes.core.models import utcnow
from ainotes.workspaces import service as workspaces_service
from tests.conftest import served
from tests.factories import Actor, AgentActor, Factory
from tests.problems import assert_problem

pytestmark = pytest.mark.anyio

# Long enough that a cached entry outlives the steps of a test, short enough to wait out.
SHORT_TTL = 0.5


def notes_url(workspace: dict[str, Any]) -> str:
    return f"/v1/workspaces/{workspace['id']}/notes"


async def own_token_id(client: httpx.AsyncClient, actor: Actor) -> str:
    response = await client.get("/v1/tokens", headers=actor.headers)
    assert response.status_code == 200, response.text
    [token] = response.json()
    token_id: str = token["id"]
    return token_id


async def reads(
    client: httpx.AsyncClient, workspace: dict[str, Any], headers: dict[str, str]
) -> int:
    return (await client.get(notes_url(workspace), headers=headers)).status_code


@contextlib.asynccontextmanager
async def other_process(settings: Settings, ttl: float) -> AsyncIterator[httpx.AsyncClient]:
    """A second app on the same database, as a second server process would be, whose access
    cache keeps entries ``ttl`` seconds."""
    app = create_app(settings.model_copy(update={"access_cache_seconds": ttl}))
    async with served(app) as http:
        http.app = app  # type: ignore[attr-defined]
        yield http


def database_of(http: httpx.AsyncClient) -> Database:
    app: FastAPI = http.app  # type: ignore[attr-defined]
    database: Database = app.state.database
    return database


class TestChangesMadeThroughThisProcess:
    """Each read below is served from the cache first; the change must still apply at once."""

    async def test_a_revoked_token_stops_reading(self, client: httpx.AsyncClient, factory: Factory):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        assert await reads(client, workspace, owner.headers) == 200
        token_id = await own_token_id(client, owner)
        response = await client.delete(f"/v1/tokens/{token_id}", headers=owner.headers)
        assert response.status_code == 200, response.text
        assert_problem(
            await client.get(notes_url(workspace), headers=owner.headers),
            401,
            "invalid-credentials",
        )

    async def test_a_removed_member_stops_reading(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        viewer = await factory.member(workspace, owner, "viewer")
        assert await reads(client, workspace, viewer.headers) == 200
        response = await client.delete(
            f"/v1/workspaces/{workspace['id']}/members/{viewer.user_id}", headers=owner.headers
        )
        assert response.status_code == 204, response.text
        assert_problem(
            await client.get(notes_url(workspace), headers=viewer.headers),
            404,
            "workspace-not-found",
        )

    async def test_a_demoted_owner_stops_reading_the_audit_log(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        second = await factory.member(workspace, owner, "owner")
        audit = f"/v1/workspaces/{workspace['id']}/audit"
        assert (await client.get(audit, headers=second.headers)).status_code == 200
        response = await client.patch(
            f"/v1/workspaces/{workspace['id']}/members/{second.user_id}",
            json={"role": "viewer"},
            headers=owner.headers,
        )
        assert response.status_code == 200, response.text
        assert_problem(await client.get(audit, headers=second.headers), 403, "insufficient-role")
        assert await reads(client, workspace, second.headers) == 200

    async def test_a_deleted_workspace_is_gone(self, client: httpx.AsyncClient, factory: Factory):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        assert await reads(client, workspace, owner.headers) == 200
        response = await client.delete(f"/v1/workspaces/{workspace['id']}", headers=owner.headers)
        assert response.status_code == 204, response.text
        assert await reads(client, workspace, owner.headers) == 404

    async def test_a_disabled_agent_stops_reading(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        agent = await factory.agent(workspace, owner)
        assert await reads(client, workspace, agent.headers) == 200
        response = await client.patch(
            f"/v1/workspaces/{workspace['id']}/agents/{agent.agent_id}",
            json={"disabled": True},
            headers=owner.headers,
        )
        assert response.status_code == 200, response.text
        assert await reads(client, workspace, agent.headers) == 401

    async def test_a_revoked_agent_token_stops_reading(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        agent = await factory.agent(workspace, owner)
        assert await reads(client, workspace, agent.headers) == 200
        tokens = f"/v1/workspaces/{workspace['id']}/agents/{agent.agent_id}/tokens"
        [token] = (await client.get(tokens, headers=owner.headers)).json()
        response = await client.delete(f"{tokens}/{token['id']}", headers=owner.headers)
        assert response.status_code == 200, response.text
        assert await reads(client, workspace, agent.headers) == 401

    async def test_a_renamed_agent_is_named_so_in_what_it_does_next(
        self, client: httpx.AsyncClient, factory: Factory, database: Database
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        agent = await factory.agent(workspace, owner)
        key = (hash_token(agent.token), workspace["id"])
        assert await reads(client, workspace, agent.headers) == 200
        assert database.access_cache.get(key) is not None
        response = await client.patch(
            f"/v1/workspaces/{workspace['id']}/agents/{agent.agent_id}",
            json={"name": "Renamed"},
            headers=owner.headers,
        )
        assert response.status_code == 200, response.text
        assert database.access_cache.get(key) is None
        assert await reads(client, workspace, agent.headers) == 200
        cached = database.access_cache.get(key)
        assert cached is not None
        assert cached.principal.name == "Renamed"


class TestWhatIsRemembered:
    async def test_a_non_member_is_never_remembered(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        outsider = await factory.user("outsider")
        assert await reads(client, workspace, outsider.headers) == 404
        # Adding a member does not empty the cache: the 404 must not have been remembered.
        response = await client.post(
            f"/v1/workspaces/{workspace['id']}/members",
            json={"user_id": outsider.user_id, "role": "viewer"},
            headers=owner.headers,
        )
        assert response.status_code == 201, response.text
        assert await reads(client, workspace, outsider.headers) == 200

    async def test_an_agent_of_another_workspace_is_never_remembered(
        self, client: httpx.AsyncClient, factory: Factory, database: Database
    ):
        owner = await factory.user()
        home = await factory.workspace(owner)
        elsewhere = await factory.workspace(owner)
        agent: AgentActor = await factory.agent(home, owner)
        assert await reads(client, elsewhere, agent.headers) == 404
        assert database.access_cache.get((hash_token(agent.token), elsewhere["id"])) is None

    async def test_an_unknown_token_is_never_remembered(
        self, client: httpx.AsyncClient, factory: Factory, database: Database
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        before = len(database.access_cache)
        headers = {"Authorization": "Bearer ain_pat_" + "x" * 40}
        for _ in range(3):
            assert await reads(client, workspace, headers) == 401
        assert len(database.access_cache) <= before


class TestChangesMadeElsewhere:
    """The change is made through the test app; ``other_process`` is the server that has the
    token's access cached."""

    async def test_reads_see_a_revocation_within_the_ttl_and_writes_at_once(
        self, client: httpx.AsyncClient, factory: Factory, settings: Settings
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        async with other_process(settings, SHORT_TTL) as elsewhere:
            assert await reads(elsewhere, workspace, owner.headers) == 200
            token_id = await own_token_id(client, owner)
            response = await client.delete(f"/v1/tokens/{token_id}", headers=owner.headers)
            assert response.status_code == 200, response.text
            # Served from the cache: the documented delay of a change made elsewhere.
            assert await reads(elsewhere, workspace, owner.headers) == 200
            write = await elsewhere.post(
                notes_url(workspace), json={"title": "Late"}, headers=owner.headers
            )
            assert_problem(write, 401, "invalid-credentials")
            await anyio.sleep(SHORT_TTL)
            assert await reads(elsewhere, workspace, owner.headers) == 401

    async def test_without_a_cache_reads_see_a_removal_at_once(
        self, client: httpx.AsyncClient, factory: Factory, settings: Settings
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        viewer = await factory.member(workspace, owner, "viewer")
        async with other_process(settings, 0) as elsewhere:
            assert await reads(elsewhere, workspace, viewer.headers) == 200
            response = await client.delete(
                f"/v1/workspaces/{workspace['id']}/members/{viewer.user_id}",
                headers=owner.headers,
            )
            assert response.status_code == 204, response.text
            assert await reads(elsewhere, workspace, viewer.headers) == 404

    async def test_a_token_that_expires_is_not_served_from_the_cache(
        self, factory: Factory, settings: Settings
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        async with other_process(settings, 60) as elsewhere:
            assert await reads(elsewhere, workspace, owner.headers) == 200
            database = database_of(elsewhere)
            key = (hash_token(owner.token), workspace["id"])
            cached = database.access_cache.get(key)
            assert cached is not None
            # The token reaches its expiry time: in the database and in what the cache holds.
            expired = utcnow() - timedelta(seconds=1)
            async with database.write_session() as session:
                await session.execute(
                    update(AccessToken)
                    .where(AccessToken.token_hash == key[0])
                    .values(expires_at=expired)
                )
            database.access_cache.update(key, lambda entry: replace(entry, expires_at=expired))
            assert await reads(elsewhere, workspace, owner.headers) == 401

    async def test_cached_reads_do_not_record_the_tokens_use_again(
        self, factory: Factory, settings: Settings
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        async with other_process(settings, 60) as elsewhere:
            database = database_of(elsewhere)
            token_hash = hash_token(owner.token)

            async def last_used() -> Any:
                async with database.read_session() as session:
                    statement = select(AccessToken.last_used_at).where(
                        AccessToken.token_hash == token_hash
                    )
                    return (await session.execute(statement)).scalar_one()

            assert await reads(elsewhere, workspace, owner.headers) == 200
            assert await last_used() is not None  # by the requests that made the workspace
            async with database.write_session() as session:
                await session.execute(
                    update(AccessToken)
                    .where(AccessToken.token_hash == token_hash)
                    .values(last_used_at=None)
                )
            for _ in range(3):
                assert await reads(elsewhere, workspace, owner.headers) == 200
            # The cache knows the use was recorded a moment ago: no write per read.
            assert await last_used() is None


class TestRaces:
    async def test_a_lookup_overtaken_by_a_demotion_does_not_overwrite_the_fresh_entry(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        database: Database,
        monkeypatch: pytest.MonkeyPatch,
    ):
        """A read R1 verifies the token (owner) before the demotion commits; after the
        demotion another read R2 stores the new role (viewer). R1 then records the token's use:
        that must touch the fresh entry's last use only, not put R1's ``owner`` back for the
        rest of the TTL."""
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        second = await factory.member(workspace, owner, "owner")
        audit = f"/v1/workspaces/{workspace['id']}/audit"
        key = (hash_token(second.token), workspace["id"])
        # The token's last use is due to be recorded, so that R1 calls cache.update.
        async with database.write_session() as session:
            await session.execute(
                update(AccessToken)
                .where(AccessToken.token_hash == key[0])
                .values(last_used_at=None)
            )

        real_verify = workspaces_service.verify_token
        r1_has_read = anyio.Event()
        release_r1 = anyio.Event()

        async def slow_first_verify(session: Any, secret: str, workspace_id: str) -> Any:
            verified = await real_verify(session, secret, workspace_id)
            if secret == second.token and not r1_has_read.is_set():
                # R1's answer from the database is in hand; it resumes later (a slow response).
                r1_has_read.set()
                await release_r1.wait()
            return verified

        monkeypatch.setattr(workspaces_service, "verify_token", slow_first_verify)
        statuses: dict[str, int] = {}

        async def r1() -> None:
            statuses["r1"] = (await client.get(audit, headers=second.headers)).status_code

        async with anyio.create_task_group() as group:
            group.start_soon(r1)
            with anyio.fail_after(10):
                await r1_has_read.wait()
            demoted = await client.patch(
                f"/v1/workspaces/{workspace['id']}/members/{second.user_id}",
                json={"role": "viewer"},
                headers=owner.headers,
            )
            assert demoted.status_code == 200, demoted.text
            # R2: verified after the demotion, and remembered as a viewer.
            assert_problem(await client.get(audit, headers=second.headers), 403)
            cached = database.access_cache.get(key)
            assert cached is not None
            assert cached.role == "viewer"
            release_r1.set()
        assert statuses["r1"] == 200  # in flight before the demotion: fine

        cached = database.access_cache.get(key)
        assert cached is None or cached.role == "viewer", cached
        assert_problem(await client.get(audit, headers=second.headers), 403, "insufficient-role")
