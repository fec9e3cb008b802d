"""report.txt as a trader reads it: the run's status first, then the run, then each session with
its trading facts before its data quality and one compact timings block."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from support.runs import cli, make_store, write_config


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return make_store(tmp_path_factory.mktemp("store"))


@pytest.fixture(scope="module")
def run(store, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    cfg = write_config(tmp / "s.yaml", store)
    proc = cli("-m", "app.backtest", str(cfg), "--output", str(tmp / "out"), "--timings")
    assert proc.returncode == 0, proc.stderr
    return proc, tmp / "out"


def _blocks(text: str) -> list[list[str]]:
    return [block.strip("\n").splitlines() for block in text.split("\n\n\n")]


def _sections(lines: list[str]) -> list[str]:
    return [line for line in lines if line.endswith(":") and not line.startswith((" ", "=", "Performance Metrics"))]


def test_report_txt_starts_with_the_status_then_the_run_then_each_session(run):
    _, out = run
    text = (out / "report.txt").read_text()
    sessions = json.loads((out / "sessions.json").read_text())

    blocks = _blocks(text)

    assert blocks[0][:2] == ["Run status: COMPLETED", "Performance Metrics Summary:"]
    assert _sections(blocks[0])[:3] == ["Run:", "Trading:", "Data Quality:"]
    assert [b[0] for b in blocks[1:]] == [
        f"Performance Metrics (Session): {s['date']}{' (early close)' if s['early_close'] else ''}"
        for s in sessions]
    for block in blocks[1:]:
        assert _sections(block) == ["Trading:", "Data Quality:", "Timings:"]


def test_each_session_shows_pnl_by_symbol_and_its_open_positions_with_mark_and_unrealised_pnl(run):
    _, out = run
    sessions = json.loads((out / "sessions.json").read_text())
    blocks = _blocks((out / "report.txt").read_text())[1:]
    held = 0
    for session, block in zip(sessions, blocks, strict=True):
        trading = session["trading"]
        assert sum(v["pnl"] for v in trading["by_symbol"].values()) == pytest.approx(trading["pnl"], abs=1e-6)
        assert sum(v["fills"] for v in trading["by_symbol"].values()) == trading["fills"]
        positions = [line for line in block if line.startswith("  - Open Positions: ")
                     or (line.startswith("      ") and "| Mark " in line)]
        if not trading["open_positions"]:
            assert positions == ["  - Open Positions: none"]
        for (symbol, p), line in zip(sorted(trading["open_positions"].items()), positions, strict=True):
            held += 1
            assert re.search(rf"{symbol} {p['quantity']:,} @ [\d,.]+ \| Mark {p['mark']:,.2f} "
                             rf"\| Unrealised P&L {p['unrealized_pnl']:,.2f}$", line), line
            assert p["unrealized_pnl"] == pytest.approx(p["quantity"] * (p["mark"] - p["avg_price"]))
    assert held, "the strategy should hold a position over some session's close"


def test_the_run_reports_its_open_positions_and_pnl_by_symbol(run):
    _, out = run
    summary = json.loads((out / "summary.json").read_text())
    sessions = json.loads((out / "sessions.json").read_text())
    trading = summary["trading"]

    assert sum(v["pnl"] for v in trading["by_symbol"].values()) == pytest.approx(trading["pnl"], abs=1e-6)
    assert summary["open_positions"] == sessions[-1]["trading"]["open_positions"]
    assert "backtest" in summary["metrics"] and "live" not in summary["metrics"]
    lines = (out / "report.txt").read_text().splitlines()
    assert f"  - Sharpe: n/a ({len(sessions)} days)" in lines


def test_timings_flag_prints_the_full_blocks_and_report_txt_stays_compact(run):
    proc, out = run
    text = (out / "report.txt").read_text()
    sessions = json.loads((out / "sessions.json").read_text())

    assert proc.stdout.count("Analysis Engine:\n  - Cycles: ") == len(sessions) + 1  # each session's and the run's
    assert text.count("Analysis Engine:\n  - Cycles: ") == 1  # the run report's
    assert "Timings:\n  - Analysis Engine: Cycles " in text
    assert all(len(block) <= 25 for block in _blocks(text)[1:])  # was about 45 lines a session


def test_a_failed_run_says_so_on_the_first_line_of_report_txt(store, tmp_path):
    cfg = write_config(tmp_path / "s.yaml", store,
                       strategy={"class": "support.recording:FailAtBar", "params": {"n": 1000}})

    proc = cli("-m", "app.backtest", str(cfg), "--output", str(tmp_path / "out"))

    assert proc.returncode == 1
    first = (tmp_path / "out" / "report.txt").read_text().splitlines()[0]
    assert first.startswith("Run status: FAILED"), first
