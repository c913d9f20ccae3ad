"""Who hears of a lead's events: the postbacks to trackers and the ad platforms' server-side events.

An event is ``lead`` (the network accepted the lead) or the stage it reached: ``hold``,
``approve``, ``cancel``, ``trash``. :class:`Announcer` turns one lead's event into the outbox's
messages: each ``[[postback]]`` that wants the event (:mod:`leadkit.postbacks`), and for ``lead``
and ``approve`` a Facebook and a TikTok event when ``[capi.facebook]`` / ``[capi.tiktok]`` are set
(:mod:`leadkit.capi`). Pure but for the clock; the journal writes the messages with what caused
them, and :mod:`leadkit.dispatch` sends them.
"""

from __future__ import annotations

import time
from typing import Callable, Mapping, Sequence

from .capi import FacebookConfig, TikTokConfig, facebook_message, tiktok_message
from .journal import Entry
from .journal_outbox import Message
from .postbacks import PostbackConfig, render

__all__ = ["Announcer"]


class Announcer:
    """The messages each event of a lead causes, for one configuration."""

    def __init__(self, postbacks: Sequence[PostbackConfig], *, facebook: FacebookConfig | None = None,
                 tiktok: TikTokConfig | None = None, currency: str = "USD", aliases: Mapping[str, str] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.postbacks = tuple(postbacks)
        self.facebook = facebook if facebook is not None and facebook.enabled else None
        self.tiktok = tiktok if tiktok is not None and tiktok.enabled else None
        self.currency = currency
        self.aliases = dict(aliases or {})
        self.clock = clock

    @property
    def silent(self) -> bool:
        """No one to tell: no postback and no platform."""
        return not self.postbacks and self.facebook is None and self.tiktok is None

    def messages(self, entry: Entry, event: str) -> list[Message]:
        """The messages ``event`` of ``entry`` causes (none for an event no one wants)."""
        now = self.clock()
        messages = [message for index, postback in enumerate(self.postbacks)
                    if (message := render(postback, index, entry, event, currency=self.currency, now=now,
                                          aliases=self.aliases)) is not None]
        if event in ("lead", "approve"):
            if self.facebook is not None:
                messages.append(facebook_message(self.facebook, entry, event, currency=self.currency, now=now))
            if self.tiktok is not None:
                messages.append(tiktok_message(self.tiktok, entry, event, currency=self.currency, now=now))
        return messages
