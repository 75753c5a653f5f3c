"""ORM models of the attachments module."""
