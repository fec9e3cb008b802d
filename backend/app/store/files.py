"""Parquet bar files: ``<store>/<interval>/<SYMBOL>.parquet``, written atomically, read with clear errors."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa

from app.errors import DataError
from app.store.bar import BAR_FIELDS, BarArrays, Interval
from app.store.parquet_file import ParquetFile

__all__ = [
    "FILE_COLUMNS",
    "TIMESTAMP_COLUMN",
    "TIMESTAMP_TYPE",
    "bar_path",
    "check_symbol",
    "file_span",
    "missing_bars_hint",
    "read_bars_file",
    "write_bars",
]

TIMESTAMP_COLUMN: Final = "timestamp"
"""Name of the bar-open column in data files (int64 ``start`` in memory)."""

FILE_COLUMNS: Final = (TIMESTAMP_COLUMN, *BAR_FIELDS)
"""Columns every bar file has, in this order."""

TIMESTAMP_TYPE: Final = pa.timestamp("ns", tz="UTC")
ROW_GROUP_ROWS: Final = 16_384
"""Rows per Parquet row group written (about 42 sessions of 1m bars)."""
"""Arrow type of the ``timestamp`` column as written."""

_SYMBOL_RE: Final = re.compile(r"^[A-Za-z0-9^=_][A-Za-z0-9.^=_-]*$")
_SCHEMA: Final = pa.schema(
    [pa.field(TIMESTAMP_COLUMN, TIMESTAMP_TYPE, nullable=False)]
    + [pa.field(name, pa.float64()) for name in BAR_FIELDS]
)


def check_symbol(symbol: str) -> str:
    """Return `symbol` when it is safe as a file name, else raise.

    Raises
    ------
    ValueError
        If the symbol is empty or holds characters other than letters, digits and ``. - _ ^ =``
        (a leading ``.`` or ``-`` is refused too).
    """
    if not isinstance(symbol, str) or not _SYMBOL_RE.match(symbol):
        raise ValueError(
            "expected a symbol of letters, digits and '. - _ ^ =' (not starting with '.' or '-'), "
            f"received {symbol!r}"
        )
    return symbol


def bar_path(store: Path, interval: Interval, symbol: str) -> Path:
    """Return the file that holds the bars of `symbol` at `interval` in `store`.

    Raises
    ------
    ValueError
        If `symbol` cannot be a file name (see `check_symbol`).
    """
    return Path(store) / interval.label / f"{check_symbol(symbol)}.parquet"


def missing_bars_hint(store: Path, interval_label: str, symbol: str) -> str:
    """Return the message for absent bars, with the two commands that create them."""
    return (
        f"no bars for {symbol} at interval {interval_label} in {store}; create them with "
        f"`python -m app.data sample --store {store}` or "
        f"`python -m app.data import FILE --symbol {symbol} --interval {interval_label} --store {store}`"
    )


def write_bars(store: Path, interval: Interval, symbol: str, bars: BarArrays) -> Path:
    """Write `bars` to their file atomically (temporary file, then ``os.replace``) and return the path.

    Folders are created as needed; an existing file is replaced whole, so a reader sees either
    the old file or the new one, never a half-written one.

    Raises
    ------
    ValueError
        If `symbol` cannot be a file name or the columns differ in length.
    """
    import pyarrow.parquet as pq  # here: reading (a backtest) never imports it (`app.store.parquet_file`)

    path = bar_path(store, interval, symbol)
    lengths = {int(np.shape(col)[0]) for col in bars}
    if len(lengths) > 1:
        raise ValueError(f"expected columns of equal length, received lengths {sorted(lengths)} for {symbol}")
    start = np.ascontiguousarray(bars.start, dtype=np.int64)
    arrays = [pa.array(start, type=pa.int64()).cast(TIMESTAMP_TYPE)]
    arrays += [pa.array(np.asarray(col, dtype=np.float64), type=pa.float64()) for col in bars[1:]]
    table = pa.Table.from_arrays(arrays, schema=_SCHEMA)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        # Bounded row groups: a backtest reads a window of sessions at a time and skips the rest.
        pq.write_table(table, tmp, row_group_size=ROW_GROUP_ROWS)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_bars_file(path: Path, start_ns: int | None = None, end_ns: int | None = None) -> BarArrays:
    """Read one bar file into columns (rows in file order; sorting is the caller's business).

    With `start_ns` and `end_ns`, only the rows whose timestamp lies in ``[start_ns, end_ns)``
    are read (row groups outside the range are skipped by their statistics).

    Numeric price and volume columns of another numeric type are converted to float64; nulls
    become NaN so the bar checks count them.

    Raises
    ------
    DataError
        If the file is missing (the message says how to create it), is not readable Parquet,
        lacks a column (named, with the expected list), or a column has the wrong type.
    """
    path = Path(path)
    if not path.is_file():
        store = path.parent.parent
        raise DataError(str(path), missing_bars_hint(store, path.parent.name, path.stem))
    try:
        parquet = ParquetFile(path)
    except (pa.ArrowException, OSError) as e:
        raise DataError(str(path), f"expected a readable Parquet file, received an error: {e}") from e
    with parquet:
        try:
            schema = parquet.schema_arrow
        except (pa.ArrowException, OSError) as e:
            raise DataError(str(path), f"expected a readable Parquet file, received an error: {e}") from e
        return _read_open(path, parquet, schema, start_ns, end_ns)


def _read_open(path: Path, parquet: ParquetFile, schema: pa.Schema, start_ns: int | None,
               end_ns: int | None) -> BarArrays:
    names = schema.names
    for name in FILE_COLUMNS:
        if name not in names:
            raise DataError(
                str(path),
                f"missing column {name!r}; expected columns {', '.join(FILE_COLUMNS)}, "
                f"received {', '.join(names) or 'none'}",
            )
    ts_type = schema.field(TIMESTAMP_COLUMN).type
    ranged = start_ns is not None and end_ns is not None
    if ranged and not (pa.types.is_timestamp(ts_type) and ts_type.tz is not None):
        ranged = False  # read it whole: _read_timestamps names the wrong type
    try:
        if ranged:
            groups = _row_groups(parquet, names.index(TIMESTAMP_COLUMN), ts_type.unit, start_ns, end_ns)  # type: ignore[arg-type]
            table = parquet.read_row_groups(groups, list(FILE_COLUMNS))
        else:
            table = parquet.read(list(FILE_COLUMNS))
    except (pa.ArrowException, OSError) as e:
        raise DataError(str(path), f"expected a readable Parquet file, received an error: {e}") from e
    start = _read_timestamps(path, table.column(TIMESTAMP_COLUMN))
    prices = [_read_floats(path, name, table.column(name)) for name in BAR_FIELDS]
    if ranged:  # the row groups read may hold rows on either side of the range
        keep = (start >= start_ns) & (start < end_ns)
        if not bool(keep.all()):
            return BarArrays(start[keep], *(col[keep] for col in prices))
    return BarArrays(start, *prices)


_UNIT_NS: Final = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}


def file_span(path: Path) -> tuple[int, int, int] | None:
    """Return ``(rows, first start ns, last start ns)`` of a bar file from its footer, ``(0, 0, 0)``
    when it has no rows, None when it cannot say (missing, unreadable, no statistics).

    Reads the Parquet footer only (row-group statistics): cheap enough for an error message.
    """
    try:
        with ParquetFile(path) as parquet:
            meta = parquet.metadata
        schema = meta.schema.to_arrow_schema()
        column, kind = schema.names.index(TIMESTAMP_COLUMN), schema.field(TIMESTAMP_COLUMN).type
    except (pa.ArrowException, OSError, ValueError):
        return None
    if meta.num_rows == 0:
        return 0, 0, 0
    if not pa.types.is_timestamp(kind):
        return None
    lows, highs = [], []
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        if group.num_rows == 0:
            continue
        stats = group.column(column).statistics
        if stats is None or not stats.has_min_max or not isinstance(stats.min_raw, int):
            return None
        lows.append(stats.min_raw)
        highs.append(stats.max_raw)
    per = _UNIT_NS[kind.unit]
    return int(meta.num_rows), min(lows) * per, max(highs) * per


def _row_groups(parquet: ParquetFile, column: int, unit: str, start_ns: int, end_ns: int) -> list[int]:
    # Row groups whose timestamp statistics may hold a value in [start_ns, end_ns); a group
    # without statistics is read (the row mask after the read is what decides).
    per = _UNIT_NS[unit]
    lo, hi = start_ns // per, -(-end_ns // per)  # the range in the column's unit, widened
    out = []
    meta = parquet.metadata
    for i in range(meta.num_row_groups):
        stats = meta.row_group(i).column(column).statistics
        if stats is None or not stats.has_min_max:
            out.append(i)
            continue
        g_min, g_max = stats.min_raw, stats.max_raw
        if not (isinstance(g_min, int) and isinstance(g_max, int)) or (g_max >= lo and g_min < hi):
            out.append(i)
    return out


def _read_timestamps(path: Path, column: pa.ChunkedArray) -> np.ndarray:
    kind = column.type
    if not pa.types.is_timestamp(kind) or kind.tz is None:
        raise DataError(
            str(path),
            f"column 'timestamp': expected type timestamp[ns, tz=UTC], received {kind}",
        )
    if column.null_count:
        raise DataError(str(path), f"column 'timestamp': expected no empty values, received {column.null_count}")
    # Already ns (every file the store writes): the int64 buffer as it is. A cast would import
    # pyarrow.compute (~60 ms of a one-symbol backtest's start-up) to change nothing.
    if kind.unit != "ns":
        column = column.cast(pa.timestamp("ns", tz="UTC"))
    values = column.combine_chunks()
    return _numpy(values, np.int64)


def _read_floats(path: Path, name: str, column: pa.ChunkedArray) -> np.ndarray:
    kind = column.type
    if not (pa.types.is_floating(kind) or pa.types.is_integer(kind)):
        raise DataError(str(path), f"column {name!r}: expected type double (float64), received {kind}")
    if not pa.types.is_float64(kind):
        column = column.cast(pa.float64())
    values = column.combine_chunks()
    return _numpy(values, np.float64)


def _numpy(values: pa.Array, dtype: type) -> np.ndarray:
    # Without nulls a primitive column is a numpy view of Arrow's buffer (no copy, and no pandas
    # import, which the general conversion would bring in); nulls become NaN the general way.
    if values.null_count == 0:
        item = np.dtype(dtype).itemsize
        data: np.ndarray = np.frombuffer(values.buffers()[1], dtype=dtype, count=len(values),
                                         offset=values.offset * item)
        return data.copy()  # owned by numpy: Arrow's pool can give its memory back
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=dtype)
