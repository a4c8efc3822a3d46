"""Attributes only some kernels have, added to objects the generic builders
made (the kernel profile, :mod:`pmemctl.sim.kernels`, says which): what the
6.12 guest of tests/vm shows and 6.1 does not."""

from __future__ import annotations

from typing import Sequence

from pmemctl.sim.kernels import KernelProfile
from pmemctl.sim.tree import MODE_RW, TreeWriter
from pmemctl.sysfs import paths

WEIGHTED_INTERLEAVE = "/sys/kernel/mm/mempolicy/weighted_interleave"
#: nodeN/memory_failure/* counters (mm/memory-failure.c, MF_* outcomes).
MEMORY_FAILURE_COUNTERS = ("delayed", "failed", "ignored", "recovered", "total")


def add_memory_root_extras(tree: TreeWriter, profile: KernelProfile) -> None:
    """``memory/crash_hotplug``: 0 when kexec's crash image is not updated on
    hotplug (no crash kernel loaded, as in the guests)."""
    if profile.has("crash_hotplug"):
        tree.attr(f"{paths.MEMORY}/crash_hotplug", 0)


def add_node_extras(tree: TreeWriter, node_id: int, profile: KernelProfile) -> None:
    """``nodeN/memory_failure/``: per-node memory-failure statistics."""
    if profile.has("memory_failure_stats"):
        base = f"{paths.node_dir(node_id)}/memory_failure"
        tree.mkdir(base)
        for name in MEMORY_FAILURE_COUNTERS:
            tree.attr(f"{base}/{name}", 0)


def add_weighted_interleave(tree: TreeWriter, possible_nodes: Sequence[int], profile: KernelProfile) -> None:
    """``/sys/kernel/mm/mempolicy/weighted_interleave/nodeN`` (6.9+): one
    weight per possible node, 1 until someone writes another (mm/mempolicy.c)."""
    if profile.weighted_interleave:
        tree.mkdir(WEIGHTED_INTERLEAVE)
        for node in possible_nodes:
            tree.attr(f"{WEIGHTED_INTERLEAVE}/node{node}", 1, MODE_RW)


def add_disk_extras(tree: TreeWriter, disk_kpath: str, profile: KernelProfile) -> None:
    """``block/DISK/partscan``: 1 when the disk's partitions are scanned (pmem does)."""
    if profile.has("disk_partscan"):
        tree.attr(f"{disk_kpath}/partscan", 1)


__all__ = ["MEMORY_FAILURE_COUNTERS", "add_disk_extras", "add_memory_root_extras", "add_node_extras",
           "add_weighted_interleave"]
