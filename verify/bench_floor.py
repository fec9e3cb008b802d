"""Throughput against a floor (issue 7): the product's bars/s as a ratio to a plain Python loop.

Machine speed here varies about 2x from day to day, so the target is a ratio to a floor measured
in the same run, on the same data:

  floor    : one single-threaded Python loop over the bars (numpy arrays read from the same
             Parquet files, sliced to the run's sessions with TimeManager and put in (time,
             symbol) order before the timer starts), doing what SmaCross + SimulatedBroker do: SMA 10/30 of close by
             running sums (warmed on the trading day before the first session), ``above = fast >
             slow`` with the remembered state kept across sessions (issue 8), a market day buy
             of 10 when it turns true and flat, a close when it turns false and long, fills at
             the symbol's next bar's open with slippage and commission (an order still pending
             at the close expires unless it was placed at the close), the risk limits of the
             config (a symbol counts as open while it has a position or a pending order), and
             one equity point (cash + positions at last close) per time step.
             Only the loop is timed; best of --repeat. The same loop on Python lists (no numpy
             scalars) is printed too, as a stricter reference.
  product  : ``app.runtime.run.run`` in-process on the same workload (the session config of
             backend/tests/e2e/test_golden_outputs.py ``_bench_config``: streams 1m only,
             1 trailing day of 1m, SmaCross 10/30 x 10), best of --repeat;
             bars/s = ``bars_processed / metrics.backtest.total_time_s``.
  ratio    : product / floor bars/s (target >= 0.50); fills of the two compared row by row
             (the product is the reference; the first difference is printed); peak RSS of this
             process after the product runs (ru_maxrss, before the floor loads its data).
  process  : wall time of ``python -m app.backtest CFG --output DIR --quiet`` in a subprocess,
             best of --process-runs (default 3; target < 1.2 s), each run's phases from
             summary.json ``metrics.breakdown`` (startup / run / outputs), their best and
             median over the runs, and any other timing breakdown summary.json has. Each
             run (``--outputs process``: an output writer process encodes the files while the
             run goes on) is followed by one with ``--outputs inline`` (the files written after
             the run, in the run's process) for comparison; the output writer process's own
             CPU and peak RSS (summary.json ``metrics.process.writer``) are printed.

Workload: 1m bars of the sample generator (``app.data.sample.write_sample``) for one symbol
BENCH, or N symbols S000.. with --symbols N, over --years years ending 2023 (plus trailing days
from Dec 20 of the year before). Generating a store takes a while for many symbols: pass --store
DIR to keep it (it is reused when it holds the same symbols and years). Run from the repo root:

    .venv/bin/python verify/bench_floor.py [--symbols 1] [--years 1] [--repeat 3]
                                            [--store DIR] [--no-process] [--json FILE]
                                            [--process-runs N]
                                            [--prepare-only]

--json writes the figures as JSON (verify/bench_scaling.py reads them); --prepare-only only
writes the --store (so that generating it does not count in a later run's peak RSS). Nothing
here asserts on time; the exit status is 0 unless the floor itself cannot run.
"""

from __future__ import annotations

import argparse
import compileall
import csv
import json
import math
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "backend"))

from app.config import load_session_config  # noqa: E402
from app.data.sample import write_sample  # noqa: E402
from app.runtime.run import run  # noqa: E402
from app.store.bar import parse_interval  # noqa: E402
from app.store.files import bar_path, read_bars_file  # noqa: E402
from app.timing.time_manager import TimeManager  # noqa: E402

LAST_YEAR = 2023
CALENDAR = "XNYS"
BASE = "1m"
FAST, SLOW, QUANTITY = 10, 30, 10
TRADING: dict[str, Any] = {
    "starting_cash": 100000, "max_per_trade": 50000, "max_per_symbol": 50000,
    "max_open_positions": 1, "commission_per_share": 0.005, "slippage_bps": 1,
}
COMMISSION_MIN = 0.0  # the config's default (not set in the trading block)
RATIO_TARGET = 0.50
PROCESS_TARGET_S = 1.2
STORE_MARK = "bench_store.json"
# Prices are in cents, so the two SMAs are often exactly equal; the product then decides
# ``fast > slow`` by the rounding of numpy's window sums, while running sums round differently.
# Below TIE (far above running-sum drift, below the smallest non-zero cent-price difference of
# the two means, 1/3000 cent), the floor recomputes both means as the product does.
TIE = 1e-6


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def symbol_names(n: int) -> tuple[str, ...]:
    return ("BENCH",) if n == 1 else tuple(f"S{i:03d}" for i in range(n))


# -- workload -------------------------------------------------------------------------------


def ensure_store(store: Path, symbols: tuple[str, ...], years: int) -> None:
    """Write the sample store unless `store` already holds it (a mark file says what it holds)."""
    want = {"symbols": list(symbols), "years": years, "last_year": LAST_YEAR}
    mark = store / STORE_MARK
    if mark.is_file() and json.loads(mark.read_text()) == want:
        return
    if store.exists() and any(store.iterdir()):
        raise SystemExit(f"{store} holds something other than this workload; "
                         "pass an empty or new --store")
    t0 = time.perf_counter()
    write_sample(store, symbols=symbols, start=date(LAST_YEAR - years, 12, 20),
                 end=date(LAST_YEAR, 12, 31))
    mark.write_text(json.dumps(want))
    say(f"sample store written in {time.perf_counter() - t0:.1f} s: {store}")


def write_config(path: Path, store: Path, symbols: tuple[str, ...], years: int) -> Path:
    """The session config of test_golden_outputs._bench_config, for these symbols and years."""
    path.write_text(yaml.safe_dump({
        "session_name": "bench",
        "mode": "backtest",
        "backtest": {"start_date": f"{LAST_YEAR - years + 1}-01-01",
                     "end_date": f"{LAST_YEAR}-12-31", "speed_multiplier": 0},
        "symbols": list(symbols),
        "streams": [BASE],
        "historical": {"data": [{"trailing_days": 1, "intervals": [BASE]}]},
        "data": {"store": str(store)},
        "strategy": {"class": "app.strategies.sma_cross:SmaCross",
                     "params": {"fast": FAST, "slow": SLOW, "quantity": QUANTITY}},
        "trading": TRADING,
    }))
    return path


# -- the floor ------------------------------------------------------------------------------


@dataclass
class FloorData:
    """Per symbol (start, open, close) arrays and per session [lo, hi) rows; row 0 of `bounds`
    is the warm-up day (the trading day before the first session)."""

    symbols: tuple[str, ...]
    bounds: np.ndarray  # (sessions + 1, 2) open/close ns
    start: list[np.ndarray]
    open: list[np.ndarray]
    close: list[np.ndarray]
    lo: list[np.ndarray]
    hi: list[np.ndarray]


@dataclass
class FloorResult:
    bars: int = 0
    seconds: float = 0.0
    cpu_s: float = 0.0  # CPU time of the timed loop (steadier than wall time on a loaded machine)
    fills: list[tuple[int, int, int, float, float]] = field(default_factory=list)
    equity_t: list[int] = field(default_factory=list)
    equity: list[float] = field(default_factory=list)
    rejected: int = 0
    ties: int = 0  # near-ties recomputed the product's way


def load_floor_data(store: Path, symbols: tuple[str, ...], years: int) -> FloorData:
    tm = TimeManager(CALENDAR)
    days = tm.trading_days(date(LAST_YEAR - years + 1, 1, 1), date(LAST_YEAR, 12, 31))
    warm = tm.previous_trading_date(days[0])
    bounds = np.array([tm.session_bounds_ns(d) for d in (warm, *days)], dtype=np.int64)
    data = FloorData(symbols, bounds, [], [], [], [], [])
    interval = parse_interval(BASE)
    for symbol in symbols:
        bars = read_bars_file(bar_path(store, interval, symbol))
        first = int(np.searchsorted(bars.start, bounds[0, 0]))
        last = int(np.searchsorted(bars.start, bounds[-1, 1]))
        start = bars.start[first:last].copy()
        data.start.append(start)
        data.open.append(bars.open[first:last].copy())
        data.close.append(bars.close[first:last].copy())
        data.lo.append(np.searchsorted(start, bounds[:, 0]))
        data.hi.append(np.searchsorted(start, bounds[:, 1]))
    return data


def window_mean(ws: list[float], k: int, period: int) -> float:
    """The product's SMA value at row k: numpy's sum of the window (pairwise order) / period."""
    return float(np.add.reduce(np.array(ws[k - period + 1:k + 1]))) / period


def run_floor(data: FloorData, on_lists: bool = False) -> FloorResult:  # noqa: C901
    """SmaCross + SimulatedBroker as one plain loop; only the per-session loops are timed.

    The loop reads numpy arrays (the issue's floor: "a plain Python loop doing the same
    strategy on numpy arrays"); `on_lists` converts them to Python lists first, a stricter
    floor (no numpy scalars) printed alongside.
    """
    n = len(data.symbols)
    bps = TRADING["slippage_bps"] / 1e4
    buy_mult, sell_mult = 1.0 + bps, 1.0 - bps
    per_share = TRADING["commission_per_share"]
    max_trade, max_symbol = TRADING["max_per_trade"], TRADING["max_per_symbol"]
    max_open = TRADING["max_open_positions"]
    res = FloorResult()
    fills, eq_t, eq = res.fills, res.equity_t, res.equity
    cash = float(TRADING["starting_cash"])
    reserved = 0.0  # estimated cost of pending buys (risk: available cash)
    exposed = 0  # symbols with a position or a pending order (risk: open positions)
    pos, pending, last = [0] * n, [0] * n, [0.0] * n
    placed_end = [0] * n  # when the pending order was placed (the end of the bar that signalled)
    bar_ns = parse_interval(BASE).ns
    above: list[bool | None] = [None] * n  # SmaCross keeps it across sessions (issue 8)
    reserve = [0.0] * n
    held: list[int] = []
    fast_sum, slow_sum = [0.0] * n, [0.0] * n
    tails: list[list[float]] = []
    # Warm-up on the trading day before the first session (history: sums only, no trading).
    for s in range(n):
        ws = data.close[s][data.lo[s][0]:data.hi[s][0]].tolist()
        f = sl = 0.0
        for k, c in enumerate(ws):
            f += c
            if k >= FAST:
                f -= ws[k - FAST]
            sl += c
            if k >= SLOW:
                sl -= ws[k - SLOW]
        fast_sum[s], slow_sum[s] = f, sl
        tails.append(ws[-SLOW:])
    for d in range(1, data.bounds.shape[0]):
        # Untimed: this session's bars in (time, symbol) order as lists; k is the bar's index in
        # its symbol's window list (the last SLOW closes before the session, then the session).
        lo = [int(data.lo[s][d]) for s in range(n)]
        hi = [int(data.hi[s][d]) for s in range(n)]
        t_all = np.concatenate([data.start[s][lo[s]:hi[s]] for s in range(n)])
        order = np.argsort(t_all, kind="stable")
        s_all = np.concatenate([np.full(hi[s] - lo[s], s) for s in range(n)])
        k_all = np.concatenate([np.arange(hi[s] - lo[s]) + len(tails[s]) for s in range(n)])
        o_all = np.concatenate([data.open[s][lo[s]:hi[s]] for s in range(n)])
        c_all = np.concatenate([data.close[s][lo[s]:hi[s]] for s in range(n)])
        cols = [a[order] for a in (t_all, s_all, k_all, o_all, c_all)]
        windows: list[Any] = [
            np.concatenate((np.asarray(tails[s], dtype=np.float64), data.close[s][lo[s]:hi[s]]))
            for s in range(n)]
        if on_lists:
            cols = [a.tolist() for a in cols]
            windows = [w.tolist() for w in windows]
        # One time step is rows [lo, hi) of the sorted columns: its bars are all marked first
        # (pending orders fill), then the strategy runs per bar (the product's visibility rule).
        sizes = np.diff(np.flatnonzero(np.diff(cols[0], prepend=-1, append=-1))).tolist()
        ts, ss, ks, os_, cs = cols
        res.bars += len(ts)

        t0, c0 = time.perf_counter(), time.thread_time()
        rows = zip(ts, ss, ks, os_, cs, strict=True)
        for size in sizes:
            step = list(islice(rows, size))
            t = step[0][0]
            for _, s, _, o, c in step:
                p = pending[s]
                if p:  # a market order placed on an earlier bar fills at this open
                    pending[s] = 0
                    commission = max(COMMISSION_MIN, abs(p) * per_share)
                    if p > 0:
                        reserved -= reserve[s]
                        price = o * buy_mult
                        if p * price + commission > cash:  # insufficient cash at fill
                            exposed -= 1
                            res.rejected += 1
                        else:
                            cash -= p * price + commission
                            pos[s] += p
                            held.append(s)
                            fills.append((t, s, p, price, commission))
                    else:
                        price = o * sell_mult
                        cash -= p * price + commission
                        pos[s] += p
                        held.remove(s)
                        exposed -= 1  # flat, nothing pending: no longer an open position
                        fills.append((t, s, p, price, commission))
                last[s] = c
            for _, s, k, _, c in step:
                ws = windows[s]
                f = fast_sum[s] + c
                if k >= FAST:
                    f -= ws[k - FAST]
                fast_sum[s] = f
                sl = slow_sum[s] + c
                if k >= SLOW:
                    sl -= ws[k - SLOW]
                slow_sum[s] = sl
                if k < SLOW - 1:  # fewer than SLOW closes so far: the SMA is NaN
                    continue
                fa, sa = f / FAST, sl / SLOW
                if -TIE < fa - sa < TIE:  # a near-tie: decide it with the product's arithmetic
                    fa, sa = window_mean(ws, k, FAST), window_mean(ws, k, SLOW)
                    res.ties += 1
                up = fa > sa
                was = above[s]
                above[s] = up
                if was is None or up == was:
                    continue
                notional = QUANTITY * c if up else pos[s] * c
                if up and pos[s] == 0:  # buy, through the risk checks (last close as reference)
                    cost = QUANTITY * (c * buy_mult) + max(COMMISSION_MIN, QUANTITY * per_share)
                    if (notional > max_trade or notional > max_symbol or exposed >= max_open
                            or cost > cash - reserved):
                        res.rejected += 1
                    else:
                        pending[s] = QUANTITY
                        placed_end[s] = t + bar_ns
                        reserve[s] = cost
                        reserved += cost
                        exposed += 1
                elif not up and pos[s] > 0:  # close
                    if notional > max_trade:
                        res.rejected += 1
                    else:
                        pending[s] = -pos[s]
                        placed_end[s] = t + bar_ns
            value = cash  # one equity point per time step, after its bars
            for j in held:
                value += pos[j] * last[j]
            eq_t.append(t)
            eq.append(value)
        res.seconds += time.perf_counter() - t0
        res.cpu_s += time.thread_time() - c0
        close_ns = int(data.bounds[d][1])
        for s in range(n):  # day orders placed before the close expire (placed at it: next session)
            if pending[s] and placed_end[s] < close_ns:
                if pending[s] > 0:
                    reserved -= reserve[s]
                    exposed -= 1
                pending[s] = 0
        tails = [w[-SLOW:] for w in windows]
    return res


def floor_fill_rows(res: FloorResult, symbols: tuple[str, ...]) -> list[list[str]]:
    """The floor's fills as fills.csv rows: timestamp, symbol, side, quantity, price, commission."""
    stamps = TimeManager(CALENDAR).isoformat_many(np.array([f[0] for f in res.fills], np.int64))
    return [[stamp, symbols[s], "buy" if q > 0 else "sell", str(abs(q)), f"{price:.4f}",
             f"{commission:.4f}"]
            for stamp, (_, s, q, price, commission) in zip(stamps, res.fills, strict=True)]


# -- the product ----------------------------------------------------------------------------


def run_product(cfg_path: Path, out_root: Path, repeat: int) -> dict[str, Any]:
    config = load_session_config(cfg_path)
    best: dict[str, Any] = {}
    for i in range(repeat):
        out = out_root / f"product{i}"
        summary = run(config, out).summary
        bars = summary["bars_processed"]
        seconds = summary["metrics"]["backtest"]["total_time_s"]
        rate = bars / seconds
        outputs_s = (summary["metrics"].get("breakdown") or {}).get("outputs_s")
        say(f"product run {i + 1}/{repeat}: {bars:,} bars in {seconds:.3f} s = {rate:,.0f} bars/s"
            + (f"; outputs {outputs_s:.3f} s (every file, report.html included)" if outputs_s is not None else ""))
        if not best or rate > best["bars_per_s"]:
            best = {"bars_per_s": rate, "bars": bars, "seconds": seconds, "out": out,
                    "rejected": summary["trading"]["rejected_orders"], "outputs_s": outputs_s}
    return best


def paired_ratios(cfg_path: Path, out_root: Path, data: FloorData,
                  pairs: int) -> tuple[list[float], list[float], list[float]]:
    """Floor then product, back to back, `pairs` times: one ratio per pair.

    On a shared machine the load drifts between the best-of runs of each side; a ratio taken
    from two runs a second apart sees (nearly) the same load, so the median of these is the
    steadier figure. The CPU-time ratio (floor loop CPU / the product's whole in-process run,
    every thread, build and outputs included) is steadier still: it says what the wall ratio
    would be on an idle machine if no thread ever waited on another.
    """
    config = load_session_config(cfg_path)
    ratios: list[float] = []
    cpu_ratios: list[float] = []
    thread_ratios: list[float] = []
    for i in range(pairs):
        f = run_floor(data)
        floor_rate = f.bars / f.seconds
        c0 = time.process_time()  # every thread's CPU: build, the four threads, outputs
        summary = run(config, out_root / f"pair{i}").summary
        cpu_s = time.process_time() - c0
        rate = summary["bars_processed"] / summary["metrics"]["backtest"]["total_time_s"]
        ratios.append(rate / floor_rate)
        cpu_ratios.append(f.cpu_s / cpu_s)
        # The four pipeline threads' CPU (summary metrics.threads), without build and outputs.
        threads_s = sum(t["cpu_s"] for t in summary["metrics"].get("threads", {}).values())
        if threads_s:
            thread_ratios.append(f.cpu_s / threads_s)
        say(f"pair {i + 1}/{pairs}: floor {floor_rate:,.0f} bars/s, product {rate:,.0f} bars/s, "
            f"ratio {rate / floor_rate:.2f}; CPU floor {f.cpu_s:.3f} s, product {cpu_s:.3f} s "
            f"(build and outputs included), ratio {f.cpu_s / cpu_s:.2f}"
            + (f"; the four threads {threads_s:.3f} s, ratio {f.cpu_s / threads_s:.2f}" if threads_s else ""))
    return ratios, cpu_ratios, thread_ratios


def read_fills(out: Path) -> list[list[str]]:
    with (out / "fills.csv").open(newline="") as fh:
        return list(csv.reader(fh))[1:]


def last_equity(out: Path) -> tuple[int, float]:
    lines = (out / "equity.csv").read_text().splitlines()
    return len(lines) - 1, float(lines[-1].split(",")[1]) if len(lines) > 1 else math.nan


def compare_fills(product: list[list[str]], floor: list[list[str]]) -> bool:
    same = product == floor
    say(f"fills: product {len(product):,}, floor {len(floor):,} -> "
        f"{'equal, row by row' if same else 'DIFFERENT'}")
    if not same:
        i = next((i for i, (a, b) in enumerate(zip(product, floor, strict=False)) if a != b),
                 min(len(product), len(floor)))
        say(f"  first difference at fill {i + 1}:")
        say(f"    product: {','.join(product[i]) if i < len(product) else '(none)'}")
        say(f"    floor:   {','.join(floor[i]) if i < len(floor) else '(none)'}")
    return same


# -- the whole process ----------------------------------------------------------------------

_KNOWN_METRICS = {"backtest", "clock", "counters", "process", "stages"}


def breakdown(metrics: dict[str, Any]) -> dict[str, Any]:
    """Whatever startup / load / run / outputs timings summary.json has under metrics."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if key not in _KNOWN_METRICS:
            out[key] = value
    words = ("startup", "import", "build", "load", "output", "write", "phase", "wall")
    for key, value in metrics.get("backtest", {}).items():
        if any(w in key for w in words):
            out[f"backtest.{key}"] = value
    return out


_PHASES = ("startup_s", "run_s", "outputs_s")


def _process_run(cfg_path: Path, out: Path, way: list[str]) -> tuple[float, dict[str, Any]] | None:
    # One ``python -m app.backtest`` run: (wall s, its summary.json), None if it failed (printed).
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "app.backtest", str(cfg_path), "--output",
                           str(out), "--quiet", *way], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        say(f"process run {' '.join(way)}: exit {proc.returncode}: {proc.stderr.strip()[-800:]}")
        return None
    return wall, json.loads((out / "summary.json").read_text())


def _say_run(which: str, way: str, wall: float, doc: dict[str, Any]) -> None:
    phases = doc.get("metrics", {}).get("breakdown") or {}
    split = " = " + " + ".join(f"{key.removesuffix('_s')} {phases[key]:.3f}" for key in _PHASES
                               if key in phases) if phases else ""
    if way == "inline":
        say(f"  (inline run {which}: {wall:.3f} s wall{split})")
        return
    writer = doc.get("metrics", {}).get("process", {}).get("writer") or {}
    say(f"process run {which}: {wall:.3f} s wall{split}; output writer process CPU "
        f"{writer.get('cpu_s', float('nan')):.2f} s, peak RSS {writer.get('peak_rss_mb', float('nan')):.0f} MB")


def time_process(cfg_path: Path, out_root: Path, times: int = 3) -> dict[str, Any]:
    # The package's .pyc files first, as a checkout has them from its first run on: with
    # PYTHONDONTWRITEBYTECODE set, a module edited since the last compile was compiled in every run.
    compileall.compile_dir(REPO / "backend" / "app", quiet=1)
    samples: dict[str, dict[str, list[float]]] = {"process": {}, "inline": {}}  # per way: wall_s and _PHASES
    summary: dict[str, Any] = {}
    for i in range(times):
        for way in ("process", "inline"):  # an output writer process, then the files written inline
            done = _process_run(cfg_path, out_root / f"process{i}-{way}", ["--outputs", way])
            if done is None:
                return {"wall_s": None}
            wall, doc = done
            phases = doc.get("metrics", {}).get("breakdown") or {}
            for key, value in (("wall_s", wall), *((k, phases[k]) for k in _PHASES if k in phases)):
                samples[way].setdefault(key, []).append(float(value))
            _say_run(f"{i + 1}/{times}", way, wall, doc)
            summary = doc if way == "process" else summary
    walls = samples["process"]["wall_s"]
    metrics = summary.get("metrics", {})
    pipeline_s = metrics.get("backtest", {}).get("total_time_s")
    stages = metrics.get("stages", {})
    load_ms = sum(stages.get(k, {}).get("total_ms", 0.0)
                  for k in ("data_loading_initial", "data_loading_subsequent"))
    if pipeline_s is not None:
        say(f"last process run: {walls[-1]:.3f} s wall = pipeline {pipeline_s:.3f} s "
            f"(metrics.backtest.total_time_s; data loading stages {load_ms / 1e3:.3f} s) "
            f"+ {walls[-1] - pipeline_s:.3f} s outside it (interpreter, imports, build, outputs)")
    phases = metrics.get("breakdown") or {}
    if {"startup_s", "run_s", "outputs_s"} <= set(phases):
        # The product's honest breakdown: outputs_s covers every output file, report.html included.
        rest = walls[-1] - phases["startup_s"] - phases["run_s"] - phases["outputs_s"]
        say(f"last process run: {walls[-1]:.3f} s wall = startup {phases['startup_s']:.3f} s (process start to "
            f"run start) + run {phases['run_s']:.3f} s (loading {phases.get('load_s', 0.0):.3f} s) "
            f"+ outputs {phases['outputs_s']:.3f} s (all files, report.html included) + {rest:.3f} s "
            f"other (interpreter start before the clock, exit)")
    stats, inline = ({key: {"best": min(v), "median": statistics.median(v)} for key, v in samples[way].items()}
                     for way in ("process", "inline"))
    for label, figures in (("process", stats), ("  --outputs inline, alternating", inline)):
        say(f"{label} over {len(walls)} runs, best / median: " + " | ".join(
            f"{key.removesuffix('_s')} {v['best']:.3f} / {v['median']:.3f} s" for key, v in figures.items()))
    found = breakdown(metrics)
    if found:
        say("timing breakdown in summary.json metrics (last process run):")
        for key, value in found.items():
            say(f"  {key}: {json.dumps(value, sort_keys=True)}")
    else:
        say(f"no startup/load/run/outputs breakdown in summary.json metrics "
            f"(keys: {', '.join(sorted(metrics))})")
    return {"wall_s": min(walls), "walls_s": walls, "breakdown": found, "phases": stats, "inline": inline}


# -- main -----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=1, help="1: BENCH; N > 1: S000..")
    parser.add_argument("--years", type=int, default=1, help="years ending 2023 (default 1)")
    parser.add_argument("--repeat", type=int, default=3, help="product and floor runs, best kept")
    parser.add_argument("--pairs", type=int, default=5,
                        help="back-to-back floor/product pairs for the median paired ratio (0: none)")
    parser.add_argument("--store", type=Path, help="sample store to reuse or create")
    parser.add_argument("--no-process", action="store_true", help="skip the subprocess timing")
    parser.add_argument("--process-runs", type=int, default=3,
                        help="whole-process runs timed (best and median printed; default 3)")
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    parser.add_argument("--prepare-only", action="store_true",
                        help="write the --store (if needed) and exit")
    args = parser.parse_args()
    symbols = symbol_names(args.symbols)
    figures: dict[str, Any] = {"symbols": len(symbols), "years": args.years}
    if args.prepare_only:
        if args.store is None:
            parser.error("--prepare-only needs --store")
        ensure_store(args.store, symbols, args.years)
        return 0

    with tempfile.TemporaryDirectory(prefix="bench_floor_") as tmp:
        tmp_path = Path(tmp)
        store = args.store or tmp_path / "store"
        ensure_store(store, symbols, args.years)
        cfg_path = write_config(tmp_path / "bench.yaml", store, symbols, args.years)
        say(f"workload: {len(symbols)} symbol(s) x {args.years} year(s) of {BASE} bars, "
            f"SmaCross {FAST}/{SLOW} x {QUANTITY}, store {store}")

        # The product first, so that peak RSS is the product's, not the floor's lists.
        product: dict[str, Any] = {}
        try:
            product = run_product(cfg_path, tmp_path, args.repeat)
        except Exception as e:  # noqa: BLE001 -- others edit the product: report and go on
            say(f"product run failed: {type(e).__name__}: {e}")
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        figures["peak_rss_mb"] = peak_mb if product else None
        if product:
            say(f"peak RSS after the product runs: {peak_mb:.0f} MB")

        data = load_floor_data(store, symbols, args.years)
        floor = min((run_floor(data) for _ in range(args.repeat)), key=lambda r: r.seconds)
        floor_rate = floor.bars / floor.seconds
        strict = min((run_floor(data, on_lists=True) for _ in range(args.repeat)),
                     key=lambda r: r.seconds)
        strict_rate = strict.bars / strict.seconds
        figures["floor_lists_bars_per_s"] = strict_rate
        say(f"floor: best of {args.repeat}: {floor.bars:,} bars in {floor.seconds:.3f} s = "
            f"{floor_rate:,.0f} bars/s, "
            f"{len(floor.fills):,} fills, {floor.rejected:,} orders rejected, "
            f"{len(floor.equity):,} equity points, final equity {floor.equity[-1]:,.4f} "
            f"({floor.ties:,} near-ties decided with the product's window sums)")
        figures.update(floor_bars_per_s=floor_rate, floor_fills=len(floor.fills),
                       floor_bars=floor.bars)

        fills_equal = None
        if product:
            out = product["out"]
            rows = read_fills(out)
            n_eq, final_eq = last_equity(out)
            say(f"product: best {product['bars_per_s']:,.0f} bars/s, {product['bars']:,} bars "
                f"(floor {floor.bars:,}), {len(rows):,} fills, "
                f"{product['rejected']:,} orders rejected (floor {floor.rejected:,}), "
                f"{n_eq:,} equity points (floor {len(floor.equity):,}), "
                f"final equity {final_eq:,.4f} (floor {floor.equity[-1]:,.4f})")
            fills_equal = compare_fills(rows, floor_fill_rows(floor, symbols))
            figures.update(product_bars_per_s=product["bars_per_s"], product_fills=len(rows),
                           product_outputs_s=product.get("outputs_s"),
                           product_bars=product["bars"],
                           ratio=product["bars_per_s"] / floor_rate,
                           ratio_lists=product["bars_per_s"] / strict_rate)
        figures["fills_equal"] = fills_equal
        if product and args.pairs > 0:
            ratios, cpu_ratios, thread_ratios = (sorted(r) for r in paired_ratios(cfg_path, tmp_path, data,
                                                                                  args.pairs))
            figures["paired_ratio"] = ratios[len(ratios) // 2]
            figures["paired_ratios"] = ratios
            figures["cpu_ratio"] = cpu_ratios[len(cpu_ratios) // 2]
            if thread_ratios:
                figures["thread_cpu_ratio"] = thread_ratios[len(thread_ratios) // 2]

        if not args.no_process:
            process = time_process(cfg_path, tmp_path, args.process_runs)
            figures["process_wall_s"] = process["wall_s"]
            figures["breakdown"] = process.get("breakdown")
            figures["process_phases"] = process.get("phases")
            figures["process_runs"] = args.process_runs

    print_table(figures, args.repeat)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, sort_keys=True, default=str) + "\n")
    return 0


def _fmt(value: float | None, spec: str, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{unit}"


def _verdict(value: float | None, met: bool) -> str:
    return "" if value is None else (" (met)" if met else " (NOT met)")


def print_table(figures: dict[str, Any], repeat: int) -> None:
    ratio = figures.get("ratio")
    fills_equal = figures.get("fills_equal")
    product_fills = figures.get("product_fills")
    rows = [
        ("floor (plain loop)", _fmt(figures["floor_bars_per_s"], ",.0f", " bars/s"),
         "on numpy arrays"),
        ("strict floor", _fmt(figures.get("floor_lists_bars_per_s"), ",.0f", " bars/s"),
         "on Python lists"),
        (f"product (best of {repeat})",
         _fmt(figures.get("product_bars_per_s"), ",.0f", " bars/s"), ""),
        ("ratio product/floor", _fmt(ratio, ".2f"), f"target >= {RATIO_TARGET:.2f}"
         + _verdict(ratio, ratio is not None and ratio >= RATIO_TARGET)),
        (f"ratio, median of {len(figures.get('paired_ratios') or [])} pairs",
         _fmt(figures.get("paired_ratio"), ".2f"), "floor and product back to back"
         + _verdict(figures.get("paired_ratio"), (figures.get("paired_ratio") or 0) >= RATIO_TARGET)),
        ("CPU-time ratio, median", _fmt(figures.get("cpu_ratio"), ".2f"),
         "floor CPU / product CPU (all threads, build and outputs)"),
        ("pipeline CPU ratio, median", _fmt(figures.get("thread_cpu_ratio"), ".2f"),
         "floor CPU / the four threads' CPU (no build, no outputs)"),
        ("ratio product/strict floor", _fmt(figures.get("ratio_lists"), ".2f"), "(for reference)"),
        ("fills product / floor",
         f"{_fmt(product_fills, ',')} / {figures['floor_fills']:,}",
         {True: "equal", False: "DIFFERENT", None: ""}[fills_equal]),
        ("peak RSS (product run)", _fmt(figures["peak_rss_mb"], ".0f", " MB"), ""),
    ]
    if "process_wall_s" in figures:
        wall = figures["process_wall_s"]
        rows.append((f"whole process (best of {figures.get('process_runs', 3)})", _fmt(wall, ".2f", " s"),
                     f"target < {PROCESS_TARGET_S} s"
                     + _verdict(wall, wall is not None and wall < PROCESS_TARGET_S)))
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    say()
    for name, value, target in rows:
        say(f"  {name:<{width}}  {value:>{vwidth}}  {target}".rstrip())


if __name__ == "__main__":
    sys.exit(main())
