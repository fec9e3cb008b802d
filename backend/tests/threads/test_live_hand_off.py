"""The live hand-off kept short: the processor gets each step first, with the step's bars as
columns; DataUpkeep and the recording get it once it is on its way; the garbage collector is
off while a session streams and restored after; the one-check fast paths give what the
field-by-field checks give."""

from __future__ import annotations

import gc
import math

import numpy as np
from app.feeds._alpaca_wire import _parse_checked, parse_bar
from app.feeds.live import BarDeduper, LiveBar
from app.metrics.collect import RunMetrics
from app.sync.stop import StopToken
from app.sync.subscription import StreamSubscription
from app.threads.live_gc import QuietCollector
from app.threads.live_step_source import LiveSteps
from hypothesis import given, settings
from hypothesis import strategies as st
from test_live_stream import S, bar, setup


def test_the_processor_gets_each_step_first_and_the_others_get_every_step_in_order():
    def script(open_ns, close_ns):
        out = []
        for k in range(4):
            for s, sym in enumerate(("AAPL", "MSFT")):
                if (k, sym) != (2, "MSFT"):  # MSFT has no bar in step 2
                    out.append((open_ns + (k + 1) * S, bar(sym, open_ns + k * S, 10.0 + k + 5 * s)))
        return out

    stream, state, _feed, clock, open_ns, _ = setup("1s", 0, script, deadline=lambda o: o + 4 * S)
    clock.now = open_ns
    stop = StopToken()
    processor, upkeep = StreamSubscription("p", stop), StreamSubscription("u", stop)
    steps = LiveSteps(stream, (processor, upkeep), RunMetrics("live", 0.0))
    seen: list[tuple[int, int, bool]] = []  # per hand-off: processor's and upkeep's events, gc on
    publish = processor.publish

    def spy(event):
        seq = publish(event)
        seen.append((seq, upkeep.backlog + upkeep.acked, gc.isenabled()))
        return seq

    processor.publish = spy  # type: ignore[method-assign]
    was_enabled = gc.isenabled()
    steps.stream(state)
    assert gc.isenabled() == was_enabled
    batches = processor.events(0, len(seen))
    assert [b.lo for b in batches] == [0, 1, 2, 3]
    assert all(up < seq for seq, up, _ in seen)  # upkeep was a step behind at each hand-off
    assert not any(on for _, _, on in seen)  # no automatic collection while streaming
    assert upkeep.events(0, upkeep.backlog) == batches  # in the end: every step, in order
    for batch in batches:  # the columns are the rows just appended
        rows = [(s, int(r)) for s, r in enumerate(batch.base_idx[0]) if r >= 0]
        expect = [state.bars[(("AAPL", "MSFT")[s], "1s")].row(r) for s, r in rows]
        got = list(zip(*(col.tolist() for col in batch.bars), strict=True))
        assert got == expect
    assert len(batches[2].bars) == 1


def test_the_quiet_collector_frees_cycles_when_asked_and_restores_the_collector():
    class Node:
        def __init__(self) -> None:
            self.me = self

    was_enabled = gc.isenabled()
    with QuietCollector() as quiet:
        assert not gc.isenabled()
        import weakref

        ref = weakref.ref(Node())
        assert ref() is not None  # a cycle: reference counting cannot free it
        quiet.collect()
        assert ref() is None
    assert gc.isenabled() == was_enabled


_values = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**70), 2**70),
                    st.booleans(), st.none(), st.text(max_size=3))


@given(st.fixed_dictionaries({}, optional={
    "S": st.one_of(st.sampled_from(["AAPL", ""]), _values), "t": st.sampled_from(["2024-03-01T14:31:00Z", "x"]),
    "o": _values, "h": _values, "l": _values, "c": _values, "v": _values, "n": _values, "vw": _values}))
@settings(max_examples=300, deadline=None)
def test_parse_bar_gives_what_the_field_by_field_checks_give(msg):
    def outcome(parse):
        try:
            got = parse()
        except (ValueError, OverflowError) as e:
            return type(e), str(e)
        return tuple("nan" if isinstance(x, float) and math.isnan(x) else x for x in
                     (got.symbol, got.start_ns, got.open, got.high, got.low, got.close, got.volume, got.trade_count,
                      got.vwap, got.kind, got.received_ns, got.origin))

    assert outcome(lambda: parse_bar(msg, 7, "bar")) == outcome(lambda: _parse_checked(msg, 7, "bar", None))


@given(st.lists(st.tuples(st.sampled_from(["A", "B"]), st.integers(0, 3), st.sampled_from([1.0, 2.0]),
                          st.sampled_from(["bar", "updated", "daily"]), st.booleans()), max_size=30))
def test_offer_is_has_then_accept(events):
    one, two = BarDeduper(), BarDeduper()
    for symbol, start, close, kind, final in events:
        b = LiveBar(symbol, start, 1.0, 3.0, 0.5, close, 10.0, 1, np.nan, kind, 0)
        known = one.has(symbol, start)
        assert two.offer(b, final=final) == (one.accept(b, final=final), known)
