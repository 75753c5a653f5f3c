"""Verification of JWT bearer tokens issued by an external identity provider."""

import json
from typing import Any

import jwt

from ainotes.core.config import Settings

# Tolerated clock difference between the identity provider and this server.
CLOCK_SKEW_SECONDS = 30


class JwtVerifier:
    def __init__(self, settings: Settings) -> None:
        assert settings.jwt_issuer is not None
        assert settings.jwt_audience is not None
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self._keys_by_kid: dict[str | None, Any] = {}
        if settings.jwt_hs256_secret is not None:
            self.algorithms = ["HS256"]
            self._keys_by_kid[None] = settings.jwt_hs256_secret.get_secret_value()
        elif settings.jwt_public_key_file is not None:
            self.algorithms = ["RS256"]
            self._keys_by_kid[None] = settings.jwt_public_key_file.read_text()
        else:
            assert settings.jwt_jwks_file is not None
            self.algorithms = ["RS256"]
            jwks = jwt.PyJWKSet.from_dict(json.loads(settings.jwt_jwks_file.read_text()))
            for key in jwks.keys:
                self._keys_by_kid[key.key_id] = key.key

    def subject(self, token: str) -> str:
        """The verified ``sub`` claim, or ``jwt.InvalidTokenError``."""
        header = jwt.get_unverified_header(token)
        key = self._keys_by_kid.get(header.get("kid")) or self._keys_by_kid.get(None)
        if key is None:
            if len(self._keys_by_kid) != 1:
                raise jwt.InvalidTokenError("unknown key id")
            key = next(iter(self._keys_by_kid.values()))
        claims = jwt.decode(
            token,
            key=key,
            algorithms=self.algorithms,
            audience=self.audience,
            issuer=self.issuer,
            leeway=CLOCK_SKEW_SECONDS,
            options={"require": ["exp", "sub", "iss", "aud"]},
        )
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise jwt.InvalidTokenError("sub must be a non-empty string")
        return subject
