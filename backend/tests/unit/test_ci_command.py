"""`.ci/run` runs exactly the README's test command, and that command selects the hypothesis `ci` profile."""

from __future__ import annotations

import re

from support.runs import REPO


def _readme_test_command() -> str:
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```\n(.*?)\n```", text, flags=re.S)
    [command] = [b for b in blocks if "-m pytest" in b]
    return command


def test_ci_runs_exactly_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert _readme_test_command() in ci


def test_the_test_command_selects_the_hypothesis_ci_profile():
    pytest_part = _readme_test_command().split("-m pytest", 1)[1]
    assert "--hypothesis-profile=ci" in pytest_part.split()
