"""Issue 15, item 7: the pre-check gaps.

* a block spanning zones (valid_zones ``none``, boot memory) is refused;
* a block in ZONE_DMA32 is named as such, not as ZONE_NORMAL;
* ``--zone normal`` (nearly one-way) warns;
* a MOVABLE:KERNEL ratio above 8:1 is refused unless --force (consent);
* contradictory options are usage errors;
* a namespace with media errors (region ``badblocks``) is not turned into
  RAM without --force.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_support import Invoke, one_line

from pmemctl.errors import ExitCode


@pytest.fixture
def optane(fresh_tree: Any) -> Path:
    return fresh_tree("optane-2s")


def _checks(invoke: Invoke, *args: Any) -> dict[str, dict[str, Any]]:
    doc = json.loads(invoke(*args, "--dry-run", "--json").stdout)
    return {c["name"]: c for c in doc["plan"]["checks"]}


def test_block_spanning_zones_is_refused_even_with_force(invoke: Invoke, optane: Path) -> None:
    assert (optane / "sys/devices/system/memory/memory0/valid_zones").read_text().strip() == "none"
    for extra in ([], ["--force"]):
        res = invoke("--sysroot", optane, "offline", "--blocks", "0", "--dry-run", *extra)
        assert res.exit_code == ExitCode.REFUSED
        assert "REFUSED    zone-span: memory block(s) 0 span more than one zone" in res.stdout


def test_dma32_block_is_named_dma32(invoke: Invoke, optane: Path) -> None:
    zones = optane / "sys/devices/system/memory/memory2/valid_zones"
    zones.unlink()  # a built tree's block files are links shared by value: this block alone changes
    zones.write_text("DMA32\n")
    check = _checks(invoke, "--sysroot", optane, "offline", "--blocks", "2")["zone-normal"]
    assert "ZONE_DMA32" in check["message"] and "ZONE_NORMAL" not in check["message"]


def test_online_into_zone_normal_warns(invoke: Invoke, fresh_tree: Any) -> None:
    tree = fresh_tree("qemu-nvdimm", stage="system-ram")
    tree_blocks = invoke("--sysroot", tree, "offline", "dax0.0", "--count", "2", "--yes")
    assert tree_blocks.exit_code == 0, tree_blocks.stderr
    checks = _checks(invoke, "--sysroot", tree, "online", "dax0.0", "--zone", "normal")
    assert checks["zone-normal"]["status"] == "warning" and "reboot" in checks["zone-normal"]["message"]
    assert "zone-normal" not in _checks(invoke, "--sysroot", tree, "online", "dax0.0")


def test_extreme_zone_ratio_needs_force(invoke: Invoke, optane: Path) -> None:
    assert invoke("--sysroot", optane, "offline", "--blocks", "2-28", "--force", "--yes").exit_code == 0
    res = invoke("--sysroot", optane, "reconfigure", "dax1.1", "-m", "system-ram", "--dry-run")
    assert res.exit_code == ExitCode.REFUSED
    assert "REFUSED    zone-ratio" in res.stdout and "(override: --force)" in res.stdout
    forced = invoke("--sysroot", optane, "reconfigure", "dax1.1", "-m", "system-ram", "--dry-run", "--force")
    assert forced.exit_code == 0 and "OVERRIDDEN zone-ratio" in forced.stdout


@pytest.mark.parametrize("args", [
    ["-m", "devdax", "--zone", "normal"],
    ["-m", "devdax", "--zone", "movable"],
    ["-m", "system-ram", "--zone", "normal", "--no-online"],
    ["-m", "devdax", "--no-online"],
], ids=" ".join)
def test_contradictory_options_are_usage_errors(invoke: Invoke, optane: Path, args: list[str]) -> None:
    res = invoke("--sysroot", optane, "reconfigure", "dax1.1", *args, "--dry-run")
    assert res.exit_code == ExitCode.USAGE
    line = one_line(res.stderr)
    assert "--zone" in line or "--no-online" in line


def test_default_zone_is_not_a_contradiction(invoke: Invoke, optane: Path) -> None:
    assert invoke("--sysroot", optane, "reconfigure", "dax0.1", "-m", "devdax", "--dry-run").exit_code == 0
    res = invoke("--sysroot", optane, "reconfigure", "dax1.1", "-m", "system-ram", "--no-online", "--dry-run")
    assert res.exit_code == 0


def _region_badblocks(invoke: Invoke, tree: Path) -> Path:
    region = json.loads(invoke("--sysroot", tree, "list", "--json").stdout)["buses"][0]["regions"][0]
    path = tree / region["path"].lstrip("/") / "badblocks"
    assert path.is_file() and path.read_text() == ""
    return path


def test_media_errors_refuse_system_ram(invoke: Invoke, fresh_tree: Any) -> None:
    tree = fresh_tree("qemu-nvdimm", stage="devdax")
    badblocks = _region_badblocks(invoke, tree)
    clean = invoke("--sysroot", tree, "reconfigure", "dax0.0", "-m", "system-ram", "--dry-run")
    assert clean.exit_code == 0 and "media-errors" not in clean.stdout
    badblocks.write_text("4096 8\n")  # 4 KiB, 2 MiB into the region: inside the namespace
    res = invoke("--sysroot", tree, "reconfigure", "dax0.0", "-m", "system-ram", "--dry-run")
    assert res.exit_code == ExitCode.REFUSED
    assert "REFUSED    media-errors: namespace0.0" in res.stdout and "(override: --force)" in res.stdout
    forced = invoke("--sysroot", tree, "reconfigure", "dax0.0", "-m", "system-ram", "--dry-run", "--force")
    assert forced.exit_code == 0 and "OVERRIDDEN media-errors" in forced.stdout


def test_media_errors_outside_the_namespace_do_not_count(invoke: Invoke, optane: Path) -> None:
    doc = json.loads(invoke("--sysroot", optane, "list", "--json").stdout)
    region = next(r for r in doc["buses"][0]["regions"] if r["name"] == "region1")
    ns = next(n for n in region["namespaces"] if n["name"] == "namespace1.1")
    lo = ns["resource"] - region["resource"]
    assert lo > 0  # namespace1.0 lies before it
    badblocks = optane / region["path"].lstrip("/") / "badblocks"
    badblocks.write_text("0 8\n")  # the region's first 4 KiB: namespace1.0's, not namespace1.1's
    res = invoke("--sysroot", optane, "reconfigure", "dax1.1", "-m", "system-ram", "--dry-run")
    assert res.exit_code == 0 and "media-errors" not in res.stdout
    badblocks.write_text(f"{lo // 512} 8\n")  # its first 4 KiB
    res = invoke("--sysroot", optane, "reconfigure", "dax1.1", "-m", "system-ram", "--dry-run")
    assert res.exit_code == ExitCode.REFUSED and "media-errors: namespace1.1 (region1)" in res.stdout


def test_memmap_is_compared_with_free_kernel_zone_memory(invoke: Invoke, optane: Path) -> None:
    """memmap is a kernel allocation: plenty of free ZONE_MOVABLE memory does
    not make room for it (issue 15, item 7)."""
    zoneinfo = optane / "proc/zoneinfo"
    zoneinfo.write_text(
        "Node 0, zone   Normal\n  per-node stats\n      nr_free_pages 100\n  pages free     2048\n"
        "        boost    0\n"
        "Node 2, zone  Movable\n  pages free     60000000\n")  # 8 MiB kernel, ~229 GiB movable
    check = _checks(invoke, "--sysroot", optane, "reconfigure", "dax1.1", "-m", "system-ram")["memmap"]
    assert check["status"] == "refused" and check["override"] == "--force"
    assert "8M is free in kernel zones" in check["message"]
    zoneinfo.write_text("Node 0, zone   Normal\n  pages free     2621440\n")  # 10 GiB kernel
    check = _checks(invoke, "--sysroot", optane, "reconfigure", "dax1.1", "-m", "system-ram")["memmap"]
    assert check["status"] == "ok" and "10G free in kernel zones" in check["message"]
