"""The processes the bench starts (the stand-in network, gunicorn, nginx, php-fpm), and how it stops them.

Every process is started in a session of its own and registered with :class:`Processes`; stopping
sends SIGTERM to the process it started (a master stops its own workers), and SIGKILL to that
session's group only if it has not ended within ten seconds. Nothing else on the machine is touched.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Sequence

__all__ = ["BENCH", "Processes", "cpu_seconds", "process_cpu", "free_port", "rss_mb", "wait_until_up", "worker_pids"]

#: This folder: the bench's own sources (the apps gunicorn serves, the Lua script, getform.php).
BENCH = Path(__file__).resolve().parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    """Return once ``url`` answers anything over HTTP; RuntimeError with the log if the process ends or
    the deadline passes first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} ended with {process.returncode}:\n{_tail(log)}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s:\n{_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"


def worker_pids(master: int) -> list[int]:
    """The worker processes a gunicorn or php-fpm master forked."""
    try:
        return [int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
    except OSError:
        return []


def process_cpu(pid: int) -> float:
    """The CPU time (user and system, every thread) a process has used so far; 0 once it has ended."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime: stat's 14th and 15th


def cpu_seconds(master: int) -> float:
    """The CPU time a server's workers have used so far; the master's own is left out, as it serves no request."""
    return sum(process_cpu(pid) for pid in worker_pids(master))


def rss_mb(pid: int) -> float:
    """A process's resident memory (``VmRSS``) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"process {pid} has no VmRSS")


class Processes:
    """The processes started for one run of the bench; :meth:`stop_all` ends every one still running."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._running: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, args: Sequence[str], env: dict[str, str] | None = None,
              stdout: int | None = None) -> tuple[subprocess.Popen[bytes], Path]:
        """Start ``args`` with its output in ``<folder>/<name>.log``; the process and its log."""
        log = self.folder / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(list(args), stdin=subprocess.DEVNULL, stdout=stdout or out, stderr=out,
                                       env={**os.environ, **(env or {})}, start_new_session=True)
        self._running.append(process)
        return process, log

    def gunicorn(self, name: str, app: str, *, workers: int = 2, threads: int = 1,
                 env: dict[str, str] | None = None, health: str = "/") -> tuple[str, subprocess.Popen[bytes]]:
        """gunicorn serving ``app`` (``apps:bare``, ``apps:wrapped()``) from this folder: sync workers, or
        gthread with ``threads`` > 1; its base URL once it answers.

        A gthread worker takes at most twice its threads in connections (``--worker-connections``): a
        kept-alive connection stays with the worker that accepted it, and without a cap the workers split
        the load tool's 32 connections as they happened to wake (30 and 2, 26 and 6, 25 and 7, 17 and 15
        in four runs), so that one worker's threads sat idle and the orders rows measured the split."""
        port = free_port()
        kind = ["--worker-class", "gthread", "--threads", str(threads), "--worker-connections", str(2 * threads)] \
            if threads > 1 else ["--worker-class", "sync"]
        process, log = self.start(name, [sys.executable, "-m", "gunicorn", "--chdir", str(BENCH), "-w", str(workers),
                                         *kind, "-b", f"127.0.0.1:{port}", "--backlog", "2048",
                                         "--log-level", "warning", app], env=env)
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url + health, process, log)
        return url, process

    def standin(self) -> tuple[str, subprocess.Popen[bytes]]:
        """The stand-in network (:mod:`standin`); its base URL."""
        log = self.folder / "standin.log"
        with log.open("ab") as err:
            process = subprocess.Popen([sys.executable, str(BENCH / "standin.py")], stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=err, start_new_session=True)
        self._running.append(process)
        line = process.stdout.readline().decode() if process.stdout else ""
        if not line.startswith("standin "):
            raise RuntimeError(f"the stand-in network did not start: {line!r} {_tail(log)}")
        return line.split()[1], process

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        """SIGTERM (a master stops its workers), then SIGKILL to its session's group after ten seconds."""
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, signal.SIGKILL)  # the group this process leads: its own workers
                except ProcessLookupError:
                    pass
                process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()
        if process in self._running:
            self._running.remove(process)

    def stop_all(self) -> None:
        for process in reversed(list(self._running)):
            self.stop(process)
