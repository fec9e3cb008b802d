"""Tests of the local trading server (``python -m app.broker serve``); `harness` is shared with other tests."""
