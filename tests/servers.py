"""Starting leadkit's own commands as real processes on loopback, for end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import requests


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
            log.seek(0)
            raise RuntimeError(f"leadkit did not start: {line!r} {log.read()[-4000:]}")
        url = line.split("serving ", 1)[1].split()[0]
        _wait_until_up(url + "leadkit/health", timeout)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def server_log(process: subprocess.Popen[str]) -> str:
    """What a process started by :func:`leadkit_process` has logged so far."""
    log = process.leadkit_log  # type: ignore[attr-defined]
    log.flush()
    log.seek(0)
    return str(log.read())


def _wait_until_up(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout} s")
        time.sleep(0.05)
