"""`python -m app.data fetch` end to end: the CLI in a subprocess against the local feed server
(``python -m app.feed serve --rest-archive``) over real sockets: pages, resume, 429, 5xx, rejects."""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from app.data.__main__ import main as data_main
from app.data.fetch import REJECTED_HEADER
from app.data.sample import write_sample
from app.store.bar import BarArrays, parse_interval
from app.store.files import read_bars_file, write_bars
from live.live_support import KEY, SECRET, run_server
from support.runs import cli, write_config

BACKEND = Path(__file__).resolve().parents[2]
M1 = parse_interval("1m")
DAYS = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]
MSFT_EMPTY_DAY = "2024-01-04"  # the server has no MSFT bar that day
BAD_HIGH_ROW = 400  # AAPL's 2024-01-03 09:40 ET bar gets high < low
PREMARKET_NS = int(np.datetime64("2024-01-03T13:00:00", "ns").astype(np.int64))  # 08:00 ET: outside the session
ENV = {**os.environ, "PYTHONPATH": str(BACKEND), "APCA_API_KEY_ID": KEY, "APCA_API_SECRET_KEY": SECRET}


def _day(ns: np.ndarray) -> np.ndarray:
    return np.asarray(ns).astype("datetime64[ns]").astype("datetime64[D]").astype(str)


def _take(bars: BarArrays, keep: np.ndarray) -> BarArrays:
    return BarArrays(*(np.asarray(col)[keep] for col in bars))


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> tuple[Path, dict[str, BarArrays]]:
    """The server's store and the bars a fetch must end with (the server's minus the two bad rows)."""
    root = tmp_path_factory.mktemp("source")
    write_sample(root, ["AAPL", "MSFT"], date(2024, 1, 2), date(2024, 1, 5), "XNYS", "1m", 7, inject_gaps=False)
    shutil.rmtree(root / "1d")
    msft = read_bars_file(root / "1m" / "MSFT.parquet")
    msft = _take(msft, _day(msft.start) != MSFT_EMPTY_DAY)
    write_bars(root, M1, "MSFT", msft)
    aapl = read_bars_file(root / "1m" / "AAPL.parquet")
    expected_aapl = _take(aapl, np.arange(len(aapl)) != BAD_HIGH_ROW)
    start, o, h, low, c, v = (np.array(col) for col in aapl)
    h[BAD_HIGH_ROW] = low[BAD_HIGH_ROW] - 1.0
    at = int(np.searchsorted(start, PREMARKET_NS))
    premarket = (PREMARKET_NS, 10, 11, 9, 10, 5)
    served = BarArrays(*(np.insert(col, at, x) for col, x in zip((start, o, h, low, c, v), premarket, strict=True)))
    write_bars(root, M1, "AAPL", served)
    return root, {"AAPL": expected_aapl, "MSFT": msft}


@pytest.fixture(scope="module")
def server(source, tmp_path_factory):
    with run_server(source[0], "--rest-archive", "--interval", "1m", log_dir=tmp_path_factory.mktemp("log")) as srv:
        yield srv


def fetch(store: Path, rest_url: str, *extra: str, end: str = DAYS[-1], env=ENV) -> subprocess.CompletedProcess:
    args = ["--symbols", "AAPL,MSFT", "--interval", "1m", "--start", DAYS[0], "--end", end, "--store", str(store),
            "--rest-url", rest_url, "--backoff", "0.02", *extra]
    return subprocess.run([sys.executable, "-m", "app.data", "fetch", *args], capture_output=True, text=True,
                          env=env, timeout=120, check=False)


def assert_store_holds(store: Path, expected: dict[str, BarArrays], days: list[str] = DAYS) -> None:
    for symbol, bars in expected.items():
        want = _take(bars, np.isin(_day(bars.start), days))
        got = read_bars_file(store / "1m" / f"{symbol}.parquet")
        got = _take(got, np.isin(_day(got.start), days))
        for name, a, b in zip(BarArrays._fields, got, want, strict=True):
            np.testing.assert_array_equal(a, b, err_msg=f"{symbol} {name}")


def test_fetch_of_two_symbols_through_several_pages_matches_the_servers_bars(source, server, tmp_path):
    # Act: 2 days per request, 100 bars per page: 4 pages per request.
    run = fetch(tmp_path, server.rest_url, "--days-per-request", "2", "--page-limit", "100")

    # Assert
    assert run.returncode == 0, run.stderr
    assert_store_holds(tmp_path, source[1])
    lines = run.stdout.splitlines()
    assert lines[0] == "AAPL: 4 trading days; 0 already stored; fetched 4 (1,559 bars written); " \
        "rejected 2 (HIGH_BELOW_LOW: 1, OUTSIDE_SESSION: 1)"
    assert lines[1] == "MSFT: 4 trading days; 0 already stored; fetched 4 (1,170 bars written); " \
        f"1 trading day without bars: {MSFT_EMPTY_DAY}"
    # Pages of 100: AAPL 781 rows (premarket bar included) then 780: 8 + 8; MSFT 780 then 390: 8 + 4.
    assert lines[-1].startswith("28 requests, 28 pages; 0 answered 429, 0 answered 5xx; waited 0.0 s")
    with (tmp_path / "1m" / "AAPL.rejected.csv").open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == list(REJECTED_HEADER)
    assert [(r[0], r[1]) for r in rows[1:]] == [("OUTSIDE_SESSION", "2024-01-03T13:00:00Z"),
                                                ("HIGH_BELOW_LOW", "2024-01-03T14:40:00Z")]
    assert json.loads(rows[1][-1]) == {"t": "2024-01-03T13:00:00Z", "o": 10.0, "h": 11.0, "l": 9.0, "c": 10.0,
                                       "v": 5, "n": 1, "vw": 10.0}
    assert not (tmp_path / "1m" / "MSFT.rejected.csv").exists()
    # Credentials never leave the request headers: not in the output, not in a file.
    assert SECRET not in run.stdout + run.stderr
    assert not [p for p in (tmp_path / "1m").iterdir() if SECRET.encode() in p.read_bytes()]
    record = json.loads((tmp_path / "1m" / "MSFT.fetch.json").read_text())
    assert record == {"provider": "alpaca", "feed": "iex", "adjustment": "raw", "empty_days": [MSFT_EMPTY_DAY]}


def test_resume_fetches_only_missing_days_and_rewrites_nothing(source, server, tmp_path):
    # Arrange: the first two days, then a stored AAPL bar changed by hand (a resume must keep it).
    first = fetch(tmp_path, server.rest_url, "--quiet", end=DAYS[1])
    assert first.returncode == 0, first.stderr
    aapl = read_bars_file(tmp_path / "1m" / "AAPL.parquet")
    changed = BarArrays(aapl.start, aapl.open, aapl.high + 1, aapl.low, aapl.close, aapl.volume)
    write_bars(tmp_path, M1, "AAPL", changed)

    # Act
    second = fetch(tmp_path, server.rest_url, "--quiet")

    # Assert: two days asked per symbol, the held ones untouched (the hand-made change survives).
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines()[0].startswith("AAPL: 4 trading days; 2 already stored; fetched 2 (780 bars")
    assert second.stdout.splitlines()[1].startswith("MSFT: 4 trading days; 2 already stored; fetched 2 (390 bars")
    got = read_bars_file(tmp_path / "1m" / "AAPL.parquet")
    held = np.isin(_day(got.start), DAYS[:2])
    np.testing.assert_array_equal(got.high[held], changed.high)
    assert_store_holds(tmp_path, {"MSFT": source[1]["MSFT"]})
    assert_store_holds(tmp_path, {"AAPL": source[1]["AAPL"]}, DAYS[2:])
    # The rejected rows of day 2 are in the file once (the day was not asked again).
    assert len((tmp_path / "1m" / "AAPL.rejected.csv").read_text().splitlines()) == 3

    # Act: a third run has nothing to fetch (MSFT's empty day is remembered) and writes nothing.
    files = sorted((tmp_path / "1m").iterdir())
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in files}
    third = fetch(tmp_path, server.rest_url)

    # Assert
    assert third.returncode == 0, third.stderr
    assert third.stdout.splitlines()[1] == "MSFT: 4 trading days; 3 already stored, 1 known without bars; " \
        "fetched 0 (0 bars written)"
    assert third.stdout.splitlines()[-1].startswith("0 requests, 0 pages")
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted((tmp_path / "1m").iterdir())} == before


def test_remembered_empty_days_are_asked_again_only_on_request_and_feeds_never_mix(server, tmp_path):
    first = fetch(tmp_path, server.rest_url, "--quiet")
    assert first.returncode == 0, first.stderr

    again = fetch(tmp_path, server.rest_url, "--quiet", "--refetch-empty")
    other_feed = fetch(tmp_path, server.rest_url, "--quiet", "--feed", "sip")

    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[1] == "MSFT: 4 trading days; 3 already stored; fetched 1 (0 bars written); " \
        f"1 trading day without bars: {MSFT_EMPTY_DAY}"
    assert (other_feed.returncode, other_feed.stdout) == (1, "")
    assert other_feed.stderr == (
        f"error: {tmp_path / '1m' / 'AAPL.fetch.json'}: AAPL was fetched with feed 'iex', this run asks 'sip'; "
        "mixing them would mix different bars in one file: pass the same option or use another --store\n"
    )


def test_429_with_retry_after_is_honoured(source, tmp_path):
    with run_server(source[0], "--rest-archive", "--interval", "1m", "--rate-limit", "2/s", log_dir=tmp_path) as srv:
        run = fetch(tmp_path / "store", srv.rest_url, "--days-per-request", "1", "--quiet")
        log = srv.log_path.read_text()

    assert run.returncode == 0, run.stderr
    assert_store_holds(tmp_path / "store", source[1])
    stats = run.stdout.splitlines()[-1]  # "N requests, P pages; L answered 429, 0 answered 5xx; waited W s; ..."
    limited = int(stats.split("; ")[1].split()[0])
    assert limited >= 1 and log.count("HTTP 429") == limited
    # The server's Retry-After (1 s) was waited each time, not the 0.02 s backoff.
    assert f"waited {limited * 1.0:.1f} s" in stats


def test_5xx_n_times_then_success(source, tmp_path):
    with run_server(source[0], "--rest-archive", "--interval", "1m", "--fail-rest", "3", log_dir=tmp_path) as srv:
        run = fetch(tmp_path / "store", srv.rest_url, "--quiet", "--retries", "3")

    assert run.returncode == 0, run.stderr
    assert "3 answered 5xx" in run.stdout.splitlines()[-1]
    assert_store_holds(tmp_path / "store", source[1])


def test_5xx_beyond_the_bound_stops_with_what_was_saved_and_a_resume_finishes(source, server, tmp_path):
    store = tmp_path / "store"
    with run_server(source[0], "--rest-archive", "--interval", "1m", "--fail-rest", "100", "--fail-rest-after", "2",
                    log_dir=tmp_path) as srv:
        run = fetch(store, srv.rest_url, "--quiet", "--retries", "2", "--days-per-request", "1")

    # Assert: one line naming the failure, what was saved, and how to go on; the saved days kept.
    assert run.returncode == 1
    assert run.stdout == ""
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert run.stderr.startswith(f"error: REST {srv.rest_url}/v2/stocks/bars answered HTTP 500 3 times in a row: ")
    assert "stopped while fetching AAPL 2024-01-04; saved by this run into" in run.stderr
    assert run.stderr.endswith(": AAPL 2 days (2024-01-02, 2024-01-03), MSFT 0 days; "
                               "run the same command again to fetch the rest\n")
    assert_store_holds(store, {"AAPL": source[1]["AAPL"]}, DAYS[:2])
    assert not (store / "1m" / "MSFT.parquet").exists()

    # Act: the same command against a healthy server fetches the rest.
    resumed = fetch(store, server.rest_url, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.startswith("AAPL: 4 trading days; 2 already stored; fetched 2")
    assert_store_holds(store, source[1])


def test_a_fetched_store_runs_a_backtest(source, server, tmp_path):
    run = fetch(tmp_path / "store", server.rest_url, "--quiet")
    assert run.returncode == 0, run.stderr
    cfg = write_config(
        tmp_path / "s.yaml", tmp_path / "store", symbols=["AAPL", "MSFT"], streams=["1m", "5m"],
        backtest={"start_date": DAYS[0], "end_date": DAYS[-1]}, historical={"data": []},
        data={"store": str(tmp_path / "store"), "on_missing": "warn"},  # MSFT has no bar on 2024-01-04
    )

    proc = cli("-m", "app.backtest", str(cfg), "--output", str(tmp_path / "out"))

    assert proc.returncode == 0, proc.stderr
    sessions = json.loads((tmp_path / "out" / "sessions.json").read_text())
    assert [s["date"] for s in sessions] == DAYS
    assert [s["quality"]["MSFT"]["present"] for s in sessions] == [390, 390, 0, 390]
    assert [s["quality"]["AAPL"]["present"] for s in sessions] == [390, 389, 390, 390]


@pytest.mark.parametrize(
    ("extra", "env_drop", "message"),
    [
        ((), ("APCA_API_SECRET_KEY",), "error: --secret-env: expected environment variable APCA_API_SECRET_KEY to "
         "hold the Alpaca API secret, received nothing (export APCA_API_SECRET_KEY=...)"),
        (("--key-env", "MY_KEY"), (), "error: --key-env: expected environment variable MY_KEY to hold the Alpaca "
         "API key, received nothing (export MY_KEY=...)"),
        (("--end", "2024-01-01"), (),
         "error: --end: expected a day on or after --start 2024-01-02, received 2024-01-01"),
        (("--interval", "5m"), (), "error: --interval: expected 1m or 1d (an Alpaca timeframe), received '5m'"),
        (("--feed", "otc"), (), "error: argument --feed: invalid choice: 'otc' (choose from "),
        (("--rest-url", "ftp://x"), (),
         "error: --rest-url: expected an http:// or https:// URL with a host, received 'ftp://x'"),
        (("--rest-url", "http://127.0.0.1:"), (),
         "error: --rest-url: expected an http:// or https:// URL with a host, received 'http://127.0.0.1:'"),
        (("--page-limit", "0"), (), "error: --page-limit: expected 1..10000, received 0"),
        (("--symbols", "AAPL,../x"), (), "error: --symbols: expected a symbol of letters, digits"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(tmp_path, monkeypatch, capsys, extra, env_drop, message):
    # In-process (the subprocess path of the same main() is covered above): fast, one case per line.
    for name in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY"):
        monkeypatch.setenv(name, ENV[name])
    for name in env_drop:
        monkeypatch.delenv(name)
    argv = ["fetch", "--symbols", "AAPL,MSFT", "--start", DAYS[0], "--end", DAYS[-1], "--store", str(tmp_path),
            "--rest-url", "http://127.0.0.1:9", *extra]

    code = data_main(argv)

    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err.startswith(message) and err.count("\n") == 1, err
    assert not any(tmp_path.iterdir())


def test_an_unreachable_server_is_retried_then_one_line_exit_1(tmp_path, monkeypatch, capsys):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    for name in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY"):
        monkeypatch.setenv(name, ENV[name])
    argv = ["fetch", "--symbols", "AAPL", "--start", DAYS[0], "--end", DAYS[0], "--store", str(tmp_path / "s"),
            "--rest-url", f"http://127.0.0.1:{port}", "--retries", "1", "--backoff", "0", "--quiet"]

    code = data_main(argv)

    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert err.startswith(f"error: REST http://127.0.0.1:{port}/v2/stocks/bars failed 2 times in a row: URLError: ")
    assert err.endswith("stopped while fetching AAPL 2024-01-02; saved by this run into "
                        f"{tmp_path / 's' / '1m'}: AAPL 0 days; run the same command again to fetch the rest\n")
    assert err.count("\n") == 1
