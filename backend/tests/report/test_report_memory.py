"""hand_back_freed returns the C heap's freed pages to the system (what a long run's page reads left)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.report.memory import _malloc_trim, hand_back_freed

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
