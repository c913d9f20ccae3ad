"""A WSGI entry point for other servers: ``gunicorn 'leadkit.wsgi:application'``.

The configuration file comes from ``LEADKIT_CONFIG`` (and the secrets from
``LEADKIT_KEY`` / ``LEADKIT_SECRET``). Works with ``--preload`` and several
workers: each worker starts its own relay thread on its first request, and
leases in the shared journal keep two workers off one lead.
"""

from __future__ import annotations

from .config_file import load_config
from .server import make_app

__all__ = ["application"]

application = make_app(load_config())
