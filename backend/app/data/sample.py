"""Deterministic synthetic bars on real calendar sessions, with known gaps, for demos and tests."""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Final

import numpy as np

from app.store.bar import BarArrays, Interval, parse_interval
from app.store.files import check_symbol, write_bars
from app.timing.calendar import TradingCalendar

__all__ = ["DEFAULT_SYMBOLS", "SampleGap", "SampleReport", "write_sample"]

DEFAULT_SYMBOLS: Final = ("AAPL", "MSFT", "SPY")
_DAILY: Final = parse_interval("1d")
_HOLE_BARS: Final = 10
_SINGLES_PER_MONTH: Final = 3
_TRADING_DAYS_PER_YEAR: Final = 252


@dataclass(frozen=True, slots=True)
class SampleGap:
    """Bars left out of a sample on purpose: `bars` consecutive bars from `start_ns` in `session`."""

    symbol: str
    session: date
    start_ns: int
    bars: int


@dataclass(frozen=True, slots=True)
class SampleReport:
    """What `write_sample` wrote.

    Parameters
    ----------
    store : Path
        The store folder.
    interval : str
        Label of the generated (base) interval; a ``1d`` file is written as well.
    calendar : str
        Calendar code whose sessions the bars cover.
    seed : int
        The seed.
    sessions : tuple of date
        The sessions covered.
    rows : Mapping[str, int]
        Base-interval bars written per symbol (gaps excluded).
    files : tuple of Path
        Every bar file written (base interval and ``1d``), then the README.
    gaps : tuple of SampleGap
        Every injected gap, by symbol then time.
    """

    store: Path
    interval: str
    calendar: str
    seed: int
    sessions: tuple[date, ...]
    rows: Mapping[str, int]
    files: tuple[Path, ...]
    gaps: tuple[SampleGap, ...]


@dataclass(frozen=True, slots=True)
class _Layout:
    starts: np.ndarray  # every expected bar start, all sessions
    session_id: np.ndarray  # session index of each bar
    position: np.ndarray  # 0..1 place of each bar within its session
    first: np.ndarray  # index of each session's first bar
    full_bars: int  # bars in the longest session


def write_sample(
    store: Path,
    symbols: Sequence[str] = DEFAULT_SYMBOLS,
    start: date = date(2024, 1, 2),
    end: date = date(2024, 7, 31),
    calendar_code: str = "XNYS",
    interval: str = "1m",
    seed: int = 7,
    *,
    inject_gaps: bool = True,
) -> SampleReport:
    """Write synthetic bars for `symbols` on the sessions in ``[start, end]``, plus daily bars and a README.

    The same arguments always give the same bytes of the arrays: each symbol draws from its own
    PCG64 stream seeded from `seed` and the CRC-32 of its name. Prices follow a geometric
    Brownian motion with an intraday U-shaped volatility, overnight gaps and cent rounding;
    volumes are integers with a U-shaped profile. With `inject_gaps`, each month of each symbol
    loses one 10-bar hole and three single bars (fewer in months with under four sessions),
    listed in the report and the README. The ``1d`` file is aggregated from the written bars.

    Raises
    ------
    ValueError
        If an argument is invalid (daily interval, negative seed, no symbols, bad symbol,
        unknown calendar) or the range holds no session.
    """
    base = parse_interval(interval)
    _check_args(base, symbols, seed, start, end)
    calendar = TradingCalendar(calendar_code)
    sessions = tuple(calendar.sessions_in_range(start, end))
    if not sessions:
        raise ValueError(f"expected at least one {calendar_code} session in {start}..{end}, received none")
    layout = _layout(calendar, sessions, base)
    files: list[Path] = []
    rows: dict[str, int] = {}
    gaps: list[SampleGap] = []
    daily_starts = np.array([calendar.session_bounds_ns(d)[0] for d in sessions], dtype=np.int64)
    for symbol in symbols:
        rng = np.random.Generator(np.random.PCG64([seed, zlib.crc32(symbol.encode("utf-8"))]))
        bars = _simulate(rng, layout, base)
        kept, session_id = bars, layout.session_id
        if inject_gaps:
            keep, symbol_gaps = _pick_gaps(rng, symbol, sessions, layout)
            kept, session_id = BarArrays(*(col[keep] for col in bars)), session_id[keep]
            gaps.extend(symbol_gaps)
        files.append(write_bars(store, base, symbol, kept))
        files.append(write_bars(store, _DAILY, symbol, _aggregate_daily(kept, session_id, daily_starts)))
        rows[symbol] = len(kept)
    readme = Path(store) / "README.txt"
    report = SampleReport(
        Path(store), base.label, calendar_code, seed, sessions, rows, (*files, readme), tuple(gaps)
    )
    readme.write_text(_readme(report), encoding="utf-8")
    return report


def _check_args(base: Interval, symbols: Sequence[str], seed: int, start: date, end: date) -> None:
    if base.is_daily:
        raise ValueError("expected an intraday interval such as '1m' or '1s', received '1d'")
    if isinstance(symbols, str) or not symbols:
        raise ValueError(f"expected a non-empty list of symbols, received {symbols!r}")
    if len(set(symbols)) != len(symbols):
        raise ValueError(f"expected distinct symbols, received {list(symbols)!r}")
    for symbol in symbols:
        check_symbol(symbol)
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"expected a seed that is an integer >= 0, received {seed!r}")
    if end < start:
        raise ValueError(f"expected end >= start, received start {start} and end {end}")


def _layout(calendar: TradingCalendar, sessions: Sequence[date], base: Interval) -> _Layout:
    per_session = [calendar.bar_starts(d, base.ns) for d in sessions]
    counts = np.array([len(s) for s in per_session], dtype=np.int64)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    session_id = np.repeat(np.arange(len(sessions), dtype=np.int64), counts)
    offset = np.arange(int(counts.sum()), dtype=np.int64) - first[session_id]
    position = (offset + 0.5) / counts[session_id]
    return _Layout(np.concatenate(per_session), session_id, position, first, int(counts.max()))


def _simulate(rng: np.random.Generator, layout: _Layout, base: Interval) -> BarArrays:
    n = layout.starts.shape[0]
    price0 = float(np.exp(rng.uniform(np.log(30.0), np.log(600.0))))
    daily_vol = float(rng.uniform(0.15, 0.45)) / np.sqrt(_TRADING_DAYS_PER_YEAR)
    volume0 = float(np.exp(rng.uniform(np.log(5e3), np.log(1e5)))) * base.seconds / 60.0
    u_shape = (2.0 * layout.position - 1.0) ** 2
    sigma = daily_vol / np.sqrt(layout.full_bars) * (0.6 + 1.2 * u_shape)
    step = sigma * rng.standard_normal(n)
    gap = np.zeros(n)
    gap[layout.first[1:]] = rng.normal(0.0, 0.4 * daily_vol, layout.first.shape[0] - 1)
    close_log = np.log(price0) + np.cumsum(gap + step)
    open_ = np.round(np.exp(close_log - step), 2)
    close = np.round(np.exp(close_log), 2)
    price = np.exp(close_log)
    top, bottom = np.maximum(open_, close), np.minimum(open_, close)
    high = np.maximum(np.round(top + np.abs(rng.standard_normal(n)) * sigma * price * 0.6, 2), top)
    low_raw = np.round(bottom - np.abs(rng.standard_normal(n)) * sigma * price * 0.6, 2)
    low = np.minimum(np.maximum(low_raw, 0.01), bottom)
    noise = rng.lognormal(0.0, 0.5, n)
    volume = np.floor(volume0 * (0.5 + 2.5 * u_shape) * noise) + 1.0
    return BarArrays(layout.starts.copy(), open_, high, low, close, volume)


def _pick_gaps(
    rng: np.random.Generator, symbol: str, sessions: Sequence[date], layout: _Layout
) -> tuple[np.ndarray, list[SampleGap]]:
    keep = np.ones(layout.starts.shape[0], dtype=bool)
    gaps: list[SampleGap] = []
    months: dict[tuple[int, int], list[int]] = {}
    for i, d in enumerate(sessions):
        months.setdefault((d.year, d.month), []).append(i)
    counts = np.diff(np.append(layout.first, layout.starts.shape[0]))
    for month in months.values():
        chosen = rng.choice(len(month), size=min(len(month), 1 + _SINGLES_PER_MONTH), replace=False)
        for k, pick in enumerate(chosen):
            session = month[int(pick)]
            size = _HOLE_BARS if k == 0 else 1
            # Never the first or last bar, so daily open and close stay those of the full session.
            room = int(counts[session]) - size - 1
            if room < 1:
                continue
            lo = int(layout.first[session]) + int(rng.integers(1, room + 1))
            keep[lo : lo + size] = False
            gaps.append(SampleGap(symbol, sessions[session], int(layout.starts[lo]), size))
    return keep, sorted(gaps, key=lambda g: g.start_ns)


def _aggregate_daily(bars: BarArrays, session_id: np.ndarray, daily_starts: np.ndarray) -> BarArrays:
    present = np.unique(session_id)
    first = np.searchsorted(session_id, present, side="left")
    last = np.searchsorted(session_id, present, side="right") - 1
    return BarArrays(
        daily_starts[present],
        bars.open[first],
        np.maximum.reduceat(bars.high, first),
        np.minimum.reduceat(bars.low, first),
        bars.close[last],
        np.add.reduceat(bars.volume, first),
    )


def _utc_text(ns: int) -> str:
    return datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _readme(report: SampleReport) -> str:
    lines = [
        "SYNTHETIC DATA - generated, not real market prices. Do not trade on it.",
        "",
        f"Written by `python -m app.data sample` (app/data/sample.py) with seed {report.seed}.",
        f"Calendar {report.calendar}: {len(report.sessions)} sessions from {report.sessions[0]} to "
        f"{report.sessions[-1]} (early closes included).",
        f"Symbols: {', '.join(report.rows)}. Files: {report.interval}/<SYMBOL>.parquet and "
        f"1d/<SYMBOL>.parquet (daily bars aggregated from the {report.interval} bars, start = session open).",
        "Prices: geometric Brownian motion per symbol (own start price and volatility), U-shaped",
        "intraday volatility and volume, overnight gaps, rounded to cents; volumes are integers.",
        "Each symbol draws from numpy PCG64 seeded with (seed, crc32(symbol)): same seed, same bars.",
        "",
        f"Gaps injected on purpose ({len(report.gaps)}; missing {report.interval} bars, starts in UTC):",
    ]
    lines += [f"  {g.symbol} {g.session} from {_utc_text(g.start_ns)}: {g.bars} bar(s)" for g in report.gaps]
    return "\n".join(lines) + "\n"
