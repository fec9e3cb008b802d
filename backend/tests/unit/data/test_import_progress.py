"""The import's row progress: the callback's calls per pass, and the CLI's bars over them."""

from __future__ import annotations

import io
from pathlib import Path

import app.data.source as source_module
import pytest
from app.data.import_progress import ImportProgress
from app.data.importer import import_bars
from app.timing.stopwatch import ManualTime, Stopwatch

HEADER = "timestamp,open,high,low,close,volume"


@pytest.fixture
def csv_10_rows(tmp_path: Path) -> Path:
    rows = [f"2024-01-02T09:{30 + m:02d}:00-05:00,10,11,9,10.5,100" for m in range(10)]
    rows[3] = "2024-01-02T09:33:00-05:00,1x,11,9,10.5,100"  # unparseable: still counted as parsed
    path = tmp_path / "a.csv"
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    return path


def test_rows_are_reported_every_chunk_and_at_the_end_of_each_pass(csv_10_rows, tmp_path, monkeypatch):
    monkeypatch.setattr(source_module, "ROWS_PER_REPORT", 4)
    calls: list[tuple[str, int, int | None]] = []
    report = import_bars(csv_10_rows, "AAPL", "1m", tmp_path / "store", progress=lambda *a: calls.append(a))
    assert calls == [("read", 0, None), ("read", 4, None), ("read", 8, None), ("read", 10, None),
                     ("parse", 0, 10), ("parse", 4, 10), ("parse", 8, 10), ("parse", 10, 10)]
    assert (report.accepted, report.rejected) == (9, 1)  # the callback changes nothing imported


def test_the_cli_progress_is_one_bar_per_pass_with_the_delay_from_the_start():
    time, out = ManualTime(), io.StringIO()
    progress = ImportProgress("import AAPL", delay=2.0, stream=out, tty=False, stopwatch=Stopwatch(time))
    with progress:
        progress("read", 0, None)
        time.jump(15)
        progress("read", 65536, None)
        progress("read", 70000, None)
        progress("parse", 0, 70000)
        time.jump(15)
        progress("parse", 65536, 70000)
        progress("parse", 70000, 70000)
    assert out.getvalue().splitlines() == [
        "import AAPL: read: 65,536 rows, 4,369 rows/s, elapsed 0:15",
        "import AAPL: read: done 70,000 rows in 0:15, 4,667 rows/s",
        "import AAPL: parse: 65,536/70,000 rows (93%), 4,369 rows/s, elapsed 0:15, ETA 0:01",
        "import AAPL: parse: done 70,000/70,000 rows in 0:15, 4,667 rows/s",
    ]


def test_quiet_import_progress_writes_nothing():
    time, out = ManualTime(), io.StringIO()
    with ImportProgress("import AAPL", quiet=True, stream=out, tty=False, stopwatch=Stopwatch(time)) as progress:
        time.jump(60)
        progress("read", 0, None)
        progress("read", 10, None)
        progress("parse", 0, 10)
        progress("parse", 10, 10)
    assert out.getvalue() == ""
