"""hand_over(): give the GIL to a thread just woken, rather than keep it through one's own work.

After publishing a step to a waiting consumer, the producer would otherwise keep the GIL until
its next blocking call or the interpreter's switch interval (5 ms); `os.sched_yield` releases it
around the syscall, so the woken consumer runs now. Where the OS has no ``sched_yield``
(Windows) it does nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable

__all__ = ["hand_over"]


def _nothing() -> None:
    return None


hand_over: Callable[[], None] = getattr(os, "sched_yield", _nothing)
