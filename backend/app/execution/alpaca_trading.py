"""Alpaca Trading API v2 REST client: orders, positions, clock; idempotent submit (no threads, no clock).

Every request is bounded by `timeout_s`. A submit is safe to retry: the order's
``client_order_id`` was chosen before the first attempt, so after a timeout or a 5xx the
order is looked up by that id (``GET /v2/orders:by_client_order_id``) and adopted when the
broker has it, and a 422 "client_order_id must be unique" means the broker has it too
(``ALPACA_TRADING.md`` section 6.1). Keys go in the two request headers only; they are
never logged or put in a message.
"""

from __future__ import annotations

import http.client
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, Final

from app.errors import AppError

__all__ = ["BrokerError", "BrokerRejectedError", "TradingClient"]

log = logging.getLogger(__name__)

SUBMIT_ATTEMPTS: Final = 2
PAGE_LIMIT: Final = 500
_RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
_MAX_RETRY_WAIT_S: Final = 1.0


class BrokerError(AppError):
    """The broker could not be reached or refused the session (bad keys, a malformed reply)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class BrokerRejectedError(BrokerError):
    """The broker refused an order (403 buying power, shorting, wash trade; 422 bad input)."""


class _TransientError(Exception):
    def __init__(self, detail: str, wait_s: float = 0.0) -> None:
        super().__init__(detail)
        self.wait_s = wait_s


def _message(body: Any, raw: bytes) -> str:
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return raw[:200].decode("utf-8", "replace") or "(empty body)"


class TradingClient:
    """Talk to ``{trading_url}/v2/...`` with the account's keys.

    Parameters
    ----------
    trading_url : str
        REST base, e.g. ``https://paper-api.alpaca.markets``.
    key, secret : str
        The credentials (never logged).
    timeout_s : float
        Bound of each request.
    sleep : callable
        Waits between attempts (a stop token's ``wait``: True means the run is ending).

    Warnings
    --------
    Stateless between calls apart from `requests`: may be used from one thread at a time.
    """

    def __init__(self, trading_url: str, key: str, secret: str, *, timeout_s: float,
                 sleep: Callable[[float], object]) -> None:
        self._base = trading_url.rstrip("/")
        self._headers = {"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret, "Accept": "application/json"}
        self.timeout_s = timeout_s
        self._sleep = sleep
        self.requests = 0
        self.retries = 0
        self.adopted = 0  # submits answered by a lookup (a timed-out or duplicate POST the broker had)
        # Attempts of a read, a cancel and a submit's lookup: 1 while the run goes on (the strategy's
        # thread must not wait long: the next reconcile tries again); more at start (main thread).
        self.read_attempts = 1

    # -- orders -------------------------------------------------------------------------

    def submit(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST `body` (which holds its ``client_order_id``) at most `SUBMIT_ATTEMPTS` times; return the Order.

        Raises
        ------
        BrokerRejectedError
            When the broker refused the order (403, or 422 other than a duplicate id).
        BrokerError
            When no attempt got an answer (the order's state is then unknown: look it up later).
        """
        cid = str(body["client_order_id"])
        last = ""
        for attempt in range(1, SUBMIT_ATTEMPTS + 1):
            try:
                status, reply, raw = self._call("POST", "/v2/orders", body=body)
            except _TransientError as e:
                last = str(e)
                log.warning("submit %s: attempt %d got no answer (%s); looking it up", cid, attempt, e)
                found = self._lookup_quietly(cid)
                if found is not None:
                    log.info("submit %s: the broker has it (adopted, not sent again)", cid)
                    self.adopted += 1
                    return found
                self.retries += 1
                if e.wait_s and self._sleep(e.wait_s) is True:
                    break
                continue
            if status == 200 and isinstance(reply, dict):
                return reply
            if status == 422 and self._is_duplicate(reply):
                found = self.order_by_client_id(cid)
                if found is None:
                    raise BrokerRejectedError(f"HTTP 422 {_message(reply, raw)} (yet no order has {cid})",
                                              status=422)
                log.info("submit %s: 422 duplicate client_order_id: the broker has it (adopted)", cid)
                self.adopted += 1
                return found
            self._raise_for(status, reply, raw, f"POST /v2/orders ({cid})")
        raise BrokerError(f"submit {cid}: no answer after {SUBMIT_ATTEMPTS} attempts ({last})")

    def order_by_client_id(self, cid: str) -> dict[str, Any] | None:
        """Return the Order with client id `cid`, or None when the broker has none (404)."""
        status, reply, raw = self._call_retrying("GET", "/v2/orders:by_client_order_id", {"client_order_id": cid})
        if status == 404:
            return None
        return self._object(status, reply, raw, f"order {cid}")

    def order(self, broker_id: str) -> dict[str, Any] | None:
        """Return the Order with broker id `broker_id`, or None (404)."""
        status, reply, raw = self._call_retrying("GET", f"/v2/orders/{urllib.parse.quote(broker_id)}")
        if status == 404:
            return None
        return self._object(status, reply, raw, f"order {broker_id}")

    def orders(self, status: str = "open", after: str | None = None) -> list[dict[str, Any]]:
        """Return every Order with `status` (open, closed, all) submitted after `after`, oldest first.

        Pages of 500 (Alpaca's most) are followed by submission time; an order on a page
        boundary may come twice (callers key orders by id).
        """
        out: list[dict[str, Any]] = []
        while True:
            query = {"status": status, "limit": str(PAGE_LIMIT), "direction": "asc"}
            if after is not None:
                query["after"] = after
            code, reply, raw = self._call_retrying("GET", "/v2/orders", query)
            page = self._list(code, reply, raw, "GET /v2/orders")
            out.extend(page)
            last = page[-1].get("submitted_at") or page[-1].get("created_at") if page else None
            if len(page) < PAGE_LIMIT or not isinstance(last, str) or last == after:
                return out
            after = last

    def cancel(self, broker_id: str) -> bool:
        """Ask to cancel order `broker_id`: True when accepted (204/200); False when it is not cancelable."""
        status, reply, raw = self._call_retrying("DELETE", f"/v2/orders/{urllib.parse.quote(broker_id)}")
        if status in (200, 204):
            return True
        if status in (404, 422):
            return False
        self._raise_for(status, reply, raw, f"DELETE /v2/orders/{broker_id}")
        return False  # not reached

    # -- account ----------------------------------------------------------------------------

    def positions(self) -> list[dict[str, Any]]:
        """Return the account's open positions (every symbol, this run's or not)."""
        status, reply, raw = self._call_retrying("GET", "/v2/positions")
        return self._list(status, reply, raw, "GET /v2/positions")

    def account(self) -> dict[str, Any]:
        """Return the Account object (checks the keys)."""
        status, reply, raw = self._call_retrying("GET", "/v2/account")
        return self._object(status, reply, raw, "GET /v2/account")

    # -- plumbing --------------------------------------------------------------------------

    def _lookup_quietly(self, cid: str) -> dict[str, Any] | None:
        try:
            return self.order_by_client_id(cid)
        except BrokerRejectedError:
            raise
        except BrokerError as e:
            log.warning("lookup of %s failed too (%s)", cid, e.message)
            return None

    @staticmethod
    def _is_duplicate(reply: Any) -> bool:
        if not isinstance(reply, dict):
            return False
        # By the message: 40010001 (or 42210000, ALPACA_TRADING.md "Not confirmed") is also the code
        # of other invalid input (a malformed order id answers 422/40010001 too)
        return "must be unique" in str(reply.get("message", ""))

    def _call_retrying(self, method: str, path: str, query: Mapping[str, str] | None = None
                       ) -> tuple[int, Any, bytes]:
        # Reads are idempotent: retried after no answer, a 5xx or a 429 (bounded waits).
        last = ""
        for _ in range(self.read_attempts):
            try:
                return self._call(method, path, query=query)
            except _TransientError as e:
                last = str(e)
                self.retries += 1
                if e.wait_s and self._sleep(e.wait_s) is True:
                    break
        raise BrokerError(f"{method} {path}: no answer after {self.read_attempts} attempt(s) ({last})")

    def _call(self, method: str, path: str, *, query: Mapping[str, str] | None = None,
              body: Mapping[str, Any] | None = None) -> tuple[int, Any, bytes]:
        url = self._base + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = json.dumps(body).encode("utf-8") if body is not None else None
        headers = dict(self._headers)
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        self.requests += 1
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                status, raw, retry_after = response.status, response.read(), None
        except urllib.error.HTTPError as e:
            status, raw, retry_after = e.code, e.read(), e.headers.get("Retry-After")
        except (TimeoutError, urllib.error.URLError, http.client.HTTPException, OSError) as e:
            raise _TransientError(f"{type(e).__name__}: {getattr(e, 'reason', e)}") from None
        if status in _RETRY_STATUSES:
            wait = 0.2
            if status == 429:
                try:
                    wait = float(retry_after) if retry_after else 1.0
                except ValueError:
                    wait = 1.0
            raise _TransientError(f"HTTP {status}", min(max(wait, 0.05), _MAX_RETRY_WAIT_S))
        try:
            reply = json.loads(raw) if raw.strip() else None
        except ValueError:
            reply = None
        return status, reply, raw

    def _raise_for(self, status: int, reply: Any, raw: bytes, what: str) -> None:
        text = _message(reply, raw)
        if status in (401,):
            raise BrokerError(f"{what}: HTTP 401 {text} (check broker.key_env / broker.secret_env and that "
                              "the keys are for this endpoint: paper and live keys differ)", status=status)
        if status in (403, 422, 400):
            raise BrokerRejectedError(f"HTTP {status} {text}", status=status)
        raise BrokerError(f"{what}: unexpected HTTP {status} {text}", status=status)

    def _object(self, status: int, reply: Any, raw: bytes, what: str) -> dict[str, Any]:
        if status == 200 and isinstance(reply, dict):
            return reply
        self._raise_for(status, reply, raw, what)
        raise BrokerError(f"{what}: expected a JSON object, received {raw[:100]!r}")

    def _list(self, status: int, reply: Any, raw: bytes, what: str) -> list[dict[str, Any]]:
        if status == 200 and isinstance(reply, list):
            return [item for item in reply if isinstance(item, dict)]
        self._raise_for(status, reply, raw, what)
        raise BrokerError(f"{what}: expected a JSON list, received {raw[:100]!r}")
