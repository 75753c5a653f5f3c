"""ORM models of the attachments module."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ainotes.core.models import Base, id_column, utcnow
from ainotes.core.repository import WorkspaceScoped


class Attachment(Base, WorkspaceScoped):
    """A file uploaded to a workspace. The bytes live in the blob store under ``sha256``;
    several attachments (in any workspace) may share one blob."""

    __tablename__ = "attachments"
    __table_args__ = (
        # "Does any attachment still use this blob?" is asked across workspaces, because the
        # blob store is shared by all of them.
        Index(None, "sha256"),
    )

    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = id_column()
    # As the client named it: metadata only, never part of a path.
    filename: Mapped[str] = mapped_column(String(255))
    # The served type (derived from the two below, see sniffing.served_type).
    content_type: Mapped[str] = mapped_column(String(255))
    declared_content_type: Mapped[str | None] = mapped_column(String(255), default=None)
    sniffed_content_type: Mapped[str | None] = mapped_column(String(100), default=None)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(26))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
