"""ORM models of the relationships module."""
