"""Bearer authentication, /v1/users/me and the personal access token routes."""

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from ainotes.auth import service as auth_service
from ainotes.auth.models import AccessToken, User
from ainotes.core.db import Database
from ainotes.core.models import utcnow
from tests.factories import Factory
from tests.problems import assert_problem

pytestmark = pytest.mark.anyio


async def issue_token(
    database: Database, user_id: str, name: str = "extra", expires_in_days: int | None = None
) -> tuple[str, str]:
    """A further token for an existing user: (token id, secret)."""
    async with database.write_session() as session:
        user = await session.get(User, user_id)
        assert user is not None
        token, secret = await auth_service.issue_token(session, user, name, expires_in_days)
    return token.id, secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def token_row(database: Database, token_id: str) -> AccessToken:
    async with database.read_session() as session:
        token = await session.get(AccessToken, token_id)
        assert token is not None
        # The read session rolls back on exit, which would expire a still-attached object.
        session.expunge(token)
    return token


class TestAuthentication:
    """CurrentPrincipal, exercised through GET /v1/users/me."""

    async def test_missing_header_401_with_bearer_challenge(self, client: httpx.AsyncClient):
        response = await client.get("/v1/users/me")
        assert_problem(response, 401, "unauthenticated")
        assert response.headers["www-authenticate"].startswith("Bearer")

    async def test_other_scheme_401(self, client: httpx.AsyncClient, factory: Factory):
        actor = await factory.user()
        response = await client.get(
            "/v1/users/me", headers={"Authorization": f"Basic {actor.token}"}
        )
        assert_problem(response, 401, "unauthenticated")

    @pytest.mark.parametrize("secret", ["ain_not-a-real-token", "garbage", "a.b.c"])
    async def test_garbage_token_401(self, client: httpx.AsyncClient, secret: str):
        response = await client.get("/v1/users/me", headers=bearer(secret))
        assert_problem(response, 401, "invalid-credentials")
        assert 'error="invalid_token"' in response.headers["www-authenticate"]

    async def test_revoked_token_401(
        self, client: httpx.AsyncClient, factory: Factory, database: Database
    ):
        actor = await factory.user()
        token_id, secret = await issue_token(database, actor.user_id)
        revoked = await client.delete(f"/v1/tokens/{token_id}", headers=actor.headers)
        assert revoked.status_code == 200, revoked.text
        response = await client.get("/v1/users/me", headers=bearer(secret))
        assert_problem(response, 401, "invalid-credentials")

    async def test_expired_token_401(
        self, client: httpx.AsyncClient, factory: Factory, database: Database
    ):
        actor = await factory.user()
        token_id, secret = await issue_token(database, actor.user_id, expires_in_days=1)
        assert (await client.get("/v1/users/me", headers=bearer(secret))).status_code == 200
        async with database.write_session() as session:
            await session.execute(
                update(AccessToken)
                .where(AccessToken.id == token_id)
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
        response = await client.get("/v1/users/me", headers=bearer(secret))
        assert_problem(response, 401, "invalid-credentials")

    async def test_disabled_user_401(
        self, client: httpx.AsyncClient, factory: Factory, database: Database
    ):
        actor = await factory.user()
        assert (await client.get("/v1/users/me", headers=actor.headers)).status_code == 200
        async with database.write_session() as session:
            await session.execute(
                update(User).where(User.id == actor.user_id).values(disabled_at=utcnow())
            )
        response = await client.get("/v1/users/me", headers=actor.headers)
        assert_problem(response, 401, "invalid-credentials")

    async def test_jwt_without_jwt_configured_401(self, client: httpx.AsyncClient):
        # Shaped like a JWT, but this server has no identity provider configured.
        token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
        response = await client.get("/v1/users/me", headers=bearer(token))
        assert_problem(response, 401, "invalid-credentials")


class TestGetCurrentUser:
    async def test_returns_the_user_of_the_token(self, client: httpx.AsyncClient, factory: Factory):
        actor = await factory.user("alice")
        response = await client.get("/v1/users/me", headers=actor.headers)
        assert response.status_code == 200
        body = response.json()
        assert body["id"] == actor.user_id
        assert body["username"] == actor.username
        assert body["is_admin"] is False
        assert set(body) == {"id", "username", "display_name", "is_admin", "created_at"}

    async def test_first_use_sets_last_used_at(
        self, client: httpx.AsyncClient, factory: Factory, database: Database
    ):
        actor = await factory.user()
        token_id, secret = await issue_token(database, actor.user_id)
        assert (await token_row(database, token_id)).last_used_at is None
        before = utcnow()
        assert (await client.get("/v1/users/me", headers=bearer(secret))).status_code == 200
        last_used_at = (await token_row(database, token_id)).last_used_at
        assert last_used_at is not None
        assert before <= last_used_at <= utcnow()

    async def test_last_used_at_is_shown_in_the_token_list(
        self, client: httpx.AsyncClient, factory: Factory, database: Database
    ):
        actor = await factory.user()
        token_id, secret = await issue_token(database, actor.user_id)
        await client.get("/v1/users/me", headers=bearer(secret))
        listed = await client.get("/v1/tokens", headers=actor.headers)
        by_id = {token["id"]: token for token in listed.json()}
        assert by_id[token_id]["last_used_at"] is not None

    async def test_recent_use_is_not_written_again(
        self, client: httpx.AsyncClient, factory: Factory, database: Database
    ):
        actor = await factory.user()
        token_id, secret = await issue_token(database, actor.user_id)
        await client.get("/v1/users/me", headers=bearer(secret))
        first = (await token_row(database, token_id)).last_used_at
        await client.get("/v1/users/me", headers=bearer(secret))
        assert (await token_row(database, token_id)).last_used_at == first

    async def test_stale_last_use_is_written_again(
        self, client: httpx.AsyncClient, factory: Factory, database: Database
    ):
        actor = await factory.user()
        token_id, secret = await issue_token(database, actor.user_id)
        long_ago = utcnow() - auth_service.LAST_USED_RESOLUTION - timedelta(minutes=1)
        async with database.write_session() as session:
            await session.execute(
                update(AccessToken).where(AccessToken.id == token_id).values(last_used_at=long_ago)
            )
        await client.get("/v1/users/me", headers=bearer(secret))
        last_used_at = (await token_row(database, token_id)).last_used_at
        assert last_used_at is not None
        assert last_used_at > long_ago + timedelta(minutes=1)


class TestCreateToken:
    async def test_returns_the_secret_once_and_it_authenticates(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        actor = await factory.user()
        response = await client.post("/v1/tokens", json={"name": "laptop"}, headers=actor.headers)
        assert response.status_code == 201, response.text
        body = response.json()
        secret = body["token"]
        assert secret.startswith(auth_service.TOKEN_PREFIX)
        assert secret.startswith(body["token_prefix"])
        assert body["name"] == "laptop"
        assert body["expires_at"] is None
        assert body["revoked_at"] is None
        me = await client.get("/v1/users/me", headers=bearer(secret))
        assert me.json()["id"] == actor.user_id
        listed = await client.get("/v1/tokens", headers=actor.headers)
        assert secret not in listed.text

    async def test_secrets_differ_between_tokens(self, client: httpx.AsyncClient, factory: Factory):
        actor = await factory.user()
        first = await client.post("/v1/tokens", json={"name": "a"}, headers=actor.headers)
        second = await client.post("/v1/tokens", json={"name": "a"}, headers=actor.headers)
        assert first.json()["token"] != second.json()["token"]
        assert first.json()["id"] != second.json()["id"]

    async def test_only_the_hash_is_stored(
        self, client: httpx.AsyncClient, factory: Factory, database: Database
    ):
        actor = await factory.user()
        response = await client.post("/v1/tokens", json={"name": "ci"}, headers=actor.headers)
        body = response.json()
        row = await token_row(database, body["id"])
        assert row.token_hash == auth_service.hash_token(body["token"])
        assert body["token"] not in (row.token_hash, row.token_prefix)

    async def test_expires_in_days_sets_expires_at(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        actor = await factory.user()
        response = await client.post(
            "/v1/tokens", json={"name": "short", "expires_in_days": 7}, headers=actor.headers
        )
        assert response.status_code == 201, response.text
        body = response.json()
        created = datetime.fromisoformat(body["created_at"])
        expires = datetime.fromisoformat(body["expires_at"])
        assert expires - created == timedelta(days=7)

    async def test_name_is_stripped(self, client: httpx.AsyncClient, factory: Factory):
        actor = await factory.user()
        response = await client.post(
            "/v1/tokens", json={"name": "  padded  "}, headers=actor.headers
        )
        assert response.json()["name"] == "padded"

    @pytest.mark.parametrize(
        "payload",
        [
            pytest.param({}, id="missing-name"),
            pytest.param({"name": ""}, id="empty-name"),
            pytest.param({"name": "   "}, id="blank-name"),
            pytest.param({"name": "x" * 201}, id="name-too-long"),
            pytest.param({"name": 12}, id="name-not-a-string"),
            pytest.param({"name": "a", "expires_in_days": "soon"}, id="days-not-a-number"),
            pytest.param({"name": "a", "expires_in_days": 0}, id="days-zero"),
            pytest.param({"name": "a", "expires_in_days": 3651}, id="days-too-many"),
            pytest.param({"name": "a", "scopes": ["all"]}, id="unknown-field"),
            pytest.param(["a"], id="not-an-object"),
        ],
    )
    async def test_invalid_body_422(
        self, client: httpx.AsyncClient, factory: Factory, payload: Any
    ):
        actor = await factory.user()
        response = await client.post("/v1/tokens", json=payload, headers=actor.headers)
        body = assert_problem(response, 422, "validation-failed")
        assert body["errors"]

    async def test_malformed_json_400(self, client: httpx.AsyncClient, factory: Factory):
        actor = await factory.user()
        response = await client.post(
            "/v1/tokens",
            content=b'{"name": ',
            headers={**actor.headers, "Content-Type": "application/json"},
        )
        assert_problem(response, 400, "malformed-body")

    async def test_requires_authentication_401(self, client: httpx.AsyncClient):
        response = await client.post("/v1/tokens", json={"name": "x"})
        assert_problem(response, 401, "unauthenticated")


class TestListTokens:
    async def test_lists_own_tokens_newest_first_without_secrets(
        self, client: httpx.AsyncClient, factory: Factory
    ):
        actor = await factory.user()
        created = []
        for name in ("one", "two"):
            response = await client.post("/v1/tokens", json={"name": name}, headers=actor.headers)
            created.append(response.json())
        response = await client.get("/v1/tokens", headers=actor.headers)
        assert response.status_code == 200
        tokens = response.json()
        assert [t["id"] for t in tokens[:2]] == [created[1]["id"], created[0]["id"]]
        assert len(tokens) == 3  # the factory's token too
        for token in tokens:
            assert "token" not in token
            assert "token_hash" not in token
        for secret in (actor.token, created[0]["token"], created[1]["token"]):
            assert secret not in response.text

    async def test_does_not_show_other_users_tokens(
        self, client: httpx.AsyncClient, factory: Factory, database: Database
    ):
        actor = await factory.user()
        other = await factory.user()
        other_token_id, _ = await issue_token(database, other.user_id)
        response = await client.get("/v1/tokens", headers=actor.headers)
        ids = {token["id"] for token in response.json()}
        assert other_token_id not in ids
        assert len(ids) == 1

    async def test_shows_revoked_tokens_as_revoked(
        self, client: httpx.AsyncClient, factory: Factory, database: Database
    ):
        actor = await factory.user()
        token_id, _ = await issue_token(database, actor.user_id)
        await client.delete(f"/v1/tokens/{token_id}", headers=actor.headers)
        response = await client.get("/v1/tokens", headers=actor.headers)
        by_id = {token["id"]: token for token in response.json()}
        assert by_id[token_id]["revoked_at"] is not None

    async def test_requires_authentication_401(self, client: httpx.AsyncClient):
        assert_problem(await client.get("/v1/tokens"), 401, "unauthenticated")


class TestRevokeToken:
    async def test_revoked_token_stops_working_at_once(
        self, client: httpx.AsyncClient, factory: Factory, database: Database
    ):
        actor = await factory.user()
        token_id, secret = await issue_token(database, actor.user_id)
        assert (await client.get("/v1/users/me", headers=bearer(secret))).status_code == 200
        response = await client.delete(f"/v1/tokens/{token_id}", headers=actor.headers)
        assert response.status_code == 200, response.text
        assert response.json()["id"] == token_id
        assert response.json()["revoked_at"] is not None
        assert "token" not in response.json()
        assert_problem(
            await client.get("/v1/users/me", headers=bearer(secret)), 401, "invalid-credentials"
        )
        # The token that did the revoking is untouched.
        assert (await client.get("/v1/users/me", headers=actor.headers)).status_code == 200

    async def test_a_token_can_revoke_itself(
        self, client: httpx.AsyncClient, factory: Factory, database: Database
    ):
        actor = await factory.user()
        token_id, secret = await issue_token(database, actor.user_id)
        response = await client.delete(f"/v1/tokens/{token_id}", headers=bearer(secret))
        assert response.status_code == 200, response.text
        assert_problem(
            await client.get("/v1/tokens", headers=bearer(secret)), 401, "invalid-credentials"
        )

    async def test_revoking_twice_keeps_the_first_revocation_time(
        self, client: httpx.AsyncClient, factory: Factory, database: Database
    ):
        actor = await factory.user()
        token_id, _ = await issue_token(database, actor.user_id)
        first = await client.delete(f"/v1/tokens/{token_id}", headers=actor.headers)
        second = await client.delete(f"/v1/tokens/{token_id}", headers=actor.headers)
        assert second.status_code == 200
        assert second.json()["revoked_at"] == first.json()["revoked_at"]

    async def test_other_users_token_404_and_it_keeps_working(
        self, client: httpx.AsyncClient, factory: Factory, database: Database
    ):
        actor = await factory.user()
        other = await factory.user()
        token_id, secret = await issue_token(database, other.user_id)
        response = await client.delete(f"/v1/tokens/{token_id}", headers=actor.headers)
        assert_problem(response, 404, "token-not-found")
        assert (await client.get("/v1/users/me", headers=bearer(secret))).status_code == 200
        assert (await token_row(database, token_id)).revoked_at is None

    async def test_unknown_token_404(self, client: httpx.AsyncClient, factory: Factory):
        actor = await factory.user()
        response = await client.delete(f"/v1/tokens/{'0' * 26}", headers=actor.headers)
        assert_problem(response, 404, "token-not-found")

    @pytest.mark.parametrize("token_id", ["short", "0" * 27, "I" * 26, "0" * 25 + "!"])
    async def test_malformed_id_422(
        self, client: httpx.AsyncClient, factory: Factory, token_id: str
    ):
        actor = await factory.user()
        response = await client.delete(f"/v1/tokens/{token_id}", headers=actor.headers)
        assert_problem(response, 422, "validation-failed")

    async def test_requires_authentication_401(self, client: httpx.AsyncClient):
        response = await client.delete(f"/v1/tokens/{'0' * 26}")
        assert_problem(response, 401, "unauthenticated")
