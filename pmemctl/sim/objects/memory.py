"""Memory blocks ``memoryN`` (kernel-abi.md §7.1, §7.2)."""

from __future__ import annotations

import functools
import re
from typing import Optional

from pmemctl.sim.objects.core import add_bus
from pmemctl.sim.tree import MODE_RO, MODE_RW, MODE_WO, TreeWriter, relative_link_target
from pmemctl.sysfs import paths

# =============================================================================
# memory blocks (kernel-abi.md §7.1, §7.2)
# =============================================================================


def memory_block_kpath(index: int) -> str:
    return paths.memory_block(index)


def add_memory_root(tree: TreeWriter, block_size: int, auto_online_blocks: str) -> None:
    """``/sys/devices/system/memory`` root files and the memory bus."""
    root = paths.MEMORY
    tree.mkdir(f"{root}/power")
    # block_size_bytes is hex without 0x (drivers/base/memory.c "%lx").
    tree.attr(paths.BLOCK_SIZE_BYTES, f"{block_size:x}")
    tree.attr(paths.AUTO_ONLINE_BLOCKS, auto_online_blocks, MODE_RW)
    tree.attr(f"{root}/uevent", "", MODE_RW)
    tree.attr(f"{root}/soft_offline_page", "", MODE_WO)
    tree.attr(f"{root}/hard_offline_page", "", MODE_WO)
    add_bus(tree, "memory")


def set_auto_online_blocks(tree: TreeWriter, policy: str) -> None:
    tree.attr(paths.AUTO_ONLINE_BLOCKS, policy, MODE_RW)


@functools.lru_cache(maxsize=None)
def _block_link_prefixes() -> tuple[str, str, str]:
    """Relative link texts shared by every block (computed once: the big
    scenario makes ~200 000 of these links)."""
    bus = relative_link_target("/sys/bus/memory/devices/memoryX", f"{paths.MEMORY}/memoryX")[: -len("memoryX")]
    back = relative_link_target(f"{paths.NODE}/nodeX/memoryX", f"{paths.MEMORY}/memoryX")[: -len("memoryX")]
    subsystem = relative_link_target(f"{paths.MEMORY}/memoryX/subsystem", "/sys/bus/memory")
    return bus, back, subsystem


@functools.lru_cache(maxsize=None)
def _block_node_link(node: int) -> str:
    return relative_link_target(f"{paths.MEMORY}/memoryX/node{node}", paths.node_dir(node))


def add_memory_block(
    tree: TreeWriter, index: int, node: int, *, online: bool, valid_zones: str, removable: bool = True
) -> None:
    """``memoryN`` with its attributes, ``nodeK`` link, the node's back-link
    and the bus link.  ``phys_index`` is the block id in ``%08lx``."""
    kpath = f"{paths.MEMORY}/memory{index}"
    bus_prefix, back_prefix, subsystem = _block_link_prefixes()
    tree.populate(
        kpath,
        files=(
            ("phys_index", f"{index:08x}", MODE_RO),
            ("state", "online" if online else "offline", MODE_RW),
            ("online", "1" if online else "0", MODE_RW),
            ("removable", "1" if removable else "0", MODE_RO),
            ("phys_device", "0", MODE_RO),
            ("valid_zones", valid_zones, MODE_RO),
            ("uevent", "", MODE_RW),
        ),
        links=((f"node{node}", _block_node_link(node)), ("subsystem", subsystem)),
        subdirs=("power",),
    )
    tree.symlink_raw(f"/sys/bus/memory/devices/memory{index}", f"{bus_prefix}memory{index}")
    node_kpath = paths.node_dir(node)
    if tree.is_dir(node_kpath):
        tree.symlink_raw(f"{node_kpath}/memory{index}", f"{back_prefix}memory{index}")


def link_block_to_node(tree: TreeWriter, index: int, node: int) -> None:
    """``nodeK/memoryN`` back-link (used when a node dir appears after its blocks)."""
    tree.symlink(f"{paths.node_dir(node)}/memory{index}", f"{paths.MEMORY}/memory{index}")


def set_memory_block(tree: TreeWriter, index: int, *, online: bool, valid_zones: str) -> None:
    """Change a block's state; ``valid_zones`` is its zone when online, the
    list of candidate zones when offline."""
    kpath = f"{paths.MEMORY}/memory{index}"
    # In an order no reader (or a run killed half-way) sees a state no kernel
    # shows: an online block with an offline block's zone list.  Online: the
    # zone first (an offline block whose one valid zone is it is possible),
    # then the state; offline: the state first, then the zone list.
    steps = [
        (f"{kpath}/state", "online" if online else "offline", MODE_RW),
        (f"{kpath}/online", 1 if online else 0, MODE_RW),
    ]
    zones = (f"{kpath}/valid_zones", valid_zones, MODE_RO)
    for path, value, mode in ([zones, *reversed(steps)] if online else [*steps, zones]):
        tree.attr(path, value, mode)


def memory_block_node(tree: TreeWriter, index: int) -> Optional[int]:
    for name in tree.listdir(f"{paths.MEMORY}/memory{index}"):
        if name.startswith("node") and name[4:].isdigit():
            return int(name[4:])
    return None


def remove_memory_block(tree: TreeWriter, index: int) -> None:
    """Hot-remove ``memoryN``: the block dir, node back-link and bus link."""
    node = memory_block_node(tree, index)
    if node is not None:
        tree.remove(f"{paths.node_dir(node)}/memory{index}")
    tree.remove(f"/sys/bus/memory/devices/memory{index}")
    tree.remove(f"{paths.MEMORY}/memory{index}")


_MEMORY_ENTRY = re.compile(r"^memory(\d+)$")


def node_block_indexes(tree: TreeWriter, node: int) -> list[int]:
    """Blocks linked from ``nodeK/`` (``memory_*`` entries are not blocks)."""
    out = []
    for name in tree.listdir(paths.node_dir(node)):
        m = _MEMORY_ENTRY.match(name)
        if m:
            out.append(int(m.group(1)))
    return sorted(out)


def read_memory_block(tree: TreeWriter, index: int) -> tuple[bool, str]:
    """(online, valid_zones) of a block as the tree has it."""
    kpath = f"{paths.MEMORY}/memory{index}"
    return tree.read(f"{kpath}/state").startswith("online"), tree.read(f"{kpath}/valid_zones")
