"""Repositories bound to one workspace: no statement on a scoped table is built without it."""

from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import Select, select
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
        statement = self.select().where(self.model.id == entity_id)
        result: ModelT | None = (await self.session.execute(statement)).scalar_one_or_none()
        return result
