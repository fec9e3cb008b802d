"""Pure parts of recording and replay: the tables' round trip (Parquet and a killed run's torn
stream), the final bars, the decision diff and its cause attribution."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from app.metrics.parity import Decision, InputDiff, cause_of, diff_decisions, input_differences, parity_section
from app.recording.reader import Recording, SessionSpan, load_recording
from app.recording.schema import SCHEMAS, TABLES
from app.recording.writer import RecordingWriter, _Table, finish_recording, read_stream
from hypothesis import given, settings
from hypothesis import strategies as st

D = date(2024, 1, 2)
S = 1_000_000_000

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
bar_rows = st.lists(st.tuples(st.integers(0, 2**40), st.sampled_from(["AAPL", "MSFT"]), st.integers(0, 2**60),
                              finite, finite, finite, finite, finite,
                              st.sampled_from(["stream", "rest_fill", "backfill", "restatement"]),
                              st.integers(0, 2**62), st.integers(-1, 1000),
                              st.sampled_from(["in_step", "late", "correction", "after_decision"])),
                    max_size=30)


def _bar(row: tuple) -> tuple:
    rid, symbol, start, o, h, lo, c, v, src, recv, step, outcome = row
    return (rid, D, symbol, "1s", start, o, h, lo, c, v, src, recv, step, outcome)


@pytest.mark.property
@settings(max_examples=25)
@given(rows=bar_rows, cuts=st.lists(st.integers(0, 30), max_size=4))
def test_rows_written_step_by_step_read_back_the_same_from_the_stream_and_from_parquet(tmp_path_factory, rows, cuts):
    folder = tmp_path_factory.mktemp("rec")
    bars = _Table(folder / "bars.arrows", SCHEMAS["bars"])
    for i, row in enumerate(rows):  # flushed at random points: one record batch per flush
        bars.add(_bar(row))
        if i in cuts:
            bars.flush()
    bars.close()
    expected = [list(c) for c in zip(*(_bar(r) for r in rows), strict=True)] if rows else [[] for _ in SCHEMAS["bars"]]
    streamed = read_stream(folder / "bars.arrows", SCHEMAS["bars"]).to_pydict()
    assert [streamed[f.name] for f in SCHEMAS["bars"]] == expected
    assert finish_recording(folder) == ["bars"] and not (folder / "bars.arrows").exists()
    converted = pq.read_table(folder / "bars.parquet").to_pydict()
    assert [converted[f.name] for f in SCHEMAS["bars"]] == expected


@pytest.mark.unit
def test_a_finished_writer_leaves_meta_and_one_parquet_file_per_table(tmp_path: Path):
    writer = RecordingWriter(tmp_path / "recording", {"symbols": ["AAPL"]})
    writer.table("orders").add((D, 0, "step", S, 1, "AAPL", "buy", 1, "market", float("nan"), "day", True))
    writer.finish()
    writer.finish()  # idempotent
    names = sorted(p.name for p in (tmp_path / "recording").iterdir())
    assert names == sorted(["meta.json", *(f"{t}.parquet" for t in TABLES)])
    rec = load_recording(tmp_path / "recording")
    assert rec.symbols == ("AAPL",) and rec.rows("orders")["order_id"] == [1] and rec.sessions() == []


@pytest.mark.unit
def test_a_killed_runs_torn_last_batch_is_left_out_and_the_rest_converts(tmp_path: Path):
    folder = tmp_path / "recording"
    writer = RecordingWriter(folder, {"symbols": ["AAPL"]})
    steps = writer.table("steps")
    for k in range(3):
        steps.add((D, k, (k + 1) * S, (k + 1) * S + 5, 0, [k]))
        steps.flush()
    path = folder / "steps.arrows"
    whole = path.read_bytes()
    for cut in (1, 40, 100):  # a kill in the middle of writing the third step
        path.write_bytes(whole[:-cut])
        assert read_stream(path, SCHEMAS["steps"]).column("step").to_pylist() == [0, 1]
    path.write_bytes(whole[:-1])
    assert finish_recording(folder) == list(TABLES) and not path.exists()
    assert load_recording(folder).rows("steps")["step"] == [0, 1]
    for table in writer.tables.values():  # the writer's own files are gone; close its handles
        table._sink.close()


def _recording(bars: list[tuple], minutes: list[tuple] = ()) -> Recording:
    tables = {name: {f.name: [] for f in SCHEMAS[name]} for name in TABLES}
    for row in bars:
        for f, v in zip(SCHEMAS["bars"], _bar(row), strict=True):
            tables["bars"][f.name].append(v)
    for row in minutes:
        for f, v in zip(SCHEMAS["minutes"], (D, *row), strict=True):
            tables["minutes"][f.name].append(v)
    return Recording(Path("rec"), {"symbols": ["AAPL", "MSFT"]}, tables)


@pytest.mark.unit
def test_the_final_bars_are_the_latest_version_of_each_bar_over_the_streamed_span():
    rec = _recording([
        (1, "AAPL", 0, 1, 2, 1, 1.5, 10, "stream", 100, 0, "in_step"),
        (2, "AAPL", 0, 1, 2, 1, 1.7, 10, "restatement", 150, -1, "correction"),  # restated after the step
        (3, "AAPL", S, 2, 3, 2, 2.5, 10, "stream", 200, -1, "late"),
        (4, "AAPL", 2 * S, 3, 4, 3, 3.5, 10, "rest_fill", 300, -1, "after_decision"),
        (5, "MSFT", 0, 9, 9, 9, 9, 9, "stream", 90, -1, "superseded"),  # replaced before its step went out
        (6, "MSFT", 0, 8, 9, 8, 8.5, 9, "restatement", 95, 0, "in_step"),
        (7, "MSFT", S, 0, 0, 0, 0, 0, "stream", 190, -1, "rejected"),
        (8, "MSFT", 9 * S, 1, 1, 1, 1, 1, "stream", 990, -1, "late"),  # after the stream's end
    ])
    final = rec.final_bars(SessionSpan(D, 0, 10 * S, 0, 5 * S, True))
    assert final["AAPL"].start.tolist() == [0, S, 2 * S] and final["AAPL"].close.tolist() == [1.7, 2.5, 3.5]
    assert final["MSFT"].start.tolist() == [0] and final["MSFT"].close.tolist() == [8.5]
    assert rec.step_bars(D)["AAPL"].close.tolist() == [1.5]  # what the strategy was shown


@pytest.mark.unit
def test_an_input_difference_is_named_by_what_the_live_run_knew_of_the_bar():
    live = _recording([
        (1, "AAPL", S, 1, 1, 1, 1, 1, "stream", 5 * S, -1, "late"),
        (2, "AAPL", S, 1, 1, 1, 1, 1, "rest_fill", 6 * S, -1, "after_decision"),  # late came first
        (3, "AAPL", 2 * S, 1, 1, 1, 1, 1, "rest_fill", 6 * S, -1, "after_decision"),
        (4, "MSFT", 3 * S, 1, 1, 1, 1, 1, "stream", 4 * S, -1, "late"),  # REST said no trades at the decision
    ], minutes=[("MSFT", 3 * S, "no_trades")])
    cause = cause_of(live)
    shown_live = {(D, "AAPL", 0): (1.0,) * 5, (D, "AAPL", 4 * S): (1.0,) * 5}
    shown_bt = {(D, "AAPL", 0): (2.0,) * 5, (D, "AAPL", S): (1.0,) * 5, (D, "AAPL", 2 * S): (1.0,) * 5,
                (D, "MSFT", 3 * S): (1.0,) * 5, (D, "MSFT", 5 * S): (1.0,) * 5}
    diffs = input_differences(shown_live, shown_bt, S, cause)
    assert [(d.symbol, d.start_ns // S, d.kind, d.at_ns // S) for d in diffs] == [
        ("AAPL", 0, "correction", 1), ("AAPL", 1, "late bar", 2), ("AAPL", 2, "fill", 3),
        ("MSFT", 3, "no-trade minute", 4), ("AAPL", 4, "not in final", 5), ("MSFT", 5, "missing", 6)]


def _decision(t: int, symbol: str, qty: int) -> Decision:
    return Decision(D, t, "step", t * S, symbol, "buy", qty, "limit", 1.0, "day", True)


@pytest.mark.unit
def test_a_difference_is_caused_by_the_earliest_input_that_differed_since_the_runs_last_agreed():
    inputs = [InputDiff(D, 2 * S, "AAPL", S, "correction"), InputDiff(D, 5 * S, "AAPL", 4 * S, "fill"),
              InputDiff(D, 6 * S, "MSFT", 5 * S, "late bar")]
    live = [_decision(t, "AAPL", 1) for t in range(1, 9)] + [_decision(7, "MSFT", 1)]
    other = ([_decision(1, "AAPL", 1), _decision(2, "AAPL", 2), _decision(3, "AAPL", 1), _decision(4, "AAPL", 1)]
             + [_decision(t, "AAPL", 3) for t in (5, 6)] + [_decision(7, "AAPL", 1), _decision(8, "AAPL", 9)]
             + [_decision(7, "MSFT", 2), _decision(8, "MSFT", 1)])
    identical, diffs = diff_decisions(live, other, inputs)
    assert identical == 4
    got = [(d.at_ns // S, d.symbol, d.a is None, d.b is None, d.cause.kind if d.cause else None) for d in diffs]
    assert got == [(2, "AAPL", False, False, "correction"),  # its own bar, restated
                   (5, "AAPL", False, False, "fill"), (6, "AAPL", False, False, "fill"),
                   (7, "MSFT", False, False, "late bar"),
                   (8, "AAPL", False, False, "correction"),  # agreed at 7, nothing new since: the earliest
                   (8, "MSFT", True, False, "late bar")]
    text = parity_section({"replay": {"decisions_live": 9, "decisions_replay": 10, "identical": 4,
                                      "parity_pct": 40.0, "input_differences": {"count": 0, "by_kind": {},
                                                                                "bars": []},
                                      "differences": [{"step": 2, "time": "t", "symbol": "AAPL", "live": None,
                                                       "replay": "buy", "cause": {"kind": "unexplained",
                                                                                  "detail": "same bars"}}]}})
    assert "Live vs replay (same steps, same bars): 4 of 10 decisions identical (40.00%)" in text
    assert "live no order; replay buy" in text and "cause: unexplained: same bars" in text


decisions_st = st.lists(st.tuples(st.integers(0, 20), st.sampled_from(["AAPL", "MSFT"]), st.integers(1, 5)),
                        max_size=25, unique_by=lambda r: r[:2])  # one decision per (step, symbol)


@pytest.mark.property
@given(rows=decisions_st)
def test_a_run_agrees_with_itself_and_differs_from_a_run_with_any_decision_changed(rows):
    mine = [_decision(t, s, q) for t, s, q in sorted(rows)]
    assert diff_decisions(mine, list(mine), []) == (len(mine), [])
    if mine:
        changed = [*mine[:-1], _decision(mine[-1].placed_at_ns // S, mine[-1].symbol, mine[-1].quantity + 1)]
        identical, [d] = diff_decisions(mine, changed, [])
        assert identical == len(mine) - 1 and d.a == mine[-1] and d.b == changed[-1] and d.cause is None


@pytest.mark.property
@given(rows=decisions_st, drop=st.integers(0, 24))
def test_a_decision_one_run_lacks_is_listed_once_with_the_other_sides_decision(rows, drop):
    mine = [_decision(t, s, q) for t, s, q in sorted(rows)]
    if not mine:
        return
    other = mine[:drop % len(mine)] + mine[drop % len(mine) + 1:]
    identical, diffs = diff_decisions(mine, other, [])
    assert len(diffs) == 1 and identical == len(mine) - 1
    [d] = diffs
    assert d.a is not None and d.a.key == mine[drop % len(mine)].key and (d.b is None or d.b.key == d.a.key)
