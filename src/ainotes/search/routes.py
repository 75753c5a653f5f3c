from typing import Annotated

from fastapi import APIRouter, Query

from ainotes.core.config import Settings
from ainotes.core.db import ReadSession
from ainotes.core.errors import problem_responses
from ainotes.core.idempotency import IdempotentRoute
from ainotes.core.pagination import InvalidCursor
from ainotes.core.schemas import Page, UtcInstant
from ainotes.search import service as search_service
from ainotes.search.errors import EmptySearchQuery, SearchQueryTooComplex
from ainotes.search.query import MAX_QUERY_CHARS
from ainotes.search.schemas import DocType, SearchFilters, SearchHit
from ainotes.workspaces.dependencies import ViewableWorkspace
from ainotes.workspaces.errors import WorkspaceNotFound

QUERY_HELP = (
    'Words (all must match), `"exact phrase"`, `OR` between alternatives, `-word` or '
    '`-"phrase"` to exclude. The last word also matches longer words it begins, unless '
    "the query ends with a space. Other punctuation is ignored. Blank input is a 422 "
    "problem; input with no word in it (only emoji or punctuation) finds nothing."
)


def build_router(settings: Settings) -> APIRouter:
    router = APIRouter(
        prefix="/v1/workspaces/{workspace_id}/search", tags=["search"], route_class=IdempotentRoute
    )
    PageSize = Annotated[int, Query(ge=1, le=settings.max_page_size)]  # noqa: N806
    default_limit = min(20, settings.default_page_size)

    @router.get(
        "",
        response_model=Page[SearchHit],
        responses=problem_responses(
            WorkspaceNotFound, EmptySearchQuery, SearchQueryTooComplex, InvalidCursor
        ),
    )
    async def search(
        access: ViewableWorkspace,
        session: ReadSession,
        q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS, description=QUERY_HELP)],
        doc_type: Annotated[
            list[DocType] | None,
            Query(alias="type", description="Only hits of these types (repeatable)."),
        ] = None,
        tag: Annotated[
            str | None, Query(max_length=200, description="Only documents with this tag.")
        ] = None,
        archived: Annotated[
            bool | None, Query(description="Only archived (true) or unarchived (false) ones.")
        ] = None,
        updated_after: UtcInstant | None = None,
        cursor: Annotated[str | None, Query(max_length=1000)] = None,
        limit: PageSize = default_limit,
    ) -> Page[SearchHit]:
        """Full-text search over the workspace, best matches first (titles weigh more).

        A query matching more than 1,000 documents is ranked over 1,000 of them (on SQLite the
        most recently created, on PostgreSQL the first in storage order), so that a broad query
        costs what a narrow one does; narrow it with more words, a phrase or the filters to
        rank the rest.
        """
        filters = SearchFilters(
            doc_types=doc_type or [],
            tag=search_service.normalize_tag_filter(tag) if tag is not None else None,
            archived=archived,
            updated_after=updated_after,
        )
        items, next_cursor = await search_service.search(
            session, access.workspace_id, q, filters, cursor, limit
        )
        return Page[SearchHit](
            items=[SearchHit.model_validate(item) for item in items], next_cursor=next_cursor
        )

    return router
