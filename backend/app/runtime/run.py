"""run(config, out_dir): build the pipeline, supervise it, and always write the outputs."""

from __future__ import annotations

import gc
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from app.config import config_to_dict
from app.config.schema import SessionConfig
from app.errors import SessionAborted
from app.runtime.build import build
from app.runtime.controls import RunControls
from app.runtime.outputs import write_outputs
from app.runtime.records import session_record
from app.store.session_data import SessionState

__all__ = ["Progress", "RunResult", "run"]

Progress = Callable[[int, int, date], None]

DATA_DRIVEN_GC_GEN0 = 50_000
"""Young-generation threshold of the collector during a data-driven run (the default is 700)."""


@dataclass
class RunResult:
    """A finished run: where its outputs are, its summary and its per-session records."""

    out_dir: Path
    summary: dict[str, Any]
    records: list[dict[str, Any]] = field(default_factory=list)


def _log_to(out_dir: Path) -> logging.Handler:
    handler = logging.FileHandler(out_dir / "run.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    return handler


def _prepare_collector(pacing: str) -> None:
    # Everything built so far (modules, calendars, config) lives for the whole run: move it out
    # of the collector's view so that a full collection mid-session is short (live p99).
    gc.collect()
    gc.freeze()
    if pacing == "data_driven":
        # The per-bar path allocates short-lived tuples that refcounting frees; a larger young
        # generation means fewer collections scanning the batch's live bars (about 5-9% of a
        # one-symbol run). Paced runs keep the default: their collections stay short (p99).
        gc.set_threshold(DATA_DRIVEN_GC_GEN0, *gc.get_threshold()[1:])


def run(config: SessionConfig, out_dir: Path, progress: Progress | None = None,
        controls: RunControls | None = None) -> RunResult:
    """Run `config` to completion, writing every output into `out_dir`, even on failure.

    `controls`, when given, is bound to the pipeline while it runs (pause / resume).

    Raises
    ------
    SessionAborted
        When a pipeline thread failed (outputs written first; ``outputs_dir`` set).
    KeyboardInterrupt
        On Ctrl-C (outputs written first).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    handler = _log_to(out_dir)
    thresholds = gc.get_threshold()
    try:
        shutil.copyfile(config.source_file, out_dir / "config.yaml")

        def on_session_done(index: int, state: SessionState) -> None:
            p = pipeline  # bound below, before any thread starts
            record = session_record(state, index, p.tm, p.plan.symbols, p.plan.base.label,
                                    tuple(i.label for i in p.derived), p.engine.results.sessions[index],
                                    {"mode": p.metrics.mode, "requested_speed": p.metrics.requested_speed})
            record["metrics"] = p.metrics.end_session(p.subscriptions)
            p.records.append(record)
            if progress is not None:
                progress(index + 1, len(p.plan.sessions), state.session)

        pipeline = build(config, on_session_done)
        if controls is not None:
            controls.bind(pipeline)
            pipeline.supervisor.heartbeat = controls.tick
        _prepare_collector(config.pacing)
        status = "ok"
        error: SessionAborted | KeyboardInterrupt | None = None
        sw = pipeline.stopwatch
        t0 = sw.now_ns()
        startup_s = (t0 - sw.process_start_ns()) / 1e9
        try:
            pipeline.supervisor.run(pipeline.threads)
        except SessionAborted as e:
            status, error = "failed", e
            e.outputs_dir = str(out_dir)
        except KeyboardInterrupt as e:
            status, error = "interrupted", e
        elapsed_s = sw.elapsed_ns(t0) / 1e9
        gc.freeze()  # the run's results live to the end too: collections while writing skip them
        try:
            summary = write_outputs(pipeline, out_dir, status, elapsed_s, config_to_dict(config),
                                    startup_s)
        except Exception as e:
            if error is None:
                raise
            # The run's own failure is the one to report; the outputs' is logged with it.
            logging.getLogger(__name__).error("writing the outputs also failed: %s: %s", type(e).__name__, e,
                                              exc_info=e)
        if error is not None:
            raise error
        return RunResult(out_dir, summary, pipeline.records)
    finally:
        if controls is not None:
            controls.bind(None)
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        logging.getLogger().removeHandler(handler)
        handler.close()
