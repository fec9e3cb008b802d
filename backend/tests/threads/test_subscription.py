"""StreamSubscription across real threads: order, end, stop wake-ups, acks."""

from __future__ import annotations

import threading

import pytest

from app.errors import InvariantError
from app.sync import StopToken, StreamSubscription, WaitStatus


def test_consumer_sees_every_event_in_order_then_ended():
    stop = StopToken()
    sub = StreamSubscription("P→C", stop)
    seen: list[int] = []

    def consumer() -> None:
        after = 0
        while True:
            status, seq = sub.wait(after, timeout_s=10)
            if status is not WaitStatus.READY:
                seen.append(-1 if status is WaitStatus.ENDED else -2)
                return
            seen.extend(sub.events(after, seq))
            sub.ack(seq)
            after = seq

    t = threading.Thread(target=consumer, name="Consumer")
    t.start()
    for i in range(2000):
        sub.publish(i)
    sub.end()
    t.join(10)
    assert seen == [*range(2000), -1]
    assert sub.statistics().signals == 2000


def test_stop_wakes_a_blocked_consumer_and_a_blocked_producer_promptly():
    # Arrange: a consumer waiting on an empty stream, a producer waiting for an ack.
    stop = StopToken()
    empty = StreamSubscription("A→B", stop)
    unacked = StreamSubscription("B→C", stop)
    results: dict[str, WaitStatus] = {}
    ready = threading.Barrier(3, timeout=5)

    def consumer() -> None:
        ready.wait()
        results["consumer"] = empty.wait(0)[0]

    def producer() -> None:
        seq = unacked.publish("x")
        ready.wait()
        results["producer"] = unacked.wait_ack(seq)

    threads = [threading.Thread(target=consumer, name="C"), threading.Thread(target=producer, name="P")]
    for t in threads:
        t.start()
    ready.wait()

    # Act
    stop.set("test stop")
    for t in threads:
        t.join(2)

    # Assert: both returned (the waits have no deadline of their own) with STOPPED.
    assert not any(t.is_alive() for t in threads)
    assert results == {"consumer": WaitStatus.STOPPED, "producer": WaitStatus.STOPPED}
    assert stop.reason == "test stop"


def test_wait_after_end_never_blocks():
    sub = StreamSubscription("P→C", StopToken())
    sub.publish(1)
    sub.end()
    assert sub.wait(1, timeout_s=5) == (WaitStatus.ENDED, 1)
    assert sub.wait(0, timeout_s=5) == (WaitStatus.READY, 1)


def test_timeout_is_reported():
    sub = StreamSubscription("P→C", StopToken())
    assert sub.wait(0, timeout_s=0.01) == (WaitStatus.TIMEOUT, 0)


def test_ack_going_back_is_an_invariant_error():
    sub = StreamSubscription("P→C", StopToken())
    sub.publish(1)
    sub.publish(2)
    sub.ack(2)
    with pytest.raises(InvariantError, match="P→C: ack went back from 2 to 1"):
        sub.ack(1)


def test_acked_events_are_released_so_a_long_run_does_not_keep_every_session():
    # Arrange: a payload we can watch die, followed by enough traffic to trigger a trim.
    import gc
    import weakref

    class Payload:
        pass

    sub = StreamSubscription("P→C", StopToken())
    first = Payload()
    ref = weakref.ref(first)
    seq = sub.publish(first)
    del first
    sub.ack(seq)

    # Act
    for i in range(100):
        sub.ack(sub.publish(i))
    gc.collect()

    # Assert: released, the remaining events still readable, the dropped ones refused.
    assert ref() is None
    assert sub.events(100, 101) == [99]
    with pytest.raises(InvariantError, match=r"P→C: events after 0 requested, but \d+ were acked and dropped"):
        sub.events(0, 1)


def test_overrun_is_counted_only_while_the_consumer_is_busy_with_its_lateness():
    class Due:
        due_ns = 1_000

    sub = StreamSubscription("P→C", StopToken())
    assert sub.check_overrun(now_ns=5_000) is False
    sub.publish(Due())
    assert sub.check_overrun(now_ns=5_000) is True
    sub.ack(1)
    assert sub.check_overrun(now_ns=9_000) is False
    assert sub.statistics().overruns == 1
    assert sub.statistics().max_lag_ns == 4_000
    assert sub.reset_max_lag() == 4_000 and sub.statistics().max_lag_ns == 0  # per session
