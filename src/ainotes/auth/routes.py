from collections.abc import Sequence

from fastapi import APIRouter, status

from ainotes.auth import service as auth_service
from ainotes.auth.dependencies import CurrentPrincipal
from ainotes.auth.errors import TokenNotFound
from ainotes.auth.models import AccessToken, User
from ainotes.auth.schemas import TokenCreate, TokenCreated, TokenRead, UserRead
from ainotes.core.db import ReadSession, WriteSession
from ainotes.core.errors import Forbidden, NotFound, problem_responses
from ainotes.core.idempotency import IdempotentRoute
from ainotes.core.ids import Id

router = APIRouter(prefix="/v1", tags=["users and tokens"], route_class=IdempotentRoute)


class PrincipalIsNotAUser(Forbidden):
    slug = "not-a-user"
    title = "Only users can do this"


async def _user_of(session: ReadSession, principal: CurrentPrincipal) -> User:
    user = await auth_service.get_user(session, principal.id) if principal.is_user else None
    if user is None:
        raise PrincipalIsNotAUser("Only a user, not an agent, can manage personal tokens.")
    return user


@router.get("/users/me", response_model=UserRead, responses=problem_responses(Forbidden))
async def get_current_user(principal: CurrentPrincipal, session: ReadSession) -> User:
    return await _user_of(session, principal)


@router.get("/tokens", response_model=list[TokenRead], responses=problem_responses(Forbidden))
async def list_tokens(principal: CurrentPrincipal, session: ReadSession) -> Sequence[AccessToken]:
    user = await _user_of(session, principal)
    return await auth_service.list_tokens(session, user.id)


@router.post(
    "/tokens",
    response_model=TokenCreated,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(Forbidden),
)
async def create_token(
    body: TokenCreate, principal: CurrentPrincipal, session: WriteSession
) -> TokenCreated:
    user = await _user_of(session, principal)
    token, secret = await auth_service.issue_token(
        session, user, body.name, body.expires_in_days, actor=principal
    )
    return TokenCreated.model_validate(
        {**TokenRead.model_validate(token).model_dump(), "token": secret}
    )


@router.delete(
    "/tokens/{token_id}",
    response_model=TokenRead,
    responses=problem_responses(Forbidden, TokenNotFound, NotFound),
)
async def revoke_token(
    token_id: Id, principal: CurrentPrincipal, session: WriteSession
) -> AccessToken:
    user = await _user_of(session, principal)
    return await auth_service.revoke_token(session, user.id, token_id, actor=principal)
