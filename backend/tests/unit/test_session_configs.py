"""Every shipped session config loads, and the demo runs end to end on sample data."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from support.runs import REPO, cli

from app.config import load_session_config
from app.config.schema import Mode

# sweep_*.yaml are sweep files (python -m app.sweep), loaded by tests/sweep
CONFIGS = sorted(p for p in (REPO / "session_configs").glob("*.yaml") if not p.name.startswith("sweep"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_config_loads(path: Path):
    cfg = load_session_config(path)
    assert cfg.session_name
    assert cfg.mode in (Mode.BACKTEST, Mode.LIVE)


def test_there_are_at_least_two_examples_and_a_demo():
    names = {p.name for p in CONFIGS}
    assert "demo.yaml" in names and len(names) >= 2


def test_demo_runs_on_the_sample_it_documents(tmp_path):
    # Arrange: the documented sample command, into a temporary store.
    store = tmp_path / "sample"
    made = cli("-m", "app.data", "sample", "--store", str(store), "--start", "2024-06-10", "--end", "2024-07-10")
    assert made.returncode == 0, made.stderr
    demo = yaml.safe_load((REPO / "session_configs" / "demo.yaml").read_text())
    demo["data"]["store"] = str(store)
    cfg = tmp_path / "demo.yaml"
    cfg.write_text(yaml.safe_dump(demo))

    # Act
    proc = cli("-m", "app.backtest", str(cfg), "--output", str(tmp_path / "out"))

    # Assert: 9 sessions (2024-06-24..07-05 without the 4th of July), reports printed.
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("Performance Metrics (Session):") == 9
    assert "Performance Metrics Summary:" in proc.stdout
    assert "demo: 9 sessions" in proc.stderr
