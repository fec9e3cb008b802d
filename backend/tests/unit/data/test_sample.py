"""Tests for app.data.sample: determinism, reported gaps, early closes, daily aggregation, 1s on 24/7."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from app.bars.checks import check_bars
from app.data.sample import SampleGap, write_sample
from app.store.files import read_bars_file

S = 1_000_000_000
DAY = 86_400 * S
MIDNIGHT_2024_01_02 = 1_704_153_600 * S
MIDNIGHT_2024_11_27 = 1_732_665_600 * S
MIDNIGHT_2024_03_10 = 1_710_028_800 * S


def _read(store, symbol, interval="1m"):
    return read_bars_file(store / interval / f"{symbol}.parquet")


def _xnys_winter_grid(midnights, closes_hour=(21,) * 10):
    """Every expected 1m start: sessions open 14:30Z and close at the given UTC hour (hand-written)."""
    parts = [np.arange(m + 14 * 3600 * S + 1800 * S, m + h * 3600 * S, 60 * S) for m, h in zip(midnights, closes_hour)]
    return np.concatenate(parts)


def _runs(missing):
    """Group sorted missing starts into (first start, length) runs of consecutive minutes."""
    runs = []
    for start in missing.tolist():
        if runs and start == runs[-1][0] + runs[-1][1] * 60 * S:
            runs[-1][1] += 1
        else:
            runs.append([start, 1])
    return [tuple(r) for r in runs]


def test_same_seed_gives_identical_bytes_and_readme(tmp_path):
    # Arrange / Act
    kwargs = dict(symbols=("AAPL", "MSFT"), start=date(2024, 1, 2), end=date(2024, 1, 12))
    write_sample(tmp_path / "a", **kwargs)
    write_sample(tmp_path / "b", **kwargs)
    # Assert
    for interval in ("1m", "1d"):
        for symbol in ("AAPL", "MSFT"):
            first, second = _read(tmp_path / "a", symbol, interval), _read(tmp_path / "b", symbol, interval)
            assert [c.tobytes() for c in first] == [c.tobytes() for c in second]
    assert (tmp_path / "a" / "README.txt").read_text() == (tmp_path / "b" / "README.txt").read_text()


def test_different_seed_gives_different_prices(tmp_path):
    kwargs = dict(symbols=("AAPL",), start=date(2024, 1, 2), end=date(2024, 1, 5))
    write_sample(tmp_path / "a", seed=7, **kwargs)
    write_sample(tmp_path / "b", seed=8, **kwargs)
    assert not np.array_equal(_read(tmp_path / "a", "AAPL").close, _read(tmp_path / "b", "AAPL").close)


def test_a_symbol_does_not_depend_on_the_other_symbols(tmp_path):
    write_sample(tmp_path / "a", symbols=("AAPL", "SPY"), start=date(2024, 1, 2), end=date(2024, 1, 5))
    write_sample(tmp_path / "b", symbols=("SPY",), start=date(2024, 1, 2), end=date(2024, 1, 5))
    assert _read(tmp_path / "a", "SPY").close.tobytes() == _read(tmp_path / "b", "SPY").close.tobytes()
    assert not np.array_equal(_read(tmp_path / "a", "AAPL").close[:50], _read(tmp_path / "a", "SPY").close[:50])


def test_missing_bars_are_exactly_the_reported_gaps(tmp_path):
    # Arrange: XNYS 2024-01-02..05, four full winter sessions 14:30Z-21:00Z, so January gets
    # one 10-bar hole and three single missing bars per symbol.
    grid = _xnys_winter_grid([MIDNIGHT_2024_01_02 + k * DAY for k in range(4)])
    # Act
    report = write_sample(tmp_path, symbols=("AAPL", "MSFT"), start=date(2024, 1, 2), end=date(2024, 1, 5))
    # Assert
    for symbol in ("AAPL", "MSFT"):
        bars = _read(tmp_path, symbol)
        assert np.all(np.isin(bars.start, grid)) and np.all(np.diff(bars.start) > 0)
        runs = _runs(np.setdiff1d(grid, bars.start))
        reported = [(g.start_ns, g.bars) for g in report.gaps if g.symbol == symbol]
        assert runs == reported
        assert sorted(n for _, n in runs) == [1, 1, 1, 10]
        assert report.rows[symbol] == 4 * 390 - 13
    assert len(report.gaps) == 8
    for gap in report.gaps:
        assert isinstance(gap, SampleGap)
        assert gap.session == date.fromordinal(date(1970, 1, 1).toordinal() + gap.start_ns // DAY)


def test_early_close_day_has_210_bars(tmp_path):
    # 2024-11-28 is Thanksgiving (closed); 2024-11-29 closes at 13:00 New York = 18:00Z.
    write_sample(tmp_path, symbols=("SPY",), start=date(2024, 11, 27), end=date(2024, 12, 2), inject_gaps=False)
    bars = _read(tmp_path, "SPY")
    days = (bars.start - MIDNIGHT_2024_11_27) // DAY
    assert dict(zip(*np.unique(days, return_counts=True))) == {0: 390, 2: 210, 5: 390}
    grid = _xnys_winter_grid([MIDNIGHT_2024_11_27, MIDNIGHT_2024_11_27 + 2 * DAY, MIDNIGHT_2024_11_27 + 5 * DAY], (21, 18, 21))
    assert bars.start.tolist() == grid.tolist()


def test_gaps_in_short_months_and_the_early_close(tmp_path):
    # November has two sessions in range (hole + one single), December one (hole only).
    report = write_sample(tmp_path, symbols=("SPY",), start=date(2024, 11, 27), end=date(2024, 12, 2))
    assert sorted(g.bars for g in report.gaps) == [1, 10, 10]
    assert report.rows["SPY"] == 390 + 210 + 390 - 21
    assert len(_read(tmp_path, "SPY")) == report.rows["SPY"]


def test_daily_file_aggregates_the_written_bars(tmp_path):
    # Arrange
    write_sample(tmp_path, symbols=("AAPL",), start=date(2024, 11, 27), end=date(2024, 12, 2))
    minute, daily = _read(tmp_path, "AAPL"), _read(tmp_path, "AAPL", "1d")
    # Act: naive reference, grouping minutes by UTC day (XNYS sessions stay inside one UTC day).
    expected = []
    for day in np.unique(minute.start // DAY):
        sel = minute.start // DAY == day
        expected.append(
            (day * DAY + 14 * 3600 * S + 1800 * S, minute.open[sel][0], minute.high[sel].max(),
             minute.low[sel].min(), minute.close[sel][-1], minute.volume[sel].sum())
        )
    # Assert
    assert [tuple(row) for row in zip(*daily)] == expected
    assert daily.start.tolist() == [MIDNIGHT_2024_11_27 + k * DAY + 52_200 * S for k in (0, 2, 5)]


def test_bars_are_well_formed_cents_and_integer_volumes(tmp_path):
    write_sample(tmp_path, symbols=("AAPL", "MSFT", "SPY"), start=date(2024, 1, 2), end=date(2024, 2, 29))
    for symbol in ("AAPL", "MSFT", "SPY"):
        bars = _read(tmp_path, symbol)
        for col in (bars.open, bars.high, bars.low, bars.close):
            assert np.all(np.abs(col * 100 - np.round(col * 100)) < 1e-6)
        assert np.all(bars.high >= np.maximum(bars.open, bars.close))
        assert np.all(bars.low <= np.minimum(bars.open, bars.close))
        assert np.all(bars.low > 0)
        assert np.all(bars.volume >= 1) and np.all(bars.volume == np.floor(bars.volume))


def test_volume_profile_is_u_shaped(tmp_path):
    write_sample(tmp_path, symbols=("SPY",), start=date(2024, 1, 2), end=date(2024, 3, 28), inject_gaps=False)
    bars = _read(tmp_path, "SPY")
    minute_of_day = ((bars.start - 14 * 3600 * S - 1800 * S) % DAY) // (60 * S)
    full = np.isin(bars.start // DAY, np.unique(bars.start // DAY)[np.unique(bars.start // DAY, return_counts=True)[1] == 390])
    edges = bars.volume[full & ((minute_of_day < 30) | (minute_of_day >= 360))].mean()
    middle = bars.volume[full & (minute_of_day >= 165) & (minute_of_day < 225)].mean()
    assert edges > 1.5 * middle


def test_sample_bars_pass_the_bar_checks(tmp_path):
    write_sample(tmp_path, symbols=("AAPL", "MSFT"), start=date(2024, 1, 2), end=date(2024, 1, 5))
    grid = _xnys_winter_grid([MIDNIGHT_2024_01_02 + k * DAY for k in range(4)])
    for symbol in ("AAPL", "MSFT"):
        bars = _read(tmp_path, symbol)
        result = check_bars(bars, grid)
        assert len(result.rejected_index) == 0
        assert len(result.accepted) == len(bars)


def test_one_second_bars_on_the_24_7_calendar(tmp_path):
    report = write_sample(
        tmp_path, symbols=("BTCUSD",), start=date(2024, 3, 10), end=date(2024, 3, 10), calendar_code="24/7", interval="1s"
    )
    bars = _read(tmp_path, "BTCUSD", "1s")
    full = np.arange(MIDNIGHT_2024_03_10, MIDNIGHT_2024_03_10 + DAY, S)
    missing = np.setdiff1d(full, bars.start)
    assert [(g.start_ns, g.bars) for g in report.gaps] == [(int(missing[0]), 10)]
    assert missing.tolist() == list(range(int(missing[0]), int(missing[0]) + 10 * S, S))
    assert len(bars) == 86_400 - 10
    assert _read(tmp_path, "BTCUSD", "1d").start.tolist() == [MIDNIGHT_2024_03_10]


def test_readme_labels_the_data_synthetic_and_lists_gaps(tmp_path):
    report = write_sample(tmp_path, symbols=("AAPL",), start=date(2024, 1, 2), end=date(2024, 1, 5), seed=11)
    text = (tmp_path / "README.txt").read_text()
    assert text.startswith("SYNTHETIC DATA - generated, not real market prices.")
    assert "with seed 11." in text
    assert "Calendar XNYS: 4 sessions from 2024-01-02 to 2024-01-05" in text
    assert text.count("  AAPL 2024-01-0") == 4
    assert report.files[-1] == tmp_path / "README.txt"
    assert set(report.files[:-1]) == {tmp_path / "1m" / "AAPL.parquet", tmp_path / "1d" / "AAPL.parquet"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(interval="1d"), r"expected an intraday interval such as '1m' or '1s', received '1d'"),
        (dict(seed=-1), r"expected a seed that is an integer >= 0, received -1"),
        (dict(symbols=()), r"expected a non-empty list of symbols, received \(\)"),
        (dict(symbols=("A", "A")), r"expected distinct symbols, received \['A', 'A'\]"),
        (dict(symbols=("A/B",)), r"expected a symbol of letters, digits .*received 'A/B'"),
        (dict(start=date(2024, 1, 6), end=date(2024, 1, 7)), r"expected at least one XNYS session in 2024-01-06\.\.2024-01-07, received none"),
        (dict(start=date(2024, 1, 8), end=date(2024, 1, 5)), r"expected end >= start, received start 2024-01-08 and end 2024-01-05"),
        (dict(calendar_code="XNYZ"), r"unknown exchange calendar 'XNYZ'"),
    ],
)
def test_invalid_arguments_are_refused(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        write_sample(tmp_path, **{"start": date(2024, 1, 2), "end": date(2024, 1, 3), **kwargs})

