"""Agent actions: the audit log's read routes (and, later, agent proposals and approvals)."""
