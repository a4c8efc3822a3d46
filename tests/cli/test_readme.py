"""The README's reference section is generated; fail when it is stale."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_reference_is_current() -> None:
    text = README.read_text()
    begin, end = "<!-- BEGIN GENERATED REFERENCE -->\n", "<!-- END GENERATED REFERENCE -->"
    section = text[text.index(begin) + len(begin): text.index(end)]
    generated = subprocess.run(
        [sys.executable, "-m", "pmemctl.cli.gendocs", "--markdown"], capture_output=True, text=True, check=True
    ).stdout
    assert section.strip() == generated.strip(), (
        "README.md reference section is stale: paste the output of 'python -m pmemctl.cli.gendocs --markdown'"
    )


def test_readme_test_command_is_what_ci_runs() -> None:
    ci = (README.parent / ".ci/run").read_text()
    command = "python3 -m pip install -e '.[test]' && python3 -m pytest -q"
    assert command in README.read_text()
    assert command in ci
