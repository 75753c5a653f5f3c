"""ORM models of the search module."""
