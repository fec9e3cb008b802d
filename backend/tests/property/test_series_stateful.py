"""BarSeries as a state machine: views never change, length never shrinks, one writer only."""

from __future__ import annotations

import threading

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from app.errors import InvariantError
from app.store.bar import BarArrays
from app.store.series import BarSeries, ValueSeries


def _bars(start: int, k: int) -> BarArrays:
    s = np.arange(start, start + k, dtype=np.int64) * 60
    f = np.arange(k, dtype=np.float64) + start
    return BarArrays(s, f, f + 1, f - 1, f, f * 10)


class SeriesMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.series = BarSeries("X/1m", capacity=2)
        self.model: list[int] = []
        self.views: list[tuple[np.ndarray, list[int]]] = []

    @rule(k=st.integers(1, 7))
    def append(self, k: int) -> None:
        start = (self.model[-1] // 60 + 1) if self.model else 0
        self.series.append(_bars(start, k))
        self.model.extend(int(x) for x in np.arange(start, start + k) * 60)

    @rule(upto=st.one_of(st.none(), st.integers(0, 40)))
    def take_view(self, upto: int | None) -> None:
        view = self.series.view(upto)
        n = len(self.model) if upto is None else min(upto, len(self.model))
        self.views.append((view.start, list(self.model[:n])))

    @rule()
    def out_of_order_append_is_refused(self) -> None:
        if self.model:
            with pytest.raises(InvariantError, match="is not after"):
                self.series.append(_bars(0, 1))

    @invariant()
    def earlier_views_unchanged(self) -> None:
        for arr, expected in self.views:
            assert arr.tolist() == expected
            assert not arr.flags.writeable

    @invariant()
    def length_matches_model(self) -> None:
        assert len(self.series) == len(self.model)


TestSeriesMachine = SeriesMachine.TestCase


def test_second_writer_thread_is_refused():
    # Arrange
    series = BarSeries("AAPL/1m")
    series.append(_bars(0, 1))
    errors: list[BaseException] = []

    def other_writer() -> None:
        try:
            series.append(_bars(5, 1))
        except InvariantError as e:
            errors.append(e)

    # Act
    t = threading.Thread(target=other_writer, name="Intruder")
    t.start()
    t.join(5)

    # Assert
    assert len(errors) == 1
    assert "series AAPL/1m: second writer thread Intruder" in str(errors[0])
    assert len(series) == 1


def test_preloaded_series_reveals_rows_without_copying():
    source = _bars(0, 5)
    series = BarSeries("A/1m", preloaded=source)
    assert len(series.view()) == 0
    series.publish(3)
    view = series.view()
    assert view.close.tolist() == [0.0, 1.0, 2.0]
    assert np.shares_memory(view.close, source.close)
    with pytest.raises(InvariantError, match=r"publish\(2\) with 3 published"):
        series.publish(2)


def test_value_series_reads_nan_beyond_published():
    vs = ValueSeries("A/sma", capacity=1)
    vs.append(np.array([1.5, 2.5]))
    assert vs.value(1) == 2.5
    assert np.isnan(vs.value(2))
    assert vs.view(1).tolist() == [1.5]


def test_reader_thread_never_sees_a_torn_or_shrinking_series():
    # A reader hammering views while the writer appends and grows capacity.
    series = BarSeries("R/1m", capacity=1)
    stop = threading.Event()
    problems: list[str] = []

    def reader() -> None:
        last = 0
        while not stop.is_set():
            v = series.view()
            n = len(v)
            if n < last:
                problems.append(f"shrank {last}->{n}")
            if n and not (np.diff(v.start) == 60).all():
                problems.append("torn starts")
            if n and not np.array_equal(v.close, v.start / 60):
                problems.append("torn close")
            last = n

    t = threading.Thread(target=reader, name="Reader")
    t.start()
    try:
        for i in range(3000):
            series.append(_bars(i, 1))
    finally:
        stop.set()
        t.join(10)
    assert problems == []
    assert len(series) == 3000
