"""Entry point: ``python -m app.feed serve ...``."""

from __future__ import annotations

import sys

from app.feed.cli import main

if __name__ == "__main__":
    sys.exit(main())
