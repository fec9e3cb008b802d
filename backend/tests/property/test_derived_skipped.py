"""The report's "Derived Bars Skipped": each skipped window counts once, also one cut off by the close.

A window is skipped when it finishes with some but not all of its base bars, or when the close
cuts it short (it can never be complete) and it holds any bar. Issue 8 saw a window cut by the
close counted twice: a data-driven batch ending at the close counted it, and the session end
counted it again, because the rows of that (already finished) window were kept as "still open".
The count must not depend on how the steps were batched.
"""

from __future__ import annotations

import numpy as np
from app.store.bar import parse_interval
from hypothesis import given, settings
from hypothesis import strategies as st
from test_processor_paths import _run

WHOLE_SESSION = [10**6]  # one batch ending at the close: the data-driven path


def _expected(present: np.ndarray, slots: int, t: int) -> int:
    # Windows [k*t, (k+1)*t) cut at `slots`: skipped when they hold a bar but not a full set.
    count = 0
    for lo in range(0, slots, t):
        have = int(present[lo : lo + t].sum())
        if have and not (lo + t <= slots and have == t):
            count += 1
    return count


def _skipped(present: np.ndarray, t: int, batches: list[int], every_slot: bool) -> list[int]:
    slots, n = present.shape
    prices = np.tile(np.array([10.0, 11.0, 9.0, 10.5, 100.0]), (slots, n, 1))
    case = (n, slots, present, prices, 0, [parse_interval(f"{t}s")], [], every_slot)
    state, _ = _run(case, batches)
    return [state.derived_skipped[(f"S{s}", f"{t}s")] for s in range(n)]


def test_a_window_cut_off_by_the_close_is_skipped_once_in_a_batch_ending_at_the_close():
    # 10 one-second steps, 4s windows: [0,4) and [4,8) complete, [8,10) cut by the close.
    present = np.ones((10, 2), dtype=bool)

    assert _skipped(present, 4, WHOLE_SESSION, every_slot=True) == [1, 1]
    assert _skipped(present, 4, [1], every_slot=True) == [1, 1]
    assert _skipped(present, 4, [3], every_slot=True) == [1, 1]


@settings(deadline=None)
@given(
    slots=st.integers(1, 30),
    n=st.integers(1, 3),
    t=st.sampled_from([2, 3, 4, 6, 7]),
    seed=st.integers(0, 2**32 - 1),
    fill=st.sampled_from([0.6, 0.95, 1.0]),
    batches=st.one_of(st.just(WHOLE_SESSION), st.lists(st.integers(1, 8), min_size=1, max_size=4)),
    every_slot=st.booleans(),
)
def test_each_skipped_window_counts_once_however_the_steps_are_batched(slots, n, t, seed, fill, batches,
                                                                        every_slot):
    present = np.random.default_rng(seed).random((slots, n)) < fill

    got = _skipped(present, t, batches, every_slot)

    assert got == [_expected(present[:, s], slots, t) for s in range(n)]
