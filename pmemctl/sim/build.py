"""Materialise a scenario into a directory tree that looks like a machine.

:func:`materialise` writes ``DEST/sys``, ``DEST/proc`` and the marker
``DEST/.pmemctl-sim/`` (``scenario.json``: name, params and the resolved
machine; ``devnodes.json``: the /dev nodes that would exist).  Every derived
file (node masks, meminfo, distance rows, memory tiers, /proc/iomem, links)
is computed from the :class:`~pmemctl.sim.machine.MachineSpec` here, through the
object functions of :mod:`pmemctl.sim.objects`.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Callable, Mapping, Optional, Union

from pmemctl.sim import objects
from pmemctl.sim.kernel.dax_state import add_state_files
from pmemctl.sim.kernel.memory import machine_zoneinfo
from pmemctl.sim.kernels import profile_for_release
from pmemctl.sim.machine import MachineSpec
from pmemctl.sim.objects import iomem_entries, kernel_attrs
from pmemctl.sim.scenario import Scenario, load_scenario
from pmemctl.sim.tree import MARKER_DIR, SCENARIO_FILE, TreeWriter

MARKER_FORMAT = 1

#: build progress: (steps done, steps in all); a step is one memory block or one other part of the tree
BuildProgress = Callable[[int, int], None]
#: blocks between two progress reports (a report per block would cost more than it tells)
PROGRESS_EVERY = 256


def materialise(
    scenario: Union[str, Scenario],
    dest: Union[str, os.PathLike[str]],
    params: Optional[Mapping[str, str]] = None,
    kernel: Optional[str] = None,
    progress: Optional[BuildProgress] = None,
) -> Path:
    """Write the complete tree of ``scenario`` under ``dest`` and return it.

    ``dest`` must be absent or an empty directory.  ``params`` and ``kernel``
    (a profile of :mod:`pmemctl.sim.kernels`) apply only when ``scenario`` is
    a name.  ``progress`` is called as the build goes (the memory blocks are
    most of it: 49,152 on ``big``), last with done == total.
    """
    if isinstance(scenario, str):
        scenario = load_scenario(scenario, params, kernel=kernel)
    elif params:
        raise ValueError("params apply to a scenario name, not to a loaded Scenario")
    root = Path(dest).absolute()
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty")
    root.mkdir(parents=True, exist_ok=True)
    tree = TreeWriter(root)
    os.makedirs(tree.marker_dir, exist_ok=True)
    # a block's state, online and valid_zones: links to one file per value (tree.SHARED_BLOCK_ATTRS)
    tree.share_block_files()
    try:
        build_machine(tree, scenario.machine, progress)
        tree.end_sharing()
        _write_marker(tree, scenario)
    except BaseException:
        tree.end_sharing()
        shutil.rmtree(root, ignore_errors=True)
        raise
    return root


def _write_marker(tree: TreeWriter, scenario: Scenario) -> None:
    doc = {
        "format": MARKER_FORMAT,
        "name": scenario.name,
        "summary": scenario.summary,
        "params": scenario.params,
        "machine": scenario.machine.to_dict(),
    }
    with open(os.path.join(tree.marker_dir, SCENARIO_FILE), "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=1, sort_keys=False)
        fh.write("\n")
    if not os.path.exists(os.path.join(tree.marker_dir, "devnodes.json")):
        tree.write_devnodes_manifest()  # an empty manifest still says "no device nodes"


def load_machine(root: Union[str, os.PathLike[str]]) -> MachineSpec:
    """The resolved machine a tree was built from (``.pmemctl-sim/scenario.json``)."""
    with open(os.path.join(os.fspath(root), MARKER_DIR, SCENARIO_FILE), encoding="utf-8") as fh:
        return MachineSpec.from_dict(json.load(fh)["machine"])


# =============================================================================
# the build, object by object
# =============================================================================


def build_machine(tree: TreeWriter, m: MachineSpec, progress: Optional[BuildProgress] = None) -> None:
    total = len(m.blocks) + 5  # each block, and modules, cpus and nodes, nd, dax, the derived files
    report = progress or _no_progress
    objects.add_sys_skeleton(tree)
    _build_modules(tree, m)
    report(1, total)
    _build_cpus_and_nodes(tree, m)
    report(2, total)
    _build_memory(tree, m, lambda blocks: report(2 + blocks, total))
    done = 2 + len(m.blocks)
    for part in (_build_nd, _build_dax, _build_derived):
        part(tree, m)
        done += 1
        report(done, total)


def _no_progress(done: int, total: int) -> None:
    pass


def _build_modules(tree: TreeWriter, m: MachineSpec) -> None:
    for module in m.kernel_modules:
        objects.add_module(tree, module, coresize=m.module_coresize.get(module, 0))
    if m.buses:
        for module in ("libnvdimm", "nd_pmem"):
            objects.add_module(tree, module, coresize=m.module_coresize.get(module, 0))
    objects.add_memory_hotplug_params(
        tree,
        memmap_on_memory=m.memmap_on_memory,
        online_policy=m.online_policy,
        auto_movable_ratio=m.auto_movable_ratio,
        auto_movable_numa_aware=m.auto_movable_numa_aware,
    )
    objects.set_demotion_enabled(tree, m.demotion_enabled)
    objects.write_proc_cmdline(tree, m.cmdline)


def _build_cpus_and_nodes(tree: TreeWriter, m: MachineSpec) -> None:
    cpus = sorted(c for n in m.nodes for c in n.cpus)
    objects.add_cpu_root(tree, cpus, cpus, m.nr_cpu_ids, m.nr_cpus)
    for node in m.nodes:
        for cpu in node.cpus:
            objects.add_cpu(tree, cpu, node.id)
    objects.add_node_root(tree)
    online = m.online_nodes()
    for node in m.nodes:
        if node.id in online:
            row = [m.distance_between(node.id, other) for other in online]
            objects.add_node(tree, node, nr_cpu_ids=m.nr_cpu_ids, distance_row=row)
            kernel_attrs.add_node_extras(tree, node.id, profile_for_release(m.kernel_release))


def _build_memory(tree: TreeWriter, m: MachineSpec, blocks_done: Callable[[int], None]) -> None:
    objects.add_memory_root(tree, m.block_size, m.auto_online_blocks)
    kernel_attrs.add_memory_root_extras(tree, profile_for_release(m.kernel_release))
    for n, block in enumerate(m.blocks, 1):
        objects.add_memory_block(tree, block.index, block.node, online=block.online, valid_zones=block.valid_zones)
        if n % PROGRESS_EVERY == 0:
            blocks_done(n)
    blocks_done(len(m.blocks))


def _build_nd(tree: TreeWriter, m: MachineSpec) -> None:
    if not m.buses:
        return
    objects.add_nd_root(tree)
    diskseq = 0
    for bus in m.buses:
        objects.add_nd_bus(tree, bus)
        for dimm in bus.dimms:
            objects.add_dimm(tree, dimm)
        for region in bus.regions:
            objects.add_region(tree, region)
            for ns in region.namespaces:
                objects.add_namespace(tree, region, ns)
                if ns.holder:
                    objects.add_claim(tree, region, ns)
                if ns.blockdev and ns.blockdev_parent and ns.block_major is not None and ns.block_minor is not None:
                    size = ns.usable_size if ns.holder else ns.size
                    diskseq += 1  # disks are numbered in probe order from 1
                    objects.add_block_device(tree, ns.blockdev_parent, ns.blockdev, ns.block_major, ns.block_minor,
                                             size or 0, diskseq=diskseq, dax=ns.mode != "sector")
                    kernel_attrs.add_disk_extras(tree, f"{ns.blockdev_parent}/block/{ns.blockdev}",
                                                 profile_for_release(m.kernel_release))
            for seed in (region.pfn_seed, region.dax_seed, region.btt_seed):
                objects.add_claim_seed(tree, region, seed)
    objects.refresh_dimm_states(tree, m.buses)


def _build_dax(tree: TreeWriter, m: MachineSpec) -> None:
    objects.add_dax_root(tree)
    memmap_attr = profile_for_release(m.kernel_release).dax_memmap_on_memory  # 6.8+
    for region in m.dax_regions:
        if region.source == "nvdimm":
            objects.add_dax_region_attrs(tree, region)
        else:
            objects.add_hmem_parent(tree, region)
    for dev in m.dax_devices:
        parent = m.dax_region(dev.region_id, dev.region_kpath)
        objects.add_dax_device(
            tree, dev, dynamic=bool(parent and parent.dynamic), memmap_on_memory=False if memmap_attr else None
        )
    if profile_for_release(m.kernel_release).dax_state_file:  # the proposed daxX.Y/state (simulator only)
        add_state_files(tree, m)


def _build_derived(tree: TreeWriter, m: MachineSpec) -> None:
    """Everything computed from the objects: masks, meminfo, HMAT, tiers, /proc."""
    online = m.online_nodes()
    objects.set_node_masks(
        tree,
        possible=m.possible_nodes,
        online=online,
        has_cpu=[n.id for n in m.nodes if n.cpus],
        has_memory=m.nodes_with_online_memory(),
        has_normal_memory=m.nodes_with_normal_memory(),
        has_generic_initiator=[n.id for n in m.nodes if n.generic_initiator and n.id in online],
    )
    total_kb = free_kb = 0
    online_by_node: dict[int, list[int]] = {}
    for block in m.blocks:
        if block.online:
            online_by_node.setdefault(block.node, []).append(block.index)
    for node in m.nodes:
        if node.id not in online:
            continue
        node_total = objects.node_mem_total_kb(node, m.block_size, online_by_node.get(node.id, []))
        node_free = max(node_total - node.used_kb, 0)
        objects.write_node_meminfo(tree, node.id, node_total, node_free)
        total_kb += node_total
        free_kb += node_free
        for index, access in ((0, node.access0), (1, node.access1)):
            if access is not None:
                objects.add_node_access(tree, node.id, index, access)
    objects.write_proc_meminfo(tree, total_kb, free_kb)
    machine_zoneinfo(tree, m)
    objects.set_memory_tiers(tree, m.memory_tiers())
    kernel_attrs.add_weighted_interleave(tree, m.possible_nodes, profile_for_release(m.kernel_release))
    objects.write_proc_iomem(tree, iomem_entries(m))


__all__ = ["build_machine", "iomem_entries", "load_machine", "materialise"]
