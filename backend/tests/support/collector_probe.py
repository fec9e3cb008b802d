"""A strategy that writes, at each session start, whether the cyclic garbage collector is on
(and the process's OPENBLAS_NUM_THREADS).

For the CLI's start-up (app.backtest turns the collector off while the modules load): a
subprocess run names a file in ``strategy.params.out`` and the test reads it afterwards.
"""

from __future__ import annotations

import gc
import json
import os
from pathlib import Path
from typing import Any, ClassVar

from app.strategies.base import Strategy, StrategyContext


class CollectorProbe(Strategy):
    """Appends ``{"session": ..., "gc_enabled": ..., "blas_threads": ...}`` as one JSON line to ``params["out"]``."""

    params: ClassVar[dict[str, Any]] = {"out": ""}

    def on_session_start(self, ctx: StrategyContext) -> None:
        with Path(self.p["out"]).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"session": ctx.session.isoformat(), "gc_enabled": gc.isenabled(),
                                 "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS")}) + "\n")
