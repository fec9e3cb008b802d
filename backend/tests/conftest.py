"""Shared test setup: markers by directory, hypothesis profiles, a thread-leak guard."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=200, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

# A test run started as a background job without job control (`cmd &` in a script) has SIGINT
# ignored, and the CLIs these tests interrupt with SIGINT would inherit that and never see it.
# With a handler here, the children exec with the default disposition (Ctrl-C's, as in a terminal).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

_TESTS = Path(__file__).parent
_MARK_BY_DIR = {"unit": "unit", "property": "property", "e2e": "e2e", "threads": "threads", "live": "threads",
                "faults": "e2e"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        try:
            rel = Path(str(item.fspath)).relative_to(_TESTS)
        except ValueError:
            continue
        marker = _MARK_BY_DIR.get(rel.parts[0])
        if marker:
            item.add_marker(getattr(pytest.mark, marker))


@pytest.fixture(autouse=True)
def _thread_leak_guard():
    """Fail a test that leaves a thread running (CPython threading_helper style)."""
    before = set(threading.enumerate())
    yield
    leaked = []
    for thread in threading.enumerate():
        if thread in before or thread is threading.current_thread():
            continue
        thread.join(timeout=10.0)
        if thread.is_alive():
            leaked.append(thread.name)
    assert not leaked, f"threads still running after the test: {leaked}"
