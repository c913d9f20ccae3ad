"""A lead: one order with everything known about the visit that produced it."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Mapping

from .form import Order
from .visitor import Visitor

__all__ = ["Lead", "new_lead_id"]


def new_lead_id() -> str:
    """A unique, time-ordered id of digits only (it fits a signed 64-bit integer).

    Digits, because engines store the agency order id (``extu``/``id``) in
    numeric columns as often as in text ones; microseconds since the epoch
    times 100 plus two random digits keep ids unique across processes.
    """
    return str(time.time_ns() // 1000 * 100 + secrets.randbelow(100))


@dataclass(frozen=True)
class Lead:
    """An order plus the visitor and tags it came with; ``id`` is leadkit's own."""

    order: Order
    visitor: Visitor
    tags: Mapping[str, str] = field(default_factory=dict)
    id: str = field(default_factory=new_lead_id)
    created: float = field(default_factory=time.time)
