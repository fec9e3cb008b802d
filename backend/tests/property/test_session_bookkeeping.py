"""The coordinator's per-session bookkeeping fast paths equal the general computation, bit for bit.

(Issue 7: `Drawdown.fold` without the concatenation, `RunningStat` merge/reset of a one-bucket
session stat, `LocalSeconds.fill_text`'s single loop over a session's fills.)
"""

from __future__ import annotations

import csv
import io
import math
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import hypothesis.strategies as st
import numpy as np
from app.execution.orders import Fill, OrderSide
from app.metrics.running import RunningStat
from app.metrics.stats import Drawdown
from app.runtime.journal import LocalSeconds, fill_rows
from hypothesis import given

_any_float = st.floats(allow_nan=True, allow_infinity=True)
_equity = st.one_of(st.floats(1.0, 1e7), _any_float)


def _same(a: float | None, b: float | None) -> bool:
    return a is b is None or (a is not None and b is not None and (a == b or (math.isnan(a) and math.isnan(b))))


def _reference_fold(state: tuple[float, float, float | None], equity: np.ndarray) -> tuple[float, float, float | None]:
    # The concatenating fold (the whole curve's formula over [peak, *piece]).
    peak, worst, _ = state
    if not len(equity):
        return state
    series = np.concatenate(([peak], np.asarray(equity, dtype=np.float64)))
    peaks = np.maximum.accumulate(series)
    return float(peaks[-1]), max(worst, float(np.max((peaks - series) / peaks))), float(series[-1])


@given(st.lists(st.lists(_equity, max_size=30), max_size=6), st.floats(1.0, 1e7))
def test_drawdown_fold_equals_the_concatenating_fold_nan_and_inf_included(pieces, starting_cash):
    folded = Drawdown(starting_cash)
    state: tuple[float, float, float | None] = (float(starting_cash), 0.0, None)
    for piece in pieces:
        equity = np.array(piece, dtype=np.float64)
        with np.errstate(all="ignore"):  # inf - inf: both warn (NaN), as numpy does
            folded.fold(equity)
            state = _reference_fold(state, equity)
        assert _same(folded.peak, state[0]) and _same(folded.worst, state[1]) and _same(folded.last, state[2])


_durations = st.integers(0, 10**12) | st.sampled_from([0, 1, 15, 16, 17, 2**40])
_batches = st.lists(st.tuples(_durations, st.integers(1, 500)), max_size=4)


def _reference_as_dict(stat: RunningStat, unit: str, scale: float) -> dict[str, float | int]:
    # RunningStat.as_dict as first written (keys built per call, percentiles from the histogram).
    if stat.min_ns == stat.max_ns:
        p50 = p99 = float(stat.min_ns)
    else:
        p50, p99 = stat.percentile_ns(0.5), stat.percentile_ns(0.99)
    return {"count": stat.count, f"total_{unit}": stat.total_ns / scale, f"min_{unit}": stat.min_ns / scale,
            f"max_{unit}": stat.max_ns / scale, f"mean_{unit}": stat.mean_ns / scale, f"p50_{unit}": p50 / scale,
            f"p99_{unit}": p99 / scale}


@given(st.lists(_batches, max_size=6), st.sampled_from([("ns", 1.0), ("us", 1e3), ("ms", 1e6), ("s", 1e9)]))
def test_sessions_merged_and_reset_in_place_equal_one_stat_of_every_record(sessions, unit):
    # Each session: batches recorded into one stat (the stage's), snapshot, merged into the run's,
    # reset in place; the run's figures equal one stat that recorded everything.
    session, run, whole = RunningStat(), RunningStat(), RunningStat()
    for batches in sessions:
        for value, n in batches:
            session.record_many(value, n)
            whole.record_many(value, n)
        assert session.as_dict(unit[0]) == _reference_as_dict(session, *unit)
        run.merge(session)
        session.reset()
        assert session.as_dict(unit[0]) == _reference_as_dict(RunningStat(), *unit)
        assert run.as_dict(unit[0]) == whole.as_dict(unit[0]) == _reference_as_dict(whole, *unit)
    assert session._buckets == RunningStat()._buckets
    assert run._buckets == whole._buckets


# Around New York's and London's 2023 clock changes, and Lord Howe's half-hour one (UTC seconds).
_DST_EDGES = [1678604400 + d for d in (-1, 0, 1, 3599, 3600)] + [1699164000 + d for d in (-1, 0, 1, 7200)] \
    + [1679792400 + d for d in (-1, 0, 1)] + [1680363000 + d for d in (-1, 0, 1, 1800)]
_seconds = st.integers(-10**9, 2_000_000_000) | st.sampled_from(_DST_EDGES)
# Prices and commissions met again (the text cache), 0.0 and -0.0 (equal keys, different texts).
_again = st.sampled_from([0.0, -0.0, 0.05, 46.90469, 1.5, -0.00005, 0.00005, 2.0])
_fill = st.tuples(st.sampled_from(["AAPL", "BRK.B", "A,B", 'Q"X']), st.sampled_from(list(OrderSide)),
                  st.integers(1, 10**6), st.one_of(st.floats(0.0, 1e6), _again, _any_float),
                  st.one_of(st.floats(0.0, 100.0), _again), _seconds, st.sampled_from([0, 0, 0, 1, 500_000_000]))


@given(st.lists(st.lists(_fill, min_size=1, max_size=12), max_size=4),
       st.sampled_from(["America/New_York", "Europe/London", "Asia/Tokyo", "Australia/Lord_Howe", "Asia/Kolkata"]))
def test_fill_text_equals_datetime_and_csv_writer(sessions, zone):
    # One LocalSeconds over many sessions (as the journal keeps it); a fill off the whole second
    # sends the session to the column path (None here).
    tz = ZoneInfo(zone)
    local = LocalSeconds(tz)
    for rows in sessions:
        fills = [Fill(i, symbol, side, qty, price, commission, sec * 1_000_000_000 + ns)
                 for i, (symbol, side, qty, price, commission, sec, ns) in enumerate(rows)]
        text = local.fill_text(fills)
        if any(f.filled_at_ns % 1_000_000_000 for f in fills):
            assert text is None
            continue
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for f in fills:
            writer.writerow([datetime.fromtimestamp(f.filled_at_ns // 1_000_000_000, tz).isoformat(), f.symbol,
                             f.side.name.lower(), f.quantity, f"{f.price:.4f}", f"{f.commission:.4f}"])
        assert text == out.getvalue()
        assert fill_rows(fills, _no_columns, local) == text.encode("utf-8")


def _no_columns(ts_ns: np.ndarray) -> np.ndarray:
    raise AssertionError("a few whole-second fills are formatted by fill_text")


# -- what the journal keeps for its reader (metrics snapshots, data_quality) ------------------------

_stage_batches = st.dictionaries(st.sampled_from(["coordinator", "data_processor", "session_gap", "gap_refetch"]),
                                 _batches, max_size=4)


class _Sub:
    def __init__(self, overruns: int, lag: int) -> None:
        self.overruns, self.lag = overruns, lag

    def statistics(self) -> _Sub:
        return self

    def reset_max_lag(self) -> int:
        lag, self.lag = self.lag, 0
        return lag


@given(st.lists(st.tuples(_stage_batches, st.integers(0, 5), st.integers(0, 10**9)), min_size=1, max_size=4))
def test_session_metrics_from_the_snapshot_equal_end_session(sessions):
    # Two RunMetrics fed the same sessions: one ends each as end_session was first written
    # (as_dict, merge, reset: `_general_end_session`), the other with end_session_snapshot (one
    # pass: RunningStat.drain_into), its dict built later (as the journal's reader does).
    from app.metrics.collect import RunMetrics, session_metrics_dict

    direct, later = RunMetrics("data_driven", 0.0), RunMetrics("data_driven", 0.0)
    overruns = 0
    for stages, more, lag in sessions:
        overruns += more
        for m in (direct, later):
            for name, batches in stages.items():
                for value, n in batches:
                    m.stat(name).record_many(value, n)
            m.mark_session_clock(10**9, 10**6)
        edge = "Coordinator→Processor"
        snap = later.end_session_snapshot({edge: _Sub(overruns, lag)})
        assert session_metrics_dict(snap) == _general_end_session(direct, {edge: _Sub(overruns, lag)})
        for part in ("session", "run"):
            buckets = [[s._buckets for s in getattr(m, part).stages.values()] for m in (later, direct)]
            assert buckets[0] == buckets[1]
    runs = [{k: v for k, v in m.run_report(1.0, 1, len(sessions)).items() if k != "process"} for m in (later, direct)]
    assert runs[0] == runs[1]  # (the process sample is read twice: it moves)


def _general_end_session(m: Any, subs: dict[str, _Sub]) -> dict[str, Any]:
    lags = m._sync_counters(subs, m.session)
    out = m.session.as_dict()
    out["clock"] = m._clock(m.session_virtual_ns, m.session_wall_ns, lags)
    m.run.merge(m.session)
    for stat in m.session.stages.values():
        stat.reset()
    m.session.counters.clear()
    return out


def _quality(gaps: int, live: bool, no_bars: bool, short: bool) -> dict[str, object]:
    q: dict[str, object] = {
        "quality_pct": 100.0 - gaps, "expected": 390, "present": 390 - gaps, "missing": gaps, "gap_detection": True,
        "gaps": [{"start": "a", "end": "b", "bars": 1}] * gaps, "rejected": {"ohlc": gaps} if gaps else {},
        "repaired_out_of_order": 0, "derived_bars_skipped": {"5m": gaps}, "historical_quality_pct": {"1m": 99.5}}
    if live:
        q["live"] = {"streamed_bars": 390, "late_bars": gaps, "seen_at_decision": 390 - gaps, "expected": 390,
                     "streamed_from": "x"}
    if no_bars:
        q["no_bars"] = {"policy": "skip", "interval": "1m", "looked_at": "store"}
    if short:
        q["history_shortfall"] = {"1m": {"days_expected": 2, "days_found": 1, "bars_expected": 780, "bars_found": 390}}
    return q


@given(st.lists(st.tuples(st.integers(0, 3), st.booleans(), st.booleans(), st.booleans()), min_size=1, max_size=3),
       st.integers(0, 4))
def test_journaled_records_read_back_whole_up_to_the_commit(tmp_path_factory, symbols, kill_after):
    # Records journaled with data_quality and metrics left to the reader read back equal to the
    # records built whole at the session's end, also from a journal cut at a commit (a kill).
    from app.metrics.collect import RunMetrics, session_metrics_dict
    from app.runtime.journal import RunJournal, read_records
    from app.runtime.records import quality_rollup

    out = tmp_path_factory.mktemp("journal")
    journal = RunJournal(out, _no_columns, dict, None)
    metrics = RunMetrics("data_driven", 0.0)
    whole, commits = [], []
    empty = (np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
    for i in range(5):
        quality = {f"S{k}": _quality(*spec) for k, spec in enumerate(symbols)}
        bars = {s: {"1m": 390 - q["missing"], "5m": 78} for s, q in quality.items()}
        record = {"date": f"2024-07-0{i + 1}", "bars": bars, "data_quality": None, "quality": quality,
                  "metrics": None}
        metrics.stat("coordinator").record_many(1000 + i, 3)
        snap = metrics.end_session_snapshot({})
        whole.append({**record, "data_quality": quality_rollup(quality, bars, "1m"),
                      "metrics": session_metrics_dict(snap)})
        journal.session_done(record, [float(i)], [], empty, {"data_quality": "1m", "metrics": snap})
        commits.append(journal.committed["journal/sessions.pkl"])
    journal.close()
    path = out / "journal" / "sessions.pkl"
    assert [r for r, _ in read_records(path)] == whole
    cut = commits[kill_after]
    expected = [(r, [float(i)]) for i, r in enumerate(whole[: kill_after + 1])]
    assert list(read_records(path, cut)) == expected


@given(st.lists(st.lists(st.floats(1.0, 1e7), max_size=40), min_size=1, max_size=5), st.integers(1, 7))
def test_the_drawdown_folded_from_the_journal_equals_folding_each_session(tmp_path_factory, sessions, chunk):
    # The rollup's drawdown read from equity.bin (in chunks of `chunk` points, after each session
    # and at the end) equals Drawdown folded a session at a time; a session in progress (its
    # points on disk past the finished sessions' length) is not folded.
    import app.runtime.rollup as rollup_module
    from app.runtime.journal import RunJournal
    from app.runtime.rollup import RecordRollup

    out = tmp_path_factory.mktemp("curve")
    journal = RunJournal(out, _no_columns, dict, None)
    rollup, reference = RecordRollup(("A",), 100.0), Drawdown(100.0)
    saved, rollup_module.CURVE_CHUNK = rollup_module.CURVE_CHUNK, chunk
    try:
        for i, points in enumerate(sessions):
            equity = np.array(points, dtype=np.float64)
            columns = (np.arange(len(points), dtype=np.int64), equity, equity / 2)
            journal.append([], columns)
            journal.equity_written = 0
            if i == len(sessions) - 1:  # the last one is still in progress
                break
            rollup.curve_on_disk(journal.equity_path, journal.equity_length)
            reference.fold(equity)
            if i % 2:  # read mid-run too: later reads fold only the rest
                assert (rollup.drawdown.peak, rollup.drawdown.worst, rollup.drawdown.last) == \
                    (reference.peak, reference.worst, reference.last)
        journal.close()
        got = rollup.drawdown
    finally:
        rollup_module.CURVE_CHUNK = saved
    assert (got.peak, got.worst, got.last, got.pct) == (reference.peak, reference.worst, reference.last, reference.pct)


def test_signed_zeros_keep_their_own_text_though_their_keys_are_equal():
    local = LocalSeconds(ZoneInfo("America/New_York"))
    fills = [Fill(i, "A", OrderSide.BUY, 1, price, commission, 1_700_000_000 * 1_000_000_000)
             for i, (price, commission) in enumerate([(0.0, 1.5), (-0.0, 1.5), (1.5, -0.0), (1.5, 0.0),
                                                       (-0.0, -0.0), (0.0, 0.0)])]
    rows = local.fill_text(fills)
    assert rows is not None
    assert [row.split(",")[4:] for row in rows.splitlines()] == [
        ["0.0000", "1.5000"], ["-0.0000", "1.5000"], ["1.5000", "-0.0000"], ["1.5000", "0.0000"],
        ["-0.0000", "-0.0000"], ["0.0000", "0.0000"]]


@given(st.lists(st.lists(st.tuples(st.sampled_from(["A", "B"]), st.booleans(), st.integers(1, 500),
                                   st.one_of(st.floats(0.01, 1e4), _again), st.floats(0, 5)), max_size=12),
                max_size=4))
def test_a_session_folded_with_the_runs_totals_equals_two_folds(sessions):
    # symbol_pnl(..., also=run totals) gives the session's figures and leaves the run's totals as
    # fold_fill_cash session after session does, bit for bit.
    from app.metrics.stats import fold_fill_cash, symbol_pnl

    run = ({}, {})
    reference: tuple[dict[str, float], dict[str, int]] = ({}, {})
    books = {"A": (5, 10.0, 11.5)}
    for rows in sessions:
        fills = [Fill(i, s, OrderSide.BUY if buy else OrderSide.SELL, q, p, c, i)
                 for i, (s, buy, q, p, c) in enumerate(rows)]
        assert symbol_pnl(fills, {}, books, run) == symbol_pnl(fills, {}, books)
        fold_fill_cash(fills, *reference)
        assert run == reference
