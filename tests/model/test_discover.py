"""discover() over every scenario, checked against the machine each describes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pmemctl.errors import BadAttribute, NotASysfsTree
from pmemctl.model.discover import discover
from pmemctl.model.records import BlockState, DaxMode, NodeKind
from pmemctl.sim.cases import ALL_CASES, Case, TreeCache
from pmemctl.sysfs.door import SysfsRoot


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.id)
def test_snapshot_matches_the_scenario(sim_trees: TreeCache, case: Case) -> None:
    root, scenario = sim_trees.get(case)
    m = scenario.machine
    topo = discover(SysfsRoot(root))
    assert topo.policy.block_size == m.block_size
    assert topo.policy.auto_online_blocks == m.auto_online_blocks
    # blocks: index, state, zone, node, owner
    want = {b.index: b for b in m.blocks}
    got = {b.index: b for b in topo.blocks}
    assert set(got) == set(want)
    for idx, b in want.items():
        g = got[idx]
        assert g.state == (BlockState.ONLINE if b.online else BlockState.OFFLINE), idx
        assert g.node == b.node, idx
        assert g.device == b.owner, idx
        assert " ".join(g.zones or ()) == ("" if b.valid_zones == "none" else b.valid_zones), idx
    # dax devices: mode from the driver link, size, node, blocks
    for d in m.dax_devices:
        dev = topo.dax_device(d.name)
        assert dev is not None
        assert dev.size == d.size and dev.target_node == d.target_node and dev.driver == d.driver
        assert dev.mode == {"kmem": DaxMode.SYSTEM_RAM, "device_dax": DaxMode.DEVDAX, None: DaxMode.DISABLED}[d.driver]
        assert dev.resource == d.resource
        assert dev.blocks == tuple(sorted(b.index for b in m.blocks_of(d.name)))
        assert dev.source == d.source
        assert dev.namespace == d.namespace
    # namespaces and regions
    assert {r.name for r in topo.regions} == {r.name for r in m.regions()}
    for ns in m.namespaces():
        got_ns = topo.namespace(ns.name)
        assert got_ns is not None
        assert got_ns.size == ns.size
        if not ns.seed:
            assert got_ns.mode.value == ns.mode
            assert got_ns.dax_device == ns.dax_device
    # nodes: online nodes, kinds, tiers
    assert [n.id for n in topo.nodes] == m.online_nodes()
    tiers = {t.id: list(t.nodes) for t in topo.tiers}
    assert tiers == m.memory_tiers()
    for node in topo.nodes:
        info = m.node(node.id)
        assert node.cpus == info.cpus
        if info.dram:
            assert node.kind == NodeKind.DRAM
        elif node.blocks_online:
            sources = {d.source for d in m.dax_devices if d.target_node == node.id and d.driver == "kmem"}
            expected = NodeKind.PMEM if sources == {"nvdimm"} else NodeKind.CXL
            assert node.kind == expected, node.evidence


def test_older_kernel_attributes_absent_are_none(sim_trees: TreeCache, tmp_path: Path) -> None:
    root, _ = sim_trees.get(Case("qemu-nvdimm", {"stage": "system-ram"}))
    copy = tmp_path / "t"
    shutil.copytree(root, copy, symlinks=True)
    dev = copy / "sys/bus/dax/devices/dax0.0"
    for attr in ("align", "target_node"):
        os.unlink(os.path.realpath(dev / attr))
    shutil.rmtree(copy / "sys/devices/virtual/memory_tiering")
    os.unlink(copy / "sys/kernel/mm/numa/demotion_enabled")
    topo = discover(SysfsRoot(copy))
    d = topo.dax_device("dax0.0")
    assert d.align is None and d.target_node is None
    assert topo.tiers == () and topo.policy.demotion_enabled is None
    assert all(n.memory_tier is None for n in topo.nodes)


def test_garbage_attribute_names_the_path(sim_trees: TreeCache, tmp_path: Path) -> None:
    root, _ = sim_trees.get(Case("qemu-nvdimm", {"stage": "system-ram"}))
    copy = tmp_path / "t"
    shutil.copytree(root, copy, symlinks=True)
    state = copy / "sys/devices/system/memory/memory40/state"
    state.unlink()  # a built tree's block files are links shared by value: this block alone changes
    state.write_text("sideways\n")
    with pytest.raises(BadAttribute) as exc:
        discover(SysfsRoot(copy))
    assert "/sys/devices/system/memory/memory40/state" in exc.value.sentence()
    assert "sideways" in exc.value.sentence()


def test_not_a_sysfs_tree(tmp_path: Path) -> None:
    with pytest.raises(NotASysfsTree):
        discover(SysfsRoot(tmp_path))


def test_snapshot_is_immutable(sim_trees: TreeCache) -> None:
    root, _ = sim_trees.get(Case("qemu-nvdimm", {"stage": "system-ram"}))
    topo = discover(SysfsRoot(root))
    with pytest.raises(AttributeError):
        topo.blocks[0].state = BlockState.OFFLINE  # type: ignore[misc]


@pytest.mark.host
def test_real_machine_discovers_without_error() -> None:
    if not os.path.isdir("/sys/devices/system/memory"):
        pytest.skip("this machine has no /sys/devices/system/memory")
    topo = discover(SysfsRoot("/"))
    assert topo.policy.block_size and topo.blocks and topo.nodes
    assert any(n.kind == NodeKind.DRAM for n in topo.nodes)
