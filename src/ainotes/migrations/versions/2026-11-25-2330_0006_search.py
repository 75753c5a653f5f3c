"""Search documents, with FTS5 (SQLite) or a weighted tsvector and GIN index (PostgreSQL).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite: external content (the text stays in search_documents only), words split the way
# the API's query parser splits them, accents folded, and prefix indexes for the 2- and
# 3-letter prefixes that a search-as-you-type box sends first. Each workspace's documents get
# rowids in a block of their own (see search/repository.py), so a query stays in its block.
SQLITE_FTS = """
CREATE VIRTUAL TABLE search_fts USING fts5(
    title, body,
    content='search_documents', content_rowid='fts_rowid',
    tokenize='unicode61 remove_diacritics 2', prefix='2 3'
)
"""
SQLITE_TRIGGERS = [
    """
    CREATE TRIGGER search_documents_fts_insert AFTER INSERT ON search_documents BEGIN
        INSERT INTO search_fts (rowid, title, body)
        VALUES (new.fts_rowid, new.title, new.body);
    END
    """,
    """
    CREATE TRIGGER search_documents_fts_delete AFTER DELETE ON search_documents BEGIN
        INSERT INTO search_fts (search_fts, rowid, title, body)
        VALUES ('delete', old.fts_rowid, old.title, old.body);
    END
    """,
    """
    CREATE TRIGGER search_documents_fts_update AFTER UPDATE OF title, body ON search_documents
    WHEN old.title IS NOT new.title OR old.body IS NOT new.body BEGIN
        INSERT INTO search_fts (search_fts, rowid, title, body)
        VALUES ('delete', old.fts_rowid, old.title, old.body);
        INSERT INTO search_fts (rowid, title, body)
        VALUES (new.fts_rowid, new.title, new.body);
    END
    """,
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS search_documents_fts_update",
    "DROP TRIGGER IF EXISTS search_documents_fts_delete",
    "DROP TRIGGER IF EXISTS search_documents_fts_insert",
    "DROP TABLE IF EXISTS search_fts",
]

# PostgreSQL: the 'simple' configuration (no stemming, no stop words: notes mix languages),
# plus unaccent when the extension can be installed, so that "cafe" finds "café" as on SQLite.
TS_CONFIG = "ainotes_search"
POSTGRES_VECTOR = f"""
ALTER TABLE search_documents ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('{TS_CONFIG}'::regconfig, title), 'A')
    || setweight(to_tsvector('{TS_CONFIG}'::regconfig, body), 'B')
) STORED
"""
POSTGRES_GIN = (
    "CREATE INDEX ix_search_documents_search_vector ON search_documents USING gin (search_vector)"
)


def _postgres_upgrade() -> None:
    bind = op.get_bind()
    has_unaccent = False
    # CREATE EXTENSION needs rights the database role may lack; try it in a savepoint.
    savepoint = bind.begin_nested()
    try:
        bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS unaccent")
        savepoint.commit()
        has_unaccent = True
    except sa.exc.DBAPIError:
        savepoint.rollback()
    op.execute(f"CREATE TEXT SEARCH CONFIGURATION {TS_CONFIG} (COPY = simple)")
    if has_unaccent:
        op.execute(
            f"ALTER TEXT SEARCH CONFIGURATION {TS_CONFIG} "
            "ALTER MAPPING FOR hword, hword_part, word WITH unaccent, simple"
        )
    op.execute(POSTGRES_VECTOR)
    op.execute(POSTGRES_GIN)


def upgrade() -> None:
    op.create_table(
        "search_documents",
        sa.Column("workspace_id", sa.String(length=26), nullable=False),
        sa.Column("doc_type", sa.String(length=16), nullable=False),
        sa.Column("doc_id", sa.String(length=26), nullable=False),
        sa.Column("note_id", sa.String(length=26), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fts_rowid", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_search_documents_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "workspace_id", "doc_type", "doc_id", name=op.f("pk_search_documents")
        ),
    )
    with op.batch_alter_table("search_documents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_search_documents_fts_rowid"),
            ["fts_rowid"],
            unique=True,
            sqlite_where=sa.text("fts_rowid IS NOT NULL"),
            postgresql_where=sa.text("fts_rowid IS NOT NULL"),
        )
    if op.get_bind().dialect.name == "sqlite":
        op.execute(SQLITE_FTS)
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)
    else:
        _postgres_upgrade()


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_DROP:
            op.execute(statement)
    with op.batch_alter_table("search_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_documents_fts_rowid"))
    op.drop_table("search_documents")
    if op.get_bind().dialect.name != "sqlite":
        op.execute(f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {TS_CONFIG}")
        # The unaccent extension stays: other schemas may use it, and dropping it needs rights.
