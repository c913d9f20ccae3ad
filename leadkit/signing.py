"""itsdangerous' timed serializer, prepared once: the same signatures, for less work per cookie or token.

``itsdangerous.URLSafeTimedSerializer`` makes a new signer for every ``dumps`` and ``loads``, and its
``TimestampSigner`` derives its key from the secret and the salt at every signature and checks it
through ``hmac.new`` (a Python object per call); the tag cookie, the form token and the lead cookie
are signed or checked on many requests. :class:`PreparedSerializer` makes its signer once, a
:class:`PreparedSigner` (unless given another), which derives the key once and signs from an HMAC
keyed once (a copy of it per signature, in C): the bytes are itsdangerous' own, so cookies and tokens signed before
and after read the same (tests/test_tags.py checks both ways).

It does not try to compress a payload shorter than :data:`COMPRESS_FROM` bytes of JSON, which
itsdangerous does for every payload: ``zlib.compress`` sets up 256 KB of deflate state each time
(a fresh ``mmap`` from the C library: 50 to 90 µs on this machine, most of what setting a tag
cookie cost), to save a few bytes of a short cookie when it saves any. Such a payload is signed
uncompressed, which itsdangerous writes too when zlib does not make it shorter, and reads either way.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import zlib
from typing import Any, cast

from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import int_to_bytes
from itsdangerous.serializer import Serializer
from itsdangerous.signer import HMACAlgorithm, Signer

__all__ = ["COMPRESS_FROM", "CompactJSON", "PreparedSerializer", "PreparedSigner"]

#: A payload's JSON from this many bytes on is compressed when zlib makes it shorter, as itsdangerous does.
COMPRESS_FROM = 512


class _PreparedHMAC(HMACAlgorithm):
    """itsdangerous' HMAC from an HMAC keyed once per key, copied for each value: the key's pads are not
    worked out again for every signature (``hmac.new`` per call did, in a Python object)."""

    def __init__(self, digest_method: Any = None) -> None:
        super().__init__(digest_method)
        self._keyed: dict[bytes, hmac.HMAC] = {}

    def get_signature(self, key: bytes, value: bytes) -> bytes:
        keyed = self._keyed.get(key)
        if keyed is None:
            if len(self._keyed) >= 8:  # a signer has one key, and derives another only when asked to
                self._keyed.clear()
            keyed = self._keyed[key] = hmac.new(key, digestmod=self.digest_method)
        mac = keyed.copy()
        mac.update(value)
        return mac.digest()


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _base64(data: bytes) -> bytes:
    """itsdangerous' ``base64_encode`` of bytes (URL-safe, no padding), in one pass."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=")


class PreparedSigner(TimestampSigner):
    """itsdangerous' ``TimestampSigner``, the same bytes, with the key derived once, not per signature."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("algorithm", _PreparedHMAC(hashlib.sha1))
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._key = super().derive_key()

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        return self._key if secret_key is None else super().derive_key(secret_key)


class CompactJSON:
    """itsdangerous' JSON (no spaces, not ASCII-escaped) from one encoder made once: ``json.dumps`` with
    other than its default arguments makes a new encoder at every call."""

    _encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)

    @staticmethod
    def dumps(obj: object) -> str:
        return CompactJSON._encoder.encode(obj)

    @staticmethod
    def loads(text: str | bytes) -> Any:
        return json.loads(text)


class PreparedSerializer(URLSafeTimedSerializer):
    """itsdangerous' ``URLSafeTimedSerializer`` whose signer for its own salt is made once (it was made
    for every ``dumps`` and ``loads``); a :class:`PreparedSigner` unless ``signer=`` names another, and
    :class:`CompactJSON` unless ``serializer=`` does."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("signer", PreparedSigner)
        kwargs.setdefault("serializer", CompactJSON)
        super().__init__(*args, **kwargs)
        self._prepared = super().make_signer()
        kind = type(self._prepared)
        # Whether dumps may sign in one pass: a PreparedSigner that signs as itsdangerous does.
        self._one_pass = (isinstance(self._prepared, PreparedSigner) and kind.sign is TimestampSigner.sign
                          and kind.get_signature is Signer.get_signature and self._prepared.sep == b".")

    def make_signer(self, salt: str | bytes | None = None) -> Signer:
        return self._prepared if salt is None or salt == self.salt else super().make_signer(salt)

    def dumps(self, obj: Any, salt: str | bytes | None = None) -> str:
        """itsdangerous' ``dumps``, the same bytes; for its own salt with a :class:`PreparedSigner` that
        signs as itsdangerous does (its clock may differ), in one pass: itsdangerous goes through a
        dozen calls, each checking its argument is bytes."""
        if not self._one_pass or (salt is not None and salt != self.salt):
            return super().dumps(obj, salt)
        signer = cast(PreparedSigner, self._prepared)  # so _one_pass says
        value = self.dump_payload(obj) + b"." + _base64(int_to_bytes(signer.get_timestamp()))
        signature = signer.algorithm.get_signature(signer.derive_key(), value)
        return (value + b"." + _base64(signature)).decode("ascii")

    def dump_payload(self, obj: Any) -> bytes:
        """itsdangerous' URL-safe payload; a short one is not offered to zlib (see :data:`COMPRESS_FROM`)."""
        json = Serializer.dump_payload(self, obj)  # the JSON, as bytes
        if len(json) >= COMPRESS_FROM:  # from here on, itsdangerous' own rule
            compressed = zlib.compress(json)
            if len(compressed) < len(json) - 1:
                return b"." + _base64(compressed)
        return _base64(json)
