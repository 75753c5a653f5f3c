from fastapi import APIRouter

from ainotes.core.config import Settings


def build_router(settings: Settings) -> APIRouter:  # noqa: ARG001
    return APIRouter(prefix="/v1/workspaces/{workspace_id}/tasks", tags=["tasks"])
