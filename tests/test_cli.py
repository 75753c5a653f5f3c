"""The ``ainotes`` command against a fresh SQLite file, and the first-admin bootstrap."""

import gc
import importlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import anyio
import httpx
import pytest
from fastapi import FastAPI
from rich.console import Console
from typer.testing import CliRunner, Result

from ainotes import cli as cli_module
from ainotes.app import create_app, served_event_loop
from ainotes.auth import service as auth_service
from ainotes.cli import app as cli
from ainotes.core import migrations
from ainotes.core.config import Settings, get_settings
from ainotes.core.db import Database
from tests.conftest import _drop_postgres_database, make_database_url, served
from tests.conftest import settings_for as settings_with

TOKEN = re.compile(r"ain_[A-Za-z0-9_-]{32,}")


class Cli:
    """Runs ``ainotes`` with the environment naming one database, as an operator would."""

    def __init__(self, data_dir: Path, database_url: str | None) -> None:
        self.runner = CliRunner()
        self.env = {"AINOTES_DATA_DIR": str(data_dir)}
        if database_url is not None:
            self.env["AINOTES_DATABASE_URL"] = database_url

    def __call__(self, *args: str) -> Result:
        get_settings.cache_clear()
        try:
            return self.runner.invoke(cli, list(args), env=self.env)
        finally:
            get_settings.cache_clear()

    def ok(self, *args: str) -> str:
        result = self(*args)
        assert result.exit_code == 0, (result.output, result.exception)
        return result.output

    async def in_thread(self, *args: str) -> str:
        """``ok`` from async code: the command runs its own event loop."""
        return await anyio.to_thread.run_sync(partial(self.ok, *args))


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # Settings also read ./.env; run where there is none.
    monkeypatch.chdir(tmp_path)
    # Wide enough that table cells (ids, token prefixes) are not folded across lines.
    monkeypatch.setattr(cli_module, "console", Console(width=240))
    return tmp_path


@pytest.fixture
def ainotes(cli_env: Path) -> Cli:
    return Cli(cli_env / "data", f"sqlite:///{cli_env / 'cli.db'}")


def token_in(output: str) -> str:
    match = TOKEN.search(output)
    assert match is not None, output
    return match.group(0)


def settings_for(ainotes: Cli) -> Settings:
    return settings_with(ainotes.env["AINOTES_DATABASE_URL"], Path(ainotes.env["AINOTES_DATA_DIR"]))


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with served(app) as http:
        yield http


class TestDb:
    def test_current_fails_until_upgraded(self, ainotes: Cli) -> None:
        before = ainotes("db", "current")
        assert before.exit_code == 1
        assert "(empty database)" in before.output

        assert "database at heads" in ainotes.ok("db", "upgrade")

        after = ainotes.ok("db", "current")
        assert f"current: {migrations.head_revision()}" in after

    def test_upgrade_without_url_uses_a_file_in_data_dir(self, cli_env: Path) -> None:
        ainotes = Cli(cli_env / "store", None)
        ainotes.ok("db", "upgrade")
        assert (cli_env / "store" / "ainotes.db").is_file()
        ainotes.ok("db", "current")


class TestUsersAndTokens:
    @pytest.mark.anyio
    async def test_created_user_token_authenticates(self, ainotes: Cli) -> None:
        await ainotes.in_thread("db", "upgrade")
        output = await ainotes.in_thread("users", "create", "Ada", "--display-name", "Ada L.")

        async with serving(settings_for(ainotes)) as http:
            response = await http.get(
                "/v1/users/me", headers={"Authorization": f"Bearer {token_in(output)}"}
            )
        assert response.status_code == 200, response.text
        assert response.json()["username"] == "ada"
        assert response.json()["display_name"] == "Ada L."

    def test_duplicate_username_fails(self, ainotes: Cli) -> None:
        ainotes.ok("db", "upgrade")
        ainotes.ok("users", "create", "grace")
        result = ainotes("users", "create", "Grace")
        assert result.exit_code == 1
        assert "taken" in result.output

    @pytest.mark.anyio
    async def test_token_create_list_revoke(self, ainotes: Cli) -> None:
        await ainotes.in_thread("db", "upgrade")
        first = token_in(await ainotes.in_thread("users", "create", "linus"))
        second = token_in(await ainotes.in_thread("tokens", "create", "linus", "--name", "laptop"))
        assert first != second

        listing = await ainotes.in_thread("tokens", "list", "linus")
        assert "laptop" in listing
        assert second[:12] in listing
        assert second not in listing

        async with serving(settings_for(ainotes)) as http:
            headers = {"Authorization": f"Bearer {second}"}
            listed = (await http.get("/v1/tokens", headers=headers)).json()
            tokens = listed["items"] if isinstance(listed, dict) else listed
            [laptop] = [t for t in tokens if t["name"] == "laptop"]
            assert laptop["id"] in listing

            revoked = await ainotes.in_thread("tokens", "revoke", "linus", laptop["id"])
            assert f"token {laptop['id']} revoked" in revoked

            assert (await http.get("/v1/users/me", headers=headers)).status_code == 401
            other = {"Authorization": f"Bearer {first}"}
            assert (await http.get("/v1/users/me", headers=other)).status_code == 200

    def test_token_for_unknown_user_fails(self, ainotes: Cli) -> None:
        ainotes.ok("db", "upgrade")
        result = ainotes("tokens", "create", "nobody")
        assert result.exit_code == 1
        assert "nobody" in result.output
        assert TOKEN.search(result.output) is None

    def test_revoking_an_unknown_token_fails(self, ainotes: Cli) -> None:
        ainotes.ok("db", "upgrade")
        ainotes.ok("users", "create", "ken")
        result = ainotes("tokens", "revoke", "ken", "01JAAAAAAAAAAAAAAAAAAAAAAA")
        assert result.exit_code == 1
        assert "revoked" not in result.output


@pytest.fixture(params=["sqlite", "postgres"])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    url = await make_database_url(request.param, tmp_path, "bootstrap")
    settings = settings_with(url, tmp_path)
    await anyio.to_thread.run_sync(migrations.upgrade, settings.effective_database_url)
    database = Database(settings)
    yield database
    await database.dispose()
    if request.param == "postgres":
        await _drop_postgres_database(url)


@pytest.mark.anyio
async def test_bootstrap_admin_only_on_an_empty_database(empty_database: Database) -> None:
    async with empty_database.write_session() as session:
        created = await auth_service.bootstrap_admin(session)
    assert created is not None
    admin, secret = created
    assert (admin.username, admin.is_admin) == ("admin", True)

    async with empty_database.write_session() as session:
        assert await auth_service.bootstrap_admin(session) is None

    async with empty_database.read_session() as session:
        verified = await auth_service.verify_access_token(session, secret)
    assert verified is not None
    assert verified.principal.id == admin.id


@pytest.mark.anyio
async def test_bootstrap_admin_skips_a_database_with_users(empty_database: Database) -> None:
    async with empty_database.write_session() as session:
        await auth_service.create_user(session, "first")
    async with empty_database.write_session() as session:
        assert await auth_service.bootstrap_admin(session) is None
    async with empty_database.read_session() as session:
        assert await auth_service.get_user_by_username(session, "admin") is None


@pytest.mark.parametrize(
    ("database_url", "inline", "loop"),
    [
        ("sqlite:///{tmp}/a.db", True, "asyncio"),
        ("sqlite:///{tmp}/a.db", False, "auto"),
        ("sqlite+aiosqlite:///:memory:", True, "auto"),
        ("postgresql+asyncpg://postgres@127.0.0.1:5432/any", True, "auto"),
    ],
)
def test_serve_picks_the_event_loop_for_the_database(
    tmp_path: Path, database_url: str, inline: bool, loop: str
) -> None:
    settings = Settings(
        database_url=database_url.format(tmp=tmp_path), sqlite_inline=inline, data_dir=tmp_path
    )
    assert served_event_loop(settings) == loop


def test_serve_runs_the_application_with_startup_objects_frozen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What `ainotes serve` hands to uvicorn; building it opens no database connection.
    served: dict[str, object] = {}
    monkeypatch.setattr(
        cli_module.uvicorn, "run", lambda target, **options: served.update(target=target, **options)
    )
    monkeypatch.setenv("AINOTES_DATABASE_URL", f"sqlite:///{tmp_path / 'serve.db'}")
    monkeypatch.setenv("AINOTES_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AINOTES_SQLITE_INLINE", "true")  # over a developer's .env
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["serve"])
        assert result.exit_code == 0, result.output
        assert served["target"] == "ainotes.app:create_served_app"
        assert served["factory"] is True
        # Inline SQLite requests never yield to the loop; uvloop serves such unevenly.
        assert served["loop"] == "asyncio"
        module, _, factory = str(served["target"]).partition(":")
        before = gc.get_freeze_count()
        app = getattr(importlib.import_module(module), factory)()
        assert isinstance(app, FastAPI)
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()
        get_settings.cache_clear()
