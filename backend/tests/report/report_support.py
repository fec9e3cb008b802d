"""Helpers of the report tests: the CLI in a subprocess, and real small backtest runs made once (`make_runs`)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from support.runs import BACKEND, REPO, make_store, write_config

HERE = Path(__file__).resolve().parent


def run_cli(*args: str, cwd: Path = REPO, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``python ARGS`` with the app and this folder importable (the test strategies live here)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(BACKEND), str(BACKEND / "tests"), str(HERE)])}
    env.pop("CI", None)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)


@dataclass(frozen=True)
class Runs:
    """Three real runs over one tiny store: two completed ones (different params) and a failed one."""

    store: Path
    a: Path
    b: Path
    failed: Path


def make_runs(root: Path) -> Runs:
    """Run three tiny backtests into `root` (CLI subprocesses): two completed, one failed at session 3."""
    store = make_store(root / "store")
    out = {}
    for name, params, strategy in (
        ("a", {"fast": 5, "slow": 20, "quantity": 10}, "app.strategies.sma_cross:SmaCross"),
        ("b", {"fast": 8, "slow": 20, "quantity": 10}, "app.strategies.sma_cross:SmaCross"),
        ("failed", {"fast": 5, "slow": 20, "quantity": 10, "fail_at": 3}, "report_strategies:FailsInSession"),
    ):
        cfg = write_config(root / f"{name}.yaml", store, session_name=f"report_{name}",
                           strategy={"class": strategy, "params": params})
        result = run_cli("-m", "app.backtest", str(cfg), "-o", str(root / name), "-q")
        assert result.returncode == (1 if name == "failed" else 0), result.stderr
        out[name] = root / name
    return Runs(store, out["a"], out["b"], out["failed"])
