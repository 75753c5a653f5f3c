"""``CurrentPrincipal``: the bearer token of the request, verified, or a 401.

For routes outside a workspace the lookup runs in a short read session of its own that returns
its connection to the pool before the route takes its session, so that a request never holds
two connections while it waits for one (which, under load, would exhaust the pool with
requests waiting on each other). Workspace routes authenticate in the request's own session.
"""

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ainotes.auth import service as auth_service
from ainotes.auth.errors import InvalidCredentials, MissingCredentials
from ainotes.auth.jwt import JwtVerifier
from ainotes.core.db import ReadOnlySession, after_request, get_database
from ainotes.core.models import utcnow
from ainotes.core.principal import Principal

_bearer = HTTPBearer(
    auto_error=False,
    description="A personal access token, or a JWT from the configured identity provider.",
)


BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def _current_principal(request: Request, credentials: BearerCredentials) -> Principal:
    async with get_database(request).read_session() as session:
        return await authenticate(request, credentials, session)


async def _principal_from_jwt_first(
    request: Request, credentials: BearerCredentials
) -> Principal | None:
    # A JWT may create its user, a write of its own; it runs before the request's session opens.
    if credentials is None or credentials.credentials.startswith(auth_service.TOKEN_PREFIX):
        return None
    principal = await _principal_from_jwt(request, credentials.credentials)
    request.state.principal_id = principal.id
    return principal


# The principal of a JWT bearer, resolved ahead of the session; None for access tokens.
JwtPrincipal = Annotated[Principal | None, Depends(_principal_from_jwt_first)]


async def authenticate(
    request: Request, credentials: HTTPAuthorizationCredentials | None, session: ReadOnlySession
) -> Principal:
    """The principal behind the request's bearer token, looked up in ``session``. Dependencies
    that already hold the request's session (workspace access) pass it, which saves a
    connection and a transaction per request."""
    if credentials is None:
        raise MissingCredentials()
    secret = credentials.credentials
    if secret.startswith(auth_service.TOKEN_PREFIX):
        principal = await _principal_from_access_token(request, session, secret)
    else:
        principal = await _principal_from_jwt(request, secret)
    request.state.principal_id = principal.id
    return principal


async def _principal_from_access_token(
    request: Request, session: ReadOnlySession, secret: str
) -> Principal:
    verified = await auth_service.verify_access_token(session, secret)
    if verified is None:
        raise InvalidCredentials("The access token is unknown, revoked or expired.")
    note_token_use(request, verified.principal, verified.last_used_at)
    return verified.principal


def note_token_use(request: Request, principal: Principal, last_used_at: datetime | None) -> bool:
    """Name the principal in the access log, and record the token's use once in a while:
    True when this request records it."""
    request.state.principal_id = principal.id
    if not auth_service.last_use_is_stale(last_used_at, utcnow()):
        return False
    after_request(request, lambda: _record_token_use(request, principal))
    return True


async def _record_token_use(request: Request, principal: Principal) -> None:
    async with get_database(request).write_session() as write_session:
        await auth_service.record_token_use(write_session, principal)


async def _principal_from_jwt(request: Request, token: str) -> Principal:
    verifier: JwtVerifier | None = request.app.state.jwt_verifier
    if verifier is None:
        raise InvalidCredentials("The access token is unknown, revoked or expired.")
    database = get_database(request)
    async with database.read_session() as session:
        subject, user = await auth_service.verify_jwt(session, verifier, token)
    if user is None:
        if not request.app.state.settings.jwt_create_users or subject is None:
            raise InvalidCredentials("The JWT's subject is not a user of this server.")
        async with database.write_session() as write_session:
            user = await auth_service.create_user(
                write_session, auth_service.username_from_subject(subject), subject
            )
    if user.disabled_at is not None:
        raise InvalidCredentials("The JWT's subject is a disabled user.")
    return auth_service.principal_for(user)


CurrentPrincipal = Annotated[Principal, Depends(_current_principal)]
