"""Entry point: ``python -m app.broker serve ...`` (the local Alpaca-protocol trading server)."""

from __future__ import annotations

import sys

from app.broker.server.cli import main

if __name__ == "__main__":
    sys.exit(main())
