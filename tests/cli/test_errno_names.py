"""Issue 15, item 11 (second half): every errno is printed by name, never as
a bare number: a block with a hardware-poisoned page fails with EHWPOISON
(133), which Python's errno module does not know."""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import pytest
from cli_support import Invoke

from pmemctl.errors import errno_name, kernel_error
from pmemctl.sim.kernel import faults


@pytest.mark.parametrize("code", range(1, 134))
def test_every_linux_errno_has_a_name(code: int) -> None:
    if code in (41, 58):  # no errno of these numbers on Linux (EWOULDBLOCK/EDEADLOCK are aliases)
        return
    assert errno_name(code).startswith("E"), code


def test_ehwpoison_message() -> None:
    text = kernel_error("/sys/devices/system/memory/memory40/state", 133, value="offline").sentence()
    assert "EHWPOISON" in text and "133" not in text and "hardware error" in text
    assert errno_name(errno.EBUSY) == "EBUSY"


def test_offline_of_a_poisoned_block_names_the_errno(invoke: Invoke, fresh_tree: Any) -> None:
    tree: Path = fresh_tree("qemu-nvdimm", stage="system-ram")
    faults.inject(tree, "offline-busy", blocks=[62], errno="EHWPOISON")
    res = invoke("--sysroot", tree, "offline", "dax0.0", "--blocks", "61-62", "--json")
    doc = json.loads(res.stdout)
    failed = [s for s in doc["outcome"]["steps"] if s["status"] == "failed"]
    assert failed and failed[0]["errno"] == 133
    assert "EHWPOISON" in failed[0]["error"] and "failed: 133" not in failed[0]["error"]
    words = invoke("--sysroot", tree, "offline", "dax0.0", "--blocks", "61-62")
    assert "EHWPOISON" in words.stdout + words.stderr


def test_count_takes_a_spare_for_a_poisoned_block_and_says_why(invoke: Invoke, fresh_tree: Any) -> None:
    """--count asks for an amount: the poisoned block is swapped for a spare,
    and the outcome names both blocks and the errno by name."""
    tree: Path = fresh_tree("qemu-nvdimm", stage="system-ram")
    faults.inject(tree, "offline-busy", blocks=[62], errno="EHWPOISON")
    res = invoke("--sysroot", tree, "offline", "dax0.0", "--count", "2", "--json")
    assert res.exit_code == 0, res.output
    steps = json.loads(res.stdout)["outcome"]["steps"]
    spare = [s for s in steps if s["kind"] == "offline-spare-block"]
    assert len(spare) == 1 and "instead of block 62" in spare[0]["action"] and "EHWPOISON" in spare[0]["action"]
    words = invoke("--sysroot", tree, "online", "dax0.0", "--yes")
    assert words.exit_code == 0, words.output
    words = invoke("--sysroot", tree, "offline", "dax0.0", "--count", "2")
    assert "Blocks taken instead of busy ones:" in words.stdout
    assert "offline memory block 60 instead of block 62 (block 62: EHWPOISON" in words.stdout, words.stdout


def test_os_errors_are_printed_by_name_too(invoke: Invoke) -> None:
    """Not only kernel attribute writes: an errno from an ordinary file
    (sim create under /proc, a layout file, a bundle) prints its name and
    meaning, and an unexpected one never as "[Errno 13]"."""
    from pmemctl.errors import os_error_text

    assert os_error_text(PermissionError(errno.EACCES, "Permission denied", "/x")) == "EACCES, permission denied"
    assert os_error_text(OSError(133, "Memory page has hardware error")).startswith("EHWPOISON, ")
    res = invoke("sim", "create", "-s", "qemu-nvdimm", "/proc/pmemctl-x")
    assert "ENOENT, no such file or directory" in res.stderr and "Errno" not in res.stderr


def test_an_unexpected_os_error_names_its_errno(capsys: Any) -> None:
    from pmemctl.cli.main import handle_error

    code = handle_error(PermissionError(errno.EACCES, "Permission denied", "/var/lib/pmemctl/x"))
    err = capsys.readouterr().err
    assert code == 1 and "internal error: PermissionError: EACCES, permission denied: /var/lib/pmemctl/x" in err
    assert "[Errno" not in err
