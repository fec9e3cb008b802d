"""Fixtures of the report tests: the real runs every report test reads, made once per test session."""

from __future__ import annotations

import pytest
from report_support import Runs, make_runs


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    return make_runs(tmp_path_factory.mktemp("report_runs"))
