"""Live sessions end to end: the local feed server over real sockets, the real pipeline threads.

The server replays a tiny 1s store (stored step k has AAPL open 100 + k and MSFT open 200 + k,
MSFT has no bar at k = 7) restamped to the wall clock; a 24/7 calendar makes every instant a
session, so a live session runs in seconds. Opens identify bars: consecutive opens mean no bar
was lost or shown twice.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import numpy as np
import pytest
import yaml
from app.config import load_session_config
from app.runtime.run import run
from app.store.bar import BarArrays, parse_interval
from app.store.files import write_bars
from live_support import KEY, SECRET, Server, run_server
from support.recording import LIVE_RECORDS
from support.serving import live_session_config
from support.runs import running_cli, wait_for_log

NS = 1_000_000_000
DAY0 = int(np.datetime64("2024-01-02T00:00:00", "ns").astype(np.int64))
STEPS = 600
MSFT_NO_TRADES = 7
BASE_OPEN = {"AAPL": 100.0, "MSFT": 200.0}


@pytest.fixture(scope="module")
def store_1s(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("store_1s")
    for symbol, base in BASE_OPEN.items():
        ks = np.array([k for k in range(STEPS) if not (symbol == "MSFT" and k == MSFT_NO_TRADES)], dtype=np.int64)
        opens = base + ks.astype(np.float64)
        write_bars(root, parse_interval("1s"), symbol,
                   BarArrays(DAY0 + ks * NS, opens, opens + 0.5, opens - 0.5, opens + 0.25, np.full(len(ks), 100.0)))
    return root


def live_config(path: Path, server: Server, store: Path, **live: object) -> Path:
    return live_session_config(path, server.ws_url, server.rest_url, store, session_name="live_test",
                               strategy="support.recording:LiveRecorder", **live)


@pytest.fixture
def creds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_LIVE_KEY", KEY)
    monkeypatch.setenv("TEST_LIVE_SECRET", SECRET)


def run_live(tmp_path: Path, store: Path, *server_args: str, **live: object):
    LIVE_RECORDS.clear()
    with run_server(store, "--interval", "1s", *server_args, log_dir=tmp_path) as server:
        config = load_session_config(live_config(tmp_path / "live.yaml", server, store, **live))
        result = run(config, tmp_path / "out")
    return result, list(LIVE_RECORDS)


def by_symbol(records: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in records:
        out.setdefault(r["symbol"], []).append(r)
    return out


def assert_in_order_without_loss(rows: list[dict], symbol: str, allowed_holes: frozenset[int] = frozenset()) -> None:
    starts = [r["start"] for r in rows]
    assert starts == sorted(set(starts)), f"{symbol}: bars out of order or repeated"
    ks = [round(r["open"] - BASE_OPEN[symbol]) for r in rows]
    for a, b in zip(ks, ks[1:]):
        holes = set(range(a + 1, b))
        assert b > a and holes <= allowed_holes, f"{symbol}: stored steps {sorted(holes)} never shown"
    # Restamping keeps the spacing: one stored step is one second.
    assert all((s2 - s1) == (k2 - k1) * NS for s1, s2, k1, k2 in zip(starts, starts[1:], ks, ks[1:]))


def window_end_of(rows: list[dict], k: int) -> int:
    """End of the 5s window holding stored step `k` (from a neighbour's start: k may be a hole)."""
    step = next(r for r in rows if round(r["open"] - BASE_OPEN[r["symbol"]]) in (k - 1, k + 1))
    start = step["start"] + (NS if round(step["open"] - BASE_OPEN[step["symbol"]]) == k - 1 else -NS)
    return start - start % (5 * NS) + 5 * NS  # 24/7: windows from midnight UTC


def window_built_over(rows: list[dict], symbol: str, k: int) -> bool:
    """True when the strategy was shown the 5s bar whose window holds stored step `k`."""
    end = window_end_of(rows, k)
    return any(r["derived_newest_end"] == end for r in rows)


def test_a_live_session_shows_every_bar_in_order_with_derived_bars_and_reports(tmp_path, store_1s, creds):
    result, records = run_live(tmp_path, store_1s, stop_after_seconds=9)  # holds a whole 5s window
    rows = by_symbol(records)
    assert len(rows["AAPL"]) >= 6
    assert_in_order_without_loss(rows["AAPL"], "AAPL")
    assert_in_order_without_loss(rows["MSFT"], "MSFT", frozenset({MSFT_NO_TRADES}))
    for r in records:  # no lookahead: nothing is shown before its interval is over
        assert r["now"] == r["start"] + NS and r["wall"] >= r["start"] + NS
        assert r["derived_newest_end"] is None or r["derived_newest_end"] <= r["now"]
    [session] = result.records
    live = session["quality"]["AAPL"]["live"]
    assert live["streamed_bars"] == len(rows["AAPL"]) and live["late_bars"] == 0
    assert session["quality"]["AAPL"]["quality_pct"] == 100.0
    assert session["bars"]["AAPL"]["5s"] >= 1
    assert session["clock"]["mode"] == "live"
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["feed"]["bars"] >= len(records)
    assert summary["metrics"]["stages"]["feed_to_strategy"]["count"] == summary["steps"]
    report = (tmp_path / "out" / "report.txt").read_text()
    assert "Mode: live" in report and "Socket to Strategy" in report
    assert KEY not in (tmp_path / "out" / "run.log").read_text() + report
    assert SECRET not in json.dumps(summary) + (tmp_path / "out" / "config.resolved.json").read_text()


def test_a_disconnect_mid_session_loses_and_repeats_no_bar(tmp_path, store_1s, creds):
    result, records = run_live(tmp_path, store_1s, "--disconnect-after", "2.5", stop_after_seconds=7)
    rows = by_symbol(records)
    assert_in_order_without_loss(rows["AAPL"], "AAPL")
    assert_in_order_without_loss(rows["MSFT"], "MSFT", frozenset({MSFT_NO_TRADES}))
    summary = result.summary
    assert summary["feed"]["reconnects"] == 1
    [session] = result.records
    for symbol in ("AAPL", "MSFT"):
        q = session["quality"][symbol]
        assert q["live"]["late_bars"] == 0 and q["live"]["unfilled_bars"] == 0
        assert q["quality_pct"] == 100.0, q


def test_a_dropped_bar_is_refetched_from_rest_and_a_minute_without_trades_is_not_a_gap(tmp_path, store_1s, creds):
    # AAPL's stored step 9 is never streamed; MSFT has no bar at step 7 at all (not in REST either).
    # No fill at grace (fill_wait_s: 0): the step goes out without AAPL 9, refetched after the decision.
    result, records = run_live(tmp_path, store_1s, "--drop", "AAPL:9", stop_after_seconds=11, fill_wait_s=0)
    rows = by_symbol(records)
    shown = {round(r["open"] - 100) for r in rows["AAPL"]}
    assert 9 not in shown and {8, 10} <= shown, "the run must have joined before step 8"
    assert_in_order_without_loss(rows["AAPL"], "AAPL", frozenset({9}))
    [session] = result.records
    aapl, msft = session["quality"]["AAPL"], session["quality"]["MSFT"]
    assert aapl["live"]["filled_bars"] == 1 and aapl["live"]["unfilled_bars"] == 0
    assert aapl["quality_pct"] == 100.0 and aapl["missing"] == 0
    assert aapl["present"] == aapl["live"]["streamed_bars"] + 1
    assert msft["live"]["no_trades"] == 1, msft
    assert msft["missing"] == 0 and msft["quality_pct"] == 100.0
    assert msft["expected"] == aapl["expected"] - 1
    # Complete now, not at decision: the headline says so, and the minute is named.
    assert aapl["live"]["seen_at_decision"] == aapl["expected"] - 1
    assert aapl["live"]["complete_at_decision_pct"] < 100.0 and aapl["live"]["filled_at_decision"] == 0
    minutes = aapl["live"]["minutes"]["1s"]
    [hole] = minutes["missing_at_decision"]
    assert minutes["filled_after_decision"] == [hole] and minutes["unfilled"] == []
    assert msft["live"]["minutes"]["1s"]["no_trades"] and msft["live"]["complete_at_decision_pct"] == 100.0
    assert not window_built_over(rows["AAPL"], "AAPL", 9)  # the strategy never got the 5s bar over the hole
    report = (tmp_path / "out" / "report.txt").read_text()
    assert "100.00% (at decision " in report and "Live: Complete at decision " in report
    assert f"filled after decision (REST): AAPL {hole}" in (tmp_path / "out" / "run.log").read_text()


def test_dropped_bars_are_filled_at_grace_so_the_strategy_decides_on_every_bar(tmp_path, store_1s, creds):
    # Issue 9 (1): stored steps 11 and 13 are never streamed, for both symbols (MSFT's n-th bar is
    # step n + 1 after its empty step 7), but REST has them. The fill at grace asks REST as soon
    # as each step's grace runs out: the strategy is shown every bar, the 5s bars over the holes
    # are built, and quality is complete at decision.
    drops = "AAPL:11,AAPL:13,MSFT:10,MSFT:12"
    result, records = run_live(tmp_path, store_1s, "--drop", drops, stop_after_seconds=22, fill_wait_s=1.5)
    rows = by_symbol(records)
    shown = {round(r["open"] - 100) for r in rows["AAPL"]}
    assert {10, 11, 12, 13, 14} <= shown, "the run must have joined before step 10"
    assert_in_order_without_loss(rows["AAPL"], "AAPL")
    assert_in_order_without_loss(rows["MSFT"], "MSFT", frozenset({MSFT_NO_TRADES}))
    for r in records:  # still no lookahead (how long a filled step waits is measured in verify/, not here)
        assert r["now"] == r["start"] + NS and r["wall"] >= r["start"] + NS
    [session] = result.records
    for symbol in ("AAPL", "MSFT"):
        q = session["quality"][symbol]
        live = q["live"]
        assert live["filled_at_decision"] == 2 and live["late_bars"] == 0 and live["filled_bars"] == 0, live
        assert live["complete_at_decision_pct"] == 100.0 and q["quality_pct"] == 100.0
        assert live["seen_at_decision"] == q["expected"] == q["present"]
        minutes = live["minutes"]["1s"]
        assert len(minutes["filled_at_decision"]) == 2 and minutes["missing_at_decision"] == []
    for symbol in ("AAPL", "MSFT"):
        for hole in (11, 13):
            # MSFT's window holding its empty step 7 is skipped by rule (as in a backtest of the store).
            if symbol == "AAPL" or window_end_of(rows["AAPL"], hole) != window_end_of(rows["AAPL"], MSFT_NO_TRADES):
                assert window_built_over(rows[symbol], symbol, hole), f"{symbol}: the 5s bar over {hole} was skipped"
    log_text = (tmp_path / "out" / "run.log").read_text()
    for stamp in session["quality"]["AAPL"]["live"]["minutes"]["1s"]["filled_at_decision"]:
        assert f"filled at decision: AAPL {stamp} (REST" in log_text  # ISO local time, not ns
    report = (tmp_path / "out" / "report.txt").read_text()
    assert "Live: Complete at decision 100.00%" in report and "(at decision" not in report


def test_a_bar_rest_is_too_slow_to_fill_at_grace_goes_out_without_and_is_recorded_after_decision(
        tmp_path, store_1s, creds):
    # REST answers 1 s late; the fill at grace waits 0.3 s: step 11 goes out without AAPL's bar,
    # which the gap filler brings after the decision. Complete now, not at decision.
    result, records = run_live(tmp_path, store_1s, "--drop", "AAPL:11", "--rest-delay", "1.0",
                               stop_after_seconds=15, fill_wait_s=0.3)
    rows = by_symbol(records)
    shown = {round(r["open"] - 100) for r in rows["AAPL"]}
    assert 11 not in shown and {10, 12} <= shown, "the run must have joined before step 10"
    assert_in_order_without_loss(rows["AAPL"], "AAPL", frozenset({11}))
    [step11] = [r for r in rows["MSFT"] if round(r["open"] - 200) == 11]
    # Held for grace 0.3 s + the bounded fill wait 0.3 s; that it did not wait for REST (1 s) is
    # shown by AAPL's bar missing from the step (no upper bound on wall time: the machine is shared).
    waited = (step11["wall"] - step11["now"]) / NS
    assert waited >= 0.55, waited
    [session] = result.records
    aapl = session["quality"]["AAPL"]
    live = aapl["live"]
    assert aapl["quality_pct"] == 100.0 and live["filled_bars"] == 1 and live["filled_at_decision"] == 0
    assert live["seen_at_decision"] == aapl["expected"] - 1 and live["complete_at_decision_pct"] < 100.0
    minutes = live["minutes"]["1s"]
    [hole] = minutes["missing_at_decision"]
    assert minutes["filled_after_decision"] == [hole]
    log_text = (tmp_path / "out" / "run.log").read_text()
    assert "fill at grace for AAPL" in log_text and f"missing at decision: AAPL {hole}" in log_text
    assert f"filled after decision (REST): AAPL {hole}" in log_text
    report = (tmp_path / "out" / "report.txt").read_text()
    assert "AAPL 1s (5s derived): 100.00% (at decision " in report, report


def test_a_malformed_message_is_logged_and_restatements_are_counted_and_the_session_goes_on(tmp_path, store_1s, creds):
    # --updated-bars restates every 10th bar half a second after its step was published.
    result, records = run_live(tmp_path, store_1s, "--malformed-after", "2", "--updated-bars", stop_after_seconds=8)
    assert result.summary["status"] == "completed" and result.summary["feed"]["malformed"] == 1
    assert "malformed frame" in (tmp_path / "out" / "run.log").read_text()
    rows = by_symbol(records)
    assert_in_order_without_loss(rows["AAPL"], "AAPL")
    assert_in_order_without_loss(rows["MSFT"], "MSFT", frozenset({MSFT_NO_TRADES}))
    assert len(rows["AAPL"]) >= 5
    [session] = result.records
    corrections = sum(session["quality"][s]["live"]["corrections"] for s in ("AAPL", "MSFT"))
    assert corrections >= 1 and result.summary["feed"]["updated_bars"] >= corrections
    assert session["data_quality"]["live"]["corrections"] == corrections
    assert "Corrections " + str(corrections) in (tmp_path / "out" / "report.txt").read_text()


def test_bad_credentials_end_the_run_with_a_clear_message_and_no_reconnect_loop(tmp_path, store_1s):
    with run_server(store_1s, "--interval", "1s", "--reject-auth", log_dir=tmp_path) as server:
        cfg = live_config(tmp_path / "live.yaml", server, store_1s, stop_after_seconds=30)
        with running_cli(str(cfg), "--output", str(tmp_path / "out"),
                         env_extra={"TEST_LIVE_KEY": "wrong", "TEST_LIVE_SECRET": "nope"}) as proc:
            _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert "check the API key and secret" in err  # REST (history) or the stream (402), whichever asks first
    assert "nope" not in err and "wrong" not in err
    log = (tmp_path / "out" / "run.log").read_text()
    # A refusal is final: no retry, no reconnect, no session streamed (alpaca-py re-dials ~300/s here).
    assert not any(word in log for word in ("retry", "reconnect", "connect attempt")), log
    assert json.loads((tmp_path / "out" / "sessions.json").read_text()) == []
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["status"] == "failed"


def test_sigint_during_a_live_session_ends_it_cleanly_with_its_report(tmp_path, store_1s):
    # Interrupted once the strategy has been shown four bars (two steps of AAPL and MSFT).
    with run_server(store_1s, "--interval", "1s", log_dir=tmp_path) as server:
        cfg = live_config(tmp_path / "live.yaml", server, store_1s, stop_after_seconds=None)
        text = yaml.safe_load(cfg.read_text())
        text["strategy"] = {"class": "support.scripted:LogsAtBar", "params": {"n": 4}}
        cfg.write_text(yaml.safe_dump(text, sort_keys=False))
        with running_cli(str(cfg), "--output", str(tmp_path / "out"),
                         env_extra={"TEST_LIVE_KEY": KEY, "TEST_LIVE_SECRET": SECRET}) as proc:
            wait_for_log(tmp_path / "out", proc, "LogsAtBar: bar 4 seen")  # the session is live, bars flow
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    sessions = json.loads((tmp_path / "out" / "sessions.json").read_text())
    assert len(sessions) == 1 and sessions[0]["bars"]["AAPL"]["1s"] >= 1
    assert sum(sessions[0]["bars"][symbol]["1s"] for symbol in ("AAPL", "MSFT")) >= 4  # what was shown is kept
    assert sessions[0]["quality"]["AAPL"]["live"]["streamed_bars"] >= 1
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["status"] == "interrupted"


def test_an_unknown_symbol_ends_the_run_with_a_clear_message(tmp_path, store_1s):
    with run_server(store_1s, "--interval", "1s", log_dir=tmp_path) as server:
        cfg = live_config(tmp_path / "live.yaml", server, store_1s)
        text = cfg.read_text().replace("- MSFT", "- NOPE")
        cfg.write_text(text)
        with running_cli(str(cfg), "--output", str(tmp_path / "out"),
                         env_extra={"TEST_LIVE_KEY": KEY, "TEST_LIVE_SECRET": SECRET}) as proc:
            _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert "unknown or badly formatted symbol" in err and "NOPE" in err
    assert "Traceback" not in err  # the message says what to do; run.log keeps the traceback
    assert "Traceback" in (tmp_path / "out" / "run.log").read_text()
    assert (tmp_path / "out" / "summary.json").exists()


def test_joining_a_session_late_puts_its_earlier_bars_in_history_so_indicators_start_warm(tmp_path, store_1s, creds):
    # 20 stored steps are already over when the server starts (REST has them); the run joins after.
    result, records = run_live(tmp_path, store_1s, "--history-steps", "20", stop_after_seconds=4)
    first = by_symbol(records)["AAPL"][0]
    k_first = round(first["open"] - 100)
    history = [round(o - 100) for o in first["history_opens"]]
    assert history == list(range(k_first)), "the session so far, in order, up to the first streamed bar"
    closes = [100 + k + 0.25 for k in (k_first - 2, k_first - 1, k_first)]
    assert first["sma"] == pytest.approx(sum(closes) / 3)  # warm at the first bar: two came from history
    [session] = result.records
    assert session["quality"]["AAPL"]["live"]["streamed_bars"] == len(by_symbol(records)["AAPL"])
