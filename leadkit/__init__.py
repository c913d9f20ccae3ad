"""leadkit: turn any landing page into a lead-capture front for AlterCPA networks.

``LeadKit(app, config="leadkit.toml")`` wraps any WSGI application; see the
README for Flask, Django and the standalone server.
"""

__version__ = "0.1.0"

from .config import Config, ConfigError, load_config  # noqa: E402
from .middleware import LeadKit  # noqa: E402

__all__ = ["Config", "ConfigError", "LeadKit", "load_config", "__version__"]
