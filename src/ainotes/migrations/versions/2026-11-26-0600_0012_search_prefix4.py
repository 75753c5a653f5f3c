"""SQLite: FTS5 indexes 4-letter prefixes too, and the index is rebuilt.

Without a prefix index FTS5 answers ``stac*`` by merging the doclists of every term that
begins so: at a million notes, 30-46k matches of a 4-letter prefix took ~50 ms to merge
before the first one could be ranked. With one, the prefix is one doclist, read newest first
and cut at the ranked candidates like any word. PostgreSQL needs nothing here.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 06:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As migration 0006 created it, but for the prefix lengths. The triggers on search_documents
# name the table, not its definition, and keep working across the swap.
FTS_TABLE = """
CREATE VIRTUAL TABLE search_fts USING fts5(
    title, body,
    content='search_documents', content_rowid='fts_rowid',
    tokenize='unicode61 remove_diacritics 2', prefix='{prefix}'
)
"""


def _recreate(prefix: str) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TABLE search_fts")
    op.execute(FTS_TABLE.format(prefix=prefix))
    # External content: the documents are all in search_documents; index them again.
    op.execute("INSERT INTO search_fts(search_fts) VALUES ('rebuild')")


def upgrade() -> None:
    _recreate("2 3 4")


def downgrade() -> None:
    _recreate("2 3")
