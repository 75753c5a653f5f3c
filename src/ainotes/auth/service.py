"""Users and personal access tokens: issuing, verifying, revoking, and the first admin."""

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from sqlalchemy.exc import IntegrityError

from ainotes.auth.errors import InvalidCredentials, TokenNotFound, UsernameTaken
from ainotes.auth.jwt import JwtVerifier
from ainotes.auth.models import AccessToken, Agent, AgentToken, User
from ainotes.auth.repository import AgentTokenRepository, TokenRepository, UserRepository
from ainotes.core import audit
from ainotes.core.access_cache import mark_access_changed
from ainotes.core.db import ReadOnlySession, WritableSession
from ainotes.core.models import utcnow
from ainotes.core.principal import SYSTEM_PRINCIPAL, Principal, PrincipalKind

# Markers, not secrets: every ainotes token starts with TOKEN_PREFIX (a JWT never does), and the
# kind of principal it belongs to can be told without a query.
TOKEN_PREFIX = "ain_"  # noqa: S105
USER_TOKEN_PREFIX = TOKEN_PREFIX + "pat_"
AGENT_TOKEN_PREFIX = TOKEN_PREFIX + "agt_"
# last_used_at is written at most this often per token, so that reads stay reads.
LAST_USED_RESOLUTION = timedelta(minutes=5)
_USERNAME_FROM_SUBJECT = re.compile(r"[^a-z0-9_.-]")


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def principal_for(user: User, token_id: str | None = None) -> Principal:
    return user_principal(user.id, user.username, token_id)


def user_principal(user_id: str, username: str, token_id: str | None = None) -> Principal:
    return Principal(kind=PrincipalKind.USER, id=user_id, name=username, token_id=token_id)


async def create_user(
    session: WritableSession,
    username: str,
    display_name: str | None = None,
    *,
    is_admin: bool = False,
    actor: Principal = SYSTEM_PRINCIPAL,
) -> User:
    """Users are made by the server (CLI, bootstrap, first JWT sign-in), so the event of their
    creation goes to the ``system`` chain."""
    users = UserRepository(session)
    if await users.get_by_username(username) is not None:
        raise UsernameTaken(f"The username '{username}' is taken.")
    user = User(username=username, display_name=display_name or username, is_admin=is_admin)
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:
        raise UsernameTaken(f"The username '{username}' is taken.") from None
    await audit.record(
        session,
        actor=actor,
        action="user.created",
        target_type="user",
        target_id=user.id,
        workspace_id=None,
        changes=audit.changes_between({}, {"username": username, "is_admin": is_admin}),
    )
    return user


async def get_user(session: ReadOnlySession, user_id: str) -> User | None:
    return await UserRepository(session).get(user_id)


async def get_user_by_username(session: ReadOnlySession, username: str) -> User | None:
    return await UserRepository(session).get_by_username(username)


async def issue_token(
    session: WritableSession,
    user: User,
    name: str,
    expires_in_days: int | None = None,
    *,
    actor: Principal = SYSTEM_PRINCIPAL,
) -> tuple[AccessToken, str]:
    """Create a token; the secret is returned once and never stored."""
    secret = new_secret(USER_TOKEN_PREFIX)
    now = utcnow()
    token = AccessToken(
        user_id=user.id,
        name=name,
        token_hash=hash_token(secret),
        token_prefix=secret[:16],
        created_at=now,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    session.add(token)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="token.created",
        target_type="token",
        target_id=token.id,
        workspace_id=None,
        changes=audit.changes_between(
            {},
            {
                "user_id": user.id,
                "name": name,
                "expires_at": token.expires_at.isoformat() if token.expires_at else None,
            },
        ),
    )
    return token, secret


async def list_tokens(session: ReadOnlySession, user_id: str) -> Sequence[AccessToken]:
    return await TokenRepository(session).list_for_user(user_id)


async def revoke_token(
    session: WritableSession,
    user_id: str,
    token_id: str,
    *,
    actor: Principal = SYSTEM_PRINCIPAL,
) -> AccessToken:
    """Revoking a revoked token changes nothing and records nothing."""
    token = await TokenRepository(session).get_for_user(user_id, token_id)
    if token is None:
        raise TokenNotFound(f"You have no token with id {token_id}.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        mark_access_changed(session)
        await session.flush()
        await audit.record(
            session,
            actor=actor,
            action="token.revoked",
            target_type="token",
            target_id=token.id,
            workspace_id=None,
            changes={"revoked_at": audit.change(None, token.revoked_at.isoformat())},
        )
    return token


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    principal: Principal
    last_used_at: datetime | None
    expires_at: datetime | None


async def verify_access_token(session: ReadOnlySession, secret: str) -> VerifiedToken | None:
    """The principal of a personal or agent token; None when it is unknown, revoked, expired,
    or its user or agent is disabled (so that disabling takes effect on the next request)."""
    now = utcnow()
    if secret.startswith(AGENT_TOKEN_PREFIX):
        agent_found = await AgentTokenRepository(session).find_active(hash_token(secret), now)
        if agent_found is None:
            return None
        agent_token, agent = agent_found
        return VerifiedToken(
            principal_for_agent(agent, agent_token),
            agent_token.last_used_at,
            agent_token.expires_at,
        )
    found = await TokenRepository(session).find_active(hash_token(secret), now)
    if found is None:
        return None
    token, user = found
    return VerifiedToken(principal_for(user, token.id), token.last_used_at, token.expires_at)


def principal_for_agent(agent: Agent, token: AgentToken | None = None) -> Principal:
    return Principal(
        kind=PrincipalKind.AGENT,
        id=agent.id,
        name=agent.name,
        workspace_id=agent.workspace_id,
        scopes=frozenset(token.scopes) if token else frozenset(),
        token_id=token.id if token else None,
    )


def last_use_is_stale(last_used_at: datetime | None, now: datetime) -> bool:
    return last_used_at is None or now - last_used_at >= LAST_USED_RESOLUTION


async def record_token_use(session: WritableSession, principal: Principal) -> None:
    if principal.token_id is None:
        return
    if principal.kind is PrincipalKind.AGENT and principal.workspace_id is not None:
        await AgentTokenRepository(session).touch(
            principal.workspace_id, principal.token_id, utcnow()
        )
    else:
        await TokenRepository(session).touch(principal.token_id, utcnow())


async def verify_jwt(
    session: ReadOnlySession, verifier: JwtVerifier, token: str
) -> tuple[str | None, User | None]:
    """The JWT's subject and the user it maps to (by username); raises InvalidCredentials."""
    try:
        subject = verifier.subject(token)
    except jwt.InvalidTokenError as error:
        raise InvalidCredentials(f"The bearer JWT is not valid: {error}.") from None
    # The same mapping that names users created from a subject, so that they are found again.
    username = username_from_subject(subject)
    return subject, await UserRepository(session).get_by_username(username)


def username_from_subject(subject: str) -> str:
    return _USERNAME_FROM_SUBJECT.sub("-", subject.lower())[:64].strip("-.") or "user"


async def bootstrap_admin(session: WritableSession) -> tuple[User, str] | None:
    """On an empty database, create ``admin`` with a token; otherwise do nothing."""
    if await UserRepository(session).count() > 0:
        return None
    admin = await create_user(session, "admin", "Administrator", is_admin=True)
    _, secret = await issue_token(session, admin, "bootstrap")
    return admin, secret
