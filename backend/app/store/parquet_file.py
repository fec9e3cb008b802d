"""A local Parquet file read through Arrow's reader itself, without ``pyarrow.parquet``.

``pyarrow.parquet`` imports ``pyarrow.fs`` (and with it ``ssl`` and the S3/GCS/HDFS bindings)
to resolve a path that could be a URI: ~25 ms of a backtest's ~0.3 s start-up for a local file
it then opens as ``pa.OSFile`` would. `ParquetFile` opens the file itself and hands it to
``pyarrow._parquet.ParquetReader``, the reader ``pyarrow.parquet.ParquetFile`` wraps, with the
same defaults (no memory map, pre-buffered reads), so the tables and the errors are the same.
Writing still goes through ``pyarrow.parquet`` (`app.store.files.write_bars`), imported then.

``pyarrow._parquet`` is Arrow's private module: should a pyarrow release move or change the
reader (its import fails, or its ``open`` refuses these arguments), `ParquetFile` falls back to
``pyarrow.parquet.ParquetFile`` on the same open file: the same tables, ~25 ms more start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

try:
    from pyarrow._parquet import ParquetReader
except ImportError:  # pragma: no cover - a pyarrow that moved its private reader
    ParquetReader = None

__all__ = ["ParquetFile"]


class ParquetFile:
    """One local Parquet file open for reading (`close` it, or use it as a context manager).

    Raises (on opening)
    -------------------
    OSError
        If the file cannot be opened (missing, a folder, no permission).
    pyarrow.ArrowException
        If it is not Parquet (Arrow's own message, as ``pyarrow.parquet.ParquetFile`` says it).
    """

    def __init__(self, path: str | Path) -> None:
        self._paths: dict[str, list[int]] | None = None
        self._public: Any = None  # pyarrow.parquet.ParquetFile, when the private reader is unusable
        self._source = pa.OSFile(str(path))
        try:
            self._reader = _open_private(self._source)
            if self._reader is None:
                import pyarrow.parquet as pq

                self._public = pq.ParquetFile(self._source)
        except BaseException:
            self._source.close()
            raise

    def __enter__(self) -> ParquetFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file (again: a no-op)."""
        self._source.close()

    @property
    def metadata(self) -> Any:
        """The file's footer (a ``pyarrow.parquet.FileMetaData``: row groups and their statistics)."""
        return (self._public or self._reader).metadata

    @property
    def schema_arrow(self) -> pa.Schema:
        """The file's columns as an Arrow schema."""
        return (self._public or self._reader).schema_arrow

    def read(self, columns: list[str], use_threads: bool = True) -> pa.Table:
        """Return the named top-level columns of every row group."""
        if self._public is not None:
            return self._public.read(columns=columns, use_threads=use_threads)
        return self._reader.read_all(column_indices=self._indices(columns), use_threads=use_threads)

    def read_row_groups(self, groups: list[int], columns: list[str], use_threads: bool = True) -> pa.Table:
        """Return the named top-level columns of the given row groups, in that order."""
        if self._public is not None:
            return self._public.read_row_groups(groups, columns=columns, use_threads=use_threads)
        return self._reader.read_row_groups(groups, column_indices=self._indices(columns),
                                            use_threads=use_threads)

    def _indices(self, columns: list[str]) -> list[int]:
        # The leaf columns under each name, as pyarrow.parquet.ParquetFile finds them: a name
        # and each dotted prefix of a nested column's path select its leaves; unknown names none.
        if self._paths is None:
            paths: dict[str, list[int]] = {}
            for i, path in enumerate(self._reader.column_paths):
                for depth in range(1, len(path) + 1):
                    paths.setdefault(".".join(path[:depth]), []).append(i)
            self._paths = paths
        return [i for name in columns for i in self._paths.get(name, ())]


def _open_private(source: Any) -> Any:
    """Arrow's private reader opened on `source`, or None when this pyarrow's differs (see the module doc)."""
    if ParquetReader is None:
        return None
    reader = ParquetReader()
    try:
        reader.open(source, use_memory_map=False, buffer_size=0, pre_buffer=True)
    except (TypeError, AttributeError):  # the private signature changed: not a fault of the file
        source.seek(0)
        return None
    return reader
