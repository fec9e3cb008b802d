"""Sweep planning (pure): grids, seeded random samples, walk-forward windows, the best pick, the ranking."""

from __future__ import annotations

import itertools
import math
from datetime import date, timedelta

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from app.sweep.plan import (
    best_row,
    expand_params,
    plan_runs,
    sample_params,
    walk_forward_windows,
    window_test_run,
)
from app.sweep.results import rank_rows
from app.sweep.spec import ParamSpace, RandomDim

pytestmark = pytest.mark.unit

SESSIONS = [date(2024, 1, 1) + timedelta(days=i) for i in range(60)]  # any ordered dates stand for sessions


# -- grids and lists ---------------------------------------------------------------------------

@pytest.mark.property
@given(st.lists(st.lists(st.integers(-5, 5), min_size=1, max_size=4, unique=True), min_size=1, max_size=4))
def test_a_grid_is_every_combination_once_last_parameter_fastest(values):
    names = [f"p{i}" for i in range(len(values))]
    space = ParamSpace("grid", grid=tuple((n, tuple(v)) for n, v in zip(names, values, strict=True)))

    sets = expand_params(space)

    assert len(sets) == math.prod(len(v) for v in values)
    assert [tuple(s[n] for n in names) for s in sets] == list(itertools.product(*values))


def test_fixed_params_join_every_set_and_a_list_keeps_its_order():
    space = ParamSpace("list", sets=({"fast": 8}, {"fast": 3, "slow": 40}), fixed={"quantity": 7})

    assert expand_params(space) == [{"fast": 8, "quantity": 7}, {"fast": 3, "slow": 40, "quantity": 7}]
    assert space.names == ["fast", "slow", "quantity"]
    assert expand_params(ParamSpace("none")) == [{}]


# -- seeded random samples -----------------------------------------------------------------------

DIMS = (RandomDim("fast", "int", 2, 20), RandomDim("width", "uniform", 0.5, 1.5),
        RandomDim("scale", "log_uniform", 0.01, 10.0), RandomDim("mode", "choice", choices=("a", "b", 3)))


@pytest.mark.property
@given(st.integers(0, 2**32), st.integers(1, 30))
def test_a_seeded_sample_is_the_same_every_time_distinct_and_in_bounds(seed, samples):
    first = sample_params(DIMS, samples, seed)

    assert first == sample_params(DIMS, samples, seed)
    assert len(first) == samples
    assert len({tuple(repr(v) for v in s.values()) for s in first}) == samples
    for s in first:
        assert isinstance(s["fast"], int) and 2 <= s["fast"] <= 20
        assert 0.5 <= s["width"] <= 1.5 and 0.01 <= s["scale"] <= 10.0
        assert s["mode"] in ("a", "b", 3)


def test_other_seeds_give_other_samples_and_a_small_space_gives_what_it_has():
    assert sample_params(DIMS, 10, 1) != sample_params(DIMS, 10, 2)
    small = sample_params((RandomDim("n", "int", 1, 3),), 10, 7)
    assert sorted(s["n"] for s in small) == [1, 2, 3]


# -- walk-forward windows ----------------------------------------------------------------------------

@pytest.mark.property
@given(st.integers(1, 20), st.integers(1, 10), st.integers(1, 10), st.booleans(), st.integers(0, 60))
def test_windows_train_then_test_right_after_step_by_step_within_the_sessions(train, test, step, anchored, count):
    sessions = SESSIONS[:count]

    windows = walk_forward_windows(sessions, train, test, step, anchored)

    pos = {d: i for i, d in enumerate(sessions)}
    for k, w in enumerate(windows):
        assert w.index == k
        split = k * step + train
        assert pos[w.train_start] == (0 if anchored else k * step)
        assert pos[w.train_end] == split - 1 and pos[w.test_start] == split
        assert pos[w.test_end] == split + test - 1 < len(sessions)
    # Maximal: one more window would run past the last session.
    assert len(windows) * step + train + test > len(sessions)


def test_a_rolling_window_example():
    days = SESSIONS[:10]
    [w0, _, w2] = walk_forward_windows(days, train=4, test=2, step=2)
    assert (w0.train_start, w0.train_end, w0.test_start, w0.test_end) == (days[0], days[3], days[4], days[5])
    assert (w2.train_start, w2.test_end) == (days[4], days[9])
    assert walk_forward_windows(days, 4, 2, 2, anchored=True)[2].train_start == days[0]
    assert walk_forward_windows(days, 9, 2, 1) == []
    with pytest.raises(ValueError, match="expected train, test and step >= 1"):
        walk_forward_windows(days, 0, 1, 1)


def test_plan_runs_makes_unique_ids_per_set_group_and_window():
    windows = walk_forward_windows(SESSIONS[:8], 4, 2, 2)
    sets = [{"fast": 3}, {"fast": 5}, {"fast": 8}]

    runs = plan_runs(sets, [("AAPL",), ("MSFT", "SPY")], windows)

    assert len(runs) == len(sets) * 2 * len(windows) == len({r.run_id for r in runs})
    assert {r.phase for r in runs} == {"train"}
    first = runs[0]
    assert (first.run_id, first.start, first.end, first.symbols) == ("w00.train.p000.g0", SESSIONS[0], SESSIONS[3],
                                                                      ("AAPL",))
    test = window_test_run(windows[0], first)
    assert (test.run_id, test.phase, test.start, test.end, test.params) == (
        "w00.test.p000.g0", "test", SESSIONS[4], SESSIONS[5], {"fast": 3})
    assert [r.run_id for r in plan_runs(sets, None)] == ["p000", "p001", "p002"]


# -- the best pick and the ranking -----------------------------------------------------------------

def _row(i, value, status="completed", **more):
    return {"run_id": f"p{i:03d}", "param_set": i, "group": 0, "status": status, "sharpe": value,
            "window": None, "phase": "", **more}


def test_best_row_skips_failed_and_nan_rows_and_breaks_ties_by_plan_order():
    rows = [_row(3, 2.0), _row(1, 2.0), _row(0, 9.0, "failed"), _row(2, math.nan), _row(4, -1.0)]

    assert best_row(rows, "sharpe", ascending=False)["param_set"] == 1
    assert best_row(rows, "sharpe", ascending=True)["param_set"] == 4
    assert best_row([_row(0, math.nan), _row(1, 5.0, "failed")], "sharpe", False) is None


@pytest.mark.property
@settings(max_examples=25)  # a pandas table per example (slow): 25 cover status x NaN x order
@given(st.lists(st.tuples(st.sampled_from(["completed", "failed", "cancelled"]),
                          st.one_of(st.floats(-10, 10), st.just(math.nan))), min_size=1, max_size=12),
       st.booleans())
def test_ranking_puts_completed_rows_best_first_then_failed_then_cancelled(specs, ascending):
    rows = [_row(i, v, s) for i, (s, v) in enumerate(specs)]

    frame = rank_rows(rows, "sharpe", ascending, params=[])

    ranked = frame[frame["rank"].notna()]
    values = ranked["sharpe"].tolist()
    assert values == sorted(values, reverse=not ascending)
    assert ranked["rank"].tolist() == list(range(1, len(ranked) + 1))
    assert (ranked["status"] == "completed").all()
    order = {"completed": 0, "failed": 1, "cancelled": 2}
    tail = frame[frame["rank"].isna()]["status"].map(order).tolist()
    assert tail == sorted(tail)
    assert sorted(frame["run_id"]) == sorted(r["run_id"] for r in rows)


def test_walk_forward_ranks_each_window_and_phase_on_its_own():
    rows = [_row(0, 1.0, window=1, phase="train"), _row(1, 3.0, window=0, phase="test"),
            _row(2, 2.0, window=0, phase="train"), _row(3, 5.0, window=0, phase="train")]

    frame = rank_rows(rows, "sharpe", False, params=[], by_window=True)

    assert list(zip(frame["run_id"], frame["rank"], strict=True)) == [
        ("p003", 1), ("p002", 2), ("p001", 1), ("p000", 1)]
