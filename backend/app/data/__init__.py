"""Bar data tools: import CSV/Parquet files into the store and write labelled synthetic samples.

Run as ``python -m app.data sample|import|info``. This package writes the Parquet store that
`app.store.bar_store.BarStore` reads; it imports no threads and reads no clock.
"""

from __future__ import annotations

from app.data.importer import ImportReport, import_bars
from app.data.sample import SampleGap, SampleReport, write_sample

__all__ = ["ImportReport", "SampleGap", "SampleReport", "import_bars", "write_sample"]
