"""The lead call to the network: one reused session, one deadline, and an answer whatever happens.

:class:`NetworkClient` sends a lead payload for the configured role with a
form-encoded body in PHP bracket keys, over one keep-alive ``requests.Session``,
the whole exchange bounded by ``network.timeout`` (:mod:`leadkit.wire`), and
returns an :class:`~leadkit.answer.Answer` (:func:`~leadkit.answer.classify`).
It never raises. The key rides in the query string as the API demands, so it
is scrubbed from every text this module produces and from urllib3's debug log.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any, Mapping

import requests

from .answer import Answer, classify
from .config import NetworkConfig
from .payload import encode_form
from .wire import WireError, post_within, watch_session

__all__ = ["NetworkClient"]

_MAX_BODY = 64 * 1024

log = logging.getLogger("leadkit.network")


class NetworkClient:
    """Sends lead payloads to the network for one configured role and dialect."""

    def __init__(self, config: NetworkConfig, session: requests.Session | None = None,
                 user_agent: str = "leadkit") -> None:
        self.config = config
        self.url = config.call_url()
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = user_agent
        watch_session(self.session, self.url)
        _KeyScrubber.install(config.key)

    def send(self, payload: Mapping[str, Any]) -> Answer:
        """Make the call, all of it within ``network.timeout``; never raises, whatever the network
        or the wire does: every failure is a retryable :class:`Answer`."""
        started = time.monotonic()
        try:
            exchange = post_within(self.session, self.url, seconds=self.config.timeout, limit=_MAX_BODY,
                                   params={"id": self.config.key}, data=encode_form(payload),
                                   redact=self.config.key)
            answer = classify(exchange.status, exchange.headers, exchange.body)
        except WireError as exc:
            detail = {"timeout": f"no complete answer from {self.url} within {self.config.timeout:g} s",
                      "encoding": f"the answer from {self.url} could not be decoded: {exc.reason}",
                      }.get(exc.kind, f"could not reach {self.url}: {exc.reason}")
            answer = Answer("retryable", error=exc.kind, detail=detail)
        except Exception as exc:  # a bug of ours must not cost the lead: it stays pending and is retried
            log.exception("the lead call to %s failed inside leadkit", self.url)
            answer = Answer("retryable", error="internal", detail=f"leadkit failed during the call: "
                                                                  f"{type(exc).__name__}")
        return replace(answer, elapsed=time.monotonic() - started)

    def scrub(self, text: str) -> str:
        """The text with the key replaced by ``***``."""
        return text.replace(self.config.key, "***") if self.config.key else text

    def close(self) -> None:
        self.session.close()


class _KeyScrubber(logging.Filter):
    """Masks network keys in urllib3's debug lines, which quote the request path with ``?id=KEY``."""

    _keys: set[str] = set()
    _installed = False

    @classmethod
    def install(cls, key: str) -> None:
        cls._keys.add(key)
        if not cls._installed:
            logging.getLogger("urllib3.connectionpool").addFilter(cls())
            cls._installed = True

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(key in message for key in self._keys):
            for key in self._keys:
                message = message.replace(key, "***")
            record.msg, record.args = message, ()
        return True
