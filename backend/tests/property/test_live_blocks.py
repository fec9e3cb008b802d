"""The live block path (a frame's bars as columns) against the per-bar path it stands in for:
parse_block vs parse_bar, BarDeduper.offer_block vs offer, StepAssembler.add_block vs add and
the emitted steps (StepEmitter on a BarPanel), bit for bit."""

from __future__ import annotations

import math
from itertools import groupby

import numpy as np
from app.feeds._alpaca_wire import parse_bar, parse_block
from app.feeds.live import BarDeduper, LiveBar
from app.feeds.live_block import BarBlock
from app.feeds.live_steps import Arrival, StepAssembler
from app.store.panel import BarPanel
from app.threads.live_step_source import StepEmitter
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_live_steps import BASE, Schedule, schedules

SYMBOLS = ("AAA", "BBB", "CCC", "DDD")
STAMPS = ("2024-03-01T14:30:00Z", "2024-03-01T14:31:00Z", "2024-03-01T14:30:00.5Z")
prices = st.floats(0.01, 1e6, allow_nan=False)
# Everything a field may hold: the plain types and what the per-bar path refuses or converts.
odd = st.sampled_from([None, True, "1.5", 3, float("nan"), float("inf"), [1.0], 2**60, 10**400])


def bar_key(bar: LiveBar | None) -> tuple | None:
    if bar is None:
        return None
    return (bar.symbol, bar.start_ns, bar.open, bar.high, bar.low, bar.close, bar.volume, bar.trade_count,
            None if math.isnan(bar.vwap) else bar.vwap, bar.kind, bar.received_ns)


@st.composite
def frames(draw):
    """A frame of bar messages: plain, or with one field perturbed (or a symbol repeated, etc.)."""
    k = draw(st.sampled_from([1, 2, 2, 3, 4]))
    names = draw(st.lists(st.sampled_from(SYMBOLS), min_size=k, max_size=k, unique=True))
    stamp = draw(st.sampled_from(STAMPS))
    msgs = []
    for name in names:
        lo, o, c, h = sorted(draw(st.lists(prices, min_size=4, max_size=4)))
        msgs.append({"T": "b", "S": name, "o": o, "h": h, "l": lo, "c": c,
                     "v": draw(st.one_of(st.integers(0, 10**9), st.floats(0, 1e9))), "t": stamp,
                     "n": draw(st.integers(0, 1000)), "vw": draw(prices)})
    plain = draw(st.booleans())
    if not plain:
        m = msgs[draw(st.integers(0, k - 1))]
        what = draw(st.sampled_from(["field", "field", "drop", "T", "S", "t", "t", "dup"]))
        if what == "field":
            m[draw(st.sampled_from(["o", "h", "l", "c", "v", "n", "vw"]))] = draw(odd)
        elif what == "drop":
            del m[draw(st.sampled_from(["o", "v", "n", "vw", "S", "t"]))]
        elif what == "T":
            m["T"] = draw(st.sampled_from(["u", "d", "q"]))
        elif what == "S":
            m["S"] = draw(st.sampled_from(["ZZZ", "", 7]))
        elif what == "t":
            m["t"] = draw(st.sampled_from(["2024-03-01T14:32:00Z", "2024-03-01T14:32:00Z", "not a time", 12]))
        else:
            msgs.append(dict(msgs[0]))
    return msgs, plain and k >= 2


def parsed_one_by_one(msgs, received):
    out = []
    for m in msgs:
        try:
            out.append(parse_bar(m, received, "bar"))
        except ValueError:
            out.append(None)
    return out


def two(**change):
    msgs = [{"T": "b", "S": s, "o": 10.0, "h": 11.0, "l": 9.0, "c": 10.5, "v": 100, "t": STAMPS[0], "n": 1,
             "vw": 10.2} for s in SYMBOLS[:2]]
    msgs[1].update(change)
    return msgs, not change


@settings(deadline=None)
@given(case=frames(), use_own=st.booleans(),
       other=st.lists(st.sampled_from(SYMBOLS), unique=True).map(tuple))
@example(case=two(), use_own=True, other=())
@example(case=two(t=STAMPS[1]), use_own=True, other=())
@example(case=two(S=SYMBOLS[0]), use_own=True, other=())
@example(case=two(v=True), use_own=True, other=())
@example(case=two(o=10), use_own=True, other=())
@example(case=two(v=2**60), use_own=True, other=())
@example(case=two(vw=float("nan")), use_own=True, other=())
def test_a_block_holds_exactly_the_bars_parsed_one_by_one(case, use_own, other):
    # Arrange: the previous block's symbols (`known`) are this frame's, or others
    msgs, plain = case
    own = tuple(m.get("S") for m in msgs)
    mine = set(own) <= set(SYMBOLS) and len(set(own)) == len(own)
    known = own if use_own and mine else other
    # Act
    block = parse_block(msgs, 123, frozenset(SYMBOLS), known)
    # Assert: a plain frame is one block; a block's bars are the messages' bars, in frame order
    if plain:
        assert block is not None
    if block is not None:
        singles = parsed_one_by_one(msgs, 123)
        assert None not in singles and all(m["T"] == "b" for m in msgs)
        assert [bar_key(b) for b in block.bars()] == [bar_key(b) for b in singles]
        assert len(set(block.symbols)) == len(block) and set(block.symbols) <= set(SYMBOLS)


@st.composite
def deliveries(draw):
    """Blocks of first deliveries, some keys seen before (with the same or other values)."""
    out = []
    for _ in range(draw(st.integers(1, 6))):
        start = draw(st.integers(0, 3)) * BASE
        names = tuple(draw(st.lists(st.sampled_from(SYMBOLS), min_size=1, max_size=4, unique=True)))
        closes = draw(st.lists(st.sampled_from([10.0, 10.5]), min_size=len(names), max_size=len(names)))
        k = len(names)
        values = ([10.0] * k, [11.0] * k, [9.0] * k, closes, [1.0] * k)
        out.append(BarBlock(start, names, values, (1,) * k, [10.0] * k, 0))
    return out


@settings(deadline=None)
@given(blocks=deliveries())
def test_offer_block_accepts_and_remembers_as_offer_does(blocks):
    # Arrange: one deduper offered blocks whole (bar by bar when refused), one bar by bar
    whole, each = BarDeduper(), BarDeduper()
    got, want = [], []
    for block in blocks:
        # Act
        if whole.offer_block(block.symbols, block.start_ns, block.values):
            got += [bar_key(b) for b in block.bars()]
        else:
            got += [bar_key(r) for r, _ in map(whole.offer, block.bars()) if r is not None]
        want += [bar_key(r) for r, _ in map(each.offer, block.bars()) if r is not None]
    # Assert
    assert got == want
    assert whole._seen == each._seen
    assert (whole.duplicates, whole.corrections) == (each.duplicates, each.corrections)


def as_block(bars: list[LiveBar]) -> BarBlock:
    o, h, lo, c, v = (list(col) for col in zip(*[(b.open, b.high, b.low, b.close, b.volume) for b in bars],
                                               strict=True))
    return BarBlock(bars[0].start_ns, tuple(b.symbol for b in bars), (o, h, lo, c, v),
                    tuple(b.trade_count for b in bars), [b.vwap for b in bars], bars[0].received_ns)


@st.composite
def blocked_schedules(draw):
    """A schedule of arrivals, its bars grouped into blocks where they share the instant and start,
    some with a bar made invalid or of an unknown symbol (the block is then filed bar by bar)."""
    sched: Schedule = draw(schedules())
    events: list[tuple] = []
    for _, group in groupby(sched.events, key=lambda e: (e[0], e[1], e[2].start_ns if e[0] == "bar" else None)):
        run = list(group)
        if run[0][0] != "bar":
            events += run
            continue
        bars = [e[2] for e in run]
        if draw(st.integers(0, 3)) == 0:
            j = draw(st.integers(0, len(bars) - 1))
            b = bars[j]
            bars[j] = (LiveBar("ZZ", b.start_ns, b.open, b.high, b.low, b.close, b.volume, 1, b.vwap, "bar",
                               b.received_ns) if draw(st.booleans()) else
                       LiveBar(b.symbol, b.start_ns, b.open, b.low, b.high, b.close, b.volume, 1, b.vwap, "bar",
                               b.received_ns))  # high below low: rejected
        uniq = len({b.symbol for b in bars}) == len(bars)
        if uniq and draw(st.booleans()):
            events.append(("block", run[0][1], bars))
        else:
            events += [("bar", run[0][1], b) for b in bars]
    return sched, events


@settings(deadline=None)
@given(case=blocked_schedules())
def test_blocks_close_and_emit_the_same_steps_as_bars_filed_one_by_one(case):
    # Arrange: one assembler and emitter fed blocks (bar by bar when refused), one fed bars only
    sched, events = case
    args = (sched.symbols, BASE, sched.grid, sched.first, sched.end, sched.grace)
    fast, slow = StepAssembler(*args), StepAssembler(*args)
    batches: dict[str, list] = {"fast": [], "slow": []}
    panels = {name: BarPanel([f"{s}/1m" for s in sched.symbols], 16) for name in batches}
    emit = {name: StepEmitter(panels[name], BASE, batches[name].append) for name in batches}
    closed_fast, closed_slow = [], []
    for kind, now, payload in events:
        # Act
        if kind == "ready":
            for name, asm, closed in (("fast", fast, closed_fast), ("slow", slow, closed_slow)):
                for step in asm.ready(now, hold=payload):
                    closed.append([bar_key(step.bar(i)) for i in range(len(sched.symbols))])
                    emit[name].emit(step)
            continue
        bars = payload if kind == "block" else [payload]
        outcomes = [slow.add(b, now) for b in bars]
        if kind == "block" and fast.add_block(as_block(bars), now):
            assert outcomes == [Arrival.PENDING] * len(bars)  # taken whole only when each is pending
        else:
            assert [fast.add(b, now) for b in bars] == outcomes
    # Assert: the same steps with the same bars; the same batches and series
    assert closed_fast == closed_slow
    assert fast.held == slow.held and fast.next_start_ns == slow.next_start_ns
    assert len(batches["fast"]) == len(batches["slow"])
    for a, b in zip(batches["fast"], batches["slow"], strict=True):
        assert a.received_ns == b.received_ns and np.array_equal(a.base_idx, b.base_idx)
        assert np.array_equal(a.rows_after, b.rows_after) and np.array_equal(a.ends, b.ends)
        for x, y in zip(a.bars, b.bars, strict=True):
            assert np.array_equal(x, y) and x.dtype == y.dtype
    for x, y in zip(panels["fast"].series, panels["slow"].series, strict=True):
        for cx, cy in zip(x.view(), y.view(), strict=True):
            assert np.array_equal(cx, cy)
