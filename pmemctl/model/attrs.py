"""Small attribute readers shared by the model's readers: typed, None when absent."""

from __future__ import annotations

from typing import Callable, Optional, TypeVar

from pmemctl.sysfs.door import SysfsRoot
from pmemctl.units import parse_hex, parse_int

T = TypeVar("T")


def opt(door: SysfsRoot, kpath: str, parser: Callable[[str], T], expected: str) -> Optional[T]:
    return door.read_parsed(kpath, parser, expected)


def opt_str(door: SysfsRoot, kpath: str) -> Optional[str]:
    text = door.read_optional(kpath)
    if text is None:
        return None
    text = text.strip()
    return text or None


def opt_int(door: SysfsRoot, kpath: str) -> Optional[int]:
    return opt(door, kpath, parse_int, "an integer")


def opt_hex(door: SysfsRoot, kpath: str) -> Optional[int]:
    return opt(door, kpath, parse_hex, "a hex number")


def node_id(value: Optional[int]) -> Optional[int]:
    """numa_node/target_node read -1 when unknown (NUMA_NO_NODE)."""
    if value is None or value < 0:
        return None
    return value


def enabled(door: SysfsRoot, dev_path: str) -> bool:
    # Tools key "enabled" purely on the driver symlink (kernel-abi.md §8).
    return door.readlink(dev_path + "/driver") is not None


def bus_of(path: str) -> str:
    for part in path.split("/"):
        if part.startswith("ndbus"):
            return part
    return "?"
