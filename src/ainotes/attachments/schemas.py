from datetime import datetime

from pydantic import Field

from ainotes.core.schemas import Schema


class AttachmentRead(Schema):
    id: str
    workspace_id: str
    filename: str = Field(description="As the client named it; metadata only.")
    content_type: str = Field(description="The type the content is served with.")
    declared_content_type: str | None = Field(description="The Content-Type sent on upload.")
    sniffed_content_type: str | None = Field(description="What the first bytes show, if known.")
    size: int
    sha256: str
    created_by: str
    created_at: datetime


class ReferencingNote(Schema):
    id: str
    title: str
