"""Read a sweep file (YAML) into a frozen SweepSpec; every problem is one located ConfigError."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final, Literal, TypeAlias, cast

from app.config.fields import show
from app.config.yaml_source import FieldPath, SourceMap, read_yaml
from app.errors import ConfigError
from app.sweep.reader import Reader, located_error

__all__ = ["LOWER_IS_BETTER", "METRICS", "ParamSpace", "RandomDim", "SweepSpec", "WalkForwardSpec",
           "default_ascending", "load_sweep_spec", "parse_sweep_spec"]

METRICS: Final = ("sharpe", "total_return_pct", "max_drawdown_pct", "win_rate_pct", "profit_factor", "pnl",
                  "final_equity", "trades", "fills", "bars_per_second")
"""Result columns a sweep can be ranked by (and walk-forward can pick parameters by)."""

LOWER_IS_BETTER: Final = frozenset({"max_drawdown_pct"})

DistKind: TypeAlias = Literal["int", "uniform", "log_uniform", "choice"]
DIST_KINDS: Final = ("int", "uniform", "log_uniform", "choice")
_TOP: Final = ("sweep", "params", "symbols", "walk_forward")
_SWEEP: Final = ("name", "base_config", "metric", "ascending", "scheduler", "workers")
_PARAMS: Final = ("grid", "list", "random", "fixed")
_RANDOM: Final = ("samples", "seed", "space")
_SYMBOLS: Final = ("each", "groups")
_WALK: Final = ("start", "end", "train_sessions", "test_sessions", "step_sessions", "anchored", "best_by",
                "ascending")


def default_ascending(metric: str) -> bool:
    """Return whether smaller is better for `metric` (drawdown), the default order of a ranking."""
    return metric in LOWER_IS_BETTER


@dataclass(frozen=True, slots=True)
class RandomDim:
    """One parameter of a random sample: ``int``/``uniform``/``log_uniform`` over [low, high], or ``choice``."""

    name: str
    kind: DistKind
    low: float = 0.0
    high: float = 0.0
    choices: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class ParamSpace:
    """The ``params:`` section: how parameter sets are made (exactly one of grid, list, random).

    ``kind`` is ``grid`` (every combination of ``grid``'s values, in the file's order), ``list``
    (``sets`` as written), ``random`` (``samples`` distinct draws from ``dims`` with ``seed``) or
    ``none`` (one run with the base config's params); ``fixed`` is applied to every set.
    """

    kind: Literal["grid", "list", "random", "none"]
    grid: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    sets: tuple[dict[str, Any], ...] = ()
    samples: int = 0
    seed: int = 0
    dims: tuple[RandomDim, ...] = ()
    fixed: dict[str, Any] = field(default_factory=dict)

    @property
    def varied(self) -> list[str]:
        """Return the varied parameter names, in the file's order."""
        if self.kind == "grid":
            return [name for name, _ in self.grid]
        if self.kind == "random":
            return [d.name for d in self.dims]
        return list(dict.fromkeys(k for s in self.sets for k in s))

    @property
    def names(self) -> list[str]:
        """Return every parameter name a run sets: the varied ones, then the fixed ones."""
        varied = self.varied
        return varied + [k for k in self.fixed if k not in varied]


@dataclass(frozen=True, slots=True)
class WalkForwardSpec:
    """The ``walk_forward:`` section: rolling (or anchored) train/test windows counted in sessions."""

    start: date | None
    end: date | None
    train_sessions: int
    test_sessions: int
    step_sessions: int
    anchored: bool
    best_by: str
    ascending: bool


@dataclass(frozen=True, slots=True)
class SweepSpec:
    """A validated sweep file.

    Parameters
    ----------
    file : str
        The sweep file as given (named in messages).
    name : str
        ``sweep.name``, default the file's stem.
    base_config : pathlib.Path
        ``sweep.base_config``: the session config every run starts from (absolute).
    metric, ascending : str, bool
        Ranking of results.csv (``ascending`` defaults to False, True for drawdown).
    scheduler : str or None
        ``sweep.scheduler``: address of an existing Dask scheduler (``--scheduler`` wins).
    workers : int or None
        ``sweep.workers``: local cluster size (``--workers`` wins; default one per core).
    params : ParamSpace
    symbol_groups : tuple of tuple of str, or None
        One run per group (``symbols.each`` makes one group per symbol); None: the base config's.
    walk_forward : WalkForwardSpec or None
    """

    file: str
    name: str
    base_config: Path
    metric: str
    ascending: bool
    scheduler: str | None
    workers: int | None
    params: ParamSpace
    symbol_groups: tuple[tuple[str, ...], ...] | None
    walk_forward: WalkForwardSpec | None
    source_map: SourceMap | None = field(default=None, compare=False, repr=False)

    def error(self, path: FieldPath, message: str, *, hint: str | None = None, at_key: bool = False) -> ConfigError:
        """Return a ConfigError about `path` of this sweep file, at its value (its key with `at_key`)."""
        return located_error(self.source_map or SourceMap(self.file), path, message, hint=hint, at_key=at_key)


def load_sweep_spec(path: str | Path) -> SweepSpec:
    """Read and validate the sweep file at `path`.

    Raises
    ------
    ConfigError
        When the file cannot be read, is not valid YAML, or a field is missing, unknown or invalid
        (``file:line:col: error: field: expected ..., received ...``).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read the sweep file: {getattr(e, 'strerror', None) or e}", file=str(path)) from e
    return parse_sweep_spec(text, str(path), Path(path).resolve().parent)


def parse_sweep_spec(text: str, file: str, base_dir: Path) -> SweepSpec:
    """Validate the sweep file in `text` (as if read from `file`); relative paths resolve against `base_dir`."""
    data, source = read_yaml(text, file)
    r = Reader(source)
    top = r.mapping(data, (), _TOP, required=("sweep",))
    sweep = r.mapping(top["sweep"], ("sweep",), _SWEEP, required=("base_config",))
    base = r.text(sweep["base_config"], ("sweep", "base_config"))
    metric = r.choice(sweep.get("metric", "sharpe"), ("sweep", "metric"), METRICS)
    walk = top.get("walk_forward")
    return SweepSpec(
        file=file,
        name=r.text(sweep.get("name", Path(file).stem), ("sweep", "name")),
        base_config=(base_dir / base).resolve(),
        metric=metric,
        ascending=r.boolean(sweep.get("ascending", default_ascending(metric)), ("sweep", "ascending")),
        scheduler=None if sweep.get("scheduler") is None else r.text(sweep["scheduler"], ("sweep", "scheduler")),
        workers=None if sweep.get("workers") is None else r.integer(sweep["workers"], ("sweep", "workers"), low=1),
        params=_params(r, top.get("params")),
        symbol_groups=None if top.get("symbols") is None else _symbols(r, top["symbols"]),
        walk_forward=None if walk is None else _walk_forward(r, walk, metric),
        source_map=source,
    )


def _params(r: Reader, data: Any) -> ParamSpace:
    if data is None:
        return ParamSpace("none")
    p = r.mapping(data, ("params",), _PARAMS)
    kinds = [k for k in ("grid", "list", "random") if k in p]
    if len(kinds) > 1:
        raise r.error(("params", kinds[1]), f"expected one of grid, list or random, received {' and '.join(kinds)}",
                      at_key=True)
    fixed = r.names(p.get("fixed", {}), ("params", "fixed"))
    kind = kinds[0] if kinds else "none"
    if kind == "grid":
        grid = r.names(p["grid"], ("params", "grid"), nonempty=True)
        values = tuple((name, r.values(v, ("params", "grid", name))) for name, v in grid.items())
        space = ParamSpace("grid", grid=values, fixed=fixed)
    elif kind == "list":
        sets = r.items(p["list"], ("params", "list"))
        space = ParamSpace("list", sets=tuple(r.names(s, ("params", "list", i), nonempty=True)
                                              for i, s in enumerate(sets)), fixed=fixed)
    elif kind == "random":
        space = _random(r, p["random"], fixed)
    else:
        space = ParamSpace("none", fixed=fixed)
    for name in fixed:
        if name in space.varied:
            raise r.error(("params", "fixed", name), "also varied; a parameter is either fixed or varied")
    return space


def _random(r: Reader, data: Any, fixed: dict[str, Any]) -> ParamSpace:
    at: FieldPath = ("params", "random")
    m = r.mapping(data, at, _RANDOM, required=("samples", "seed", "space"))
    dims = []
    for name, dist in r.names(m["space"], (*at, "space"), nonempty=True).items():
        where = (*at, "space", name)
        d = r.mapping(dist, where, DIST_KINDS)
        if len(d) != 1:
            raise r.error(where, f"expected one of {', '.join(DIST_KINDS)} (e.g. {{int: [2, 20]}}), "
                                 f"received {show(dist)}")
        kind, arg = next(iter(d.items()))
        if kind == "choice":
            dims.append(RandomDim(name, "choice", choices=r.values(arg, (*where, kind))))
            continue
        low, high = r.bounds(arg, (*where, kind), integer=kind == "int", positive=kind == "log_uniform")
        dims.append(RandomDim(name, cast(DistKind, kind), low, high))
    return ParamSpace("random", samples=r.integer(m["samples"], (*at, "samples"), low=1),
                      seed=r.integer(m["seed"], (*at, "seed"), low=0), dims=tuple(dims), fixed=fixed)


def _symbols(r: Reader, data: Any) -> tuple[tuple[str, ...], ...]:
    s = r.mapping(data, ("symbols",), _SYMBOLS)
    if len(s) != 1:
        raise r.error(("symbols",), "expected exactly one of each (one run per symbol) or groups (one run per list)")
    if "each" in s:
        return tuple((sym,) for sym in r.symbols(s["each"], ("symbols", "each")))
    groups = r.items(s["groups"], ("symbols", "groups"))
    return tuple(r.symbols(g, ("symbols", "groups", i)) for i, g in enumerate(groups))


def _walk_forward(r: Reader, data: Any, metric: str) -> WalkForwardSpec:
    at: FieldPath = ("walk_forward",)
    w = r.mapping(data, at, _WALK, required=("train_sessions", "test_sessions"))
    start = None if w.get("start") is None else r.day(w["start"], (*at, "start"))
    end = None if w.get("end") is None else r.day(w["end"], (*at, "end"))
    if start is not None and end is not None and end < start:
        raise r.error((*at, "end"), f"expected a date >= start ({start}), received {end}")
    test = r.integer(w["test_sessions"], (*at, "test_sessions"), low=1)
    best_by = r.choice(w.get("best_by", metric), (*at, "best_by"), METRICS)
    return WalkForwardSpec(
        start=start, end=end,
        train_sessions=r.integer(w["train_sessions"], (*at, "train_sessions"), low=1),
        test_sessions=test,
        step_sessions=r.integer(w.get("step_sessions", test), (*at, "step_sessions"), low=1),
        anchored=r.boolean(w.get("anchored", False), (*at, "anchored")),
        best_by=best_by,
        ascending=r.boolean(w.get("ascending", default_ascending(best_by)), (*at, "ascending")),
    )
