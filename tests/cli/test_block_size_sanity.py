"""block_size_bytes is checked as the kernel checks it at boot (issue 16, item 9).

memory_dev_init() panics unless the block size is a power of two and at least
one memory section; a tree holding anything else is damaged, and guessing
would turn addresses into the wrong blocks (with 7000000, kmem was unbound
under online memory).  Every command refuses with one line naming the file,
and nothing under the tree changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from cli_support import Invoke, one_line, tree_digest

from pmemctl.errors import ExitCode

BAD = ["7000000", "1", "abc", "0", "1000", "800000", "0x8000000", "+8000000", "8_000_000", " ", "8000000 8"]
FILE = "/sys/devices/system/memory/block_size_bytes"




def _plant(tree: Path, content: str) -> None:
    path = tree / "sys/devices/system/memory/block_size_bytes"
    path.chmod(0o644)
    path.write_text(content + "\n")


@pytest.mark.parametrize("content", BAD)
def test_change_refused_and_nothing_written(
    invoke: Invoke, fresh_tree: Callable[..., Path], content: str
) -> None:
    tree = fresh_tree("qemu-nvdimm", stage="system-ram")
    _plant(tree, content)
    before = tree_digest(tree, "sys")
    result = invoke("--sysroot", tree, "reconfigure", "dax0.0", "--mode", "devdax", "--yes")
    assert result.exit_code == ExitCode.FAILED, result.stdout + result.stderr
    line = one_line(result.stderr)
    assert FILE in line and "power of two" in line
    assert tree_digest(tree, "sys") == before
    assert (tree / "sys/bus/dax/devices/dax0.0/driver").readlink().name == "kmem"


@pytest.mark.parametrize("content", ["7000000", "1", "abc"])
@pytest.mark.parametrize(
    "command",
    [["blocks"], ["blocks", "--json"], ["list"], ["list", "--json"], ["topology"],
     ["offline", "--blocks", "33", "--dry-run"], ["online", "dax0.0", "--dry-run"]],
)
def test_every_reader_names_the_file(
    invoke: Invoke, fresh_tree: Callable[..., Path], content: str, command: list[str]
) -> None:
    tree = fresh_tree("qemu-nvdimm", stage="system-ram")
    _plant(tree, content)
    result = invoke("--sysroot", tree, *command)
    assert result.exit_code == ExitCode.FAILED, result.stdout + result.stderr
    line = one_line(result.stderr)
    assert f"{FILE}: unexpected content {content!r}" in line
    assert "a power of two of at least 1000000 (16 MiB" in line


@pytest.mark.parametrize("content,size", [("1000000", 16 << 20), ("8000000", 128 << 20), ("80000000", 2 << 30)])
def test_block_sizes_kernels_use_are_read(fresh_tree: Callable[..., Path], content: str, size: int) -> None:
    from pmemctl.model.discover import read_block_size
    from pmemctl.sysfs.door import SysfsRoot

    tree = fresh_tree("qemu-nvdimm", stage="system-ram")
    _plant(tree, content)
    assert read_block_size(SysfsRoot(str(tree))) == size
