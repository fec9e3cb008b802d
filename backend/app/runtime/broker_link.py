"""The broker link of a live run with ``broker.kind: alpaca``: the adapter, its stream thread, its end."""

from __future__ import annotations

import logging
import os
import queue
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from app.execution.alpaca_broker import AlpacaBroker
from app.execution.alpaca_ids import default_run_id
from app.execution.alpaca_stream import TradeStream
from app.execution.alpaca_trading import TradingClient
from app.feeds.live import Backoff
from app.metrics.broker_report import compare_fills
from app.threads.trade_updates import TradeUpdates

if TYPE_CHECKING:
    from app.config.schema import SessionConfig
    from app.feeds.live import FeedStats
    from app.sync.stop import StopToken
    from app.threads.base import FailureSink, SessionThread
    from app.timing.stopwatch import Stopwatch
    from app.timing.time_manager import TimeManager

__all__ = ["BrokerLink", "make_broker_link"]

log = logging.getLogger(__name__)


def _stream_url(trading_url: str) -> str:
    scheme, _, rest = trading_url.partition("://")
    return ("wss" if scheme == "https" else "ws") + "://" + rest.rstrip("/") + "/stream"


@dataclass
class BrokerLink:
    """The AlpacaBroker, its TradeUpdates thread, and what the run does with them at its end."""

    broker: AlpacaBroker
    thread: TradeUpdates
    config: SessionConfig
    format_ns: Any

    def follow(self, engine: SessionThread) -> None:
        """End the stream thread once `engine` (started before it) has finished."""
        self.thread.finished = lambda: engine.ident is not None and not engine.is_alive()

    def finish(self) -> None:
        """After the threads are joined: cancel open orders if configured, reconcile a last time."""
        self.broker.close(self.config.broker.cancel_on_exit)

    def summary(self) -> dict[str, Any]:
        """summary.json's ``broker`` section."""
        b, cfg = self.broker, self.config.broker
        return {
            "kind": cfg.kind, "paper": cfg.paper, "trading_url": cfg.trading_url, "run_id": b.run_id,
            "stats": {**vars(b.stats), "stream_connects": self.thread.connects,
                      "stream_disconnects": self.thread.disconnects},
            "adopted_after_retry": b.client.adopted, "requests": b.client.requests, "retries": b.client.retries,
            "foreign_positions": dict(sorted(b.foreign.items())),
            "position_mismatches": {s: list(v) for s, v in sorted(b.mismatches.items())},
            "kill_switch": b.kill,
            "model": compare_fills(b.compared, b.model_price, self.format_ns),
        }


def make_broker_link(config: SessionConfig, tm: TimeManager, first_session: date, stop: StopToken,
                     fail: FailureSink, feed_stats: FeedStats | None, stopwatch: Stopwatch) -> BrokerLink:
    """Build the adapter and its stream thread, check the keys and adopt this run id's orders.

    Raises
    ------
    ConfigError
        When a credential variable is unset (naming ``broker.key_env`` / ``broker.secret_env``).
    BrokerError
        When the Trading API cannot be read at start.
    """
    cfg = config.broker
    assert cfg.trading_url is not None  # config rules: required with kind alpaca
    creds = []
    for field in ("key_env", "secret_env"):
        name = getattr(cfg, field)
        value = os.environ.get(name)
        if not value:
            raise config.error(("broker", field), f"expected environment variable {name} to hold the trading "
                               "API credential, received nothing", hint=f"export {name}=...")
        creds.append(value)
    key, secret = creds
    run_id = cfg.run_id or default_run_id(config.session_name, first_session)
    client = TradingClient(cfg.trading_url, key, secret, timeout_s=cfg.timeout_s, sleep=stop.wait)
    inbox: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
    trading = config.trading
    broker = AlpacaBroker(trading, client, run_id, inbox, now_ns=tm.now_ns, format_ns=tm.format_ns,
                          market_open=tm.is_trading_minute, poll_s=cfg.poll_s,
                          extended_hours=trading.extended_hours, max_daily_loss=trading.max_daily_loss,
                          flatten_on_kill=trading.flatten_on_kill,
                          feed_reconnects=(lambda: feed_stats.reconnects) if feed_stats is not None else None)
    broker.start((first_session - timedelta(days=1)).isoformat() + "T00:00:00Z")
    stream = TradeStream(cfg.stream_url or _stream_url(cfg.trading_url), key, secret, timeout_s=cfg.timeout_s,
                         deadline=stopwatch.deadline)
    live = config.live
    backoff = Backoff(live.reconnect_initial_s if live else 1.0, live.reconnect_max_s if live else 30.0)
    thread = TradeUpdates(stream, inbox, backoff, lambda: False, stop, fail)
    log.info("orders go to %s (run id %s, paper %s)", cfg.trading_url, run_id, cfg.paper)
    if not cfg.paper:
        log.warning("broker.paper is false: orders go to a LIVE account at %s", cfg.trading_url)
    return BrokerLink(broker, thread, config, tm.format_ns)
