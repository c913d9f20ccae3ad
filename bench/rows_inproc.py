"""The rows measured in this process: CPU per order with its steps, a journal of a million leads
(health and the order's cost), ``import leadkit``, and ``leadkit report`` (``report.py``'s figure)."""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from configs import write_config
from context import Bench
from figures import Row, skipped
from fill import fill_journal
from pg import fill_pg
from orders_inproc import AGENT, JOURNAL, REPEATED_AGENT, SEND, Drive, Steps, call, drive, kit_for, new_agents, \
    tags_cookie

__all__ = ["import_time", "million", "order_cpu", "report_time"]

_VARIANTS = ("the same user agent", "a new user agent each")


def _orders_per_round(bench: Bench) -> int:
    return 100 if bench.quick else 400


def _drive_variants(bench: Bench, kit: Any, steps: Steps, rnd: random.Random) -> list[dict[str, Drive]]:
    cookie = tags_cookie(kit)
    fresh = new_agents(rnd)
    agents = {_VARIANTS[0]: lambda: iter(lambda: REPEATED_AGENT, None), _VARIANTS[1]: lambda: fresh}
    drive(kit, steps, 50, agents[_VARIANTS[1]](), cookie, rnd)  # warm-up: imports, templates, the first connection
    rounds = []
    for number in range(bench.rounds):
        rounds.append({variant: drive(kit, steps, _orders_per_round(bench), agents[variant](), cookie, rnd)
                       for variant in bench.alternate(number, _VARIANTS)})
    return rounds


def order_cpu(bench: Bench) -> list[Row]:
    """CPU per order, excluding the wait for the network, with a breakdown by step."""
    rows = []
    for label, pg_url in bench.journals():
        config = write_config(bench.folder, f"cpu{'-pg' if pg_url else ''}", bench.api(0), pg_url=pg_url, relay=False)
        steps = Steps()
        with kit_for(config, steps) as kit:
            rounds = _drive_variants(bench, kit, steps, random.Random(7))
        for variant, today in zip(_VARIANTS, ("1.8", "2.2")):
            drives = [r[variant] for r in rounds]
            rows.append(Row(f"CPU per order, network wait excluded: {variant}{label}", unit="ms",
                            values=[d.cpu_ms for d in drives], goal=f"≤ 0.5 ms (today {today} ms)",
                            absolute=f"wall {statistics.median(d.wall_ms for d in drives):.2f} ms per order "
                                     f"(fsyncs, the network's answer); {_orders_per_round(bench)} orders a round"))
        rows += _breakdown(rounds, label)
    problem = bench.pg_problem()
    if problem is not None:
        rows.append(skipped("CPU per order with a PostgreSQL journal", problem))
    return rows


def _breakdown(rounds: list[dict[str, Drive]], label: str) -> list[Row]:
    """Each step's CPU per order with the same user agent; its share, and its CPU with new agents, beside."""
    rows = []
    for step in (SEND, JOURNAL, AGENT, "the rest (request, form, desk, reply)"):
        same, new = ([_step(r[v], step) for r in rounds] for v in _VARIANTS)
        if any(value is None for value in same + new):
            rows.append(Row(f"  of which {step}{label}", note="n/a: not found in leadkit by that name"))
            continue
        share = statistics.median(s / r[_VARIANTS[0]].cpu_ms * 100 for s, r in zip(same, rounds))  # type: ignore[operator]
        rows.append(Row(f"  of which {step}{label}", unit="ms", values=same,  # type: ignore[arg-type]
                        absolute=f"{share:.0f} % of the order; with new agents "
                                 f"{statistics.median(new):.3f} ms"))  # type: ignore[type-var]
    return rows


def _step(run: Drive, step: str) -> float | None:
    if step.startswith("the rest"):
        return run.cpu_ms - sum(run.steps.values())
    return run.steps.get(step)


def million(bench: Bench) -> list[Row]:
    """``/leadkit/health`` and an order's cost with a million leads in the journal, and with none."""
    count = 100_000 if bench.quick else 1_000_000
    big = f"{count // 1000}k" if count < 1_000_000 else "1M"
    full = bench.folder / "million.db"
    filled = fill_journal(full, count)
    configs = {"empty": write_config(bench.folder, "empty", bench.api(0), relay=False),
               "full": write_config(bench.folder, "million", bench.api(0), relay=False)}
    rows = _million_rows(bench, configs, big, f"{full.stat().st_size / 1e6:.0f} MB filled in {filled:.0f} s", "")
    problem = bench.pg_problem()
    if problem is not None:
        return rows + [skipped(f"health and orders with {big} leads, PostgreSQL journal", problem)]
    with bench.pg_schema() as empty, bench.pg_schema() as full_url:
        try:
            started = time.perf_counter()
            fill_pg(full_url, count)
            filled = time.perf_counter() - started
        except Exception as exc:  # a schema of the PostgreSQL journal's own that this fill does not know
            return rows + [skipped(f"health and orders with {big} leads, PostgreSQL journal",
                                   f"the fill failed: {type(exc).__name__}: {str(exc).splitlines()[0][:100]}")]
        configs = {"empty": write_config(bench.folder, "empty-pg", bench.api(0), pg_url=empty, relay=False),
                   "full": write_config(bench.folder, "million-pg", bench.api(0), pg_url=full_url, relay=False)}
        return rows + _million_rows(bench, configs, big, f"filled in {filled:.0f} s", ", PostgreSQL journal")


def _million_rows(bench: Bench, configs: dict[str, Path], big: str, filled: str, label: str) -> list[Row]:
    health: dict[str, list[float]] = {"empty": [], "full": []}
    cost: dict[str, list[Drive]] = {"empty": [], "full": []}
    rnd = random.Random(11)
    for number in range(bench.rounds):
        for side in bench.alternate(number, ["empty", "full"]):
            steps = Steps()
            with kit_for(configs[side], steps) as kit:
                health[side].append(_health_ms(kit, 5 if bench.quick else 20))
                cookie = tags_cookie(kit)
                agents = iter(lambda: REPEATED_AGENT, None)
                drive(kit, steps, 20, agents, cookie, rnd)  # warm-up
                cost[side].append(drive(kit, steps, _orders_per_round(bench), agents, cookie, rnd))
    empty_ms = statistics.median(health["empty"])
    cpu = {side: statistics.median(d.cpu_ms for d in cost[side]) for side in cost}
    wall = {side: statistics.median(d.wall_ms for d in cost[side]) for side in cost}
    return [
        Row(f"/leadkit/health with {big} leads in the journal{label}", unit="ms", values=health["full"],
            goal="≤ 5 ms (today 54 ms)", absolute=f"empty journal {empty_ms:.2f} ms; {filled} (in process, wall)"),
        Row(f"order CPU with {big} leads ÷ an empty journal{label}",
            values=[f.cpu_ms / e.cpu_ms for f, e in zip(cost["full"], cost["empty"])], goal="1.0 (unchanged)",
            absolute=f"CPU {cpu['full']:.2f} vs {cpu['empty']:.2f} ms, wall {wall['full']:.2f} vs "
                     f"{wall['empty']:.2f} ms per order"),
    ]


def _health_ms(kit: Any, calls: int) -> float:
    """The median wall-clock ms of a ``GET /leadkit/health`` answered in process."""
    from orders_inproc import _order_environ

    spent = []
    for _ in range(calls + 2):
        environ = _order_environ("", REPEATED_AGENT, "203.0.113.7", "")
        environ.update({"REQUEST_METHOD": "GET", "PATH_INFO": "/leadkit/health", "CONTENT_LENGTH": "0"})
        started = time.perf_counter()
        status, _ = call(kit, environ)
        spent.append((time.perf_counter() - started) * 1000)
        if not status.startswith("200"):
            raise RuntimeError(f"/leadkit/health answered {status}")
    return statistics.median(spent[2:])


def _best_of(times: int, *code: str) -> float:
    """The fastest of ``times`` runs of ``python -c CODE`` for each code, in ms, interleaved."""
    best = {c: float("inf") for c in code}
    for _ in range(times):
        for c in code:
            started = time.perf_counter()
            _run([sys.executable, "-c", c])
            best[c] = min(best[c], (time.perf_counter() - started) * 1000)
    return [best[c] for c in code]  # type: ignore[return-value]


def import_time(bench: Bench) -> list[Row]:
    """``import leadkit``, and the middleware a worker imports, less Python's own start-up."""
    goal = "≤ 150 ms (today 1.07 s)"
    plain, package, middleware = [], [], []
    for number in range(bench.rounds):
        codes = bench.alternate(number, ["pass", "import leadkit", "from leadkit import LeadKit"])
        times = dict(zip(codes, _best_of(3, *codes)))
        plain.append(times["pass"])
        package.append(times["import leadkit"] - times["pass"])
        middleware.append(times["from leadkit import LeadKit"] - times["pass"])
    heaviest = ", ".join(f"{name} {ms:.0f} ms" for name, ms in _heaviest_imports())
    return [Row("`import leadkit`, Python's start-up subtracted", unit="ms", values=package, goal=goal,
                absolute=f"best of 3 a round; start-up {statistics.median(plain):.0f} ms"),
            Row("`from leadkit import LeadKit` (what a worker imports)", unit="ms", values=middleware, goal=goal,
                absolute=f"heaviest: {heaviest}")]


def _heaviest_imports(top: int = 3) -> list[tuple[str, float]]:
    """The third-party modules leadkit's own import first, by cumulative import time (``-X importtime``)."""
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", "from leadkit import LeadKit"],
                         capture_output=True, text=True, check=True).stderr
    parsed = []
    for line in err.splitlines():
        if line.startswith("import time:") and "|" in line and "cumulative" not in line:
            _, cumulative, name = line.split("|")
            parsed.append((len(name) - len(name.lstrip()), name.strip(), int(cumulative) / 1000))
    found, parents = {}, {}
    for depth, name, ms in reversed(parsed):  # a module is printed after the modules it imports
        parents[depth] = name
        parent = parents.get(depth - 2 if depth > 1 else -1, "")
        if not name.startswith("leadkit") and parent.startswith("leadkit"):
            found[name] = max(found.get(name, 0.0), ms)
    return sorted(found.items(), key=lambda item: -item[1])[:top]


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"`{' '.join(command[1:4])}` failed ({done.returncode}): {last[:200]}")


def report_time(bench: Bench) -> list[Row]:
    """``report.py``'s figure: ``leadkit report --by utm_source`` on 100,000 leads, in process and as a command."""
    import report  # bench/report.py
    from leadkit.journal import SQLiteJournal
    from leadkit.report import format_table, period

    path = bench.folder / "report.db"
    report.write_journal(path, 100_000)
    config = bench.folder / "report.toml"
    config.write_text(f'[network]\napi = "http://127.0.0.1:9/api"\n[offer]\noffer = 217\nflow = 42\ncountry = "kz"\n'
                      f'[journal]\npath = "{path}"\n')
    every_day = period(since=None, until=None, days=91, today=date.today())
    journal = SQLiteJournal(path)
    command = [sys.executable, "-m", "leadkit", "report", "--days", "91", "--config", str(config)]
    inside: list[float] = []
    whole: list[float] = []
    failed = ""

    def one() -> None:
        rows = journal.report(by="utm_source", since=every_day.since, until=every_day.until, landing=None)
        format_table(rows, by="utm_source", period=every_day)

    try:
        for _ in range(bench.rounds):
            inside.append(report.best_of(3, one) * 1000)
            if not failed:
                try:
                    whole.append(report.best_of(1, lambda: _run(command)) * 1000)
                except RuntimeError as exc:  # the command's own failure: the figure in process still stands
                    failed = str(exc)
    finally:
        journal.close()
    return [Row("leadkit report --by utm_source, 100k leads (bench/report.py), in process", unit="ms", values=inside,
                goal="< 1 s (issue 13)", absolute=failed or f"the whole command {statistics.median(whole):.0f} ms")]
