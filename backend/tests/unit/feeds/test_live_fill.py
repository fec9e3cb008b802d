"""Fill at grace (pure): what is asked of REST, and what its answer means for each missing bar."""

from __future__ import annotations

import numpy as np
from app.feeds.live_fill import fill_request, read_fill_answer, same_values
from app.store.bar import BarArrays

B = 60


def arrays(starts: list[int], base: float = 10.0) -> BarArrays:
    start = np.array(starts, dtype=np.int64)
    o = base + np.arange(len(starts), dtype=np.float64)
    return BarArrays(start, o, o + 1, o - 1, o + 0.5, np.full(len(starts), 100.0))


def test_fill_request_asks_every_missing_symbol_from_the_first_step_to_the_last_closed_end():
    overdue = [(0, ("B",)), (B, ("A", "B"))]
    assert fill_request(overdue, 0, B, 2 * B + 30) == (["A", "B"], 0, 2 * B)
    # The grid may be anywhere; the end is never before the first step's end.
    assert fill_request([(7 + B, ("A",))], 7, B, 7 + B + 1) == (["A"], 7 + B, 7 + 2 * B)


def test_a_bar_in_the_answer_fills_a_later_bar_confirms_no_trades_and_nothing_is_absent():
    overdue = [(0, ("A", "B", "C")), (B, ("A",))]
    answer = {"A": arrays([0]), "B": arrays([B]), "C": arrays([])}
    found = read_fill_answer(overdue, answer, received_ns=123)
    [bar] = found.filled
    assert (bar.symbol, bar.start_ns, bar.open, bar.kind, bar.received_ns) == ("A", 0, 10.0, "bar", 123)
    assert found.no_trades == (("B", 0),)
    # C: empty answer; A at B: no bar and nothing later (REST may not have it yet).
    assert found.absent == (("C", 0), ("A", B))


def test_a_symbol_missing_from_the_answer_or_a_failed_request_leaves_every_bar_absent():
    overdue = [(0, ("A", "B"))]
    assert read_fill_answer(overdue, {}, 0).absent == (("A", 0), ("B", 0))
    assert read_fill_answer(overdue, {"A": arrays([0])}, 0).absent == (("B", 0),)


def test_same_values_tells_the_streams_copy_of_a_filled_bar_from_a_correction():
    published = arrays([0, B])
    [bar] = read_fill_answer([(B, ("A",))], {"A": published}, 0).filled
    assert same_values(published, 1, bar)
    assert not same_values(published, 0, bar)
