"""Fixtures for ``pmemctl boot``: a CliRunner and an empty target root."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "cli"))  # cli_support (schema walker)

from cli_support import Invoke, make_runner  # noqa: E402

from pmemctl.cli.main import cli  # noqa: E402


@pytest.fixture
def invoke() -> Invoke:
    runner = make_runner()

    def _invoke(*args: Any) -> Any:
        return runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)

    return _invoke


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A target root with a workload unit of its own (as a distribution ships one)."""
    r = tmp_path / "root"
    units = r / "etc/systemd/system"
    units.mkdir(parents=True)
    (units / "demo-db.service").write_text(
        "[Unit]\nDescription=stand-in database\n\n[Service]\nExecStart=/bin/true\n")
    return r
