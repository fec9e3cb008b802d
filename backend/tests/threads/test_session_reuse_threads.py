"""Real threads: indicator states kept across sessions, and the one-step panel built only when a
one-step batch comes, give the run a brand-new state per session gives (values and trades)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from app.config import load_session_config
from app.indicators.bank import IndicatorBank
from app.runtime.run import run
from support import indicator_dump
from support.runs import make_store, write_config


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return make_store(tmp_path_factory.mktemp("store"), start=date(2024, 6, 24), end=date(2024, 7, 3))


def _dump_run(store: Path, tmp: Path, name: str, **overrides) -> tuple[list, bytes, bytes]:
    cfg = write_config(tmp / f"{name}.yaml", store, streams=["1m"],
                       backtest={"start_date": "2024-06-26", "end_date": "2024-07-03"},
                       strategy={"class": "support.indicator_dump:IndicatorDump",
                                 "params": {"fast": 5, "slow": 20, "quantity": 10}}, **overrides)
    indicator_dump.DUMPS.clear()
    out = tmp / name
    run(load_session_config(cfg), out)
    dumps = list(indicator_dump.DUMPS)
    assert len({d[0] for d in dumps}) >= 4  # several sessions, so states were reused
    return dumps, (out / "fills.csv").read_bytes(), (out / "equity.csv").read_bytes()


@pytest.mark.parametrize("history", [1, 0], ids=["trailing_day", "no_history"])
def test_reused_states_and_lazy_panel_equal_new_states_each_session(store, tmp_path, monkeypatch, history):
    # Without history nothing overwrites what a state kept from the session before: a reset
    # that missed a field would show in the values.
    hist = {"data": [{"trailing_days": 1, "intervals": ["1m"]}] if history else []}
    # Act: whole-session batches and one-step batches (the panel built at the first step),
    # both with the states kept across sessions ...
    whole = _dump_run(store, tmp_path, "whole", historical=hist)
    steps = _dump_run(store, tmp_path, "steps", historical=hist, run={"batch_steps": 1})
    # ... and a bank that builds every state anew each session (as before states were kept)
    begin = IndicatorBank.begin_session

    def new_states(self, state, symbols):
        self._kept.clear()
        begin(self, state, symbols)

    monkeypatch.setattr(IndicatorBank, "begin_session", new_states)
    fresh = _dump_run(store, tmp_path, "fresh", historical=hist)
    # Assert: the same values, fills and equity, byte for byte
    assert whole == fresh
    assert steps == fresh
