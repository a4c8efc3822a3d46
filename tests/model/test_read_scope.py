"""``list`` and ``topology`` read only the blocks they need, and show the same
as a walk of every block would (issue 14)."""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path
from typing import Iterator, Optional, Sequence

import pytest

from pmemctl.cli.render.common import dax_block_counts
from pmemctl.model.discover import discover
from pmemctl.model.records import Topology
from pmemctl.ops import read
from pmemctl.sim.cases import ALL_CASES, Case, TreeCache
from pmemctl.sysfs.door import SysfsRoot


class CountingDoor(SysfsRoot):
    """A door that counts what it is asked to read, per kind of attribute."""

    def __init__(self, root: str) -> None:
        super().__init__(root)
        self.reads: Counter[str] = Counter()
        self.listed: list[str] = []

    def _count(self, kpath: str) -> None:
        leaf = kpath.rsplit("/", 1)[-1]
        self.reads["block " + leaf if "/system/memory/memory" in kpath else "other"] += 1

    def read(self, kpath: str) -> str:
        self._count(kpath)
        return super().read(kpath)

    def read_optional(self, kpath: str) -> Optional[str]:
        self._count(kpath)
        return super().read_optional(kpath)

    def read_many(self, relpaths: list[str], base: str) -> list[Optional[str]]:
        for rel in relpaths:
            self._count(f"{base}/{rel}")
        return super().read_many(relpaths, base)

    def read_table(self, base: str, dirs: Sequence[str], attrs: Sequence[str]) -> list[list[Optional[str]]]:
        for d in dirs:
            for attr in attrs:
                self._count(f"{base}/{d}/{attr}")
        return super().read_table(base, dirs, attrs)

    def read_all(self, kpath: str) -> Optional[str]:
        self._count(kpath)
        return super().read_all(kpath)

    def listdir(self, kpath: str) -> list[str]:
        self.listed.append(kpath)
        return super().listdir(kpath)


def _block_reads(door: CountingDoor) -> int:
    return sum(n for k, n in door.reads.items() if k.startswith("block "))


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.id)
def test_list_and_topology_show_what_a_full_walk_shows(sim_trees: TreeCache, case: Case) -> None:
    root, _ = sim_trees.get(case)
    full = discover(SysfsRoot(root))
    lv = read.list_view(SysfsRoot(root))
    assert dax_block_counts(lv.topology) == dax_block_counts(full)
    assert lv.topology.policy == full.policy
    tv = read.topology_view(SysfsRoot(root))
    assert [n for n in tv.nodes] == list(full.nodes)
    want = read._tier_warnings(full) + read._movable_only_warnings(full) + read._stranded_warnings(full)
    assert list(tv.warnings) == want


def test_list_reads_only_blocks_inside_dax_devices(sim_trees: TreeCache) -> None:
    root, scenario = sim_trees.get(Case("big", {"blocks": "4096"}))
    m = scenario.machine
    owned = sum(1 for b in m.blocks if b.owner is not None)
    boot = len(m.blocks) - owned
    assert boot >= 128 and owned > 0
    door = CountingDoor(str(root))
    read.list_view(door)
    # one state read per block a dax device holds; none for boot memory
    assert door.reads["block state"] == owned
    assert _block_reads(door) == owned
    assert "/sys/devices/system/memory" not in door.listed


def test_list_reads_no_blocks_without_kmem(sim_trees: TreeCache) -> None:
    root, scenario = sim_trees.get(Case("cxl-hmem", {"kind": "hmem", "mode": "devdax"}))
    assert scenario.machine.blocks
    door = CountingDoor(str(root))
    read.list_view(door)
    assert _block_reads(door) == 0
    assert "/sys/devices/system/memory" not in door.listed


def test_topology_reads_state_and_online_zones_only(own_trees: TreeCache) -> None:
    root, scenario = own_trees.get(Case("big", {"blocks": "4096"}))
    m = scenario.machine
    online = sum(1 for b in m.blocks if b.online)
    # A tree without /proc/zoneinfo (a recording that left it out): each
    # block's state is read once, and valid_zones of online blocks only;
    # never removable, never a per-block readdir.
    full = discover(SysfsRoot(str(root)))
    zoneinfo = Path(root, "proc", "zoneinfo")
    saved = zoneinfo.read_bytes()
    zoneinfo.unlink()
    try:
        door = CountingDoor(str(root))
        tv = read.topology_view(door)
    finally:
        zoneinfo.write_bytes(saved)
    assert list(tv.nodes) == list(full.nodes)
    assert door.reads["block state"] == len(m.blocks)
    assert door.reads["block valid_zones"] == online
    assert _block_reads(door) == len(m.blocks) + online
    assert "/sys/devices/system/memory" not in door.listed
    assert not any("/memory/memory" in p for p in door.listed)


def test_topology_on_simulated_zoneinfo_reads_device_blocks_only(sim_trees: TreeCache) -> None:
    """The simulator writes /proc/zoneinfo as a kernel does: topology reads
    the blocks dax devices hold and counts boot memory from zoneinfo."""
    root, scenario = sim_trees.get(Case("big", {"blocks": "4096"}))
    owned = [b for b in scenario.machine.blocks if b.owner is not None]
    door = CountingDoor(str(root))
    read.topology_view(door)
    assert door.reads["block state"] == len(owned)
    assert door.reads["block valid_zones"] == sum(b.online for b in owned)


# --------------------------------------------------------------------------
# with /proc/zoneinfo (real kernels have it; the simulator does not write it)

_MiB = 1 << 20


def _write_zoneinfo(root: str, full: Topology) -> None:
    """A /proc/zoneinfo that agrees with the tree: each online block's bytes
    in its zone; a block spanning zones (``none``) split 16 MiB into DMA and
    the rest, less a 1 MiB hole, into DMA32 (as block 0 of a PC is)."""
    bs = full.policy.block_size or 0
    page = os.sysconf("SC_PAGE_SIZE")
    present: dict[int, dict[str, int]] = {n.id: {"DMA": 0, "DMA32": 0, "Normal": 0, "Movable": 0} for n in full.nodes}
    for b in full.blocks:
        if not b.online or b.node is None:
            continue
        zones = present[b.node]
        if b.zones:
            zones[b.zones[0]] = zones.get(b.zones[0], 0) + bs
        else:
            zones["DMA"] += 16 * _MiB
            zones["DMA32"] += bs - 17 * _MiB
    lines: list[str] = []
    for nid, zones in present.items():
        for zone, nbytes in zones.items():
            lines += [f"Node {nid}, zone {zone:>8}", "  per-node stats", "      nr_inactive_anon 0",
                      f"  pages free     {nbytes // page // 2}", "        boost    0", "        min      0",
                      f"        spanned  {nbytes // page + 7}", f"        present  {nbytes // page}",
                      f"        managed  {nbytes // page}", "        cma      0", "              protection: (0, 0)"]
    Path(root, "proc", "zoneinfo").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def own_trees() -> Iterator[TreeCache]:
    cache = TreeCache()
    yield cache
    cache.close()


@pytest.mark.parametrize("case", [Case("big", {"blocks": "1024"}), Case("cxl-hmem", {"kind": "hmem", "mode": "devdax"}),
                                  Case("optane-2s"), Case("qemu-nvdimm", {"stage": "system-ram"})], ids=lambda c: c.id)
def test_topology_with_zoneinfo_reads_device_blocks_only(own_trees: TreeCache, case: Case) -> None:
    root, _ = own_trees.get(case)
    full = discover(SysfsRoot(str(root)))
    _write_zoneinfo(str(root), full)
    door = CountingDoor(str(root))
    tv = read.topology_view(door)
    assert list(tv.nodes) == list(full.nodes)
    want = read._tier_warnings(full) + read._movable_only_warnings(full) + read._stranded_warnings(full)
    assert list(tv.warnings) == want
    owned = [b for b in full.blocks if b.device is not None]
    # state of each block a dax device holds, valid_zones of the online ones; none of boot memory
    assert door.reads["block state"] == len(owned)
    assert door.reads["block valid_zones"] == sum(b.online for b in owned)
    assert _block_reads(door) == len(owned) + sum(b.online for b in owned)
    assert "/sys/devices/system/memory" not in door.listed


def test_topology_without_dax_blocks_lists_no_block_directory(own_trees: TreeCache) -> None:
    """No dax device holds memory and every block is online: the blocks are
    counted from the link count of /sys/devices/system/memory and zoneinfo,
    so no node directory (one link per block) is listed."""
    root, _ = own_trees.get(Case("cxl-hmem", {"kind": "hmem", "mode": "devdax"}))
    full = discover(SysfsRoot(str(root)))
    assert not any(b.device for b in full.blocks) and all(b.online for b in full.blocks)
    door = CountingDoor(str(root))
    tv = read.topology_view(door)
    assert list(tv.nodes) == list(full.nodes)
    assert _block_reads(door) == 0
    assert not any(re.fullmatch(r"/sys/devices/system/node/node\d+", p) for p in door.listed)


def test_topology_with_offline_boot_memory_lists_the_node_directories(tmp_path: Path) -> None:
    """An offline boot block makes the link count disagree with zoneinfo:
    the node directories say whose it is, and the view still shows what a
    full walk shows."""
    from pmemctl.sim.build import materialise
    from pmemctl.sim.kernel import SimulatedKernel
    from pmemctl.sim.scenario import load_scenario

    root = materialise(load_scenario("cxl-hmem", {"kind": "hmem", "mode": "devdax"}), tmp_path / "t")
    k = SimulatedKernel(root)
    last = max(b.index for b in discover(k).blocks if b.online and b.zones == ("Normal",))
    k.write(f"/sys/devices/system/memory/memory{last}/state", "offline")
    full = discover(SysfsRoot(str(root)))
    door = CountingDoor(str(root))
    tv = read.topology_view(door)
    assert list(tv.nodes) == list(full.nodes)
    assert any(re.fullmatch(r"/sys/devices/system/node/node\d+", p) for p in door.listed)


class UncountedDoor(CountingDoor):
    """A tree whose file system keeps no subdirectory count in a directory's
    link count (ext4 past 65,000 subdirectories reads 1; btrfs)."""

    def subdir_count(self, kpath: str) -> Optional[int]:
        return None


def test_topology_without_a_link_count_counts_boot_blocks_from_iomem(own_trees: TreeCache) -> None:
    """Where the link count says nothing, /proc/iomem's System RAM counts the
    blocks: still no node directory is listed, and the view is a full walk's."""
    root, _ = own_trees.get(Case("cxl-hmem", {"kind": "hmem", "mode": "devdax"}))
    full = discover(SysfsRoot(str(root)))
    door = UncountedDoor(str(root))
    tv = read.topology_view(door)
    assert list(tv.nodes) == list(full.nodes)
    assert _block_reads(door) == 0
    assert not any(re.fullmatch(r"/sys/devices/system/node/node\d+", p) for p in door.listed)


@pytest.mark.parametrize("damage", ["offline block", "zeroed iomem", "no iomem", "extra ram"])
def test_topology_without_a_link_count_lists_when_iomem_cannot_vouch(tmp_path: Path, damage: str) -> None:
    """An offline boot block (still System RAM in iomem, not in zoneinfo),
    iomem read without root (every address 0), no iomem, or iomem naming
    RAM past the last block directory: the node directories are listed and
    the view is still a full walk's."""
    from pmemctl.sim.build import materialise
    from pmemctl.sim.kernel import SimulatedKernel
    from pmemctl.sim.scenario import load_scenario

    root = materialise(load_scenario("cxl-hmem", {"kind": "hmem", "mode": "devdax"}), tmp_path / "t")
    iomem = Path(root, "proc", "iomem")
    if damage == "offline block":
        k = SimulatedKernel(root)
        last = max(b.index for b in discover(k).blocks if b.online and b.zones == ("Normal",))
        k.write(f"/sys/devices/system/memory/memory{last}/state", "offline")
    elif damage == "zeroed iomem":
        iomem.write_text(re.sub(r"[0-9a-f]+-[0-9a-f]+ :", "00000000-00000000 :", iomem.read_text()))
    elif damage == "no iomem":
        iomem.unlink()
    else:
        iomem.write_text(iomem.read_text() + "ffff00000000-ffff0fffffff : System RAM\n")
    full = discover(SysfsRoot(str(root)))
    door = UncountedDoor(str(root))
    tv = read.topology_view(door)
    assert list(tv.nodes) == list(full.nodes)
    assert any(re.fullmatch(r"/sys/devices/system/node/node\d+", p) for p in door.listed)
