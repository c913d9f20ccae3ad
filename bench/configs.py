"""The configurations the bench runs leadkit with: a valid site in front of the stand-in network, a
journal in the bench's temporary folder (SQLite, or PostgreSQL at ``BENCH_PG_URL``), and limits no
crowd of benchmark orders from one address would meet."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["KEY", "SECRET", "pg_refusal", "write_config"]

KEY = "1-0f3a9c2e7b5d4a1f"
SECRET = "bench-secret-0123456789abcdef"


def _data(api: str, journal: dict[str, Any], trusted_proxies: int) -> dict[str, dict[str, Any]]:
    return {
        "network": {"api": api, "key": KEY, "role": "wm", "dialect": "dalead", "timeout": 10},
        "offer": {"offer": 217, "flow": 42, "country": "kz"},
        "site": {"secret": SECRET, "min_fill_seconds": 0, "trusted_proxies": trusted_proxies},
        # Every benchmark order comes from 127.0.0.1 (or nginx): the per-IP limit is set as high as it goes,
        # so that it is checked and counted, as in production, without refusing anyone.
        "limits": {"ip_orders": 100000},
        "journal": journal,
    }


def _toml(data: dict[str, dict[str, Any]]) -> str:
    lines = []
    for section, values in data.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]  # JSON scalars are TOML's
    return "\n".join(lines) + "\n"


def write_config(folder: Path, name: str, api: str, *, pg_url: str | None = None, relay: bool = True,
                 trusted_proxies: int = 0) -> Path:
    """``<folder>/<name>.toml`` for a site in front of ``api``, its journal ``<folder>/<name>.db`` (or the
    PostgreSQL database at ``pg_url``)."""
    journal: dict[str, Any] = {"url": pg_url} if pg_url else {"path": str(folder / f"{name}.db")}
    journal["relay"] = relay
    path = folder / f"{name}.toml"
    path.write_text(_toml(_data(api, journal, trusted_proxies)))
    return path


def pg_refusal(pg_url: str) -> str | None:
    """Why leadkit's configuration does not take ``journal.url = pg_url`` (None: it does)."""
    from leadkit.config_file import config_from_mapping
    from leadkit.errors import ConfigError

    try:
        config_from_mapping(_data("http://127.0.0.1:9/api", {"url": pg_url}, 0), environ={})
    except ConfigError as exc:
        problems = [line.strip(" -") for line in str(exc).splitlines()[1:]] or [str(exc)]
        return f"journal.url is not accepted by leadkit's configuration yet ({problems[0].split(';')[0]})"
    return None
