"""Fixtures for the recording and replay tests (helpers in replay_support.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from replay_support import KEY, SECRET, write_store_1s


@pytest.fixture(scope="session")
def store_1s(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_store_1s(tmp_path_factory.mktemp("replay_store_1s"))


@pytest.fixture
def creds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_LIVE_KEY", KEY)
    monkeypatch.setenv("TEST_LIVE_SECRET", SECRET)
