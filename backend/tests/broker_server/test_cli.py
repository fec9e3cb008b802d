"""``python -m app.broker serve`` as a subprocess: fills from a real feed server, restarts, bad options."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest
from app.broker.server.cli import main
from app.feeds.live import parse_rfc3339_ns

from broker_server.harness import (
    AUTH,
    BACKEND,
    feed_process,
    next_event,
    order_body,
    rest,
    server_process,
    stream_client,
    write_store,
)

pytestmark = pytest.mark.e2e


def test_a_market_order_fills_at_the_open_of_the_feed_bar_in_progress_when_it_was_sent(tmp_path):
    store = write_store(tmp_path / "store")
    with feed_process(store, log_dir=tmp_path) as feed_port, server_process(
            "--feed-url", f"ws://127.0.0.1:{feed_port}/v2/iex", "--feed-interval", "1", log_dir=tmp_path) as srv:
        with stream_client(srv.stream_url) as ws:
            status, order, _ = rest(srv.base_url, "POST", "/v2/orders", order_body("AAPL", 3))
            assert status == 200 and next_event(ws)["event"] == "new"
            fill = next_event(ws, timeout=20)
        submitted = parse_rfc3339_ns(order["submitted_at"])
        request = urllib.request.Request(
            f"http://127.0.0.1:{feed_port}/v2/stocks/bars?symbols=AAPL&timeframe=1Sec", headers=AUTH)
        with urllib.request.urlopen(request, timeout=10) as resp:
            bars = json.loads(resp.read())["bars"]["AAPL"]
    [in_progress] = [b for b in bars if parse_rfc3339_ns(b["t"]) <= submitted < parse_rfc3339_ns(b["t"]) + 10**9]
    assert fill["event"] == "fill" and float(fill["price"]) == in_progress["o"]
    assert fill["qty"] == "3" and fill["position_qty"] == "3"


def test_restart_with_a_state_file_on_the_same_port_keeps_orders_positions_and_cash(tmp_path):
    state = tmp_path / "state.json"
    with server_process("--state-file", str(state), "--position", "TSLA:-5:200", "--cash", "5000",
                        log_dir=tmp_path) as first:
        status, order, _ = rest(first.base_url, "POST", "/v2/orders", order_body("AAPL", 2, client_order_id="r-1"))
        assert status == 200
        assert rest(first.base_url, "POST", "/_control/bar", {"symbol": "AAPL", "open": 150})[0] == 200
        port = first.base_url.rsplit(":", 1)[1]
    assert first.proc.returncode == 0  # SIGTERM: clean stop
    with server_process("--state-file", str(state), "--port", port, log_dir=tmp_path) as second:
        assert second.base_url.endswith(f":{port}")
        assert rest(second.base_url, "GET", f"/v2/orders/{order['id']}")[1]["status"] == "filled"
        positions = {p["symbol"]: p["qty"] for p in rest(second.base_url, "GET", "/v2/positions")[1]}
        assert positions == {"AAPL": "2", "TSLA": "-5"}
        assert rest(second.base_url, "GET", "/v2/account")[1]["cash"] == "4700"
        assert rest(second.base_url, "POST", "/v2/orders", order_body(client_order_id="r-1"))[0] == 422


@pytest.mark.parametrize(("args", "expected"), [
    (["--rate-limit", "0/min"], "--rate-limit: expected N/min with N >= 1"),
    (["--position", "AAPL:x"], "expected SYMBOL:QTY:AVG_PRICE"),
    (["--partial-fills", "0"], "error: faults.partial_fills: expected an integer >= 1, received 0"),
    (["--state-file", "BAD"], "expected a JSON trading server state file"),
    (["--speed", "60"], "--interval, --symbols and --speed apply to --store"),
    (["--store", "/nonexistent/store"], "expected one interval folder or --interval"),
])
def test_bad_options_exit_2_with_a_line_naming_the_option(tmp_path, capsys, args, expected):
    if args[-1] == "BAD":
        (tmp_path / "bad.json").write_text("{not json")
        args = ["--state-file", str(tmp_path / "bad.json")]
    try:
        code = main(["serve", *args, "--stop-after", "5"])
    except SystemExit as e:  # argparse
        code = e.code
    err = capsys.readouterr().err
    assert code == 2 and expected in err and "Traceback" not in err


def test_bad_state_file_exits_2_from_the_real_command(tmp_path):
    (tmp_path / "bad.json").write_text("[]")
    proc = subprocess.run([sys.executable, "-m", "app.broker", "serve", "--state-file", str(tmp_path / "bad.json")],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(BACKEND)})
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == f"error: {tmp_path / 'bad.json'}: expected a JSON object\n"


def test_sigint_stops_the_server_cleanly(tmp_path):
    with server_process(log_dir=tmp_path) as srv:
        assert rest(srv.base_url, "GET", "/v2/clock")[0] == 200
        srv.proc.send_signal(2)
        deadline = time.monotonic() + 20
        while srv.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert srv.proc.returncode == 0
