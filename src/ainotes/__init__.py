"""ainotes: a self-hostable backend for AI-assisted learning notes."""

__version__ = "0.1.0"
