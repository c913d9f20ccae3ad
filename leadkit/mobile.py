"""Whether a user agent is a phone's or a tablet's: the ``mobile`` flag of a lead.

The operating system is read with ``ua-parser`` 1.x (uap-core's regexes, the library
``user-agents`` is built on), its pure-Python resolver over lazily compiled regexes, the OS
regexes alone; a few words of the string settle what the OS does not (feature phones, Opera Mini,
Kindle, Windows RT). The rules are ``user-agents``' ``is_mobile or is_tablet``, which leadkit used
before, for the cases a landing meets.

Why not ``user-agents``: it parses all three of browser, OS and device with every regex compiled
up front, 0.4 to 3 ms for each new string, and its import alone took a quarter of a second. Why
not ``ua-parser``'s Rust resolver (``ua-parser-rs``): fast per string, but it builds every regex
at the first parse (about a second) and holds some 30 to 45 MB in each worker. Reading the OS
alone, lazily, holds about 5 MB. Pure; answers are cached per string.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

__all__ = ["is_mobile_agent"]

#: Systems that run on phones and tablets only (``user-agents``' mobile and touch systems, and newer ones).
_MOBILE_SYSTEMS = frozenset((
    "iOS", "Android", "Windows Phone", "Windows Phone OS", "Symbian OS", "Bada", "Windows CE", "Windows Mobile",
    "Maemo", "BlackBerry OS", "Firefox OS", "KaiOS", "MeeGo", "webOS", "Sailfish", "Ubuntu Touch", "HarmonyOS",
    "Series40", "Series60",
))
#: Words that make a string a phone's or a tablet's whatever its system reads as.
_MOBILE_WORDS = re.compile(r"iPhone;|iPad;|iPod|J2ME|MIDP|Opera Mini|Opera Mobi|IEMobile|Googlebot-Mobile|Kindle|"
                           r"\bSilk/|PlayBook|PlayStation Vita|BB10|Windows Phone|(?:NokiaBrowser.*Mobile)")
_parser: Any = None


@lru_cache(maxsize=4096)
def is_mobile_agent(user_agent: str) -> bool:
    """True for phones and tablets; never raises."""
    if _MOBILE_WORDS.search(user_agent):
        return True
    try:
        system = _operating_system(user_agent)
    except Exception:  # the parser's regexes are third-party: garbage must not cost a lead
        return False
    if system is None:
        return False
    family = system.family or ""
    return family in _MOBILE_SYSTEMS or (family == "Windows" and (system.major or "").startswith("RT"))


def _operating_system(user_agent: str) -> Any:
    global _parser
    if _parser is None:  # on the first order, not at import: a worker that takes none never loads it
        from ua_parser import Parser
        from ua_parser.basic import Resolver
        from ua_parser.loaders import load_lazy_builtins

        _parser = Parser(Resolver(load_lazy_builtins()))
    from ua_parser import Domain

    return _parser(user_agent, Domain.OS).os
