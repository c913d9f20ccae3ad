"""The lead call to the network: keep-alive connections, one deadline, and an answer whatever happens.

:class:`NetworkClient` sends a lead payload for the configured role with a
form-encoded body in PHP bracket keys, over keep-alive connections (:class:`~leadkit.wire.Connections`),
the whole exchange bounded by ``network.timeout`` (:mod:`leadkit.wire`), and
returns an :class:`~leadkit.answer.Answer` (:func:`~leadkit.answer.classify`).
It never raises. The key rides in the query string as the API demands, so it
is scrubbed from every text this module produces and from urllib3's debug log,
as it is and percent-encoded (``%2D`` or ``%2d`` for ``-``, ``+`` for a space).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import replace
from typing import Any, Mapping

from .answer import Answer, classify
from .config import NetworkConfig
from .logs import logger
from .payload import encode_form
from .wire import Connections, Exchange, WireError, get_within, post_within

__all__ = ["NetworkClient", "mask_in_logs"]

_MAX_BODY = 64 * 1024
#: A status listing of 50 leads with every field the documents show is some 50 KB.
_MAX_READ = 1024 * 1024

log = logger("leadkit.network")


class NetworkClient:
    """Sends lead payloads to the network for one configured role and dialect."""

    def __init__(self, config: NetworkConfig, http: Connections | None = None,
                 user_agent: str = "leadkit") -> None:
        self.config = config
        self.url = config.call_url()
        self._own = http is None
        self.http = http or Connections(user_agent)
        _KeyScrubber.install(config.key)

    def send(self, payload: Mapping[str, Any]) -> Answer:
        """Make the call, all of it within ``network.timeout``; never raises, whatever the network
        or the wire does: every failure is a retryable :class:`Answer`."""
        started = time.monotonic()
        try:
            exchange = post_within(self.http, self.url, seconds=self.config.timeout, limit=_MAX_BODY,
                                   params={"id": self.config.key}, data=encode_form(payload),
                                   redact=self.config.key)
            answer = replace(classify(exchange.status, exchange.headers, exchange.body), resent=exchange.resent)
        except WireError as exc:
            detail = {"timeout": f"no complete answer from {self.url} within {self.config.timeout:g} s",
                      "encoding": f"the answer from {self.url} could not be decoded: {exc.reason}",
                      }.get(exc.kind, f"could not reach {self.url}: {exc.reason}")
            answer = Answer("retryable", error=exc.kind, detail=detail)
        except Exception as exc:  # a bug of ours must not cost the lead: it stays pending and is retried
            log.exception("the lead call to %s failed inside leadkit", self.url)
            answer = Answer("retryable", error="internal", detail=f"leadkit failed during the call: "
                                                                  f"{type(exc).__name__}")
        return self._scrubbed(replace(answer, elapsed=time.monotonic() - started))

    def read(self, call: str, params: Mapping[str, str]) -> Exchange:
        """A read-only call (``wm/lead``, ``ext/list``...) with the key, all of it within
        ``network.timeout``; :class:`~leadkit.wire.WireError` (its reason without the key) when no
        complete answer came."""
        url = f"{self.config.api}/{call}.json"
        return get_within(self.http, url, seconds=self.config.timeout, limit=_MAX_READ,
                          params={"id": self.config.key, **params}, redact=self.config.key)

    def _scrubbed(self, answer: Answer) -> Answer:
        """The answer without the key in any of its texts: a network may echo it ("The key ... is not
        valid", an error page quoting the URL), and these texts reach pages, logs and the journal."""
        def clean(text: str | None) -> str | None:
            return None if text is None else self.scrub(text)
        return replace(answer, message=clean(answer.message), info=clean(answer.info), url=clean(answer.url),
                       detail=self.scrub(answer.detail))

    def scrub(self, text: str) -> str:
        """The text with the key, as it is or percent-encoded, replaced by ``***``."""
        return _KeyScrubber.mask(text)

    def close(self) -> None:
        if self._own:
            self.http.close()


def mask_in_logs(secret: str) -> None:
    """Mask ``secret`` (as it is or percent-encoded) in urllib3's debug lines, as the network key is:
    for a platform's token that rides in a query string."""
    _KeyScrubber.install(secret)


class _KeyScrubber(logging.Filter):
    """Masks network keys in urllib3's debug lines, which quote the request path with ``?id=KEY``:
    the key as it is, or percent-encoded as a query string carries it (any character, either
    hex case, ``+`` for a space)."""

    _keys: set[str] = set()
    _pattern: re.Pattern[str] | None = None
    _installed = False
    _lock = threading.Lock()

    @classmethod
    def install(cls, key: str) -> None:
        with cls._lock:
            if not cls._installed:
                logging.getLogger("urllib3.connectionpool").addFilter(cls())
                cls._installed = True
            if key and key not in cls._keys:
                cls._keys.add(key)
                # the longest first: a key that holds another is masked whole
                cls._pattern = re.compile("|".join(_spellings(k) for k in sorted(cls._keys, key=len, reverse=True)),
                                          re.IGNORECASE)

    @classmethod
    def mask(cls, text: str) -> str:
        """``text`` with every installed key, however spelt, replaced by ``***``."""
        pattern = cls._pattern
        return pattern.sub("***", text) if pattern is not None else text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the format: logging's handlers report that themselves
            return True
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


def _spellings(key: str) -> str:
    """A pattern for ``key`` with each character as it is or percent-encoded (``+`` for a space)."""
    def char(c: str) -> str:
        encoded = "".join(f"%{byte:02x}" for byte in c.encode("utf-8", "surrogatepass"))
        return f"(?:{re.escape(c)}|{re.escape(encoded)}{'|[+]' if c == ' ' else ''})"
    return "".join(char(c) for c in key)
