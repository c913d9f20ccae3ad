"""leadkit: turn any landing page into a lead-capture front for AlterCPA networks.

``LeadKit(app, config="leadkit.toml")`` wraps any WSGI application; see the
README for Flask, Django and the standalone server, and ``docs/architecture.md``
for the modules in the order an order passes through them.
"""

__version__ = "0.1.0"

from .config import Config  # noqa: E402
from .config_file import load_config  # noqa: E402
from .errors import (  # noqa: E402
    ConfigError,
    FormError,
    JournalError,
    LeadkitError,
    PhoneError,
    Problem,
    RateLimited,
    TokenError,
)
from typing import TYPE_CHECKING  # noqa: E402

if TYPE_CHECKING:
    from .middleware import LeadKit


def __getattr__(name: str) -> object:
    """``LeadKit`` is imported when first asked for: a command that only reads the journal
    (``leadkit report``) does not pay for the middleware's imports."""
    if name == "LeadKit":
        from .middleware import LeadKit

        return LeadKit
    raise AttributeError(f"module 'leadkit' has no attribute {name!r}")

__all__ = [
    "Config",
    "ConfigError",
    "FormError",
    "JournalError",
    "LeadKit",
    "LeadkitError",
    "PhoneError",
    "Problem",
    "RateLimited",
    "TokenError",
    "load_config",
    "__version__",
]
