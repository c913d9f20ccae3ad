"""How a setting is declared and checked: the rules, :func:`setting`, :class:`Section` and :class:`Constraint`.

:mod:`leadkit.config` declares each setting once, as a field of its section: ``role: str =
setting(choice(ROLES), "leadkit.E012", "who you are to the network", default="wm")`` is the field and
its default, the rule that checks a value and names the fix, the id of its problems and its line in
the README. A section is checked whenever one is made, from a file or in Python: a rule returns the
value normalized (a tuple, a resolved path) and accepts what it returns.
"""

from __future__ import annotations

import difflib
import functools
import ipaddress
import os
import re
import sys
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar, overload
from urllib.parse import urlsplit

from .errors import ConfigError, Problem

if sys.version_info >= (3, 11):
    from typing import dataclass_transform
else:  # pragma: no cover - 3.10: the decorator only informs type checkers
    def dataclass_transform(**_: object) -> Callable[[type], type]:
        return lambda cls: cls

__all__ = ["FIELD_VALUE", "FLAG", "ORIGIN", "Constraint", "Invalid", "Rule", "Section", "Setting", "check", "choice",
           "did_you_mean", "http_url", "identifier", "items", "kept", "label", "location", "networks", "number", "region",
           "secret_text", "setting", "shown", "table", "text", "valid"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
D = TypeVar("D")
N = TypeVar("N", int, float)
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
NEW_SECRET = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


class Invalid(Exception):
    """A refused value: ``text`` follows the key in the message, ``value`` is kept in the problem,
    ``sub`` narrows the key (``offer.fields`` and ``base``: ``offer.fields.base``)."""

    def __init__(self, text: str, value: object = None, sub: str = "") -> None:
        super().__init__(text)
        self.text, self.value, self.sub = text, value, sub

    def problem(self, key: str, id: str, secret: bool = False) -> Problem:
        key += f".{self.sub}" if self.sub else ""
        return Problem(key, f"{key} {self.text}", id, None if secret else self.value)


#: A refused text longer than this is not repeated in its problem: it may be a token in the wrong place.
_LONGEST_SHOWN = 40


def shown(value: object) -> str:
    """A refused value as its problem quotes it; a long text is not repeated (a token pasted into the
    wrong setting, like a Conversions API token into the pixel id, must not reach a log)."""
    if isinstance(value, str) and len(value) > _LONGEST_SHOWN:
        return f"a text of {len(value)} characters, not repeated here"
    return repr(value)


def kept(value: object) -> object:
    """A refused value as its problem keeps it: None for a long text (:func:`shown`)."""
    return None if isinstance(value, str) and len(value) > _LONGEST_SHOWN else value


class Rule(Generic[T_co]):
    """``check`` returns a value normalized, or raises ValueError, which reads ``<key> <fix> (got
    <value>)``, or :class:`Invalid` to say more. A secret, also read from the environment variable
    ``env``, is never shown nor kept."""

    def __init__(self, fix: str, check: Callable[[object, Path], T_co], env: str | None = None) -> None:
        self.fix, self.check, self.env = fix, check, env

    def __call__(self, value: object, base: Path) -> T_co:
        """The value normalized; ``base`` is the folder relative paths start from."""
        try:
            return self.check(value, base)
        except ValueError:
            raise Invalid(f"{self.fix} (got {shown(value)})", kept(value)) from None


# -- rules ----------------------------------------------------------------------------


def valid(fix: str, kind: type[T], ok: Callable[[T], object], normal: Callable[[T], T] | None = None) -> Rule[T]:
    """A value of ``kind`` (not a bool for another kind) that passes ``ok``, normalized by ``normal``."""
    def check(value: object, base: Path) -> T:
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool) or not ok(value):
            raise ValueError
        return normal(value) if normal else value
    return Rule(fix, check)


FLAG = valid("must be true or false", bool, lambda value: True)


def choice(options: Sequence[str]) -> Rule[str]:
    return valid(f"must be one of {', '.join(options)}", str, lambda value: value in options)


def text(fix: str = "must be text", pattern: str = "(?s:.*)", *, refused: Collection[str] = (),
         lower: bool = False) -> Rule[str]:
    """Text all of which matches ``pattern``, and none of ``refused``."""
    return valid(fix, str, lambda value: value not in refused and re.fullmatch(pattern, value),
                 str.lower if lower else None)


def region(fix: str = "", *, lower: bool = False) -> Rule[str]:
    """A two-letter country code phone numbers are known for."""
    return valid(fix, str, lambda value: len(value) == 2 and value.upper() in _phone_regions(),
                 str.lower if lower else str.upper)


@functools.cache
def _phone_regions() -> frozenset[str]:
    import phonenumbers  # when a config is read, not with leadkit (a tenth of its import time)

    return frozenset(phonenumbers.SUPPORTED_REGIONS)


def number(kind: type[N], low: float, high: float, fix: str = "", *, above: bool = False) -> Rule[N]:
    """A number of ``kind`` (``int`` refuses fractions) from ``low`` (excluded when ``above``) to ``high``."""
    def check(value: object, base: Path) -> N:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high \
                or (above and value == low) or kind(value) != value:
            raise ValueError
        return kind(value)
    fix = fix or f"must be a {'whole ' if kind is int else ''}number from {{low}} to {{high}}"
    return Rule(fix.format(low=low, high=high), check)


def identifier(fix: str) -> Rule[int]:
    """A positive whole number, or its digits as text (``"217"``)."""
    def check(value: object, base: Path) -> int:
        digits = value.strip() if isinstance(value, str) else ""
        given = int(digits) if digits.isascii() and digits.isdigit() else value
        if isinstance(given, bool) or not isinstance(given, int) or given < 1:
            raise ValueError
        return given
    return Rule(fix, check)


def label(fix: str) -> Rule[str]:
    """Text or a whole number, as text without surrounding spaces."""
    def check(value: object, base: Path) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
            raise ValueError
        return str(value).strip()
    return Rule(fix, check)


def secret_text(env: str, what: str, *, min_length: int = 1, token: bool = False) -> Rule[str]:
    """Text also read from the environment variable ``env``; a problem gives its length, never its
    value. A ``token`` loses surrounding spaces and may have none inside."""
    def check(value: object, base: Path) -> str:
        given = value.strip() if token and isinstance(value, str) else value
        if not isinstance(given, str) or not given:
            raise Invalid(f"is missing: set it in the file or in the environment variable {env}: {what}")
        if len(given) < min_length:
            raise Invalid(f"is too short ({len(given)} characters): use at least {min_length} random characters "
                          f"({NEW_SECRET})")
        if token and any(c.isspace() or ord(c) < 32 for c in given):
            raise Invalid(f"must not contain spaces or control characters (got a value of {len(given)} characters)")
        return given
    return Rule("", check, env)


def http_url(fix: str) -> Rule[str]:
    """An http(s) URL with a host, without its trailing slash. One with a query, a fragment or user
    info is not echoed: it may carry a key (``?id=``) or a password."""
    def check(value: object, base: Path) -> str:
        if isinstance(value, str) and is_http_url(value):
            return value.rstrip("/")
        if isinstance(value, str) and re.search(r"[?#@]", value):
            raise Invalid(f"{fix} (got a URL with a query string or user info; the key belongs in network.key)")
        raise ValueError
    return Rule(fix, check)


#: ``scheme://host[:port]`` of a web site, the host lower-cased.
ORIGIN = valid("must be an origin", str, lambda value: is_http_url(value) and urlsplit(value).path in ("", "/"),
               lambda value: f"{urlsplit(value).scheme}://{urlsplit(value).netloc.lower()}")


def location(fix: str, *, folder: bool = False) -> Rule[Path]:
    """A path, resolved from ``base``; an existing folder when ``folder``."""
    def check(value: object, base: Path) -> Path:
        if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
            raise ValueError
        path = (base / value).resolve()
        if folder and not path.is_dir():
            raise Invalid(f"names the folder {str(path)!r}, which does not exist", value)
        return path
    return Rule(fix, check)


def items(item: Rule[T], fix: str, *, nonempty: bool = False) -> Rule[tuple[T, ...]]:
    """A list whose items each pass ``item``, as a tuple without repeats."""
    def check(value: object, base: Path) -> tuple[T, ...]:
        if not isinstance(value, (list, tuple)) or (nonempty and not value):
            raise ValueError
        return tuple(dict.fromkeys(item.check(each, base) for each in value))
    return Rule(fix, check)


def networks(fix: str, named: Mapping[str, Sequence[str]]) -> Rule[tuple[IPNetwork, ...]]:
    """IP networks (``"10.0.0.0/8"``), and ``named`` lists of them (``"cloudflare"``)."""
    def check(value: object, base: Path) -> tuple[IPNetwork, ...]:
        if not isinstance(value, (list, tuple)) or any(isinstance(each, int) for each in value):
            raise ValueError  # ip_network() would take a number for an address
        listed = (n for each in value for n in named.get(str(each).lower(), [each]))
        return tuple(dict.fromkeys(ipaddress.ip_network(n, strict=False) for n in listed))
    return Rule(fix, check)


def table(name: Rule[str], item: Rule[T], fix: str) -> Rule[dict[str, T]]:
    """A table whose names pass ``name`` and whose values pass ``item``; a bad value is named by its key,
    as is a name that ``name`` normalizes like another one (lower-cased) with a different value."""
    def check(value: object, base: Path) -> dict[str, T]:
        if not isinstance(value, Mapping):
            raise ValueError
        checked: dict[str, T] = {}
        for key, each in value.items():
            try:
                normal, checked_item = name.check(key, base), item(each, base)
            except Invalid as bad:
                raise Invalid(bad.text, bad.value, sub=key) from None
            if normal in checked and checked[normal] != checked_item:  # names normalized alike ("Tel", "tel")
                raise Invalid(f"names {normal!r} twice, with different values: keep one", each, sub=key)
            checked[normal] = checked_item
        return checked
    return Rule(fix, check)


def _field_value(value: object, base: Path, depth: int = 0) -> object:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return value
    if depth < 2 and isinstance(value, list):
        return [_field_value(each, base, depth + 1) for each in value]
    if depth < 2 and isinstance(value, Mapping) and all(isinstance(key, str) for key in value):
        return {key: _field_value(each, base, depth + 1) for key, each in value.items()}
    raise ValueError


#: A static field's value: text, a number, or a list or table of them (nested twice at most).
FIELD_VALUE = Rule("must be text, a number, or (moe items/params) a list or table of them", _field_value)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """What follows a misspelt name in its problem: the closest of ``choices``, else all of them."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(choices)}"


def is_http_url(value: str) -> bool:
    """An absolute http(s) URL with a host and a valid port, and no query, fragment or user info."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.query and not parts.fragment \
        and "@" not in parts.netloc


# -- settings, sections and the rules between them -------------------------------------------


@dataclass(frozen=True, eq=False)
class Setting:
    """A row of the table: ``section.key``, its rule, its default (``MISSING``: required), the id of
    its problems and its line in the README."""

    section: str
    key: str
    rule: Rule[object]
    default: object
    id: str
    doc: str

    @property
    def name(self) -> str:
        return f"{self.section}.{self.key}"


@overload
def setting(rule: Rule[T], id: str, doc: str) -> T: ...
@overload
def setting(rule: Rule[T], id: str, doc: str, *, default: D) -> T | D: ...
def setting(rule: Rule[object], id: str, doc: str, *, default: object = MISSING) -> Any:
    """A field of a :class:`Section`: checked by ``rule``, ``default`` when not given (required
    without one), its problems named ``id``, ``doc`` its line in the README."""
    metadata = {"setting": (rule, default, id, doc)}
    if isinstance(default, dict):
        return field(default_factory=dict, metadata=metadata)
    return field(default=default, repr=rule.env is None, metadata=metadata)


@dataclass_transform(frozen_default=True, field_specifiers=(setting,))
class Section:
    """A ``[section]``: a frozen dataclass whose fields are declared with :func:`setting`. Making one
    checks each field by its rule (a relative path from the working folder) and keeps the values
    normalized, or raises :class:`ConfigError` listing every problem. ``section`` is its name
    (``"network"``), which leaves ``name`` to a setting (``landing.name``)."""

    section: ClassVar[str]
    settings: ClassVar[tuple[Setting, ...]]
    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    def __init_subclass__(cls, section: str) -> None:
        super().__init_subclass__()
        dataclass(frozen=True)(cls)
        cls.section = section
        cls.settings = tuple(Setting(section, f.name, *f.metadata["setting"]) for f in fields(cls))

    def __post_init__(self) -> None:
        values, problems = check(self.settings, {s.name: getattr(self, s.key) for s in self.settings}, Path.cwd())
        if problems:
            raise ConfigError(problems)
        for s in self.settings:
            object.__setattr__(self, s.key, values[s.name])


def check(settings: Iterable[Setting], raw: Mapping[str, object], base: Path) -> tuple[dict[str, Any], list[Problem]]:
    """Each setting's value (``raw``, by dotted name; else its default) checked by its rule: the good
    ones normalized (by dotted name, each of its field's type), and a problem for each bad one."""
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for s in settings:
        value = raw.get(s.name, None if s.default is MISSING else s.default)
        try:
            values[s.name] = None if value is None and s.default is None else s.rule(value, base)
        except Invalid as bad:
            problems.append(bad.problem(s.name, s.id, secret=s.rule.env is not None))
    return values, problems


@dataclass(frozen=True)
class Constraint:
    """A rule between settings, with its own id: ``check`` gets the values of ``keys`` (once each is
    good) and yields what is wrong, filed under the first key, or under the name ``names`` gives it
    (a rule checked for each ``[[landing]]``: ``landing.path`` is filed as ``landing[sk].path``)."""

    id: str
    keys: tuple[str, ...]
    check: Callable[..., Iterable[Invalid]]

    def problems(self, values: Mapping[str, object], names: Mapping[str, str] | None = None) -> list[Problem]:
        if not all(key in values for key in self.keys):
            return []
        under = (names or {}).get(self.keys[0], self.keys[0])
        return [bad.problem(under, self.id) for bad in self.check(*(values[key] for key in self.keys))]
