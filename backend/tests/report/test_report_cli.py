"""python -m app.report: a run's report regenerated from its files, --compare, and one-line errors (exit 2)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from report_support import Runs, run_cli
from support.runs import running_cli, wait_for_log, write_config

pytestmark = pytest.mark.e2e


def test_every_run_writes_report_html_and_the_cli_rewrites_it_from_the_files(runs: Runs, tmp_path: Path):
    for run_dir in (runs.a, runs.b, runs.failed):
        page = (run_dir / "report.html").read_text(encoding="utf-8")
        assert page.startswith("<!DOCTYPE html>") and "Plotly.newPlot" in page
        assert "report.html written in" in (run_dir / "run.log").read_text(encoding="utf-8")
    status = json.loads((runs.failed / "summary.json").read_text())["status"]
    assert status == "failed" and 'class="status st-failed"' in (runs.failed / "report.html").read_text()

    out = tmp_path / "again.html"
    result = run_cli("-m", "app.report", str(runs.a), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    assert out.read_text(encoding="utf-8").count('data-chart="') >= 6
    # The run drew its equity from what it held, not from equity.csv read back: the same page.
    assert out.read_bytes() == (runs.a / "report.html").read_bytes()


def test_the_default_output_is_the_run_folder(runs: Runs, tmp_path: Path):
    (runs.b / "report.html").unlink()
    result = run_cli("-m", "app.report", str(runs.b))
    assert result.returncode == 0, result.stderr
    assert (runs.b / "report.html").is_file()


def test_compare_writes_one_page_with_both_runs(runs: Runs, tmp_path: Path):
    result = run_cli("-m", "app.report", "--compare", str(runs.a), str(runs.b), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    page = Path(tmp_path / result.stdout.strip()).read_text(encoding="utf-8")
    assert "Run comparison" in page and "Fills that differ" in page and str(runs.b) in page


@pytest.mark.parametrize(("make", "expected"), [
    (lambda d: d / "missing", "not found; expected a run folder"),
    (lambda d: (d / "file.txt").write_text("x") and d / "file.txt", "not a folder; expected a run folder"),
    (lambda d: d, "no summary.json; expected a run folder"),
    (lambda d: (d / "summary.json").write_text("{oops") and d, "summary.json: not valid JSON"),
    (lambda d: (d / "summary.json").write_text("[1, 2]") and d, "summary.json: no 'status'"),
], ids=["missing", "a file", "no summary", "bad json", "not a run summary"])
def test_a_folder_that_is_not_a_run_is_one_line_and_exit_2(tmp_path: Path, make, expected: str):
    target = make(tmp_path)
    compare = ("--compare", str(target), str(target))
    for args in ((str(target),), *((compare,) if expected.startswith("no summary") else ())):
        result = run_cli("-m", "app.report", *args, cwd=tmp_path)
        assert result.returncode == 2
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("python -m app.report: error: ") and expected in line and str(target) in line
        assert "Traceback" not in result.stderr and not (tmp_path / "report.html").exists()


@pytest.mark.parametrize("args", [(), ("a", "--compare", "b", "c"), ("--compare", "only_one")],
                         ids=["nothing", "both", "compare one"])
def test_usage_errors_exit_2(tmp_path: Path, args: tuple[str, ...]):
    result = run_cli("-m", "app.report", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: python -m app.report") and "Traceback" not in result.stderr


def test_a_killed_run_gets_its_report_from_recover(runs: Runs, tmp_path: Path):
    # A run killed (SIGKILL) after its first sessions; --recover finishes its files, report.html last.
    cfg = write_config(tmp_path / "slow.yaml", runs.store, session_name="report_killed",
                       strategy={"class": "support.faulty:SlowSessions",
                                 "params": {"fast": 5, "slow": 20, "quantity": 10, "pause_s": 0.5}})
    out = tmp_path / "out"
    with running_cli(str(cfg), "--output", str(out), "--quiet") as proc:
        wait_for_log(out, proc, "session 2024-07-01 ended")  # 3 sessions, 1.5 s of pauses, to go
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert not (out / "report.html").exists()
    result = run_cli("-m", "app.backtest", "--recover", str(out))
    assert result.returncode == 0, result.stderr
    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'class="status st-killed"' in page and "recovered the" in page
    assert 'data-chart="equity"' in page and 'data-chart="quality"' in page
