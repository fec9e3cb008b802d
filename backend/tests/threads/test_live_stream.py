"""LiveStream on a scripted feed and a manual clock: which steps are published, when, and what is kept."""

from __future__ import annotations

from datetime import date

from app.feeds.live import FeedStats, LiveBar
from app.store.bar import parse_interval
from app.store.session_data import SessionData
from app.sync.stop import StopToken
from app.threads.events import StepBatch
from app.threads.live_stream import LiveStream, StreamOutcome
from app.timing.time_manager import TimeManager

S = 1_000_000_000
DAY = date(2024, 1, 2)


class ManualClock:
    def __init__(self, now_ns: int) -> None:
        self.now = now_ns

    def now_ns(self) -> int:
        return self.now

    def real_seconds_until(self, instant_ns: int) -> float:
        return (instant_ns - self.now) / 1e9


class ScriptedFeed:
    """Delivers each scripted bar at its arrival instant; poll() advances the manual clock."""

    def __init__(self, clock: ManualClock, script: list[tuple[int, LiveBar]], offline: tuple[int, int] = (0, 0)) -> None:
        self.clock = clock
        self.script = sorted(script, key=lambda item: item[0])
        self.offline = offline  # [from, to): the feed is out of sync (reconnecting)
        self.stats = FeedStats()
        self.connected = self.closed = False
        self.forgot: list[int] = []

    @property
    def in_sync(self) -> bool:
        return not (self.offline[0] <= self.clock.now < self.offline[1])

    def connect(self, backfill_from_ns: int | None = None) -> None:
        self.connected = True
        self.backfill_from = backfill_from_ns

    def forget_before(self, start_ns: int) -> None:
        self.forgot.append(start_ns)

    def poll(self, timeout_s: float) -> list[LiveBar]:
        until = self.clock.now + max(int(timeout_s * 1e9), 1_000_000)
        if self.script and self.script[0][0] < until:
            until = max(self.clock.now, self.script[0][0])
        self.clock.now = until
        out = []
        while self.script and self.script[0][0] <= self.clock.now:
            out.append(self.script.pop(0)[1])
        return out

    def fetch_bars(self, *args):  # pragma: no cover - not used by LiveStream
        raise AssertionError

    def close(self) -> None:
        self.closed = True


def bar(symbol: str, start: int, price: float, kind: str = "bar", received: int = 0) -> LiveBar:
    return LiveBar(symbol, start, price, price + 1, price - 1, price, 100.0, 1, float("nan"), kind, received)  # type: ignore[arg-type]


def setup(base_label: str, now: int, script, *, deadline: int | None, grace_s: float = 0.5, offline=(0, 0)):
    clock = ManualClock(now)
    tm = TimeManager("24/7", clock)
    open_ns, close_ns = tm.session_bounds_ns(DAY)
    base = parse_interval(base_label)
    data = SessionData(("AAPL", "MSFT"), base, ())
    state = data.prepare_session(DAY, open_ns, close_ns, False)
    from app.store.series import BarSeries

    for s in ("AAPL", "MSFT"):
        state.bars[(s, base.label)] = BarSeries(s, capacity=16)
    feed = ScriptedFeed(clock, script(open_ns, close_ns), offline)
    stream = LiveStream(feed, None, ("AAPL", "MSFT"), base, tm, StopToken(), deadline_ns=deadline and deadline(open_ns),  # type: ignore[arg-type]  # no catch-up here
                        grace_ns=int(grace_s * S))
    return stream, state, feed, clock, open_ns, close_ns


def run(stream, state):
    published: list[tuple[StepBatch, int]] = []
    outcome = stream.stream(state, lambda batch: published.append((batch, stream.tm.now_ns())))
    return outcome, published


def test_steps_publish_in_order_late_bars_are_kept_and_restatements_counted():
    def script(o, _):
        t = lambda k: o + k * S  # noqa: E731 - start of second k
        return [
            (t(11) + 10_000_000, bar("AAPL", t(10), 10)),   # joined at 11: step 10 is before the stream
            (t(12) + 10_000_000, bar("AAPL", t(11), 11)),
            (t(12) + 20_000_000, bar("MSFT", t(11), 21)),   # step 11 complete -> published at once
            (t(13) + 10_000_000, bar("AAPL", t(12), 12)),   # MSFT has no bar at 12 -> after the grace
            (t(13) + 900_000_000, bar("AAPL", t(11), 11.5, "updated")),  # restates a published bar
            (t(14) + 10_000_000, bar("MSFT", t(13), 23)),
            (t(14) + 700_000_000, bar("AAPL", t(13), 13)),  # after 13's grace: late, kept, not shown
            (t(15) + 10_000_000, bar("AAPL", t(14), 14)),
            (t(15) + 20_000_000, bar("MSFT", t(14), 24)),
        ]

    stream, state, feed, clock, o, _ = setup("1s", 0, script, deadline=lambda o: o + 15 * S + 300_000_000)
    clock.now = o + 11 * S  # joins at 11: the bar of step 10 is before the stream
    outcome, published = run(stream, state)
    assert outcome is StreamOutcome.DEADLINE and feed.connected and feed.forgot == [o + 11 * S]
    assert feed.backfill_from == o + 11 * S
    assert state.stream_start_ns == o + 11 * S and state.stream_end_ns == o + 15 * S
    ends = [int(b.ends[0]) for b, _ in published]
    assert ends == [o + 12 * S, o + 13 * S, o + 14 * S, o + 15 * S]
    rows = [b.base_idx[0].tolist() for b, _ in published]
    assert rows == [[0, 0], [1, -1], [-1, 1], [2, 2]]
    at = [t for _, t in published]
    assert at[0] == o + 12 * S + 20_000_000  # complete: published when its last bar arrives
    assert at[1] >= o + 13 * S + 500_000_000  # incomplete: waits the grace
    assert all(t >= int(b.ends[0]) for b, t in published)  # never before the interval is over
    assert state.bars[("AAPL", "1s")].view().open.tolist() == [11, 12, 14]
    assert [b.start_ns for b in state.late["AAPL"]] == [o + 13 * S]
    assert state.corrections == {"AAPL": 1}


def test_while_the_feed_is_out_of_sync_incomplete_steps_wait_for_the_backfill():
    def script(o, _):
        t = lambda k: o + k * S  # noqa: E731
        return [
            (t(2) + 10_000_000, bar("AAPL", t(1), 11)),
            (t(2) + 10_000_000, bar("MSFT", t(1), 21)),
            (t(3) + 10_000_000, bar("AAPL", t(2), 12)),
            # the socket drops; 3 s later the backfill brings MSFT 2, then both of 3
            (t(6), bar("MSFT", t(2), 22)),
            (t(6), bar("AAPL", t(3), 13)),
            (t(6), bar("MSFT", t(3), 23)),
        ]

    stream, state, _, clock, o, _ = setup("1s", 0, script, deadline=lambda o: o + 6 * S + 500_000_000,
                                          offline=(0, 0))
    stream.feed.offline = (o + 3 * S, o + 6 * S)
    clock.now = o + 500_000_000
    outcome, published = run(stream, state)
    assert outcome is StreamOutcome.DEADLINE
    assert [b.base_idx[0].tolist() for b, _ in published] == [[0, 0], [1, 1], [2, 2]]
    assert [t - o for _, t in published] == [2 * S + 10_000_000, 6 * S, 6 * S]  # held, not given up
    assert not state.late and not state.rejected


def test_a_bar_failing_the_value_checks_is_counted_not_shown():
    def script(o, _):
        return [(o + 2 * S, bar("AAPL", o + S, 0.5)), (o + 2 * S, bar("MSFT", o + S, 20))]  # AAPL low < 0

    stream, state, _, clock, o, _ = setup("1s", 0, script, deadline=lambda o: o + 3 * S)
    clock.now = o + 500_000_000
    run(stream, state)
    assert state.rejected == {"AAPL": {"NON_POSITIVE_PRICE": 1}}
    assert len(state.bars[("AAPL", "1s")]) == 0 and len(state.bars[("MSFT", "1s")]) == 1


def test_a_daily_base_publishes_one_step_at_the_close_with_the_bar_at_the_open():
    def script(o, c):
        return [(c - 5 * S, bar("AAPL", o - 5 * 3600 * S, 50)),   # provider stamp: midnight exchange time
                (c + 100_000_000, bar("AAPL", o - 5 * 3600 * S, 51, "updated")),
                (c + 100_000_000, bar("MSFT", o, 60))]

    stream, state, feed, clock, o, c = setup("1d", 0, script, deadline=None, grace_s=1.0)
    clock.now = c - 10 * S
    outcome, published = run(stream, state)
    assert outcome is StreamOutcome.CLOSE
    assert feed.closed and not stream._connected  # reconnects at the next session's open
    [(batch, at)] = published
    assert int(batch.ends[0]) == c and at >= c
    view = state.bars[("AAPL", "1d")].view()
    assert view.start.tolist() == [o] and view.open.tolist() == [51]  # the restatement replaced it
    assert state.corrections == {"AAPL": 1}


def test_a_deadline_before_the_open_ends_without_streaming():
    stream, state, feed, clock, o, _ = setup("1s", 0, lambda o, c: [], deadline=lambda o: o - S)
    clock.now = o - S // 2  # the deadline has passed, the session has not opened
    outcome, published = run(stream, state)
    assert outcome is StreamOutcome.NOT_STARTED and not published and not feed.connected


def test_joining_mid_interval_streams_the_step_in_progress_and_backfills_from_its_start():
    def script(o, _):
        return [(o + 11 * S + 10_000_000, bar("AAPL", o + 10 * S, 10)), (o + 11 * S + 10_000_000, bar("MSFT", o + 10 * S, 20))]

    stream, state, feed, clock, o, _ = setup("1s", 0, script, deadline=lambda o: o + 12 * S)
    clock.now = o + 10 * S + 300_000_000
    outcome, published = run(stream, state)
    assert state.stream_start_ns == o + 10 * S and feed.backfill_from == o + 10 * S
    assert [b.base_idx[0].tolist() for b, _ in published] == [[0, 0]]


def test_consecutive_sessions_reconnect_at_the_next_open_and_each_keeps_its_own_bars():
    def script(o, c):
        return [(c - S + 10_000_000, bar("AAPL", c - 2 * S, 10)), (c - S + 10_000_000, bar("MSFT", c - 2 * S, 20)),
                (c + 10_000_000, bar("AAPL", c - S, 11)), (c + 10_000_000, bar("MSFT", c - S, 21)),
                (c + S + 10_000_000, bar("AAPL", c, 12)), (c + S + 10_000_000, bar("MSFT", c, 22))]  # next day

    stream, day1, feed, clock, o, c = setup("1s", 0, script, deadline=lambda o: o + 86_400 * S + 2 * S)
    clock.now = c - 2 * S
    outcome1, published1 = run(stream, day1)
    assert outcome1 is StreamOutcome.CLOSE and feed.closed and day1.stream_end_ns == c
    assert [int(b.ends[0]) for b, _ in published1] == [c - S, c]
    from app.store.series import BarSeries

    day2 = SessionData(("AAPL", "MSFT"), parse_interval("1s"), ()).prepare_session(
        date(2024, 1, 3), c, c + 86_400 * S, False)
    for s in ("AAPL", "MSFT"):
        day2.bars[(s, "1s")] = BarSeries(s, capacity=16)
    feed.connected = False
    outcome2, published2 = run(stream, day2)
    assert outcome2 is StreamOutcome.DEADLINE and feed.connected and feed.backfill_from == day2.stream_start_ns
    assert day2.bars[("AAPL", "1s")].view().open.tolist() == [12]
    assert day1.bars[("AAPL", "1s")].view().open.tolist() == [10, 11]
