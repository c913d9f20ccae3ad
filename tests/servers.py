"""Starting real processes on loopback for end-to-end tests: leadkit's own commands, and the
helpers around them (a free port, waiting until a URL answers, stopping a process).

``scripts/fault_injection.py`` uses the same helpers.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import requests

from support import wait_for

__all__ = ["free_port", "leadkit_process", "server_log", "stop", "wait_until_up"]


@contextmanager
def leadkit_process(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
                    timeout: float = 20) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Run ``python -m leadkit ARGS`` and yield (base URL, process) once it serves; stop it after."""
    # The log goes to a file, not a pipe: a pipe nobody reads fills up and blocks the server.
    log = tempfile.TemporaryFile("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "leadkit", *args], stdout=subprocess.PIPE, stderr=log, text=True,
        env={**os.environ, **(env or {})}, cwd=cwd,
    )
    process.leadkit_log = log  # type: ignore[attr-defined] - read with server_log()
    try:
        line = process.stdout.readline() if process.stdout else ""
        if "serving " not in line:
            process.kill()
            process.wait()
            raise RuntimeError(f"leadkit did not start: {line!r} {server_log(process)[-4000:]}")
        url = line.split("serving ", 1)[1].split()[0]
        wait_until_up(url + "leadkit/health", timeout)
        yield url, process
    finally:
        stop(process)


def server_log(process: subprocess.Popen[str]) -> str:
    """What a process started by :func:`leadkit_process` has logged so far; safe to poll while it runs."""
    fd = process.leadkit_log.fileno()  # type: ignore[attr-defined]
    # pread leaves the file offset alone: the server writes through the same open file, at that offset.
    return os.pread(fd, os.fstat(fd).st_size, 0).decode("utf-8", "replace")


def stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM, and SIGKILL if it has not ended within ten seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_up(url: str, timeout: float) -> None:
    """Return once ``url`` answers 200; RuntimeError after ``timeout`` seconds."""
    if not wait_for(lambda: _answers(url), timeout, interval=0.05):
        raise RuntimeError(f"{url} did not answer within {timeout} s")


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
