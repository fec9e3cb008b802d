"""run(config, out_dir): build the pipeline, supervise it, and always write the outputs."""

from __future__ import annotations

import gc
import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from app.config import config_to_dict
from app.config.schema import SessionConfig
from app.errors import NoBarsError, SessionAborted, ThreadStuckError
from app.runtime.build import Pipeline, build
from app.runtime.controls import RunControls
from app.runtime.journal import RunJournal
from app.runtime.outputs import equity_columns, stamps_for, write_outputs
from app.runtime.outputs_process import OutputsProcess
from app.runtime.records import session_record
from app.store.session_data import SessionState
from app.threads.watchdog import CallbackWatchdog

__all__ = ["Progress", "RunResult", "run"]

Progress = Callable[[int, int, date, int], None]
"""Called as each session ends, on the coordinator thread: ``(sessions done, sessions planned, the
session, bars processed so far)`` (counters only: a cheap call per session, nothing per bar)."""

log = logging.getLogger(__name__)

SIGNAL_NAME = {None: "Ctrl-C", "SIGINT": "Ctrl-C (SIGINT)", "SIGTERM": "SIGTERM"}

DATA_DRIVEN_GC_GEN0 = 50_000
"""Young-generation threshold of the collector during a data-driven run (the default is 700)."""


@dataclass
class RunResult:
    """A finished run: where its outputs are and its summary; `records` reads sessions.json."""

    out_dir: Path
    summary: dict[str, Any]

    @property
    def records(self) -> list[dict[str, Any]]:
        """The per-session records (sessions.json, read on each access: the run does not hold them)."""
        records: list[dict[str, Any]] = json.loads((self.out_dir / "sessions.json").read_text(encoding="utf-8"))
        return records


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
    # of the collector's view so that a full collection mid-session is short (live p99). No
    # collection first: it took ~25 ms of start-up to free the few cycles imports leave.
    gc.freeze()
    if pacing == "data_driven":
        # The per-bar path allocates short-lived tuples that refcounting frees; a larger young
        # generation means fewer collections scanning the batch's live bars (about 5-9% of a
        # one-symbol run). Paced runs keep the default: their collections stay short (p99).
        gc.set_threshold(DATA_DRIVEN_GC_GEN0, *gc.get_threshold()[1:])


def run(config: SessionConfig, out_dir: Path, progress: Progress | None = None,
        controls: RunControls | None = None, outputs_process: bool = False) -> RunResult:
    """Run `config` to completion, writing every output into `out_dir`, however the run ends.

    Fills, equity points and session records are journaled as each session ends (a killed run
    keeps every finished session: `app.runtime.journal`). `controls`, when given, is bound to
    the pipeline while it runs (pause / resume). With `outputs_process`, a second process
    encodes the files from the journal while the run goes on (`app.runtime.outputs_process`;
    the same bytes).

    Raises
    ------
    SessionAborted
        When a pipeline thread failed or a strategy callback timed out (outputs written first;
        ``outputs_dir`` set).
    NoBarsError
        When the run ended without processing a bar (outputs written first, status failed).
    KeyboardInterrupt
        On Ctrl-C or SIGTERM (outputs written first).
    ThreadStuckError
        When a thread did not stop (outputs written first, from the finished sessions and what
        the stuck one left): the caller must end the process, the thread cannot be joined.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    handler = _log_to(out_dir)
    thresholds = gc.get_threshold()
    journal: RunJournal | None = None
    writer: OutputsProcess | None = None
    try:
        shutil.copyfile(config.source_file, out_dir / "config.yaml")
        resolved = json.dumps(config_to_dict(config), indent=2, sort_keys=True)
        (out_dir / "config.resolved.json").write_text(resolved + "\n")  # first: a killed run's recovery reads it

        def on_session_done(index: int, state: SessionState) -> None:
            # On the coordinator thread, once every stage acked the session: the broker and the
            # equity log are quiescent until the next session starts.
            p = pipeline  # bound below, before any thread starts
            trading = p.engine.results.sessions.pop(index)
            base = p.plan.base.label
            # The broker's fills are the session's (none came before its start or after its end,
            # as in a backtest): the record's per-symbol fold also folds them into the run's.
            folded = len(p.broker.fills) == len(trading["session_fills"])
            record = session_record(state, index, p.tm, p.plan.symbols, base, tuple(i.label for i in p.derived),
                                    trading, {"mode": p.metrics.mode, "requested_speed": p.metrics.requested_speed},
                                    quality_later=True,
                                    fold_into=(p.rollup.fill_cash, p.rollup.fill_count) if folded else None)
            record["metrics"] = None  # data_quality and metrics: built by the journal's reader (complete_record)
            later = {"data_quality": base, "metrics": p.metrics.end_session_snapshot(p.subscriptions)}
            assert journal is not None
            p.rollup.add(record)
            _journal_session(p, journal, record, [t.pnl for t in trading["closed_trades"]], later, folded)
            done = record["trading"]
            log.info("session %s ended: %d bars, %d fills, P&L %.2f, equity %.2f", record["date"],
                     record["bars_processed"], done["fills"], done["pnl"], done["equity_end"])
            if progress is not None:
                progress(index + 1, len(p.plan.sessions), state.session, p.engine.results.bars)

        pipeline = build(config, on_session_done, record_to=out_dir)
        journal = RunJournal(out_dir, stamps_for(pipeline), lambda: _progress(pipeline), pipeline.tm.uncached.tz)
        writer = _start_writer(pipeline, journal, out_dir) if outputs_process else None
        _watch_callbacks(pipeline)
        if controls is not None:
            controls.bind(pipeline)
            pipeline.supervisor.heartbeat = controls.tick
        _prepare_collector(config.pacing)
        sw = pipeline.stopwatch
        t0 = sw.now_ns()
        startup_s = (t0 - sw.process_start_ns()) / 1e9
        status, detail, error = _supervise(pipeline, out_dir)
        pipeline.metrics.thread_cpu_s = {t.name: t.cpu_ns / 1e9 for t in pipeline.threads if t.cpu_ns is not None}
        _finish_broker(pipeline)
        elapsed_s = sw.elapsed_ns(t0) / 1e9
        gc.freeze()  # the run's results live to the end too: collections while writing skip them
        try:
            summary = write_outputs(pipeline, journal, pipeline.rollup, out_dir, status, elapsed_s, startup_s,
                                    status_detail=detail, writer=writer)
        except Exception as e:
            if error is None:
                raise
            # The run's own failure is the one to report; the outputs' is logged with it.
            log.error("writing the outputs also failed: %s: %s", type(e).__name__, e, exc_info=e)
        if error is not None:
            raise error
        return RunResult(out_dir, summary)
    finally:
        if journal is not None:
            journal.close()  # already closed by write_outputs, unless that failed
        if writer is not None:
            writer.close()
        if controls is not None:
            controls.bind(None)
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        logging.getLogger().removeHandler(handler)
        handler.close()


def _start_writer(p: Pipeline, journal: RunJournal, out_dir: Path) -> OutputsProcess | None:
    # The output writer process, told of each commit (None if it cannot start: the run writes them).
    writer = OutputsProcess.start(out_dir, str(p.tm.uncached.tz), p.stopwatch)
    if writer is not None:
        journal.on_commit = writer.committed
    return writer


def _journal_session(p: Pipeline, journal: RunJournal, record: dict[str, Any], trade_pnls: list[float],
                     later: dict[str, Any], folded: bool) -> None:
    # Journal a finished session, then drop what the run no longer needs to hold: its fills
    # (their per-symbol cash is folded into the rollup) and its equity points (the drawdown is
    # folded from the journal when the outputs read it), so memory does not grow with the run's length.
    journal.session_done(record, trade_pnls, p.broker.fills, equity_columns(p), later)
    if not folded:  # (else folded with the record's per-symbol P&L)
        p.rollup.fold_fills(p.broker.fills)
    p.broker.forget_fills()
    p.rollup.curve_on_disk(journal.equity_path, journal.equity_length)
    p.engine.results.log.forget()
    journal.fills_written = journal.equity_written = 0


def _finish_broker(p: Pipeline) -> None:
    # A real broker (threads joined): cancel what is open if configured, apply what was missed.
    if p.broker_link is None:
        return
    try:
        p.broker_link.finish()
    except (Exception, KeyboardInterrupt) as e:  # the outputs must still be written; the log says why
        log.error("closing the broker link failed: %s: %s", type(e).__name__, e, exc_info=e)


def _supervise(pipeline: Pipeline, out_dir: Path) -> tuple[str, str | None, BaseException | None]:
    # Run the threads; return how the run ended: (status, where, the error to raise after the outputs).
    try:
        pipeline.supervisor.run(pipeline.threads)
    except SessionAborted as e:
        e.outputs_dir = str(out_dir)
        return "failed", _where_failed(e), e
    except KeyboardInterrupt as e:
        return "interrupted", _where_interrupted(pipeline), e
    except ThreadStuckError as e:
        sup = pipeline.supervisor
        first = sup.failure
        detail = (f"{e}; outputs written from the finished sessions and what the stuck thread left"
                  + (f" (after {first.thread}: {type(first.error).__name__}: {first.error})" if first else ""))
        e.interrupted = sup.interrupted
        return ("interrupted" if sup.interrupted else "failed"), detail, e
    if pipeline.engine.results.bars == 0:
        error = NoBarsError(len(pipeline.plan.sessions), pipeline.rollup.count)
        return "failed", str(error), error
    return "completed", None, None


def _watch_callbacks(pipeline: Pipeline) -> None:
    limit = pipeline.config.strategy.callback_timeout_for(pipeline.config.pacing)
    engine = pipeline.engine
    watchdog = CallbackWatchdog(
        pipeline.strategy, lambda: engine.ident, limit or 0.0, pipeline.stopwatch, pipeline.tm.format_ns,
        lambda: engine.where()[1])
    pipeline.supervisor.watched = engine.name
    # Off (0): it never fails the run, and still frees a callback stuck past a stop (Ctrl-C).
    pipeline.supervisor.watchdog = watchdog


def _progress(p: Pipeline) -> dict[str, Any]:
    # summary.json while the run goes on: counters only (it is rewritten after every session).
    last = p.engine.results.log.last_equity()
    return {"session_name": p.config.session_name, "sessions_planned": len(p.plan.sessions),
            "base_interval": p.plan.base.label,
            "first_session": p.rollup.first_date, "last_session": p.rollup.last_date,
            "bars_processed": p.engine.results.bars,
            "equity": last if last is not None else p.config.trading.starting_cash}


def _where_failed(e: SessionAborted) -> str:
    parts = [f"session {e.session}" if e.session else None, f"at {e.clock_time}" if e.clock_time else None]
    where = " ".join(p for p in parts if p)
    cause = e.__cause__
    what = f"{e.thread}: {type(cause).__name__}: {cause}" if cause is not None else str(e)
    return f"{where}, {what}" if where else what


def _where_interrupted(p: Pipeline) -> str:
    how = SIGNAL_NAME.get(p.supervisor.interrupted_by, "Ctrl-C")
    current = p.data.current
    at = f" in session {current.session.isoformat()} at {p.tm.format_ns(p.tm.now_ns())}" if current else ""
    return f"{how}{at}; {p.rollup.count} of {len(p.plan.sessions)} sessions finished"
