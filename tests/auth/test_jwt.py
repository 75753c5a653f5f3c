"""Bearer JWTs from an external identity provider: HS256, RS256 with a PEM key or a JWKS."""

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr, ValidationError
from sqlalchemy import update

from ainotes.app import create_app
from ainotes.auth import service as auth_service
from ainotes.auth.models import User
from ainotes.core.config import Settings
from ainotes.core.db import Database
from ainotes.core.errors import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE
from ainotes.core.models import utcnow
from tests.conftest import served
from tests.factories import Factory
from tests.problems import assert_problem

pytestmark = pytest.mark.anyio

ISSUER = "https://id.example.test/"
AUDIENCE = "ainotes-api"
SECRET = "s" * 32


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def claims(subject: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": ISSUER, "aud": AUDIENCE, "sub": subject, "iat": now, "exp": now + 300} | (
        overrides
    )


def hs256(subject: str, secret: str = SECRET, **overrides: Any) -> str:
    return jwt.encode(claims(subject, **overrides), secret, algorithm="HS256")


def rs256(key: rsa.RSAPrivateKey, subject: str, kid: str | None = None) -> str:
    headers = {"kid": kid} if kid else None
    return jwt.encode(claims(subject), key, algorithm="RS256", headers=headers)


def unsigned(subject: str) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims(subject))}."


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_invalid_credentials(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    body = response.json()
    assert body["type"] == PROBLEM_TYPE_BASE + "invalid-credentials"
    assert body["status"] == 401
    assert body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


@asynccontextmanager
async def jwt_client(settings: Settings, **jwt_settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A second application over the same database, with an identity provider configured."""
    update = {"jwt_issuer": ISSUER, "jwt_audience": AUDIENCE, **jwt_settings}
    application = create_app(settings.model_copy(update=update))
    async with served(application) as http:
        yield http


# Each configured application is built once per module: startup is the slow part of a test.
@pytest.fixture(scope="module")
async def hs256_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with jwt_client(settings, jwt_hs256_secret=SecretStr(SECRET)) as http:
        yield http


@pytest.fixture(scope="module")
async def creating_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with jwt_client(
        settings, jwt_hs256_secret=SecretStr(SECRET), jwt_create_users=True
    ) as http:
        yield http


@pytest.fixture(scope="module")
async def pem_client(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory, rsa_key: rsa.RSAPrivateKey
) -> AsyncIterator[httpx.AsyncClient]:
    key_file = tmp_path_factory.mktemp("pem") / "idp.pem"
    key_file.write_bytes(public_pem(rsa_key))
    async with jwt_client(settings, jwt_public_key_file=key_file) as http:
        yield http


@pytest.fixture(scope="module")
async def jwks_client(
    settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
    rsa_key: rsa.RSAPrivateKey,
    other_rsa_key: rsa.RSAPrivateKey,
) -> AsyncIterator[httpx.AsyncClient]:
    keys = []
    for kid, key in (("current", rsa_key), ("next", other_rsa_key)):
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
    jwks_file = tmp_path_factory.mktemp("jwks") / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": keys}))
    async with jwt_client(settings, jwt_jwks_file=jwks_file) as http:
        yield http


class TestHs256:
    async def test_valid_token_maps_subject_to_user_by_username(
        self, hs256_client: httpx.AsyncClient, factory: Factory
    ):
        actor = await factory.user()
        response = await hs256_client.get("/v1/users/me", headers=bearer(hs256(actor.username)))
        assert response.status_code == 200, response.text
        assert response.json()["id"] == actor.user_id

    async def test_subject_is_matched_case_insensitively(
        self, hs256_client: httpx.AsyncClient, factory: Factory
    ):
        actor = await factory.user()
        token = hs256(actor.username.upper())
        response = await hs256_client.get("/v1/users/me", headers=bearer(token))
        assert response.json()["id"] == actor.user_id

    async def test_jwt_user_can_use_workspace_routes(
        self, hs256_client: httpx.AsyncClient, factory: Factory
    ):
        actor = await factory.user()
        headers = bearer(hs256(actor.username))
        created = await hs256_client.post(
            "/v1/workspaces", json={"name": "Via JWT"}, headers=headers
        )
        assert created.status_code == 201, created.text
        assert created.json()["created_by"] == actor.user_id
        notes = f"/v1/workspaces/{created.json()['id']}/notes"
        # A write's access check (JWT resolved before the write session opens) and a read's
        # (JWT resolved inside the check).
        written = await hs256_client.post(notes, json={"title": "By JWT"}, headers=headers)
        assert written.status_code == 201, written.text
        assert written.json()["created_by"] == actor.user_id
        listed = await hs256_client.get(notes, headers=headers)
        assert listed.status_code == 200, listed.text
        assert [note["title"] for note in listed.json()["items"]] == ["By JWT"]

    async def test_personal_access_tokens_still_work(
        self, hs256_client: httpx.AsyncClient, factory: Factory
    ):
        actor = await factory.user()
        response = await hs256_client.get("/v1/users/me", headers=actor.headers)
        assert response.json()["id"] == actor.user_id

    async def test_expired_401(self, hs256_client: httpx.AsyncClient, factory: Factory):
        actor = await factory.user()
        # Past the clock-skew leeway.
        token = hs256(actor.username, exp=int(time.time()) - 120)
        assert_invalid_credentials(await hs256_client.get("/v1/users/me", headers=bearer(token)))

    async def test_wrong_audience_401(self, hs256_client: httpx.AsyncClient, factory: Factory):
        actor = await factory.user()
        token = hs256(actor.username, aud="another-api")
        assert_invalid_credentials(await hs256_client.get("/v1/users/me", headers=bearer(token)))

    async def test_wrong_issuer_401(self, hs256_client: httpx.AsyncClient, factory: Factory):
        actor = await factory.user()
        token = hs256(actor.username, iss="https://evil.example.test/")
        assert_invalid_credentials(await hs256_client.get("/v1/users/me", headers=bearer(token)))

    async def test_wrong_signature_401(self, hs256_client: httpx.AsyncClient, factory: Factory):
        actor = await factory.user()
        token = hs256(actor.username, secret="t" * 32)
        assert_invalid_credentials(await hs256_client.get("/v1/users/me", headers=bearer(token)))

    async def test_tampered_payload_401(self, hs256_client: httpx.AsyncClient, factory: Factory):
        actor = await factory.user()
        victim = await factory.user()
        header, _, signature = hs256(actor.username).split(".")
        forged_payload = unsigned(victim.username).split(".")[1]
        token = f"{header}.{forged_payload}.{signature}"
        assert_invalid_credentials(await hs256_client.get("/v1/users/me", headers=bearer(token)))

    async def test_alg_none_401(self, hs256_client: httpx.AsyncClient, factory: Factory):
        actor = await factory.user()
        token = unsigned(actor.username)
        assert_invalid_credentials(await hs256_client.get("/v1/users/me", headers=bearer(token)))

    @pytest.mark.parametrize("claim", ["exp", "sub", "iss", "aud"])
    async def test_missing_required_claim_401(
        self, hs256_client: httpx.AsyncClient, factory: Factory, claim: str
    ):
        actor = await factory.user()
        payload = claims(actor.username)
        del payload[claim]
        token = jwt.encode(payload, SECRET, algorithm="HS256")
        assert_invalid_credentials(await hs256_client.get("/v1/users/me", headers=bearer(token)))

    async def test_empty_subject_401(self, hs256_client: httpx.AsyncClient):
        token = hs256("")
        assert_invalid_credentials(await hs256_client.get("/v1/users/me", headers=bearer(token)))

    async def test_garbage_401(self, hs256_client: httpx.AsyncClient):
        response = await hs256_client.get("/v1/users/me", headers=bearer("not.a.jwt"))
        assert_invalid_credentials(response)

    async def test_unknown_subject_401(self, hs256_client: httpx.AsyncClient):
        token = hs256(f"nobody-{uuid.uuid4().hex}")
        assert_invalid_credentials(await hs256_client.get("/v1/users/me", headers=bearer(token)))

    async def test_disabled_user_401(
        self, hs256_client: httpx.AsyncClient, factory: Factory, database: Database
    ):
        actor = await factory.user()
        async with database.write_session() as session:
            await session.execute(
                update(User).where(User.id == actor.user_id).values(disabled_at=utcnow())
            )
        token = hs256(actor.username)
        assert_invalid_credentials(await hs256_client.get("/v1/users/me", headers=bearer(token)))

    async def test_rs256_token_refused_when_hs256_is_configured(
        self, hs256_client: httpx.AsyncClient, factory: Factory, rsa_key: rsa.RSAPrivateKey
    ):
        actor = await factory.user()
        token = rs256(rsa_key, actor.username)
        assert_invalid_credentials(await hs256_client.get("/v1/users/me", headers=bearer(token)))


class TestCreateUsers:
    async def test_unknown_subject_creates_a_user_when_enabled(
        self, creating_client: httpx.AsyncClient
    ):
        subject = f"newcomer-{uuid.uuid4().hex[:12]}"
        first = await creating_client.get("/v1/users/me", headers=bearer(hs256(subject)))
        second = await creating_client.get("/v1/users/me", headers=bearer(hs256(subject)))
        assert first.status_code == 200, first.text
        assert first.json()["username"] == subject
        assert first.json()["is_admin"] is False
        assert second.json()["id"] == first.json()["id"]

    async def test_subject_that_is_not_a_username_maps_to_the_same_user_every_time(
        self, creating_client: httpx.AsyncClient
    ):
        suffix = uuid.uuid4().hex[:12]
        subject = f"Auth0|{suffix}"
        first = await creating_client.get("/v1/users/me", headers=bearer(hs256(subject)))
        second = await creating_client.get("/v1/users/me", headers=bearer(hs256(subject)))
        assert first.status_code == 200, first.text
        assert first.json()["username"] == f"auth0-{suffix}"
        assert first.json()["display_name"] == subject
        assert second.status_code == 200, second.text
        assert second.json()["id"] == first.json()["id"]

    async def test_created_user_can_create_a_workspace(self, creating_client: httpx.AsyncClient):
        subject = f"builder-{uuid.uuid4().hex[:12]}"
        response = await creating_client.post(
            "/v1/workspaces", json={"name": "First"}, headers=bearer(hs256(subject))
        )
        assert response.status_code == 201, response.text

    async def test_first_sign_in_on_a_workspace_route_creates_the_user_and_finds_nothing(
        self, creating_client: httpx.AsyncClient, factory: Factory, database: Database
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        notes = f"/v1/workspaces/{workspace['id']}/notes"
        for method, subject in (("GET", "reader"), ("POST", "writer")):
            username = f"{subject}-{uuid.uuid4().hex[:12]}"
            headers = bearer(hs256(username))
            response = await creating_client.request(
                method, notes, headers=headers, json={"title": "x"} if method == "POST" else None
            )
            assert_problem(response, 404, "workspace-not-found")
            async with database.read_session() as session:
                assert await auth_service.get_user_by_username(session, username) is not None

    async def test_invalid_token_creates_no_user(
        self, creating_client: httpx.AsyncClient, database: Database
    ):
        subject = f"intruder-{uuid.uuid4().hex[:12]}"
        token = hs256(subject, secret="t" * 32)
        response = await creating_client.get("/v1/users/me", headers=bearer(token))
        assert_invalid_credentials(response)
        async with database.read_session() as session:
            assert await auth_service.get_user_by_username(session, subject) is None


class TestRs256PublicKeyFile:
    async def test_valid_token_200(
        self, pem_client: httpx.AsyncClient, factory: Factory, rsa_key: rsa.RSAPrivateKey
    ):
        actor = await factory.user()
        response = await pem_client.get(
            "/v1/users/me", headers=bearer(rs256(rsa_key, actor.username))
        )
        assert response.status_code == 200, response.text
        assert response.json()["id"] == actor.user_id

    async def test_token_signed_by_another_key_401(
        self, pem_client: httpx.AsyncClient, factory: Factory, other_rsa_key: rsa.RSAPrivateKey
    ):
        actor = await factory.user()
        token = rs256(other_rsa_key, actor.username)
        assert_invalid_credentials(await pem_client.get("/v1/users/me", headers=bearer(token)))

    async def test_hs256_token_keyed_with_the_public_key_401(
        self, pem_client: httpx.AsyncClient, factory: Factory, rsa_key: rsa.RSAPrivateKey
    ):
        # The algorithm-confusion attack: the public key used as an HMAC secret.
        actor = await factory.user()
        header = {"alg": "HS256", "typ": "JWT"}
        signing_input = ".".join(
            base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
            for part in (header, claims(actor.username))
        )
        mac = hmac.new(public_pem(rsa_key), signing_input.encode(), hashlib.sha256).digest()
        token = f"{signing_input}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"
        assert_invalid_credentials(await pem_client.get("/v1/users/me", headers=bearer(token)))

    async def test_alg_none_401(self, pem_client: httpx.AsyncClient, factory: Factory):
        actor = await factory.user()
        token = unsigned(actor.username)
        assert_invalid_credentials(await pem_client.get("/v1/users/me", headers=bearer(token)))


class TestRs256Jwks:
    @pytest.mark.parametrize("kid", ["current", "next"])
    async def test_token_signed_by_any_listed_key_200(
        self,
        jwks_client: httpx.AsyncClient,
        factory: Factory,
        rsa_key: rsa.RSAPrivateKey,
        other_rsa_key: rsa.RSAPrivateKey,
        kid: str,
    ):
        actor = await factory.user()
        key = rsa_key if kid == "current" else other_rsa_key
        response = await jwks_client.get(
            "/v1/users/me", headers=bearer(rs256(key, actor.username, kid=kid))
        )
        assert response.status_code == 200, response.text
        assert response.json()["id"] == actor.user_id

    async def test_kid_naming_another_key_401(
        self, jwks_client: httpx.AsyncClient, factory: Factory, rsa_key: rsa.RSAPrivateKey
    ):
        actor = await factory.user()
        token = rs256(rsa_key, actor.username, kid="next")
        assert_invalid_credentials(await jwks_client.get("/v1/users/me", headers=bearer(token)))

    async def test_unknown_kid_401(
        self, jwks_client: httpx.AsyncClient, factory: Factory, rsa_key: rsa.RSAPrivateKey
    ):
        actor = await factory.user()
        token = rs256(rsa_key, actor.username, kid="retired")
        assert_invalid_credentials(await jwks_client.get("/v1/users/me", headers=bearer(token)))

    async def test_token_without_kid_401_when_several_keys_are_listed(
        self, jwks_client: httpx.AsyncClient, factory: Factory, rsa_key: rsa.RSAPrivateKey
    ):
        actor = await factory.user()
        token = rs256(rsa_key, actor.username)
        assert_invalid_credentials(await jwks_client.get("/v1/users/me", headers=bearer(token)))

    async def test_key_not_in_the_set_401(self, jwks_client: httpx.AsyncClient, factory: Factory):
        actor = await factory.user()
        stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        token = rs256(stranger, actor.username, kid="current")
        assert_invalid_credentials(await jwks_client.get("/v1/users/me", headers=bearer(token)))


class TestJwtSettings:
    def base(self, **values: Any) -> Settings:
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    def test_accepts_a_complete_hs256_configuration(self):
        settings = self.base(jwt_issuer=ISSUER, jwt_audience=AUDIENCE, jwt_hs256_secret=SECRET)
        assert settings.jwt_enabled

    def test_rejects_a_short_hs256_secret(self):
        with pytest.raises(ValidationError, match="at least 32 bytes"):
            self.base(jwt_issuer=ISSUER, jwt_audience=AUDIENCE, jwt_hs256_secret="s" * 31)

    def test_rejects_a_missing_audience(self):
        with pytest.raises(ValidationError, match="jwt_audience is required"):
            self.base(jwt_issuer=ISSUER, jwt_hs256_secret=SECRET)

    def test_rejects_no_key(self):
        with pytest.raises(ValidationError, match="exactly one"):
            self.base(jwt_issuer=ISSUER, jwt_audience=AUDIENCE)

    def test_rejects_two_keys(self, tmp_path: Path):
        with pytest.raises(ValidationError, match="exactly one"):
            self.base(
                jwt_issuer=ISSUER,
                jwt_audience=AUDIENCE,
                jwt_hs256_secret=SECRET,
                jwt_public_key_file=tmp_path / "key.pem",
            )

    def test_reads_the_environment(self, monkeypatch: pytest.MonkeyPatch):
        monkeypatch.setenv("AINOTES_JWT_ISSUER", ISSUER)
        monkeypatch.setenv("AINOTES_JWT_HS256_SECRET", "short")
        with pytest.raises(ValidationError, match="jwt_audience is required"):
            self.base()
