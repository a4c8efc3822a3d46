"""Issue 15, item 2: a blank or missing sysroot never means the live machine.

An empty or whitespace ``--sysroot``/``PMEMCTL_SYSROOT``, or one that is not
a file, is a usage error (exit 2) before anything is read or planned; one
that does not exist is not found (exit 8, the rule issue 16 item 15 asks
for too), and nothing is created under it.
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


@pytest.mark.parametrize("command", [["list", "--json"], ["status"], ["rollback"], ["resume"],
                                     ["offline", "--blocks", "5", "--yes"]], ids=" ".join)
def test_missing_sysroot_is_not_found_and_creates_nothing(invoke: Invoke, tmp_path: Path,
                                                          command: list[str]) -> None:
    """The one rule for issues 15 and 16: blank or a file is usage (2); a
    sysroot that does not exist is not found (8), before anything is made."""
    import json

    nowhere = tmp_path / "nowhere"
    cases: list[tuple[tuple[object, ...], dict[str, str]]] = [(("--sysroot", nowhere), {}),
                                                             ((), {"PMEMCTL_SYSROOT": str(nowhere)})]
    for args, env in cases:
        result = invoke(*args, *command, env=env)
        assert result.exit_code == ExitCode.NOT_FOUND, result.stderr
        line = one_line(result.stderr)
        assert "nowhere" in line and "does not exist" in line
        if "--json" in command:
            assert json.loads(result.stdout)["error"]["exit_code"] == ExitCode.NOT_FOUND
    assert list(tmp_path.iterdir()) == []


def test_missing_sysroot_after_the_command_is_not_found_too(invoke: Invoke, tmp_path: Path) -> None:
    result = invoke("list", "--sysroot", tmp_path / "nowhere")
    assert result.exit_code == ExitCode.NOT_FOUND


def test_explicit_option_wins_over_blank_variable(invoke: Invoke, tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    result = invoke("--sysroot", tmp_path, "list", env={"PMEMCTL_SYSROOT": ""})
    assert result.exit_code == ExitCode.NOT_FOUND  # read the tree given, which is not a sysfs tree
