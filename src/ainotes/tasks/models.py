"""ORM models of the tasks module."""
