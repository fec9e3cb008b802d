"""Sweep files: every mistake is one located line naming the field; the shipped demo loads and plans."""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import pytest
from support.runs import REPO, cli, write_config

from app.errors import ConfigError
from app.sweep.prepare import prepare
from app.sweep.spec import load_sweep_spec, parse_sweep_spec

pytestmark = pytest.mark.unit

BASE = "sweep:\n  base_config: base.yaml\n"


def _parse(text: str, tmp_path: Path | None = None):
    return parse_sweep_spec(textwrap.dedent(text), "s.yaml", tmp_path or Path("/configs"))


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as e:
        _parse(text)
    message = str(e.value)
    assert "\n" not in message
    return message


def test_a_full_sweep_file_reads_into_its_spec():
    spec = _parse("""\
        sweep: {name: s1, base_config: ../b.yaml, metric: max_drawdown_pct, workers: 3, scheduler: tcp://h:8786}
        params:
          random: {samples: 5, seed: 11, space: {fast: {int: [2, 9]}, k: {log_uniform: [0.1, 2]}, m: {choice: [a, b]}}}
          fixed: {quantity: 5}
        symbols: {groups: [[AAPL, MSFT], [SPY]]}
        walk_forward: {train_sessions: 20, test_sessions: 5, start: 2024-02-01}
    """)
    assert (spec.name, spec.base_config, spec.metric, spec.ascending) == ("s1", Path("/b.yaml"), "max_drawdown_pct",
                                                                          True)
    assert (spec.workers, spec.scheduler) == (3, "tcp://h:8786")
    assert spec.params.kind == "random" and spec.params.names == ["fast", "k", "m", "quantity"]
    assert spec.symbol_groups == (("AAPL", "MSFT"), ("SPY",))
    wf = spec.walk_forward
    assert (wf.start, wf.end, wf.step_sessions, wf.best_by, wf.ascending) == (date(2024, 2, 1), None, 5,
                                                                              "max_drawdown_pct", True)


@pytest.mark.parametrize(("text", "expected"), [
    ("swep:\n  base_config: b.yaml\n", "s.yaml:1:1: error: swep: unknown field; did you mean 'sweep'?"),
    ("sweep:\n  name: x\n", "s.yaml:1:1: error: sweep.base_config: required field is missing"),
    (BASE + "  metric: sharp\n", "s.yaml:3:11: error: sweep.metric: unknown metric 'sharp'; did you mean 'sharpe'?"),
    (BASE + "  workers: 0\n", "s.yaml:3:12: error: sweep.workers: expected an integer >= 1, received 0"),
    (BASE + "params:\n  grid: {fast: 5}\n",
     "s.yaml:4:16: error: params.grid.fast: expected a non-empty list, received 5"),
    (BASE + "params:\n  grid: {fast: [5, 5]}\n", "s.yaml:4:20: error: params.grid.fast[1]: duplicate value 5"),
    (BASE + "params:\n  grid: {fast: [5]}\n  list: [{fast: 3}]\n",
     "s.yaml:5:3: error: params.list: expected one of grid, list or random, received grid and list"),
    (BASE + "params:\n  random: {samples: 3, space: {fast: {int: [1, 4]}}}\n",
     "s.yaml:4:3: error: params.random.seed: required field is missing"),
    (BASE + "params:\n  random: {samples: 3, seed: 1, space: {fast: {int: [9, 4]}}}\n",
     "error: params.random.space.fast.int: expected low < high, received [9, 4]"),
    (BASE + "params:\n  random: {samples: 3, seed: 1, space: {fast: {normal: [0, 1]}}}\n",
     "error: params.random.space.fast.normal: unknown field; did you mean"),
    (BASE + "params:\n  grid: {fast: [3]}\n  fixed: {fast: 4}\n",
     "error: params.fixed.fast: also varied; a parameter is either fixed or varied"),
    (BASE + "symbols: {each: [AAPL], groups: [[SPY]]}\n",
     "error: symbols: expected exactly one of each (one run per symbol) or groups"),
    (BASE + "symbols: {each: [AAPL, AAPL]}\n", "error: symbols.each[1]: duplicate symbol 'AAPL'"),
    (BASE + "walk_forward: {train_sessions: 5, test_sessions: 0}\n",
     "error: walk_forward.test_sessions: expected an integer >= 1, received 0"),
    (BASE + "walk_forward: {train_sessions: 5}\n", "error: walk_forward.test_sessions: required field is missing"),
    (BASE + "walk_forward: {train_sessions: 5, test_sessions: 2, start: 2024-03-01, end: 2024-02-01}\n",
     "error: walk_forward.end: expected a date >= start (2024-03-01), received 2024-02-01"),
    ("sweep: [1, 2]\n", "error: sweep: expected a mapping with keys name, base_config"),
])
def test_a_bad_sweep_file_is_one_line_naming_the_field(text, expected):
    assert expected in _error(text)


# -- checked against the base session config (prepare) ---------------------------------------------------

def _sweep(tmp_path: Path, body: str, **base) -> Path:
    write_config(tmp_path / "base.yaml", tmp_path / "no-store", **base)
    path = tmp_path / "s.yaml"
    path.write_text(BASE + textwrap.dedent(body))
    return path


def test_an_unknown_parameter_is_located_in_the_sweep_file_with_a_hint(tmp_path):
    spec = load_sweep_spec(_sweep(tmp_path, "params:\n  grid:\n    fats: [3, 5]\n"))
    with pytest.raises(ConfigError) as e:
        prepare(spec)
    assert str(e.value) == (f"{tmp_path / 's.yaml'}:5:5: error: params.grid.fats: unknown parameter for SmaCross "
                            "(strategy.class of base.yaml); did you mean 'fast'?")


def test_the_base_config_must_be_a_data_driven_backtest(tmp_path):
    spec = load_sweep_spec(_sweep(tmp_path, "", backtest={"start_date": "2024-07-01", "end_date": "2024-07-03",
                                                            "speed_multiplier": 60}))
    with pytest.raises(ConfigError, match=r"s.yaml:2:16: error: sweep.base_config: expected a data-driven backtest, "
                                          r"received backtest.speed_multiplier 60.0"):
        prepare(spec)


def test_walk_forward_needs_one_whole_window_between_the_dates(tmp_path):
    spec = load_sweep_spec(_sweep(tmp_path, "walk_forward: {train_sessions: 3, test_sessions: 2}\n",
                                  backtest={"start_date": "2024-07-01", "end_date": "2024-07-05"}))
    with pytest.raises(ConfigError, match=r"walk_forward.train_sessions: expected train_sessions \+ test_sessions "
                                          r"<= the 4 XNYS sessions from 2024-07-01 to 2024-07-05, received 3 \+ 2"):
        prepare(spec)


def test_a_bad_base_config_is_located_in_the_base_config(tmp_path):
    (tmp_path / "base.yaml").write_text("session_name: x\nmode: backtset\n")
    (tmp_path / "s.yaml").write_text(BASE)
    with pytest.raises(ConfigError, match=r"base.yaml:2:7: error: mode"):
        prepare(load_sweep_spec(tmp_path / "s.yaml"))


def test_the_shipped_demo_sweep_loads_and_plans_twelve_runs():
    prepared = prepare(load_sweep_spec(REPO / "session_configs" / "sweep_demo.yaml"))
    assert prepared.total == len(prepared.runs) == 12
    assert prepared.base_data["data"]["store"] == str(REPO / "data" / "sample")


@pytest.mark.e2e
def test_the_cli_prints_one_line_and_exits_2_on_a_bad_sweep_file(tmp_path):
    bad = _sweep(tmp_path, "params:\n  grid: {fast: [3], slowe: [20]}\n")
    proc = cli("-m", "app.sweep", str(bad), "--output", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith("params.grid.slowe: unknown parameter for SmaCross (strategy.class of "
                                        "base.yaml); did you mean 'slow'?")
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()

    both = cli("-m", "app.sweep", str(_sweep(tmp_path, "")), "--scheduler", "tcp://127.0.0.1:1", "--workers", "2")
    assert both.returncode == 2 and "--workers: applies to the local cluster only" in both.stderr


# -- the HTML report hook: optional, and never at the cost of the tables ----------------------------------

def _fake_report(monkeypatch, write):
    import importlib.machinery
    import sys
    import types

    package, page = types.ModuleType("app.report"), types.ModuleType("app.report.sweep_page")
    package.__path__ = []
    page.__spec__ = importlib.machinery.ModuleSpec("app.report.sweep_page", None)
    page.write_sweep_report = write
    package.sweep_page = page
    monkeypatch.setitem(sys.modules, "app.report", package)
    monkeypatch.setitem(sys.modules, "app.report.sweep_page", page)


def test_the_sweep_report_is_written_through_app_report_when_present(monkeypatch, tmp_path):
    from app.sweep.__main__ import _report

    calls = []
    _fake_report(monkeypatch, lambda folder: calls.append(folder) or folder / "report.html")
    _report(tmp_path)
    assert calls == [tmp_path]


def test_a_failing_sweep_report_is_logged_and_does_not_raise(monkeypatch, tmp_path, caplog):
    from app.sweep.__main__ import _report

    def broken(folder):
        raise RuntimeError("boom")

    _fake_report(monkeypatch, broken)
    _report(tmp_path)
    assert ("the sweep report failed (results.csv and results.parquet are written): RuntimeError: boom"
            in caplog.text)
