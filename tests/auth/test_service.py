"""Token and user rules that are awkward to reach over HTTP."""

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import anyio
import asyncpg
import pytest
from sqlalchemy import update

from ainotes.auth import service as auth_service
from ainotes.auth.errors import TokenNotFound, UsernameTaken
from ainotes.auth.models import AccessToken, User
from ainotes.core import migrations
from ainotes.core.config import Settings
from ainotes.core.db import Database
from ainotes.core.models import utcnow
from ainotes.core.principal import PrincipalKind
from tests import conftest
from tests.factories import Factory

pytestmark = pytest.mark.anyio


@pytest.fixture
async def empty_database(settings: Settings, tmp_path: Path) -> AsyncIterator[Database]:
    """A freshly migrated database of the same backend, with no users at all."""
    backend = "sqlite" if settings.is_sqlite else "postgres"
    url = await conftest.make_database_url(backend, tmp_path, f"empty_{backend}")
    fresh = conftest.settings_for(url, tmp_path)
    await anyio.to_thread.run_sync(migrations.upgrade, fresh.effective_database_url)
    database = Database(fresh)
    try:
        yield database
    finally:
        await database.dispose()
        if backend == "postgres":
            connection = await asyncpg.connect(conftest.POSTGRES_ADMIN_DSN, timeout=5)
            try:
                name = url.rsplit("/", 1)[1]
                await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await connection.close()


class TestCreateUser:
    async def test_taken_username_raises(self, database: Database, factory: Factory):
        actor = await factory.user()
        with pytest.raises(UsernameTaken):
            async with database.write_session() as session:
                await auth_service.create_user(session, actor.username)

    async def test_display_name_defaults_to_username(self, database: Database):
        async with database.write_session() as session:
            user = await auth_service.create_user(session, f"plain-{id(session)}")
        assert user.display_name == user.username
        assert user.is_admin is False


class TestVerifyAccessToken:
    async def test_returns_the_user_principal_and_token(self, database: Database, factory: Factory):
        actor = await factory.user()
        async with database.read_session() as session:
            verified = await auth_service.verify_access_token(session, actor.token)
            tokens = await auth_service.list_tokens(session, actor.user_id)
        assert verified is not None
        principal = verified.principal
        assert principal.kind is PrincipalKind.USER
        assert (principal.id, principal.name) == (actor.user_id, actor.username)
        assert principal.token_id == tokens[0].id

    async def test_unknown_secret_is_none(self, database: Database):
        async with database.read_session() as session:
            found = await auth_service.verify_access_token(session, "ain_unknown")
        assert found is None

    async def test_token_expiring_now_is_expired(self, database: Database, factory: Factory):
        actor = await factory.user()
        async with database.write_session() as session:
            user = await session.get(User, actor.user_id)
            assert user is not None
            token, secret = await auth_service.issue_token(session, user, "t", 1)
            token.expires_at = utcnow()
        async with database.read_session() as session:
            assert await auth_service.verify_access_token(session, secret) is None

    async def test_revoked_token_is_none(self, database: Database, factory: Factory):
        actor = await factory.user()
        async with database.write_session() as session:
            await session.execute(
                update(AccessToken)
                .where(AccessToken.user_id == actor.user_id)
                .values(revoked_at=utcnow())
            )
        async with database.read_session() as session:
            assert await auth_service.verify_access_token(session, actor.token) is None


class TestRevokeToken:
    async def test_other_users_token_raises_and_stays_active(
        self, database: Database, factory: Factory
    ):
        owner = await factory.user()
        other = await factory.user()
        async with database.read_session() as session:
            verified = await auth_service.verify_access_token(session, owner.token)
        assert verified is not None
        token_id = verified.principal.token_id
        assert token_id is not None
        with pytest.raises(TokenNotFound):
            async with database.write_session() as session:
                await auth_service.revoke_token(session, other.user_id, token_id)
        async with database.read_session() as session:
            assert await auth_service.verify_access_token(session, owner.token) is not None


class TestLastUse:
    def token(self, last_used_ago: timedelta | None) -> datetime | None:
        return None if last_used_ago is None else utcnow() - last_used_ago

    def test_never_used_is_stale(self):
        assert auth_service.last_use_is_stale(self.token(None), utcnow())

    def test_recent_use_is_not_stale(self):
        recent = auth_service.LAST_USED_RESOLUTION - timedelta(seconds=5)
        assert not auth_service.last_use_is_stale(self.token(recent), utcnow())

    def test_use_older_than_the_resolution_is_stale(self):
        old = auth_service.LAST_USED_RESOLUTION + timedelta(seconds=1)
        assert auth_service.last_use_is_stale(self.token(old), utcnow())


class TestUsernameFromSubject:
    @pytest.mark.parametrize(
        ("subject", "username"),
        [
            ("alice", "alice"),
            ("Alice.Smith", "alice.smith"),
            ("auth0|5f1e", "auth0-5f1e"),
            ("alice@example.com", "alice-example.com"),
            ("--x--", "x"),
            ("|||", "user"),
            ("a" * 100, "a" * 64),
        ],
    )
    def test_maps_to_a_valid_username(self, subject: str, username: str):
        assert auth_service.username_from_subject(subject) == username


class TestBootstrapAdmin:
    async def test_creates_an_admin_with_a_working_token_on_an_empty_database(
        self, empty_database: Database
    ):
        async with empty_database.write_session() as session:
            created = await auth_service.bootstrap_admin(session)
        assert created is not None
        admin, secret = created
        assert (admin.username, admin.is_admin) == ("admin", True)
        async with empty_database.read_session() as session:
            verified = await auth_service.verify_access_token(session, secret)
        assert verified is not None
        assert verified.principal.id == admin.id

    async def test_does_nothing_once_a_user_exists(self, empty_database: Database):
        async with empty_database.write_session() as session:
            await auth_service.create_user(session, "first")
        async with empty_database.write_session() as session:
            assert await auth_service.bootstrap_admin(session) is None
        async with empty_database.read_session() as session:
            assert await auth_service.get_user_by_username(session, "admin") is None
