"""TradeUpdates: keeps the broker's ``trade_updates`` stream connected and hands its events on.

A thin loop: connect (with backoff), then read events and put them, in arrival order, on the
broker adapter's inbox. Each successful connect is put there too, so the adapter reconciles
over REST after every connect (the stream has no replay). Bad credentials fail the run; a
dropped connection never does.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from typing import Any

from app.execution.alpaca_stream import StreamDownError, TradeStream
from app.feeds.live import Backoff
from app.sync.stop import StopToken
from app.threads.base import FailureSink, SessionThread

__all__ = ["TradeUpdates"]

log = logging.getLogger(__name__)

READ_SLICE_S = 0.2  # a read returns this often, so a stop is seen promptly


class TradeUpdates(SessionThread):
    """Reads ``trade_updates`` until the run ends; ends once `finished` says the engine is done.

    Puts ``("connected", n)`` after the n-th connect and ``("event", data)`` per event on `inbox`.

    Warnings
    --------
    `connects` and `disconnects` are written by this thread and read after it is joined.
    """

    def __init__(self, stream: TradeStream, inbox: queue.SimpleQueue[tuple[str, Any]], backoff: Backoff,
                 finished: Callable[[], bool], stop_token: StopToken, on_failure: FailureSink) -> None:
        super().__init__(stop_token, on_failure)
        self.stream, self.inbox, self.backoff, self.finished = stream, inbox, backoff, finished
        self.connects = 0
        self.disconnects = 0

    def run(self) -> None:
        try:
            while not self.stop_token.is_set() and not self.finished():
                if not self.stream.is_open and not self._connect():
                    continue
                try:
                    events = self.stream.recv(READ_SLICE_S)
                except StreamDownError as e:
                    self.disconnects += 1
                    log.warning("trade_updates disconnected (%s); reconnecting", e)
                    continue
                for data in events:
                    self.inbox.put(("event", data))
        finally:
            self.stream.close()

    def _connect(self) -> bool:
        try:
            early = self.stream.open()
        except StreamDownError as e:
            delay = self.backoff.next_delay_s()
            log.warning("trade_updates connect failed (%s); retrying in %.2f s", e, delay)
            self.stop_token.wait(delay)
            return False
        self.backoff.reset()
        self.connects += 1
        log.info("trade_updates connected to %s (connect %d)", self.stream.url, self.connects)
        self.inbox.put(("connected", self.connects))
        for data in early:
            self.inbox.put(("event", data))
        return True
