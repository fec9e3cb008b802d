"""Clock-driven pacing accuracy: requested vs achieved replay speed of stored 1m bars.

Writes a small sample store (``write_sample``: XNYS calendar, 1m bars, AAPL and SPY,
2024-06-28..2024-07-03; 2024-07-03 is an early close of 210 minutes, the others 390) and, for
each ``--speeds`` value, runs one clock-driven backtest (``backtest.speed_multiplier`` = speed)
over one session through ``app.runtime.run.run`` -- the whole pipeline, four threads,
SmaCross on streams 1m/5m. The session is the longest one whose replay fits ``--budget-s`` wall
seconds (market seconds / speed), else the shortest (the early close). Per run it prints

  requested   : the speed multiplier asked for;
  achieved    : ``summary["metrics"]["clock"]["achieved_speed"]`` -- market time streamed divided
                by the wall time the coordinator took to stream it (the session record's
                ``metrics.clock`` is shown as well when it differs);
  error       : achieved / requested - 1, in percent (negative: slower than asked);
  overruns    : ``overruns.<edge>`` counters (a step published while the consumer was still
                busy with an earlier one), summed over the edges, and the per-edge split;
  max lag     : ``metrics.clock.max_lag_s``, how far past its due time the oldest unfinished
                step was at an overrun;
  wall        : the run's whole wall time (setup and output writing included).

Prints figures; with ``--max-error-pct`` it exits 1 when any run's |error| exceeds it (the
target is 2 %). Run from the repo root (default: about 40 s):

    python verify/clock_pacing.py [--speeds 600,1800,3600] [--budget-s 8] [--max-error-pct 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backend"))

from app.config import load_session_config
from app.data.sample import write_sample
from app.runtime.run import run
from app.timing.calendar import TradingCalendar

SYMBOLS = ("AAPL", "SPY")
STORE_START, STORE_END = date(2024, 6, 28), date(2024, 7, 3)  # 06-28: trailing history for 07-01
SESSIONS = (date(2024, 7, 1), date(2024, 7, 2), date(2024, 7, 3))


def _config(path: Path, store: Path, session: date, speed: float) -> Path:
    path.write_text(yaml.safe_dump({
        "session_name": f"clock_pacing_{speed:g}x",
        "mode": "backtest",
        "calendar": "XNYS",
        "backtest": {"start_date": session.isoformat(), "end_date": session.isoformat(), "speed_multiplier": speed},
        "symbols": list(SYMBOLS),
        "streams": ["1m", "5m"],
        "historical": {"data": [{"trailing_days": 1, "intervals": ["1m"]}]},
        "data": {"store": str(store)},
        "strategy": {"class": "app.strategies.sma_cross:SmaCross", "params": {"fast": 5, "slow": 20, "quantity": 20}},
        "trading": {"starting_cash": 50000, "max_per_trade": 20000, "max_per_symbol": 20000, "max_open_positions": 2},
    }, sort_keys=False))
    return path


def _pick_session(lengths_s: dict[date, float], speed: float, budget_s: float) -> date:
    fitting = [d for d, s in lengths_s.items() if s / speed <= budget_s]
    if fitting:
        return max(fitting, key=lambda d: (lengths_s[d], d))
    return min(lengths_s, key=lambda d: (lengths_s[d], d))


def _overruns(metrics: dict[str, Any]) -> tuple[int, str]:
    edges = {k.removeprefix("overruns."): n for k, n in metrics.get("counters", {}).items() if k.startswith("overruns.")}
    split = ", ".join(f"{edge} {n}" for edge, n in sorted(edges.items()) if n)
    return sum(edges.values()), split


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speeds", default="600,1800,3600", help="comma-separated speed multipliers (> 0)")
    parser.add_argument("--budget-s", type=float, default=8.0, help="longest replay per run, in wall seconds")
    parser.add_argument("--max-error-pct", type=float, default=None, help="exit 1 if any |achieved/requested - 1| exceeds this (target 2)")
    args = parser.parse_args()
    speeds = [float(s) for s in args.speeds.split(",") if s.strip()]
    if not speeds or any(s <= 0 for s in speeds):
        parser.error(f"expected speeds > 0, received {args.speeds!r}")
    calendar = TradingCalendar("XNYS")
    lengths_s = {}
    for d in SESSIONS:
        lo, hi = calendar.session_bounds_ns(d)
        lengths_s[d] = (hi - lo) / 1e9
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        write_sample(store, symbols=SYMBOLS, start=STORE_START, end=STORE_END)
        print(f"store: XNYS 1m sample, {', '.join(SYMBOLS)}, {STORE_START}..{STORE_END}; streams 1m,5m; SmaCross 5/20")
        print(f"{'requested':>10} {'session':>10} {'mkt min':>7} {'achieved':>10} {'error':>8} {'overruns':>8} "
              f"{'max lag':>9} {'wall':>7}")
        for speed in speeds:
            session = _pick_session(lengths_s, speed, args.budget_s)
            cfg = load_session_config(_config(Path(tmp) / f"pace_{speed:g}.yaml", store, session, speed))
            t0 = time.perf_counter()
            result = run(cfg, Path(tmp) / f"out_{speed:g}")
            wall = time.perf_counter() - t0
            metrics = result.summary["metrics"]
            clock = metrics.get("clock", {})
            achieved = float(clock.get("achieved_speed", 0.0))
            error = (achieved / speed - 1.0) * 100.0
            worst = max(worst, abs(error))
            total, split = _overruns(metrics)
            print(f"{speed:>9g}x {session.isoformat():>10} {lengths_s[session] / 60:>7.0f} {achieved:>9.1f}x "
                  f"{error:>+7.2f}% {total:>8} {clock.get('max_lag_s', 0.0) * 1000:>7.1f}ms {wall:>6.1f}s"
                  + (f"  ({split})" if split else ""))
            for record in result.records:
                rc = record.get("metrics", {}).get("clock", {})
                if rc and abs(rc.get("achieved_speed", achieved) - achieved) > 1e-6:
                    print(f"{'':>11} session {record.get('date')}: achieved {rc['achieved_speed']:.1f}x, "
                          f"max lag {rc.get('max_lag_s', 0.0) * 1000:.1f} ms")
            if result.summary.get("status", "completed") != "completed":
                print(f"{'':>11} run status {result.summary.get('status')}")
    print(f"worst |error| {worst:.2f}%")
    if args.max_error_pct is None:
        return 0
    met = worst <= args.max_error_pct
    print(f"target |error| <= {args.max_error_pct:g}%: {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
