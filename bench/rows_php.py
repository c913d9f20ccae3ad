"""The optional comparison with the PHP script leadkit replaces: ``getform.php`` under php-fpm behind nginx,
and leadkit (gunicorn gthread) behind the same nginx, orders/s with the network at 0 and at 50 ms.

The same concurrency on both sides: php-fpm with WORKERS × THREADS static children (one order at a time
each), leadkit with WORKERS processes of THREADS threads. Skipped, saying how to install them, where
php-fpm, its curl module or nginx is missing.
"""

from __future__ import annotations

import glob
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Callable

from configs import write_config
from context import Bench
from figures import Row, skipped
from load import WRK, Load, wrk
from procs import BENCH, free_port, process_cpu, wait_until_up
from rows_http import THREADS, WORKERS, side_by_side

__all__ = ["php"]

_INSTALL = "apt-get install php-fpm php-curl, or BENCH_PHP=1 make bench as root"
_TEMPS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def _missing() -> str | None:
    if WRK is None:
        return "wrk is not installed (apt-get install wrk)"
    if not glob.glob("/usr/sbin/php-fpm*"):
        return f"php-fpm not installed ({_INSTALL})"
    if "curl" not in subprocess.run(["php", "-m"], capture_output=True, text=True).stdout.split():
        return f"php's curl module not installed ({_INSTALL})"
    if _nginx() is None:
        return "nginx is not installed (apt-get install nginx, or make system-deps as root)"
    return None


def _nginx() -> str | None:
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


def _fpm_config(folder: Path, port: int) -> Path:
    root = os.geteuid() == 0
    path = folder / "php-fpm.conf"
    path.write_text(f"""[global]
pid = {folder}/php-fpm.pid
error_log = {folder}/php-fpm.log
daemonize = no
[bench]
{"user = root" if root else ""}
listen = 127.0.0.1:{port}
pm = static
pm.max_children = {WORKERS * THREADS}
""")
    return path


def _php_server(port: int, fpm: int, api: str) -> str:
    params = "\n".join(f"            fastcgi_param {name} {value};" for name, value in (
        ("SCRIPT_FILENAME", BENCH / "getform.php"), ("SCRIPT_NAME", "/getform.php"), ("REQUEST_URI", "$request_uri"),
        ("REQUEST_METHOD", "$request_method"), ("QUERY_STRING", "$query_string"), ("CONTENT_TYPE", "$content_type"),
        ("CONTENT_LENGTH", "$content_length"), ("SERVER_PROTOCOL", "$server_protocol"), ("REMOTE_ADDR", "$remote_addr"),
        ("SERVER_NAME", "$server_name"), ("SERVER_PORT", "$server_port"), ("LEAD_API", f"{api}/wm/push.json")))
    return f"""    server {{
        listen 127.0.0.1:{port};
        location = /getform.php {{
{params}
            fastcgi_pass 127.0.0.1:{fpm};
        }}
    }}"""


def _proxy_server(port: int, upstream: str) -> str:
    return f"""    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass {upstream};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}"""


def _nginx_config(folder: Path, servers: list[str]) -> Path:
    temps = "\n".join(f"    {kind}_temp_path {folder}/{kind};" for kind in _TEMPS)
    path = folder / "nginx.conf"
    path.write_text(f"""{"user root;" if os.geteuid() == 0 else ""}
worker_processes auto;
pid {folder}/nginx.pid;
error_log {folder}/error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
{temps}
{chr(10).join(servers)}
}}
""")
    return path


def php(bench: Bench) -> list[Row]:
    """leadkit's orders/s ÷ getform.php's, behind the same nginx, at 0 and 50 ms."""
    names = {ms: f"orders/s leadkit ÷ PHP getform.php (php-fpm {WORKERS * THREADS} children), nginx, network {ms} ms"
             for ms in (0, 50)}
    goals = {0: "≥ 0.5 (today 0.13–0.17)", 50: "≥ 1.0 (today 0.92–0.95)"}
    problem = _missing()
    if problem is not None:
        return [skipped(names[ms], problem, goals[ms]) for ms in (0, 50)]
    folder = bench.folder / "php"
    folder.mkdir(exist_ok=True)
    fpm_port = free_port()
    fpm_binary = sorted(glob.glob("/usr/sbin/php-fpm*"))[-1]
    fpm, fpm_log = bench.procs.start("php-fpm", [fpm_binary, "-F", *(["-R"] if os.geteuid() == 0 else []),
                                                 "-y", str(_fpm_config(folder, fpm_port)), "-p", str(folder)])
    kits: dict[int, tuple[str, subprocess.Popen[bytes]]] = {}
    nginx = None
    try:
        for ms in (0, 50):
            config = write_config(bench.folder, f"php-leadkit{ms}", bench.api(ms), trusted_proxies=1)
            kits[ms] = bench.procs.gunicorn(f"php-leadkit{ms}", "apps:wrapped()", workers=WORKERS, threads=THREADS,
                                            env={"BENCH_CONFIG": str(config)})
        ports = {(side, ms): free_port() for side in ("php", "leadkit") for ms in (0, 50)}
        servers = [_php_server(ports["php", ms], fpm_port, bench.api(ms)) for ms in (0, 50)]
        servers += [_proxy_server(ports["leadkit", ms], kits[ms][0]) for ms in (0, 50)]
        nginx, log = bench.procs.start("nginx", [str(_nginx()), "-p", str(folder), "-c",
                                                 str(_nginx_config(folder, servers)), "-g", "daemon off;"])
        wait_until_up(f"http://127.0.0.1:{ports['leadkit', 50]}/", nginx, log)
        wait_until_up(f"http://127.0.0.1:{ports['php', 0]}/getform.php", fpm, fpm_log)
        urls = {key: f"http://127.0.0.1:{port}/{'getform.php' if key[0] == 'php' else 'leadkit/order'}"
                for key, port in ports.items()}
        busy: dict[tuple[str, int], list[float]] = {key: [] for key in urls}
        rounds = side_by_side(bench, {key: _post(bench, url, busy[key]) for key, url in urls.items()})
    finally:
        for process in [nginx, *(p for _, p in kits.values()), fpm]:
            if process is not None:
                bench.procs.stop(process)
    return [Row(names[ms], values=[r["leadkit", ms].rate / r["php", ms].rate for r in rounds], goal=goals[ms],
                absolute=f"PHP {statistics.median(r['php', ms].rate for r in rounds):.0f}/s, leadkit "
                         f"{statistics.median(r['leadkit', ms].rate for r in rounds):.0f}/s; the stand-in network "
                         f"busy {statistics.median(busy['php', ms]):.0f} % of a core under PHP's load")
            for ms in (0, 50)]


def _post(bench: Bench, url: str, busy: list[float]) -> Callable[[float], Load]:
    """Orders to ``url``; how busy the stand-in network was meanwhile (% of a core) goes to ``busy``: near
    100 % it, not the server under test, set the pace."""
    def run(seconds: float) -> Load:
        pid = bench.network_pid or 0
        cpu, started = process_cpu(pid), time.monotonic()
        load = wrk(url, seconds=seconds, connections=32, post=True)
        busy.append((process_cpu(pid) - cpu) / (time.monotonic() - started) * 100)
        return load
    return run
