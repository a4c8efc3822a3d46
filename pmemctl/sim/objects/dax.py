"""The dax bus: dax regions, dax devices, hmem parents (kernel-abi.md §4.1, §7.5)."""

from __future__ import annotations

import posixpath
from typing import Optional

from pmemctl.sim.machine import (
    DaxDeviceSpec,
    DaxRegionSpec,
)
from pmemctl.sim.objects.core import (
    DAX_DRIVERS,
    add_bus,
    add_char_device,
    add_device_dir,
    add_driver,
    bind_driver,
    register_device,
    remove_char_device,
    unbind_driver,
    unregister_device,
)
from pmemctl.sim.tree import MODE_RO, MODE_ROOT_RO, MODE_RW, MODE_WO, TreeWriter

# =============================================================================
# dax bus (kernel-abi.md §4.1, §7.5)
# =============================================================================


def add_dax_root(tree: TreeWriter) -> None:
    add_bus(tree, "dax")
    for driver in DAX_DRIVERS:
        add_driver(tree, "dax", driver, dynamic_ids=True)


def add_dax_region_attrs(tree: TreeWriter, region: DaxRegionSpec) -> None:
    """``<parent>/dax_region/``: id, size, align (0400); dynamic regions also
    available_size, seed, create (0644) and delete (0200)."""
    base = f"{region.kpath}/dax_region"
    tree.mkdir(base)
    tree.attr(f"{base}/id", region.id)
    tree.attr(f"{base}/size", region.size)
    tree.attr(f"{base}/align", region.align, MODE_ROOT_RO)
    if region.dynamic:
        tree.attr(f"{base}/available_size", region.available_size)
        tree.attr(f"{base}/seed", region.seed)
        tree.attr(f"{base}/create", "", MODE_RW)
        tree.attr(f"{base}/delete", "", MODE_WO)


def add_dax_device(
    tree: TreeWriter, dev: DaxDeviceSpec, *, dynamic: bool, memmap_on_memory: Optional[bool] = None
) -> None:
    """``daxX.Y`` on the dax bus: dev, size, align, resource, target_node,
    numa_node, modalias, mappingN/, bus and ``/sys/dev/char`` links, the
    ``/dev/daxX.Y`` node (present whether bound or not), and the driver."""
    kpath = dev.kpath
    add_device_dir(tree, kpath, uevent=f"MAJOR={dev.major}\nMINOR={dev.minor}\nDEVNAME={dev.name}")
    size_mode = MODE_RW if dynamic else MODE_RO  # static (pmem) devices: 0444
    tree.attr(f"{kpath}/size", dev.size, size_mode)
    tree.attr(f"{kpath}/align", dev.align, size_mode)
    tree.attr(f"{kpath}/resource", f"{dev.resource:#x}", MODE_ROOT_RO)
    if dev.target_node >= 0:
        tree.attr(f"{kpath}/target_node", dev.target_node)
    tree.attr(f"{kpath}/numa_node", dev.numa_node)
    # drivers/dax/bus.c modalias_show: "dax:t%d" with type 0 (the "*" is only
    # in the modules' MODULE_ALIAS patterns)
    tree.attr(f"{kpath}/modalias", "dax:t0")
    if dynamic:
        tree.attr(f"{kpath}/mapping", "", MODE_WO)
    if memmap_on_memory is not None:
        tree.attr(f"{kpath}/memmap_on_memory", 1 if memmap_on_memory else 0, MODE_RW)
    for i, m in enumerate(dev.mappings):
        mdir = f"{kpath}/mapping{i}"
        add_device_dir(tree, mdir)
        tree.attr(f"{mdir}/start", f"{m.start:#x}", MODE_ROOT_RO)
        tree.attr(f"{mdir}/end", f"{m.end:#x}", MODE_ROOT_RO)
        tree.attr(f"{mdir}/page_offset", f"{m.page_offset:#x}", MODE_ROOT_RO)
    add_char_device(tree, kpath, dev.name, dev.major, dev.minor)
    register_device(tree, "dax", dev.name, kpath)
    if dev.driver:
        bind_driver(tree, "dax", dev.driver, kpath)


def remove_dax_device(tree: TreeWriter, dev: DaxDeviceSpec) -> None:
    unbind_driver(tree, "dax", dev.kpath)
    unregister_device(tree, "dax", dev.name)
    remove_char_device(tree, dev.name, dev.major, dev.minor)
    tree.remove(dev.kpath)


def add_hmem_parent(tree: TreeWriter, region: DaxRegionSpec) -> None:
    """The device a soft-reserved/CXL dax region hangs off: a platform
    ``hmem.N`` bound to the hmem driver, or a CXL ``dax_regionN`` under its
    ``regionN`` (no nd objects above either)."""
    kpath = region.kpath
    if region.source == "hmem":
        add_device_dir(tree, kpath, uevent="DRIVER=hmem\nMODALIAS=platform:hmem")
        tree.attr(f"{kpath}/modalias", "platform:hmem")
        tree.attr(f"{kpath}/driver_override", "(null)", MODE_RW)
        add_bus(tree, "platform")
        if not tree.is_dir("/sys/bus/platform/drivers/hmem"):
            add_driver(tree, "platform", "hmem")
        register_device(tree, "platform", posixpath.basename(kpath), kpath)
        bind_driver(tree, "platform", "hmem", kpath)
    elif region.source == "cxl":
        add_bus(tree, "cxl")
        cxl_region = posixpath.dirname(kpath)
        decoder = posixpath.dirname(cxl_region)
        root = posixpath.dirname(decoder)
        acpi = posixpath.dirname(root)
        add_device_dir(tree, acpi)
        tree.attr(f"{acpi}/hid", "ACPI0017")
        for dev_kpath, devtype in ((root, "cxl_port"), (decoder, "cxl_decoder_root"), (cxl_region, "cxl_region")):
            add_device_dir(tree, dev_kpath, uevent=f"DEVTYPE={devtype}")
            tree.attr(f"{dev_kpath}/devtype", devtype)
            register_device(tree, "cxl", posixpath.basename(dev_kpath), dev_kpath)
        window = region.window or (region.start, region.start + region.size)
        tree.attr(f"{decoder}/start", f"{window[0]:#x}")
        tree.attr(f"{decoder}/size", f"{window[1] - window[0]:#x}")
        tree.attr(f"{decoder}/cap_ram", 1)
        tree.attr(f"{cxl_region}/mode", "ram")
        tree.attr(f"{cxl_region}/resource", f"{region.start:#x}", MODE_ROOT_RO)
        tree.attr(f"{cxl_region}/size", f"{region.size:#x}", MODE_RW)
        tree.attr(f"{cxl_region}/uuid", "", MODE_RW)
        tree.attr(f"{cxl_region}/interleave_ways", 1, MODE_RW)
        tree.attr(f"{cxl_region}/interleave_granularity", 256, MODE_RW)
        tree.attr(f"{cxl_region}/commit", 1, MODE_RW)
        add_device_dir(tree, kpath, uevent="DEVTYPE=cxl_dax_region")
        tree.attr(f"{kpath}/devtype", "cxl_dax_region")
        tree.attr(f"{kpath}/modalias", "cxl:t13")
        register_device(tree, "cxl", posixpath.basename(kpath), kpath)
        if not tree.is_dir("/sys/bus/cxl/drivers/cxl_dax_region"):
            add_driver(tree, "cxl", "cxl_dax_region")
        bind_driver(tree, "cxl", "cxl_dax_region", kpath)
    else:
        raise ValueError(f"not a soft-reserved/CXL region: {region.source!r}")
    add_dax_region_attrs(tree, region)
