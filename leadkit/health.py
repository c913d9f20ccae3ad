"""``GET /leadkit/health``: whether the site can take orders, for load balancers, and the counts for the operator.

Anyone gets ``{"status": ...}``:

- ``ok`` (200);
- ``degraded`` (200): the network refused leads because of the site's configuration
  (a wrong key, offer or flow...: the counters named ``site_problem_<code>``) within the
  last :data:`RECENT` seconds; the log says what to fix;
- ``unavailable`` (503): the lead journal cannot be written, so no order is kept for a retry.

A request with ``Authorization: Bearer <site.health_token>`` also gets the version, the role,
the leads by state, the age of the oldest pending lead and the counters (and, when the journal
cannot be written, why), ``stages`` (the delivered leads by the network's last stage) and
``outbox`` (the postbacks and conversion events by state); when the journal holds leads of more
than one landing, ``landings``: the leads by state for each landing, by name (the default landing
as ``-``). Without
``site.health_token`` nobody does; a wrong token gets 401.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Any

from .errors import JournalError
from .journal import Journal, landing_label

__all__ = ["Health", "RECENT", "SITE_PROBLEM", "check_health", "token_access"]

#: Seconds a refusal because of the site's configuration keeps the status ``degraded``.
RECENT = 3600.0
#: The prefix of the counters of leads refused because of the site's configuration.
SITE_PROBLEM = "site_problem_"


@dataclass(frozen=True)
class Health:
    """The status for everyone, the HTTP status, and the details for the operator."""

    status: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def code(self) -> int:
        return 503 if self.status == "unavailable" else 200


def check_health(journal: Journal, now: float) -> Health:
    """Ask the journal whether it can be written and what it holds. Never raises."""
    problem = _unwritable(journal)
    try:
        stats = journal.stats()
    except Exception as exc:  # the journal cannot even be read
        return Health("unavailable", {"problem": problem or _problem(exc)})
    details = {"leads": stats["counts"], "oldest_pending_age": stats["oldest_pending_age"],
               "counters": stats["counters"]}
    if "stages" in stats:  # a journal of one's own may not count them
        details["stages"] = stats["stages"]
    details.update(_outbox(journal))
    landings = stats.get("landings") or {}  # a journal of one's own may not count by landing
    if len(landings) > 1:
        details["landings"] = {landing_label(name): counts for name, counts in landings.items()}
    if problem:
        return Health("unavailable", {**details, "problem": problem})
    return Health("degraded" if _refused_lately(journal, stats["counters"], now - RECENT) else "ok", details)


def _outbox(journal: Journal) -> dict[str, Any]:
    """The outbox's messages by state, when the journal counts them (a journal of one's own may not)."""
    try:
        return {"outbox": getattr(journal, "outbox_counts")()}
    except Exception:  # not counted by this journal, or not readable just now: left out
        return {}


def token_access(authorization: str | None, token: str | None) -> bool | None:
    """Whether the request may see the details: None when it sent no token (or the site has none
    to compare with), False for a wrong one, True for ``Bearer <token>``. Constant-time."""
    if not token or not authorization:
        return None
    scheme, _, given = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("utf-8", "replace"), token.encode("utf-8"))


def _refused_lately(journal: Journal, counters: dict[str, int], since: float) -> bool:
    """A lead created since ``since`` was refused with a code counted as the site's problem. Reads
    the journal only when such a counter exists at all."""
    codes = {name[len(SITE_PROBLEM):] for name, value in counters.items() if name.startswith(SITE_PROBLEM) and value}
    try:
        return bool(codes) and any(entry.error_code in codes for entry in journal.entries(state="rejected",
                                                                                           since=since))
    except Exception:  # the status stays as it was; check_health reports the journal itself
        return False


def _unwritable(journal: Journal) -> str | None:
    """Why the journal cannot be written, or None when it can."""
    try:
        return None if journal.writable() else "the lead journal cannot be written: the log says why"
    except Exception as exc:
        return _problem(exc)


def _problem(exc: Exception) -> str:
    if isinstance(exc, JournalError):
        return f"the lead journal {exc.path} cannot be used ({exc.reason})"
    return f"the lead journal failed ({type(exc).__name__})"
