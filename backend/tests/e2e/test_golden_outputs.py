"""Outputs pinned by digest: performance work must not move a fill, an equity point or a figure.

The digests were recorded before the issue-7 data-path rewrite (commit "Pin demo and benchmark
outputs"). An intended change of a strategy's rules or of a report may re-pin them; say why in
the commit.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml
from support.golden import digests
from support.runs import REPO, cli

DEMO = {
    "fills.csv": "44b9c5c515fa46f9470385ac72576e235c975e630ccaaef6d8688699ee83edbd",
    "equity.csv": "480d86b8bace884d127b15439a64b5128c18be140d14d966ebfb9fbfdb1d0206",
    "report.txt": "a3f9f0e421a175cfe1ee19a8396b8acc714c49fb3f4359b608b5d80de77a0d28",
    "sessions.json": "1d4fd9b852e94ac540dc06300cdefe69ea11684d6dac04569612aaad223ad91b",
    "summary.json": "9bf7515e60867eb2d0d3402d77fc1e2f50678fe240adce5cff91a6389b324b32",
}

BENCH = {
    "fills.csv": "1679b895151e3238178f68b22c28878d6d010c26bfe85f3cba458942888119ef",
    "equity.csv": "65918e5c80926ebb71b902fef3fd9b1c3fe3b192ec0947bd019e5a3bb36f864c",
    "report.txt": "1a2c9b98ec4438ece89209b9ffff733564c817b68fe8845ee6f00706875b0765",
    "sessions.json": "6ccc6e0695709c75c54c6f4e4e512de7dfe44645317a683bb98ba565f82a3714",
    "summary.json": "713e7fc1ebec03a26719cad78588e8729a3fb164131b248112ffed27c80585c0",
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


@pytest.mark.slow
def test_demo_outputs_match_the_pinned_digests(tmp_path):
    store = tmp_path / "data" / "sample"
    proc = cli("-m", "app.data", "sample", "--store", str(store))
    assert proc.returncode == 0, proc.stderr
    cfg = yaml.safe_load((REPO / "session_configs" / "demo.yaml").read_text())
    cfg["data"]["store"] = str(store)
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(cfg))

    proc = cli("-m", "app.backtest", str(tmp_path / "demo.yaml"), "--output", str(tmp_path / "out"), "--quiet")

    assert proc.returncode == 0, proc.stderr
    assert digests(tmp_path / "out") == DEMO


@pytest.mark.slow
def test_benchmark_workload_outputs_match_the_pinned_digests(tmp_path):
    from app.data.sample import write_sample

    store = tmp_path / "store"
    write_sample(store, symbols=("BENCH",), start=date(2022, 12, 20), end=date(2023, 12, 31))
    cfg = _bench_config(tmp_path / "bench.yaml", store)

    proc = cli("-m", "app.backtest", str(cfg), "--output", str(tmp_path / "out"), "--quiet")

    assert proc.returncode == 0, proc.stderr
    assert digests(tmp_path / "out") == BENCH
