"""Who is ordering: the client's IP address, user agent and mobile flag.

Pure functions over plain values. The client IP follows the same rule as
werkzeug's ``ProxyFix``: with ``trusted_proxies = N`` the N-th address from the
right of ``X-Forwarded-For`` is the client, because only the last N hops were
written by proxies we run. The left-most entry is whatever the visitor chose
to send and is never trusted.

.. warning:: Setting ``trusted_proxies`` higher than the number of proxies
   actually in front of leadkit lets any visitor choose the IP the network
   sees (and so dodge its fraud checks).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Sequence, Union

from .mobile import is_mobile_agent

__all__ = ["Visitor", "client_ip", "is_mobile", "normalize_ip", "MAX_USER_AGENT_LENGTH"]

MAX_USER_AGENT_LENGTH = 512
UNKNOWN_IP = "0.0.0.0"
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


@dataclass(frozen=True)
class Visitor:
    """The facts about the customer's browser that go with a lead."""

    ip: str
    user_agent: str
    mobile: bool


def normalize_ip(value: str | None) -> str | None:
    """The address in canonical form, or None when it is not an IP address.

    Accepts ``[v6]`` brackets and ``v4:port``; IPv4-mapped IPv6 becomes IPv4.
    """
    if not value:
        return None
    text = value.strip()
    if text.startswith("[") and "]" in text:
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # an IPv4 address with a port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])  # no IPv6 zone ids: they mean nothing to the network
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return str(address)


def client_ip(remote_addr: str | None, forwarded_for: str | None, trusted_proxies: int,
              header_ip: str | None = None, trusted_networks: Sequence[IPNetwork] = ()) -> str:
    """The customer's address: ``REMOTE_ADDR``, or the trusted hop of ``X-Forwarded-For``;
    then ``header_ip`` (from ``site.ip_header``, e.g. ``CF-Connecting-IP``) when that
    address lies in ``trusted_networks`` (the CDN's edge), and never otherwise."""
    peer = _peer(remote_addr, forwarded_for, trusted_proxies)
    if header_ip and trusted_networks and _in_networks(peer, trusted_networks):
        return normalize_ip(header_ip) or peer
    return peer


def _peer(remote_addr: str | None, forwarded_for: str | None, trusted_proxies: int) -> str:
    direct = normalize_ip(remote_addr) or UNKNOWN_IP
    if trusted_proxies <= 0 or not forwarded_for:
        return direct
    hops = [hop.strip() for hop in forwarded_for.split(",")]
    if len(hops) < trusted_proxies:
        return direct
    return normalize_ip(hops[-trusted_proxies]) or direct


def _in_networks(address: str, networks: Sequence[IPNetwork]) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip.version == net.version and ip in net for net in networks)


def is_mobile(user_agent: str | None) -> bool:
    """True for phones and tablets (:mod:`leadkit.mobile`); never raises, whatever the string."""
    if not user_agent:
        return False
    return is_mobile_agent(user_agent[:MAX_USER_AGENT_LENGTH])


def make_visitor(remote_addr: str | None, forwarded_for: str | None, user_agent: str | None,
                 trusted_proxies: int, header_ip: str | None = None,
                 trusted_networks: Sequence[IPNetwork] = ()) -> Visitor:
    """Bundle the three facts; the user agent is cleaned and capped."""
    ua = "".join(ch for ch in (user_agent or "") if ch.isprintable())[:MAX_USER_AGENT_LENGTH]
    ip = client_ip(remote_addr, forwarded_for, trusted_proxies, header_ip, trusted_networks)
    return Visitor(ip=ip, user_agent=ua, mobile=is_mobile(ua))
