"""Recording and replay of live sessions: the local feed server over real sockets, the real threads.

Every decision of `DecidesEveryBar` shows the bars it saw (see replay_strategies.py). A session
is recorded (``recording/`` in its run folder), then replayed (``--replay``): the replay of the
recorded steps must make every live decision again, and the plain backtest over the bars as a
store holds them after the session must differ only where an input differed, each difference
named with its cause.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
from app.config import load_session_config
from app.recording.reader import load_recording
from app.recording.replay import replay_run
from app.runtime.run import run
from live.live_support import run_server
from replay_support import cli_env, live_config
from support.runs import cli, running_cli, wait_for_log

pytestmark = pytest.mark.threads


def live_session(tmp_path: Path, store: Path, *server_args: str, **live: object) -> Path:
    out = tmp_path / "live"
    with run_server(store, "--interval", "1s", *server_args, log_dir=tmp_path) as server:
        cfg = live_config(tmp_path / "live.yaml", server.ws_url, server.rest_url, store, **live)
        run(load_session_config(cfg), out)
    return out


def rows(rec: Any, table: str) -> list[dict[str, Any]]:
    cols = rec.rows(table)
    return [dict(zip(cols, values, strict=True)) for values in zip(*cols.values(), strict=True)]


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory, store_1s: Path) -> tuple[Path, dict[str, Any]]:
    mp = pytest.MonkeyPatch()
    mp.setenv("TEST_LIVE_KEY", "test-key")
    mp.setenv("TEST_LIVE_SECRET", "test-secret")
    try:
        tmp = tmp_path_factory.mktemp("clean")
        out = live_session(tmp, store_1s, "--history-steps", "5", stop_after_seconds=6)  # joins late: catch-up
    finally:
        mp.undo()
    return out, replay_run(out, out / "replay")


def test_a_live_run_records_every_step_bar_and_decision_and_replays_to_full_parity(clean):
    out, parity = clean
    rec = load_recording(out / "recording")
    assert sorted(p.name for p in (out / "recording").iterdir() if p.suffix == ".arrows") == []  # all Parquet now
    steps, bars, orders = rows(rec, "steps"), rows(rec, "bars"), rows(rec, "orders")
    summary = json.loads((out / "summary.json").read_text())
    assert len(steps) == summary["steps"] > 3
    by_id = {b["id"]: b for b in bars}
    for s in steps:  # each step's bars were received before it went out, and are its bars
        for bar_id in s["bar_ids"]:
            b = by_id[bar_id]
            assert b["step"] == s["step"] and b["outcome"] == "in_step"
            assert b["start_ns"] + 1_000_000_000 == s["end_ns"] and b["received_ns"] <= s["published_ns"]
    shown = [b for b in bars if b["step"] >= 0]
    assert len(shown) == sum(len(s["bar_ids"]) for s in steps) == summary["bars_processed"]
    assert {b["source"] for b in shown} <= {"stream", "backfill"}
    assert len(orders) == len(shown) and all(o["phase"] == "step" and o["step"] >= 0 for o in orders)
    history = rows(rec, "history")  # the session's earlier bars (REST) were history, as the replay puts them
    assert {h["symbol"] for h in history if h["part"] == "catch_up"} == {"AAPL", "MSFT"}
    replay, backtest = parity["replay"], parity["backtest"]
    assert replay["identical"] == replay["decisions_live"] == replay["decisions_replay"] == len(orders)
    assert replay["parity_pct"] == 100.0 and replay["differences"] == []
    # Nothing came late, was filled or restated: the plain backtest decides the same.
    assert backtest["parity_pct"] == 100.0 and backtest["input_differences"]["count"] == 0
    report = (out / "replay" / "report.txt").read_text()
    assert "Parity" in report and f"{len(orders)} of {len(orders)} decisions identical (100.00%)" in report
    assert json.loads((out / "replay" / "parity.json").read_text()) == parity


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory, store_1s: Path) -> tuple[Path, dict[str, Any]]:
    # AAPL's bar of stored step 12 is never streamed and REST answers too late for the fill at
    # grace (a fill after the decision); MSFT's 9th bar (step 10) comes 1.5 s late on the socket;
    # every 10th bar is restated after its step (AAPL's step 10 among them); the socket drops once
    # (REST backfill). Each changes the next decisions of its symbol, then they agree again.
    mp = pytest.MonkeyPatch()
    mp.setenv("TEST_LIVE_KEY", "test-key")
    mp.setenv("TEST_LIVE_SECRET", "test-secret")
    try:
        tmp = tmp_path_factory.mktemp("faulty")
        out = live_session(tmp, store_1s, "--drop", "AAPL:12", "--late", "MSFT:9", "--updated-bars",
                           "--disconnect-after", "4", "--rest-delay", "0.8", stop_after_seconds=15, fill_wait_s=0.3)
    finally:
        mp.undo()
    return out, replay_run(out, out / "replay")


def test_a_faulty_live_session_still_replays_to_full_parity(faulty):
    _, parity = faulty
    replay = parity["replay"]
    assert replay["decisions_live"] > 10 and replay["parity_pct"] == 100.0, replay["differences"][:3]
    assert replay["input_differences"]["count"] == 0 and replay["differences"] == []


def test_every_live_vs_backtest_difference_is_listed_with_its_cause(faulty):
    out, parity = faulty
    rec = load_recording(out / "recording")
    bars = rows(rec, "bars")
    summary = json.loads((out / "summary.json").read_text())
    feed = summary["feed"]
    # What the feed delivered is what was recorded, each bar with its source and fate.
    assert sum(b["source"] == "backfill" for b in bars) == feed["backfilled_bars"]
    assert sum(b["source"] == "restatement" for b in bars) == feed["updated_bars"] >= 1
    assert {b["outcome"] for b in bars if b["source"] == "restatement"} <= {"correction", "in_step"}
    assert any(b["outcome"] == "late" and b["symbol"] == "MSFT" for b in bars)
    assert any(b["outcome"] == "after_decision" and b["symbol"] == "AAPL" for b in bars)
    backtest = parity["backtest"]
    inputs = backtest["input_differences"]
    assert {"late bar", "fill", "correction"} <= set(inputs["by_kind"]), inputs["by_kind"]
    assert backtest["differences"], "the late, filled and restated bars must change some decisions"
    assert backtest["identical"] + len(backtest["differences"]) >= backtest["decisions_live"]
    kinds = set()
    for d in backtest["differences"]:
        cause = d["cause"]
        assert cause["kind"] in ("late bar", "fill", "correction"), d
        assert cause["symbol"] == d["symbol"] and cause["visible_at"] <= d["time"], d
        assert d["live"] != d["backtest"]
        kinds.add(cause["kind"])
    assert kinds == {"late bar", "fill", "correction"}, kinds
    report = (out / "replay" / "report.txt").read_text()
    section = report[report.index("Parity"):]
    assert "Live vs backtest" in section and "cause: late bar: MSFT" in section and "cause: fill: AAPL" in section
    assert "cause: correction:" in section


def test_a_killed_live_run_loses_at_most_one_step_of_its_recording_and_recover_converts_it(tmp_path, store_1s):
    out = tmp_path / "out"
    with run_server(store_1s, "--interval", "1s", log_dir=tmp_path) as server:
        cfg = live_config(tmp_path / "live.yaml", server.ws_url, server.rest_url, store_1s, stop_after_seconds=60)
        with running_cli(str(cfg), "--output", str(out), env_extra=cli_env()) as proc:
            wait_for_log(out, proc, "DecidesEveryBar: AAPL bar 4 decided")
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    folder = out / "recording"
    assert (folder / "steps.arrows").exists() and not (folder / "steps.parquet").exists()
    decided = run_log_steps(out / "run.log")
    before = load_recording(folder)  # read straight from the streams a killed run left
    recorded = len(before.rows("steps")["step"])
    assert recorded >= decided - 1 >= 3, (recorded, decided)
    done = cli("-m", "app.backtest", "--recover", str(out))
    assert done.returncode == 0, done.stderr
    assert not list(folder.glob("*.arrows")) and (folder / "steps.parquet").exists()
    after = load_recording(folder)
    for table in ("steps", "bars", "orders"):
        assert after.rows(table) == before.rows(table), table
    assert json.loads((out / "summary.json").read_text())["recording"]["tables"]


def run_log_steps(log: Path) -> int:
    """How many steps the strategy was shown before the kill (AAPL has a bar in every step)."""
    return sum("DecidesEveryBar: AAPL bar" in line for line in log.read_text().splitlines())
