"""Recording and replay of a session (issue 9, sections 2 and 3).

A live run (and a backtest with ``run.record: true``) writes ``recording/`` in its run folder:
every bar received, every published step and which bars it held, every order, fill and
rejection with the step it came from, and the history each session started with
(`schema`, `writer`, `taps`). ``python -m app.backtest --replay RUN_DIR`` replays it through the
same pipeline (`replay`, `threads/replay_step_source.py`) and diffs every decision
(`app.metrics.parity`).
"""
