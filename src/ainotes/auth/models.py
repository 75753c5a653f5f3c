from datetime import datetime

from sqlalchemy import JSON, ForeignKey, ForeignKeyConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ainotes.core.models import Base, id_column, utcnow
from ainotes.core.repository import WorkspaceScoped


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = id_column()
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    is_admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)


class AccessToken(Base):
    """A personal access token. Only its SHA-256 is stored: tokens are 256 random bits, so a
    slow password hash would add latency to every request without adding protection."""

    __tablename__ = "access_tokens"
    __table_args__ = (Index(None, "user_id", "created_at"),)

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters of the token, so that people can tell their tokens apart.
    token_prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class Agent(Base, WorkspaceScoped):
    """An AI agent acting in one workspace. Agents are principals, not members: what they may
    read is the scopes of their tokens, and they never write except through proposals."""

    __tablename__ = "agents"
    __table_args__ = (Index(None, "workspace_id", "created_at", "id"),)

    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(26))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)


class AgentToken(Base, WorkspaceScoped):
    """A token of an agent, limited to the agent's workspace and to its scopes. Stored as a
    SHA-256 like personal tokens, and found by that hash alone."""

    __tablename__ = "agent_tokens"
    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "agent_id"], ["agents.workspace_id", "agents.id"], ondelete="CASCADE"
        ),
        Index(None, "workspace_id", "agent_id", "created_at"),
    )

    workspace_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    id: Mapped[str] = id_column()
    agent_id: Mapped[str] = mapped_column(String(26))
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The person who issued it: a workspace may require someone else to approve the agent's
    # proposals.
    created_by: Mapped[str] = mapped_column(String(26))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
