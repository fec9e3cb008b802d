"""Memory of a long run's page: the C heap's freed pages go back (hand_back_freed); fills' texts are shared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from app.report.memory import _malloc_trim, hand_back_freed
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.unit


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


@pytest.mark.skipif(_malloc_trim() is None or not Path("/proc/self/status").exists(),
                    reason="glibc's malloc_trim and /proc only")
def test_freed_heap_pages_go_back_to_the_system():
    # 40 MB of arrays small enough for the heap (not mmap), touched; all freed but the last, which
    # keeps the heap's top in use so that free() alone cannot give the pages back.
    blocks = [np.ones(12_000) for _ in range(400)]
    last = blocks[-1]
    del blocks
    before = rss_kb()
    hand_back_freed()
    assert before - rss_kb() > 20_000, "expected the ~36 MB the freed arrays held to go back"
    assert last.sum() == 12_000.0


@pytest.mark.property
@given(st.lists(st.lists(st.sampled_from(["AAPL", "MSFT", "buy", "sell", ""]), max_size=20), max_size=4),
       st.booleans())
def test_fills_texts_are_the_columns_values_with_one_object_each(chunks: list[list[str | None]], null: bool):
    import pyarrow as pa

    from app.report.run_files import _shared_texts

    if null and chunks and chunks[0]:
        chunks[0][0] = None
    column = pa.chunked_array([pa.array(c, pa.string()) for c in chunks], pa.string())
    texts = _shared_texts(column)
    assert texts == column.to_pylist()
    if not column.null_count:
        assert len({id(t) for t in texts}) <= len(set(texts)) * max(1, len(chunks))
