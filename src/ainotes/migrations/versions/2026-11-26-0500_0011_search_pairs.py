"""PostgreSQL: an index of the adjacent-word pairs of search documents, for phrase queries.

A GIN index over tsvectors holds no word positions, so a phrase of two common words fetched
every document holding both words and checked adjacency on the heap (tens of thousands of rows
at a million notes). The pairs index finds the documents that hold each adjacent pair of the
phrase; the tsvector check then runs on those only. SQLite's FTS5 index has positions already.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 05:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every pair of lexemes at positions p and p + 1, as one lexeme: the first 16 hex digits of
# the MD5 of "first second". Hashed, because two long neighbours would exceed a lexeme's 2,047
# bytes, and a long document's pairs the tsvector's 1 MB; a colliding pair only lets through a
# document the tsquery then rejects. A tsvector keeps at most 256 positions per lexeme and
# sets those past 16,383 to 16,383, and phrase matching reads the same positions, so every
# document a phrase matches holds all of the phrase's pairs (and at most ~16k of them).
PAIRS_FUNCTION = """
CREATE FUNCTION ainotes_search_pairs(tsvector) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(
        array_to_tsvector(
            array_agg(DISTINCT left(md5(first.lexeme || ' ' || second.lexeme), 16))
        ),
        ''::tsvector
    )
    FROM (SELECT lexeme, unnest(positions) AS position FROM unnest($1)) AS first
    JOIN (SELECT lexeme, unnest(positions) AS position FROM unnest($1)) AS second
      ON second.position = first.position + 1
$$
"""
# The pairs of each phrase (words as the query parser splits them), normalized by the search
# configuration as documents are, ANDed; NULL when there are none (the search only asks for
# phrases of two or more words that the configuration keeps, see search/repository.py).
PAIRS_QUERY_FUNCTION = """
CREATE FUNCTION ainotes_search_pairs_query(text[]) RETURNS tsquery
LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
    SELECT CAST(string_agg(quote_literal(pair), ' & ') AS tsquery)
    FROM unnest($1) AS phrase,
         unnest(tsvector_to_array(
             ainotes_search_pairs(to_tsvector('ainotes_search', phrase))
         )) AS pair
$$
"""
PAIRS_INDEX = (
    "CREATE INDEX ix_search_documents_pairs ON search_documents "
    "USING gin (ainotes_search_pairs(search_vector))"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute(PAIRS_FUNCTION)
    op.execute(PAIRS_QUERY_FUNCTION)
    op.execute(PAIRS_INDEX)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute("DROP INDEX IF EXISTS ix_search_documents_pairs")
    op.execute("DROP FUNCTION IF EXISTS ainotes_search_pairs_query(text[])")
    op.execute("DROP FUNCTION IF EXISTS ainotes_search_pairs(tsvector)")
