"""Helpers the tests share: a valid configuration for any role and dialect."""

from __future__ import annotations

import tempfile
from typing import Any

from werkzeug.test import Client

from leadkit.config import Config, config_from_mapping

KEY = "1-0f3a9c2e7b5d4a1f"
SECRET = "test-secret-0123456789abcdef"
ROLES_AND_DIALECTS = [(role, dialect) for role in ("wm", "ext", "comp") for dialect in ("dalead", "moe")]


def make_config(role: str = "wm", dialect: str = "dalead", api: str = "http://127.0.0.1:9/api",
                **sections: dict[str, Any]) -> Config:
    """A valid configuration for ``role`` and ``dialect``; ``sections`` override keys."""
    data: dict[str, dict[str, Any]] = {
        "network": {"api": api, "key": KEY, "role": role, "dialect": dialect, "timeout": 5},
        "offer": {"offer": 217, "country": "kz", **({"flow": 42} if role == "wm" else {}),
                  **({"source": "77"} if role == "ext" else {})},
        "site": {"secret": SECRET},
        # Each configuration gets a journal of its own, far from the checkout.
        "journal": {"path": f"{tempfile.mkdtemp(prefix='leadkit-test-')}/leadkit.db"},
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return config_from_mapping(data, environ={})


class BrowserClient(Client):
    """werkzeug's test client, sending an ``Origin`` with each POST as browsers do."""

    origin = "http://localhost"

    def open(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("method") == "POST":
            headers = dict(kwargs.get("headers") or {})
            headers.setdefault("Origin", self.origin)
            kwargs["headers"] = headers
        return super().open(*args, **kwargs)
