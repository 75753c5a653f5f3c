"""Workspace rules below the HTTP layer: who gets access, and what a delete takes with it."""

import pytest
from sqlalchemy import func, select

from ainotes.core.db import Database
from ainotes.core.principal import Principal, PrincipalKind
from ainotes.workspaces import service as workspaces_service
from ainotes.workspaces.errors import InsufficientRole, WorkspaceNotFound
from ainotes.workspaces.models import Membership, Role
from tests.factories import Actor, Factory

pytestmark = pytest.mark.anyio


def principal_of(actor: Actor) -> Principal:
    return Principal(kind=PrincipalKind.USER, id=actor.user_id, name=actor.username)


class TestRole:
    @pytest.mark.parametrize(
        ("held", "required", "allowed"),
        [
            (Role.VIEWER, Role.VIEWER, True),
            (Role.VIEWER, Role.EDITOR, False),
            (Role.VIEWER, Role.OWNER, False),
            (Role.EDITOR, Role.VIEWER, True),
            (Role.EDITOR, Role.EDITOR, True),
            (Role.EDITOR, Role.OWNER, False),
            (Role.OWNER, Role.VIEWER, True),
            (Role.OWNER, Role.EDITOR, True),
            (Role.OWNER, Role.OWNER, True),
        ],
    )
    def test_allows_only_what_its_rank_covers(self, held: Role, required: Role, allowed: bool):
        assert held.allows(required) is allowed


class TestGetAccess:
    async def test_member_gets_their_role(self, database: Database, factory: Factory):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        editor = await factory.member(workspace, owner, "editor")
        async with database.read_session() as session:
            access = await workspaces_service.get_access(
                session, principal_of(editor), workspace["id"], Role.VIEWER
            )
        assert access.role is Role.EDITOR
        assert access.workspace_id == workspace["id"]

    async def test_role_below_the_required_one_raises_insufficient_role(
        self, database: Database, factory: Factory
    ):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        viewer = await factory.member(workspace, owner, "viewer")
        async with database.read_session() as session:
            with pytest.raises(InsufficientRole):
                await workspaces_service.get_access(
                    session, principal_of(viewer), workspace["id"], Role.EDITOR
                )

    async def test_agent_with_the_id_of_a_member_is_not_let_in(
        self, database: Database, factory: Factory
    ):
        # Agents reach workspaces through their own grants, never through a user's membership.
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        agent = Principal(
            kind=PrincipalKind.AGENT,
            id=owner.user_id,
            name="agent",
            workspace_id=workspace["id"],
        )
        async with database.read_session() as session:
            with pytest.raises(WorkspaceNotFound):
                await workspaces_service.get_access(session, agent, workspace["id"], Role.VIEWER)


class TestDelete:
    async def test_memberships_go_with_the_workspace(self, database: Database, factory: Factory):
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        await factory.member(workspace, owner, "viewer")
        async with database.write_session() as session:
            access = await workspaces_service.get_access(
                session, principal_of(owner), workspace["id"], Role.OWNER
            )
            await workspaces_service.delete(session, access)
        async with database.read_session() as session:
            statement = (
                select(func.count())
                .select_from(Membership)
                .where(Membership.workspace_id == workspace["id"])
            )
            assert (await session.execute(statement)).scalar_one() == 0
