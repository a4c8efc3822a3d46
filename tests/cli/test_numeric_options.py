"""Issue 15, item 5: numeric options are checked while parsing.

A bad ``--timeout`` (negative, zero, nan, inf, too large for the interval
timer, not a number) is a usage error (exit 2) before any plan, lock or
journal; the next change is not blocked.  ``--count`` and ``blocks --node``
are checked the same way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_support import Invoke, one_line

from pmemctl.errors import ExitCode


@pytest.fixture
def sysram(fresh_tree: Any) -> Path:
    return fresh_tree("qemu-nvdimm", stage="system-ram")


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf", "-inf", "1e12", "abc", ""])
def test_bad_timeout_is_a_usage_error_before_the_journal(invoke: Invoke, sysram: Path, value: str) -> None:
    res = invoke("--sysroot", sysram, "offline", "dax0.0", "--count", "1", "--timeout", value, "--yes")
    assert res.exit_code == ExitCode.USAGE
    assert "--timeout" in one_line(res.stderr)
    assert not list(sysram.glob("var/lib/pmemctl/journal*"))  # nothing journalled
    res = invoke("--sysroot", sysram, "offline", "dax0.0", "--count", "1", "--timeout", value, "--json")
    assert res.exit_code == ExitCode.USAGE
    assert json.loads(res.stdout)["error"]["exit_code"] == ExitCode.USAGE
    # the machine is not blocked: a good run goes through
    res = invoke("--sysroot", sysram, "offline", "dax0.0", "--count", "1", "--timeout", "5", "--yes")
    assert res.exit_code == 0, res.stdout + res.stderr
    assert invoke("--sysroot", sysram, "status").exit_code == 0


@pytest.mark.parametrize("value", ["0.5", "30", "86400"])
def test_good_timeouts_are_taken(invoke: Invoke, sysram: Path, value: str) -> None:
    res = invoke("--sysroot", sysram, "offline", "dax0.0", "--count", "1", "--timeout", value, "--dry-run")
    assert res.exit_code == 0, res.stderr


@pytest.mark.parametrize("args", [
    ["offline", "dax0.0", "--count", "0"],
    ["offline", "dax0.0", "--count", "-3"],
    ["online", "dax0.0", "--count", "0"],
    ["online", "dax0.0", "--count", "1.5"],
    ["blocks", "--node", "-1"],
])
def test_other_numeric_options(invoke: Invoke, sysram: Path, args: list[str]) -> None:
    res = invoke("--sysroot", sysram, *args)
    assert res.exit_code == ExitCode.USAGE
    assert args[-2] in one_line(res.stderr)
