"""python -m app.sweep end to end, on real Dask clusters (worker processes), through the CLI in a subprocess."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from support.runs import BACKEND, REPO, cli, make_store, write_config

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FIGURES = ("total_return_pct", "sharpe", "max_drawdown_pct", "trades", "win_rate_pct", "profit_factor", "pnl",
           "final_equity", "fills", "sessions", "bars_processed")
THREE_SESSIONS = {"start_date": "2024-07-01", "end_date": "2024-07-03", "speed_multiplier": 0}
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(BACKEND), str(BACKEND / "tests")])}


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return make_store(tmp_path_factory.mktemp("sweep-store"), symbols=("AAPL", "SPY"),
                      start=date(2024, 6, 26), end=date(2024, 7, 5))


def _sweep_file(folder: Path, store: Path, body: str, **base) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_config(folder / "base.yaml", store, backtest=THREE_SESSIONS, **base)
    path = folder / "sweep.yaml"
    path.write_text("sweep:\n  base_config: base.yaml\n" + textwrap.dedent(body))
    return path


def _results(out: Path) -> pd.DataFrame:
    frame = pd.read_parquet(out / "results.parquet")
    csv = pd.read_csv(out / "results.csv")
    assert list(csv["run_id"]) == list(frame["run_id"]) and list(csv.columns) == list(frame.columns)
    return frame


def _clean(stderr: str) -> None:
    assert "Traceback" not in stderr and "Warning" not in stderr and "distributed." not in stderr, stderr


def test_each_row_equals_a_backtest_run_alone_and_a_bad_param_set_is_a_failed_row(store, tmp_path):
    sweep = _sweep_file(tmp_path, store, "params:\n  grid: {fast: [5, 8, 25], slow: [20]}\n")
    out = tmp_path / "out"

    proc = cli("-m", "app.sweep", str(sweep), "--workers", "2", "--output", str(out), "--keep-runs", "--quiet")

    assert proc.returncode == 0, proc.stderr
    _clean(proc.stderr)
    rows = _results(out).set_index("param.fast")
    assert rows.loc[25, "status"] == "failed" and math.isnan(rows.loc[25, "sharpe"])
    assert "expected 1 <= fast < slow, received fast=25, slow=20" in rows.loc[25, "error"]
    assert list(rows["rank"].dropna()) == [1, 2]  # the two completed runs, ranked by sharpe
    for fast in (5, 8):
        alone = write_config(tmp_path / f"alone-{fast}.yaml", store, backtest=THREE_SESSIONS, strategy={
            "class": "app.strategies.sma_cross:SmaCross", "params": {"fast": fast, "slow": 20, "quantity": 10}})
        run = cli("-m", "app.backtest", str(alone), "--output", str(tmp_path / f"alone-{fast}"), "--quiet")
        assert run.returncode == 0, run.stderr
        summary = json.loads((tmp_path / f"alone-{fast}" / "summary.json").read_text())
        expected = {**summary["trading"], "sessions": summary["sessions"], "bars_processed": summary["bars_processed"]}
        row = rows.loc[fast]
        assert row["status"] == "completed" and row["error"] == ""
        assert {f: row[f] for f in FIGURES} == {f: expected[f] for f in FIGURES}
        kept = json.loads((Path(row["run_dir"]) / "summary.json").read_text())
        assert kept["trading"] == summary["trading"]
    meta = json.loads((out / "sweep.json").read_text())
    assert (meta["metric"], meta["ascending"], meta["params"], meta["walk_forward"]) == ("sharpe", False,
                                                                                         ["fast", "slow"], False)
    assert (meta["status"], meta["runs"], meta["completed"], meta["failed"]) == ("completed", 3, 2, 1)
    assert not (out / ".scratch").exists()


# -- an existing cluster, by address ------------------------------------------------------------------

CLUSTER = """\
import logging, sys
from distributed import LocalCluster
if __name__ == "__main__":
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.CRITICAL) as cluster:
        print(cluster.scheduler_address, flush=True)
        sys.stdin.read()  # until the test closes stdin
"""


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory) -> Iterator[str]:
    """A LocalCluster started in its own process; its address is what the sweeps get."""
    script = tmp_path_factory.mktemp("cluster") / "cluster.py"
    script.write_text(CLUSTER)
    proc = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        address = proc.stdout.readline().strip()
        assert address.startswith("tcp://"), proc.stderr.read()
        yield address
    finally:
        proc.stdin.close()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()


def test_a_strategy_exception_is_a_row_with_its_error_on_a_cluster_given_by_address(store, tmp_path, scheduler):
    sweep = _sweep_file(tmp_path, store, "params:\n  grid: {n: [100000, 30]}\n",
                        strategy={"class": "support.recording:FailAtBar", "params": {"n": 100}})
    out = tmp_path / "out"

    proc = cli("-m", "app.sweep", str(sweep), "--scheduler", scheduler, "--output", str(out), "--quiet")

    assert proc.returncode == 0, proc.stderr
    _clean(proc.stderr)
    rows = _results(out).set_index("param.n")
    assert rows.loc[100000, "status"] == "completed" and rows.loc[100000, "bars_processed"] > 0
    assert rows.loc[30, "status"] == "failed"
    assert "AnalysisEngine failed" in rows.loc[30, "error"] and "ZeroDivisionError" in rows.loc[30, "error"]
    meta = json.loads((out / "sweep.json").read_text())
    assert meta["cluster"] == f"scheduler {scheduler}"


def test_walk_forward_tests_each_window_with_the_params_best_on_its_train_span(store, tmp_path, scheduler):
    # 4 sessions (07-01, 02, 03, 05): train 2 + test 1, step 1 -> 2 windows.
    sweep = _sweep_file(tmp_path, store, """\
        params:
          grid: {fast: [3, 5, 8], slow: [20]}
        walk_forward: {start: 2024-07-01, end: 2024-07-05, train_sessions: 2, test_sessions: 1, step_sessions: 1}
    """)
    out = tmp_path / "out"

    proc = cli("-m", "app.sweep", str(sweep), "--scheduler", scheduler, "--output", str(out), "--quiet")

    assert proc.returncode == 0, proc.stderr
    rows = _results(out)
    windows = pd.read_parquet(out / "walk_forward.parquet")
    assert len(windows) == 2 and len(rows) == 3 * 2 + 2
    for _, w in windows.iterrows():
        train = rows[(rows["window"] == w["window"]) & (rows["phase"] == "train")]
        best = train.sort_values(["sharpe", "param_set"], ascending=[False, True]).iloc[0]
        test = rows[(rows["window"] == w["window"]) & (rows["phase"] == "test")].iloc[0]
        assert (w["chosen_run"], w["train_sharpe"], w["param.fast"]) == (best["run_id"], best["sharpe"],
                                                                         best["param.fast"])
        assert (test["param.fast"], test["start_date"], test["end_date"]) == (best["param.fast"], w["test_start"],
                                                                             w["test_end"])
        assert (w["test_sharpe"], w["test_run"], w["status"]) == (test["sharpe"], test["run_id"], "completed")
    assert list(windows["test_start"]) == ["2024-07-03", "2024-07-05"]
    assert json.loads((out / "sweep.json").read_text())["walk_forward"] is True


# -- Ctrl-C ----------------------------------------------------------------------------------------------

def test_ctrl_c_cancels_the_pending_runs_and_writes_what_finished(store, tmp_path):
    sweep = _sweep_file(tmp_path, store, "params:\n  grid: {fast: [3, 4, 5, 6, 7, 8], slow: [20]}\n",
                        strategy={"class": "support.faulty:SlowSessions", "params": {"pause_s": 0.3}})
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "app.sweep", str(sweep), "--workers", "1", "--output", str(out),
                             "--quiet"], cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        log, deadline = out / "sweep.log", time.monotonic() + 60
        while not (log.exists() and " completed" in log.read_text()):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no run completed in 60 s"
            time.sleep(0.05)

        os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

    assert proc.returncode == 130, stderr
    _clean(stderr)
    assert "interrupted;" in stderr and "cancelled runs are rows with status cancelled" in stderr
    rows = _results(out)
    assert len(rows) == 6
    status = rows["status"].value_counts().to_dict()
    assert status.get("completed", 0) >= 1 and status.get("cancelled", 0) >= 1, status
    assert set(status) <= {"completed", "cancelled"}
    assert json.loads((out / "sweep.json").read_text())["status"] == "interrupted"
