"""Canonical kernel paths (Documentation/ABI/testing/sysfs-*).

Kept in one place so the model, the planner, the simulator and the tests agree.
"""

from __future__ import annotations

SYS = "/sys"
MEMORY = "/sys/devices/system/memory"
BLOCK_SIZE_BYTES = MEMORY + "/block_size_bytes"
AUTO_ONLINE_BLOCKS = MEMORY + "/auto_online_blocks"
NODE = "/sys/devices/system/node"
CPU = "/sys/devices/system/cpu"
ND_BUS = "/sys/bus/nd"
ND_DEVICES = ND_BUS + "/devices"
ND_DRIVERS = ND_BUS + "/drivers"
DAX_BUS = "/sys/bus/dax"
DAX_DEVICES = DAX_BUS + "/devices"
DAX_DRIVERS = DAX_BUS + "/drivers"
MEMORY_TIERING = "/sys/devices/virtual/memory_tiering"
DEMOTION_ENABLED = "/sys/kernel/mm/numa/demotion_enabled"
MEMORY_HOTPLUG_PARAMS = "/sys/module/memory_hotplug/parameters"
PROC_CMDLINE = "/proc/cmdline"
PROC_MEMINFO = "/proc/meminfo"
PROC_IOMEM = "/proc/iomem"
PROC_MOUNTINFO = "/proc/self/mountinfo"


def memory_block(index: int) -> str:
    return f"{MEMORY}/memory{index}"


def node_dir(node: int) -> str:
    return f"{NODE}/node{node}"


def dax_driver(name: str) -> str:
    return f"{DAX_DRIVERS}/{name}"


def dax_state(device: str) -> str:
    """The proposed whole-device hotplug file (no released kernel has it yet)."""
    return f"{DAX_DEVICES}/{device}/state"


def nd_device(name: str) -> str:
    """``/sys/bus/nd/devices/NAME``: the stable path of any nd device."""
    return f"{ND_DEVICES}/{name}"


def nd_driver(driver: str, op: str) -> str:
    return f"{ND_DRIVERS}/{driver}/{op}"
