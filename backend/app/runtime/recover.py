"""recover(run_dir): finish the files of a run whose process was killed, from its committed journal.

A killed run (``kill -9``, an OOM kill, a power cut of the process) leaves ``summary.json``
with ``status: "running"`` and the journal's commit record (`app.runtime.journal`). Recovery
keeps exactly the committed sessions: it cuts fills.csv back to its committed length, writes
equity.csv, sessions.json and report.txt from the journal, and a summary.json whose status is
``killed``. Run timings are not recovered (they lived in the process).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from app.errors import AppError
from app.metrics.stats import compute_run_summary
from app.runtime.journal import JOURNAL_DIR, read_equity, read_records, write_json_atomic
from app.runtime.json_file import read_json
from app.runtime.outputs import write_equity_csv, write_sessions_and_report
from app.runtime.rollup import RecordRollup
from app.runtime.text_columns import iso_local

__all__ = ["RecoverError", "recover"]


class RecoverError(AppError):
    """The folder is not a run that can be recovered (names the file and what was expected)."""


class _Trade(NamedTuple):
    pnl: float


def _read_json(path: Path, what: str) -> Any:
    return read_json(path, what, RecoverError)


def recover(run_dir: Path) -> dict[str, Any]:
    """Finish `run_dir`'s files from its committed journal; return the new summary.

    Raises
    ------
    RecoverError
        If `run_dir` holds no unfinished run (its summary.json is not ``status: running``), or
        its journal is missing.
    """
    progress = _read_json(run_dir / "summary.json", "the summary of a run")
    if progress.get("status") != "running" or "journal" not in progress:
        raise RecoverError(f"{run_dir / 'summary.json'}: status is {progress.get('status')!r}; expected an "
                           f"unfinished run (status 'running'): this run's files are already complete")
    config = _read_json(run_dir / "config.resolved.json", "the run's resolved config")
    committed: dict[str, int] = progress["journal"]
    journal = run_dir / JOURNAL_DIR
    if not journal.is_dir():
        raise RecoverError(f"{journal}: not found; expected the run's journal folder")

    from app.timing.time_manager import TimeManager  # the calendar's zone for the timestamps

    tm = TimeManager(config.get("calendar", "XNYS"))

    def stamps(ts_ns: np.ndarray) -> np.ndarray:
        return iso_local(ts_ns, tm.utc_offsets_s(ts_ns))

    with (run_dir / "fills.csv").open("r+b") as fh:  # drop a torn, uncommitted tail
        fh.truncate(committed["fills.csv"])
    fills = max(0, (run_dir / "fills.csv").read_bytes().count(b"\n") - 1)
    points = read_equity(journal / "equity.bin", committed[f"{JOURNAL_DIR}/equity.bin"])
    write_equity_csv(run_dir / "equity.csv", [points], stamps)

    pkl = journal / "sessions.pkl"
    limit = committed[f"{JOURNAL_DIR}/sessions.pkl"]
    rollup = RecordRollup(tuple(config["symbols"]))
    trades: list[_Trade] = []
    bars = rejected = 0
    for record, pnls in read_records(pkl, limit):
        rollup.add(record)
        trades += [_Trade(p) for p in pnls]
        bars += record["bars_processed"]
        rejected += record["trading"].get("rejected_orders", 0)
    starting_cash = float(config["trading"]["starting_cash"])
    summary: dict[str, Any] = dict(compute_run_summary(points["ns"], points["equity"], rollup.equity_end, trades,
                                                       starting_cash, fills, bars, rejected_orders=rejected))
    summary.update({
        "session_name": progress.get("session_name"),
        "status": "killed",
        "status_detail": (f"the process ended before the run finished; recovered the {rollup.count} finished "
                          f"sessions of {progress.get('sessions_planned', '?')} (run timings were not recovered)"),
        "calendar": config.get("calendar"),
        "symbols": list(config["symbols"]),
        "base_interval": progress.get("base_interval"),
        "sessions_planned": progress.get("sessions_planned"),
        "first_session": rollup.first_date,
        "last_session": rollup.last_date,
        "steps": int(points.shape[0]),
        "metrics": {},
    })
    if rollup.count:
        base = progress.get("base_interval") or str(config["streams"][0])  # the progress names it
        summary["data_quality"] = rollup.data_quality(base)
        summary["bars"] = rollup.bars()

    def records() -> Iterator[dict[str, Any]]:
        for record, _ in read_records(pkl, limit):
            yield record

    recording = run_dir / "recording"
    if recording.is_dir():  # the streams flushed up to the kill (at most one step lost) become Parquet
        from app.recording.writer import finish_recording

        summary["recording"] = {"tables": finish_recording(recording)}
    write_sessions_and_report(run_dir, summary, records())
    write_json_atomic(run_dir / "summary.json", summary)
    for name in ("equity.bin", "sessions.pkl"):
        (journal / name).unlink(missing_ok=True)
    os.rmdir(journal)
    from app.report import write_run_report_safely  # imported here: start-up does not pay for it

    write_run_report_safely(run_dir)  # report.html from the recovered files (a failure is logged)
    return summary
