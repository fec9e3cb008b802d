"""The order path (issue 7): microseconds per order through StrategyContext and SimulatedBroker.

Three figures, each the best of --repeat, measured in the same run:

  round trip : ``ctx.buy`` of 10 shares, the next bar fills it (``broker.mark``), ``ctx.close``,
               the next bar fills that: us per order (submit, risk check, book, fill, ledger);
  refusal    : ``ctx.sell`` while flat (the 'no shorting' rule), us per refused order, its log
               line included for the first 10 of the session (as a run's run.log would);
  floor      : a plain Python loop doing the arithmetic of a round trip (notional check, slippage,
               commission, cash and position) on floats, us per order; the ratios below are
               floor / product (higher is better).

Run from the repo root: ``.venv/bin/python verify/bench_orders.py [--orders 2000] [--repeat 5]``.
Nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "backend"))

from app.execution.paper import SimulatedBroker  # noqa: E402
from app.execution.risk import Limits  # noqa: E402
from app.store.bar import Bar  # noqa: E402
from app.strategies.context import StrategyContext  # noqa: E402
from app.timing.time_manager import TimeManager  # noqa: E402

LIMITS = Limits(starting_cash=100_000, max_per_trade=50_000, max_per_symbol=50_000, max_open_positions=1,
                commission_per_share=0.005, slippage_bps=1)
MIN_NS = 60_000_000_000
T0 = 1_700_000_000_000_000_000


def _bar(symbol: str, start_ns: int) -> Bar:
    return Bar(symbol, start_ns, 100.0, 101.0, 99.0, 100.5, 1000.0)


def round_trip_us(n: int, tm: TimeManager) -> float:
    broker = SimulatedBroker(LIMITS)
    ctx = StrategyContext(("A",), "1m", {}, broker, tm)
    t = T0
    broker.mark(_bar("A", t))
    began = time.perf_counter()
    for _ in range(n):
        t += MIN_NS
        ctx.now_ns = t
        ctx.buy("A", 10)
        t += MIN_NS
        broker.mark(_bar("A", t))
        ctx.now_ns = t
        ctx.close("A")
        t += MIN_NS
        broker.mark(_bar("A", t))
    return (time.perf_counter() - began) / (2 * n) * 1e6


def refusal_us(n: int, tm: TimeManager) -> float:
    broker = SimulatedBroker(LIMITS)
    ctx = StrategyContext(("A",), "1m", {}, broker, tm)
    broker.mark(_bar("A", T0))
    ctx.now_ns = T0
    began = time.perf_counter()
    for _ in range(n):
        ctx.sell("A", 1)
    return (time.perf_counter() - began) / n * 1e6


def floor_us(n: int) -> float:
    cash, held, bps, fee, cap = 100_000.0, 0, 1e-4, 0.005, 50_000.0
    began = time.perf_counter()
    for _ in range(n):
        for side in (1, -1):
            qty = 10 if side > 0 else held
            if qty * 100.5 > cap:
                continue
            price = 100.0 * (1.0 + bps) if side > 0 else 100.0 * (1.0 - bps)
            cash -= side * qty * price + max(0.0, qty * fee)
            held += side * qty
    return (time.perf_counter() - began) / (2 * n) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        handler = logging.FileHandler(Path(d) / "run.log")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s"))
        logging.getLogger().addHandler(handler)
        logging.getLogger().setLevel(logging.INFO)
        tm = TimeManager("XNYS")
        trip = min(round_trip_us(args.orders, tm) for _ in range(args.repeat))
        refused = min(refusal_us(args.orders, tm) for _ in range(args.repeat))
        floor = min(floor_us(args.orders) for _ in range(args.repeat))
        logging.getLogger().removeHandler(handler)
        handler.close()
    print(f"  round trip (submit + fill)   {trip:8.2f} us per order   floor/product {floor / trip:.3f}")
    print(f"  refused order                {refused:8.2f} us per order   floor/product {floor / refused:.3f}")
    print(f"  floor (plain loop)           {floor:8.2f} us per order")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
