"""Outputs pinned by digest: performance work must not move a fill, an equity point or a figure.

The digests were recorded before the issue-7 data-path rewrite (commit "Pin demo and benchmark
outputs"). An intended change of a strategy's rules or of a report may re-pin them; say why in
the commit.
"""

from __future__ import annotations

import json

from datetime import date
from pathlib import Path

import pytest
import yaml
from support.golden import digests
from support.runs import REPO, cli

DEMO = {
    "fills.csv": "d46087d59b751ec524de0b6230a846da630c6341a3b58412d18df773f9867ff5",
    "equity.csv": "ea907fdc73b384232a398debe449a64a6023bc1c2078d95ef4fa2f327122c68c",
    "report.txt": "f095296f47978baecd4d84f06777ffe6ae49653605e46150bd667655e75374ff",
    "sessions.json": "5d47c08aab2dcdf884def4c97bdfb77c4bf923b5cb49f353ff6c374f05f04c17",
    "summary.json": "5a7ee0bbef386691bd7e38beeaffeb2f883fdeabaadabaf4b4492d9ebf032358",
}

BENCH = {
    "fills.csv": "9418aa9833b27331f6638ae7fc148a4b269633e192027e84d3063dda6143574a",
    "equity.csv": "c2483b7a9fc955654fae17c3d956ddc2e1508c1024d3fae4419caddbdadd7ca2",
    "report.txt": "4f16c1a91334ac2c77696995f66bf82a9b5a8fe8f425bba8e2a5d5e3ce82509b",
    "sessions.json": "780817e576b05f25a6cde57ba302af379e8b61447afca87e048f218fb6fc4e2f",
    "summary.json": "ce3eade58c58ede778603026049cd52ca4a24ba97003981c6377d5d8fefe9bc1",
}


def _bench_config(path: Path, store: Path) -> Path:
    """The issue-7 workload: one symbol, 2023 of 1m bars, SMA 10/30, base stream only, 1 trailing day."""
    path.write_text(yaml.safe_dump({
        "session_name": "bench",
        "mode": "backtest",
        "backtest": {"start_date": "2023-01-01", "end_date": "2023-12-31", "speed_multiplier": 0},
        "symbols": ["BENCH"],
        "streams": ["1m"],
        "historical": {"data": [{"trailing_days": 1, "intervals": ["1m"]}]},
        "data": {"store": str(store)},
        "strategy": {"class": "app.strategies.sma_cross:SmaCross",
                     "params": {"fast": 10, "slow": 30, "quantity": 10}},
        "trading": {"starting_cash": 100000, "max_per_trade": 50000, "max_per_symbol": 50000,
                    "max_open_positions": 1, "commission_per_share": 0.005, "slippage_bps": 1},
    }))
    return path


# Both ways of writing the files: the output writer process (--outputs process; 'auto' picks it
# when a core looks free) and this process after the run (--outputs inline).
WAYS = pytest.mark.parametrize("way", [["--outputs", "process"], ["--outputs", "inline"]], ids=["writer-process", "inline"])


@pytest.mark.slow
@WAYS
def test_demo_outputs_match_the_pinned_digests(tmp_path, way):
    store = tmp_path / "data" / "sample"
    proc = cli("-m", "app.data", "sample", "--store", str(store))
    assert proc.returncode == 0, proc.stderr
    cfg = yaml.safe_load((REPO / "session_configs" / "demo.yaml").read_text())
    cfg["data"]["store"] = str(store)
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(cfg))

    proc = cli("-m", "app.backtest", str(tmp_path / "demo.yaml"), "--output", str(tmp_path / "out"), "--quiet", *way)

    assert proc.returncode == 0, proc.stderr
    assert digests(tmp_path / "out") == DEMO
    _assert_written_by(tmp_path / "out", way)


@pytest.mark.slow
@WAYS
def test_benchmark_workload_outputs_match_the_pinned_digests(tmp_path, way):
    from app.data.sample import write_sample

    store = tmp_path / "store"
    write_sample(store, symbols=("BENCH",), start=date(2022, 12, 20), end=date(2023, 12, 31))
    cfg = _bench_config(tmp_path / "bench.yaml", store)

    proc = cli("-m", "app.backtest", str(cfg), "--output", str(tmp_path / "out"), "--quiet", *way)

    assert proc.returncode == 0, proc.stderr
    assert digests(tmp_path / "out") == BENCH
    _assert_written_by(tmp_path / "out", way)


def _assert_written_by(out: Path, way: list[str]) -> None:
    # The writer process reports its CPU and memory in the summary; an inline run does not.
    process = json.loads((out / "summary.json").read_text())["metrics"]["process"]
    assert ("writer" in process) == (way[-1] == "process")
