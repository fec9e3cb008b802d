"""Live sessions whose orders go to the local trading server, over real sockets end to end.

The feed server replays a 1s store restamped to the wall clock (stored step k: AAPL open
100 + k, MSFT 200 + k); the trading server follows that feed and fills market orders at the
next bar's open. The run's books must hold what the trading server says, once each.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from app.config import load_session_config
from app.runtime.run import run
from broker_support import KEY, SCRIPT_LOG, SECRET, broker_config, rest, servers, write_store_1s

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_store_1s(tmp_path_factory.mktemp("store_1s"))


@pytest.fixture(autouse=True)
def creds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_BROKER_KEY", KEY)
    monkeypatch.setenv("TEST_BROKER_SECRET", SECRET)
    SCRIPT_LOG.clear()


def run_config(path: Path, out: Path):
    return run(load_session_config(path), out)


def fills_csv(out: Path) -> list[dict[str, str]]:
    with (out / "fills.csv").open() as fh:
        return list(csv.DictReader(fh))


def broker_orders(srv) -> list[dict]:
    return rest(srv, "/v2/orders?status=all&limit=500&direction=asc")


def test_orders_fill_at_the_stand_in_broker_and_the_books_hold_what_it_says(tmp_path, store):
    # Arrange: buy 5 AAPL at the 1st bar, sell 2 at the 2nd, a limit buy far below that never fills.
    # Shorting is allowed so that the sell never depends on the buy's fill having been reported
    # by then (the position after both is 3 either way)
    orders = "AAPL:1:buy:5;AAPL:2:sell:2;MSFT:1:buy:1:1.00"
    with servers(store, tmp_path, "--position", "MSFT:7:150") as srv:
        cfg = broker_config(tmp_path / "run.yaml", srv, store, params={"orders": orders},
                            trading={"allow_short": True})
        # Act
        result = run_config(cfg, tmp_path / "out")
        at_broker = broker_orders(srv)
        positions = {p["symbol"]: int(p["qty"]) for p in rest(srv, "/v2/positions")}
    out = tmp_path / "out"
    # Assert: three orders, each sent once, with our client ids; the limit one cancelled at exit
    assert [ok is not None for _, ok in SCRIPT_LOG] == [True, True, True]
    run_id = result.summary["broker"]["run_id"]
    assert run_id.startswith("broker_test-")
    assert [o["client_order_id"] for o in at_broker] == [f"{run_id}-{k:06d}" for k in (1, 2, 3)]
    # the same step's bars go AAPL then MSFT: the MSFT limit is the 2nd order
    assert [o["status"] for o in at_broker] == ["filled", "canceled", "filled"]
    # fills.csv and the ledger hold the broker's prices and quantities
    rows = fills_csv(out)
    broker_fills = [(o["side"], int(o["filled_qty"]), float(o["filled_avg_price"])) for o in at_broker[::2]]
    assert [(r["side"], int(r["quantity"]), float(r["price"])) for r in rows] == broker_fills
    assert all(float(r["price"]) - 100 == int(float(r["price"]) - 100) for r in rows)  # a stored open
    assert positions == {"AAPL": 3, "MSFT": 7}  # the position held before the run is left alone
    summary = result.summary
    assert summary["open_positions"]["AAPL"]["quantity"] == 3
    b = summary["broker"]
    assert b["stats"]["orders_sent"] == 3 and b["stats"]["rejected_by_broker"] == 0
    assert b["model"]["compared"] == 2 and len(b["model"]["fills"]) == 2
    for fill in b["model"]["fills"]:  # the model's price is a stored open too, close to the broker's
        assert fill["model_price"] is not None and abs(fill["slippage_per_share"]) <= 3
    assert b["foreign_positions"] == {"MSFT": 7} and b["position_mismatches"] == {}
    assert "MSFT" not in summary["open_positions"]
    report = (out / "report.txt").read_text()
    assert "Broker:" in report and "Slippage vs Model" in report
    assert "Position not opened by this run: MSFT +7 (left alone)" in report
    assert "position not opened by this run: MSFT +7" in (out / "run.log").read_text()
    # Credentials never reach a file of the run
    for f in out.rglob("*"):
        if f.is_file():
            text = f.read_bytes()
            assert SECRET.encode() not in text and KEY.encode() not in text, f.name
    # The session's recording replays (simulated broker, data-driven) to the same decisions
    from app.recording.replay import replay_run

    parity = replay_run(out, tmp_path / "replay")
    assert parity["replay"]["decisions_live"] == 3 and parity["replay"]["identical"] == 3


def test_the_cli_refuses_wrong_keys_and_missing_variables_in_one_line(tmp_path, store):
    import subprocess
    import sys

    from broker_support import BACKEND

    with servers(store, tmp_path) as srv:
        cfg = broker_config(tmp_path / "run.yaml", srv, store,
                            broker={"key_env": "TEST_TRADE_KEY", "secret_env": "TEST_TRADE_SECRET"})
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{BACKEND}:{BACKEND / 'tests' / 'broker'}",
               "TEST_BROKER_KEY": KEY, "TEST_BROKER_SECRET": SECRET,  # the feed's
               "TEST_TRADE_KEY": KEY, "TEST_TRADE_SECRET": "wrong-secret-123"}
        wrong = subprocess.run([sys.executable, "-m", "app.backtest", str(cfg), "--output", str(tmp_path / "o1")],
                               capture_output=True, text=True, env=env, timeout=60)
        del env["TEST_TRADE_SECRET"]
        missing = subprocess.run([sys.executable, "-m", "app.backtest", str(cfg), "--output", str(tmp_path / "o2")],
                                 capture_output=True, text=True, env=env, timeout=60)
    assert wrong.returncode == 1, wrong.stderr
    assert "HTTP 401" in wrong.stderr and "broker.key_env" in wrong.stderr and "Traceback" not in wrong.stderr
    assert "wrong-secret-123" not in wrong.stderr + "".join(p.read_text() for p in (tmp_path / "o1").rglob("*.log"))
    assert missing.returncode == 2
    assert missing.stderr.strip().endswith(
        "error: broker.secret_env: expected environment variable TEST_TRADE_SECRET to hold the trading API "
        "credential, received nothing; export TEST_TRADE_SECRET=...")


def test_ctrl_c_ends_the_run_and_cancels_its_open_orders(tmp_path, store):
    import signal

    from broker_support import BACKEND
    from support.runs import running_cli, wait_for_log

    with servers(store, tmp_path) as srv:
        cfg = broker_config(tmp_path / "run.yaml", srv, store, stop_after=60,
                            params={"orders": "MSFT:1:buy:1:1.00"})
        env = {"PYTHONPATH": f"{BACKEND}:{BACKEND / 'tests'}:{BACKEND / 'tests' / 'broker'}",
               "TEST_BROKER_KEY": KEY, "TEST_BROKER_SECRET": SECRET}
        with running_cli(str(cfg), "--output", str(tmp_path / "out"), env_extra=env) as proc:
            wait_for_log(tmp_path / "out", proc, "sent as")
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
        [order] = broker_orders(srv)
    assert proc.returncode == 130, err
    assert order["status"] == "canceled"  # broker.cancel_on_exit (default true)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["broker"]["stats"]["orders_sent"] == 1
