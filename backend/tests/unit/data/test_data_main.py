"""In-process tests of the data CLI (app.data.__main__.main): exit codes and one-line messages."""

from __future__ import annotations

import pytest

from app.data.__main__ import main

CSV = "timestamp,open,high,low,close,volume\n2024-01-02T14:30:00Z,10,11,9,10.5,100\n2024-01-02T14:31:00Z,10,11,9,,100\n"


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_sample_then_info(tmp_path, capsys):
    # One session, so one 10-bar hole per symbol: 390 - 10 = 380 bars each.
    code, out, err = _run(
        capsys, "sample", "--store", str(tmp_path), "--symbols", "AAPL,SPY", "--start", "2024-01-02", "--end", "2024-01-02"
    )
    assert (code, err) == (0, "")
    assert out == (
        "wrote 760 synthetic 1m bars of AAPL, SPY (1 XNYS sessions 2024-01-02..2024-01-02, 2 gaps injected) "
        f"and their 1d bars into {tmp_path}; see {tmp_path}/README.txt\n"
    )
    code, out, err = _run(capsys, "info", "--store", str(tmp_path))
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "  1m AAPL                380 rows  2024-01-02T14:30:00Z .. 2024-01-02T20:59:00Z",
        "  1m SPY                 380 rows  2024-01-02T14:30:00Z .. 2024-01-02T20:59:00Z",
        "  1d AAPL                  1 rows  2024-01-02T14:30:00Z .. 2024-01-02T14:30:00Z",
        "  1d SPY                   1 rows  2024-01-02T14:30:00Z .. 2024-01-02T14:30:00Z",
    ]


def test_import_prints_the_summary(tmp_path, capsys):
    source = tmp_path / "in.csv"
    source.write_text(CSV)
    code, out, err = _run(capsys, "import", str(source), "--symbol", "AAPL", "--interval", "1m", "--store", str(tmp_path / "s"))
    assert (code, err) == (0, "")
    assert out == (
        f"imported 1 bars into {tmp_path}/s/1m/AAPL.parquet; rejected 1 (NAN: 1); first bad line 3: NAN; "
        f"rejected rows written to {tmp_path}/s/1m/AAPL.rejected.csv\n"
    )


def test_import_twice_needs_merge_or_replace(tmp_path, capsys):
    source = tmp_path / "in.csv"
    source.write_text(CSV)
    args = ["import", str(source), "--symbol", "AAPL", "--interval", "1m", "--store", str(tmp_path)]
    assert _run(capsys, *args)[0] == 0
    code, out, err = _run(capsys, *args)
    assert (code, out) == (1, "")
    assert err == f"error: {tmp_path}/1m/AAPL.parquet: already exists; pass --merge to add these bars or --replace to overwrite it\n"
    assert _run(capsys, *args, "--merge")[0] == 0
    assert _run(capsys, *args, "--replace")[0] == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--interval", "7x"], "error: --interval: expected an interval like '1s', '1m', '5m', '1h' or '1d', received '7x'\n"),
        (["--calendar", "XNYZ"], "error: --calendar: unknown exchange calendar 'XNYZ'; did you mean 'XNZE'?\n"),
        (["--tz", "Mars/Base"], "error: --tz: expected an IANA time zone such as 'America/New_York', received 'Mars/Base'\n"),
        (["--symbol", "A/B"], "error: --symbol: expected a symbol of letters, digits and '. - _ ^ =' (not starting with '.' or '-'), received 'A/B'\n"),
        (["--merge", "--replace"], "error: argument --replace: not allowed with argument --merge\n"),
    ],
)
def test_import_usage_errors_exit_2_with_one_line(tmp_path, capsys, extra, message):
    args = ["import", str(tmp_path / "in.csv"), "--symbol", "AAPL", "--interval", "1m", "--store", str(tmp_path)]
    code, out, err = _run(capsys, *args, *extra)
    assert (code, out, err) == (2, "", message)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["frob"], "error: argument command: invalid choice: 'frob' (choose from 'sample', 'import', 'fetch', 'info')\n"),
        (["sample"], "error: the following arguments are required: --store\n"),
        (["sample", "--store", "x", "--start", "2024-1-2"], "error: argument --start: expected a date like 2024-01-02, received '2024-1-2'\n"),
        (["sample", "--store", "x", "--symbols", ","], "error: --symbols: expected a symbol of letters, digits and '. - _ ^ =' (not starting with '.' or '-'), received ''\n"),
        (["sample", "--store", "x", "--start", "2024-01-06", "--end", "2024-01-07"], "error: expected at least one XNYS session in 2024-01-06..2024-01-07, received none\n"),
        (["sample", "--store", "x", "--seed", "-3"], "error: expected a seed that is an integer >= 0, received -3\n"),
    ],
)
def test_usage_errors_exit_2_with_one_line(capsys, argv, message):
    assert _run(capsys, *argv) == (2, "", message)


@pytest.mark.parametrize("argv", [[], ["--traceback"]])
def test_no_command_prints_the_usage_line_and_exits_2(capsys, argv):
    assert _run(capsys, *argv) == (
        2, "", "usage: python -m app.data [-h] [--traceback] {sample,import,fetch,info} ...\n"
               "error: expected a command: sample, import, fetch or info (python -m app.data --help)\n")


def test_data_errors_exit_1_with_one_line(tmp_path, capsys):
    missing = tmp_path / "nope.csv"
    code, out, err = _run(capsys, "import", str(missing), "--symbol", "AAPL", "--interval", "1m", "--store", str(tmp_path))
    assert (code, out, err) == (1, "", f"error: {missing}: expected an existing CSV or Parquet file, received a missing path\n")
    code, out, err = _run(capsys, "info", "--store", str(missing))
    assert (code, out, err) == (1, "", f"error: {missing}: expected a store folder, received a missing path\n")


def test_naive_timestamp_error_names_file_and_line(tmp_path, capsys):
    source = tmp_path / "in.csv"
    source.write_text("timestamp,open,high,low,close,volume\n2024-01-02 09:30,10,11,9,10.5,100\n")
    code, _, err = _run(capsys, "import", str(source), "--symbol", "AAPL", "--interval", "1m", "--store", str(tmp_path))
    assert code == 1
    assert err.startswith(f"error: {source}:2: timestamp '2024-01-02 09:30' has no time zone;")
    assert err.count("\n") == 1


def test_unreadable_store_file_in_info_is_a_data_error(tmp_path, capsys):
    (tmp_path / "1m").mkdir()
    (tmp_path / "1m" / "AAPL.parquet").write_text("junk")
    code, _, err = _run(capsys, "info", "--store", str(tmp_path))
    assert code == 1
    assert err.startswith(f"error: {tmp_path}/1m/AAPL.parquet: expected a readable Parquet file, received an error: ")


def test_empty_store_says_so(tmp_path, capsys):
    assert _run(capsys, "info", "--store", str(tmp_path)) == (0, f"no bar files in {tmp_path}\n", "")


def test_help_exits_0(capsys):
    code, out, _ = _run(capsys, "--help")
    assert code == 0 and out.startswith("usage: python -m app.data")
