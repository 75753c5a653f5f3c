"""Idempotency-Key on writes: replay, mismatch, in-flight, expiry, and one effect per key."""

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from starlette.requests import Request

from ainotes.auth.models import AccessToken
from ainotes.core import idempotency
from ainotes.core.db import Database, WritableSession
from ainotes.core.idempotency import IdempotencyRecord, fingerprint, key_hash_for
from ainotes.core.models import utcnow
from ainotes.notes import events as note_events
from ainotes.notes.events import NoteChange
from ainotes.notes.models import Note
from tests.factories import Actor, Factory

pytestmark = pytest.mark.anyio


async def _setup(factory: Factory) -> tuple[Actor, dict[str, Any]]:
    owner = await factory.user()
    return owner, await factory.workspace(owner)


def _notes_url(workspace: dict[str, Any]) -> str:
    return f"/v1/workspaces/{workspace['id']}/notes"


async def _note_count(database: Database, workspace: dict[str, Any]) -> int:
    async with database.read_session() as session:
        statement = select(func.count()).where(Note.workspace_id == workspace["id"])
        return (await session.execute(statement)).scalar_one()


async def _post(
    client: httpx.AsyncClient, actor: Actor, url: str, key: str, body: Any
) -> httpx.Response:
    return await client.post(url, json=body, headers={**actor.headers, "Idempotency-Key": key})


class TestReplay:
    async def test_same_key_and_request_replays_the_first_response(
        self, factory: Factory, database: Database
    ) -> None:
        owner, workspace = await _setup(factory)
        url = _notes_url(workspace)
        first = await _post(factory.client, owner, url, "key-1", {"title": "Once"})
        second = await _post(factory.client, owner, url, "key-1", {"title": "Once"})
        assert first.status_code == second.status_code == 201
        assert first.headers["idempotent-replayed"] == "false"
        assert second.headers["idempotent-replayed"] == "true"
        assert second.content == first.content
        assert second.headers["etag"] == first.headers["etag"]
        assert second.headers["location"] == first.headers["location"]
        assert await _note_count(database, workspace) == 1

    async def test_a_revoked_token_gets_401_not_a_replay(
        self, factory: Factory, database: Database
    ) -> None:
        owner, workspace = await _setup(factory)
        url = _notes_url(workspace)
        first = await _post(factory.client, owner, url, "key-1", {"title": "Once"})
        assert first.status_code == 201
        async with database.write_session() as session:
            await session.execute(
                update(AccessToken)
                .where(AccessToken.user_id == owner.user_id)
                .values(revoked_at=utcnow())
            )

        again = await _post(factory.client, owner, url, "key-1", {"title": "Once"})

        assert again.status_code == 401
        assert "idempotent-replayed" not in again.headers

    async def test_key_order_and_whitespace_in_json_are_the_same_request(
        self, factory: Factory, database: Database
    ) -> None:
        owner, workspace = await _setup(factory)
        headers = {**owner.headers, "Idempotency-Key": '"quoted-key"'}
        headers["Content-Type"] = "application/json"
        url = _notes_url(workspace)
        first = await factory.client.post(url, content=b'{"title":"A","body":"b"}', headers=headers)
        second = await factory.client.post(
            url, content=b'{ "body": "b",  "title": "A" }', headers=headers
        )
        assert first.status_code == 201
        assert second.headers["idempotent-replayed"] == "true"
        assert await _note_count(database, workspace) == 1

    async def test_keys_are_scoped_to_the_principal(
        self, factory: Factory, database: Database
    ) -> None:
        owner, workspace = await _setup(factory)
        editor = await factory.member(workspace, owner, "editor")
        url = _notes_url(workspace)
        mine = await _post(factory.client, owner, url, "shared", {"title": "Mine"})
        theirs = await _post(factory.client, editor, url, "shared", {"title": "Mine"})
        assert mine.status_code == theirs.status_code == 201
        assert theirs.headers["idempotent-replayed"] == "false"
        assert mine.json()["id"] != theirs.json()["id"]
        assert await _note_count(database, workspace) == 2

    async def test_reads_ignore_the_key(self, factory: Factory, database: Database) -> None:
        owner, workspace = await _setup(factory)
        response = await factory.client.get(
            _notes_url(workspace), headers={**owner.headers, "Idempotency-Key": "read-key"}
        )
        assert response.status_code == 200
        assert "idempotent-replayed" not in response.headers
        async with database.read_session() as session:
            stored = await session.get(
                IdempotencyRecord, (owner.user_id, key_hash_for(owner.user_id, "read-key"))
            )
        assert stored is None


class TestMismatch:
    async def test_same_key_with_another_body_is_422_and_does_nothing(
        self, factory: Factory, database: Database
    ) -> None:
        owner, workspace = await _setup(factory)
        url = _notes_url(workspace)
        await _post(factory.client, owner, url, "k", {"title": "First"})
        response = await _post(factory.client, owner, url, "k", {"title": "Second"})
        assert response.status_code == 422
        problem = response.json()
        assert problem["type"].endswith("/idempotency-key-reused")
        assert problem["original_method"] == "POST"
        assert "First" not in response.text
        assert await _note_count(database, workspace) == 1

    async def test_same_key_on_another_route_is_422(self, factory: Factory) -> None:
        owner, workspace = await _setup(factory)
        note = await _post(factory.client, owner, _notes_url(workspace), "k2", {"title": "T"})
        response = await factory.client.patch(
            f"{_notes_url(workspace)}/{note.json()['id']}",
            json={"title": "T"},
            headers={**owner.headers, "Idempotency-Key": "k2"},
        )
        assert response.status_code == 422


class TestFailuresAreNotStored:
    async def test_a_rejected_request_leaves_the_key_free(
        self, factory: Factory, database: Database
    ) -> None:
        owner, workspace = await _setup(factory)
        url = _notes_url(workspace)
        rejected = await _post(factory.client, owner, url, "retry-me", {"title": ""})
        assert rejected.status_code == 422
        # A corrected request is a different request, yet the key is free again.
        accepted = await _post(factory.client, owner, url, "retry-me", {"title": "Fixed"})
        assert accepted.status_code == 201
        assert accepted.headers["idempotent-replayed"] == "false"
        assert await _note_count(database, workspace) == 1

    async def test_failure_after_the_effect_stores_neither_effect_nor_key(
        self, factory: Factory, database: Database, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        owner, workspace = await _setup(factory)

        async def fail_after_flush(session: WritableSession, change: NoteChange) -> None:
            raise RuntimeError("crash between the effect and the commit")

        listeners = [*note_events._listeners, fail_after_flush]
        monkeypatch.setattr(note_events, "_listeners", listeners)
        url = _notes_url(workspace)
        crashed = await _post(factory.client, owner, url, "crash", {"title": "Once"})
        assert crashed.status_code == 500
        assert await _note_count(database, workspace) == 0
        monkeypatch.setattr(note_events, "_listeners", listeners[:-1])
        retried = await _post(factory.client, owner, url, "crash", {"title": "Once"})
        assert retried.status_code == 201
        assert retried.headers["idempotent-replayed"] == "false"
        assert await _note_count(database, workspace) == 1


def _fingerprint_for(path: str, body: dict[str, Any]) -> str:
    scope = {
        "type": "http",
        "method": "POST",
        "scheme": "http",
        "server": ("ainotes.test", 80),
        "path": path,
        "root_path": "",
        "query_string": b"",
        "headers": [],
    }
    return fingerprint(Request(scope), json.dumps(body).encode())


class TestInFlight:
    async def _claim(
        self, database: Database, owner: Actor, key: str, path: str, age: timedelta
    ) -> None:
        async with database.write_session() as session:
            session.add(
                IdempotencyRecord(
                    principal_id=owner.user_id,
                    key_hash=key_hash_for(owner.user_id, key),
                    fingerprint=_fingerprint_for(path, {"title": "T"}),
                    method="POST",
                    path=path,
                    status="in_progress",
                    lock_token="t" * 32,
                    locked_at=utcnow() - age,
                    created_at=utcnow() - age,
                    expires_at=utcnow() + timedelta(hours=1),
                )
            )

    async def test_a_running_request_with_the_key_gets_409(
        self, factory: Factory, database: Database
    ) -> None:
        owner, workspace = await _setup(factory)
        url = _notes_url(workspace)
        await self._claim(database, owner, "busy", url, timedelta(seconds=0))
        response = await _post(factory.client, owner, url, "busy", {"title": "T"})
        assert response.status_code == 409
        assert response.json()["type"].endswith("/idempotency-key-in-flight")
        assert response.headers["retry-after"] == "1"
        assert await _note_count(database, workspace) == 0

    async def test_an_abandoned_claim_is_taken_over(
        self, factory: Factory, database: Database
    ) -> None:
        owner, workspace = await _setup(factory)
        url = _notes_url(workspace)
        await self._claim(database, owner, "stale", url, timedelta(hours=1))
        response = await _post(factory.client, owner, url, "stale", {"title": "T"})
        assert response.status_code == 201
        assert response.headers["idempotent-replayed"] == "false"
        assert await _note_count(database, workspace) == 1


class TestExpiry:
    async def test_an_expired_key_runs_as_a_new_request(
        self, factory: Factory, database: Database
    ) -> None:
        owner, workspace = await _setup(factory)
        url = _notes_url(workspace)
        await _post(factory.client, owner, url, "old", {"title": "T"})
        async with database.write_session() as session:
            await session.execute(
                update(IdempotencyRecord)
                .where(IdempotencyRecord.principal_id == owner.user_id)
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
        again = await _post(factory.client, owner, url, "old", {"title": "T"})
        assert again.status_code == 201
        assert again.headers["idempotent-replayed"] == "false"
        assert await _note_count(database, workspace) == 2

    async def test_claims_clean_up_the_principals_expired_keys(
        self, factory: Factory, database: Database, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        owner, workspace = await _setup(factory)
        other, other_workspace = await _setup(factory)
        url = _notes_url(workspace)
        for key in ("a", "b"):
            await _post(factory.client, owner, url, key, {"title": key})
        await _post(factory.client, other, _notes_url(other_workspace), "a", {"title": "a"})
        async with database.write_session() as session:
            await session.execute(
                update(IdempotencyRecord)
                .where(IdempotencyRecord.principal_id.in_([owner.user_id, other.user_id]))
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
        # Cleanup runs on one claim in CLEANUP_EVERY; make it this one.
        monkeypatch.setattr(idempotency, "CLEANUP_EVERY", 1)

        await _post(factory.client, owner, url, "c", {"title": "c"})

        async with database.read_session() as session:
            rows = (
                await session.execute(
                    select(IdempotencyRecord.principal_id, IdempotencyRecord.key_hash).where(
                        IdempotencyRecord.principal_id.in_([owner.user_id, other.user_id])
                    )
                )
            ).all()
        remaining = {(principal, key_hash) for principal, key_hash in rows}
        assert remaining == {
            (owner.user_id, key_hash_for(owner.user_id, "c")),
            # Another principal's keys wait for that principal's own claims.
            (other.user_id, key_hash_for(other.user_id, "a")),
        }


class TestKeySyntax:
    @pytest.mark.parametrize("key", ['""', "x" * 256, "has space", "tab\there"])
    async def test_malformed_keys_are_400(self, factory: Factory, key: str) -> None:
        owner, workspace = await _setup(factory)
        response = await _post(factory.client, owner, _notes_url(workspace), key, {"title": "T"})
        assert response.status_code == 400
        assert response.json()["type"].endswith("/idempotency-key-invalid")

    async def test_two_key_headers_are_400(self, factory: Factory) -> None:
        owner, workspace = await _setup(factory)
        headers = [*owner.headers.items(), ("Idempotency-Key", "a"), ("Idempotency-Key", "b")]
        response = await factory.client.post(
            _notes_url(workspace), json={"title": "T"}, headers=headers
        )
        assert response.status_code == 400


class TestConcurrency:
    async def test_many_identical_requests_have_one_effect(
        self, factory: Factory, database: Database
    ) -> None:
        owner, workspace = await _setup(factory)
        url = _notes_url(workspace)
        responses = await asyncio.gather(
            *(_post(factory.client, owner, url, "race", {"title": "Raced"}) for _ in range(20))
        )
        statuses = sorted(r.status_code for r in responses)
        assert set(statuses) <= {201, 409}, statuses
        fresh = [r for r in responses if r.headers.get("idempotent-replayed") == "false"]
        assert len(fresh) == 1
        created = {r.json()["id"] for r in responses if r.status_code == 201}
        assert created == {fresh[0].json()["id"]}
        assert await _note_count(database, workspace) == 1
