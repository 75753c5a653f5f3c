"""Sweeping orphaned blobs: stored bytes that no attachment row uses, past a grace period.

Each test sweeps a store of its own (under ``tmp_path``) against the shared database, so that
other tests' blobs are never touched; a blob counts as referenced when an attachment row in
the database has its digest, whichever store the row's upload went to.
"""

import os
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from rich.console import Console

from ainotes import cli as cli_module
from ainotes.attachments import service as attachments_service
from ainotes.attachments.storage import LocalBlobStore
from ainotes.core.config import Settings
from ainotes.core.db import Database
from tests.factories import Factory
from tests.test_cli import Cli

pytestmark = pytest.mark.anyio

OLD = timedelta(hours=2)


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def place(store: LocalBlobStore, data: bytes, age: timedelta = OLD) -> str:
    """A blob written straight into storage, as a crash after placing it would leave it."""
    info = await store.put_stream(_one(data))
    stamp = time.time() - age.total_seconds()
    os.utime(store.path_for(info.key), (stamp, stamp))
    return info.key


async def uploaded_digest(factory: Factory, data: bytes) -> str:
    owner = await factory.user("owner")
    workspace = await factory.workspace(owner)
    response = await factory.client.post(
        f"/v1/workspaces/{workspace['id']}/attachments", content=data, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    digest: str = response.json()["sha256"]
    return digest


class Blobs:
    """One referenced blob and two orphans, one old and one fresh, in a store of their own."""

    def __init__(self, store: LocalBlobStore, referenced: str, old: str, fresh: str) -> None:
        self.store = store
        self.referenced = referenced
        self.old_orphan = old
        self.fresh_orphan = fresh

    def present(self) -> set[str]:
        return {
            key
            for key in (self.referenced, self.old_orphan, self.fresh_orphan)
            if self.store.path_for(key).is_file()
        }


async def make_blobs(factory: Factory, root: Path) -> Blobs:
    store = LocalBlobStore(root)
    shared = os.urandom(256)
    referenced = await uploaded_digest(factory, shared)
    assert await place(store, shared) == referenced
    old = await place(store, os.urandom(300))
    fresh = await place(store, os.urandom(400), age=timedelta(minutes=5))
    return Blobs(store, referenced, old, fresh)


class TestSweepOrphanBlobs:
    async def test_removes_only_old_unreferenced_blobs(
        self, factory: Factory, database: Database, tmp_path: Path
    ) -> None:
        blobs = await make_blobs(factory, tmp_path / "blobs")

        swept = await attachments_service.sweep_orphan_blobs(
            database, blobs.store, grace=timedelta(hours=1)
        )

        assert [(blob.key, blob.size) for blob in swept] == [(blobs.old_orphan, 300)]
        assert blobs.present() == {blobs.referenced, blobs.fresh_orphan}
        again = await attachments_service.sweep_orphan_blobs(
            database, blobs.store, grace=timedelta(hours=1)
        )
        assert again == []

    async def test_dry_run_removes_nothing(
        self, factory: Factory, database: Database, tmp_path: Path
    ) -> None:
        blobs = await make_blobs(factory, tmp_path / "blobs")

        swept = await attachments_service.sweep_orphan_blobs(
            database, blobs.store, grace=timedelta(hours=1), dry_run=True
        )

        assert [blob.key for blob in swept] == [blobs.old_orphan]
        assert blobs.present() == {blobs.referenced, blobs.old_orphan, blobs.fresh_orphan}

    async def test_a_shorter_grace_reaches_fresher_orphans(
        self, factory: Factory, database: Database, tmp_path: Path
    ) -> None:
        blobs = await make_blobs(factory, tmp_path / "blobs")

        swept = await attachments_service.sweep_orphan_blobs(
            database, blobs.store, grace=timedelta(minutes=1)
        )

        assert {blob.key for blob in swept} == {blobs.old_orphan, blobs.fresh_orphan}
        assert blobs.present() == {blobs.referenced}

    async def test_batches_cover_every_blob(
        self,
        factory: Factory,
        database: Database,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(attachments_service, "SWEEP_BATCH", 2)
        store = LocalBlobStore(tmp_path / "blobs")
        orphans = {await place(store, os.urandom(32)) for _ in range(5)}
        shared = os.urandom(64)
        referenced = await place(store, shared)
        assert await uploaded_digest(factory, shared) == referenced

        swept = await attachments_service.sweep_orphan_blobs(database, store)

        assert {blob.key for blob in swept} == orphans
        assert [blob.key async for blob in store.list_blobs()] == [referenced]

    async def test_removal_rechecks_the_references(
        self, factory: Factory, database: Database, tmp_path: Path
    ) -> None:
        """An upload of the same bytes may commit between the listing and the removal."""
        store = LocalBlobStore(tmp_path / "blobs")
        data = os.urandom(128)
        key = await place(store, data)
        await uploaded_digest(factory, data)
        async with database.write_session() as session:
            assert not await attachments_service.remove_if_unreferenced(session, store, key)
        assert store.path_for(key).is_file()
        orphan = await place(store, os.urandom(128))
        async with database.write_session() as session:
            assert await attachments_service.remove_if_unreferenced(session, store, orphan)
        assert not store.path_for(orphan).exists()


class TestSweepCommand:
    @pytest.fixture
    def ainotes(self, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
        # Settings also read ./.env; run where there is none. Wide enough for a digest a line.
        monkeypatch.chdir(tmp_path)
        monkeypatch.setattr(cli_module, "console", Console(width=240))
        return Cli(tmp_path / "data", settings.database_url)

    async def test_dry_run_then_sweep(self, factory: Factory, ainotes: Cli, tmp_path: Path) -> None:
        blobs = await make_blobs(factory, tmp_path / "data" / "blobs")

        listed = await ainotes.in_thread("attachments", "sweep", "--dry-run")
        assert f"would remove {blobs.old_orphan} (300 bytes" in listed
        assert "would remove 1 orphaned blob(s), 300 bytes" in listed
        assert blobs.present() == {blobs.referenced, blobs.old_orphan, blobs.fresh_orphan}

        removed = await ainotes.in_thread("attachments", "sweep", "--grace-minutes", "60")
        assert f"removed {blobs.old_orphan}" in removed
        assert "removed 1 orphaned blob(s), 300 bytes" in removed
        assert blobs.referenced not in removed
        assert blobs.fresh_orphan not in removed
        assert blobs.present() == {blobs.referenced, blobs.fresh_orphan}

    async def test_grace_minutes_reaches_fresher_orphans(
        self, factory: Factory, ainotes: Cli, tmp_path: Path
    ) -> None:
        blobs = await make_blobs(factory, tmp_path / "data" / "blobs")

        removed = await ainotes.in_thread("attachments", "sweep", "--grace-minutes", "1")

        assert "removed 2 orphaned blob(s), 700 bytes" in removed
        assert blobs.present() == {blobs.referenced}

    async def test_empty_store(self, ainotes: Cli) -> None:
        output = await ainotes.in_thread("attachments", "sweep")
        assert "removed 0 orphaned blob(s), 0 bytes" in output

    def test_negative_grace_is_refused(self, ainotes: Cli) -> None:
        result = ainotes("attachments", "sweep", "--grace-minutes", "-5")
        assert result.exit_code == 2
