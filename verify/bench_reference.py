"""The product against the single-threaded engine it replaces (issue 7): backtesting.py, same bars.

The issue opened with "it is slower than a single-threaded pure-Python backtester"
(backtesting.py 0.6.6, ``Backtest.run()`` ~96,000 bars/s against our 59,000-64,000). This script
measures both on the same machine in the same run, on the same one-symbol year of 1m bars
(``verify/bench_floor.py``'s workload and store), with the same strategy idea: SMA 10/30 of close,
buy 10 shares when the fast crosses above the slow, close when it crosses below, market orders
filled at the next bar's open.

  engine   : backtesting.py ``Backtest(df, SmaCross10x30, cash=100_000).run()`` only (its
             ``__init__`` and the DataFrame are built before the timer), best of --repeat;
             bars/s = rows / seconds. Its rules are not ours to the letter (it has no sessions,
             no trailing-history warm-up, no DAY-order expiry, relative commission), so its
             trades are printed, not compared; the floor script compares fills row by row.
  product  : ``app.runtime.run.run`` in-process (all four threads), bars/s =
             ``bars_processed / metrics.backtest.total_time_s``, best of --repeat.
  pairs    : backtesting.py then the product, back to back, --pairs times; the median of the
             pairs' ratios (product / backtesting.py) is the steadier figure on a shared machine.
  process  : wall time of a whole process each (best of 3): ``python -m app.backtest CFG`` (every
             output file written) and a Python process that imports backtesting.py, builds the
             same DataFrame (the rows read with the product's Parquet reader) and runs the same
             backtest, writing nothing (``--reference-process``).

backtesting.py's progress bar is off (``TQDM_DISABLE=1``), which makes it a little faster.

backtesting.py is not a dependency of the product: ``.venv/bin/pip install backtesting==0.6.6``
(it brings bokeh). Run from the repo root:

    .venv/bin/python verify/bench_reference.py [--store /tmp/bench_store1] [--repeat 3] [--pairs 5]

Nothing here asserts on time; the exit status is 0 unless backtesting.py is missing (2).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ["TQDM_DISABLE"] = "1"  # backtesting.py's progress bar (tqdm reads it on import)
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_floor as floor  # noqa: E402 -- the workload, its store and config
from app.config import load_session_config  # noqa: E402
from app.runtime.run import run  # noqa: E402


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def reference_frame(store: Path) -> Any:
    """The product's bars of the run's sessions (and the warm-up day) as backtesting.py's DataFrame."""
    import pandas as pd

    data = floor.load_floor_data(store, ("BENCH",), 1)
    bars = floor.read_bars_file(floor.bar_path(store, floor.parse_interval(floor.BASE), "BENCH"))
    lo, hi = int(data.lo[0][0]), int(data.hi[0][-1])
    first = int(floor.np.searchsorted(bars.start, data.start[0][lo]))
    rows = slice(first, first + (hi - lo))
    index = pd.to_datetime(bars.start[rows], utc=True)
    return pd.DataFrame({"Open": bars.open[rows], "High": bars.high[rows], "Low": bars.low[rows],
                         "Close": bars.close[rows], "Volume": bars.volume[rows]}, index=index)


def reference_strategy() -> Any:
    from backtesting import Strategy
    from backtesting.lib import crossover
    from backtesting.test import SMA

    class SmaCross10x30(Strategy):
        fast, slow, quantity = floor.FAST, floor.SLOW, floor.QUANTITY

        def init(self) -> None:
            self.sma_fast = self.I(SMA, self.data.Close, self.fast)
            self.sma_slow = self.I(SMA, self.data.Close, self.slow)

        def next(self) -> None:
            if crossover(self.sma_fast, self.sma_slow):
                if not self.position:
                    self.buy(size=self.quantity)
            elif crossover(self.sma_slow, self.sma_fast) and self.position.is_long:
                self.position.close()

    return SmaCross10x30


def run_reference(df: Any) -> tuple[float, int]:
    """``Backtest.run()`` once: (seconds, trades)."""
    import warnings

    from backtesting import Backtest

    bt = Backtest(df, reference_strategy(), cash=float(floor.TRADING["starting_cash"]),
                  commission=0.0, finalize_trades=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        stats = bt.run()
        seconds = time.perf_counter() - t0
    return seconds, int(stats["# Trades"])


def run_product(config: Any, out: Path) -> float:
    summary = run(config, out).summary
    return float(summary["bars_processed"] / summary["metrics"]["backtest"]["total_time_s"])


def reference_process(store: Path) -> int:
    """A whole backtesting.py process: import, read the Parquet file with pandas, run (``--reference-process``)."""
    df = reference_frame(store)
    seconds, trades = run_reference(df)
    say(f"{len(df)} bars, {trades} trades, run {seconds:.3f} s")
    return 0


def time_processes(cfg: Path, store: Path, out_root: Path, times: int = 3) -> dict[str, float]:
    commands = {
        "product": [sys.executable, "-m", "app.backtest", str(cfg), "--output", "{out}", "--quiet"],
        "backtesting.py": [sys.executable, str(Path(__file__).resolve()), "--store", str(store),
                           "--reference-process"],
    }
    best: dict[str, float] = {}
    for i in range(times):
        for name, command in commands.items():
            argv = [a.replace("{out}", str(out_root / f"process{i}")) for a in command]
            t0 = time.perf_counter()
            proc = subprocess.run(argv, capture_output=True, text=True, check=False,
                                  cwd=floor.REPO / "backend")
            wall = time.perf_counter() - t0
            if proc.returncode != 0:
                say(f"{name} process: exit {proc.returncode}: {proc.stderr.strip()[-600:]}")
                continue
            say(f"process run {i + 1}/{times}: {name} {wall:.3f} s wall")
            best[name] = min(best.get(name, wall), wall)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, help="the one-symbol sample store (created if missing)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, best kept")
    parser.add_argument("--pairs", type=int, default=5, help="back-to-back reference/product pairs")
    parser.add_argument("--no-process", action="store_true", help="skip the whole-process timings")
    parser.add_argument("--reference-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    try:
        import backtesting
    except ImportError:
        say("backtesting.py is not installed: .venv/bin/pip install backtesting==0.6.6")
        return 2
    with tempfile.TemporaryDirectory(prefix="bench_reference_") as tmp:
        tmp_path = Path(tmp)
        store = args.store or tmp_path / "store"
        floor.ensure_store(store, ("BENCH",), 1)
        if args.reference_process:
            return reference_process(store)
        cfg = floor.write_config(tmp_path / "bench.yaml", store, ("BENCH",), 1)
        config = load_session_config(cfg)
        df = reference_frame(store)
        say(f"workload: BENCH, {len(df):,} bars of {floor.BASE} (2023 and the warm-up day); "
            f"backtesting.py {backtesting.__version__}")

        ref_best = prod_best = 0.0
        trades = 0
        for i in range(args.repeat):
            seconds, trades = run_reference(df)
            ref_best = max(ref_best, len(df) / seconds)
            prod_best = max(prod_best, run_product(config, tmp_path / f"product{i}"))
            say(f"run {i + 1}/{args.repeat}: backtesting.py {len(df) / seconds:,.0f} bars/s "
                f"({trades} trades), product best so far {prod_best:,.0f} bars/s")
        ratios = []
        for i in range(args.pairs):
            seconds, _ = run_reference(df)
            ref_rate = len(df) / seconds
            rate = run_product(config, tmp_path / f"pair{i}")
            ratios.append(rate / ref_rate)
            say(f"pair {i + 1}/{args.pairs}: backtesting.py {ref_rate:,.0f} bars/s, "
                f"product {rate:,.0f} bars/s, ratio {rate / ref_rate:.2f}")
        processes = {} if args.no_process else time_processes(cfg, store, tmp_path)

    say()
    say(f"  backtesting.py Backtest.run() (best of {args.repeat}) {ref_best:>12,.0f} bars/s  ({trades} trades)")
    say(f"  product, all four threads (best of {args.repeat})     {prod_best:>12,.0f} bars/s")
    say(f"  ratio product / backtesting.py, best of each     {prod_best / ref_best:>12.2f}")
    if ratios:
        say(f"  ratio, median of {len(ratios)} back-to-back pairs            "
            f"{statistics.median(ratios):>12.2f}")
    for name, wall in processes.items():
        say(f"  whole process, {name:<15} (best of 3)      {wall:>12.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
