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
    res = invoke("--sysroot", tree, "offline", "dax0.0", "--count", "2", "--json")
    doc = json.loads(res.stdout)
    failed = [s for s in doc["outcome"]["steps"] if s["status"] == "failed"]
    assert failed and failed[0]["errno"] == 133
    assert "EHWPOISON" in failed[0]["error"] and "failed: 133" not in failed[0]["error"]
    words = invoke("--sysroot", tree, "offline", "dax0.0", "--count", "2")
    assert "EHWPOISON" in words.stdout + words.stderr
