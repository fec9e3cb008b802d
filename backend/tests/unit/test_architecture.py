"""The seams hold: who may import threading / exchange_calendars / read clocks; module sizes.

The checker resolves names, not spellings: each module's imports give a map from a local name to
the dotted name it stands for (``import time as _t`` binds ``_t`` to ``time``; ``from datetime
import datetime as D`` binds ``D`` to ``datetime.datetime``), and module-level aliases in the app
(``perf_ns = time.perf_counter_ns``) are followed across modules. Every name and attribute chain
is checked by its canonical name, so an alias hides neither a clock read nor a thread.

Known limit: the map is per module, not per scope (a parameter shadowing an imported module reads
as the module); that only errs towards a violation.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "app"
MODULES = sorted(APP.rglob("*.py"))

THREADING_OK = ("sync/", "threads/", "store/series.py")
THREAD_MAKERS_OK = ("threads/base.py",)  # SessionThread: every pipeline thread is one
CLOCK_OK = ("timing/",)
PURE = ("bars/", "indicators/", "metrics/stats.py", "execution/risk.py")
PURE_FORBIDDEN = ("app.threads", "app.sync", "app.feeds", "app.timing.clocks", "app.timing.stopwatch",
                  "threading", "_thread", "time")
THREADING_MODULES = ("threading", "_thread")
CLOCK_READS = frozenset({
    "time.time", "time.time_ns", "time.monotonic", "time.monotonic_ns", "time.perf_counter",
    "time.perf_counter_ns", "time.clock_gettime", "time.clock_gettime_ns",
    "datetime.datetime.now", "datetime.datetime.utcnow", "datetime.datetime.today", "datetime.date.today",
    # timing/ functions that read a counter themselves (not through an injected Stopwatch)
    "app.timing.clocks.process_start_perf_ns", "app.timing.stopwatch.process_age_ns",
})
THREAD_MAKERS = frozenset({"threading.Thread", "threading.Timer", "_thread.start_new_thread",
                           "_thread.start_new", "concurrent.futures.ThreadPoolExecutor"})




# -- the checker ------------------------------------------------------------------------------

def _module_name(rel: str) -> str:
    parts = ["app", *rel.removesuffix(".py").split("/")]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package(rel: str) -> str:
    return ".".join(["app", *rel.split("/")[:-1]])


def _imported(node: ast.ImportFrom, package: str) -> str:
    """The dotted module an ImportFrom reads from (relative imports resolved against `package`)."""
    if not node.level:
        return node.module or ""
    base = package.split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def import_aliases(tree: ast.AST, rel: str) -> dict[str, str]:
    """Map each name the module binds by an import (anywhere in it) to the dotted name it stands for."""
    package = _package(rel)
    out: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    out[a.asname] = a.name  # import os.path as p: p is os.path
                else:
                    root = a.name.split(".")[0]
                    out[root] = root  # import os.path binds os
        elif isinstance(node, ast.ImportFrom):
            module = _imported(node, package)
            for a in node.names:
                if a.name != "*":
                    out[a.asname or a.name] = f"{module}.{a.name}"
    return out


def _dotted(node: ast.AST, aliases: Mapping[str, str]) -> str | None:
    """The canonical dotted name of a Name / attribute chain rooted at an imported name, else None."""
    attrs: list[str] = []
    while isinstance(node, ast.Attribute):
        attrs.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name) and node.id in aliases:
        return ".".join([aliases[node.id], *reversed(attrs)])
    return None


def module_exports(rel: str, tree: ast.Module) -> dict[str, str]:
    """Module-level aliases of imported names (``perf_ns = time.perf_counter_ns``) as
    ``{"app.timing.clocks.perf_ns": "time.perf_counter_ns"}``, imports included (a re-export)."""
    aliases = import_aliases(tree, rel)
    module = _module_name(rel)
    out = {f"{module}.{name}": target for name, target in aliases.items()}
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = _dotted(node.value, aliases) if node.value is not None else None
            for target in targets:
                if value is not None and isinstance(target, ast.Name):
                    out[f"{module}.{target.id}"] = value
    return out


def resolve(dotted: str, exports: Mapping[str, str]) -> str:
    """Follow re-exports: the longest prefix of `dotted` another module aliases is replaced, repeatedly."""
    for _ in range(10):  # alias chains are short; a cycle stops here
        parts = dotted.split(".")
        for cut in range(len(parts), 1, -1):
            target = exports.get(".".join(parts[:cut]))
            if target is not None:
                following = ".".join([target, *parts[cut:]])
                if following == dotted:
                    return dotted
                dotted = following
                break
        else:
            return dotted
    return dotted


def _under(name: str, roots: tuple[str, ...] | frozenset[str]) -> bool:
    return any(name == r or name.startswith(r + ".") for r in roots)


def _references(tree: ast.AST, rel: str, aliases: Mapping[str, str]) -> Iterator[tuple[int, str]]:
    """Every imported name the module imports or uses: (line, dotted name through the aliases)."""
    package = _package(rel)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name
        elif isinstance(node, ast.ImportFrom):
            module = _imported(node, package)
            for a in node.names:
                yield node.lineno, module if a.name == "*" else f"{module}.{a.name}"
        elif isinstance(node, ast.Name | ast.Attribute):
            dotted = _dotted(node, aliases)
            if dotted is not None:
                yield node.lineno, dotted


def seam_violations(rel: str, source: str, exports: Mapping[str, str] | None = None) -> list[str]:
    """Return every seam `source` (the module at `rel` under app/) breaks: one message per rule and
    name, at its first line."""
    exports = {} if exports is None else exports
    tree = ast.parse(source)
    found: dict[tuple[str, str], str] = {}

    def flag(rule: str, name: str, message: str) -> None:
        found.setdefault((rule, name), message)

    for line, written in _references(tree, rel, import_aliases(tree, rel)):
        name = resolve(written, exports)
        where = f"{rel}:{line}"
        if _under(name, THREADING_MODULES) and not rel.startswith(THREADING_OK):
            flag("threading", name, f"{where}: uses threading ({name}) outside sync/, threads/ and store/series.py")
        if name in THREAD_MAKERS and not rel.startswith(THREAD_MAKERS_OK):
            flag("thread", name, f"{where}: creates a thread ({name}) outside SessionThread (threads/base.py)")
        if _under(name, ("exchange_calendars",)) and rel != "timing/calendar.py":
            flag("calendar", name, f"{where}: imports exchange_calendars outside timing/calendar.py")
        if name in CLOCK_READS and not rel.startswith(CLOCK_OK):
            flag("clock", name, f"{where}: reads the clock ({name}, written {written}) outside timing/; "
                                "take the run's Stopwatch (app.timing.stopwatch) instead")
        if rel.startswith(PURE) and _under(written, PURE_FORBIDDEN):
            flag("pure", written, f"{where}: pure module uses {written}")
    return list(found.values())


def _tree_exports() -> dict[str, str]:
    out: dict[str, str] = {}
    for path in MODULES:
        out.update(module_exports(_rel(path), ast.parse(path.read_text(encoding="utf-8"))))
    return out


def _rel(path: Path) -> str:
    return path.relative_to(APP).as_posix()


EXPORTS = _tree_exports()


# -- the tree ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", MODULES, ids=_rel)
def test_module_respects_the_seams(path: Path):
    assert seam_violations(_rel(path), path.read_text(encoding="utf-8"), EXPORTS) == []


@pytest.mark.parametrize("path", MODULES, ids=_rel)
def test_module_size_caps(path: Path):
    rel = _rel(path)
    lines = len(path.read_text(encoding="utf-8").splitlines())
    cap = 300 if rel.startswith("threads/") else 500
    assert lines <= cap, f"{rel} has {lines} lines (cap {cap}); split it by concern"


# -- the checker itself -----------------------------------------------------------------------

CLOCK_ALIASES = {
    "import time": "import time\ntime.monotonic()",
    "import time (perf_counter_ns)": "import time\nstarted = time.perf_counter_ns()",
    "from time import": "from time import monotonic\nmonotonic()",
    "from time import as": "from time import perf_counter_ns as pc\nt0 = pc()",
    "import time as": "import time as _t\n_t.monotonic()",
    "import datetime as": "import datetime as _dt\n_dt.datetime.now()",
    "from datetime import datetime as": "from datetime import datetime as D\nD.now()",
    "from datetime import date": "from datetime import date\ndate.today()",
    "utcnow": "from datetime import datetime\ndatetime.utcnow()",
    "kept, not called": "import time\nclock = time.monotonic_ns",
    "imported in a function": "def f():\n    import time as t\n    return t.time_ns()",
    "never used": "from time import time_ns",
}


@pytest.mark.parametrize("source", CLOCK_ALIASES.values(), ids=CLOCK_ALIASES.keys())
def test_checker_catches_every_alias_of_a_clock_read(source: str):
    [problem] = seam_violations("threads/x.py", source)
    assert "reads the clock" in problem and problem.startswith("threads/x.py:")


def test_checker_follows_re_exports_across_modules():
    exports = module_exports("timing/counters.py", ast.parse("import time\nperf_ns = time.perf_counter_ns\n"))
    assert exports["app.timing.counters.perf_ns"] == "time.perf_counter_ns"
    for source in ("from app.timing.counters import perf_ns\nperf_ns()",
                   "from app.timing.counters import perf_ns as p\np()",
                   "from ..timing.counters import perf_ns\nperf_ns()",
                   "from app.timing import counters\ncounters.perf_ns()"):
        [problem] = seam_violations("runtime/x.py", source, exports)
        assert "time.perf_counter_ns" in problem


THREAD_ALIASES = {
    "from threading import Thread as": "from threading import Thread as _T\n_T(target=print).start()",
    "import threading as": "import threading as th\nth.Thread(target=print)",
    "subclass": "import threading\nclass Worker(threading.Thread):\n    pass",
    "_thread": "import _thread\n_thread.start_new_thread(print, ())",
    "executor": "from concurrent.futures import ThreadPoolExecutor as Pool\nPool(2)",
    "executor, module alias": "import concurrent.futures as cf\ncf.ThreadPoolExecutor(2)",
}


@pytest.mark.parametrize("source", THREAD_ALIASES.values(), ids=THREAD_ALIASES.keys())
def test_checker_catches_threads_made_outside_session_thread(source: str):
    assert any("creates a thread" in p for p in seam_violations("threads/x.py", source))
    assert seam_violations("threads/base.py", source) == []


@pytest.mark.parametrize("source", ["import threading", "from threading import Event as E\nE()",
                                    "import threading as th\nth.Lock()", "from threading import Thread as _T"])
def test_checker_keeps_threading_in_its_packages(source: str):
    assert any("uses threading" in p for p in seam_violations("feeds/x.py", source))
    assert not any("uses threading" in p for p in seam_violations("sync/x.py", source))
    assert not any("uses threading" in p for p in seam_violations("store/series.py", source))


def test_checker_keeps_exchange_calendars_in_timing_calendar():
    source = "import exchange_calendars as xc\nxc.get_calendar('XNYS')"
    assert seam_violations("feeds/x.py", source) != []
    assert seam_violations("timing/calendar.py", source) == []


@pytest.mark.parametrize("source", ["from app import threads", "from ...sync import stop",
                                    "import app.feeds.live as live", "from app.timing.clocks import SteppedClock",
                                    "import time\ntime.sleep(0)"])
def test_checker_keeps_pure_modules_pure(source: str):
    assert seam_violations("bars/sub/x.py", source) != []


PASSING = {
    "sleep": "import time\ntime.sleep(0.1)",
    "fromtimestamp": "from datetime import datetime as D\nD.fromtimestamp(0)",
    "a date": "import datetime as _dt\n_dt.date(2024, 7, 3)",
    "an attribute named like a clock": "bar.time()\nrow.monotonic\nself.now()",
    "a local function named like one": "def monotonic():\n    return 0\nmonotonic()",
    "a parameter": "def f(time):\n    return time.monotonic()",
    "the stopwatch": "from app.timing.stopwatch import Stopwatch\nsw = Stopwatch()\nt0 = sw.now_ns()",
    "an Event": "import threading\nthreading.Event()",
}


@pytest.mark.parametrize("source", PASSING.values(), ids=PASSING.keys())
def test_checker_lets_non_clock_uses_pass(source: str):
    assert seam_violations("threads/x.py", source, EXPORTS) == []


def test_checker_lets_timing_read_clocks():
    assert seam_violations("timing/clocks.py", "import time\nperf_ns = time.perf_counter_ns") == []
