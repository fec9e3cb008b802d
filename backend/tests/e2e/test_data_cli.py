"""End to end: `python -m app.data` in a subprocess (sample, info, import; exit codes and stderr)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BACKEND = Path(__file__).resolve().parents[2]
TIMEOUT_S = 60


def _data_cli(*argv, cwd):
    env = {**os.environ, "PYTHONPATH": str(BACKEND)}
    return subprocess.run(
        [sys.executable, "-m", "app.data", *map(str, argv)],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=TIMEOUT_S, check=False,
    )


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory):
    store = tmp_path_factory.mktemp("e2e") / "store"
    run = _data_cli("sample", "--store", store, "--start", "2024-11-27", "--end", "2024-12-02", cwd=store.parent)
    return store, run


def test_sample_writes_files_and_readme(sample_store):
    store, run = sample_store
    assert (run.returncode, run.stderr) == (0, "")
    # Nov 27 + the Nov 29 early close + Dec 2, minus a hole and a single in November and a hole in December.
    assert run.stdout.startswith(f"wrote {3 * (390 + 210 + 390 - 21):,} synthetic 1m bars of AAPL, MSFT, SPY (3 XNYS sessions")
    for interval in ("1m", "1d"):
        assert sorted(p.name for p in (store / interval).iterdir()) == ["AAPL.parquet", "MSFT.parquet", "SPY.parquet"]
    assert (store / "README.txt").read_text().startswith("SYNTHETIC DATA")


def test_info_lists_one_line_per_file(sample_store):
    store, _ = sample_store
    run = _data_cli("info", "--store", store, cwd=store.parent)
    assert (run.returncode, run.stderr) == (0, "")
    lines = run.stdout.splitlines()
    assert [line.split()[:3] for line in lines] == [
        ["1m", "AAPL", "969"], ["1m", "MSFT", "969"], ["1m", "SPY", "969"],
        ["1d", "AAPL", "3"], ["1d", "MSFT", "3"], ["1d", "SPY", "3"],
    ]
    assert lines[3].endswith("2024-11-27T14:30:00Z .. 2024-12-02T14:30:00Z")


def test_import_reports_rejects_and_refuses_a_second_plain_import(tmp_path):
    # Arrange: line 3 has high < low, line 4 is a duplicate of line 2.
    source = tmp_path / "bars.csv"
    source.write_text(
        "Date,Open,High,Low,Close,Volume\n"
        "2024-01-02 09:30:00,10,11,9,10.5,100\n"
        "2024-01-02 09:31:00,10,9,11,10.5,100\n"
        "2024-01-02 09:30:00,10,11,9,10.5,100\n"
        "2024-01-02 09:32:00,10,11,9,10.5,100\n"
    )
    args = ["import", source, "--symbol", "MSFT", "--interval", "1m", "--store", tmp_path / "s", "--tz", "America/New_York"]
    # Act
    first = _data_cli(*args, cwd=tmp_path)
    second = _data_cli(*args, cwd=tmp_path)
    # Assert
    target = tmp_path / "s" / "1m" / "MSFT.parquet"
    assert (first.returncode, first.stderr) == (0, "")
    assert first.stdout == (
        f"imported 2 bars into {target}; rejected 2 (HIGH_BELOW_LOW: 1, DUPLICATE: 1); first bad line 3: "
        f"HIGH_BELOW_LOW; rejected rows written to {tmp_path / 's' / '1m' / 'MSFT.rejected.csv'}\n"
    )
    assert (second.returncode, second.stdout) == (1, "")
    assert second.stderr == f"error: {target}: already exists; pass --merge to add these bars or --replace to overwrite it\n"


def test_bad_usage_exits_2_with_one_line_and_no_traceback(tmp_path):
    run = _data_cli("import", tmp_path / "x.csv", "--symbol", "AAPL", "--interval", "5x", "--store", tmp_path, cwd=tmp_path)
    assert (run.returncode, run.stdout) == (2, "")
    assert run.stderr == "error: --interval: expected an interval like '1s', '1m', '5m', '1h' or '1d', received '5x'\n"


def test_missing_store_exits_1(tmp_path):
    run = _data_cli("info", "--store", tmp_path / "none", cwd=tmp_path)
    assert (run.returncode, run.stdout) == (1, "")
    assert run.stderr == f"error: {tmp_path / 'none'}: expected a store folder, received a missing path\n"


def test_one_second_sample_on_the_24_7_calendar(tmp_path):
    run = _data_cli(
        "sample", "--store", tmp_path, "--symbols", "BTCUSD", "--interval", "1s", "--calendar", "24/7",
        "--start", "2024-03-10", "--end", "2024-03-10", "--no-gaps", cwd=tmp_path,
    )
    assert (run.returncode, run.stderr) == (0, "")
    assert run.stdout.startswith("wrote 86,400 synthetic 1s bars of BTCUSD (1 24/7 sessions 2024-03-10..2024-03-10, 0 gaps")
