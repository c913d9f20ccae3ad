"""itsdangerous' timed serializer, prepared once: the same signatures, for less work per cookie or token.

``itsdangerous.URLSafeTimedSerializer`` makes a new signer for every ``dumps`` and ``loads``, and its
``TimestampSigner`` derives its key from the secret and the salt at every signature and checks it
through ``hmac.new`` (a Python object per call); the tag cookie, the form token and the lead cookie
are signed or checked on many requests. :class:`PreparedSerializer` makes its signer once, a
:class:`PreparedSigner` (unless given another), which derives the key once and signs with the
one-call C ``hmac.digest``: the bytes are itsdangerous' own, so cookies and tokens signed before
and after read the same (tests/test_tags.py checks both ways).
"""

from __future__ import annotations

import hashlib
import hmac

from typing import Any

from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from itsdangerous.signer import HMACAlgorithm, Signer

__all__ = ["PreparedSerializer", "PreparedSigner"]


class _OneShotHMAC(HMACAlgorithm):
    """itsdangerous' HMAC with the one-call C ``hmac.digest`` (``hmac.new`` builds a Python object)."""

    def get_signature(self, key: bytes, value: bytes) -> bytes:
        return hmac.digest(key, value, self.digest_method)


class PreparedSigner(TimestampSigner):
    """itsdangerous' ``TimestampSigner``, the same bytes, with the key derived once, not per signature."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("algorithm", _OneShotHMAC(hashlib.sha1))
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._key = super().derive_key()

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        return self._key if secret_key is None else super().derive_key(secret_key)


class PreparedSerializer(URLSafeTimedSerializer):
    """itsdangerous' ``URLSafeTimedSerializer`` whose signer for its own salt is made once (it was made
    for every ``dumps`` and ``loads``); a :class:`PreparedSigner` unless ``signer=`` names another."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("signer", PreparedSigner)
        super().__init__(*args, **kwargs)
        self._prepared = super().make_signer()

    def make_signer(self, salt: str | bytes | None = None) -> Signer:
        return self._prepared if salt is None or salt == self.salt else super().make_signer(salt)
