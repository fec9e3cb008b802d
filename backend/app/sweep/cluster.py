"""The Dask client a sweep runs on: a LocalCluster (one single-threaded worker process per core) or
an existing scheduler by address; closed whole on the way out."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Final

from app.errors import AppError

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["ClusterError", "open_client"]

CONNECT_TIMEOUT: Final = "10s"
_DASHBOARD: Final = "127.0.0.1:0"
"""A free port on this machine only: the scheduler's HTTP server (and, with bokeh installed, the dashboard,
whose link goes to sweep.log) never collides with another cluster's 8787 (None would still bind 8787)."""
_QUIET: Final = logging.CRITICAL  # distributed logs worker starts/stops, and task errors the rows already hold


class ClusterError(AppError):
    """The scheduler cannot be reached, or a local cluster cannot start."""


@contextmanager
def open_client(scheduler: str | None, workers: int | None) -> Iterator[tuple[Client, str]]:
    """Yield ``(client, description)`` for `scheduler` (an address) or a new LocalCluster of `workers`.

    The local cluster's worker processes start with SIGINT ignored, so a Ctrl-C in the terminal
    (sent to the whole process group) reaches only this process, which cancels the runs and
    closes the cluster in order; SIGINT is ignored here too while they start (about a second).

    Raises
    ------
    ClusterError
        When the scheduler does not answer within 10 s, or the local cluster cannot start.
    """
    import dask
    from distributed import Client, LocalCluster

    for name in ("distributed", "distributed.client", "distributed.scheduler", "distributed.nanny",
                 "distributed.worker", "distributed.core", "distributed.batched"):
        logging.getLogger(name).setLevel(_QUIET)
    with ExitStack() as stack:
        if scheduler:
            try:
                client = Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
            except (OSError, TimeoutError, ValueError) as e:
                raise ClusterError(f"--scheduler {scheduler}: error: cannot connect within {CONNECT_TIMEOUT} "
                                   f"({type(e).__name__}: {e}); expected a running Dask scheduler, "
                                   f"e.g. tcp://HOST:8786") from e
            stack.callback(client.close)
            yield client, f"scheduler {scheduler}"
            return
        n = workers or os.cpu_count() or 1
        # The workers' statistical profiler samples every thread's stack every 10 ms (for a dashboard
        # a sweep does not show); off, it does not take the GIL from the run's pipeline threads.
        dask.config.set({"distributed.worker.profile.enabled": False})
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # inherited by the worker processes
        try:
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=_DASHBOARD,
                                   silence_logs=_QUIET)
        except (OSError, TimeoutError, RuntimeError) as e:
            raise ClusterError(f"cannot start a local Dask cluster of {n} workers: {type(e).__name__}: {e}") from e
        finally:
            signal.signal(signal.SIGINT, previous)
        stack.callback(cluster.close)
        client = Client(cluster, set_as_default=False)
        stack.callback(client.close)
        yield client, f"local cluster of {n} worker process{'es' if n != 1 else ''}"
