"""Selectors and block lists that must be refused before anything is built
or changed (issue 16, item 10): a block range far past the blocks present is
not expanded; a path that is not exactly /dev/NAME selects nothing; an
address range that ends before it starts is a usage error.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

import pytest
from cli_support import Invoke, one_line, tree_digest

from pmemctl.errors import ExitCode
from pmemctl.units import parse_block_list

# The machine is the tree's sys/: a refused change may leave pmemctl's own
# lock file (run/lock/pmemctl.lock: the machine is read under the lock).


@pytest.mark.parametrize("command", ["offline", "online"])
@pytest.mark.parametrize("blocks", ["0-99999999999", "33-99999999999999999999", "40,0-4294967296:1"])
def test_a_huge_block_range_is_refused_before_expansion(
    invoke: Invoke, fresh_tree: Callable[..., Path], command: str, blocks: str
) -> None:
    tree = fresh_tree("qemu-nvdimm", stage="system-ram")
    before = tree_digest(tree, "sys")
    started = time.monotonic()
    result = invoke("--sysroot", tree, command, "--blocks", blocks, "--yes")
    assert time.monotonic() - started < 10
    assert result.exit_code == ExitCode.USAGE, result.stdout + result.stderr
    assert "reaches past the blocks present (memory" in one_line(result.stderr)
    assert tree_digest(tree, "sys") == before


def test_parse_block_list_bounds_ranges_not_single_blocks() -> None:
    assert parse_block_list("33-40,45", highest=45) == tuple(range(33, 41)) + (45,)
    assert parse_block_list("99999999999", highest=45) == (99999999999,)  # the caller names it as missing
    for bad, highest in (("0-99999999999", 45), ("46-47", 45), ("0-0", -1), ("1-5:0", 45), ("٣", 45),
                         ("1,,2", 45), (" ", 45), ("+3", 45), ("-3", 45)):
        with pytest.raises(ValueError):
            parse_block_list(bad, highest=highest)


PATHS = ["/etc/../../dax0.0", "/dev/../dev/dax0.0", "/dev//dax0.0", "dev/dax0.0", "./dax0.0", "/tmp/dax0.0",
         "/dev/dax0.0/", "/dev/dax0.0/.", "//dax0.0", "/sys/devices/../bus/dax/devices/dax0.0", "../dax0.0",
         "/dev/./dax0.0", "/dev/pmem0/../dax0.0"]


@pytest.mark.parametrize("selector", PATHS)
def test_a_path_that_is_not_exactly_dev_name_is_refused(
    invoke: Invoke, fresh_tree: Callable[..., Path], selector: str
) -> None:
    tree = fresh_tree("qemu-nvdimm", stage="system-ram")
    before = tree_digest(tree, "sys")
    result = invoke("--sysroot", tree, "reconfigure", selector, "--mode", "devdax", "--yes")
    assert result.exit_code == ExitCode.USAGE, result.stdout + result.stderr
    assert "is not a selector: a path must be exactly /dev/NAME" in one_line(result.stderr)
    assert tree_digest(tree, "sys") == before
    for command in (["offline", selector, "--count", "1", "--yes"], ["namespace", "destroy", selector, "--yes"]):
        result = invoke("--sysroot", tree, *command)
        assert result.exit_code == ExitCode.USAGE, (command, result.stdout + result.stderr)
    assert tree_digest(tree, "sys") == before


@pytest.mark.parametrize("selector", ["/dev/dax0.0", "/sys/bus/dax/devices/dax0.0", "dax0.0", "0.0"])
def test_exact_forms_still_select(invoke: Invoke, scenario_tree: Callable[..., Path], selector: str) -> None:
    tree = scenario_tree("qemu-nvdimm", stage="system-ram")
    result = invoke("--sysroot", tree, "reconfigure", selector, "--mode", "devdax", "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    assert "dax0.0" in result.stdout


def test_a_reversed_address_range_is_refused(invoke: Invoke, fresh_tree: Callable[..., Path]) -> None:
    tree = fresh_tree("qemu-nvdimm", stage="system-ram")
    doc = json.loads(invoke("--sysroot", tree, "list", "--json").stdout)
    devices = [d for b in doc["buses"] for r in b["regions"] for n in r["namespaces"]
               if (d := n["dax_device"]) is not None] + doc["standalone_dax_devices"]
    rng = next(d for d in devices if d["name"] == "dax0.0")["ranges"][0]
    start, end = rng["start"] + (1 << 20), rng["end"] - (1 << 20)
    before = tree_digest(tree, "sys")
    for command in (["reconfigure", f"{end:#x}-{start:#x}", "--mode", "devdax", "--yes"],
                    ["offline", f"{end:#x}-{start:#x}", "--count", "1", "--yes"]):
        result = invoke("--sysroot", tree, *command)
        assert result.exit_code == ExitCode.USAGE, result.stdout + result.stderr
        assert "ends before it starts" in one_line(result.stderr)
    assert tree_digest(tree, "sys") == before
    # the same range the right way round selects dax0.0
    result = invoke("--sysroot", tree, "reconfigure", f"{start:#x}-{end:#x}", "--mode", "devdax", "--dry-run")
    assert result.exit_code == 0, result.stderr
