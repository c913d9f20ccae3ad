"""Every error leadkit raises on purpose: one base, :class:`LeadkitError`, and a subclass per kind.

Each carries what went wrong as attributes, so callers branch on data, not on
message text (the shape of itsdangerous' ``exc.py``). The messages are for
operators and developers; what a customer reads lives in :mod:`leadkit.texts`.
No error ever holds the network key or the site secret.

- :class:`ConfigError`: the configuration is unusable; ``problems`` lists
  each :class:`Problem` (key, value, message, stable id).
- :class:`FormError`: a posted body is not a form leadkit accepts (``status``: the 4xx to answer).
- :class:`TokenError`: a form token is forged or expired (``reason``).
- :class:`PhoneError`: what the customer typed is not a phone number to send (``reason``, ``region``).
- :class:`RateLimited`: a per-IP or per-phone limit was reached (``kind``, ``retry_after``).
- :class:`JournalError`: the lead journal cannot be opened or written (``path``, ``reason``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from .texts import english

__all__ = [
    "ConfigError",
    "FormError",
    "JournalError",
    "LeadkitError",
    "PhoneError",
    "Problem",
    "RateLimited",
    "TokenError",
]


class LeadkitError(Exception):
    """The base of every error leadkit raises on purpose: ``except LeadkitError`` catches them all."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the configuration.

    ``key`` is the dotted setting (``network.role``), or a section (``[foo]``)
    or None when the problem is the whole file; ``value`` is what was given
    (None for secrets, which are never repeated); ``message`` names the key,
    the value and the fix; ``id`` is stable (``leadkit.E003``), for Django's
    system checks and for searching the README.
    """

    key: str | None
    message: str
    id: str
    value: Any = field(default=None, repr=False)

    def __str__(self) -> str:
        return self.message


class ConfigError(LeadkitError, ValueError):
    """The configuration is unusable. ``problems`` lists every :class:`Problem` found at once;
    ``source`` names where the configuration came from (a file, ``settings.LEADKIT``)."""

    def __init__(self, problems: Sequence[Problem], source: str | None = None) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.source = source
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  - {p.message} [{p.id}]" for p in self.problems)
        super().__init__(f"leadkit configuration{where} has {len(self.problems)} problem(s):\n{lines}")

    @property
    def keys(self) -> tuple[str | None, ...]:
        """The keys named by the problems, in order."""
        return tuple(p.key for p in self.problems)


class FormError(LeadkitError, ValueError):
    """A posted body is not a form leadkit accepts; ``status`` is the 4xx to answer with, ``key`` and
    ``values`` the sentence to show (:mod:`leadkit.texts`; it names the field, never echoes a long
    value), ``message`` that sentence in English."""

    def __init__(self, key: str, status: int = 400, **values: str) -> None:
        self.key, self.values, self.status = key, values, status
        self.message = english(key, **values)
        super().__init__(self.message)


class TokenError(LeadkitError, ValueError):
    """A form token that cannot be trusted. ``reason``: ``forged`` or ``expired``."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"form token {reason}")


class PhoneError(LeadkitError, ValueError):
    """The text is not a phone number leadkit can send. ``reason``: ``empty``, ``invalid`` or
    ``country`` (then ``region`` is the number's country, which the offer does not take)."""

    def __init__(self, reason: str, region: str | None = None) -> None:
        self.reason = reason
        self.region = region
        super().__init__(f"phone number rejected: {reason}" + (f" (region {region})" if region else ""))


class RateLimited(LeadkitError):
    """A rate limit was reached: ``kind`` (``ip``, ``phone``) and ``retry_after``, the seconds
    until the oldest counted order leaves the window."""

    def __init__(self, kind: str, retry_after: float) -> None:
        self.kind = kind
        self.retry_after = retry_after
        super().__init__(f"too many orders for this {kind}; retry after {retry_after:.0f} s")


class JournalError(LeadkitError):
    """The lead journal at ``path`` cannot be opened or written; ``reason`` says why in a few words
    (``corrupt``, ``read-only``, ``locked``, ``disk full``, ``cannot open``...), ``fix`` what to do."""

    def __init__(self, path: str, reason: str, fix: str = "") -> None:
        self.path = path
        self.reason = reason
        self.fix = fix
        super().__init__(f"the lead journal {path!r} cannot be used ({reason})" + (f": {fix}" if fix else ""))
