"""A JWT on workspace reads, resolved inside the access check: members read and are named in
the access log, disabled users are refused, and first sign-ins hold up with a one-connection
pool."""

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import update

from ainotes.auth.models import User
from ainotes.core.config import Settings
from ainotes.core.db import Database
from ainotes.core.models import utcnow
from tests.auth.test_jwt import SECRET, bearer, hs256, jwt_client
from tests.factories import Factory

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
async def creating(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with jwt_client(
        settings,
        jwt_hs256_secret=SecretStr(SECRET),
        jwt_create_users=True,
        log_level="info",
        log_format="json",
    ) as http:
        yield http


def _access_lines(captured: str) -> list[dict[str, Any]]:
    entries = [json.loads(line) for line in captured.splitlines() if line.startswith("{")]
    return [entry for entry in entries if entry.get("event") == "request"]


class TestJwtReads:
    async def test_member_by_jwt_reads_and_is_logged(
        self,
        creating: httpx.AsyncClient,
        factory: Factory,
        database: Database,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        member = await factory.member(workspace, owner, "viewer")
        headers = bearer(hs256(member.username))
        capsys.readouterr()
        ok = await creating.get(f"/v1/workspaces/{workspace['id']}/notes", headers=headers)
        assert ok.status_code == 200, ok.text
        [line] = _access_lines(capsys.readouterr().err)
        assert line["principal_id"] == member.user_id
        # disabled: 401, on a read as on a write
        async with database.write_session() as session:
            await session.execute(
                update(User).where(User.id == member.user_id).values(disabled_at=utcnow())
            )
        for method in ("GET", "POST"):
            refused = await creating.request(
                method,
                f"/v1/workspaces/{workspace['id']}/notes",
                headers=headers,
                json={"title": "x"} if method == "POST" else None,
            )
            assert refused.status_code == 401, refused.text


@pytest.mark.parametrize("inline", [True, False])
async def test_first_sign_ins_on_reads_with_a_tiny_pool(
    settings: Settings, factory: Factory, inline: bool
) -> None:
    owner = await factory.user()
    workspace = await factory.workspace(owner)
    results: list[int] = []
    async with jwt_client(
        settings,
        jwt_hs256_secret=SecretStr(SECRET),
        jwt_create_users=True,
        database_pool_size=1,
        sqlite_inline=inline,
    ) as http:

        async def one(i: int) -> None:
            with anyio.fail_after(20):
                response = await http.get(
                    f"/v1/workspaces/{workspace['id']}/notes",
                    headers=bearer(hs256(f"tiny-{uuid.uuid4().hex[:8]}-{i}")),
                )
            results.append(response.status_code)

        async with anyio.create_task_group() as tg:
            for i in range(16):
                tg.start_soon(one, i)
    assert results == [404] * 16
