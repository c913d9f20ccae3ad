"""itsdangerous' timestamp signer, prepared once: the same signatures, for less work per cookie or token.

``itsdangerous.TimestampSigner`` derives its key from the secret and the salt at every signature and
checks it through ``hmac.new`` (a Python object per call); the tag cookie, the form token and the
lead cookie are signed or checked on many requests. :class:`PreparedSigner` derives the key once
per signer and signs with the one-call C ``hmac.digest``: the bytes are itsdangerous' own, so
cookies and tokens signed before and after read the same (tests/test_tags.py checks both ways).
"""

from __future__ import annotations

import hashlib
import hmac

from itsdangerous import TimestampSigner
from itsdangerous.signer import HMACAlgorithm

__all__ = ["PreparedSigner"]


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
