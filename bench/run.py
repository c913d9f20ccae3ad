"""``make bench``: leadkit measured against the bare site and against the limit, on this machine.

Prints one table: each row a ratio (or a time, a rate) as the median over R interleaved rounds with
its spread (min–max), the absolute figures beside it, and the goal from issue 14. A round measures both
sides of a ratio back to back, in alternating order, so that a machine busy with something else for
a while weighs on both sides alike.

    make bench                              # every row, 5 rounds (BENCH_ROUNDS=N for another number)
    make bench QUICK=1                      # a smoke run: 2 rounds, short loads, a 100k journal
    make bench BENCH=pass,order             # some rows: pass order floor orders php form memory import health report
    BENCH_PG_URL=postgresql://... make bench  # the journal rows against PostgreSQL too (journal.url)
    .venv/bin/python bench/run.py --help    # the same, without make (--markdown: the table for the README)

Everything it writes goes to a temporary folder, removed at the end (kept, and named, when a row
fails: the servers' logs are there). Every process it starts is stopped before it returns.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Callable

sys.dont_write_bytecode = True  # bench/ keeps no generated files: no __pycache__ beside the sources
os.environ["PYTHONDONTWRITEBYTECODE"] = "1"  # nor in the servers it starts (gunicorn imports bench/apps.py)

from context import Bench  # noqa: E402
from figures import Row, markdown, table  # noqa: E402
from procs import Processes  # noqa: E402

#: The rows in the order the table shows them, by the name ``BENCH=`` selects them with.
ROWS = ("pass", "order", "floor", "orders", "php", "form", "memory", "import", "health", "report")


def _row_functions() -> dict[str, Callable[[Bench], list[Row]]]:
    from floors import floors
    from rows_http import form_page, memory, orders, pass_through
    from rows_inproc import import_time, million, order_cpu, report_time
    from rows_php import php

    return {"pass": pass_through, "order": order_cpu, "floor": floors, "orders": orders, "php": php, "form": form_page,
            "memory": memory, "import": import_time, "health": million, "report": report_time}


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK", "") not in ("", "0"),
                        help="a smoke run: 2 rounds, 2 s loads, a journal of 100k leads instead of 1M")
    parser.add_argument("--rows", default=os.environ.get("BENCH", ""),
                        help=f"comma-separated, among {', '.join(ROWS)} (default: all; env BENCH)")
    parser.add_argument("--markdown", action="store_true", help="print the table in Markdown (for the README)")
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS") or 0) or None,
                        help="interleaved rounds (default 5, 2 with --quick; env BENCH_ROUNDS)")
    args = parser.parse_args(argv)
    args.rows = [r.strip() for r in args.rows.split(",") if r.strip()] or list(ROWS)
    unknown = [r for r in args.rows if r not in ROWS]
    if unknown:
        parser.error(f"unknown rows {unknown}: choose among {', '.join(ROWS)}")
    args.rounds = args.rounds or (2 if args.quick else 5)
    return args


def machine() -> str:
    """nproc, the CPU model and the load average, for the line under the table."""
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "unknown CPU")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} cores (nproc {len(os.sched_getaffinity(0))}), {model}, load average {load}"


def reference_ms() -> float:
    """The CPU ms of a fixed Python loop (a million additions), best of three: how fast this machine runs
    Python just now, so that absolute figures from two runs can be compared (contention, a slower host)."""
    best = float("inf")
    for _ in range(3):
        started, total = time.process_time(), 0
        for i in range(1_000_000):
            total += i
        best = min(best, time.process_time() - started)
    return best * 1000


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so that every server started is stopped on the way out


def main(argv: list[str]) -> int:
    args = _arguments(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    folder = Path(tempfile.mkdtemp(prefix="leadkit-bench-"))
    procs = Processes(folder)
    bench = Bench(rounds=args.rounds, quick=args.quick, folder=folder, procs=procs,
                  seconds=2 if args.quick else 5, warmup=1 if args.quick else 2,
                  pg_url=os.environ.get("BENCH_PG_URL") or None)
    before, reference = machine(), reference_ms()
    functions = _row_functions()
    rows: list[Row] = []
    failed = []
    started = time.monotonic()
    try:
        for name in ROWS:
            if name not in args.rows:
                continue
            print(f"bench: {name} ({time.monotonic() - started:.0f} s in)", file=sys.stderr, flush=True)
            try:
                rows += functions[name](bench)
            except Exception as exc:  # one row failing must not cost the others
                traceback.print_exc(file=sys.stderr)
                failed.append(name)
                rows.append(Row(f"{name}: failed", note=f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:90]}"))
    finally:
        procs.stop_all()
    if os.environ.get("MAKELEVEL"):
        command = " ".join(["make bench", *(["QUICK=1"] if args.quick else []),
                            *([f"BENCH={','.join(args.rows)}"] if len(args.rows) < len(ROWS) else [])])
    else:
        command = shlex.join(["bench/run.py", *argv])
    print(markdown(rows) if args.markdown else table(rows))
    print(f"\nmachine: {before} at the start, {machine().rsplit(', ', 1)[1]} at the end; a reference Python "
          f"loop (10^6 additions) {reference:.0f} ms CPU at the start, {reference_ms():.0f} ms at the end")
    print(f"command: {command} ({args.rounds} rounds, {bench.seconds:g} s loads; wrk -t2 -c16 for pages, -c32 with "
          f"post.lua for orders{'; BENCH_PG_URL set' if bench.pg_url else ''}); took {time.monotonic() - started:.0f} s")
    if failed:
        print(f"failed rows: {', '.join(failed)}; the servers' logs are in {folder}", file=sys.stderr)
        return 1
    shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
