"""Sweep speed (issue 10): a 200-run sweep on a LocalCluster against the same runs one after another.

Workload: SmaCross over a grid of fast x slow (200 parameter sets by default, ``--runs N`` for
another count), each run one symbol (BENCH, synthetic 1m bars of ``app.data.sample``), streams 1m
only, one trailing day, over ``--sessions`` sessions (default 3) -- a small run, so the whole
check takes a few minutes on 2 cores.

  sweep      : ``python -m app.sweep SWEEP --workers W --quiet`` in a subprocess (a LocalCluster
               of W single-threaded worker processes, default one per core); timed from the
               process start to its exit (cluster start-up and shut-down included), and also by
               sweep.json's ``elapsed_s`` (cluster start to the last result);
  one by one : the same runs, in this process, one after another: ``app.sweep.task.run_one`` on
               the same task inputs (what each Dask task executes), no Dask;
  interleaved: the runs in ``--rounds`` chunks (default 4), each chunk first on a warm
               LocalCluster of the same size (in this process: ``app.sweep.cluster.open_client``),
               then one by one; the one-by-one time above is the sum of these chunks, so both
               sides see the same moments of a shared machine's load;
  speed-up   : one-by-one wall time / sweep wall time (whole process), and one-by-one / warm
               cluster time per round and in total (on 2 idle cores expect close to 2x; the
               cluster's start-up is a fixed ~1-2 s, so few runs show less). The load average is
               printed: on a machine shared with other work the ratios move with it; the CPU time
               per run (workers' and this process', getrusage) says whether a Dask worker itself
               costs more per run than a plain process.

Both are measured in the same script run, on the same store; rows of the two are compared figure
by figure (total return, Sharpe, drawdown, trades: they must be equal). Nothing here asserts on
time; the exit status is 0 unless a run fails or the figures differ. Run from the repo root:

    .venv/bin/python verify/bench_sweep.py [--runs 200] [--workers N] [--sessions 3] [--rounds 4] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "backend"))

COMPARED = ("total_return_pct", "sharpe", "max_drawdown_pct", "trades", "fills", "bars_processed")


def say(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def grid(runs: int) -> list[dict[str, int]]:
    """The first `runs` sets of a fast x slow grid (fast 2..21, slow 30, 32, ...: fast < slow in every one)."""
    fasts = list(range(2, 22))
    slows = [30 + 2 * i for i in range(-(-runs // len(fasts)))]
    return [{"fast": f, "slow": s} for s in slows for f in fasts][:runs]


def write_inputs(folder: Path, runs: int, sessions: int) -> Path:
    from app.data.sample import write_sample

    store = folder / "store"
    write_sample(store, symbols=("BENCH",), start=date(2024, 5, 1), end=date(2024, 6, 28), inject_gaps=False)
    base = {
        "session_name": "bench_sweep", "mode": "backtest", "calendar": "XNYS",
        "backtest": {"start_date": "2024-06-03", "end_date": "2024-06-28", "speed_multiplier": 0},
        "symbols": ["BENCH"], "streams": ["1m"],
        "historical": {"enable_quality": False, "data": [{"trailing_days": 1, "intervals": ["1m"]}]},
        "gap_filler": {"enable_session_quality": False},
        "data": {"store": str(store)},
        "strategy": {"class": "app.strategies.sma_cross:SmaCross", "params": {"fast": 10, "slow": 30, "quantity": 10}},
        "trading": {"starting_cash": 100000, "max_per_trade": 20000, "max_per_symbol": 20000,
                    "max_open_positions": 1, "commission_per_share": 0.005, "slippage_bps": 1},
    }
    from app.timing.calendar import TradingCalendar

    days = TradingCalendar("XNYS").sessions_in_range(date(2024, 6, 3), date(2024, 6, 28))[:sessions]
    base["backtest"]["end_date"] = days[-1].isoformat()
    (folder / "base.yaml").write_text(yaml.safe_dump(base, sort_keys=False))
    sets = grid(runs)
    sweep = {"sweep": {"name": "bench_sweep", "base_config": "base.yaml", "metric": "sharpe"},
             "params": {"list": sets}}
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep, sort_keys=False))
    return path


def run_sweep(sweep: Path, out: Path, workers: int) -> tuple[float, dict[str, Any], list[dict[str, Any]]]:
    import pandas as pd

    env = {**os.environ, "PYTHONPATH": str(REPO / "backend")}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "app.sweep", str(sweep), "--workers", str(workers), "--output",
                           str(out), "--quiet"], capture_output=True, text=True, env=env, cwd=REPO, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"the sweep failed (exit {proc.returncode}): {proc.stderr.strip()[-1500:]}")
    meta = json.loads((out / "sweep.json").read_text())
    rows = pd.read_parquet(out / "results.parquet").to_dict("records")
    return wall, meta, rows


def run_interleaved(sweep: Path, scratch: Path, workers: int, rounds: int
                    ) -> tuple[float, float, list[float], list[dict[str, Any]]]:
    """Run every run twice, in `rounds` chunks: the chunk on a warm LocalCluster, then the same chunk
    one by one in this process; return (cluster s, one-by-one s, per-round ratios, one-by-one rows)."""
    import logging

    from app.sweep.cluster import open_client
    from app.sweep.prepare import prepare
    from app.sweep.spec import load_sweep_spec
    from app.sweep.task import run_one

    logging.getLogger().setLevel(logging.WARNING)
    prepared = prepare(load_sweep_spec(sweep))
    tasks = [prepared.task(run, None, scratch) for run in prepared.runs]
    cluster_s = alone_s = 0.0
    ratios: list[float] = []
    rows: list[dict[str, Any]] = []
    with open_client(None, workers) as (client, _):
        client.gather([client.submit(run_one, t, pure=False) for t in tasks[: 2 * workers]])  # imports, caches
        for k in range(rounds):
            chunk = tasks[k::rounds]
            c0, t0 = sum(client.run(cpu_s).values()), time.perf_counter()
            client.gather([client.submit(run_one, t, pure=False) for t in chunk])
            on_cluster = time.perf_counter() - t0
            cluster_cpu = sum(client.run(cpu_s).values()) - c0
            c0, t0 = cpu_s(), time.perf_counter()
            rows += [run_one(t) for t in chunk]
            alone, alone_cpu = time.perf_counter() - t0, cpu_s() - c0
            cluster_s, alone_s = cluster_s + on_cluster, alone_s + alone
            ratios.append(alone / on_cluster)
            say(f"    round {k + 1}/{rounds}: {len(chunk)} runs, cluster {on_cluster:5.1f} s, "
                f"one by one {alone:5.1f} s ({alone / on_cluster:.2f}x), load average {os.getloadavg()[0]:.1f}; "
                f"CPU per run: workers {1000 * cluster_cpu / len(chunk):.0f} ms, "
                f"one by one {1000 * alone_cpu / len(chunk):.0f} ms")
    return cluster_s, alone_s, ratios, rows


def cpu_s() -> float:
    """CPU seconds (user + system) this process used so far (run on the workers too, by client.run)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def compare(sweep_rows: list[dict[str, Any]], alone_rows: list[dict[str, Any]]) -> list[str]:
    by_id = {r["run_id"]: r for r in sweep_rows}
    problems = []
    for row in alone_rows:
        other = by_id.get(row["run_id"])
        if other is None:
            problems.append(f"{row['run_id']}: missing from the sweep")
            continue
        for status in (row["status"], other["status"]):
            if status != "completed":
                problems.append(f"{row['run_id']}: status {status}: {row['error'] or other['error']}")
        for key in COMPARED:
            if row[key] != other[key]:
                problems.append(f"{row['run_id']}: {key} {other[key]!r} in the sweep, {row[key]!r} alone")
    return problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=200, help="parameter sets (runs) in the sweep (default 200)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="local cluster workers (default: cores)")
    p.add_argument("--sessions", type=int, default=3, help="sessions per run (default 3)")
    p.add_argument("--rounds", type=int, default=4, help="interleaved rounds of the warm comparison (default 4)")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = p.parse_args(argv)
    if min(args.runs, args.workers, args.sessions, args.rounds) < 1:
        p.error("--runs, --workers, --sessions and --rounds must be >= 1")
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        folder = Path(tmp)
        sweep = write_inputs(folder, args.runs, args.sessions)
        say(f"{args.runs} runs of SmaCross, 1 symbol x {args.sessions} sessions of 1m bars each; "
            f"{args.workers} workers, {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}")
        sweep_wall, meta, sweep_rows = run_sweep(sweep, folder / "out", args.workers)
        say(f"  sweep (LocalCluster, python -m app.sweep): {sweep_wall:6.1f} s wall  "
            f"{args.runs / sweep_wall:6.2f} runs/s   (sweep.json elapsed_s {meta['elapsed_s']:.1f} s: "
            f"{args.runs / meta['elapsed_s']:.2f} runs/s)")
        (folder / "scratch").mkdir()
        say(f"  interleaved, {args.rounds} rounds (each chunk on the warm cluster, then one by one here):")
        cluster_s, alone_wall, ratios, alone_rows = run_interleaved(sweep, folder / "scratch", args.workers,
                                                                    args.rounds)
        say(f"  one by one (one process, run_one):        {alone_wall:6.1f} s wall  "
            f"{args.runs / alone_wall:6.2f} runs/s")
        speedup = alone_wall / sweep_wall
        say(f"  speed-up of the sweep over one by one: {speedup:.2f}x (python -m app.sweep's whole process); "
            f"{alone_wall / cluster_s:.2f}x on the warm cluster, same moments "
            f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)})")
        say(f"  load average at the end: {os.getloadavg()[0]:.1f} (other processes share these cores: ratios "
            "move with them)")
        problems = compare(sweep_rows, alone_rows)
        say("  figures: " + ("equal in every run" if not problems else f"{len(problems)} DIFFER: {problems[:3]}"))
        figures = {"runs": args.runs, "workers": args.workers, "cores": os.cpu_count(), "sessions": args.sessions,
                   "sweep_wall_s": sweep_wall, "sweep_elapsed_s": meta["elapsed_s"], "one_by_one_s": alone_wall,
                   "sweep_runs_per_s": args.runs / sweep_wall, "one_by_one_runs_per_s": args.runs / alone_wall,
                   "speedup": speedup, "warm_cluster_s": cluster_s, "warm_speedup": alone_wall / cluster_s,
                   "round_speedups": ratios, "figures_equal": not problems}
        if args.json:
            Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
