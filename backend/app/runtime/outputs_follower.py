"""The output writer process: follows a run's journal and writes its files while the run goes on.

``python -m app.runtime.outputs_follower RUN_DIR ZONE`` is started by the run
(`app.runtime.outputs_process`). It reads pickled messages on stdin:

- ``("commit", lengths)`` after each finished session (the journal's committed byte lengths,
  `app.runtime.journal`): it reads the new equity points and session records and encodes them
  (equity.csv's rows, sessions.json's records, report.txt's session blocks, report.html's session
  views), on a second core while the run's threads share the first;
- ``("finish", lengths, summary, outputs_s)`` once the run ended: it writes what is left, makes
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
import queue
import resource
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

import numpy as np

from app.runtime.journal import EQUITY_DTYPE, JOURNAL_DIR, read_equity_chunks, read_records
from app.runtime.outputs import EQUITY_CHUNK, finish_text_and_page, write_equity_csv, write_sessions_and_blocks
from app.runtime.text_columns import iso_local
from app.timing.stopwatch import Stopwatch
from app.timing.zone_offsets import utc_offsets_s

__all__ = ["TMP_DIR", "Follower", "main"]

log = logging.getLogger(__name__)

EQUITY_FILE = f"{JOURNAL_DIR}/equity.bin"
RECORDS_FILE = f"{JOURNAL_DIR}/sessions.pkl"
TMP_DIR = ".writer"
"""The process's folder in the run folder for equity.csv and sessions.json until they are whole."""


class AbortedError(Exception):
    """The run process went away before ``finish``: the files being written are not renamed."""


class _Feed:
    """Items handed to a writer running on its own thread, as a blocking iterable."""

    _END = object()

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def put(self, item: Any) -> None:
        self._queue.put(item)

    def end(self, error: BaseException | None = None) -> None:
        self._queue.put(error if error is not None else self._END)

    def __iter__(self) -> Iterator[Any]:
        while True:
            item = self._queue.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item


class _Writer(threading.Thread):
    # One file's writer over a feed; its exception is kept for `Follower.finish`.

    def __init__(self, name: str, target: Callable[[], Any]) -> None:
        super().__init__(name=name, daemon=True)
        self._target_fn = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._target_fn()
        except BaseException as e:  # noqa: BLE001 - reported by finish(), not lost with the thread
            self.error = e


class Follower:
    """Encodes a run's journal into its files as sessions are committed (see the module doc)."""

    def __init__(self, out_dir: Path, zone: ZoneInfo) -> None:
        self.out_dir = out_dir
        self._journal = out_dir / JOURNAL_DIR
        self.tmp_dir = out_dir / TMP_DIR  # its files until renamed (not the run's: no race with --recover)
        self.tmp_dir.mkdir(exist_ok=True)
        self._equity_at = self._records_at = 0
        self._equity, self._records = _Feed(), _Feed()
        self.kept: list[tuple[np.ndarray, np.ndarray]] = []
        self.views: list[dict[str, Any]] = []
        self.blocks: list[str] = []

        def stamps(ts_ns: np.ndarray) -> np.ndarray:
            return iso_local(ts_ns, utc_offsets_s(ts_ns, zone))

        def sessions() -> None:
            self.blocks = write_sessions_and_blocks(out_dir, iter(self._records), self.views, self.tmp_dir)

        def equity() -> None:
            write_equity_csv(out_dir / "equity.csv", self._equity, stamps, self.kept, self.tmp_dir)

        self._writers = [_Writer("equity.csv", equity), _Writer("sessions.json", sessions)]
        for writer in self._writers:
            writer.start()

    def take(self, lengths: dict[str, int]) -> None:
        """Hand the writers what the journal committed since the last call."""
        equity = lengths[EQUITY_FILE] - lengths[EQUITY_FILE] % EQUITY_DTYPE.itemsize
        for chunk in read_equity_chunks(self._journal / "equity.bin", EQUITY_CHUNK, equity, self._equity_at):
            self._equity.put(chunk)
        self._equity_at = max(self._equity_at, equity)
        records = lengths[RECORDS_FILE]
        if records > self._records_at:
            for record, _ in read_records(self._journal / "sessions.pkl", records, self._records_at):
                self._records.put(record)
            self._records_at = records

    def files(self) -> None:
        """Make equity.csv and sessions.json whole (after the last `take`); raise a writer's error."""
        for feed in (self._equity, self._records):
            feed.end()
        self._join()

    def abort(self) -> None:
        """Stop the writers without renaming their files, and remove those."""
        for feed in (self._equity, self._records):
            feed.end(AbortedError())
        for writer in self._writers:
            writer.join()
        shutil.rmtree(self.tmp_dir, ignore_errors=True)

    def _join(self) -> None:
        for writer in self._writers:
            writer.join()
        for writer in self._writers:
            if writer.error is not None:
                raise RuntimeError(f"{writer.name}: {type(writer.error).__name__}: {writer.error}") from writer.error


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
    while True:
        try:
            message = pickle.load(source)  # the run process's own messages
        except EOFError:
            follower.abort()
            return 1
        if message[0] != "finish":
            follower.take(message[1])
            continue
        _, lengths, summary, before_s = message
        _finish(follower, lengths, summary, before_s, sys.stdout.buffer)
        logging.shutdown()
        os._exit(0)  # every file is written and closed: the interpreter's teardown is the run's wait


def _finish(follower: Follower, lengths: dict[str, int], summary: dict[str, Any], before_s: float,
            out: BinaryIO) -> None:
    sw = Stopwatch()
    began = sw.now_ns()
    follower.take(lengths)
    follower.files()
    log.info("output writer: equity.csv and sessions.json whole %.3f s after the run's end was handed over "
             "(the run's part before: %.3f s)", sw.elapsed_ns(began) / 1e9, before_s)
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
