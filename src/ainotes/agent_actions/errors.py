from ainotes.core.errors import NotFound


class AgentNotFound(NotFound):
    slug = "agent-not-found"
    title = "Agent not found"


class AgentTokenNotFound(NotFound):
    slug = "agent-token-not-found"
    title = "Agent token not found"
