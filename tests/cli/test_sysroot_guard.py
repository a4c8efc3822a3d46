"""Issue 15, item 2: a blank or missing sysroot never means the live machine.

An empty or whitespace ``--sysroot``/``PMEMCTL_SYSROOT``, or one that is not
a directory, is a usage error (exit 2) before anything is read or planned.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import Invoke, one_line

from pmemctl.errors import ExitCode

COMMAND = ["offline", "--blocks", "5", "--dry-run"]


@pytest.mark.parametrize("value", ["", " ", "\t"])
def test_blank_sysroot_option_is_a_usage_error(invoke: Invoke, value: str) -> None:
    result = invoke("--sysroot", value, *COMMAND)
    assert result.exit_code == ExitCode.USAGE
    assert "empty" in one_line(result.stderr)
    assert result.stdout == ""


@pytest.mark.parametrize("value", ["", " "])
def test_blank_sysroot_variable_is_a_usage_error(invoke: Invoke, value: str) -> None:
    result = invoke(*COMMAND, env={"PMEMCTL_SYSROOT": value})
    assert result.exit_code == ExitCode.USAGE
    line = one_line(result.stderr)
    assert "PMEMCTL_SYSROOT" in line and "empty" in line


def test_sysroot_that_is_a_file_is_a_usage_error(invoke: Invoke, tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    cases: list[tuple[tuple[object, ...], dict[str, str]]] = [(("--sysroot", f), {}), ((), {"PMEMCTL_SYSROOT": str(f)})]
    for args, env in cases:
        result = invoke(*args, *COMMAND, env=env)
        assert result.exit_code == ExitCode.USAGE
        assert f"{f} is not a directory" in one_line(result.stderr)


def test_missing_sysroot_is_a_usage_error_with_json_too(invoke: Invoke, tmp_path: Path) -> None:
    import json

    result = invoke("--sysroot", tmp_path / "nowhere", "list", "--json")
    assert result.exit_code == ExitCode.USAGE
    assert json.loads(result.stdout)["error"]["exit_code"] == ExitCode.USAGE


def test_explicit_option_wins_over_blank_variable(invoke: Invoke, tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    result = invoke("--sysroot", tmp_path, "list", env={"PMEMCTL_SYSROOT": ""})
    assert result.exit_code == ExitCode.NOT_FOUND  # read the tree given, which is not a sysfs tree
