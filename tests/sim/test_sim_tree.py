"""TreeWriter primitives: modes, newline, relative links, removal, /dev manifest."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from pmemctl.sim.tree import (
    MODE_RO,
    MODE_ROOT_RO,
    MODE_RW,
    MODE_WO,
    TreeWriter,
    is_simulated_tree,
    iter_tree,
    load_devnodes,
    relative_link_target,
)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.mark.parametrize(
    ("link", "target", "expected"),
    [
        # kernel-abi.md §8: exactly the link texts the kernel shows.
        (
            "/sys/bus/dax/devices/dax0.0",
            "/sys/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/dax0.0/dax0.0",
            "../../../devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/dax0.0/dax0.0",
        ),
        ("/sys/devices/system/memory/memory33/node1", "/sys/devices/system/node/node1", "../../node/node1"),
        ("/sys/devices/system/memory/memory33/subsystem", "/sys/bus/memory", "../../../../bus/memory"),
        ("/sys/devices/system/node/node1/memory33", "/sys/devices/system/memory/memory33", "../../memory/memory33"),
        (
            "/sys/bus/memory_tiering/devices/memory_tier4",
            "/sys/devices/virtual/memory_tiering/memory_tier4",
            "../../../devices/virtual/memory_tiering/memory_tier4",
        ),
        ("/sys/devices/system/cpu/cpu0/node0", "/sys/devices/system/node/node0", "../../node/node0"),
        # A link to a directory containing it climbs past it (fs/sysfs/symlink.c).
        (
            "/sys/devices/system/node/node0/access0/initiators/node0",
            "/sys/devices/system/node/node0",
            "../../../node0",
        ),
        ("/sys/a/b/x", "/sys/a/b/c", "c"),
        ("/sys/x", "/proc/y", "../proc/y"),
    ],
)
def test_relative_link_target_matches_kernel(link: str, target: str, expected: str) -> None:
    assert relative_link_target(link, target) == expected


def test_relative_link_target_needs_absolute_paths() -> None:
    with pytest.raises(ValueError):
        relative_link_target("sys/bus", "/sys/devices")


@pytest.mark.parametrize("mode", [MODE_RO, MODE_RW, MODE_WO, MODE_ROOT_RO])
def test_attr_has_exact_mode_and_trailing_newline(writer: TreeWriter, mode: int) -> None:
    writer.mkdir("/sys/devices/system/memory")
    writer.attr("/sys/devices/system/memory/block_size_bytes", "8000000", mode)
    path = Path(writer.root, "sys/devices/system/memory/block_size_bytes")
    assert mode_of(path) == mode
    assert path.read_bytes() == b"8000000\n"


def test_attr_keeps_one_newline_and_rewrites_read_only(writer: TreeWriter) -> None:
    writer.mkdir("/proc")
    writer.attr("/proc/meminfo", "a\nb\n")
    writer.attr("/proc/meminfo", 42)  # rewrite of a 0444 file
    assert Path(writer.root, "proc/meminfo").read_bytes() == b"42\n"
    assert writer.read("/proc/meminfo") == "42"
    writer.attr("/proc/meminfo", "x", MODE_RW)
    assert mode_of(Path(writer.root, "proc/meminfo")) == MODE_RW


def test_kernel_paths_must_be_absolute(writer: TreeWriter) -> None:
    with pytest.raises(ValueError):
        writer.host("sys/devices")


def test_symlink_is_relative_and_replaceable(writer: TreeWriter) -> None:
    writer.mkdir("/sys/bus/dax/drivers/kmem")
    writer.mkdir("/sys/bus/dax/drivers/device_dax")
    writer.mkdir("/sys/devices/platform/hmem.0/dax0.0")
    dev = "/sys/devices/platform/hmem.0/dax0.0"
    writer.symlink(f"{dev}/driver", "/sys/bus/dax/drivers/device_dax")
    writer.symlink(f"{dev}/driver", "/sys/bus/dax/drivers/kmem")
    assert writer.readlink(f"{dev}/driver") == "../../../../bus/dax/drivers/kmem"
    assert writer.resolve_link(f"{dev}/driver") == "/sys/bus/dax/drivers/kmem"
    assert os.path.isdir(Path(writer.root, dev.lstrip("/"), "driver"))


def test_remove_file_link_and_directory(writer: TreeWriter) -> None:
    writer.mkdir("/sys/a/b")
    writer.attr("/sys/a/b/f", 1)
    writer.symlink("/sys/a/l", "/sys/a/b")
    writer.remove("/sys/a/l")
    assert not writer.exists("/sys/a/l") and writer.exists("/sys/a/b")
    writer.remove("/sys/a/b/f")
    assert not writer.exists("/sys/a/b/f")
    writer.attr("/sys/a/b/g", 1)
    assert not writer.remove_if_empty("/sys/a/b")
    writer.remove("/sys/a")
    assert not writer.exists("/sys/a")
    writer.remove("/sys/never-there")  # absent is fine


def test_populate_fast_path(writer: TreeWriter) -> None:
    writer.mkdir("/sys/devices/system/memory")
    writer.populate(
        "/sys/devices/system/memory/memory7",
        files=[("state", "online", MODE_RW), ("phys_index", "00000007", MODE_RO)],
        links=[("subsystem", "../../../../bus/memory")],
        subdirs=["power"],
    )
    base = Path(writer.root, "sys/devices/system/memory/memory7")
    assert (base / "state").read_text() == "online\n" and mode_of(base / "state") == MODE_RW
    assert mode_of(base / "phys_index") == MODE_RO
    assert os.readlink(base / "subsystem") == "../../../../bus/memory"
    assert (base / "power").is_dir()


def test_devnode_manifest(writer: TreeWriter) -> None:
    writer.devnode("/dev/dax0.0", "c", 252, 0)
    writer.devnode("/dev/pmem0", "b", 259, 0)
    writer.devnode("/dev/dax0.0", "c", 252, 1)  # re-recorded: replaced
    manifest = json.loads(Path(writer.marker_dir, "devnodes.json").read_text())
    assert manifest == [
        {"path": "/dev/dax0.0", "type": "c", "major": 252, "minor": 1},
        {"path": "/dev/pmem0", "type": "b", "major": 259, "minor": 0},
    ]
    writer.remove_devnode("/dev/pmem0")
    assert [n.path for n in load_devnodes(writer.root)] == ["/dev/dax0.0"]
    assert is_simulated_tree(writer.root)
    # Nothing is created under /dev itself: the harness mknods in a private /dev.
    assert not Path(writer.root, "dev", "dax0.0").exists()
    with pytest.raises(ValueError):
        writer.devnode("/sys/dax0.0", "c", 1, 1)


def test_iter_tree_skips_marker(writer: TreeWriter) -> None:
    writer.mkdir("/sys/x")
    writer.devnode("/dev/dax0.0", "c", 252, 0)
    assert sorted(iter_tree(writer.root)) == ["/sys", "/sys/x"]
