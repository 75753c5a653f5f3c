from ainotes.core.errors import Conflict, NotFound, Unauthenticated

BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ainotes"'}


class InvalidCredentials(Unauthenticated):
    slug = "invalid-credentials"
    title = "Invalid credentials"

    def __init__(self, detail: str) -> None:
        super().__init__(
            detail,
            headers={
                **BEARER_CHALLENGE,
                "WWW-Authenticate": 'Bearer realm="ainotes", error="invalid_token"',
            },
        )


class MissingCredentials(Unauthenticated):
    slug = "unauthenticated"

    def __init__(self) -> None:
        super().__init__(
            "Send a personal access token as 'Authorization: Bearer <token>'.",
            headers=BEARER_CHALLENGE,
        )


class TokenNotFound(NotFound):
    slug = "token-not-found"
    title = "Token not found"


class UsernameTaken(Conflict):
    slug = "username-taken"
    title = "Username taken"
