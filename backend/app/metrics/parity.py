"""Parity: a live run's decisions against a replay's, each difference with its cause (pure).

A decision is an order the strategy placed (accepted or refused by a risk rule). Two runs'
decisions are matched by (session, time placed, symbol) in placing order; ids are not compared
(they shift after the first difference). The cause of a difference is the earliest input the
strategy saw differently in the two runs (`input_differences`) since the two runs last agreed on
a decision of that symbol (the inputs before it did not change that decision), of the decision's
symbol first; failing that the earliest difference up to the decision. An input difference is a
bar one run showed and the other did not, or showed with other values, named by what the live run
knew of it -- a bar that came after its step was published (``late bar``), one REST filled
after the decision (``fill``), a minute REST said had no trades at the decision
(``no-trade minute``), a restatement of a shown bar (``correction``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from app.recording.reader import Recording

__all__ = ["Decision", "DecisionDiff", "InputDiff", "Shown", "cause_of", "decisions", "diff_decisions",
           "input_differences", "parity_block", "parity_section", "shown_bars"]

Shown = dict[tuple[date, str, int], tuple[float, ...]]
"""(session, symbol, bar start) -> the OHLCV values a run's steps showed."""

CAUSE_TEXT = {
    "late bar": "arrived after its step was published (the strategy decided without it)",
    "fill": "REST filled it after the decision (the strategy decided without it)",
    "no-trade minute": "REST said no trades at the decision; a bar is there now",
    "correction": "restated after the strategy saw it",
    "missing": "never received live",
    "not in final": "shown live, not in the final bars",
    "shown differently": "the two runs showed this bar differently",
}


@dataclass(frozen=True, slots=True)
class Decision:
    """One order as a run placed it."""

    session: date
    step: int
    phase: str
    placed_at_ns: int
    symbol: str
    side: str
    quantity: int
    type: str
    limit_price: float | None
    tif: str
    accepted: bool

    @property
    def key(self) -> tuple[date, int, str, str]:
        return (self.session, self.placed_at_ns, self.phase, self.symbol)

    @property
    def what(self) -> tuple[Any, ...]:
        """What is compared: everything the strategy chose, and whether a rule refused it."""
        return (self.side, self.quantity, self.type, self.limit_price, self.tif, self.accepted)

    def describe(self) -> str:
        kind = f"limit {self.limit_price:,.2f}" if self.limit_price is not None else "market"
        refused = "" if self.accepted else " (refused by a risk rule)"
        return f"{self.side} {self.quantity:,} {self.symbol} {kind} {self.tif}{refused}"


@dataclass(frozen=True, slots=True)
class InputDiff:
    """A bar the two runs' strategies saw differently, visible from `at_ns` (its end)."""

    session: date
    at_ns: int
    symbol: str
    start_ns: int
    kind: str


@dataclass(frozen=True, slots=True)
class DecisionDiff:
    """A decision one run made and the other did not make, or made otherwise."""

    session: date
    step: int
    at_ns: int
    symbol: str
    a: Decision | None
    b: Decision | None
    cause: InputDiff | None


def decisions(rec: Recording) -> list[Decision]:
    """The recording's orders, in placing order."""
    o = rec.rows("orders")
    out = []
    for i in sorted(range(len(o["order_id"])), key=lambda i: o["order_id"][i]):
        limit = o["limit_price"][i]
        out.append(Decision(o["session"][i], o["step"][i], o["phase"][i], o["placed_at_ns"][i], o["symbol"][i],
                            o["side"][i], o["quantity"][i], o["type"][i], None if limit != limit else limit,
                            o["tif"][i], bool(o["accepted"][i])))
    return out


def shown_bars(rec: Recording) -> Shown:
    """Every bar the recording's steps showed the strategy, with its values."""
    b = rec.rows("bars")
    cols = [b[c] for c in ("session", "symbol", "start_ns", "step", "open", "high", "low", "close", "volume")]
    return {(d, s, t): tuple(v) for d, s, t, k, *v in zip(*cols, strict=True) if k >= 0}


def cause_of(live: Recording) -> Callable[[tuple[date, str, int]], str]:
    """Return what the live run knew of a bar its steps did not show (see the module doc)."""
    b, m = live.rows("bars"), live.rows("minutes")
    no_trades = {(d, s, t) for d, s, t, k in zip(m["session"], m["symbol"], m["start_ns"], m["kind"], strict=True)
                 if k == "no_trades"}
    seen: dict[tuple[date, str, int], list[tuple[int, str]]] = {}
    for d, s, t, r, outcome in zip(b["session"], b["symbol"], b["start_ns"], b["received_ns"], b["outcome"],
                                   strict=True):
        if outcome in ("late", "after_decision"):
            seen.setdefault((d, s, t), []).append((r, outcome))

    def cause(key: tuple[date, str, int]) -> str:
        if key in no_trades:
            return "no-trade minute"
        arrivals = sorted(seen.get(key, []))
        if not arrivals:
            return "missing"
        return "late bar" if arrivals[0][1] == "late" else "fill"

    return cause


def input_differences(live: Shown, other: Shown, base_ns: int,
                      cause: Callable[[tuple[date, str, int]], str]) -> list[InputDiff]:
    """Every bar `live` and `other` showed differently, in the order they became visible."""
    out = []
    for key in live.keys() | other.keys():
        a, b = live.get(key), other.get(key)
        if a == b:
            continue
        kind = cause(key) if a is None else "not in final" if b is None else "correction"
        session, symbol, start = key
        out.append(InputDiff(session, start + base_ns, symbol, start, kind))
    out.sort(key=lambda d: (d.session, d.at_ns, d.symbol))
    return out


def diff_decisions(a: Iterable[Decision], b: Iterable[Decision],
                   inputs: list[InputDiff]) -> tuple[int, list[DecisionDiff]]:
    """Return (identical, differences) between two runs' decisions, each difference with its cause
    (see the module doc; None: the inputs were the same up to that decision)."""
    groups: dict[tuple[date, int, str, str], tuple[list[Decision], list[Decision]]] = {}
    for side, items in ((0, a), (1, b)):
        for d in items:
            groups.setdefault(d.key, ([], []))[side].append(d)
    identical, diffs = 0, []
    agreed: dict[str, tuple[date, int]] = {}  # symbol -> when the runs last made the same decision
    for key in sorted(groups, key=lambda k: (k[0], k[1], k[3])):
        xs, ys = groups[key]
        for i in range(max(len(xs), len(ys))):
            x = xs[i] if i < len(xs) else None
            y = ys[i] if i < len(ys) else None
            ref = x or y
            assert ref is not None
            if x is not None and y is not None and x.what == y.what:
                identical += 1
                agreed[ref.symbol] = (ref.session, ref.placed_at_ns)
                continue
            cause = _cause(inputs, (ref.session, ref.placed_at_ns), ref.symbol, agreed.get(ref.symbol))
            diffs.append(DecisionDiff(ref.session, ref.step, ref.placed_at_ns, ref.symbol, x, y, cause))
    return identical, diffs


def _cause(inputs: list[InputDiff], at: tuple[date, int], symbol: str,
           since: tuple[date, int] | None) -> InputDiff | None:
    before = [d for d in inputs if (d.session, d.at_ns) <= at]
    recent = [d for d in before if since is None or (d.session, d.at_ns) > since]
    for pool in ([d for d in recent if d.symbol == symbol], [d for d in before if d.symbol == symbol], recent, before):
        if pool:
            return pool[0]
    return None


def parity_block(a: list[Decision], b: list[Decision], inputs: list[InputDiff], other: str,
                 fmt: Callable[[int], str]) -> dict[str, Any]:
    """One comparison for parity.json: counts, the input differences and every decision difference."""
    identical, diffs = diff_decisions(a, b, inputs)
    total = max(len(a), len(b))
    kinds: dict[str, int] = {}
    for d in inputs:
        kinds[d.kind] = kinds.get(d.kind, 0) + 1
    return {
        "decisions_live": len(a), f"decisions_{other}": len(b), "identical": identical,
        "parity_pct": round(100.0 * identical / total, 2) if total else 100.0,
        "input_differences": {"count": len(inputs), "by_kind": dict(sorted(kinds.items())),
                              "bars": [_input_json(d, fmt) for d in inputs]},
        "differences": [{
            "session": d.session.isoformat(), "step": d.step, "time": fmt(d.at_ns), "symbol": d.symbol,
            "live": d.a.describe() if d.a else None, other: d.b.describe() if d.b else None,
            "cause": _input_json(d.cause, fmt) if d.cause else
            {"kind": "unexplained", "detail": "the strategy saw the same bars up to this decision"},
        } for d in diffs],
    }


def _input_json(d: InputDiff, fmt: Callable[[int], str]) -> dict[str, Any]:
    return {"kind": d.kind, "symbol": d.symbol, "bar": fmt(d.start_ns), "visible_at": fmt(d.at_ns),
            "detail": f"{d.symbol} {fmt(d.start_ns)}: {CAUSE_TEXT.get(d.kind, d.kind)}"}


def parity_section(parity: dict[str, Any]) -> str:
    """The "Parity" section of report.txt, from parity.json's content."""
    lines = ["Parity", "=" * 50]
    for name, title, other in (("replay", "Live vs replay (same steps, same bars)", "replay"),
                               ("backtest", "Live vs backtest (the bars a store holds after the session)",
                                "backtest")):
        block = parity.get(name)
        if block is None:
            continue
        total = max(block["decisions_live"], block[f"decisions_{other}"])
        lines.append(f"{title}: {block['identical']} of {total} decisions identical ({block['parity_pct']:.2f}%)")
        inputs = block["input_differences"]
        if inputs["count"]:
            kinds = ", ".join(f"{k} {n}" for k, n in inputs["by_kind"].items())
            lines.append(f"  Inputs that differ: {inputs['count']} bars ({kinds})")
            for bar in inputs["bars"][:20]:
                lines.append(f"    - {bar['detail']}")
            if inputs["count"] > 20:
                lines.append(f"    ... {inputs['count'] - 20} more in parity.json")
        for d in block["differences"]:
            cause = d["cause"]
            lines.append(f"  - step {d['step']} {d['time']} {d['symbol']}: live {d['live'] or 'no order'}; "
                         f"{other} {d[other] or 'no order'}")
            lines.append(f"    cause: {cause['kind']}: {cause['detail']}")
    return "\n".join(lines) + "\n"
