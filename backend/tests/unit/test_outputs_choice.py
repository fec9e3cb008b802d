"""``--outputs``: who encodes the output files (app.backtest._outputs_process)."""

from __future__ import annotations

import app.backtest as cli
import pytest


@pytest.mark.parametrize("cores, load, expected", [
    (2, 0.3, True),   # one core for the run, most of the other for the writer
    (2, 0.7, False),  # someone else has most of the second core: a writer would slow the run down
    (2, 1.5, False),
    (1, 0.0, False),  # one core: nothing to gain
    (8, 6.4, True),
    (8, 6.6, False),
])
def test_auto_uses_a_writer_process_only_when_a_core_looks_free(monkeypatch, cores, load, expected):
    monkeypatch.setattr(cli.os, "cpu_count", lambda: cores)
    monkeypatch.setattr(cli.os, "getloadavg", lambda: (load, load, load))

    assert cli._outputs_process("auto") is expected


def test_process_and_inline_are_what_they_say_whatever_the_machine(monkeypatch):
    monkeypatch.setattr(cli.os, "cpu_count", lambda: 1)

    assert cli._outputs_process("process") is True
    assert cli._outputs_process("inline") is False


def test_an_unknown_choice_is_a_usage_error_naming_the_choices(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["x.yaml", "--outputs", "thread"])

    assert e.value.code == 2
    assert "--outputs: invalid choice: 'thread' (choose from 'auto', 'process', 'inline')" in capsys.readouterr().err
