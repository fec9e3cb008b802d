"""StepAssembler: live bars arriving in any order become ordered steps; bar_reject_reason."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field, replace

import numpy as np
import pytest
from app.bars.checks import RejectReason, check_bars
from app.feeds.live import LiveBar
from app.feeds.live_steps import Arrival, ClosedStep, StepAssembler, bar_reject_reason
from app.store.bar import BarArrays
from hypothesis import given, settings
from hypothesis import strategies as st

BASE = 60
GRACE = 30
FAR = 10**9


def live_bar(symbol: str, start: int, volume: float = 1.0, *, o: float = 10.0, h: float = 11.0,
             lo: float = 9.0, c: float = 10.5, received: int = 0) -> LiveBar:
    return LiveBar(symbol, start, o, h, lo, c, volume, 1, math.nan, "bar", received)


def assembler(symbols=("A", "B"), base=BASE, grid=0, first=0, end=10 * BASE,
              grace=GRACE) -> StepAssembler:
    return StepAssembler(list(symbols), base, grid, first, end, grace)


# --- random arrival schedules -----------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    symbols: tuple[str, ...]
    grid: int
    first: int
    end: int
    grace: int
    events: tuple[tuple, ...]  # ("bar", now, LiveBar) or ("ready", now, hold), time-ordered

    @property
    def last_now(self) -> int:
        return max((e[1] for e in self.events), default=self.first)


@st.composite
def schedules(draw) -> Schedule:
    symbols = tuple(f"S{i}" for i in range(draw(st.integers(1, 3))))
    grid = draw(st.integers(-2 * BASE, 2 * BASE))
    first = grid + draw(st.integers(0, 3)) * BASE
    n_steps = draw(st.integers(1, 7))
    end = first + n_steps * BASE + draw(st.sampled_from([0, 0, BASE // 2]))  # may be off grid
    grace = draw(st.sampled_from([0, 1, BASE // 2, BASE, 3 * BASE]))
    timed: list[tuple[int, int, tuple]] = []
    serial = 0
    for k in range(n_steps):
        start = first + k * BASE
        for symbol in symbols:
            for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2]))):  # missing, once, or corrected
                serial += 1
                # mostly after its end, some during it
                if draw(st.sampled_from([False, False, True])):
                    now = start + draw(st.integers(0, BASE - 1))
                else:
                    now = start + BASE + draw(st.integers(0, 4 * BASE))
                timed.append((now, 1, ("bar", now, live_bar(symbol, start, serial, received=now))))
                if draw(st.booleans()):  # the stream loop calls ready after filing bars
                    timed.append((now, 2, ("ready", now, draw(st.booleans()))))
    if draw(st.booleans()):  # a bar from before the stream start
        serial += 1
        now = first + draw(st.integers(0, 2 * BASE))
        bar = live_bar(symbols[0], first - BASE, serial, received=now)
        timed.append((now, 0, ("bar", now, bar)))
    for now in draw(st.lists(st.integers(first, end + 6 * BASE), max_size=14)):
        timed.append((now, draw(st.integers(0, 3)), ("ready", now, draw(st.booleans()))))
    timed.sort(key=lambda e: (e[0], e[1]))
    return Schedule(symbols, grid, first, end, grace, tuple(e[2] for e in timed))


@dataclass
class ReadyCall:
    now: int
    hold: bool
    cursor_before: int
    steps: list[ClosedStep]
    # after the call:
    cursor_after: int
    held_rows: dict[int, dict[str, LiveBar]]
    deadline: int


@dataclass
class AddCall:
    now: int
    bar: LiveBar
    result: Arrival
    published_before: list[int]  # starts returned before this add
    expired_before: bool  # a ready(hold=False) at now' >= the bar's end + grace came before
    held_before: bool  # an accepted bar with this (symbol, start) was held


@dataclass
class Trace:
    schedule: Schedule
    adds: list[AddCall] = field(default_factory=list)
    readies: list[ReadyCall] = field(default_factory=list)
    final: list[ClosedStep] = field(default_factory=list)
    drained: tuple[list[ClosedStep], int] = ([], 0)
    final_held: int = -1
    held_at_end: dict[int, dict[str, LiveBar]] = field(default_factory=dict)

    def all_steps(self) -> list[ClosedStep]:
        return [s for r in self.readies for s in r.steps] + self.final + self.drained[0]


def drive(sched: Schedule, drain_at: int | None = None) -> Trace:
    """Play the schedule, then ready(FAR) and drain(FAR) (or only drain(drain_at))."""
    asm = StepAssembler(sched.symbols, BASE, sched.grid, sched.first, sched.end, sched.grace)
    trace = Trace(sched)
    held: dict[int, dict[str, LiveBar]] = {}  # accepted, not yet returned, as the test saw it
    published: list[int] = []
    nonhold_nows: list[int] = []
    for kind, now, arg in sched.events:
        if kind == "bar":
            bar: LiveBar = arg
            was_held = bar.symbol in held.get(bar.start_ns, {})
            expired = any(t >= bar.start_ns + BASE + sched.grace for t in nonhold_nows)
            result = asm.add(bar, now)
            trace.adds.append(AddCall(now, bar, result, list(published), expired, was_held))
            if result in (Arrival.PENDING, Arrival.REPLACED):
                held.setdefault(bar.start_ns, {})[bar.symbol] = bar
        else:
            hold = arg
            before = asm.next_start_ns
            steps = asm.ready(now, hold=hold)
            for step in steps:
                held.pop(step.start_ns, None)
                published.append(step.start_ns)
            if not hold:
                nonhold_nows.append(now)
            rows = {s: dict(r) for s, r in held.items()}
            deadline = asm.next_deadline_ns()
            after = asm.next_start_ns
            trace.readies.append(ReadyCall(now, hold, before, steps, after, rows, deadline))
            check_deadline(asm, sched, now, rows)
    trace.held_at_end = held
    if drain_at is None:
        trace.final = asm.ready(FAR)
    trace.drained = asm.drain(FAR if drain_at is None else drain_at)
    trace.final_held = asm.held
    return trace


def check_deadline(asm: StepAssembler, sched: Schedule, now: int,
                   rows: dict[int, dict[str, LiveBar]]) -> None:
    """next_deadline_ns is start+base (next step complete) else +grace; nothing closes sooner."""
    cursor, deadline = asm.next_start_ns, asm.next_deadline_ns()
    if cursor + BASE > sched.end:
        return
    row = rows.get(cursor, {})
    complete = len(row) == len(sched.symbols)
    assert deadline == cursor + BASE + (0 if complete else sched.grace)
    if deadline - 1 >= now:
        assert copy.deepcopy(asm).ready(deadline - 1) == []
    if row:
        at_deadline = copy.deepcopy(asm).ready(max(deadline, now))
        assert at_deadline and at_deadline[0].start_ns == cursor


def reference_steps(sched: Schedule) -> list[tuple[str, object]]:
    """A step-by-step model of the documented rules: the add results and ready outputs."""
    nxt, held, out = sched.first, {}, []
    for kind, now, arg in sched.events:
        if kind == "bar":
            bar = arg
            if bar.start_ns < nxt:
                out.append(("add", Arrival.LATE))
                continue
            row = held.setdefault(bar.start_ns, {})
            out.append(("add", Arrival.REPLACED if bar.symbol in row else Arrival.PENDING))
            row[bar.symbol] = bar
            continue
        hold, steps = arg, []
        while nxt + BASE <= now and nxt < sched.end:
            row = held.get(nxt, {})
            expired = not hold and nxt + BASE + sched.grace <= now
            if len(row) == len(sched.symbols) or (row and expired):
                steps.append(ClosedStep(nxt, tuple(row.get(s) for s in sched.symbols)))
                del held[nxt]
            elif not expired:
                break
            nxt += BASE
        out.append(("ready", steps))
    return out


@given(schedules())
def test_steps_come_out_once_in_strictly_increasing_time_order(sched):
    trace = drive(sched)
    starts = [s.start_ns for s in trace.all_steps()]
    assert starts == sorted(set(starts))
    assert all((s - sched.grid) % BASE == 0 for s in starts)
    assert all(sched.first <= s and s + BASE <= sched.end for s in starts)


@given(schedules())
def test_a_step_is_never_returned_before_its_interval_ends(sched):
    trace = drive(sched)
    for call in trace.readies:
        for step in call.steps:
            assert call.now >= step.start_ns + BASE


@given(schedules())
def test_every_bar_is_published_once_in_its_latest_version_or_reported_late(sched):
    trace = drive(sched)
    latest: dict[tuple[str, int], LiveBar] = {}
    for add in trace.adds:
        assert add.result in (Arrival.PENDING, Arrival.REPLACED, Arrival.LATE)
        passed = add.bar.start_ns < sched.first or add.expired_before \
            or any(s >= add.bar.start_ns for s in add.published_before)
        assert (add.result is Arrival.LATE) == passed, add
        if add.result is not Arrival.LATE:
            assert (add.result is Arrival.REPLACED) == add.held_before
            latest[add.bar.key] = add.bar
    published = [b for step in trace.all_steps() for b in step.bars if b is not None]
    assert len(published) == len(set(published))
    assert sorted(published, key=lambda b: b.key) == sorted(latest.values(), key=lambda b: b.key)
    for step in trace.all_steps():
        for symbol, bar in zip(sched.symbols, step.bars, strict=True):
            assert bar is None or (bar.symbol, bar.start_ns) == (symbol, step.start_ns)
    assert trace.drained == ([], 0) and trace.final_held == 0


@given(schedules())
def test_a_complete_step_closes_at_the_first_ready_after_its_end_unless_blocked(sched):
    trace = drive(sched)
    n = len(sched.symbols)
    for call in trace.readies:
        for start, row in call.held_rows.items():
            if len(row) < n or start + BASE > call.now:
                continue
            assert start >= call.cursor_after  # still ahead of the cursor: not lost
            blockers = [g for g in range(call.cursor_after, start, BASE)
                        if len(call.held_rows.get(g, {})) < n
                        and (call.hold or g + BASE + sched.grace > call.now)]
            assert blockers, (start, call)


@given(schedules())
def test_incomplete_steps_wait_for_grace_and_held_ones_block_everything_after(sched):
    trace = drive(sched)
    for call in trace.readies:
        for step in call.steps:
            if any(b is None for b in step.bars):
                assert not call.hold
                assert call.now >= step.start_ns + BASE + sched.grace
        if call.hold:  # only complete steps, contiguous from the cursor: an incomplete one stops
            contiguous = [call.cursor_before + i * BASE for i in range(len(call.steps))]
            assert [s.start_ns for s in call.steps] == contiguous


@given(schedules())
def test_empty_steps_are_never_returned(sched):
    trace = drive(sched)
    assert all(any(b is not None for b in step.bars) for step in trace.all_steps())


@given(schedules(), st.sampled_from([100, 90, 75, 50, 25]), st.sampled_from([0, 1, 30, "end"]))
def test_drain_returns_held_steps_that_ended_in_order_and_counts_the_rest_dropped(
        sched, percent, after):
    cut = sched.first + (sched.last_now - sched.first) * percent // 100  # the stream stops here
    sched = replace(sched, events=tuple(e for e in sched.events if e[1] <= cut))
    next_end = cut - (cut - sched.grid) % BASE + BASE
    drain_at = next_end if after == "end" else cut + after
    trace = drive(sched, drain_at=drain_at)
    held = trace.held_at_end
    steps, dropped = trace.drained
    assert steps == [ClosedStep(s, tuple(held[s].get(x) for x in sched.symbols))
                     for s in sorted(held) if s + BASE <= drain_at]
    assert dropped == sum(len(row) for s, row in held.items() if s + BASE > drain_at)
    assert trace.final_held == 0


@given(schedules())
def test_add_and_ready_match_a_step_by_step_reference(sched):
    trace = drive(sched)
    got = []
    adds, readies = iter(trace.adds), iter(trace.readies)
    for kind, _, _ in sched.events:
        got.append(("add", next(adds).result) if kind == "bar" else ("ready", next(readies).steps))
    assert got == reference_steps(sched)


# --- hand-written examples --------------------------------------------------------------------


def test_a_complete_step_closes_as_soon_as_its_interval_ends():
    asm = assembler()
    a, b = live_bar("A", 0), live_bar("B", 0)
    assert asm.add(a, 30) is Arrival.PENDING  # during its own interval: accepted, not shown
    assert asm.add(b, 59) is Arrival.PENDING
    assert asm.ready(59) == []
    assert asm.ready(60) == [ClosedStep(0, (a, b))]
    assert asm.ready(1000) == []
    assert asm.held == 0


def test_an_incomplete_step_waits_for_the_grace_period_then_closes_with_none():
    asm = assembler()
    a = live_bar("A", 0)
    asm.add(a, 60)
    assert asm.ready(60) == []
    assert asm.ready(60 + GRACE - 1) == []
    assert asm.ready(60 + GRACE) == [ClosedStep(0, (a, None))]


def test_a_missing_bar_arriving_within_grace_completes_the_step():
    asm = assembler()
    a, b = live_bar("A", 0), live_bar("B", 0)
    asm.add(a, 60)
    assert asm.ready(70) == []
    asm.add(b, 80)
    assert asm.ready(80) == [ClosedStep(0, (a, b))]


def test_hold_keeps_incomplete_steps_and_blocks_later_complete_ones():
    asm = assembler()
    a0, a1, b1 = live_bar("A", 0), live_bar("A", 60), live_bar("B", 60)
    for bar in (a0, a1, b1):
        asm.add(bar, 120)
    assert asm.ready(1000, hold=True) == []
    assert asm.next_deadline_ns() == 60 + GRACE
    assert asm.ready(1000) == [ClosedStep(0, (a0, None)), ClosedStep(60, (a1, b1))]


def test_hold_still_closes_complete_steps_up_to_the_first_incomplete_one():
    asm = assembler()
    keys = [("A", 0), ("B", 0), ("A", 60), ("A", 120), ("B", 120)]
    bars = {(s, t): live_bar(s, t) for s, t in keys}
    for bar in bars.values():
        asm.add(bar, 200)
    assert asm.ready(1000, hold=True) == [ClosedStep(0, (bars["A", 0], bars["B", 0]))]
    assert asm.ready(1000, hold=True) == []
    late_b = live_bar("B", 60)
    assert asm.add(late_b, 1000) is Arrival.PENDING  # a backfill completes the held step
    assert [s.start_ns for s in asm.ready(1000, hold=True)] == [60, 120]


def test_hold_blocks_on_an_empty_step_too():
    asm = assembler()
    a2, b2 = live_bar("A", 120), live_bar("B", 120)
    asm.add(a2, 180)
    asm.add(b2, 180)
    assert asm.ready(1000, hold=True) == []
    assert asm.ready(1000) == [ClosedStep(120, (a2, b2))]


def test_empty_steps_are_passed_over_once_their_grace_runs_out():
    asm = assembler(grace=90)
    a1, b1 = live_bar("A", 60), live_bar("B", 60)
    asm.add(a1, 120)
    asm.add(b1, 120)
    assert asm.ready(120) == []  # step 0 has no bar yet, and might still get one
    assert asm.ready(60 + 90 - 1) == []
    assert asm.ready(60 + 90) == [ClosedStep(60, (a1, b1))]
    assert asm.add(live_bar("A", 0), 150) is Arrival.LATE


def test_several_empty_steps_are_skipped_in_one_call():
    asm = assembler(end=20 * BASE)
    a, b = live_bar("A", 600), live_bar("B", 600)
    asm.add(a, 700)
    asm.add(b, 700)
    assert asm.ready(700) == [ClosedStep(600, (a, b))]
    assert asm.next_start_ns == 660


def test_a_correction_of_a_held_bar_replaces_it():
    asm = assembler()
    first, fixed = live_bar("A", 0, 1.0), live_bar("A", 0, 2.0)
    assert asm.add(first, 60) is Arrival.PENDING
    assert asm.add(fixed, 61) is Arrival.REPLACED
    assert asm.ready(FAR) == [ClosedStep(0, (fixed, None))]
    assert asm.add(live_bar("A", 0, 3.0), FAR) is Arrival.LATE


@pytest.mark.parametrize(
    ("bar", "now", "expected"),
    [
        (live_bar("C", 120), 200, Arrival.UNKNOWN_SYMBOL),
        (live_bar("A", 121), 200, Arrival.OFF_GRID),
        (live_bar("A", 60), 200, Arrival.LATE),  # before first_start
        (live_bar("A", 0), 200, Arrival.LATE),
        (live_bar("A", 540), 1000, Arrival.OUTSIDE),  # ends after end_ns (= 570)
        (live_bar("A", 600), 1000, Arrival.OUTSIDE),
        (live_bar("A", 180), 179, Arrival.FUTURE),
        (live_bar("A", 180), 180, Arrival.PENDING),  # its own interval has begun
        (live_bar("A", 480), 1000, Arrival.PENDING),  # the last whole step
        (live_bar("A", 120, -1.0), 200, Arrival.REJECTED),
        (live_bar("A", 120, o=math.nan), 200, Arrival.REJECTED),
        (live_bar("A", 120, h=8.0), 200, Arrival.REJECTED),
    ],
)
def test_add_classifies_bars(bar, now, expected):
    asm = assembler(grid=0, first=120, end=570)
    assert asm.add(bar, now) is expected
    assert asm.held == (1 if expected is Arrival.PENDING else 0)


def test_a_bar_ending_after_the_stream_end_stays_outside_after_the_stream_expired():
    asm = assembler(end=600)
    assert asm.ready(600 + GRACE + BASE) == []
    assert asm.add(live_bar("A", 600), 600 + GRACE + BASE) is Arrival.OUTSIDE


def test_next_deadline_waits_for_grace_unless_the_next_step_is_complete():
    asm = assembler(first=120)
    assert asm.next_deadline_ns() == 120 + BASE + GRACE
    asm.add(live_bar("A", 120), 180)
    assert asm.next_deadline_ns() == 120 + BASE + GRACE
    asm.add(live_bar("A", 180), 240)
    asm.add(live_bar("B", 180), 240)
    assert asm.next_deadline_ns() == 120 + BASE + GRACE  # a later complete step does not count
    asm.add(live_bar("B", 120), 240)
    assert asm.next_deadline_ns() == 120 + BASE
    assert len(asm.ready(240)) == 2
    assert asm.next_deadline_ns() == 240 + BASE + GRACE


def test_drain_returns_held_steps_that_ended_in_order_and_drops_the_rest():
    asm = assembler()
    a0, b1, a2, b2 = live_bar("A", 0), live_bar("B", 60), live_bar("A", 120), live_bar("B", 120)
    asm.add(b1, 130)
    asm.add(a0, 130)
    asm.add(a2, 130)
    asm.add(b2, 130)
    assert asm.ready(130, hold=True) == []
    steps, dropped = asm.drain(120)
    assert steps == [ClosedStep(0, (a0, None)), ClosedStep(60, (None, b1))]
    assert dropped == 2
    assert asm.held == 0
    assert asm.drain(FAR) == ([], 0)
    assert asm.add(live_bar("A", 60), 200) is Arrival.LATE


def test_drain_with_nothing_over_drops_every_held_bar():
    asm = assembler()
    asm.add(live_bar("A", 0), 30)
    asm.add(live_bar("B", 0), 30)
    assert asm.drain(59) == ([], 2)


@pytest.mark.parametrize(
    ("base", "grid", "first", "grace"),
    [(0, 0, 0, 0), (-60, 0, 0, 0), (60, 0, 0, -1), (60, 0, 30, 0), (60, 10, 0, 0)],
)
def test_constructor_rejects_bad_parameters(base, grid, first, grace):
    with pytest.raises(ValueError):
        StepAssembler(["A"], base, grid, first, 600, grace)


def test_constructor_accepts_a_first_start_on_a_shifted_grid():
    asm = StepAssembler(["A"], 60, 10, 130, 600, 0)
    assert asm.add(live_bar("A", 130), 190) is Arrival.PENDING
    assert asm.add(live_bar("A", 120), 190) is Arrival.OFF_GRID


# --- bar_reject_reason agrees with check_bars ---------------------------------------------------

_values = st.one_of(
    st.sampled_from([0.0, -0.0, 1.0, 2.0, 3.0, -1.0, math.nan, math.inf, -math.inf]),
    st.floats(allow_nan=True, allow_infinity=True),
)


@settings(max_examples=300)
@given(st.tuples(_values, _values, _values, _values, _values))
def test_bar_reject_reason_agrees_with_check_bars(row):
    o, h, lo, c, v = row
    bar = live_bar("A", 0, v, o=o, h=h, lo=lo, c=c)
    result = check_bars(BarArrays(np.zeros(1, np.int64), *(np.array([x], np.float64) for x in row)))
    expected = RejectReason(int(result.rejected_reason[0])) if result.rejected_count else None
    assert bar_reject_reason(bar) == expected


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ((10.0, 11.0, 9.0, 10.5, 1.0), None),
        ((10.0, 11.0, 9.0, 10.5, 0.0), None),
        ((10.0, 11.0, 9.0, 10.5, math.inf), RejectReason.NAN),
        ((-1.0, 11.0, 9.0, 10.5, math.nan), RejectReason.NAN),
        ((10.0, 11.0, 0.0, 10.5, -1.0), RejectReason.NON_POSITIVE_PRICE),
        ((10.0, 9.0, 11.0, 10.0, 1.0), RejectReason.HIGH_BELOW_LOW),
        ((12.0, 11.0, 9.0, 10.5, 1.0), RejectReason.OPEN_CLOSE_OUTSIDE_RANGE),
        ((10.0, 11.0, 9.0, 10.5, -0.5), RejectReason.NEGATIVE_VOLUME),
    ],
)
def test_bar_reject_reason_examples(row, reason):
    o, h, lo, c, v = row
    assert bar_reject_reason(live_bar("A", 0, v, o=o, h=h, lo=lo, c=c)) == reason


# --- fill at grace (live.fill_wait_s) ---------------------------------------------------------


def test_overdue_names_each_step_whose_grace_ran_out_with_bars_missing_once():
    a = assembler()
    a.add(live_bar("A", 0), BASE)
    assert a.overdue(BASE + GRACE - 1) == []  # grace not over yet
    # Step 0 lacks B; step 1 has nothing at all (both missing); step 2's grace is still running.
    assert a.overdue(2 * BASE + GRACE) == [(0, ("B",)), (BASE, ("A", "B"))]
    a.hold_for_fill(0, FAR)
    a.hold_for_fill(BASE, FAR)
    assert a.overdue(2 * BASE + GRACE) == []  # asked once


def test_a_step_held_for_a_fill_waits_until_its_hold_ends_then_goes_out_without_the_bar():
    a = assembler()
    a.add(live_bar("A", 0), BASE)
    a.hold_for_fill(0, BASE + GRACE + 20)
    assert a.ready(BASE + GRACE + 19) == []
    assert a.next_deadline_ns() == BASE + GRACE + 20
    [step] = a.ready(BASE + GRACE + 20)
    assert step.start_ns == 0 and step.bars[1] is None


def test_a_filled_bar_completes_a_held_step_which_goes_out_at_once():
    a = assembler()
    a.add(live_bar("A", 0), BASE)
    now = BASE + GRACE
    a.hold_for_fill(0, now + 20)
    assert a.add(live_bar("B", 0), now) is Arrival.PENDING  # the REST answer
    [step] = a.ready(now)
    assert all(b is not None for b in step.bars)


def test_a_held_empty_step_filled_from_rest_is_published_not_passed_over():
    a = assembler()
    a.add(live_bar("A", BASE), 2 * BASE)
    a.add(live_bar("B", BASE), 2 * BASE)
    now = BASE + GRACE
    [(start, missing)] = a.overdue(now)
    assert (start, missing) == (0, ("A", "B"))
    a.hold_for_fill(0, now + 20)
    a.add(live_bar("A", 0), now)
    a.add(live_bar("B", 0), now)
    steps = a.ready(2 * BASE)
    assert [s.start_ns for s in steps] == [0, BASE]


def test_a_symbol_rest_confirms_without_trades_is_not_waited_for():
    a = assembler()
    a.add(live_bar("A", 0), BASE)
    now = BASE + GRACE
    a.hold_for_fill(0, now + 20)
    a.settle(0, "B")
    [step] = a.ready(now)
    assert step.bars[1] is None
    # An empty step that REST confirms empty for every symbol is passed over at once.
    b = assembler()
    b.hold_for_fill(0, FAR)
    b.settle(0, "A")
    b.settle(0, "B")
    assert b.ready(BASE + GRACE) == [] and b.next_start_ns == BASE


def test_held_steps_block_later_ones_and_the_hold_is_forgotten_once_published():
    a = assembler()
    a.add(live_bar("A", 0), BASE)
    for k in (1, 2):
        a.add(live_bar("A", k * BASE), (k + 1) * BASE)
        a.add(live_bar("B", k * BASE), (k + 1) * BASE)
    a.hold_for_fill(0, 3 * BASE + 10)
    assert a.ready(3 * BASE) == []  # step 0 held: complete steps 1 and 2 wait behind it
    assert [s.start_ns for s in a.ready(3 * BASE + 10)] == [0, BASE, 2 * BASE]
    assert a.overdue(10 * BASE) == [(k * BASE, ("A", "B")) for k in range(3, 9)]


@settings(max_examples=300, deadline=None)
@given(schedules(), st.integers(1, 3 * BASE), st.randoms(use_true_random=False))
def test_fill_at_grace_keeps_steps_once_in_order_never_early_and_each_hold_bounded(sched, wait, rnd):
    # The stream's fill at grace, played on random schedules: overdue steps are held `wait`
    # longer, some missing bars come from REST, some symbols are confirmed without trades.
    asm = StepAssembler(sched.symbols, BASE, sched.grid, sched.first, sched.end, sched.grace)
    until: dict[int, int] = {}
    settled: dict[int, set[str]] = {}
    kept: dict[tuple[str, int], LiveBar] = {}  # every bar accepted into a step, latest version
    out: list[ClosedStep] = []
    serial = 10**6

    def add(bar: LiveBar, now: int) -> None:
        if asm.add(bar, now) in (Arrival.PENDING, Arrival.REPLACED):
            kept[bar.key] = bar

    for kind, now, arg in sched.events:
        if kind == "bar":
            add(arg, now)
            continue
        hold = arg
        if not hold:  # in sync: the stream asks REST for the overdue steps
            for start, missing in asm.overdue(now):
                assert start not in until, "a step is asked of REST once"
                assert start + BASE + sched.grace <= now
                asm.hold_for_fill(start, now + wait)
                until[start] = now + wait
                for symbol in missing:
                    serial += 1
                    answer_missing(asm, rnd.random(), live_bar(symbol, start, serial, received=now), now, add, settled)
        for step in asm.ready(now, hold=hold):
            check_closed_after_fill(step, sched, now, hold, until, settled)
            out.append(step)
    out += asm.ready(FAR) + asm.drain(FAR)[0]
    starts = [s.start_ns for s in out]
    assert starts == sorted(set(starts)), "each step once, in time order"
    shown = {(b.symbol, b.start_ns): b for s in out for b in s.bars if b is not None}
    assert shown == kept, "every accepted bar is shown once, in its latest version"


def check_closed_after_fill(step: ClosedStep, sched: Schedule, now: int, hold: bool, until: dict[int, int],
                            settled: dict[int, set[str]]) -> None:
    assert step.start_ns + BASE <= now, "never before its interval is over"
    assert any(b is not None for b in step.bars), "empty steps are never returned"
    confirmed = settled.get(step.start_ns, set())
    waiting = [s for s, b in zip(sched.symbols, step.bars, strict=True) if b is None and s not in confirmed]
    if waiting:  # incomplete: only once its grace and its hold (if any) ran out
        assert not hold and now >= max(step.start_ns + BASE + sched.grace, until.get(step.start_ns, 0))


def answer_missing(asm: StepAssembler, r: float, bar: LiveBar, now: int, add, settled: dict[int, set[str]]) -> None:
    # REST has the bar (30 %), confirms the symbol had no trades there (20 %), or has nothing yet.
    if r < 0.3:
        add(bar, now)
    elif r < 0.5:
        asm.settle(bar.start_ns, bar.symbol)
        settled.setdefault(bar.start_ns, set()).add(bar.symbol)
