"""Benchmark: the demo strategy, data-driven, one symbol, one year of 1m bars, all four threads.

Prints bars per second through the pipeline, peak RSS, and micro-benchmarks of the hot calls
(SessionData append/read, cached TimeManager calls). Run from the repo root:

    python verify/bench_pipeline.py [--year 2023] [--repeat 3]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backend"))

from app.config import load_session_config
from app.data.sample import write_sample
from app.runtime.run import run
from app.store.bar import parse_interval
from app.store.series import BarSeries, ValueSeries
from app.timing.time_manager import TimeManager


def _config(path: Path, store: Path, year: int) -> Path:
    path.write_text(yaml.safe_dump({
        "session_name": "bench",
        "mode": "backtest",
        "backtest": {"start_date": f"{year}-01-01", "end_date": f"{year}-12-31", "speed_multiplier": 0},
        "symbols": ["BENCH"],
        "streams": ["1m", "5m"],
        "historical": {"data": [{"trailing_days": 1, "intervals": ["1m"]}]},
        "data": {"store": str(store)},
        "strategy": {"class": "app.strategies.sma_cross:SmaCross", "params": {"fast": 10, "slow": 30, "quantity": 10}},
        "trading": {"starting_cash": 100000, "max_per_trade": 50000, "max_per_symbol": 50000,
                    "max_open_positions": 1, "commission_per_share": 0.005, "slippage_bps": 1},
    }))
    return path


def _per_call_us(fn, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e6


def micro() -> None:
    series = BarSeries("BENCH/1m", capacity=1 << 20)
    counter = [0]

    def append() -> None:
        counter[0] += 1
        series.append_one(counter[0], 1.0, 1.0, 1.0, 1.0, 1.0)

    values = ValueSeries("BENCH/sma", capacity=1 << 20)
    values.append(np.arange(100_000, dtype=np.float64))
    print(f"SessionData BarSeries.append_one:            {_per_call_us(append, 100_000):7.3f} us/call")
    print(f"SessionData BarSeries.view (zero-copy):     {_per_call_us(series.view, 100_000):7.3f} us/call")
    print(f"SessionData ValueSeries.value (latest):     {_per_call_us(lambda: values.value(99_999), 200_000):7.3f} us/call")
    tm = TimeManager("XNYS")
    d1, d2 = date(2024, 7, 3), date(2024, 7, 5)
    i1 = parse_interval("1m")
    tm.session_bounds_ns(d1)
    tm.session_bounds_ns(d2)
    print(f"TimeManager.session_bounds_ns (last-query): {_per_call_us(lambda: tm.session_bounds_ns(d1), 200_000):7.3f} us/call")
    flip = [d1, d2]
    print(f"TimeManager.session_bounds_ns (LRU):        "
          f"{_per_call_us(lambda: tm.session_bounds_ns(flip[int(time.perf_counter_ns()) & 1]), 200_000):7.3f} us/call")
    print(f"TimeManager.is_trading_day (cached):        {_per_call_us(lambda: tm.is_trading_day(d1), 200_000):7.3f} us/call")
    print(f"TimeManager.expected_bar_starts (cached):   {_per_call_us(lambda: tm.expected_bar_starts(d1, i1), 200_000):7.3f} us/call")
    print(f"TradingCalendar.session_bounds_ns uncached: {_per_call_us(lambda: tm.uncached.session_bounds_ns(d1), 2_000):7.3f} us/call")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--year", type=int, default=2023)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        t0 = time.perf_counter()
        write_sample(store, symbols=("BENCH",), start=date(args.year - 1, 12, 20), end=date(args.year, 12, 31))
        print(f"sample data written in {time.perf_counter() - t0:.1f} s")
        cfg = load_session_config(_config(Path(tmp) / "bench.yaml", store, args.year))
        best = None
        for i in range(args.repeat):
            result = run(cfg, Path(tmp) / f"out{i}")
            m = result.summary["metrics"]
            bars = result.summary["bars_processed"]
            pipeline_s = m["backtest"]["total_time_s"]
            rate = bars / pipeline_s
            print(f"run {i + 1}: {bars:,} bars in {pipeline_s:.3f} s through 4 threads = {rate:,.0f} bars/s "
                  f"({result.summary['sessions']} sessions, {result.summary['trading']['trades']} trades)")
            best = rate if best is None else max(best, rate)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"best: {best:,.0f} bars/s; peak RSS {peak_mb:.0f} MB (targets are ratios to a floor: verify/bench_floor.py)")
    micro()
    return 0


if __name__ == "__main__":
    sys.exit(main())
