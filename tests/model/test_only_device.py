"""A change of one dax device reads that device's blocks only
(``discover(..., only_device=NAME)``, issue 14), and plans exactly what a
walk of every block plans: the nodes' figures, the zone ratio and the
blocks of the device are the same; the other devices' blocks are left
unread (their memory is counted per node from /proc/zoneinfo)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterator, Optional, Sequence

import pytest

from pmemctl.model.discover import discover
from pmemctl.model.records import DaxMode, Topology
from pmemctl.ops.plan import Plan
from pmemctl.ops.plan.blocks import plan_offline, plan_online
from pmemctl.ops.plan.combined import plan_reconfigure
from pmemctl.ops.requests import BlockRequest, ReconfigureRequest
from pmemctl.ops.services import OFFLINE_FIELDS, ONLINE_FIELDS, _device_topology
from pmemctl.sim.cases import ALL_CASES, Case, TreeCache
from pmemctl.sysfs.door import SysfsRoot

BIG = Case("big", {"blocks": "4096"})


@pytest.fixture
def own_trees() -> Iterator[TreeCache]:
    """Trees of this test's own, to change."""
    with TreeCache() as cache:
        yield cache


class BlockCountingDoor(SysfsRoot):
    """Counts the memory block directories whose attributes are read."""

    def __init__(self, root: str) -> None:
        super().__init__(root)
        self.block_dirs: set[str] = set()
        self.removable_reads = 0
        self.zones_reads = 0

    def read_table(self, base: str, dirs: Sequence[str], attrs: Sequence[str]) -> list[list[Optional[str]]]:
        if base.endswith("/system/memory"):
            self.block_dirs.update(dirs)
            self.removable_reads += len(dirs) * ("removable" in attrs)
            self.zones_reads += len(dirs) * ("valid_zones" in attrs)
        return super().read_table(base, dirs, attrs)

    def read_optional(self, kpath: str) -> Optional[str]:
        if "/system/memory/memory" in kpath:
            self.block_dirs.add(kpath.split("/")[5])
            self.removable_reads += kpath.endswith("/removable")
            self.zones_reads += kpath.endswith("/valid_zones")
        return super().read_optional(kpath)


def kmem_devices(topo: Topology) -> list[str]:
    return [d.name for d in topo.dax_devices if d.mode is DaxMode.SYSTEM_RAM]


def plans_equal(a: Plan, b: Plan) -> None:
    assert a.to_dict() == b.to_dict()
    assert [(c.name, c.ok, c.warning, c.message) for c in a.checks] == \
        [(c.name, c.ok, c.warning, c.message) for c in b.checks]
    assert a.consent == b.consent


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.id)
def test_one_device_read_gives_the_nodes_and_the_device_a_full_walk_gives(sim_trees: TreeCache, case: Case) -> None:
    root, _ = sim_trees.get(case)
    full = discover(SysfsRoot(str(root)))
    for name in kmem_devices(full):
        door = BlockCountingDoor(str(root))
        part = discover(door, block_fields=ONLINE_FIELDS, block_scope="nodes", only_device=name)
        assert part.nodes == full.nodes, name
        assert part.dax_device(name) == full.dax_device(name)
        assert {b.index for b in part.blocks} == set(full.dax_device(name).blocks)  # type: ignore[union-attr]
        assert door.block_dirs == {f"memory{i}" for i in full.dax_device(name).blocks}  # type: ignore[union-attr]
        for other in full.dax_devices:
            if other.name != name:
                assert part.dax_device(other.name).blocks == ()  # type: ignore[union-attr]


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.id)
def test_change_plans_of_one_device_are_those_of_a_full_walk(sim_trees: TreeCache, case: Case) -> None:
    root, _ = sim_trees.get(case)
    door = SysfsRoot(str(root))
    full = discover(door)
    for name in kmem_devices(full):
        off = BlockRequest(device=name)
        plans_equal(plan_offline(door, _device_topology(door, OFFLINE_FIELDS, name), off),
                    plan_offline(door, full, off))
        half = BlockRequest(device=name, count=1)
        plans_equal(plan_offline(door, _device_topology(door, OFFLINE_FIELDS, name), half),
                    plan_offline(door, full, half))
        on = BlockRequest(device=name, zone="movable")
        plans_equal(plan_online(door, _device_topology(door, ONLINE_FIELDS, name, zone_ratio=True), on),
                    plan_online(door, full, on))
        devdax = ReconfigureRequest(selector=name, mode="devdax")
        plans_equal(plan_reconfigure(door, _device_topology(door, OFFLINE_FIELDS, name), devdax),
                    plan_reconfigure(door, full, devdax))


def test_online_zone_ratio_counts_the_other_device_from_zoneinfo(sim_trees: TreeCache) -> None:
    """big: dax1.0 is 10 % ZONE_NORMAL, 60 % ZONE_MOVABLE and partly offline;
    onlining it reads none of dax0.0's blocks, yet the MOVABLE:KERNEL
    ratio it shows counts dax0.0's movable memory as a full walk does."""
    root, _ = sim_trees.get(BIG)
    door = BlockCountingDoor(str(root))
    full = discover(SysfsRoot(str(root)))
    req = BlockRequest(device="dax1.0", zone="movable")
    plan = plan_online(door, _device_topology(door, ONLINE_FIELDS, "dax1.0", zone_ratio=True), req)
    ratio = [c.message for c in plan.checks if c.name == "zone-ratio"]
    assert ratio == [c.message for c in plan_online(door, full, req).checks if c.name == "zone-ratio"]
    assert ratio and "MOVABLE:KERNEL" in ratio[0]
    assert not door.block_dirs & {f"memory{i}" for i in full.dax_device("dax0.0").blocks}  # type: ignore[union-attr]


def test_without_zoneinfo_every_block_is_read(own_trees: TreeCache) -> None:
    root, _ = own_trees.get(BIG)
    full = discover(SysfsRoot(str(root)))
    Path(root, "proc", "zoneinfo").unlink()
    door = BlockCountingDoor(str(root))
    part = discover(door, block_fields=ONLINE_FIELDS, block_scope="nodes", only_device="dax0.0")
    assert part.nodes == full.nodes
    assert part.dax_device("dax1.0") == full.dax_device("dax1.0")
    assert len(door.block_dirs) == len(full.blocks)


def test_a_name_that_is_no_dax_device_reads_every_device(sim_trees: TreeCache) -> None:
    root, _ = sim_trees.get(BIG)
    full = discover(SysfsRoot(str(root)))
    part = discover(SysfsRoot(str(root)), block_scope="nodes", only_device="dax9.9")
    assert part.nodes == full.nodes
    assert [d.blocks for d in part.dax_devices] == [d.blocks for d in full.dax_devices]


def test_offline_reads_removable_of_one_block_where_the_kernel_shows_all_the_same(sim_trees: TreeCache) -> None:
    root, _ = sim_trees.get(BIG)
    door = BlockCountingDoor(str(root))
    topo = _device_topology(door, OFFLINE_FIELDS, "dax0.0")
    online = [b for b in topo.blocks if b.online]
    assert len(online) > 100
    assert door.removable_reads == 1
    assert {b.removable for b in online} == {True}
    assert {b.removable for b in topo.blocks if not b.online} <= {None}


def test_removable_read_per_block_when_the_first_says_0(tmp_path: Path, sim_trees: TreeCache) -> None:
    """A "0" may be an older kernel's per-block heuristic (before 5.7):
    then every block's own value is read, and the plan refuses those."""
    src, _ = sim_trees.get(BIG)
    root = tmp_path / "tree"
    shutil.copytree(src, root, symlinks=True)
    door = SysfsRoot(str(root))
    online = sorted(b.index for b in discover(door).blocks if b.online and b.device == "dax0.0")
    first, other = online[0], online[5]
    for idx in (first, other):
        f = root / f"sys/devices/system/memory/memory{idx}/removable"
        f.unlink()  # (block files are shared between blocks in built trees)
        f.write_text("0\n")
    counting = BlockCountingDoor(str(root))
    topo = _device_topology(counting, OFFLINE_FIELDS, "dax0.0")
    assert counting.removable_reads == 1 + len(online)
    removable = {b.index: b.removable for b in topo.blocks}
    assert removable[first] is False and removable[other] is False and removable[online[1]] is True
    plan = plan_offline(door, topo, BlockRequest(device="dax0.0"))
    refused = [c for c in plan.checks if c.name == "removable"]
    assert refused and f"{first}" in refused[0].message


def test_a_device_block_no_node_links_makes_every_block_read(own_trees: TreeCache) -> None:
    """The kernel links every block from its node's directory; a tree that
    does not must not make a change skip the unlinked block."""
    root, _ = own_trees.get(BIG)
    full = discover(SysfsRoot(str(root)))
    first = full.dax_device("dax0.0").blocks[0]  # type: ignore[union-attr]
    Path(root, f"sys/devices/system/node/node1/memory{first}").unlink()
    door = BlockCountingDoor(str(root))
    part = discover(door, block_fields=ONLINE_FIELDS, block_scope="nodes", only_device="dax0.0")
    assert first in {b.index for b in part.blocks}
    assert len(door.block_dirs) == len(full.blocks)


def test_offline_takes_the_zones_from_zoneinfo_where_one_zone_spans_the_blocks(sim_trees: TreeCache) -> None:
    """qemu-nvdimm, every block of dax0.0 online in ZONE_MOVABLE and no other
    zone on node 1: the zones come from the span, no valid_zones is read."""
    root, _ = sim_trees.get(Case("qemu-nvdimm", {"stage": "system-ram"}))
    door = BlockCountingDoor(str(root))
    topo = _device_topology(door, OFFLINE_FIELDS, "dax0.0")
    online = [b for b in topo.blocks if b.online]
    assert len(online) > 10 and {b.zones for b in online} == {("Movable",)}
    assert door.zones_reads == 0


def test_interleaved_zones_are_read_block_by_block(tmp_path: Path) -> None:
    """A block onlined into ZONE_NORMAL amid ZONE_MOVABLE: the two spans
    overlap, so each online block's valid_zones is read, and the plans are
    still those of a full walk."""
    from pmemctl.sim.build import materialise
    from pmemctl.sim.kernel import SimulatedKernel
    from pmemctl.sim.scenario import load_scenario

    k = SimulatedKernel(materialise(load_scenario("qemu-nvdimm", {"stage": "system-ram"}), tmp_path / "t"))
    blocks = list(discover(k).dax_device("dax0.0").blocks)  # type: ignore[union-attr]
    middle = blocks[len(blocks) // 2]
    k.write(f"/sys/devices/system/memory/memory{middle}/state", "offline")
    k.write(f"/sys/devices/system/memory/memory{middle}/state", "online_kernel")
    k.settle()
    door = BlockCountingDoor(str(k.root))
    topo = _device_topology(door, OFFLINE_FIELDS, "dax0.0")
    assert {b.index: b.zones for b in topo.blocks}[middle] == ("Normal",)
    assert door.zones_reads == len(blocks)
    full = discover(SysfsRoot(str(k.root)))
    plans_equal(plan_offline(door, topo, BlockRequest(device="dax0.0")),
                plan_offline(door, full, BlockRequest(device="dax0.0")))
