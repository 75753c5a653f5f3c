"""ORM models of the artifacts module."""
