"""Repositories bound to one workspace: no statement on a scoped table is built without it."""

from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Mapped

from ainotes.core.db import ReadOnlySession


class WorkspaceScoped:
    """Marker for models whose rows belong to one workspace (the future distribution key)."""

    workspace_id: Mapped[str]


ModelT = TypeVar("ModelT", bound=WorkspaceScoped)


class WorkspaceRepository(Generic[ModelT]):
    model: ClassVar[type[Any]]

    def __init__(self, session: ReadOnlySession, workspace_id: str) -> None:
        self.session = session
        self.workspace_id = workspace_id

    def select(self) -> Select[ModelT]:
        return select(self.model).where(self.model.workspace_id == self.workspace_id)

    async def get(self, entity_id: str) -> ModelT | None:
        parameters = {"workspace_id": self.workspace_id, "entity_id": entity_id}
        result = await self.session.execute(_get_statement(self.model), parameters)
        found: ModelT | None = result.scalar_one_or_none()
        return found


_GET_STATEMENTS: dict[type[Any], Select[Any]] = {}


def _get_statement(model: type[Any]) -> Select[Any]:
    """Built once per model: the lookup by id runs on nearly every request, and building a
    statement costs more than SQLite takes to answer it."""
    statement = _GET_STATEMENTS.get(model)
    if statement is None:
        statement = select(model).where(
            model.workspace_id == bindparam("workspace_id"), model.id == bindparam("entity_id")
        )
        _GET_STATEMENTS[model] = statement
    return statement
