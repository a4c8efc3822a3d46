"""Object operations are reusable: a reacting kernel composes them.

The strongest check: starting from the qemu-nvdimm ``devdax`` tree and
applying what the kernel does when kmem binds and the blocks are onlined,
using only the functions of pmemctl.sim.objects, gives the same tree as
materialising the ``system-ram`` stage directly.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pmemctl.sim import load_scenario, materialise, objects
from pmemctl.sim.build import iomem_entries
from pmemctl.sim.kernel.memory import machine_zoneinfo
from pmemctl.sim.tree import MARKER_DIR, TreeWriter


def snapshot(root: Path) -> dict[str, tuple[str, str]]:
    """kernel path -> (kind, content or link target or mode) of a whole tree."""
    out: dict[str, tuple[str, str]] = {}
    base = str(root)
    for dirpath, dirnames, filenames in os.walk(base):
        if dirpath == base:
            dirnames[:] = [d for d in dirnames if d != MARKER_DIR]
        rel = dirpath[len(base):]
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            kpath = f"{rel}/{name}"
            if os.path.islink(full):
                out[kpath] = ("link", os.readlink(full))
            elif os.path.isdir(full):
                out[kpath] = ("dir", "")
            else:
                mode = oct(os.stat(full).st_mode & 0o777)
                out[kpath] = ("file", f"{mode} {Path(full).read_text()}")
    return out


def devnodes(root: Path) -> list[dict[str, object]]:
    return json.loads((root / MARKER_DIR / "devnodes.json").read_text())  # type: ignore[no-any-return]


def test_kmem_bind_and_online_composed_from_objects(tmp_path: Path) -> None:
    before = materialise("qemu-nvdimm", tmp_path / "devdax", {"stage": "devdax"})
    expected = materialise("qemu-nvdimm", tmp_path / "ram", {"stage": "system-ram"})
    target = load_scenario("qemu-nvdimm", {"stage": "system-ram"}).machine
    tree = TreeWriter(before)
    (dev,) = target.dax_devices
    bs = target.block_size

    # daxctl reconfigure-device -m system-ram: unbind device_dax, bind kmem.
    assert objects.unbind_driver(tree, "dax", dev.kpath) == "device_dax"
    objects.bind_driver(tree, "dax", "kmem", dev.kpath)
    # kmem probe: the target node comes online, then its blocks appear offline.
    node1 = target.node(1)
    assert node1 is not None
    online_nodes = [0, 1]
    objects.add_node(tree, node1, nr_cpu_ids=target.nr_cpu_ids, distance_row=[20, 10])
    objects.set_node_distance(tree, 0, [10, 20])
    for index in dev.blocks:
        objects.add_memory_block(tree, index, 1, online=False, valid_zones="Normal Movable")
    # Onlining each block as movable.
    for index in dev.blocks:
        objects.set_memory_block(tree, index, online=True, valid_zones="Movable")
    objects.refresh_valid_zones(tree, 1, bs)
    assert objects.refresh_node_meminfo(tree, node1, bs) == 3932160
    assert node1.access0 is not None and node1.access1 is not None
    objects.add_node_access(tree, 1, 0, node1.access0)
    objects.add_node_access(tree, 1, 1, node1.access1)  # HMAT class 1 (CPU initiators)
    objects.set_node_masks(
        tree, possible=[0, 1], online=online_nodes, has_cpu=[0], has_memory=[0, 1],
        has_normal_memory=[0], has_generic_initiator=[],
    )
    objects.set_memory_tiers(tree, {4: [0], 22: [1]})
    node0 = target.node(0)
    assert node0 is not None
    node0_total = objects.refresh_node_meminfo(tree, node0, bs)
    objects.write_proc_meminfo(tree, node0_total + 3932160, node0_total - node0.used_kb + 3932160)
    objects.write_proc_iomem(tree, iomem_entries(target))
    machine_zoneinfo(tree, target)  # /proc/zoneinfo: the zones' present pages of the online blocks

    got, want = snapshot(before), snapshot(expected)
    differing = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
    assert differing == []
    assert devnodes(before) == devnodes(expected)


def test_offline_block_in_movable_run_prefers_movable(tmp_path: Path) -> None:
    root = materialise("qemu-nvdimm", tmp_path / "t", {"stage": "system-ram"})
    tree = TreeWriter(root)
    objects.set_memory_block(tree, 40, online=False, valid_zones="")
    objects.refresh_valid_zones(tree, 1, 128 * 2**20)
    assert tree.read("/sys/devices/system/memory/memory40/valid_zones") == "Movable Normal"
    # The last block going offline shrinks the span: it is outside it now.
    objects.set_memory_block(tree, 62, online=False, valid_zones="")
    objects.refresh_valid_zones(tree, 1, 128 * 2**20)
    assert tree.read("/sys/devices/system/memory/memory62/valid_zones") == "Normal Movable"
    assert objects.read_memory_block(tree, 41) == (True, "Movable")
    assert objects.node_block_indexes(tree, 1) == list(range(33, 63))


def test_remove_memory_block_node_and_tier(tmp_path: Path) -> None:
    root = materialise("qemu-nvdimm", tmp_path / "t", {"stage": "system-ram"})
    tree = TreeWriter(root)
    for index in range(33, 63):
        objects.remove_memory_block(tree, index)
    assert not tree.exists("/sys/devices/system/memory/memory33")
    assert not tree.exists("/sys/bus/memory/devices/memory33")
    assert objects.node_block_indexes(tree, 1) == []
    objects.remove_node(tree, 1)
    assert not tree.exists("/sys/devices/system/node/node1")
    assert not tree.exists("/sys/bus/node/devices/node1")
    objects.set_memory_tiers(tree, {4: [0], 22: []})
    assert not tree.exists("/sys/devices/virtual/memory_tiering/memory_tier22")
    assert not tree.exists("/sys/bus/memory_tiering/devices/memory_tier22")
    assert tree.read("/sys/devices/virtual/memory_tiering/memory_tier4/nodelist") == "0"


def test_remove_dax_device_cleans_every_trace(tmp_path: Path) -> None:
    root = materialise("cxl-hmem", tmp_path / "t", {"kind": "hmem", "mode": "devdax"})
    machine = load_scenario("cxl-hmem").machine
    (dev,) = machine.dax_devices
    tree = TreeWriter(root)
    objects.remove_dax_device(tree, dev)
    assert not tree.exists(dev.kpath)
    assert not tree.exists("/sys/bus/dax/devices/dax0.0")
    assert not tree.exists("/sys/bus/dax/drivers/device_dax/dax0.0")
    assert not tree.exists(f"/sys/dev/char/{dev.major}:{dev.minor}")
    assert all(n["path"] != "/dev/dax0.0" for n in devnodes(root))
    objects.add_dax_device(tree, dev, dynamic=True)
    assert objects.bound_driver(tree, dev.kpath) == "device_dax"
    assert any(n["path"] == "/dev/dax0.0" for n in devnodes(root))


def test_bind_moves_both_links(tmp_path: Path) -> None:
    root = materialise("cxl-hmem", tmp_path / "t")
    tree = TreeWriter(root)
    dev = "/sys/devices/platform/hmem.0/dax0.0"
    objects.bind_driver(tree, "dax", "kmem", dev)
    assert tree.resolve_link(f"{dev}/driver") == "/sys/bus/dax/drivers/kmem"
    assert tree.resolve_link("/sys/bus/dax/drivers/kmem/dax0.0") == dev
    assert not tree.exists("/sys/bus/dax/drivers/device_dax/dax0.0")
    assert objects.unbind_driver(tree, "dax", dev) == "kmem"
    assert objects.unbind_driver(tree, "dax", dev) is None
    assert not tree.exists("/sys/bus/dax/drivers/kmem/dax0.0")


def test_nd_namespace_and_block_device_removal(tmp_path: Path) -> None:
    root = materialise("qemu-nvdimm", tmp_path / "t")
    machine = load_scenario("qemu-nvdimm").machine
    (ns,) = machine.namespaces()
    tree = TreeWriter(root)
    assert ns.blockdev_parent is not None and ns.blockdev is not None
    objects.remove_block_device(tree, ns.blockdev_parent, ns.blockdev, 259, 0)
    assert not tree.exists("/sys/block/pmem0") and not tree.exists("/sys/dev/block/259:0")
    assert all(n["path"] != "/dev/pmem0" for n in devnodes(root))
    objects.remove_nd_device(tree, ns.kpath)
    assert not tree.exists(ns.kpath)
    assert not tree.exists("/sys/bus/nd/devices/namespace0.0")
    assert not tree.exists("/sys/bus/nd/drivers/nd_pmem/namespace0.0")


def test_iomem_format() -> None:
    from pmemctl.sim.machine import IomemEntrySpec

    text = objects.format_iomem(
        [
            IomemEntrySpec(0x108000000, 0x1F7FFFFFF, "System RAM (kmem)", rank=3),
            IomemEntrySpec(0x100000000, 0x1F7FFFFFF, "Persistent Memory"),
            IomemEntrySpec(0x108000000, 0x1F7FFFFFF, "dax0.0", rank=2),
            IomemEntrySpec(0x1000, 0x9FBFF, "System RAM"),
        ]
    )
    assert text == (
        "00001000-0009fbff : System RAM\n"
        "100000000-1f7ffffff : Persistent Memory\n"
        "  108000000-1f7ffffff : dax0.0\n"
        "    108000000-1f7ffffff : System RAM (kmem)\n"
    )
