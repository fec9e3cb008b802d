"""RecordingWriter: the recording's tables, appended as Arrow IPC streams and flushed per step.

A Parquet file cannot be read until its footer is written, so a run that is killed would lose
a Parquet file being written whole. While the run goes on each table is an Arrow IPC *stream*
(``recording/<table>.arrows``): every flush appends one record batch and writes it through to
the file (an unbuffered `pyarrow.OSFile`), so a killed process loses at most the rows not yet
flushed (the step in progress). When the run ends (`finish`, or ``--recover`` for a killed run)
each stream is read back, a torn last batch dropped, and written as ``<table>.parquet``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from app.recording.schema import FORMAT, SCHEMAS, TABLES
from app.sync.lock import make_lock

__all__ = ["RecordingWriter", "finish_recording", "read_stream"]

META = "meta.json"


class _Table:
    """One table: rows buffered as tuples, written as one record batch per flush (columns built
    by one transpose, in C)."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.schema = schema
        self.lock = make_lock()
        self.rows: list[tuple[Any, ...]] = []
        self.add = self.rows.append  # one row: a tuple in the schema's column order
        self._sink = pa.OSFile(str(path), "wb")
        self._writer = pa.ipc.new_stream(self._sink, schema)

    def flush(self) -> None:
        rows = self.rows
        if not rows:
            return
        columns = zip(*rows, strict=True)
        batch = pa.record_batch([pa.array(c, type=f.type) for c, f in zip(columns, self.schema, strict=True)],
                                schema=self.schema)
        rows.clear()
        self._writer.write_batch(batch)
        self._sink.flush()

    def close(self) -> None:
        self.flush()
        self._writer.close()
        self._sink.close()


class RecordingWriter:
    """Writes ``<run>/recording/``: `add` rows to a table, `flush` it (one batch), `finish` at the end.

    Each table is written by one thread at a time (its lock is taken by callers that share it:
    see `app.recording.taps`). `meta` is written to ``meta.json`` at once.
    """

    def __init__(self, folder: Path, meta: dict[str, Any]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        (folder / META).write_text(json.dumps({"format": FORMAT, **meta}, indent=2, default=str) + "\n")
        self.tables = {name: _Table(folder / f"{name}.arrows", SCHEMAS[name]) for name in TABLES}
        self._closed = False

    def table(self, name: str) -> _Table:
        return self.tables[name]

    def finish(self) -> None:
        """Close every stream and convert the recording to Parquet (idempotent)."""
        if self._closed:
            return
        self._closed = True
        for t in self.tables.values():
            with t.lock:
                t.close()
        finish_recording(self.folder)


def read_stream(path: Path, schema: pa.Schema) -> pa.Table:
    """Read an IPC stream file written by `RecordingWriter`, keeping every whole batch (a killed
    run's torn last batch, or a stream without even its schema, is left out)."""
    batches: list[pa.RecordBatch] = []
    try:
        with pa.OSFile(str(path), "rb") as f:
            reader = pa.ipc.open_stream(f)
            while True:
                try:
                    batches.append(reader.read_next_batch())
                except StopIteration:
                    break
    except (pa.ArrowInvalid, OSError, EOFError):
        pass  # the torn tail of a killed run: what was read stays
    return pa.Table.from_batches(batches, schema=schema)


def finish_recording(folder: Path) -> list[str]:
    """Convert each ``<table>.arrows`` in `folder` to ``<table>.parquet`` (whole batches only) and
    remove the stream; return the tables converted. Used at a run's end and by ``--recover``."""
    done = []
    for name in TABLES:
        src = folder / f"{name}.arrows"
        if not src.exists():
            continue
        table = read_stream(src, SCHEMAS[name])
        tmp = folder / f".{name}.parquet.tmp"
        pq.write_table(table, tmp)
        tmp.replace(folder / f"{name}.parquet")
        src.unlink()
        done.append(name)
    return done
