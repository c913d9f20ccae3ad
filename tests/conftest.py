"""Shared fixtures: the sandbox network."""

from __future__ import annotations

from typing import Iterator

import pytest

from leadkit.sandbox import SandboxNetwork
from support import KEY

@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxNetwork]:
    """One sandbox network for the session; reset before each test that uses it."""
    with SandboxNetwork(keys=[KEY], offers={217: [42]}) as network:
        yield network


@pytest.fixture()
def network(sandbox: SandboxNetwork) -> SandboxNetwork:
    sandbox.reset()
    return sandbox
