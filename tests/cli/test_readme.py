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


def test_readme_says_how_to_install_for_real_use() -> None:
    """Issue 15, item 18: the first command fails on Debian 12's system
    Python; the README says what to do instead, how root runs it, where the
    man pages and completions go, and what the test suite costs."""
    text = README.read_text()
    section = text[text.index("## Install for real use"):text.index("## Everyday use")]
    assert "externally-managed-environment" in section
    assert "python3 -m venv /opt/pmemctl" in section and "pipx install" in section
    assert "secure_path" in section and "/usr/local/sbin/pmemctl" in section
    from pmemctl.cli.completion import FILES

    for name in FILES.values():
        assert f"completions/{name}" in section
        assert (README.parent / "completions" / name).is_file()
    assert "man/*.1" in section and any((README.parent / "man").glob("*.1"))
    assert "minutes" in section and "410 MB" in section and "PyPI" in section
