"""The search index: one row per searchable thing of a workspace, whatever module owns it.

Notes are indexed by this module; tasks and artifacts are indexed by theirs through
``search.service.index_document``. The engine-specific index hangs off this table and is
created by the migration, not declared here: on SQLite an external-content FTS5 table
(``search_fts``) kept in step by triggers, on PostgreSQL a generated ``search_vector``
tsvector column with a GIN index.
"""

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ainotes.core.models import Base
from ainotes.core.repository import WorkspaceScoped


class SearchDocument(Base, WorkspaceScoped):
    __tablename__ = "search_documents"
    __table_args__ = (
        # FTS5 finds a document's text by this integer key (its content_rowid).
        Index(
            None,
            "fts_rowid",
            unique=True,
            sqlite_where=text("fts_rowid IS NOT NULL"),
            postgresql_where=text("fts_rowid IS NOT NULL"),
        ),
    )

    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    # note | task | artifact
    doc_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    doc_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    # The note the document is, or comes from (a task's note); None for documents of no note.
    note_id: Mapped[str | None] = mapped_column(String(26))
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))
    archived: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime]
    # SQLite only: FTS5 keys rows by integer, and this table's own rowid is not stable across
    # VACUUM. NULL on PostgreSQL, where the tsvector lives on this row.
    fts_rowid: Mapped[int | None] = mapped_column(BigInteger)


# Created by the migration and deliberately not declared above; Alembic's autogenerate must
# neither offer to drop them nor report them as differences.
ENGINE_MANAGED_TABLE_PREFIX = "search_fts"
ENGINE_MANAGED_COLUMNS = frozenset({("search_documents", "search_vector")})
ENGINE_MANAGED_INDEXES = frozenset(
    {"ix_search_documents_search_vector", "ix_search_documents_pairs"}
)


def is_engine_managed(
    item: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """An Alembic ``include_object`` test for the engine-specific search objects."""
    if not reflected or compare_to is not None:
        return False
    if type_ == "table":
        return (name or "").startswith(ENGINE_MANAGED_TABLE_PREFIX)
    if type_ == "column":
        table = getattr(getattr(item, "table", None), "name", None)
        return (table, name) in ENGINE_MANAGED_COLUMNS
    if type_ == "index":
        return name in ENGINE_MANAGED_INDEXES
    return False
