"""Read a run folder's files for its report: summary.json, sessions.json, equity.csv, fills.csv, the config.

Every reader names the file and what it expected when it fails (`ReportError`). The CSV files
are read with pyarrow's CSV reader (a year of one-minute equity rows in a few milliseconds);
their timestamp column stays text (the run's local time, as written), and only the rows a
chart draws are turned into Python strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from app.report.html import ReportError
from app.runtime.json_file import read_json

if TYPE_CHECKING:
    from app.report.run_charts import EquityView

__all__ = ["Equity", "Fills", "RunFiles", "SessionViews", "StampRows", "TextColumn", "load_run", "read_equity",
           "read_fills", "session_view", "sessions_with"]


class TextColumn:
    """A CSV text column kept in Arrow buffers; `at` turns only the wanted rows into strings."""

    def __init__(self, column: pa.ChunkedArray) -> None:
        arr = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
        if arr.type != pa.string():
            arr = arr.cast(pa.string())
        self._n = len(arr)
        offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)
        self._offsets = offsets[arr.offset: arr.offset + self._n + 1]
        data = arr.buffers()[2]
        self._data = data.to_pybytes() if data is not None else b""

    def __len__(self) -> int:
        return self._n

    def at(self, indices: np.ndarray | list[int]) -> list[str]:
        """Return the strings at `indices`."""
        off, data = self._offsets, self._data
        return [data[off[i]: off[i + 1]].decode("utf-8") for i in indices]


class StampRows:
    """equity.csv's timestamp column as the run that wrote it holds it: ASCII rows of one width."""

    def __init__(self, rows: np.ndarray) -> None:
        self._rows = rows  # (rows, width) uint8

    def __len__(self) -> int:
        return int(self._rows.shape[0])

    def at(self, indices: np.ndarray | list[int]) -> list[str]:
        """Return the strings at `indices`."""
        width = int(self._rows.shape[1])
        if not width:
            return ["" for _ in indices]
        text = self._rows[np.asarray(indices, dtype=np.int64)].tobytes().decode("ascii")
        return [text[i: i + width] for i in range(0, len(text), width)]


@dataclass
class Equity:
    """equity.csv's timestamp (local ISO text) and equity columns (cash is not drawn: not read).

    Read from the file (`read_equity`), or handed over by the run that just wrote it: then
    `stamps` are the file's timestamp rows and `equity` the values its text parses to.
    """

    stamps: TextColumn | StampRows
    equity: np.ndarray


@dataclass
class Fills:
    """fills.csv as columns (Python lists: a run's fills are thousands, not millions)."""

    timestamp: list[str]
    symbol: list[str]
    side: list[str]
    quantity: list[float]
    price: list[float]
    commission: list[float]

    def __len__(self) -> int:
        return len(self.timestamp)


@dataclass
class RunFiles:
    """What a run folder holds for its report (optional files are None when absent)."""

    run_dir: Path
    summary: dict[str, Any]
    sessions: list[dict[str, Any]] | SessionViews
    config: dict[str, Any] | None
    config_text: str | None
    equity: Equity | EquityView | None  # (a view: thinned by the run as it wrote equity.csv)
    fills: Fills | None


def _read_csv(path: Path, columns: dict[str, pa.DataType]) -> pa.Table:
    import pyarrow.csv as pcsv

    try:
        # One thread: a run's CSVs are small, and starting Arrow's pool cost more than it saved.
        table = pcsv.read_csv(path, read_options=pcsv.ReadOptions(use_threads=False),
                              convert_options=pcsv.ConvertOptions(column_types=columns,
                                                                  include_columns=list(columns)))
    except FileNotFoundError:
        raise ReportError(f"{path}: not found; expected the run's {path.name}") from None
    except (pa.ArrowInvalid, pa.ArrowKeyError, KeyError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ReportError(f"{path}: cannot read it ({first}); expected columns {', '.join(columns)}") from None
    return table


def read_equity(path: Path) -> Equity:
    """Read equity.csv's ``timestamp`` and ``equity`` columns (the file is ``timestamp,equity,cash``).

    Raises
    ------
    ReportError
        If the file is missing, unreadable or lacks a column.
    """
    if path.is_file() and path.stat().st_size <= len(b"timestamp,equity,cash\n"):
        empty = pa.chunked_array([pa.array([], pa.string())])
        return Equity(TextColumn(empty), np.empty(0))
    table = _read_csv(path, {"timestamp": pa.string(), "equity": pa.float64()})
    return Equity(TextColumn(table.column("timestamp")), _floats(table.column("equity")))


def _floats(column: pa.ChunkedArray) -> np.ndarray:
    # From the Arrow buffers: ChunkedArray.to_numpy imports pandas (~0.3 s) in a run's process.
    parts = []
    for chunk in column.chunks:
        values = np.frombuffer(chunk.buffers()[1], dtype=np.float64)[chunk.offset: chunk.offset + len(chunk)]
        if chunk.null_count:
            valid = np.unpackbits(np.frombuffer(chunk.buffers()[0], dtype=np.uint8), bitorder="little")
            values = np.where(valid[chunk.offset: chunk.offset + len(chunk)].astype(bool), values, np.nan)
        parts.append(values)
    return np.concatenate(parts) if parts else np.empty(0)


def read_fills(path: Path) -> Fills:
    """Read fills.csv (``timestamp,symbol,side,quantity,price,commission``).

    Raises
    ------
    ReportError
        If the file is missing, unreadable or lacks a column.
    """
    if path.is_file() and path.stat().st_size <= len(b"timestamp,symbol,side,quantity,price,commission\n"):
        return Fills([], [], [], [], [], [])
    table = _read_csv(path, {"timestamp": pa.string(), "symbol": pa.string(), "side": pa.string(),
                             "quantity": pa.float64(), "price": pa.float64(), "commission": pa.float64()})
    cols = {name: _shared_texts(table.column(name)) if name in ("symbol", "side") else table.column(name).to_pylist()
            for name in table.column_names}
    return Fills(cols["timestamp"], cols["symbol"], cols["side"], cols["quantity"], cols["price"],
                 cols["commission"])


def _shared_texts(column: pa.ChunkedArray) -> list[Any]:
    # `column.to_pylist()`, one str object per distinct text (a run's fills name a few symbols and
    # two sides: 17,000 fills of three years held ~2 MB of copies of them).
    # (Not Arrow's dictionary_encode: its indices' to_numpy imports pandas, ~0.45 s.)
    shared: dict[Any, Any] = {}
    return [shared.setdefault(text, text) for text in column.to_pylist()]


def _read_json(path: Path, what: str) -> Any:
    return read_json(path, what, ReportError)


def check_run_dir(run_dir: Path) -> dict[str, Any]:
    """Return the run's summary.json, or raise if `run_dir` is not a run folder.

    Raises
    ------
    ReportError
        If `run_dir` is not a folder, has no summary.json, or its summary is not a run's.
    """
    if not run_dir.exists():
        raise ReportError(f"{run_dir}: not found; expected a run folder (written by python -m app.backtest)")
    if not run_dir.is_dir():
        raise ReportError(f"{run_dir}: not a folder; expected a run folder (written by python -m app.backtest)")
    if not (run_dir / "summary.json").is_file():
        raise ReportError(f"{run_dir}: no summary.json; expected a run folder (written by python -m app.backtest)")
    summary = _read_json(run_dir / "summary.json", "the summary of a run")
    if not isinstance(summary, dict) or "status" not in summary:
        raise ReportError(f"{run_dir / 'summary.json'}: no 'status'; expected the summary of a run "
                          f"(written by python -m app.backtest)")
    return summary


def session_view(record: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a session record that report.html reads, as sessions.json gives them back.

    Keys sorted, floats rounded as `app.metrics.json_text.to_json` rounds them: the run that
    writes sessions.json hands these to the page instead of the page parsing the file (a year's
    sessions.json is ~1 MB). Keep in step with what `run_page`, `run_charts` and `prices` read
    from ``RunFiles.sessions`` (tests/report/test_report_cli.py compares the two pages).
    """
    view: dict[str, Any] = {key: _plain(record[key]) for key in ("close", "date", "open") if key in record}
    trading = record.get("trading")
    if isinstance(trading, Mapping):
        view["trading"] = _pick(trading, ("by_symbol", "pnl"), {"by_symbol": ("pnl",)})
    quality = record.get("quality")
    if isinstance(quality, Mapping):
        view["quality"] = {symbol: _pick(q, ("expected", "gaps", "missing", "present", "quality_pct"), {})
                           if isinstance(q, Mapping) else _plain(q) for symbol, q in sorted(quality.items())}
    metrics = record.get("metrics")
    if isinstance(metrics, Mapping) and "stages" in metrics:
        view["metrics"] = _pick(metrics, ("stages",), {"stages": ("count", "p99_ms")})
    return dict(sorted(view.items()))


class SessionViews:
    """`session_view` of each session, kept compact: the run's page holds these while it writes
    its other files (a dict per session took ~10 KB for ten symbols: 7 MB for three years).

    `append` takes one view at a time (``views.append(session_view(record))``, as a list would).
    ``date``, ``open`` and ``close`` are kept as they are; each other block (``trading``,
    ``quality``, ``metrics``) is pickled apart, `batch` sessions to a pickle, so that `only`
    unpickles just the blocks a chart reads, a batch at a time. Iterating gives each whole view
    back (equal to what was appended, keys in the same order).
    """

    BATCH = 64
    _PLAIN = ("close", "date", "open")

    def __init__(self, batch: int = BATCH) -> None:
        self._batch = batch
        self._plain: list[tuple[Any, ...]] = []  # per session: its plain keys' values (_ABSENT if not there)
        self._keys: list[tuple[str, ...]] = []  # per session: its keys in order (equal tuples shared)
        self._order: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._done: dict[str, list[bytes | None]] = {}  # block -> per whole batch, its pickled values (None: none)
        self._open: dict[str, list[Any]] = {}  # block -> its values in the batch being filled (None: not there)

    def append(self, view: Mapping[str, Any]) -> None:
        """Keep `view` (a `session_view`: keys sorted, plain values; its blocks are mappings)."""
        n = len(self._plain)
        keys = tuple(view)
        self._keys.append(self._order.setdefault(keys, keys))
        get = view.get
        self._plain.append((get("close", _ABSENT), get("date", _ABSENT), get("open", _ABSENT)))
        at = n % self._batch
        for key in keys:
            if key in _PLAIN_KEYS:
                continue
            column = self._open.get(key)
            if column is None:
                column = self._open[key] = [None] * at
                self._done[key] = [None] * (n // self._batch)
            column.append(view[key])
        for column in self._open.values():
            if len(column) == at:
                column.append(None)
        if at == self._batch - 1:
            import pickle

            for key, column in self._open.items():
                self._done[key].append(pickle.dumps(column, protocol=pickle.HIGHEST_PROTOCOL))
            self._open = {key: [] for key in self._open}

    def __len__(self) -> int:
        return len(self._plain)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self.only(*{key: None for keys in self._order for key in keys})

    def only(self, *keys: str) -> Iterator[dict[str, Any]]:
        """Yield each session's view with only `keys` (those it has), in its own key order."""
        import pickle

        blocks = [key for key in keys if key in self._open]
        plain = {key: self._PLAIN.index(key) for key in keys if key in self._PLAIN}
        size = self._batch
        for first in range(0, len(self._plain), size):
            batch = first // size
            values: dict[str, list[Any]] = {}
            for key in blocks:
                done = self._done[key]
                if batch == len(done):  # the batch being filled
                    values[key] = self._open[key]
                else:
                    blob = done[batch]
                    values[key] = pickle.loads(blob) if blob is not None else [None] * size
            for i in range(first, min(first + size, len(self._plain))):
                row = self._plain[i]
                view: dict[str, Any] = {}
                for key in self._keys[i]:
                    if key in plain:
                        view[key] = row[plain[key]]
                    elif key in values:
                        view[key] = values[key][i - first]
                yield view


_ABSENT = object()
_PLAIN_KEYS = frozenset(SessionViews._PLAIN)


def sessions_with(sessions: list[dict[str, Any]] | SessionViews, *keys: str) -> Iterable[Mapping[str, Any]]:
    """The sessions' views (`RunFiles.sessions`) with at least `keys`: each whole record of a list,
    or only those blocks of `SessionViews`."""
    return sessions.only(*keys) if isinstance(sessions, SessionViews) else sessions


def _pick(block: Mapping[str, Any], keys: tuple[str, ...], inner: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    # `keys` of `block` (those present), each a plain value, or for the keys in `inner`, a mapping
    # of name -> those keys of its value.
    out: dict[str, Any] = {}
    for key in keys:
        if key not in block:
            continue
        value = block[key]
        if key in inner and isinstance(value, Mapping):
            out[key] = {name: {k: _plain(v[k]) for k in inner[key] if k in v}
                        if type(v) is dict or isinstance(v, Mapping) else _plain(v)
                        for name, v in sorted(value.items())}
        else:
            out[key] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    # As the value reads back from the JSON file (to_json's rounding; lists for tuples).
    kind = type(value)
    if kind is float:  # (the usual leaves first, by their exact type: isinstance of an ABC is slow)
        return round(value, 6) + 0.0
    if kind is int or kind is str or kind is bool or value is None:
        return value
    if isinstance(value, (float, np.floating)):
        return round(float(value), 6) + 0.0
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, np.integer):
        return int(value)
    return value


def load_run(run_dir: Path, equity: Equity | EquityView | None = None,
             sessions: list[dict[str, Any]] | SessionViews | None = None) -> RunFiles:
    """Read everything a run's report shows from `run_dir`.

    summary.json is required; sessions.json, equity.csv, fills.csv and the config copies are
    read when present (a run that failed early, or is still running, may lack them). With
    `equity` (what the run that just wrote equity.csv holds of it, or its thinned curve:
    `app.report.equity_thin`), equity.csv is not read; with
    `sessions` (`session_view` of each record the run just wrote), sessions.json is not.

    Raises
    ------
    ReportError
        If `run_dir` is not a run folder or a file present is unreadable.
    """
    summary = check_run_dir(run_dir)
    if sessions is None and (run_dir / "sessions.json").is_file():
        loaded = _read_json(run_dir / "sessions.json", "a list of session records")
        if not isinstance(loaded, list):
            raise ReportError(f"{run_dir / 'sessions.json'}: a {type(loaded).__name__}; expected a list of "
                              f"session records")
        sessions = [r for r in loaded if isinstance(r, dict)]
    config = None
    if (run_dir / "config.resolved.json").is_file():
        loaded = _read_json(run_dir / "config.resolved.json", "the run's resolved config")
        config = loaded if isinstance(loaded, dict) else None
    config_text = None
    if (run_dir / "config.yaml").is_file():
        config_text = (run_dir / "config.yaml").read_text(encoding="utf-8", errors="replace")
    if equity is None and (run_dir / "equity.csv").is_file():
        equity = read_equity(run_dir / "equity.csv")
    fills = read_fills(run_dir / "fills.csv") if (run_dir / "fills.csv").is_file() else None
    return RunFiles(run_dir, summary, sessions if sessions is not None else [], config, config_text, equity, fills)
