"""Screenshot a real run's report.html in headless chromium (for notes and reviews; not a test).

    python backend/tests/report/make_screenshot.py [CONFIG] [-o PNG]

Runs CONFIG (default session_configs/demo.yaml; its store must exist: `python -m app.data sample
--store data/sample`) into a temporary folder, opens its report.html and writes a full-page PNG
(default /work/notes/report_screenshot.png). Exits 1 when a chart did not render or the page
logged an error.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1]), str(HERE.parent)]

from report_browser import INSTALL_HINT, chromium_path, render  # noqa: E402
from report_support import REPO, run_cli  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default=str(REPO / "session_configs" / "demo.yaml"))
    parser.add_argument("-o", "--output", type=Path, default=Path("/work/notes/report_screenshot.png"))
    args = parser.parse_args()
    executable = chromium_path()
    if executable is None:
        sys.stderr.write(f"chromium is not installed: {INSTALL_HINT}\n")
        return 1
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        result = run_cli("-m", "app.backtest", args.config, "-o", str(run_dir), "-q")
        if result.returncode != 0:
            sys.stderr.write(result.stderr)
            return 1
        args.output.parent.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=executable, headless=True)
            try:
                rendered = render(browser, run_dir / "report.html", args.output, full_page=True)
            finally:
                browser.close()
    bad = [c["name"] for c in rendered.charts
           if not c["drawn"] or not c["points"] or not all(n > 0 for n in c["points"])]
    if rendered.errors or bad:
        sys.stderr.write(f"errors: {rendered.errors}; charts not drawn: {bad}\n")
        return 1
    sys.stdout.write(f"{args.output}: {len(rendered.charts)} charts\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
