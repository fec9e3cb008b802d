"""HTML reports people look at: report.html for every run, the comparison of two runs, a sweep's page.

Every page is one self-contained file (plotly.js inlined): it opens from disk with no network.
``python -m app.report RUN_DIR`` regenerates a run's report; ``--compare RUN_A RUN_B`` puts two
runs side by side. `app.report.sweep_page.write_sweep_report` writes a sweep's page.
"""

from __future__ import annotations

from app.report.html import ReportError
from app.report.run_page import REPORT_NAME, write_run_report, write_run_report_safely

__all__ = ["REPORT_NAME", "ReportError", "write_run_report", "write_run_report_safely"]
