"""Synchronisation primitives: the only package (with app.threads) that imports threading.

StopToken wakes every wait in a run; StreamSubscription hands events from one pipeline
thread to the next with a published sequence number and an Event doorbell.
"""

from app.sync.stop import StopToken
from app.sync.subscription import StreamSubscription, SubscriptionStats, WaitStatus

__all__ = ["StopToken", "StreamSubscription", "SubscriptionStats", "WaitStatus"]
