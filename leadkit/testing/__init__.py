"""Tools for testing an integration without a real network: :mod:`leadkit.testing.sandbox`.

Nothing in leadkit's request path imports this package; ``leadkit demo`` and
``leadkit sandbox`` start the sandbox network from here.
"""

from .sandbox import ReceivedLead, SandboxNetwork

__all__ = ["ReceivedLead", "SandboxNetwork"]
