"""The seams hold: who may import threading / exchange_calendars / read clocks; module sizes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "app"
MODULES = sorted(APP.rglob("*.py"))

THREADING_OK = ("sync/", "threads/", "store/series.py")
CLOCK_OK = ("timing/",)
PURE = ("bars/", "indicators/", "metrics/stats.py", "execution/risk.py")
CLOCK_CALLS = {("time", "time"), ("time", "monotonic"), ("time", "perf_counter"), ("time", "time_ns"),
               ("time", "monotonic_ns"), ("time", "perf_counter_ns"), ("datetime", "now"),
               ("datetime", "utcnow")}


def _rel(path: Path) -> str:
    return path.relative_to(APP).as_posix()


def _imports(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", MODULES, ids=_rel)
def test_module_respects_the_seams(path: Path):
    rel = _rel(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imports = _imports(tree)
    if any(i == "threading" or i.startswith("threading.") for i in imports):
        assert rel.startswith(THREADING_OK), f"{rel} imports threading outside sync/ and threads/"
    if any(i.split(".")[0] == "exchange_calendars" for i in imports):
        assert rel == "timing/calendar.py", f"{rel} imports exchange_calendars outside timing/calendar.py"
    if not rel.startswith(CLOCK_OK):
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                assert (node.value.id, node.attr) not in CLOCK_CALLS, \
                    f"{rel} reads the clock ({node.value.id}.{node.attr}) outside timing/"
    if rel.startswith(PURE):
        bad = {i for i in imports if i.startswith(("app.threads", "app.sync", "app.feeds", "app.timing.clocks"))}
        assert not bad, f"pure module {rel} imports {sorted(bad)}"


@pytest.mark.parametrize("path", MODULES, ids=_rel)
def test_module_size_caps(path: Path):
    rel = _rel(path)
    lines = len(path.read_text(encoding="utf-8").splitlines())
    cap = 300 if rel.startswith("threads/") else 500
    assert lines <= cap, f"{rel} has {lines} lines (cap {cap}); split it by concern"


def test_threads_are_created_only_by_session_thread():
    for path in MODULES:
        rel = _rel(path)
        if rel == "threads/base.py":
            continue
        source = path.read_text(encoding="utf-8")
        assert "threading.Thread(" not in source, f"{rel} creates a thread outside SessionThread"
