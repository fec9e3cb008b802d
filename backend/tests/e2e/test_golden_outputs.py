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
    "report.txt": "4b0bcd5aa1ccd9f1951e127cdfe4f4392c92b085f938926c2c1a742fa0fdaf2d",
    "sessions.json": "2c011f455908d137abefb8e128f3b8fba7037bd481ff1d4a9999619e87743c14",
    "summary.json": "c8a4bec081c81d633f833339719349a30472a6e4677b42badfd3977028b626db",
}

BENCH = {
    "fills.csv": "1679b895151e3238178f68b22c28878d6d010c26bfe85f3cba458942888119ef",
    "equity.csv": "65918e5c80926ebb71b902fef3fd9b1c3fe3b192ec0947bd019e5a3bb36f864c",
    "report.txt": "8870e5f493021533256a505555992f3e2023e1c9b2e433b29b2ad832515e5cfb",
    "sessions.json": "59f1e43e9ab50b35f229b76bb0b4f5ac1676a771f868054c8ecc79cd96c2c915",
    "summary.json": "2388003d42efdf4e1bdbbf413398afb7c87842d8974e25558b24bed412000092",
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
