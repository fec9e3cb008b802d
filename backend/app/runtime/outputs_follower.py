"""The output writer process: follows a run's journal and writes its files while the run goes on.

``python -m app.runtime.outputs_follower RUN_DIR ZONE`` is started by the run
(`app.runtime.outputs_process`). It reads pickled messages on stdin:

- ``("commit", lengths)`` after each finished session (the journal's committed byte lengths,
  `app.runtime.journal`): it reads the new equity points and session records and encodes them
  (equity.csv's rows, sessions.json's records, report.txt's session blocks, report.html's session
  views), on a second core while the run's threads share the first;
- ``("finish", lengths, summary, began_ns, before_s)`` once the run ended (when its outputs
  began, on the system-wide counter, else None and their time so far): it writes what is left, makes
  equity.csv and sessions.json whole, then runs `app.runtime.outputs.finish_text_and_page` (the
  same code and the same bytes as a run that writes its outputs itself). It answers on stdout
  with a JSON line ``{"done": "files"}`` once every file but the page is whole, then
  ``{"done": "page", ...}`` with the outputs' time and its own CPU and peak RSS.

End of input before ``finish`` (the run process died) renames nothing: its temporary files are
removed and the journal stays for ``--recover``. Ctrl-C is the run's to handle (SIGINT ignored).
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import resource
import shutil
import signal
import sys
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

import numpy as np

from app.report.equity_thin import EquityThinner
from app.report.run_charts import EquityView, equity_view
from app.report.run_files import Equity, SessionViews, StampRows
from app.runtime.journal import EQUITY_DTYPE, JOURNAL_DIR, read_equity_chunks, read_records
from app.runtime.outputs import EQUITY_CHUNK, EquityCsvWriter, SessionsPass, finish_text_and_page
from app.runtime.outputs_process import TMP_DIR
from app.runtime.text_columns import iso_local
from app.timing.stopwatch import Stopwatch
from app.timing.zone_offsets import utc_offsets_s

__all__ = ["Follower", "main"]

log = logging.getLogger(__name__)

EQUITY_FILE = f"{JOURNAL_DIR}/equity.bin"
RECORDS_FILE = f"{JOURNAL_DIR}/sessions.pkl"
FOLLOW_JSON_CHUNK = 8
"""Records of sessions.json encoded at a time as they come (the same bytes as `JSON_CHUNK` at a time)."""
HELD_EQUITY_POINTS = 1 << 17
"""Equity points (33 bytes each, ~4.3 MB) the page's curve keeps in memory before it spools
them: a year of one-minute steps (~98,000) stays held and is thinned at once."""


class _HeldThenSpooled(EquityThinner):
    """report.html's equity curve in the writer process, whose length is known only at the end.

    Up to `hold` points are kept in memory and thinned at once by `equity_view` (~4 ms for a
    year of one-minute steps); past that, they go to the thinner's spool about `rows` at a time and are
    thinned when the view is asked for (~14 ms a year: a session's few hundred points a chunk
    made it ~5x slower). The same points either way; memory is bounded by `hold` points (33 bytes
    each), whatever the run's length.
    """

    def __init__(self, spool_dir: Path, rows: int, hold: int) -> None:
        super().__init__(None, spool_dir=spool_dir)
        self._rows, self._hold = rows, hold
        self._held: list[tuple[np.ndarray, np.ndarray]] = []
        self._count = 0
        self._spooled = False

    def append(self, chunk: tuple[np.ndarray, np.ndarray]) -> None:
        self._held.append(chunk)
        self._count += int(chunk[1].shape[0])
        if self._count >= (self._rows if self._spooled else self._hold):
            self._spooled = True
            self._pass_on()

    def _pass_on(self) -> None:
        # The held chunks, joined `rows` points at a time (never all at once: at the spill that
        # would be a second copy of everything held).
        group: list[tuple[np.ndarray, np.ndarray]] = []
        size = 0
        for chunk in self._held:
            group.append(chunk)
            size += int(chunk[1].shape[0])
            if size >= self._rows:
                super().append(_joined(group))
                group, size = [], 0
        if group:
            super().append(_joined(group))
        self._held, self._count = [], 0

    def view(self) -> EquityView:
        """The thinned curve (the spool file is removed: no chunk may come after it)."""
        try:
            if not self._spooled:
                rows, values = _joined(self._held)
                return equity_view(Equity(StampRows(rows), values), self.max_points)
            self._pass_on()
            return super().view()
        finally:
            self.close()


def _joined(chunks: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    if not chunks:
        return np.zeros((0, 25), dtype=np.uint8), np.empty(0)
    return np.concatenate([r for r, _ in chunks]), np.concatenate([v for _, v in chunks])


class Follower:
    """Encodes a run's journal into its files as sessions are committed (see the module doc).

    One thread: each `take` encodes what the commit added (equity.csv's rows, each record's
    JSON, report block and view) into the files being written in `tmp_dir`.
    """

    def __init__(self, out_dir: Path, zone: ZoneInfo) -> None:
        self.out_dir = out_dir
        self._journal = out_dir / JOURNAL_DIR
        self.tmp_dir = out_dir / TMP_DIR  # its files until renamed (not the run's: no race with --recover)
        self.tmp_dir.mkdir(exist_ok=True)
        self._equity_at = self._records_at = 0
        # report.html's equity curve (its length, which sets the thinning, is known only at the
        # end): held, then spooled past a bound, so memory stays flat.
        self.kept = _HeldThenSpooled(self.tmp_dir, EQUITY_CHUNK, HELD_EQUITY_POINTS)
        self.views = SessionViews()  # and each session's view, compact

        def stamps(ts_ns: np.ndarray) -> np.ndarray:
            return iso_local(ts_ns, utc_offsets_s(ts_ns, zone))

        self._equity = EquityCsvWriter(out_dir / "equity.csv", stamps, self.kept, self.tmp_dir)
        # Records encoded 8 at a time (64 inline): at most 7 are left for the run's end.
        self._sessions = SessionsPass(out_dir, self.views, self.tmp_dir, chunk=FOLLOW_JSON_CHUNK)
        self.blocks: list[str] = []

    def take(self, lengths: dict[str, int]) -> None:
        """Encode what the journal committed since the last call."""
        equity = lengths[EQUITY_FILE] - lengths[EQUITY_FILE] % EQUITY_DTYPE.itemsize
        for chunk in read_equity_chunks(self._journal / "equity.bin", EQUITY_CHUNK, equity, self._equity_at):
            self._equity.add(chunk)
        self._equity_at = max(self._equity_at, equity)
        records = lengths[RECORDS_FILE]
        if records > self._records_at:
            for record, _ in read_records(self._journal / "sessions.pkl", records, self._records_at):
                self._sessions.add(record)
            self._records_at = records

    def files(self) -> None:
        """Make equity.csv and sessions.json whole (after the last `take`)."""
        self._equity.close()
        self.blocks = self._sessions.close()

    def abort(self) -> None:
        """Leave both files unrenamed and remove them."""
        self._equity.abandon()
        self._sessions.abandon()
        shutil.rmtree(self.tmp_dir, ignore_errors=True)


def _reply(out: BinaryIO, **fields: Any) -> None:
    out.write(json.dumps(fields).encode("utf-8") + b"\n")
    out.flush()


def _log_to_run_log(out_dir: Path) -> None:
    # The page's time and a failure's warning go to run.log, as in the run's own process.
    handler = logging.FileHandler(out_dir / "run.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(processName)s] %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    """Follow the run in ``argv[0]`` (calendar zone ``argv[1]``); exit 0 once its files are written."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the run process stops us (or its end of input does)
    args = sys.argv[1:] if argv is None else argv
    out_dir, zone = Path(args[0]), ZoneInfo(args[1])
    _log_to_run_log(out_dir)
    source = sys.stdin.buffer
    follower = Follower(out_dir, zone)
    _warm_up()
    while True:
        try:
            message = pickle.load(source)  # the run process's own messages
        except EOFError:
            follower.abort()
            return 1
        if message[0] != "finish":
            follower.take(message[1])
            continue
        _, lengths, summary, began_ns, before_s = message
        _finish(follower, lengths, summary, began_ns, before_s, sys.stdout.buffer)
        logging.shutdown()
        os._exit(0)  # every file is written and closed: the interpreter's teardown is the run's wait


def _warm_up() -> None:
    # What the page needs that a first use pays for (its modules, the Parquet reader, Arrow's CSV
    # reader for fills.csv, plotly.js read from disk: ~70 ms at the run's end), loaded while the
    # run goes on instead.
    import pyarrow as pa
    import pyarrow.csv as pcsv

    from app.report.html import plotly_js
    from app.report.run_page import write_run_report
    from app.store.parquet_file import ParquetFile

    del write_run_report, ParquetFile
    try:
        pcsv.read_csv(pa.BufferReader(b"a,b\n1,x\n"), read_options=pcsv.ReadOptions(use_threads=False))
        plotly_js()
    except Exception:  # noqa: BLE001 - the page says what is missing when it is written
        pass


def _finish(follower: Follower, lengths: dict[str, int], summary: dict[str, Any], began_ns: int | None,
            before_s: float, out: BinaryIO) -> None:
    # The outputs are timed from when the run began them if its counter is this one (system-wide:
    # the time this process took to catch up with the run counts), else from now plus the run's part.
    sw = Stopwatch()
    received = sw.now_ns()
    began, before_s = (began_ns, 0.0) if began_ns is not None else (received, before_s)
    follower.take(lengths)
    follower.files()
    log.info("output writer: equity.csv and sessions.json whole %.3f s after the run's end was handed over, "
             "%.3f s after the run's outputs began; peak RSS so far %.1f MB", sw.elapsed_ns(received) / 1e9,
             before_s + sw.elapsed_ns(began) / 1e9, _usage()["peak_rss_mb"])
    process = summary["metrics"].setdefault("process", {})

    def outputs_s() -> float:
        # Taken just before each write of report.txt and summary.json: this process's own
        # figures go with the outputs' time.
        process["writer"] = _usage()
        return float(before_s + sw.elapsed_ns(began) / 1e9)

    shutil.rmtree(follower.tmp_dir, ignore_errors=True)  # (empty: both renamed)
    finish_text_and_page(follower.out_dir, summary, follower.blocks, follower.kept, follower.views, sw, outputs_s,
                         lambda: _reply(out, done="files"))
    _reply(out, done="page", outputs_s=summary["metrics"]["breakdown"]["outputs_s"], writer=process["writer"])


def _usage() -> dict[str, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"cpu_s": round(usage.ru_utime + usage.ru_stime, 3), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}


if __name__ == "__main__":
    sys.exit(main())
