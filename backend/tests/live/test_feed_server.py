"""The local feed server speaks Alpaca's v2 protocol: handshake, control errors, REST (real sockets)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from live_support import KEY, SECRET, run_server
from websockets.exceptions import ConnectionClosedOK
from websockets.sync.client import connect

from app.feeds.live import parse_rfc3339_ns

CONNECTED = [{"T": "success", "msg": "connected"}]
AUTHENTICATED = [{"T": "success", "msg": "authenticated"}]
EMPTY_CHANNELS = {ch: [] for ch in ("trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds", "corrections", "cancelErrors")}


@pytest.fixture(scope="module")
def server(store, tmp_path_factory):
    with run_server(store, "--interval", "1m", "--speed", "60", "--history-steps", "5", "--auth-timeout", "1",
                    log_dir=tmp_path_factory.mktemp("logs")) as srv:
        yield srv


def recv_json(ws):
    return json.loads(ws.recv(timeout=5))


def auth(ws, key=KEY, secret=SECRET):
    assert recv_json(ws) == CONNECTED
    ws.send(json.dumps({"action": "auth", "key": key, "secret": secret}))
    return recv_json(ws)


def test_handshake_transcript_and_full_state_ack(server):
    with connect(server.ws_url, open_timeout=5, close_timeout=1) as ws:
        assert auth(ws) == AUTHENTICATED
        ws.send(json.dumps({"action": "subscribe", "bars": ["MSFT", "AAPL"], "trades": ["AAPL"]}))
        assert recv_json(ws) == [{"T": "subscription", **EMPTY_CHANNELS, "bars": ["AAPL", "MSFT"], "trades": ["AAPL"],
                                  "corrections": ["AAPL"], "cancelErrors": ["AAPL"]}]
        ws.send(json.dumps({"action": "unsubscribe", "bars": ["MSFT"]}))
        assert recv_json(ws) == [{"T": "subscription", **EMPTY_CHANNELS, "bars": ["AAPL"], "trades": ["AAPL"],
                                  "corrections": ["AAPL"], "cancelErrors": ["AAPL"]}]
        # Assert: the next bar frame is an array of AAPL bars whose t is a whole second
        frame = recv_json(ws)
        while frame[0]["T"] != "b":
            frame = recv_json(ws)
        assert [m["S"] for m in frame] == ["AAPL"]
        assert set(frame[0]) == {"T", "S", "o", "h", "l", "c", "v", "t", "n", "vw"}
        assert parse_rfc3339_ns(frame[0]["t"]) % 1_000_000_000 == 0


@pytest.mark.parametrize("messages, expected", [
    ([{"action": "subscribe", "bars": ["AAPL"]}], [{"T": "error", "code": 401, "msg": "not authenticated"}]),
    ([{"action": "auth", "key": KEY, "secret": "nope"}], [{"T": "error", "code": 402, "msg": "auth failed"}]),
    ([{"action": "auth", "key": KEY, "secret": SECRET}] * 2, [{"T": "error", "code": 403, "msg": "already authenticated"}]),
    ([{"action": "auth", "key": KEY, "secret": SECRET}, {"action": "subscribe", "bars": []}],
     [{"T": "error", "code": 400, "msg": "invalid syntax"}]),
    ([{"action": "auth", "key": KEY, "secret": SECRET}, {"action": "subscribe", "news": ["AAPL"]}],
     [{"T": "error", "code": 400, "msg": "invalid syntax"}]),
    ([{"action": "auth", "key": KEY, "secret": SECRET}, {"action": "subscribe", "bars": ["ZZQQX"]}],
     [{"T": "error", "code": 400, "msg": "invalid syntax"}]),
    ([{"action": "dance"}], [{"T": "error", "code": 400, "msg": "invalid syntax"}]),
])
def test_control_errors_keep_the_socket_open(server, messages, expected):
    with connect(server.ws_url, open_timeout=5, close_timeout=1) as ws:
        assert recv_json(ws) == CONNECTED
        for msg in messages:
            ws.send(json.dumps(msg))
            reply = recv_json(ws)
        assert reply == expected
        ws.send(json.dumps({"action": "dance"}))  # still open: it answers again
        assert recv_json(ws)[0]["code"] == 400


def test_no_auth_within_the_timeout_gets_404_and_a_close(server):
    with connect(server.ws_url, open_timeout=5, close_timeout=1) as ws:
        assert recv_json(ws) == CONNECTED
        assert recv_json(ws) == [{"T": "error", "code": 404, "msg": "auth timeout"}]
        with pytest.raises(ConnectionClosedOK, match=r"received 1000"):
            ws.recv(timeout=5)


def get(server, query, key=KEY, secret=SECRET):
    request = urllib.request.Request(f"{server.rest_url}/v2/stocks/bars?{query}",
                                     headers={"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret})
    with urllib.request.urlopen(request, timeout=5) as resp:
        return resp.status, resp.headers["Content-Type"], json.loads(resp.read())


def test_rest_pages_with_limit_2_cover_every_history_bar(server):
    query = "symbols=AAPL,MSFT&timeframe=1Sec&limit=2&end=2100-01-01T00:00:00Z"
    rows, token, pages = [], None, 0
    while True:
        status, content_type, body = get(server, query + (f"&page_token={token}" if token else ""))
        assert (status, content_type) == (200, "application/json")
        assert sum(len(v) for v in body["bars"].values()) <= 2
        rows += [(s, b["o"]) for s, bars in body["bars"].items() for b in bars]
        token, pages = body["next_page_token"], pages + 1
        if token is None:
            break
    history = [("AAPL", 100.0 + m) for m in range(5)] + [("MSFT", 200.0 + m) for m in range(5)]
    assert rows[:5] == history[:5]
    assert [r for r in rows if r[0] == "MSFT"][:5] == history[5:]
    assert pages == -(-len(rows) // 2)


def test_rest_refuses_wrong_keys_with_403(server):
    with pytest.raises(urllib.error.HTTPError, match=r"HTTP Error 403: Forbidden") as info:
        get(server, "symbols=AAPL&timeframe=1Sec", secret="wrong")
    assert json.loads(info.value.read()) == {"message": "forbidden"}
    info.value.close()


def test_unknown_path_is_404(server):
    with pytest.raises(urllib.error.HTTPError, match=r"HTTP Error 404") as info:
        urllib.request.urlopen(f"{server.rest_url}/v1/whatever", timeout=5)
    info.value.close()
