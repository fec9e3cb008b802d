"""A failure injected into each pipeline thread, mid-run (tests/faults/test_thread_failures.py).

Each fault raises ``RuntimeError("injected failure in <THREAD>")`` from a call that thread makes,
once the run has reached `FAIL_AT` (2024-07-03 11:00 New York, the middle of the third session of
the test config): the coordinator moving its stepped clock, the processor aggregating a derived
bar, upkeep computing a session's quality (at the close), the engine's strategy in ``on_bar``.

``python -m support.thread_faults THREAD CLI-ARGS...`` installs one fault and runs the backtest
CLI (``app.backtest.main``), so a subprocess test sees the real exit code and stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
from app.store.bar import Bar
from app.strategies.base import Strategy, StrategyContext

FAIL_AT_NS = int(np.datetime64("2024-07-03T15:00:00", "ns").astype(np.int64))  # 11:00 America/New_York
FAIL_SESSION = "2024-07-03"
THREADS = ("SessionCoordinator", "DataProcessor", "DataUpkeep", "AnalysisEngine")


def _boom(thread: str) -> RuntimeError:
    return RuntimeError(f"injected failure in {thread}")


class FailsAtNoon(Strategy):
    """Raises in ``on_bar`` at the first step ending after `FAIL_AT_NS` (an AnalysisEngine failure)."""

    params: ClassVar[dict[str, Any]] = {}

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        if ctx.now_ns > FAIL_AT_NS:
            raise _boom("AnalysisEngine")


def _patches() -> dict[str, tuple[Any, str, Callable[[Callable[..., Any]], Callable[..., Any]]]]:
    # thread -> (owner, attribute, wrapper around the original)
    import app.threads.processor as processor
    import app.threads.upkeep as upkeep
    from app.timing.clocks import SteppedClock

    def coordinator(original: Callable[..., Any]) -> Callable[..., Any]:
        def advance_to(self: Any, instant_ns: int) -> None:
            if instant_ns > FAIL_AT_NS:
                raise _boom("SessionCoordinator")
            original(self, instant_ns)
        return advance_to

    def processor_(original: Callable[..., Any]) -> Callable[..., Any]:
        def aggregate_bars(*args: Any, **kwargs: Any) -> Any:
            upto_ns = kwargs.get("upto_ns", args[4] if len(args) > 4 else 0)
            if upto_ns > FAIL_AT_NS:
                raise _boom("DataProcessor")
            return original(*args, **kwargs)
        return aggregate_bars

    def upkeep_(original: Callable[..., Any]) -> Callable[..., Any]:
        def compute_quality(expected_starts: Any, *args: Any, **kwargs: Any) -> Any:
            if len(expected_starts) and int(expected_starts[-1]) > FAIL_AT_NS:
                raise _boom("DataUpkeep")
            return original(expected_starts, *args, **kwargs)
        return compute_quality

    return {
        "SessionCoordinator": (SteppedClock, "advance_to", coordinator),
        "DataProcessor": (processor, "aggregate_bars", processor_),
        "DataUpkeep": (upkeep, "compute_quality", upkeep_),
    }


def strategy_for(thread: str) -> dict[str, Any]:
    """Return the config's strategy section for `thread`'s fault (the engine's fault is its strategy)."""
    if thread == "AnalysisEngine":
        return {"class": "support.thread_faults:FailsAtNoon", "params": {}}
    return {"class": "app.strategies.sma_cross:SmaCross", "params": {"fast": 5, "slow": 20, "quantity": 10}}


def inject(thread: str, setattr_: Callable[[Any, str, Any], None] = setattr) -> None:
    """Install `thread`'s fault (through `setattr_`: pass ``monkeypatch.setattr`` in a test)."""
    if thread == "AnalysisEngine":
        return
    owner, name, wrap = _patches()[thread]
    setattr_(owner, name, wrap(getattr(owner, name)))


def main(argv: list[str]) -> int:
    """Install the fault named by ``argv[0]`` and run the backtest CLI on the rest."""
    from app.backtest import main as backtest

    inject(argv[0])
    return backtest(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
