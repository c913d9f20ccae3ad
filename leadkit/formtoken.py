"""Form tokens: a signed, stateless proof that leadkit rendered the form being posted.

A token carries its issue time and a random nonce, signed with ``site.secret``
(itsdangerous), so nothing is stored: a forged or expired token is refused, the
issue time tells how long the visitor took to fill the form (bots are fast),
and the nonce identifies one form instance, which makes it the double-submit key.

The issue time and a token's age are read from a ``clock`` (:func:`time.time`
unless another is given), so a test can age a token without waiting.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any, Callable

from itsdangerous import BadData, SignatureExpired

from .errors import TokenError
from .signing import PreparedSerializer, PreparedSigner

__all__ = ["FormTokens", "IssuedToken", "TokenError", "TOKEN_FIELD"]

#: The hidden field that carries the token.
TOKEN_FIELD = "lk_token"


@dataclass(frozen=True)
class IssuedToken:
    nonce: str
    issued_at: float


class _ClockedSigner(PreparedSigner):
    """itsdangerous' timestamp signer, reading the time from a given clock (whole seconds, as itsdangerous keeps)."""

    def __init__(self, *args: Any, clock: Callable[[], float], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clock = clock

    def get_timestamp(self) -> int:
        return int(self.clock())


class FormTokens:
    """Issues and reads form tokens for one site secret; ``clock`` gives the time, as :func:`time.time` does."""

    def __init__(self, secret: str, max_age: int = 86400, *, clock: Callable[[], float] = time.time) -> None:
        self.max_age = max_age
        self._serializer = PreparedSerializer(secret, salt="leadkit.form-token", signer=_ClockedSigner,
                                              signer_kwargs={"clock": clock})

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
