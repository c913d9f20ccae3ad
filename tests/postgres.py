"""A throwaway PostgreSQL server for the tests of the journal on PostgreSQL.

Debian's own server programs (``/usr/lib/postgresql/N/bin``, else ``initdb`` and ``postgres`` on the
PATH) make a cluster in a temp folder of its own, listening on 127.0.0.1 on a free port and on a
unix socket in that folder, with ``fsync`` on (the tests are about durability), trust authentication
(nothing but loopback and the folder's socket reach it) and room for 200 connections. Started once
per session, stopped and removed at its end, failed tests or not; a cluster left behind by a run that
was killed is swept away by the next one.

PostgreSQL refuses to run as root. Run as root, the tests give the cluster to the system user
``leadkit-pg`` (made with ``useradd --system`` the first time; ``nobody`` where that fails) and run
its programs as that user (``subprocess``'s ``user=``/``group=``: the same as ``setpriv``).

The postmaster is this process's own child, not a daemon of ``pg_ctl``'s: where nothing reaps
orphans (this machine's init does not), a killed daemon would stay a zombie whose pid, still in
``postmaster.pid``, keeps the next server from starting. The waits are ``pg_ctl -w``'s: the lock
file says ``ready``, the process has exited.

Fixtures (``conftest`` imports them):

* ``postgres_server`` (session): the :class:`PostgresServer`; ``.url`` names database ``leadkit_test``.
* ``postgres_url`` (test): the URL of a fresh, empty database of the test's own, dropped after it.
* ``postgres_back_up`` (autouse): after a test that stopped or killed the server and did not start
  it again, starts it, so that one failed outage test does not fail the tests after it.

Where PostgreSQL or psycopg is missing they skip and say why (:data:`POSTGRES_MISSING`):
``make system-deps`` as root installs the server, ``pip install -e '.[test]'`` psycopg."""

from __future__ import annotations

import glob
import importlib.util
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from support import wait_for

#: The database that :attr:`PostgresServer.url` names, and the superuser every URL connects as.
DATABASE = "leadkit_test"
SUPERUSER = "leadkit"
#: The system user that owns the cluster when the tests run as root.
RUN_AS = "leadkit-pg"
#: Seconds for the server to start or stop (the waits end as soon as it has).
TIMEOUT = 60
_PREFIX = "leadkit-pg-"
_AS_ROOT = os.geteuid() == 0


def _version(bin_dir: str) -> tuple[int, ...]:
    return tuple(int(part) for part in Path(bin_dir).parent.name.split(".") if part.isdigit())


def _find_programs() -> tuple[str, str]:
    """``initdb`` and ``postgres``: Debian's newest server first, then the PATH ("" where none)."""
    for bin_dir in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version, reverse=True):
        initdb, postgres = f"{bin_dir}/initdb", f"{bin_dir}/postgres"
        if os.access(initdb, os.X_OK) and os.access(postgres, os.X_OK):
            return initdb, postgres
    on_path = shutil.which("initdb"), shutil.which("postgres")
    return (on_path[0], on_path[1]) if on_path[0] and on_path[1] else ("", "")


def _missing() -> str | None:
    if not _INITDB:
        return ("PostgreSQL tests need the PostgreSQL server (no initdb and postgres under "
                "/usr/lib/postgresql/*/bin or on the PATH): `apt-get install postgresql` or `make system-deps` as root")
    absent = [name for name in ("psycopg", "psycopg_pool") if importlib.util.find_spec(name) is None]
    if absent:
        return (f"PostgreSQL tests need psycopg 3 and psycopg-pool (cannot import {', '.join(absent)}): "
                "`pip install -e '.[test]'`")
    return None


_INITDB, _POSTGRES = _find_programs()
#: Why PostgreSQL cannot run here, or None.
POSTGRES_MISSING = _missing()


class PostgresServer:
    """One throwaway cluster, running; made by :meth:`create`, removed by :meth:`destroy`.

    :meth:`stop`, :meth:`start`, :meth:`restart` and :meth:`kill` keep the folder, the data and the
    port, so the URLs handed out before stay valid."""

    def __init__(self, folder: Path, port: int, run_as: str | None) -> None:
        self.folder = folder
        self.data_dir = folder / "data"
        self.log_file = folder / "server.log"
        #: The unix socket's folder (``host=`` for psycopg), beside 127.0.0.1.
        self.socket_dir = folder
        self.host = "127.0.0.1"
        self.port = port
        self.user = SUPERUSER
        #: The system user the server runs as (None: the tests' own user).
        self.run_as = run_as
        #: Seconds :meth:`create` took: initdb, the server up, the database made.
        self.start_seconds = 0.0
        self._process: subprocess.Popen[Any] | None = None
        self._numbers = itertools.count(1)

    # -- what tests connect to --------------------------------------------------------------

    @property
    def url(self) -> str:
        """``postgresql://leadkit@127.0.0.1:PORT/leadkit_test``."""
        return self.dsn_for(DATABASE)

    def dsn_for(self, dbname: str) -> str:
        """The URL of database ``dbname`` on this server."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{dbname}"

    def fresh_database(self) -> str:
        """Create an empty database with a name not used before in this session; its URL."""
        name = f"leadkit_{next(self._numbers)}"
        self._admin(f'CREATE DATABASE "{name}"')
        return self.dsn_for(name)

    def drop_database(self, url: str) -> None:
        """Drop the database ``url`` names, closing the connections still open to it."""
        self._admin(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')

    # -- outages ----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the server runs (it may still be starting up or shutting down)."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the stopped (or killed: crash recovery runs first) server; returns once it accepts connections."""
        if self.running:
            raise RuntimeError(f"PostgreSQL already runs in {self.data_dir}")
        with open(self.log_file, "ab") as log:
            process = subprocess.Popen([_POSTGRES, "-D", str(self.data_dir)], stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True, **self._subprocess_options())
        self._process = process
        if not wait_for(lambda: self._ready(process), timeout=TIMEOUT, interval=0.01) or not self.running:
            process.kill()
            process.wait()
            raise RuntimeError(f"PostgreSQL did not start in {self.data_dir} (exit {process.returncode}); "
                               f"server log ({self.log_file}), last lines:\n{self._log_tail()}")

    def stop(self) -> None:
        """Stop the server (fast: open connections are closed, committed data is on disk)."""
        if self._process is not None:  # send_signal knows when it has been reaped
            self._process.send_signal(signal.SIGINT)  # PostgreSQL's fast shutdown, as ``pg_ctl stop -m fast``
            self._process.wait(timeout=TIMEOUT)

    def restart(self) -> None:
        """Stop and start again (fast, as an operator's restart under load); open connections break."""
        self.stop()
        self.start()

    def kill(self) -> None:
        """Crash: SIGKILL to the postmaster and every server process, returning once they are
        all gone. :meth:`start` then recovers from the write-ahead log."""
        if self._process is not None and self.running:  # not reaped yet: the pid is still the server's
            _kill_server(self._process.pid)
            self._process.wait(timeout=TIMEOUT)

    def ensure_running(self) -> None:
        """Start the server if a test stopped or killed it."""
        if not self.running:
            self.start()

    def _ready(self, process: subprocess.Popen[Any]) -> bool:
        """What ``pg_ctl -w`` waits for: the lock file names this postmaster, ready for connections."""
        if process.poll() is not None:
            return True  # it exited: start says so
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().split("\n")
        except OSError:
            return False
        return len(lines) > 7 and lines[0] == str(process.pid) and lines[7].strip() == "ready"

    # -- life and death of the cluster ------------------------------------------------------

    @classmethod
    def create(cls) -> PostgresServer:
        """A new cluster in a new temp folder, started, with database ``leadkit_test``."""
        began = time.monotonic()
        sweep_strays()
        folder = Path(tempfile.mkdtemp(prefix=_PREFIX))
        (folder / "owner").write_text(str(os.getpid()))
        server = cls(folder, _free_port(), _unprivileged_user() if _AS_ROOT else None)
        try:
            server._init()
            server._first_start()
            server._admin(f'CREATE DATABASE "{DATABASE}"')
        except BaseException:
            server.destroy()
            raise
        server.start_seconds = time.monotonic() - began
        return server

    def destroy(self) -> None:
        """Stop the server at once (no checkpoint: the data goes too) and remove the folder."""
        self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _init(self) -> None:
        self._give(self.folder)
        # --no-sync: initdb's own flush, of a cluster that a crash of the machine throws away anyway;
        # the server runs with fsync on.
        done = subprocess.run([_INITDB, "-D", str(self.data_dir), "-U", SUPERUSER, "-A", "trust",
                               "-E", "UTF8", "--locale=C", "--no-sync"], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=TIMEOUT, **self._subprocess_options())
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed in {self.data_dir} (exit {done.returncode}): {done.stderr.strip()}")
        with open(self.data_dir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\ninclude = 'leadkit.conf'\n")

    def _configure(self) -> None:
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "max_connections": "200",
            "fsync": "on",
            "synchronous_commit": "on",
            "full_page_writes": "on",
        }
        path = self.data_dir / "leadkit.conf"
        path.write_text("".join(f"{key} = {value}\n" for key, value in settings.items()), encoding="utf-8")
        self._give(path)

    def _first_start(self) -> None:
        """Start on the port chosen; if another process took it meanwhile, on another."""
        for _attempt in range(3):
            self._configure()
            try:
                self.start()
                return
            except RuntimeError:
                if "could not bind" not in self._log_tail():
                    raise
                self.port = _free_port()
        self._configure()
        self.start()

    def _give(self, path: Path) -> None:
        """Make ``path`` the server's user's."""
        if self.run_as:
            entry = pwd.getpwnam(self.run_as)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _subprocess_options(self) -> dict[str, Any]:
        """Run as the server's user, in the cluster's folder, with no PG* variable of the caller's."""
        options: dict[str, Any] = {
            "cwd": self.folder,
            "env": {key: value for key, value in os.environ.items() if not key.startswith("PG")},
        }
        if self.run_as:
            entry = pwd.getpwnam(self.run_as)
            options.update(user=entry.pw_uid, group=entry.pw_gid, extra_groups=[])
        return options

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.dsn_for("postgres"), autocommit=True, connect_timeout=TIMEOUT) as connection:
            connection.execute(sql.encode())  # bytes: a query made here, names included, not a literal

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _unprivileged_user() -> str:
    """``leadkit-pg``, made a system user if it is not one yet; ``nobody`` where that fails."""
    for attempt in range(2):
        try:
            pwd.getpwnam(RUN_AS)
            return RUN_AS
        except KeyError:
            if attempt == 0:  # a run beside this one may make it first: look again either way
                subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                                "--shell", "/usr/sbin/nologin", "--user-group", RUN_AS],
                               stdin=subprocess.DEVNULL, capture_output=True)
    return "nobody"


def _pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _server_pids(postmaster: int) -> list[int]:
    """The postmaster and its children: every process of the server."""
    children = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            parent = int(Path(stat).read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == postmaster:
            children.append(int(Path(stat).parent.name))
    return [postmaster, *children]


def _kill_server(postmaster: int) -> None:
    """SIGKILL to every process of the server, and wait until none is left. The postmaster is
    stopped first, so that it forks no process the kill would miss."""
    try:
        os.kill(postmaster, signal.SIGSTOP)
    except ProcessLookupError:
        return
    pids = _server_pids(postmaster)
    for pid in reversed(pids):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if not wait_for(lambda: not any(_pid_alive(pid) for pid in pids), timeout=TIMEOUT, interval=0.01):
        raise RuntimeError(f"PostgreSQL's processes {pids} still run {TIMEOUT} s after SIGKILL")


def _stray_postmaster(data_dir: Path) -> int | None:
    """The pid of the postmaster in ``postmaster.pid``, if a postgres process has it."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except (OSError, ValueError):
        return None
    return pid if comm in ("postgres", "postmaster") and _pid_alive(pid) else None


def sweep_strays() -> None:
    """Remove the clusters of earlier test runs that were killed before they could: a folder
    ``leadkit-pg-*`` whose ``owner`` process is gone. Clusters of runs still going are left alone."""
    for folder in glob.glob(os.path.join(tempfile.gettempdir(), _PREFIX + "*")):
        try:
            owner = int(Path(folder, "owner").read_text())
        except (OSError, ValueError):
            continue  # being made right now, or not ours
        if _pid_alive(owner):
            continue
        pid = _stray_postmaster(Path(folder, "data"))
        if pid is not None:
            _kill_server(pid)
        shutil.rmtree(folder, ignore_errors=True)


_live: list[PostgresServer] = []


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server (see the module's docstring); skips where it cannot run."""
    if POSTGRES_MISSING:
        pytest.skip(POSTGRES_MISSING)
    server = PostgresServer.create()
    _live.append(server)
    try:
        yield server
    finally:
        _live.remove(server)
        server.destroy()


@pytest.fixture()
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of an empty database of this test's own, dropped after it."""
    postgres_server.ensure_running()
    url = postgres_server.fresh_database()
    yield url
    postgres_server.ensure_running()
    postgres_server.drop_database(url)


@pytest.fixture(autouse=True)
def postgres_back_up() -> Iterator[None]:
    """After each test, the session's server runs again, whatever the test did to it."""
    yield
    for server in _live:
        server.ensure_running()
