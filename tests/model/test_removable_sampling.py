"""``removable`` read from one block where the kernel shows every block the
same (Linux 5.7+: pmemctl/model/blocks.py removable_is_constant), and block
by block everywhere else; the views show the same either way (issue 14:
``blocks`` reads a third fewer files)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional, Sequence

import pytest

from pmemctl.model.blocks import block_indexes, read_block_table, removable_is_constant
from pmemctl.model.discover import discover
from pmemctl.ops.blocks import blocks_view
from pmemctl.sim.cases import Case, TreeCache
from pmemctl.sysfs import paths
from pmemctl.sysfs.door import SysfsRoot

QEMU = Case("qemu-nvdimm", {"stage": "system-ram"})
OSRELEASE = "proc/sys/kernel/osrelease"
ONLINE_POLICY = paths.MEMORY_HOTPLUG_PARAMS.lstrip("/") + "/online_policy"


class RemovableReads(SysfsRoot):
    """Counts the ``removable`` files read."""

    def __init__(self, root: str) -> None:
        super().__init__(root)
        self.removable = 0

    def read_table(self, base: str, dirs: Sequence[str], attrs: Sequence[str]) -> list[list[Optional[str]]]:
        if base.endswith("/system/memory") and "removable" in attrs:
            self.removable += len(dirs)
        return super().read_table(base, dirs, attrs)

    def read_optional(self, kpath: str) -> Optional[str]:
        self.removable += kpath.startswith(paths.MEMORY + "/memory") and kpath.endswith("/removable")
        return super().read_optional(kpath)


@pytest.fixture
def tree(tmp_path: Path, sim_trees: TreeCache) -> Path:
    """A copy of qemu-nvdimm at system-ram (a 6.x tree: memory_hotplug has online_policy)."""
    src, _ = sim_trees.get(QEMU)
    root = tmp_path / "tree"
    shutil.copytree(src, root, symlinks=True)
    return root


def set_file(root: Path, rel: str, text: Optional[str]) -> None:
    f = root / rel
    if f.exists() or f.is_symlink():
        f.unlink()  # (block files are shared between blocks in built trees)
    if text is not None:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text + "\n")


def removable_column(root: Path) -> tuple[list[Optional[bool]], int]:
    door = RemovableReads(str(root))
    indexes = block_indexes(door)
    table = read_block_table(door, indexes, 128 << 20, [], [], frozenset({"removable"}))
    return table.removable, door.removable


@pytest.mark.parametrize(("release", "policy", "constant"), [
    (None, True, True),  # no release in the tree: online_policy (5.15+) says
    ("6.1.0-28-amd64", False, True),
    ("5.7.0", False, True),
    ("5.4.0-150-generic", True, False),  # the release wins over the parameter (a backport)
    ("4.18.0-553.el8_10.x86_64", False, False),
    (None, False, False),  # nothing tells: block by block
])
def test_which_kernels_show_every_block_the_same(tree: Path, release: Optional[str], policy: bool,
                                                  constant: bool) -> None:
    set_file(tree, OSRELEASE, release)
    if not policy:
        set_file(tree, ONLINE_POLICY, None)
    assert removable_is_constant(SysfsRoot(str(tree))) is constant
    values, reads = removable_column(tree)
    assert values and set(values) == {True}
    assert reads == (1 if constant else len(values))


def test_a_0_is_read_block_by_block_and_shown_as_read(tree: Path) -> None:
    """First block 0 (a kernel without memory hot-remove shows 0 everywhere;
    here one other block too): every block is read and shows its own value."""
    indexes = block_indexes(SysfsRoot(str(tree)))
    first, other = indexes[0], indexes[7]
    for idx in (first, other):
        set_file(tree, f"sys/devices/system/memory/memory{idx}/removable", "0")
    values, reads = removable_column(tree)
    assert reads == 1 + len(indexes)
    assert [i for i, v in zip(indexes, values, strict=True) if v is False] == [first, other]


def test_blocks_view_is_the_same_sampled_or_read(tree: Path) -> None:
    columns = ("range", "size", "state", "removable", "block", "node", "zone")
    sampled = blocks_view(RemovableReads(str(tree)), columns=columns, per_block=True)
    set_file(tree, ONLINE_POLICY, None)  # no evidence: read block by block
    door = RemovableReads(str(tree))
    read = blocks_view(door, columns=columns, per_block=True)
    assert door.removable == len(discover(SysfsRoot(str(tree))).blocks)
    assert sampled.ranges == read.ranges and sampled.ranges
    assert sampled.table.removable == read.table.removable


def test_offline_samples_only_where_the_kernel_shows_every_block_the_same(tree: Path) -> None:
    """An older kernel's "1" on one block says nothing of the next: offline's
    removable (the device's online blocks) is then read block by block."""
    from pmemctl.ops.services import OFFLINE_FIELDS, _device_topology

    door = RemovableReads(str(tree))
    online = [b for b in _device_topology(door, OFFLINE_FIELDS, "dax0.0").blocks if b.online]
    assert door.removable == 1 and {b.removable for b in online} == {True}
    set_file(tree, OSRELEASE, "5.4.0")
    door = RemovableReads(str(tree))
    online = [b for b in _device_topology(door, OFFLINE_FIELDS, "dax0.0").blocks if b.online]
    assert door.removable == len(online) and {b.removable for b in online} == {True}
