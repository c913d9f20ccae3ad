"""Form tokens: a signed, stateless proof that leadkit rendered the form being posted.

A token carries its issue time and a random nonce, signed with ``site.secret``
(itsdangerous), so nothing is stored: a forged or expired token is refused, the
issue time tells how long the visitor took to fill the form (bots are fast),
and the nonce identifies one form instance, which makes it the double-submit key.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer

from .errors import TokenError

__all__ = ["FormTokens", "IssuedToken", "TokenError", "TOKEN_FIELD"]

#: The hidden field that carries the token.
TOKEN_FIELD = "lk_token"


@dataclass(frozen=True)
class IssuedToken:
    nonce: str
    issued_at: float


class FormTokens:
    """Issues and reads form tokens for one site secret."""

    def __init__(self, secret: str, max_age: int = 86400) -> None:
        self.max_age = max_age
        self._serializer = URLSafeTimedSerializer(secret, salt="leadkit.form-token")

    def issue(self) -> str:
        return self._serializer.dumps(secrets.token_urlsafe(12))

    def read(self, token: str) -> IssuedToken:
        if not token or len(token) > 200:
            raise TokenError("forged")
        try:
            nonce, issued = self._serializer.loads(token, max_age=self.max_age, return_timestamp=True)
        except SignatureExpired:
            raise TokenError("expired") from None
        except (BadData, ValueError, TypeError):
            raise TokenError("forged") from None
        if not isinstance(nonce, str):
            raise TokenError("forged")
        return IssuedToken(nonce=nonce, issued_at=issued.timestamp())
