"""RunJournal: a run's results written as it goes, written through once per finished session.

What is on disk while a run goes on, and after a ``kill -9``:

- ``fills.csv``: every fill of every finished session (appended as text when the session ends).
- ``journal/equity.bin``: the equity points of every finished session (ns, equity, cash: 24
  bytes a point), and ``journal/sessions.pkl``: each finished session's record, one pickle each
  (its ``metrics`` as a snapshot and its ``data_quality`` left out: `read_records` builds them,
  `app.runtime.records.complete_record`).
- ``summary.json``: ``status: "running"``, the progress so far and the commit record
  (``journal``: the byte length of each journal file after the last finished session), always
  whole: rewritten in place as one padded page (a single page is written whole or not at all),
  or replaced by rename when it outgrows the page. Bytes past a committed length belong to a
  session that did not finish.

When the run ends however it ends (completed, failed, interrupted, a stuck thread), the main
thread turns the journal into the run's files (`app.runtime.outputs`): equity.csv, sessions.json,
report.txt and summary.json, each whole (by rename), and removes ``journal/``. After a kill,
``python -m app.backtest --recover RUN_DIR`` does the same from the committed journal
(`app.runtime.recover`).

Why binary and pickle rather than the final text per session: a session's equity.csv rows,
JSON record and report block cost ~2.5 ms to encode (numpy's text columns have a fixed cost
per call, the JSON normaliser rounds every float) and renaming summary.json forced a data
flush on ext4 (~2.4 ms): about 1.4 s over a year of one symbol, more than the run itself.
Appending the binary journal costs ~0.1 ms a session; the text is encoded once, in bulk.
"""

from __future__ import annotations

import io
import json
import os
import pickle
from collections.abc import Callable, Iterable, Iterator, Sequence
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TypeVar

import numpy as np

from app.metrics.json_template import template_json
from app.metrics.json_text import to_compact_json, to_json
from app.runtime.local_seconds import SIDE_TEXT, LocalSeconds, csv_field, local_seconds
from app.runtime.records import complete_record
from app.runtime.text_columns import fixed_decimals, join_rows, text_column

__all__ = [
    "EQUITY_DTYPE",
    "EQUITY_HEADER",
    "FILLS_HEADER",
    "JOURNAL_DIR",
    "JSON_CHUNK",
    "LocalSeconds",
    "RunJournal",
    "SessionsJsonWriter",
    "Writer",
    "equity_rows",
    "fill_rows",
    "read_equity",
    "read_equity_chunks",
    "read_records",
    "write_all",
    "write_json_atomic",
    "write_sessions_json",
]

T_contra = TypeVar("T_contra", contravariant=True)
R_co = TypeVar("R_co", covariant=True)

FILLS_HEADER = b"timestamp,symbol,side,quantity,price,commission\n"
EQUITY_HEADER = b"timestamp,equity,cash\n"
JOURNAL_DIR = "journal"
EQUITY_DTYPE = np.dtype([("ns", "<i8"), ("equity", "<f8"), ("cash", "<f8")])
JSON_CHUNK = 64
"""Records indented at a time when sessions.json is written (bounds memory, keeps per-call cost low)."""
PAGE = 4096
"""summary.json is rewritten in place, padded to this size, while it fits (see the module doc)."""
SMALL = 32
"""Fewer fills than this are formatted by Python (numpy's text columns cost ~0.3 ms a call)."""

Stamps = Callable[[np.ndarray], np.ndarray]
"""Epoch ns -> the files' local ISO timestamps (one text row per value)."""


def fill_rows(fills: Sequence[Any], stamps: Stamps, tz: Any = None) -> bytes:
    """Return fills.csv's rows (no header) for `fills`.

    With `tz` (the calendar's zone, or a `LocalSeconds` of it) a few fills are formatted by
    Python, the same text as the column path (``datetime.isoformat`` of a whole-second
    instant, ``f"{x:.4f}"``).
    """
    if not fills:
        return b""
    if tz is not None and len(fills) < SMALL:
        text = (tz if isinstance(tz, LocalSeconds) else LocalSeconds(tz)).fill_text(fills)
        if text is not None:
            return text.encode("utf-8")
    names = {s: csv_field(s) for s in {f.symbol for f in fills}}
    return join_rows([
        stamps(np.array([f.filled_at_ns for f in fills], dtype=np.int64)), ",",
        text_column([names[f.symbol] for f in fills]), ",",
        text_column([SIDE_TEXT[f.side] for f in fills]), ",",
        text_column([str(f.quantity) for f in fills]), ",",
        fixed_decimals([f.price for f in fills]), ",",
        fixed_decimals([f.commission for f in fills]), "\n",
    ])


def equity_rows(ts_ns: np.ndarray, equity: np.ndarray, cash: np.ndarray, stamps: Stamps) -> bytes:
    """Return equity.csv's rows (no header), one per step."""
    if not ts_ns.shape[0]:
        return b""
    return join_rows([stamps(ts_ns), ",", fixed_decimals(equity), ",", fixed_decimals(cash), "\n"])


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write `obj` as JSON to `path` whole: to a temporary file, flushed, then renamed over it."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(to_json(obj) + "\n")
        fh.flush()
    os.replace(tmp, path)


def write_sessions_json(path: Path, records: Iterator[dict[str, Any]], tmp_dir: Path | None = None) -> None:
    """Write sessions.json (``to_json(list(records))``), `JSON_CHUNK` records at a time, by rename
    (`SessionsJsonWriter`; written in `tmp_dir`, default `path`'s folder, then renamed)."""
    write_all(SessionsJsonWriter(path, tmp_dir), records)


class Writer(Protocol[T_contra, R_co]):
    """A file written an item at a time: `add` each, `close` (whole, by rename), or `abandon`."""

    def add(self, item: T_contra) -> None: ...
    def close(self) -> R_co: ...
    def abandon(self) -> None: ...


def write_all(writer: Writer[T_contra, R_co], items: Iterable[T_contra]) -> R_co:
    """Add every item of `items` to `writer` and close it; on any error abandon it (not renamed) and re-raise."""
    try:
        for item in items:
            writer.add(item)
    except BaseException:
        writer.abandon()
        raise
    return writer.close()


class SessionsJsonWriter:
    """sessions.json a record at a time, as they come: `add` each, then `close` renames it whole.

    ``indent=2`` writes a list as ``[``, each item indented two more spaces, ``,`` between them
    and ``]`` (an empty list as ``[]``), so a chunk's document minus its brackets is that
    chunk's part of the whole: memory is bounded by a chunk of `chunk` records, and a reader
    never sees half a file. `abandon` closes the temporary file without renaming it.
    """

    def __init__(self, path: Path, tmp_dir: Path | None = None, chunk: int = JSON_CHUNK) -> None:
        self.path = path
        self.tmp = (tmp_dir or path.parent) / (path.name + ".tmp")
        self._fh = self.tmp.open("w", encoding="utf-8")
        self._chunk: list[dict[str, Any]] = []
        self._size = chunk
        self._wrote = False

    def add(self, record: dict[str, Any]) -> None:
        """Append one record (encoded with its chunk)."""
        self._chunk.append(record)
        if len(self._chunk) == self._size:
            self._flush()

    def _flush(self) -> None:
        text = _records_json(self._chunk)
        self._fh.write(("[\n" if not self._wrote else ",\n") + text[2:-2])  # without "[\n" and "\n]"
        self._wrote = True
        self._chunk.clear()

    def close(self) -> None:
        """Encode the last chunk, finish the list and rename the file over `path`."""
        if self._chunk:
            self._flush()
        self._fh.write("\n]\n" if self._wrote else "[]\n")
        self._fh.close()
        os.replace(self.tmp, self.path)

    def abandon(self) -> None:
        """Close the temporary file without renaming it."""
        self._fh.close()


def _records_json(records: list[Any]) -> str:
    """``to_json(records)``: from templates of the records' shapes (`app.metrics.json_template`),
    else by `to_json`."""
    texts = template_json(records, 1)
    if texts is None:
        return _plain_json(records)
    return "[\n  " + ",\n  ".join(texts) + "\n]" if texts else "[]"


def _plain_json(records: list[Any]) -> str:
    try:
        return to_json(records)
    except ValueError:  # the message names the path within the record, as for one record
        for record in records:
            to_compact_json(record)
        raise


def read_records(path: Path, committed: int | None = None,
                 start: int = 0) -> Iterator[tuple[dict[str, Any], list[float]]]:
    """Yield the journal's ``(record, closed trades' P&L)`` per finished session, in order, each
    record whole (the fields it left to its reader filled in: `complete_record`).

    Reads from byte `start` (where an entry begins: a committed length) up to `committed` bytes
    when given (the commit record's length); without it, stops at a torn last pickle (a session
    that did not finish).
    """
    if not path.exists():
        return
    with path.open("rb") as fh:
        fh.seek(start)
        data = fh.read() if committed is None else fh.read(committed - start)
    stream = io.BytesIO(data)
    while stream.tell() < len(data):
        try:
            entry = pickle.load(stream)  # the run's own journal: (record, pnls[, later])
        except (EOFError, pickle.UnpicklingError, ValueError):
            return
        record, pnls = entry[0], entry[1]
        yield (complete_record(record, entry[2]) if len(entry) > 2 else record), pnls


def read_equity_chunks(path: Path, rows: int, committed: int | None = None, start: int = 0) -> Iterator[np.ndarray]:
    """Yield the journal's equity points (`EQUITY_DTYPE`) `rows` at a time, from byte `start` (a
    whole point's) up to `committed` bytes."""
    if not path.exists():
        return
    size = path.stat().st_size if committed is None else committed
    total = size // EQUITY_DTYPE.itemsize
    first = start // EQUITY_DTYPE.itemsize
    with path.open("rb") as fh:
        fh.seek(first * EQUITY_DTYPE.itemsize)
        for lo in range(first, total, rows):
            yield np.fromfile(fh, dtype=EQUITY_DTYPE, count=min(rows, total - lo))


def read_equity(path: Path, committed: int | None = None) -> np.ndarray:
    """Return the journal's equity points (`EQUITY_DTYPE`), whole points up to `committed` bytes."""
    if not path.exists():
        return np.zeros(0, dtype=EQUITY_DTYPE)
    size = path.stat().st_size if committed is None else committed
    size -= size % EQUITY_DTYPE.itemsize
    return np.fromfile(path, dtype=EQUITY_DTYPE, count=size // EQUITY_DTYPE.itemsize)


class RunJournal:
    """The append-only part of a run's outputs (see the module doc); used by one thread at a time.

    `session_done` runs on the coordinator thread once every stage acked the session, when
    the broker and the equity log are quiescent; `append` (the session in progress) and
    `close` run on the main thread after the threads were joined (or found stuck).
    """

    def __init__(self, out_dir: Path, stamps: Stamps, progress: Callable[[], dict[str, Any]], tz: Any = None) -> None:
        self.out_dir = out_dir
        self.dir = out_dir / JOURNAL_DIR
        self.dir.mkdir(exist_ok=True)
        self.stamps = stamps
        self.tz = local_seconds(tz) if tz is not None else None  # fills.csv's local times
        self.progress = progress  # the running summary's fields (cheap: counters only)
        self.fills_written = 0  # broker.fills[:fills_written] are on disk
        self.equity_written = 0  # equity log points on disk
        self.sessions = 0
        # Unbuffered: each append is one write of the whole chunk (what a flush would do), and
        # the committed lengths are counted here, not asked of the files.
        self._files: dict[str, BinaryIO] = {
            "fills.csv": (out_dir / "fills.csv").open("wb", buffering=0),
            f"{JOURNAL_DIR}/equity.bin": (self.dir / "equity.bin").open("wb", buffering=0),
            f"{JOURNAL_DIR}/sessions.pkl": (self.dir / "sessions.pkl").open("wb", buffering=0),
        }
        self._lengths = dict.fromkeys(self._files, 0)
        self._points = np.empty(0, dtype=EQUITY_DTYPE)  # reused for each append's equity points
        self._summary_path = out_dir / "summary.json"
        self.equity_path = self.dir / "equity.bin"
        self._write("fills.csv", FILLS_HEADER)
        # One pickler for the run (its memo cleared after each entry: every entry stands alone,
        # pickle.dumps's bytes), writing an entry with one call to `_write`.
        self._pickler = pickle.Pickler(_Appender(self, f"{JOURNAL_DIR}/sessions.pkl"), protocol=5)
        self._summary_fd: int | None = None
        self.on_commit: Callable[[dict[str, int]], None] | None = None
        """Called with the committed lengths after each commit (the output writer process follows them)."""
        self.commit()

    @property
    def equity_length(self) -> int:
        """Bytes written to ``equity.bin`` so far (`EQUITY_DTYPE` points)."""
        return self._lengths[f"{JOURNAL_DIR}/equity.bin"]

    @property
    def committed(self) -> dict[str, int]:
        """Byte length of each journal file as of the last finished session."""
        return dict(self._lengths)

    def _write(self, name: str, data: Any) -> None:
        # All of `data` (bytes, or a numpy array's buffer) at the end of file `name`.
        view = memoryview(data).cast("B")
        fh, size = self._files[name], view.nbytes
        done = fh.write(view) or 0
        while done < size:  # a short write (a signal, a full disk: the next write says why)
            done += fh.write(view[done:]) or 0
        self._lengths[name] += size

    def session_done(self, record: dict[str, Any], trade_pnls: list[float], fills: Sequence[Any],
                     equity: tuple[np.ndarray, ...], later: dict[str, Any] | None = None) -> None:
        """Append one finished session (record, its closed trades' P&L, fills, equity points); commit.

        `later`: the record's fields its reader fills in (`app.runtime.records.complete_record`).
        """
        try:
            self._pickler.dump((record, trade_pnls) if later is None else (record, trade_pnls, later))
        finally:
            self._pickler.clear_memo()  # (and lets go of the record)
        self.append(fills, equity)
        self.sessions += 1
        self.commit()

    def append(self, fills: Sequence[Any], equity: tuple[np.ndarray, ...]) -> None:
        """Append the fills since the last append (``fills[fills_written:]``) and the equity points
        ``equity[i][equity_written:]`` (ns, equity, cash) (written through: nothing to flush)."""
        new = fills[self.fills_written:] if self.fills_written else fills
        if new:
            self._write("fills.csv", fill_rows(new, self.stamps, self.tz))
            self.fills_written += len(new)
        ns, eq, cash = (column[self.equity_written:] for column in equity) if self.equity_written else equity
        n = ns.shape[0]
        if n:
            points = self._points
            if points.shape[0] < n:
                points = self._points = np.empty(max(n, 2 * points.shape[0]), dtype=EQUITY_DTYPE)
            points = points[:n]
            points["ns"], points["equity"], points["cash"] = ns, eq, cash
            self._write(f"{JOURNAL_DIR}/equity.bin", points)
            self.equity_written += int(n)

    def commit(self) -> None:
        """Write summary.json: the progress so far and the journal's committed lengths (see the module doc)."""
        # json.dumps(indent=2)'s text (not to_json: its numpy rounding has a fixed cost of ~0.5 ms
        # a call), written by `_indented` when it can (json's indenting encoder is pure Python).
        doc = {**self.progress(), "status": "running", "sessions_completed": self.sessions,
               "journal": dict(self._lengths)}
        text = (_indented(doc) or json.dumps(doc, indent=2, sort_keys=True)).encode("utf-8") + b"\n"
        path = self._summary_path
        if len(text) > PAGE:  # rare (a long session name): whole by rename instead
            if self._summary_fd is not None:
                os.close(self._summary_fd)
                self._summary_fd = None
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(text)
            os.replace(tmp, path)
        else:
            if self._summary_fd is None:
                self._summary_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.pwrite(self._summary_fd, text.ljust(PAGE, b" "), 0)  # JSON allows trailing blanks
        if self.on_commit is not None:
            self.on_commit(doc["journal"])

    def records(self) -> Iterator[tuple[dict[str, Any], list[float]]]:
        """The journaled ``(record, trade P&Ls)`` per finished session (after `close`)."""
        return read_records(self.dir / "sessions.pkl")

    def close(self) -> None:
        """Close the journal's files (again: a no-op)."""
        for fh in self._files.values():
            fh.close()
        if self._summary_fd is not None:
            os.close(self._summary_fd)
            self._summary_fd = None

    def remove(self) -> None:
        """Delete the journal folder once the final files hold everything (after `close`)."""
        for name in ("equity.bin", "sessions.pkl"):
            (self.dir / name).unlink(missing_ok=True)
        self.dir.rmdir()


class _Appender:
    """A file-like `write` for `pickle.Pickler`: appends to one of a `RunJournal`'s files."""

    __slots__ = ("journal", "name")

    def __init__(self, journal: RunJournal, name: str) -> None:
        self.journal, self.name = journal, name

    def write(self, data: Any) -> int:
        self.journal._write(self.name, data)
        return len(memoryview(data).cast("B"))


_SCALAR_TEXT: dict[type, Callable[[Any], str]] = {
    str: encode_basestring_ascii,
    int: int.__repr__,
    bool: lambda v: "true" if v else "false",
    type(None): lambda v: "null",
}


def _indented(doc: dict[str, Any]) -> str | None:
    """``json.dumps(doc, indent=2, sort_keys=True)`` of a dict of str keys whose values are str,
    int, bool, None, finite floats or such dicts (one level), else None."""
    try:
        lines = _lines(doc, "  ")
    except (KeyError, TypeError, ValueError):  # another value or key: json.dumps writes it
        return None
    return "{\n" + ",\n".join(lines) + "\n}" if lines else "{}"


def _lines(doc: dict[str, Any], indent: str) -> list[str]:
    # Each key's line of `doc` at `indent` (values by type inline: a call per value cost more
    # than its text); a dict value (at the top level only) as its own lines.
    lines = []
    for key, head in _key_plan(tuple(doc), indent):
        value = doc[key]
        kind = type(value)
        if kind is str:
            lines.append(head + encode_basestring_ascii(value))
        elif kind is int:
            lines.append(head + int.__repr__(value))
        elif kind is float:
            if value - value != 0.0:  # NaN or infinite: json.dumps's words
                raise ValueError(value)
            lines.append(head + float.__repr__(value))
        elif kind is dict and indent == "  ":
            inner = _lines(value, "    ")
            lines.append(head + "{\n" + ",\n".join(inner) + "\n  }" if inner else head + "{}")
        else:
            lines.append(head + _SCALAR_TEXT[kind](value))
    return lines


_KEY_PLANS: dict[tuple[str, tuple[Any, ...]], tuple[tuple[str, str], ...]] = {}
"""Per (indent, a dict's keys in insertion order): its keys sorted, each with its line's head."""


def _key_plan(keys: tuple[Any, ...], indent: str) -> tuple[tuple[str, str], ...]:
    # The summary's dicts have the same keys after every session: sorted and encoded once.
    plan = _KEY_PLANS.get((indent, keys))
    if plan is None:
        if not all(type(k) is str for k in keys):
            raise TypeError(keys)
        plan = tuple((k, f"{indent}{encode_basestring_ascii(k)}: ") for k in sorted(keys))
        if len(_KEY_PLANS) < 64:  # a few shapes per run
            _KEY_PLANS[(indent, keys)] = plan
    return plan
