"""Fixtures for the live-feed tests (helpers live in live_support.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from live_support import write_store


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_store(tmp_path_factory.mktemp("store"))
