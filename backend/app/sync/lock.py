"""A mutual-exclusion lock for modules outside sync/ and threads/ (the recording's tables, which
the coordinator and DataUpkeep share): they use this instead of importing threading."""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager

__all__ = ["Lock", "make_lock"]

Lock = AbstractContextManager[bool]
"""What `make_lock` returns: ``with lock:`` holds it."""


def make_lock() -> Lock:
    """Return a new, unlocked, non-reentrant lock."""
    return threading.Lock()
