"""Where the configuration comes from: the TOML file, the environment, keyword arguments; merged and checked.

Precedence, one rule for every key: a Python keyword argument, then the environment, then the
file, then the default. The environment supplies the secrets (``LEADKIT_KEY`` for
``network.key``, ``LEADKIT_SECRET`` for ``site.secret``, ``LEADKIT_HEALTH_TOKEN`` for
``site.health_token``) and the file's path (``LEADKIT_CONFIG``); a ``landing`` list given as an
argument replaces the file's ``[[landing]]`` tables.

What is given is checked against the settings table (:mod:`leadkit.config`, and
:mod:`leadkit.landings` for each ``[[landing]]``) before anything is made: every problem is reported
at once, unknown sections and keys with the closest known name, naming the key, the bad value and the
fix; secret values, and the values of unknown keys, are never repeated.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, replace
from pathlib import Path
from typing import Any, TypeVar

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

from .config import (CONSTRAINTS, FIELD_OF, SECTION_SETTINGS, SECTIONS, SETTINGS, Config, JournalConfig, OfferConfig,
                     postback_problems, problems_between)
from .postbacks import PostbackConfig
from .errors import ConfigError, Problem
from .landings import PLACE_KEYS, Landing, LandingConfig, landing_labels, problems_of_landings
from .settings import Section, Setting, check, did_you_mean

__all__ = ["config_from_mapping", "load_config", "load_journal_config", "load_section"]

S = TypeVar("S", bound=Section)

#: The ids of a section (or landing) that is not a table of keys, and of an unknown key.
_NOT_A_TABLE, _UNKNOWN_KEY = "leadkit.E008", "leadkit.E009"


def load_config(path: str | os.PathLike[str] | None = None, *, environ: Mapping[str, str] | None = None,
                **sections: Mapping[str, object] | Sequence[Mapping[str, object]] | None) -> Config:
    """Read, merge and validate the configuration.

    ``path`` (or ``LEADKIT_CONFIG``) names a TOML file; it may be omitted when
    keyword arguments give every required key. Keyword arguments are sections:
    ``load_config("leadkit.toml", network={"key": "..."}, site={"mount": "/lk"})``, and ``landing``
    a list of landings (``landing=[{"name": "sk", "path": "/sk/", "offer": 402}]``), which replaces
    the file's.
    """
    env = os.environ if environ is None else environ
    data, base_dir, source = _file(path, env)
    return config_from_mapping(data, environ=env, base_dir=base_dir, source=source, **sections)


def load_journal_config(path: str | os.PathLike[str] | None = None, *,
                        environ: Mapping[str, str] | None = None) -> JournalConfig:
    """The ``[journal]`` section alone, for reading the journal (``leadkit journal list``): the file
    is checked as :func:`load_config` checks it, but the network key and the site secret, which
    reading does not use, need not be given."""
    return load_section(path, JournalConfig, environ=environ)


def load_section(path: str | os.PathLike[str] | None, kind: type[S],
                 environ: Mapping[str, str] | None = None) -> S:
    """One section of the file (``LimitsConfig``...), checked as :func:`load_journal_config` checks the
    file: for commands that use it without the secrets."""
    env = os.environ if environ is None else environ
    data, base_dir, source = _file(path, env)
    values, _, _, _ = _checked(data, {}, env, base_dir or Path.cwd(), source, secrets=False)
    return kind(**{s.key: values.get(s.name, s.default) for s in kind.settings})  # a secret not given: its default


def config_from_mapping(data: Mapping[str, object], *, environ: Mapping[str, str] | None = None,
                        base_dir: Path | None = None, source: str | None = None,
                        **sections: Mapping[str, object] | Sequence[Mapping[str, object]] | None) -> Config:
    """Validate configuration given as nested mappings (a parsed file, Django settings); ``landing``
    is a list of them."""
    env = os.environ if environ is None else environ
    values, given, offer_given, postbacks = _checked(data, sections, env, base_dir or Path.cwd(), source)
    landings = tuple(Landing(**{key: own[f"landing.{key}"] for key in PLACE_KEYS},
                             offer=OfferConfig(**{s.key: own[f"offer.{s.key}"] for s in OfferConfig.settings}))
                     for own in given)
    parts: dict[str, Any] = {FIELD_OF.get(cls.section, cls.section): cls(**{s.key: values[s.name] for s in cls.settings})
                             for cls in SECTIONS if cls is not OfferConfig or offer_given or not landings}
    offer = parts.pop(OfferConfig.section, None) or landings[0].offer  # without [offer]: the first landing's
    return Config(**parts, offer=offer, source=source, landings=landings,
                  postbacks=tuple(PostbackConfig(**own) for own in postbacks))


def _checked(data: Mapping[str, object], sections: Mapping[str, object], env: Mapping[str, str], base: Path,
             source: str | None, *, secrets: bool = True
             ) -> tuple[dict[str, Any], list[dict[str, Any]], bool, list[dict[str, Any]]]:
    """Every setting given checked, and the rules between them: the sections' values by dotted name,
    each landing's (``landing.<key>``, ``offer.<key>``), whether ``[offer]`` was given, and each
    postback's values by key; or a ConfigError naming every problem. Without ``secrets``, the secrets
    are neither needed nor checked."""
    raw, given, posted, problems = _merge(data, sections, env)
    offer_given = any(name.startswith(f"{OfferConfig.section}.") for name in raw)
    # Without the secrets, a secret is checked only when given (journal.url, for the commands that read
    # the journal): the others are neither needed nor, missing, a problem.
    settings = [s for s in SECTION_SETTINGS if (secrets or s.rule.env is None or s.name in raw)
                and (offer_given or not given or s.section != OfferConfig.section)]
    values, bad = check(settings, raw, base)
    problems += bad + problems_between(values)
    landings, bad = _check_landings(given, values, offer_given, base)
    problems += bad
    postbacks, bad = _check_postbacks(posted, values, base)
    problems += bad
    if problems:
        raise ConfigError(problems, source)
    return values, landings, offer_given, postbacks


def _check_postbacks(given: Sequence[object], values: Mapping[str, Any],
                     base: Path) -> tuple[list[dict[str, Any]], list[Problem]]:
    """Each ``[[postback]]`` checked as a section is, its problems named ``postback[<n>].<key>``, and
    the rules of its macros with the tags: the postbacks' values by key, and the problems."""
    problems: list[Problem] = []
    postbacks: list[dict[str, Any]] = []
    for index, each in enumerate(given):
        where = f"postback[{index}]"
        checked, bad = _check_table(where, each, PostbackConfig.settings, base)
        problems += bad
        if checked is not None and not bad:
            own = {s.key: checked[f"{where}.{s.key}"] for s in PostbackConfig.settings}
            problems += postback_problems(index, own, values)
            postbacks.append(own)
    return postbacks, problems


def _check_table(where: str, each: object, settings: Sequence[Setting],
                 base: Path) -> tuple[dict[str, Any] | None, list[Problem]]:
    """One table of a list of tables (``[[landing]]``, ``[[postback]]``) checked as a section is, its
    keys named ``<where>.<key>``: the good values by that name (None: not a table), and the problems."""
    if not isinstance(each, Mapping):
        return None, [Problem(where, f"{where} must be a table of keys (got {type(each).__name__})", _NOT_A_TABLE)]
    keys = [s.key for s in settings]
    problems = [Problem(f"{where}.{key}", f"unknown key {where}.{key}{did_you_mean(str(key), keys)}", _UNKNOWN_KEY)
                for key in each if key not in keys]
    checked, bad = check([replace(s, section=where) for s in settings],
                         {f"{where}.{key}": value for key, value in each.items() if key in keys}, base)
    return checked, problems + bad


def _check_landings(given: Sequence[object], values: Mapping[str, Any], offer_given: bool,
                    base: Path) -> tuple[list[dict[str, Any]], list[Problem]]:
    """Each ``[[landing]]`` checked as a section is, its problems named ``landing[<label>].<key>``, the
    offer keys it does not give taken from ``[offer]``, and the rules between settings for each:
    the landings' values (by ``landing.<key>`` and ``offer.<key>``) and the problems."""
    labels = landing_labels([each.get("name") if isinstance(each, Mapping) else None for each in given])
    problems: list[Problem] = []
    landings: list[tuple[str, dict[str, Any], set[str]]] = []
    for called, each in zip(labels, given):
        where = f"landing[{called}]"
        checked, bad = _check_table(where, each, LandingConfig.settings, base)
        problems += bad
        if checked is None:
            continue
        own = {f"landing.{key}": checked[f"{where}.{key}"] for key in PLACE_KEYS if f"{where}.{key}" in checked}
        inherited = set()
        for s in OfferConfig.settings:
            name, value = f"offer.{s.key}", checked.get(f"{where}.{s.key}", MISSING)
            if value is MISSING:  # refused: a problem already
                continue
            if value is not None:
                own[name] = value
            elif offer_given:
                inherited.add(name)
                if name in values:  # else [offer]'s own is refused, a problem already
                    own[name] = values[name]
            elif s.default is MISSING:
                setting = next(each for each in LandingConfig.settings if each.key == s.key)
                named = f"{where}.{s.key}"
                problems.append(Problem(named, f"{named} is required: set it in this landing, or in "
                                        f"[offer] for every landing", setting.id))
            else:
                own[name] = s.default
        landings.append((called, own, inherited))
    problems += problems_of_landings(landings, values, CONSTRAINTS)
    return [own for _, own, _ in landings], problems


def _file(path: str | os.PathLike[str] | None, env: Mapping[str, str]) -> tuple[Mapping[str, object], Path | None,
                                                                                 str | None]:
    """The file's settings (``path``, else ``LEADKIT_CONFIG``, else none), its folder and its name."""
    path = path or env.get("LEADKIT_CONFIG") or None
    if path is None:
        return {}, None, None
    return _read_toml(Path(path)), Path(path).resolve().parent, str(path)


def _read_toml(path: Path) -> Mapping[str, object]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        problem = Problem(None, f"the configuration file {str(path)!r} does not exist", "leadkit.E003")
    except OSError as exc:
        problem = Problem(None, f"the configuration file {str(path)!r} cannot be read: {exc.strerror}", "leadkit.E004")
    except UnicodeDecodeError:
        problem = Problem(None, "the file is not UTF-8 text: save it as UTF-8", "leadkit.E005")
    except tomllib.TOMLDecodeError as exc:
        problem = Problem(None, f"the file is not valid TOML: {exc}", "leadkit.E006")
    raise ConfigError([problem], str(path))


def _merge(data: Mapping[str, object], sections: Mapping[str, object],
           env: Mapping[str, str]) -> tuple[dict[str, object], list[object], list[object], list[Problem]]:
    """The values given, by dotted name (an argument over the environment over the file), the
    landings and the postbacks given (an argument's list replaces the file's), and the problems of
    unknown sections and keys."""
    known = {cls.section: [s.key for s in cls.settings] for cls in SECTIONS}
    raw: dict[str, object] = {}
    lists: dict[str, list[object]] = {LandingConfig.section: [], PostbackConfig.section: []}
    problems = []
    arguments = _nested(sections)
    for origin, layer in (("file", _nested(data)), ("argument", arguments)):
        for section, values in ((section, values) for section, values in layer.items() if values is not None):
            if section in lists:
                if isinstance(values, (list, tuple)):
                    lists[section] = list(values)
                else:
                    what = "landing" if section == LandingConfig.section else "postback"
                    problems.append(Problem(f"[{section}]", f"[{section}] must be a list of tables, one per {what}: "
                                            f"[[{section}]] in the file, {section}=[{{...}}] in Python (got "
                                            f"{type(values).__name__})", _NOT_A_TABLE))
            elif section not in known:
                problems.append(Problem(f"[{section}]", f"unknown section [{section}] ({origin})"
                                        f"{did_you_mean(section, [*known, *lists])}", "leadkit.E007"))
            elif not isinstance(values, Mapping):
                problems.append(Problem(f"[{section}]", f"[{section}] must be a table of keys "
                                        f"(got {type(values).__name__})", _NOT_A_TABLE))
            else:  # an unknown key's value is not kept: it may be a secret under a misspelt key
                raw.update((f"{section}.{key}", value) for key, value in values.items() if key in known[section])
                problems += [Problem(f"{section}.{key}", f"unknown key {section}.{key}"
                                     f"{did_you_mean(key, known[section])}", _UNKNOWN_KEY)
                             for key in values if key not in known[section]]
    for s in SETTINGS:
        given = arguments.get(s.section)
        if s.rule.env and env.get(s.rule.env) and not (isinstance(given, Mapping) and s.key in given):
            raw[s.name] = env[s.rule.env]
    return raw, lists[LandingConfig.section], lists[PostbackConfig.section], problems


#: Sections that are tables within a table (``[capi.facebook]``, ``[capi.tiktok]``).
_PARENTS = frozenset(cls.section.split(".")[0] for cls in SECTIONS if "." in cls.section)


def _nested(layer: Mapping[str, object]) -> dict[str, object]:
    """``layer`` with each table of sections (``capi = {facebook = {...}}``) given as its sections
    (``capi.facebook``); in Python, ``capi={"facebook": {...}}`` or ``**{"capi.facebook": {...}}``."""
    flat: dict[str, object] = {}
    for section, values in layer.items():
        if section in _PARENTS and isinstance(values, Mapping):
            flat.update((f"{section}.{sub}", each) for sub, each in values.items())
        else:
            flat[section] = values
    return flat

