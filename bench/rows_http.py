"""The rows measured over HTTP: pass-through, the form page, orders per second and memory per worker.

Each compares two sides under the same server (gunicorn, 2 workers) and the same load tool (wrk), the
sides measured back to back in each round, in alternating order. Beside each rate, the server's CPU
per request (its workers' user and system time ÷ requests), which a machine busy with other work
disturbs far less than the rate.
"""

from __future__ import annotations

import os
import statistics
import urllib.request
from typing import Callable, Hashable

from configs import write_config
from context import Bench
from figures import Row, skipped
from load import WRK, Load, tags_cookie, wrk
from procs import rss_mb, worker_pids

__all__ = ["LIMIT", "THREADS", "WORKERS", "form_page", "memory", "orders", "pass_through", "side_by_side"]

WORKERS, THREADS, LATENCY = 2, 8, 0.05
#: The most orders per second a server of WORKERS × THREADS can take when each lead call takes LATENCY.
LIMIT = WORKERS * THREADS / LATENCY
_NO_WRK = "wrk is not installed (make bench installs it as root: apt-get install wrk)"
_PATHS = {"no tags": "/", "?utm_… on the URL": "/?utm_source=fb&utm_campaign=spring&sub1=click-1",
          "tags cookie": "/"}
Rounds = list[dict[Hashable, Load]]


def side_by_side(bench: Bench, loads: dict[Hashable, Callable[[float], Load]]) -> Rounds:
    """Each round, every load for ``bench.seconds``, in alternating order. Each load runs ``bench.warmup``
    seconds first: templates compiled, caches filled, the workers' first requests behind them."""
    for name, load in loads.items():
        load(bench.warmup).check(f"{name} (warm-up)")
    rounds = []
    for number in range(bench.rounds):
        measured = {}
        for name in bench.alternate(number, list(loads)):
            measured[name] = loads[name](bench.seconds)
            measured[name].check(str(name))
        rounds.append(measured)
    return rounds


def _rate(rounds: Rounds, name: Hashable) -> float:
    return statistics.median(r[name].rate for r in rounds)


def _cpu(rounds: Rounds, name: Hashable) -> str:
    values = [r[name].cpu_ms for r in rounds if r[name].cpu_ms is not None]
    return f"{statistics.median(values):.2f} ms CPU each" if values else "CPU not measured"


def _both(rounds: Rounds, bare: Hashable, wrapped: Hashable, labels: tuple[str, str] = ("bare", "wrapped")) -> str:
    return (f"{labels[0]} {_rate(rounds, bare):.0f}/s ({_cpu(rounds, bare)}), "
            f"{labels[1]} {_rate(rounds, wrapped):.0f}/s ({_cpu(rounds, wrapped)})")


def _get(url: str, server: int, headers: tuple[str, ...] = ()) -> Callable[[float], Load]:
    return lambda seconds: wrk(url, seconds=seconds, connections=16, headers=headers, server=server)


def pass_through(bench: Bench) -> list[Row]:
    """Requests/s of the site wrapped ÷ bare, gunicorn with 2 sync workers: no tags, tags on the URL, a tags cookie."""
    goal = "≥ 0.97 (today 0.89 / 0.73 / 0.76)"
    names = [f"pass-through req/s wrapped ÷ bare, gunicorn 2 sync: {v}" for v in _PATHS]
    if WRK is None:
        return [skipped(name, _NO_WRK, goal) for name in names]
    config = write_config(bench.folder, "pass", bench.api(0))
    bare, bare_process = bench.procs.gunicorn("bare-sync", "apps:bare")
    kit, kit_process = bench.procs.gunicorn("wrapped-sync", "apps:wrapped()", env={"BENCH_CONFIG": str(config)})
    # Controls for the no-tags case: a do-nothing Python layer, and leadkit made in the worker but not called.
    layer, layer_process = bench.procs.gunicorn("layer-sync", "apps:layer()")
    loaded, loaded_process = bench.procs.gunicorn("loaded-sync", "apps:loaded()", env={"BENCH_CONFIG": str(config)})
    try:
        headers = {"no tags": (), "?utm_… on the URL": (), "tags cookie": (f"Cookie: {tags_cookie(kit)}",)}
        loads = {(side, variant): _get(url + path, process.pid, headers[variant])
                 for variant, path in _PATHS.items()
                 for side, url, process in (("bare", bare, bare_process), ("wrapped", kit, kit_process))}
        loads.update({(side, "no tags"): _get(url + _PATHS["no tags"], process.pid)
                      for side, url, process in (("layer", layer, layer_process), ("loaded", loaded, loaded_process))})
        rounds = side_by_side(bench, loads)
    finally:
        for process in (loaded_process, layer_process, kit_process, bare_process):
            bench.procs.stop(process)
    rows = [Row(name, values=[r["wrapped", variant].rate / r["bare", variant].rate for r in rounds], goal=goal,
                absolute=_both(rounds, ("bare", variant), ("wrapped", variant)))
            for name, variant in zip(names, _PATHS)]
    for side, what in (("layer", "a do-nothing Python middleware"),
                       ("loaded", "bare in a worker where LeadKit is made but not called")):
        rows.append(Row(f"  control, no tags: {what} ÷ bare",
                        values=[r[side, "no tags"].rate / r["bare", "no tags"].rate for r in rounds],
                        absolute=_both(rounds, ("bare", "no tags"), (side, "no tags"), ("bare", side))))
    return rows


def form_page(bench: Bench) -> list[Row]:
    """``GET {mount}/form`` requests/s ÷ a bare 2 KB page, gunicorn with 2 sync workers."""
    what, goal = "GET /leadkit/form req/s ÷ a bare 2 KB page, gunicorn 2 sync", "≥ 0.8 (today 0.48)"
    if WRK is None:
        return [skipped(what, _NO_WRK, goal)]
    config = write_config(bench.folder, "form", bench.api(0))
    bare, bare_process = bench.procs.gunicorn("bare-2k", "apps:bare")
    kit, kit_process = bench.procs.gunicorn("wrapped-form", "apps:wrapped()", env={"BENCH_CONFIG": str(config)})
    try:
        with urllib.request.urlopen(kit + "/leadkit/form", timeout=10) as response:
            size = len(response.read())
        rounds = side_by_side(bench, {"2k": _get(bare + "/2k", bare_process.pid),
                                      "form": _get(kit + "/leadkit/form", kit_process.pid)})
    finally:
        bench.procs.stop(kit_process)
        bench.procs.stop(bare_process)
    return [Row(what, values=[r["form"].rate / r["2k"].rate for r in rounds], goal=goal,
                absolute=_both(rounds, "2k", "form", ("2 KB page", f"form ({size / 1024:.1f} KB, no gzip asked)")))]


def orders(bench: Bench) -> list[Row]:
    """Orders/s posted with wrk (post.lua) to gunicorn gthread 2 × 8 with the network at 0 and 50 ms."""
    what50 = f"orders/s at 50 ms ÷ the limit ({WORKERS}×{THREADS}÷0.05 s = {LIMIT:.0f}/s), gunicorn gthread"
    what0 = f"orders/s at 0 ms, gunicorn gthread {WORKERS}×{THREADS}"
    goal50 = "≥ 0.95 (today 0.88)"
    if WRK is None:
        return [skipped(what50, _NO_WRK, goal50), skipped(what0, _NO_WRK)]
    rows = []
    for label, pg_url in bench.journals():
        name = "pg" if pg_url else "sqlite"
        servers = {}
        try:
            for ms in (0, 50):
                config = write_config(bench.folder, f"orders{ms}-{name}", bench.api(ms), pg_url=pg_url)
                servers[ms] = bench.procs.gunicorn(f"orders{ms}-{name}", "apps:wrapped()", workers=WORKERS,
                                                   threads=THREADS, env={"BENCH_CONFIG": str(config)})
            rounds, sent = _order_rounds(bench, {ms: (url, process.pid) for ms, (url, process) in servers.items()})
        finally:
            for _, process in servers.values():
                bench.procs.stop(process)
        rows.append(Row(what50 + label, values=[r[50].rate / LIMIT for r in rounds], goal=goal50,
                        absolute=f"{_rate(rounds, 50):.0f} orders/s of {LIMIT:.0f} ({_cpu(rounds, 50)}, so "
                                 f"{_ceiling(rounds, 50)}); {sent}"))
        rows.append(Row(what0 + label, unit="/s", values=[r[0].rate for r in rounds],
                        absolute=f"{_cpu(rounds, 0)} in the workers{_idle(rounds, 0)}; wrk -c32, post.lua: each order "
                                 "a new phone"))
        idle = _idles(rounds, 50)
        if idle:
            held = WORKERS * THREADS * 1000 / _rate(rounds, 50)
            rows.append(Row(f"  … the machine's CPU left idle meanwhile, at 50 ms{label}", unit="%", values=idle,
                            absolute=f"{WORKERS * THREADS} threads ÷ orders/s: {held:.0f} ms of a thread for each "
                                     f"order, {LATENCY * 1000:.0f} of them the network's"))
    problem = bench.pg_problem()
    if problem is not None:
        rows.append(skipped("orders/s with a PostgreSQL journal", problem))
    return rows


def _idles(rounds: Rounds, name: Hashable) -> list[float]:
    return [r[name].idle for r in rounds if r[name].idle is not None]


def _idle(rounds: Rounds, name: Hashable) -> str:
    values = _idles(rounds, name)
    return f", the machine {statistics.median(values):.0f} % idle" if values else ""


def _ceiling(rounds: Rounds, name: Hashable) -> str:
    """The most orders/s the machine's cores could give at the CPU each order took, were they all leadkit's."""
    values = [r[name].cpu_ms for r in rounds if r[name].cpu_ms]
    cores = len(os.sched_getaffinity(0))
    return f"{cores} cores' ceiling {cores * 1000 / statistics.median(values):.0f}/s" if values else "no ceiling"


def _order_rounds(bench: Bench, servers: dict[int, tuple[str, int]]) -> tuple[Rounds, str]:
    """Orders/s per latency per round, and whether the network got every order the load tool counted."""
    posted = 0
    before = bench.delivered()

    def post(url: str, server: int) -> Callable[[float], Load]:
        def run(seconds: float) -> Load:
            nonlocal posted
            load = wrk(url + "/leadkit/order", seconds=seconds, connections=32, post=True, server=server)
            posted += load.requests
            return load
        return run

    rounds = side_by_side(bench, {ms: post(url, pid) for ms, (url, pid) in servers.items()})
    delivered = bench.delivered() - before
    # wrk counts the answers it read within the duration; orders still under way when it stopped reach the
    # network too, so the network may have a few more (never fewer).
    return rounds, f"the network got {delivered} leads for {posted} orders answered"


def memory(bench: Bench) -> list[Row]:
    """RSS per gunicorn sync worker after pass-through, form and order loads: wrapped ÷ bare."""
    what, goal = "memory per worker after warm-up (RSS), wrapped ÷ bare", "≤ 40 MB wrapped (today 138 MB, bare 19)"
    if WRK is None:
        return [skipped(what, _NO_WRK, goal)]
    config = write_config(bench.folder, "memory", bench.api(0))
    short = max(1, round(bench.seconds / 3))
    sizes: list[dict[str, float]] = []
    for number in range(bench.rounds):
        size = {}
        for side in bench.alternate(number, ["bare", "wrapped"]):
            app = "apps:bare" if side == "bare" else "apps:wrapped()"
            url, process = bench.procs.gunicorn(f"memory-{side}", app, env={"BENCH_CONFIG": str(config)})
            try:
                for path in _PATHS.values():
                    wrk(url + path, seconds=short).check(f"memory warm-up {path}")
                if side == "wrapped":
                    wrk(url + "/", seconds=short, headers=(f"Cookie: {tags_cookie(url)}",)).check("memory: cookie")
                    wrk(url + "/leadkit/form", seconds=short).check("memory: form")
                    wrk(url + "/leadkit/order", seconds=short, post=True).check("memory: orders to a sync worker")
                size[side] = statistics.mean(rss_mb(pid) for pid in worker_pids(process.pid))
            finally:
                bench.procs.stop(process)
        sizes.append(size)
    return [Row(what, values=[s["wrapped"] / s["bare"] for s in sizes], goal=goal,
                absolute=f"bare {statistics.median(s['bare'] for s in sizes):.0f} MB, "
                         f"wrapped {statistics.median(s['wrapped'] for s in sizes):.0f} MB per worker (VmRSS)")]
