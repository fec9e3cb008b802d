"""What a sweep runs: parameter sets, symbol groups and walk-forward windows (pure functions, no I/O)."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final, Literal

from app.sweep.spec import ParamSpace, RandomDim

__all__ = ["RunSpec", "Window", "best_row", "expand_params", "is_better", "plan_runs", "sample_params",
           "walk_forward_windows", "window_test_run"]

_DRAWS_PER_SAMPLE: Final = 100
"""Random draws tried per wanted sample before a small space is declared exhausted."""


@dataclass(frozen=True, slots=True)
class Window:
    """One walk-forward window: train on [train_start, train_end], then test on [test_start, test_end]."""

    index: int
    train_start: date
    train_end: date
    test_start: date
    test_end: date


@dataclass(frozen=True, slots=True)
class RunSpec:
    """One run of a sweep: the overrides applied to the base config, and where it sits in the plan.

    ``symbols`` None keeps the base config's symbols, ``start``/``end`` None its dates;
    ``window``/``phase`` are set for walk-forward runs only.
    """

    run_id: str
    param_set: int
    params: Mapping[str, Any]
    group: int
    symbols: tuple[str, ...] | None
    start: date | None = None
    end: date | None = None
    window: int | None = None
    phase: Literal["train", "test"] | None = None


def expand_params(space: ParamSpace) -> list[dict[str, Any]]:
    """Return the parameter sets of `space`, each with the fixed params added, in a stable order.

    A grid varies its last parameter fastest (``itertools.product`` over the file's order); a
    list keeps the file's order; a random sample is `sample_params` (deterministic in the seed);
    no params section gives one empty set (the base config's params).
    """
    if space.kind == "grid":
        names = [name for name, _ in space.grid]
        sets = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(v for _, v in space.grid))]
    elif space.kind == "list":
        sets = [dict(s) for s in space.sets]
    elif space.kind == "random":
        sets = sample_params(space.dims, space.samples, space.seed)
    else:
        sets = [{}]
    return [{**s, **space.fixed} for s in sets]


def sample_params(dims: Sequence[RandomDim], samples: int, seed: int) -> list[dict[str, Any]]:
    """Return up to `samples` distinct parameter sets drawn from `dims` with ``random.Random(seed)``.

    The same seed gives the same sets in the same order. Fewer come back only when the space
    holds fewer distinct sets (e.g. ``int: [1, 3]`` alone has 3); draws stop after
    ``100 * samples`` tries.
    """
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    for _ in range(samples * _DRAWS_PER_SAMPLE):
        drawn = {d.name: _draw(d, rng) for d in dims}
        key = tuple(repr(v) for v in drawn.values())
        if key in seen:
            continue
        seen.add(key)
        out.append(drawn)
        if len(out) == samples:
            break
    return out


def _draw(dim: RandomDim, rng: random.Random) -> Any:
    if dim.kind == "int":
        return rng.randint(int(dim.low), int(dim.high))
    if dim.kind == "uniform":
        return rng.uniform(dim.low, dim.high)
    if dim.kind == "log_uniform":
        return math.exp(rng.uniform(math.log(dim.low), math.log(dim.high)))
    return rng.choice(dim.choices)


def walk_forward_windows(sessions: Sequence[date], train: int, test: int, step: int,
                         anchored: bool = False) -> list[Window]:
    """Return the walk-forward windows over the ordered trading `sessions`.

    Window ``k`` trains on `train` sessions starting at session ``k * step`` (at session 0 with
    `anchored`, growing by `step` each window) and tests on the `test` sessions right after
    them. Only whole windows are returned: a test span never reaches past the last session, and
    never overlaps its own train span.
    """
    if train < 1 or test < 1 or step < 1:
        raise ValueError(f"expected train, test and step >= 1, received {train}, {test}, {step}")
    out = []
    k = 0
    while k * step + train + test <= len(sessions):
        first = 0 if anchored else k * step
        split = k * step + train
        out.append(Window(k, sessions[first], sessions[split - 1], sessions[split], sessions[split + test - 1]))
        k += 1
    return out


def _ids(count: int, prefix: str) -> list[str]:
    width = max(3, len(str(count - 1)))
    return [f"{prefix}{i:0{width}d}" for i in range(count)]


def plan_runs(param_sets: Sequence[Mapping[str, Any]], groups: Sequence[tuple[str, ...]] | None,
              windows: Sequence[Window] | None = None) -> list[RunSpec]:
    """Return the runs to submit first: every parameter set x symbol group (x window's train span).

    Without `windows`, that is the whole sweep. With them, these are the train runs; each
    window's test run is made by `window_test_run` once its train runs are in.
    """
    group_list: list[tuple[str, ...] | None] = list(groups) if groups else [None]
    set_ids = _ids(len(param_sets), "p")
    runs = []
    for w in windows if windows is not None else [None]:
        for g, symbols in enumerate(group_list):
            for p, params in enumerate(param_sets):
                run_id = set_ids[p] + (f".g{g}" if len(group_list) > 1 else "")
                if w is None:
                    runs.append(RunSpec(run_id, p, dict(params), g, symbols))
                else:
                    runs.append(RunSpec(f"w{w.index:02d}.train.{run_id}", p, dict(params), g, symbols,
                                        w.train_start, w.train_end, w.index, "train"))
    return runs


def window_test_run(window: Window, chosen: RunSpec) -> RunSpec:
    """Return the test run of `window` with the parameters of `chosen` (its best train run)."""
    run_id = chosen.run_id.replace(".train.", ".test.", 1)
    return RunSpec(run_id, chosen.param_set, dict(chosen.params), chosen.group, chosen.symbols,
                   window.test_start, window.test_end, window.index, "test")


def is_better(value: float, than: float, ascending: bool) -> bool:
    """Return whether metric `value` ranks before `than` (smaller first when `ascending`)."""
    return value < than if ascending else value > than


def best_row(rows: Iterable[Mapping[str, Any]], metric: str, ascending: bool) -> Mapping[str, Any] | None:
    """Return the completed row with the best finite `metric`, or None when there is none.

    Ties go to the lowest ``param_set`` (the first in the plan), so the pick does not depend on
    the order in which results came back.
    """
    best: Mapping[str, Any] | None = None
    for row in rows:
        value = row.get(metric)
        if row.get("status") != "completed" or not isinstance(value, int | float) or not math.isfinite(value):
            continue
        if best is None:
            best = row
            continue
        if is_better(value, best[metric], ascending) or (value == best[metric]
                                                        and row["param_set"] < best["param_set"]):
            best = row
    return best
