"""Finish a run's files from its journal: equity.csv, sessions.json, report.txt, summary.json.

The journal (`app.runtime.journal`) wrote fills.csv, the equity points and the session records
as the run went; this module turns them into the final files once the run ended, however it
ended (and `app.runtime.recover` after a kill).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from app.metrics.stats import compute_run_summary, open_positions, symbol_pnl_of
from app.runtime.journal import (
    EQUITY_HEADER,
    JSON_CHUNK,
    RunJournal,
    SessionsJsonWriter,
    equity_rows,
    read_equity_chunks,
    write_all,
    write_json_atomic,
)
from app.runtime.rollup import RecordRollup
from app.runtime.text_columns import iso_local, printed_values
from app.timing.stopwatch import Stopwatch

if TYPE_CHECKING:  # (the writer process imports this module without the pipeline's)
    from app.report.equity_thin import EquityThinner
    from app.report.run_files import SessionViews
    from app.runtime.build import Pipeline
    from app.runtime.outputs_process import OutputsProcess

    KeptEquity = list[tuple[np.ndarray, np.ndarray]] | EquityThinner  # write_equity_csv's `keep`
    Views = list[dict[str, Any]] | SessionViews  # write_sessions_and_blocks's `views`

__all__ = ["EquityCsvWriter", "SessionsPass", "build_summary", "equity_columns", "finish_text_and_page",
           "stamps_for", "write_equity_csv", "write_outputs", "write_sessions_and_blocks", "write_sessions_and_report"]


EQUITY_CHUNK = 32_768
"""Rows of equity.csv encoded at a time (bounds the end-of-run peak; the same bytes)."""


def stamps_for(pipeline: Pipeline) -> Callable[[np.ndarray], np.ndarray]:
    """Return the files' timestamp formatter: epoch ns -> local ISO text (the run's calendar)."""
    tm = pipeline.tm
    return lambda ts_ns: iso_local(ts_ns, tm.utc_offsets_s(ts_ns))


def equity_columns(pipeline: Pipeline) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The engine's equity log so far: (step end ns, equity, cash)."""
    res = pipeline.engine.results
    return (np.asarray(res.equity_ns, dtype=np.int64), np.asarray(res.equity, dtype=np.float64),
            np.asarray(res.cash, dtype=np.float64))


def write_outputs(pipeline: Pipeline, journal: RunJournal, rollup: RecordRollup, out_dir: Path,
                  status: str, elapsed_s: float, startup_s: float | None = None,
                  status_detail: str | None = None, writer: OutputsProcess | None = None) -> dict[str, Any]:
    """Finish the run's files from its journal (also after a failure: what exists so far); return the summary.

    Appends the fills the session in progress left, then writes equity.csv, sessions.json,
    report.txt and summary.json, each whole (by rename), removes the journal, and writes
    report.html from those files (`app.report`; its failure is only logged).

    The summary's ``metrics.breakdown`` times the process's phases: `startup_s` (process start
    to run start, when given), the run's `elapsed_s` and data loading within it, and
    ``outputs_s``: every output file above, report.html included. report.txt (whose run report
    prints the breakdown) and summary.json are written again after the page with the whole
    ``outputs_s``; only that last rewrite (~2 ms) is not counted. (Written before the page as
    well, so that a Ctrl-C while the page is built loses nothing but the page.)

    With `writer` (the output writer process, which encoded the finished sessions while the run
    went on), the files are its to finish; what it could not finish is written here, from the
    journal (`app.runtime.outputs_process`).
    """
    sw = pipeline.stopwatch
    began = sw.now_ns()
    if pipeline.recording is not None:  # recording/: its streams become Parquet (app.recording.writer)
        pipeline.recording.finish()
    journal.append(pipeline.broker.fills, equity_columns(pipeline))  # what the session in progress left
    rollup.fold_fills(pipeline.broker.fills)
    journal.close()
    summary = build_summary(pipeline, rollup, status, elapsed_s)
    if status_detail:
        summary["status_detail"] = status_detail
    breakdown = _breakdown(summary["metrics"], startup_s, elapsed_s, sw.elapsed_ns(began) / 1e9)
    summary["metrics"]["breakdown"] = breakdown
    if writer is not None:
        done = writer.finish(journal.committed, summary, began if sw.system_wide else None,
                             sw.elapsed_ns(began) / 1e9, journal.remove)
        if done.page:  # (its summary.json and report.txt say the same)
            breakdown["outputs_s"] = done.reply["outputs_s"]
            summary["metrics"].setdefault("process", {})["writer"] = done.reply["writer"]
            return summary
        if done.files:  # all but the page: the page here, from the files
            from app.report import write_run_report_safely

            write_run_report_safely(out_dir, sw)
            return summary
    # The whole curve, from the journal (the engine holds a session's points), a chunk at a time.
    kept = _equity_thinner(journal.dir / "equity.bin")  # report.html's curve, thinned as equity.csv is written
    write_equity_csv(out_dir / "equity.csv", read_equity_chunks(journal.dir / "equity.bin", EQUITY_CHUNK),
                     stamps_for(pipeline), kept)
    views = _session_views()  # what report.html reads of each record (not sessions.json read back)
    blocks = write_sessions_and_blocks(out_dir, (record for record, _ in journal.records()), views)
    finish_text_and_page(out_dir, summary, blocks, kept, views, sw, lambda: sw.elapsed_ns(began) / 1e9,
                         journal.remove)
    return summary


def finish_text_and_page(out_dir: Path, summary: dict[str, Any], blocks: list[str],
                         kept: KeptEquity, views: Views, sw: Stopwatch,
                         outputs_s: Callable[[], float], files_whole: Callable[[], None]) -> None:
    """Write report.txt and summary.json, call `files_whole`, then write report.html and both again.

    equity.csv and sessions.json are whole already (`kept`, `views` and `blocks` as their writers
    left them). `outputs_s()` is the outputs' time so far: the summary's breakdown takes it before
    each write of report.txt (whose run report prints it), the second time with report.html's.
    `files_whole` runs once every file but the page is whole (the journal may go: a Ctrl-C from
    there on loses at most the page).
    """
    breakdown = summary["metrics"].setdefault("breakdown", {})
    breakdown["outputs_s"] = outputs_s()
    _write_report_text(out_dir, summary, blocks)
    write_json_atomic(out_dir / "summary.json", summary)  # what report.html reads
    files_whole()
    from app.report import write_run_report_safely  # imported here: start-up does not pay for it

    # From the files above (equity.csv as written: not read back); a failure is a warning in run.log.
    write_run_report_safely(out_dir, sw, _kept_equity(kept), views)
    _write_report_text(out_dir, summary, blocks, lambda: breakdown.update(outputs_s=outputs_s()))
    write_json_atomic(out_dir / "summary.json", summary)  # again, with the whole outputs_s


def write_equity_csv(path: Path, chunks: Iterable[np.ndarray], stamps: Callable[[np.ndarray], np.ndarray],
                     keep: KeptEquity | None = None, tmp_dir: Path | None = None) -> None:
    """Write equity.csv (one row per step) whole, by rename, from chunks of `EQUITY_DTYPE` points.

    The text columns take ~150 bytes a row while they are built: chunks bound that (three
    years of one-minute steps at once peaked ~45 MB above a one-year run). With `keep`, each
    chunk's timestamp rows and the equity its text parses to are appended to it (33 bytes a
    row: report.html draws them without reading the file back). The file is written in
    `tmp_dir` (default: `path`'s folder) as ``<name>.tmp``, then renamed.
    """
    write_all(EquityCsvWriter(path, stamps, keep, tmp_dir), chunks)


class EquityCsvWriter:
    """`write_equity_csv` a chunk at a time, as the chunks come: `add` each, then `close` renames
    the file whole (`abandon` leaves the temporary file unrenamed)."""

    def __init__(self, path: Path, stamps: Callable[[np.ndarray], np.ndarray], keep: KeptEquity | None = None,
                 tmp_dir: Path | None = None) -> None:
        self.path = path
        self.tmp = (tmp_dir or path.parent) / (path.name + ".tmp")
        self._stamps, self._keep = stamps, keep
        self._fh = self.tmp.open("wb")
        self._fh.write(EQUITY_HEADER)

    def add(self, points: np.ndarray) -> None:
        """Append the rows of `points` (`EQUITY_DTYPE`)."""
        if not points.shape[0]:  # (recover hands over every point at once: maybe none)
            return
        rows = self._stamps(points["ns"])
        self._fh.write(equity_rows(points["ns"], points["equity"], points["cash"], functools.partial(_same, rows)))
        if self._keep is not None:
            self._keep.append((rows, printed_values(points["equity"])))

    def close(self) -> None:
        """Finish the file and rename it over `path`."""
        self._fh.close()
        os.replace(self.tmp, self.path)

    def abandon(self) -> None:
        """Close the temporary file without renaming it."""
        self._fh.close()


def _same(rows: np.ndarray, _ns: np.ndarray) -> np.ndarray:
    return rows


def _equity_thinner(path: Path) -> EquityThinner:
    # A `keep` for write_equity_csv of the journal's equity points at `path` (as many as
    # read_equity_chunks reads): only the points report.html draws are kept.
    from app.report.equity_thin import EquityThinner
    from app.runtime.journal import EQUITY_DTYPE

    return EquityThinner(path.stat().st_size // EQUITY_DTYPE.itemsize if path.exists() else 0)


def _session_views() -> SessionViews:
    # A `views` for write_sessions_and_blocks that keeps them compact (`app.report.run_files.SessionViews`).
    from app.report.run_files import SessionViews

    return SessionViews()


def _kept_equity(kept: KeptEquity) -> Any:
    # equity.csv for report.html (`app.report.run_files.Equity`, or its thinned curve), from
    # write_equity_csv's `keep`; None (the page reads equity.csv) if the thinner was not given every point.
    from app.report.run_files import Equity, StampRows

    if not isinstance(kept, list):
        try:
            return kept.view()
        except ValueError:
            return None
    stamps = np.concatenate([rows for rows, _ in kept]) if kept else np.zeros((0, 25), dtype=np.uint8)
    values = np.concatenate([v for _, v in kept]) if kept else np.empty(0)
    return Equity(StampRows(stamps), values)


def write_sessions_and_report(out_dir: Path, summary: dict[str, Any], records: Iterator[dict[str, Any]]) -> None:
    """Write sessions.json and report.txt (`format_report`'s text) in one pass over `records`, each by rename."""
    _write_report_text(out_dir, summary, write_sessions_and_blocks(out_dir, records))


def write_sessions_and_blocks(out_dir: Path, records: Iterator[dict[str, Any]],
                              views: Views | None = None, tmp_dir: Path | None = None) -> list[str]:
    """Write sessions.json (by rename) in one pass over `records`; return each session's report.txt block.

    Each session's report block is formatted from its record as the run made it (not from its
    JSON, rounded to 6 decimals, which could move a printed figure's last digit). With `views`,
    each record's `app.report.run_files.session_view` is appended to it.
    """
    return write_all(SessionsPass(out_dir, views, tmp_dir), records)


class SessionsPass:
    """`write_sessions_and_blocks` a record at a time, as the records come: `add` each, then
    `close` renames sessions.json whole and returns the report blocks (`abandon`: not renamed)."""

    def __init__(self, out_dir: Path, views: Views | None = None, tmp_dir: Path | None = None,
                 chunk: int = JSON_CHUNK) -> None:
        from app.metrics.report import format_session_report  # after the run: start-up does not pay for it
        from app.report.run_files import session_view

        self._block, self._view = format_session_report, session_view
        self.blocks: list[str] = []
        self.views = views
        self._json = SessionsJsonWriter(out_dir / "sessions.json", tmp_dir, chunk)

    def add(self, record: dict[str, Any]) -> None:
        """One session's record: its report block, its view (with `views`), its JSON."""
        self.blocks.append(self._block(record))
        if self.views is not None:
            self.views.append(self._view(record))
        self._json.add(record)

    def close(self) -> list[str]:
        """Finish sessions.json (renamed whole); return the sessions' report.txt blocks."""
        self._json.close()
        return self.blocks

    def abandon(self) -> None:
        """Close sessions.json's temporary file without renaming it."""
        self._json.abandon()


def _write_report_text(out_dir: Path, summary: dict[str, Any], blocks: list[str],
                       before: Callable[[], None] | None = None) -> None:
    # report.txt: the run report, then each session's block (`format_report`'s text), by rename;
    # `before` runs just before the run report is formatted (the breakdown's last figure).
    from app.metrics.report import format_run_report

    path = out_dir / "report.txt"
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as report:
        if before is not None:
            before()
        report.write(format_run_report(summary))
        report.write("".join(["\n\n" + block for block in blocks]) + "\n")
    os.replace(tmp, path)


def _breakdown(metrics: dict[str, Any], startup_s: float | None, run_s: float,
               outputs_s: float) -> dict[str, float]:
    stages = metrics.get("stages", {})
    load_ms = sum(stages.get(name, {}).get("total_ms", 0.0)
                  for name in ("data_loading_initial", "data_loading_subsequent"))
    out = {"run_s": run_s, "load_s": load_ms / 1e3, "outputs_s": outputs_s}
    if startup_s is not None:
        out["startup_s"] = startup_s
    return out


def build_summary(pipeline: Pipeline, rollup: RecordRollup, status: str, elapsed_s: float) -> dict[str, Any]:
    """Return summary.json's content: totals and statistics, timing under "metrics"."""
    res = pipeline.engine.results
    broker = pipeline.broker
    cfg = pipeline.config
    summary: dict[str, Any] = dict(compute_run_summary(
        *equity_columns(pipeline)[:2], rollup.equity_end, broker.closed_trades, cfg.trading.starting_cash,
        broker.filled_count, res.bars, rejected_orders=broker.rejected_count, drawdown=rollup.drawdown))
    books = {s: (p.quantity, p.avg_price, broker.last_price(s)) for s, p in broker.positions.items()}
    summary["trading"]["by_symbol"] = symbol_pnl_of(rollup.fill_cash, rollup.fill_count, {}, books)
    summary.update({
        "session_name": cfg.session_name,
        "status": status,
        "calendar": cfg.calendar,
        "symbols": list(pipeline.plan.symbols),
        "base_interval": pipeline.plan.base.label,
        "streams": [pipeline.plan.base.label, *(i.label for i in pipeline.derived)],
        "sessions_planned": len(pipeline.plan.sessions),
        "first_session": rollup.first_date,
        "last_session": rollup.last_date,
        "steps": res.steps,
        "open_positions": open_positions(books),
        "clock": {"mode": pipeline.metrics.mode, "requested_speed": pipeline.metrics.requested_speed},
    })
    if rollup.count:
        summary["data_quality"] = rollup.data_quality(pipeline.plan.base.label)
        summary["bars"] = rollup.bars()
    if pipeline.feed_stats is not None:
        stats = pipeline.feed_stats
        summary["feed"] = {"messages": stats.messages, "bars": stats.bars, "updated_bars": stats.updated_bars,
                           "duplicates_dropped": stats.duplicates_dropped, "malformed": stats.malformed,
                           "unexpected": stats.unexpected, "reconnects": stats.reconnects,
                           "backfilled_bars": stats.backfilled_bars,
                           "errors": {str(k): v for k, v in sorted(stats.errors.items())}}
    if pipeline.broker_link is not None:
        summary["broker"] = pipeline.broker_link.summary()
    metrics = pipeline.metrics.run_report(elapsed_s, res.bars, rollup.count)
    summary["metrics"] = {**summary.get("metrics", {}), **metrics}
    return summary

