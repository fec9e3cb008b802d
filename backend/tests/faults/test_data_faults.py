"""Data faults through the real CLI: every one ends with the right exit code, one error line naming
the file, symbol or session, no traceback, and the run folder holds what the run got to.

The store holds AAPL and SPY 1m bars from 2024-06-24 to 2024-07-09 (sessions Jun 24 .. Jul 9; Jul 4
is a holiday, Jul 3 closes at 13:00).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support.runs import cli, make_store, write_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return make_store(tmp_path_factory.mktemp("store"))


def _copy(store: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(store, tmp_path / "store"))


def _run(cfg: Path, out: Path):
    return cli("-m", "app.backtest", str(cfg), "--output", str(out), "--quiet")


def _error_line(stderr: str) -> str:
    """The one ``error:`` line the CLI prints (and nothing that looks like a traceback or 1969)."""
    assert "Traceback" not in stderr, stderr
    assert "1969" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, stderr
    return lines[0]


def _outputs(out: Path) -> tuple[list[dict], dict, str]:
    """sessions.json, summary.json and report.txt of a run that got as far as starting its threads."""
    for name in ("report.txt", "summary.json", "sessions.json", "fills.csv", "equity.csv", "run.log"):
        assert (out / name).is_file(), name
    return (json.loads((out / "sessions.json").read_text()), json.loads((out / "summary.json").read_text()),
            (out / "report.txt").read_text())


# -- unreadable files: a data error, whatever data.on_missing says ----------------------------------

@pytest.mark.parametrize("on_missing", ["fail", "skip"])
def test_a_truncated_parquet_file_fails_naming_the_file_and_session(store, tmp_path, on_missing):
    # Arrange: the last half of SPY's file (its footer) cut off
    root = _copy(store, tmp_path)
    path = root / "1m" / "SPY.parquet"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    cfg = write_config(tmp_path / "c.yaml", root, data={"store": str(root), "on_missing": on_missing})

    # Act
    proc = _run(cfg, tmp_path / "out")

    # Assert
    assert proc.returncode == 1, proc.stderr
    line = _error_line(proc.stderr)
    assert line.startswith("error: SessionCoordinator failed (session 2024-07-01): DataError: "), line
    assert f"{path}: expected a readable Parquet file, received an error: " in line
    sessions, summary, _ = _outputs(tmp_path / "out")
    assert sessions == [] and summary["status"] == "failed"
    assert f"partial report written to {tmp_path / 'out'}" in proc.stderr


def test_an_empty_file_fails_naming_the_file(store, tmp_path):
    # Arrange: a 0-byte AAPL file (an interrupted copy)
    root = _copy(store, tmp_path)
    path = root / "1m" / "AAPL.parquet"
    path.write_bytes(b"")
    cfg = write_config(tmp_path / "c.yaml", root)

    # Act
    proc = _run(cfg, tmp_path / "out")

    # Assert
    assert proc.returncode == 1, proc.stderr
    line = _error_line(proc.stderr)
    assert line.startswith("error: SessionCoordinator failed (session 2024-07-01): DataError: "), line
    assert line.endswith(f"{path}: expected a readable Parquet file, received an error: Parquet file size is 0 bytes")
    _outputs(tmp_path / "out")


def test_a_missing_store_fails_before_the_run_naming_the_folder(tmp_path):
    # Arrange
    cfg = write_config(tmp_path / "c.yaml", tmp_path / "nowhere")

    # Act
    proc = _run(cfg, tmp_path / "out")

    # Assert: nothing ran, so there is no report; the config copy and the log are there
    assert proc.returncode == 1, proc.stderr
    line = _error_line(proc.stderr)
    assert line == (f"error: {tmp_path / 'nowhere'}: bar store folder does not exist; create sample data with "
                    f"`python -m app.data sample --store {tmp_path / 'nowhere'}`")
    assert (tmp_path / "out" / "config.yaml").is_file()
    assert not (tmp_path / "out" / "report.txt").exists()


def test_a_missing_symbol_file_fails_before_the_run_naming_the_symbol_and_file(store, tmp_path):
    # Arrange
    root = _copy(store, tmp_path)
    (root / "1m" / "SPY.parquet").unlink()
    cfg = write_config(tmp_path / "c.yaml", root)

    # Act
    proc = _run(cfg, tmp_path / "out")

    # Assert
    assert proc.returncode == 1, proc.stderr
    line = _error_line(proc.stderr)
    assert line.startswith(f"error: {root} (SPY): no 1m bars for SPY (expected {root}/1m/SPY.parquet); "), line


# -- no base bars in a session: data.on_missing -----------------------------------------------------

def test_a_zero_row_parquet_file_fails_by_default_naming_symbol_session_and_file(store, tmp_path):
    # Arrange: AAPL's file is valid Parquet with no rows
    from app.store.bar import empty_bars, parse_interval
    from app.store.files import write_bars

    root = _copy(store, tmp_path)
    write_bars(root, parse_interval("1m"), "AAPL", empty_bars())
    cfg = write_config(tmp_path / "c.yaml", root)

    # Act
    proc = _run(cfg, tmp_path / "out")

    # Assert
    assert proc.returncode == 1, proc.stderr
    line = _error_line(proc.stderr)
    assert line == ("error: SessionCoordinator failed (session 2024-07-01): MissingDataError: no 1m bars for AAPL in "
                    f"session 2024-07-01: {root}/1m/AAPL.parquet has no rows; set data.on_missing to skip or warn "
                    "to run without them")
    sessions, summary, _ = _outputs(tmp_path / "out")
    assert sessions == [] and summary["status"] == "failed"


def test_a_date_range_past_the_store_fails_at_the_first_session_without_bars(store, tmp_path):
    # Arrange: Jul 8 and 9 are stored, Jul 10..12 are not
    cfg = write_config(tmp_path / "c.yaml", store, backtest={"start_date": "2024-07-08", "end_date": "2024-07-12"})

    # Act
    proc = _run(cfg, tmp_path / "out")

    # Assert: the sessions before it are reported
    assert proc.returncode == 1, proc.stderr
    line = _error_line(proc.stderr)
    assert "(session 2024-07-10): MissingDataError: no 1m bars for AAPL in session 2024-07-10: " in line, line
    assert f"{store}/1m/AAPL.parquet holds 4,084 bars from 2024-06-24 to 2024-07-09;" in line
    sessions, summary, report = _outputs(tmp_path / "out")
    assert [s["date"] for s in sessions] == ["2024-07-08", "2024-07-09"]
    assert summary["status"] == "failed"
    assert "Performance Metrics (Session): 2024-07-09" in report


def test_on_missing_skip_leaves_the_symbol_out_logs_and_reports_it(store, tmp_path):
    # Arrange
    cfg = write_config(tmp_path / "c.yaml", store, backtest={"start_date": "2024-07-08", "end_date": "2024-07-10"},
                       data={"store": str(store), "on_missing": "skip"})

    # Act
    proc = _run(cfg, tmp_path / "out")

    # Assert: a warning on stderr and in run.log; the session is run, AAPL and SPY unscored
    assert proc.returncode == 0, proc.stderr
    warning = (f"no 1m bars for AAPL in session 2024-07-10: {store}/1m/AAPL.parquet holds 4,084 bars from "
               "2024-06-24 to 2024-07-09; left out of the session (data.on_missing: skip)")
    assert f"WARNING [SessionCoordinator] {warning}" in proc.stderr
    assert warning in (tmp_path / "out" / "run.log").read_text()
    sessions, _, report = _outputs(tmp_path / "out")
    last = sessions[-1]
    assert last["date"] == "2024-07-10" and last["bars"]["AAPL"]["1m"] == 0
    assert last["quality"]["AAPL"]["no_bars"]["policy"] == "skip"
    assert last["quality"]["AAPL"]["expected"] == 0 and last["quality"]["AAPL"]["quality_pct"] == 100.0
    assert last["data_quality"]["series"] == {}
    assert ("  - Warning: AAPL 1m: no bars, left out of the session (data.on_missing: skip); "
            f"{store}/1m/AAPL.parquet holds 4,084 bars from 2024-06-24 to 2024-07-09") in report.splitlines()
    assert "no_bars" not in sessions[0]["quality"]["AAPL"]


def test_on_missing_warn_keeps_the_symbol_with_every_bar_missing(store, tmp_path):
    # Arrange
    cfg = write_config(tmp_path / "c.yaml", store, backtest={"start_date": "2024-07-09", "end_date": "2024-07-10"},
                       data={"store": str(store), "on_missing": "warn"})

    # Act
    proc = _run(cfg, tmp_path / "out")

    # Assert
    assert proc.returncode == 0, proc.stderr
    assert "its bars count as missing (data.on_missing: warn)" in (tmp_path / "out" / "run.log").read_text()
    sessions, _, report = _outputs(tmp_path / "out")
    q = sessions[-1]["quality"]["SPY"]
    assert (q["expected"], q["present"], q["quality_pct"]) == (390, 0, 0.0)
    assert sessions[-1]["data_quality"]["series"]["SPY"]["1m"]["missing_bars"] == 390
    assert "  - Warning: SPY 1m: no bars, every bar counted as missing (data.on_missing: warn); " in report


# -- trailing history ---------------------------------------------------------------------------------

def test_missing_trailing_history_is_reported_in_run_log_records_and_report(store, tmp_path):
    # Arrange: 5 trailing days asked for; the store starts the day before the first session
    cfg = write_config(tmp_path / "c.yaml", store, backtest={"start_date": "2024-06-25", "end_date": "2024-06-26"},
                       historical={"data": [{"trailing_days": 5, "intervals": ["1m"]}]})

    # Act
    proc = _run(cfg, tmp_path / "out")

    # Assert: the run goes on (exit 0), and says what it lacked, session by session
    assert proc.returncode == 0, proc.stderr
    log = (tmp_path / "out" / "run.log").read_text()
    assert "history shortfall before session 2024-06-25: AAPL 1m has 1 of 5 trailing days (" in log
    assert "history shortfall before session 2024-06-26: AAPL 1m has 2 of 5 trailing days (" in log
    sessions, _, report = _outputs(tmp_path / "out")
    short = sessions[0]["quality"]["AAPL"]["history_shortfall"]["1m"]
    assert (short["days_expected"], short["days_found"], short["bars_expected"]) == (5, 1, 1950)
    assert 0 < short["bars_found"] <= 390
    assert f"  - Warning: AAPL 1m history: 1 of 5 trailing days ({short['bars_found']:,} of 1,950 bars)" in report


# -- run.log holds the session starts; the console does not -------------------------------------------

def test_each_session_start_is_logged_in_run_log_only(store, tmp_path):
    # Arrange
    cfg = write_config(tmp_path / "c.yaml", store)

    # Act
    proc = _run(cfg, tmp_path / "out")

    # Assert
    assert proc.returncode == 0, proc.stderr
    log = (tmp_path / "out" / "run.log").read_text()
    assert "INFO [SessionCoordinator] app.threads.coordinator: session 2024-07-01 started: 2 symbols, open 09:30, " \
           "close 16:00 America/New_York" in log
    assert "session 2024-07-03 started: 2 symbols, open 09:30, close 13:00 America/New_York (early close)" in log
    assert log.count(" started: ") == 4
    assert "started" not in proc.stderr
