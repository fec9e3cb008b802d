"""app.store.parquet_file.ParquetFile reads what pyarrow.parquet.ParquetFile reads, and fails the same way."""

from __future__ import annotations

import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from app.store.parquet_file import ParquetFile

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def nested(tmp_path_factory):
    path = tmp_path_factory.mktemp("pq") / "nested.parquet"
    table = pa.table({"timestamp": pa.array([1, 2, 3, 4], pa.timestamp("ns", tz="UTC")),
                      "quote": pa.array([{"bid": 1.0, "ask": {"px": 2.0}}] * 4),
                      "close": [1.5, 2.5, 3.5, 4.5]})
    pq.write_table(table, path, row_group_size=2)
    return path


@pytest.mark.parametrize("columns", [["close"], ["close", "timestamp"], ["quote"], ["quote.ask"],
                                     ["quote.ask.px", "close"], ["close", "no_such_column"], []])
def test_columns_are_read_as_pyarrow_parquet_reads_them(nested, columns):
    # Act
    with ParquetFile(nested) as ours:
        whole = ours.read(columns)
        groups = ours.read_row_groups([1, 0], columns, use_threads=False)
    theirs = pq.ParquetFile(nested)

    # Assert
    assert whole.equals(theirs.read(columns=columns))
    assert groups.equals(theirs.read_row_groups([1, 0], columns=columns, use_threads=False))


def test_footer_and_schema_are_pyarrow_parquets(nested):
    with ParquetFile(nested) as ours:
        assert ours.schema_arrow.equals(pq.ParquetFile(nested).schema_arrow)
        assert ours.metadata.equals(pq.ParquetFile(nested).metadata)


def test_a_file_that_is_not_parquet_fails_with_arrows_own_error(tmp_path):
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"not a parquet file at all")
    with pytest.raises(pa.ArrowInvalid) as theirs:
        pq.ParquetFile(path)

    with pytest.raises(pa.ArrowInvalid) as ours:
        ParquetFile(path)

    assert str(ours.value) == str(theirs.value)


def test_a_missing_file_is_an_oserror(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing\.parquet"):
        ParquetFile(tmp_path / "missing.parquet")


def test_reading_imports_neither_pyarrow_parquet_nor_its_filesystems(nested):
    # A fresh interpreter: what opening and reading a file loads.
    code = ("import sys; from app.store.parquet_file import ParquetFile; "
            f"ParquetFile({str(nested)!r}).read(['close']); "
            "print(sorted(m for m in sys.modules if m in ('ssl', 'pyarrow.parquet', 'pyarrow.fs')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize("broken", ["missing", "changed"])
def test_without_arrows_private_reader_the_public_one_reads_the_same(nested, monkeypatch, broken):
    # Arrange: a pyarrow whose private reader is gone, or whose open() takes other arguments
    import app.store.parquet_file as module

    class Changed:
        def open(self, source, **kwargs):
            raise TypeError("open() got an unexpected keyword argument 'pre_buffer'")

    monkeypatch.setattr(module, "ParquetReader", None if broken == "missing" else Changed)

    # Act
    with ParquetFile(nested) as ours:
        whole = ours.read(["close", "quote.ask"])
        groups = ours.read_row_groups([1, 0], ["timestamp"], use_threads=False)
        schema, metadata = ours.schema_arrow, ours.metadata
    theirs = pq.ParquetFile(nested)

    # Assert
    assert whole.equals(theirs.read(columns=["close", "quote.ask"]))
    assert groups.equals(theirs.read_row_groups([1, 0], columns=["timestamp"], use_threads=False))
    assert schema.equals(theirs.schema_arrow) and metadata.equals(theirs.metadata)
