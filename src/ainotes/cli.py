"""The ``ainotes`` command: serve, migrate, and manage users and tokens. Thin over services."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial
from typing import Annotated, TypeVar

import typer
import uvicorn
from rich.console import Console
from rich.panel import Panel
from rich.progress import Progress
from rich.table import Table
from sqlalchemy.ext.asyncio import create_async_engine

from ainotes.agent_actions import proposals as proposals_service
from ainotes.agent_actions import service as agent_actions_service
from ainotes.app import served_event_loop
from ainotes.artifacts import service as artifacts_service
from ainotes.attachments import service as attachments_service
from ainotes.attachments.storage import StoredBlob, blob_store
from ainotes.auth import service as auth_service
from ainotes.core import migrations
from ainotes.core.config import Settings, get_settings
from ainotes.core.db import Database, ReadOnlySession, WritableSession
from ainotes.core.errors import ProblemError
from ainotes.core.logging import configure_logging
from ainotes.relationships import service as relationships_service
from ainotes.search import service as search_service
from ainotes.tasks import service as tasks_service

T = TypeVar("T")

app = typer.Typer(
    help="ainotes: notes, links, tasks and search for people and AI agents.",
    no_args_is_help=True,
)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
users_app = typer.Typer(help="Users.", no_args_is_help=True)
tokens_app = typer.Typer(help="Personal access tokens.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(audit_app, name="audit")
attachments_app = typer.Typer(help="Attachment storage.", no_args_is_help=True)
app.add_typer(attachments_app, name="attachments")
proposals_app = typer.Typer(help="Agents' proposals.", no_args_is_help=True)
app.add_typer(proposals_app, name="proposals")

console = Console()
err_console = Console(stderr=True)


def _run_write(settings: Settings, work: Callable[[WritableSession], Awaitable[T]]) -> T:
    async def run() -> T:
        database = Database(settings)
        try:
            async with database.write_session() as session:
                return await work(session)
        finally:
            await database.dispose()

    try:
        return asyncio.run(run())
    except ProblemError as error:
        err_console.print(f"[red]error:[/red] {error.detail}")
        raise typer.Exit(1) from None


def _run_read(settings: Settings, work: Callable[[ReadOnlySession], Awaitable[T]]) -> T:
    async def run() -> T:
        database = Database(settings)
        try:
            async with database.read_session() as session:
                return await work(session)
        finally:
            await database.dispose()

    return asyncio.run(run())


def _print_secret(heading: str, secret: str) -> None:
    console.print(
        Panel(
            f"[bold]{secret}[/bold]\n\n"
            "It is shown only once. Use it as 'Authorization: Bearer <token>'.",
            title=heading,
            border_style="green",
        )
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
) -> None:
    """Apply migrations, create the first admin on an empty database, and serve the API."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    migrations.upgrade(settings.effective_database_url)
    if settings.bootstrap_admin:
        created = _run_write(settings, auth_service.bootstrap_admin)
        if created is not None:
            _print_secret("ainotes: the 'admin' user was created; its access token", created[1])
    uvicorn.run(
        "ainotes.app:create_served_app",
        factory=True,
        loop=served_event_loop(settings),
        host=host or settings.host,
        port=port or settings.port,
        workers=workers or settings.workers,
        log_config=None,
        access_log=False,
        proxy_headers=False,
    )


@db_app.command("upgrade")
def db_upgrade(revision: str = "heads") -> None:
    """Migrate the database schema (to the newest revision by default)."""
    settings = get_settings()
    migrations.upgrade(settings.effective_database_url, revision)
    console.print(f"database at {revision}")


@db_app.command("current")
def db_current() -> None:
    """Print the schema revision the database is at, and the newest one."""
    settings = get_settings()

    async def read() -> str | None:
        engine = create_async_engine(settings.effective_database_url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(migrations.current_revision)
        finally:
            await engine.dispose()

    current = asyncio.run(read())
    head = migrations.head_revision()
    console.print(f"current: {current or '(empty database)'}\nhead:    {head}")
    if current != head:
        raise typer.Exit(1)


@users_app.command("create")
def users_create(
    username: str,
    display_name: Annotated[str | None, typer.Option(help="Name shown to others.")] = None,
    admin: Annotated[bool, typer.Option(help="Make the user an administrator.")] = False,
) -> None:
    """Create a user and print a first access token for it."""
    settings = get_settings()

    async def work(session: WritableSession) -> str:
        user = await auth_service.create_user(
            session, username.lower(), display_name, is_admin=admin
        )
        _, secret = await auth_service.issue_token(session, user, "created with the CLI")
        return secret

    _print_secret(
        f"user '{username.lower()}' created; its access token",
        _run_write(settings, work),
    )


@tokens_app.command("create")
def tokens_create(
    username: str,
    name: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
    expires_in_days: Annotated[
        int | None, typer.Option(help="Expire after this many days.")
    ] = None,
) -> None:
    """Issue a new access token for a user."""

    async def work(session: WritableSession) -> str:
        user = await auth_service.get_user_by_username(session, username.lower())
        if user is None:
            raise ProblemError(f"No user has the username '{username}'.")
        _, secret = await auth_service.issue_token(session, user, name, expires_in_days)
        return secret

    _print_secret(f"new access token for '{username}'", _run_write(get_settings(), work))


@tokens_app.command("list")
def tokens_list(username: str) -> None:
    """List a user's access tokens (never their secrets)."""

    async def work(session: ReadOnlySession) -> Table:
        user = await auth_service.get_user_by_username(session, username.lower())
        table = Table("id", "name", "prefix", "created", "last used", "expires", "revoked")
        if user is None:
            return table
        for token in await auth_service.list_tokens(session, user.id):
            table.add_row(
                token.id,
                token.name,
                token.token_prefix,
                f"{token.created_at:%Y-%m-%d %H:%M}",
                f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "-",
                f"{token.expires_at:%Y-%m-%d}" if token.expires_at else "-",
                f"{token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "-",
            )
        return table

    console.print(_run_read(get_settings(), work))


@tokens_app.command("revoke")
def tokens_revoke(username: str, token_id: str) -> None:
    """Revoke one of a user's tokens. Writes refuse it at once; a running server's reads may
    accept it for up to AINOTES_ACCESS_CACHE_SECONDS more."""

    async def work(session: WritableSession) -> None:
        user = await auth_service.get_user_by_username(session, username.lower())
        if user is None:
            raise ProblemError(f"No user has the username '{username}'.")
        await auth_service.revoke_token(session, user.id, token_id)

    _run_write(get_settings(), work)
    console.print(f"token {token_id} revoked")


@audit_app.command("verify")
def audit_verify(
    workspace: Annotated[
        str | None, typer.Option(help="Only this workspace's chain (default: every chain).")
    ] = None,
) -> None:
    """Recompute the audit hash chains; exit 1 naming the first broken link of any chain."""
    results = _run_read(
        get_settings(),
        lambda session: agent_actions_service.verify_chains(session, workspace),
    )
    # A chain with no events and nothing recorded as removed is a workspace id that is unknown.
    if not results or (workspace is not None and results[0].ok and results[0].events == 0):
        err_console.print(f"[red]error:[/red] no audit events for '{workspace or 'any chain'}'")
        raise typer.Exit(1)
    for result in results:
        if result.ok:
            console.print(f"{result.chain_id}: ok, {result.events} events")
        else:
            err_console.print(
                f"[red]{result.chain_id}: broken at seq {result.first_broken_seq}[/red]: "
                f"{result.reason}"
            )
    if not all(result.ok for result in results):
        raise typer.Exit(1)


@proposals_app.command("expire")
def proposals_expire() -> None:
    """Record the expiry of every proposal past its time, one transaction per workspace.
    Reads already show such proposals as expired; this records it (safe to run from cron)."""
    settings = get_settings()
    workspaces = _run_read(settings, proposals_service.workspaces_with_expired)
    total = 0
    for workspace_id in workspaces:
        total += _run_write(
            settings, partial(proposals_service.expire_due, workspace_id=workspace_id)
        )
    console.print(f"expired {total} proposal(s) in {len(workspaces)} workspace(s)")


@app.command()
def reindex(
    workspace: Annotated[
        str | None, typer.Option(help="Only this workspace's id (default: every workspace).")
    ] = None,
) -> None:
    """Rebuild what is derived from the notes (links, tasks, the search index) and the
    artifacts' search documents, one transaction per workspace."""
    settings = get_settings()

    async def run() -> int:
        database = Database(settings)
        try:
            async with database.read_session() as session:
                plan = await search_service.plan_reindex(session, workspace)
                artifacts = await artifacts_service.count_for_reindex(session, workspace)
            # A workspace can hold artifacts and no notes (an artifact needs no source).
            planned = {item.workspace_id for item in plan}
            plan += [search_service.ReindexPlan(ws, 0) for ws in artifacts if ws not in planned]
            with Progress(console=console) as progress:
                bar = progress.add_task("reindexing notes", total=sum(p.notes for p in plan))
                artifact_bar = progress.add_task(
                    "reindexing artifacts", total=sum(artifacts.values())
                )
                for item in plan:
                    async with database.write_session() as session:
                        # Links and tasks first: notes written before their tables existed
                        # get them, and the tasks' search documents with them.
                        await relationships_service.rebuild(session, item.workspace_id)
                        await tasks_service.resync(session, item.workspace_id)
                        await search_service.reindex_workspace(
                            session,
                            item.workspace_id,
                            lambda done: progress.advance(bar, done),
                        )
                        await artifacts_service.reindex(
                            session,
                            item.workspace_id,
                            lambda done: progress.advance(artifact_bar, done),
                        )
            if workspace is None:
                async with database.write_session() as session:
                    await search_service.rebuild_engine(session)
            return len(plan)
        finally:
            await database.dispose()

    console.print(f"search index rebuilt for {asyncio.run(run())} workspace(s)")


@attachments_app.command("sweep")
def attachments_sweep(
    grace_minutes: Annotated[
        int, typer.Option(min=0, help="Only blobs stored longer ago than this.")
    ] = int(attachments_service.DEFAULT_SWEEP_GRACE.total_seconds() // 60),
    dry_run: Annotated[bool, typer.Option(help="List what would go; remove nothing.")] = False,
) -> None:
    """Remove stored files that no attachment uses (left by a crash or a rolled-back upload)."""
    settings = get_settings()

    async def run() -> list[StoredBlob]:
        database = Database(settings)
        try:
            return await attachments_service.sweep_orphan_blobs(
                database,
                blob_store(settings),
                grace=timedelta(minutes=grace_minutes),
                dry_run=dry_run,
            )
        finally:
            await database.dispose()

    swept = asyncio.run(run())
    verb = "would remove" if dry_run else "removed"
    for blob in swept:
        console.print(
            f"{verb} {blob.key} ({blob.size} bytes, stored {blob.modified_at:%Y-%m-%d %H:%M}Z)"
        )
    total = sum(blob.size for blob in swept)
    console.print(f"{verb} {len(swept)} orphaned blob(s), {total} bytes")


def main() -> None:
    app()
