"""Constants (majors, driver names, meminfo keys) and the generic plumbing:
buses, drivers, modules, device registration, driver bindings."""

from __future__ import annotations

import posixpath
from typing import Optional

from pmemctl.sim.tree import MODE_RW, MODE_WO, TreeWriter

# Character/block majors.  They are dynamic on a real kernel; these are the
# values the verified fake tree used (kernel-abi.md §8).
NDCTL_MAJOR = 250
NMEM_MAJOR = 249
DAX_MAJOR = 252
BLKEXT_MAJOR = 259  # pmem block devices get extended devts

SECTOR = 512

# nd device types (include/uapi/linux/ndctl.h): modalias "nd:t<N>".
ND_DEVICE_DIMM = 1
ND_DEVICE_REGION_PMEM = 2
ND_DEVICE_DAX_PMEM = 7

# supported_alignments of pfn/dax devices on x86 with THP and PUD pages.
SUPPORTED_ALIGNMENTS = (4096, 2 * 1024 * 1024, 1024 * 1024 * 1024)
NAMESPACE_SECTOR_SIZES = (512, 4096)

ND_DRIVERS = ("nd_bus", "nd_region", "nd_pmem", "nvdimm", "dax_pmem")
DAX_DRIVERS = ("device_dax", "kmem")
# Which module provides a driver (for the driver dir's "module" link).
DRIVER_MODULE = {
    "device_dax": "device_dax",
    "kmem": "kmem",
    "dax_pmem": "dax_pmem",
    "nd_pmem": "nd_pmem",
    "nd_region": "libnvdimm",
    "nd_bus": "libnvdimm",
    "nvdimm": "libnvdimm",
}

MEMINFO_KEYS = (
    "MemTotal", "MemFree", "MemUsed", "SwapCached", "Active", "Inactive",
    "Active(anon)", "Inactive(anon)", "Active(file)", "Inactive(file)",
    "Unevictable", "Mlocked", "Dirty", "Writeback", "FilePages", "Mapped",
    "AnonPages", "Shmem", "KernelStack", "PageTables", "SecPageTables",
    "NFS_Unstable", "Bounce", "WritebackTmp", "KReclaimable", "Slab",
    "SReclaimable", "SUnreclaim", "AnonHugePages", "ShmemHugePages",
    "ShmemPmdMapped", "FileHugePages", "FilePmdMapped",
)
HUGEPAGE_KEYS = ("HugePages_Total", "HugePages_Free", "HugePages_Surp")
#: nodeN/vmstat lines of 6.1 (x86_64, Debian config), in the kernel's order:
#: zone counters, NUMA counters, node counters (mm/vmstat.c vmstat_text).
NODE_VMSTAT_KEYS = (
    "nr_free_pages", "nr_zone_inactive_anon", "nr_zone_active_anon", "nr_zone_inactive_file",
    "nr_zone_active_file", "nr_zone_unevictable", "nr_zone_write_pending", "nr_mlock", "nr_bounce",
    "nr_zspages", "nr_free_cma", "numa_hit", "numa_miss", "numa_foreign", "numa_interleave",
    "numa_local", "numa_other", "nr_inactive_anon", "nr_active_anon", "nr_inactive_file",
    "nr_active_file", "nr_unevictable", "nr_slab_reclaimable", "nr_slab_unreclaimable",
    "nr_isolated_anon", "nr_isolated_file", "workingset_nodes", "workingset_refault_anon",
    "workingset_refault_file", "workingset_activate_anon", "workingset_activate_file",
    "workingset_restore_anon", "workingset_restore_file", "workingset_nodereclaim", "nr_anon_pages",
    "nr_mapped", "nr_file_pages", "nr_dirty", "nr_writeback", "nr_writeback_temp", "nr_shmem",
    "nr_shmem_hugepages", "nr_shmem_pmdmapped", "nr_file_hugepages", "nr_file_pmdmapped",
    "nr_anon_transparent_hugepages", "nr_vmscan_write", "nr_vmscan_immediate_reclaim", "nr_dirtied",
    "nr_written", "nr_throttled_written", "nr_kernel_misc_reclaimable", "nr_foll_pin_acquired",
    "nr_foll_pin_released", "nr_kernel_stack", "nr_page_table_pages", "nr_sec_page_table_pages",
    "nr_swapcached", "pgpromote_success", "pgpromote_candidate",
)


# =============================================================================
# buses, drivers, modules, generic device plumbing
# =============================================================================


def add_bus(tree: TreeWriter, bus: str) -> None:
    """``/sys/bus/<bus>`` with ``devices/``, ``drivers/`` and its control files."""
    base = f"/sys/bus/{bus}"
    tree.mkdir(f"{base}/devices")
    tree.mkdir(f"{base}/drivers")
    tree.attr(f"{base}/drivers_autoprobe", 1, MODE_RW)
    tree.attr(f"{base}/drivers_probe", "", MODE_WO)
    tree.attr(f"{base}/uevent", "", MODE_WO)


def add_module(
    tree: TreeWriter,
    name: str,
    *,
    builtin: bool = False,
    parameters: Optional[dict[str, str]] = None,
    coresize: int = 0,
) -> None:
    """``/sys/module/<name>``; a loadable module has ``initstate`` = ``live``
    (kmod treats the bare directory as built-in, kernel-abi.md §4.3) and the
    module attributes of kernel/module/sysfs.c: ``coresize`` (a fact of the
    build), ``initsize`` (0 once init memory is freed), ``taint`` (empty
    for in-tree modules) and ``holders/`` (nothing depends on these)."""
    base = f"/sys/module/{name}"
    tree.mkdir(base)
    if not builtin:
        tree.attr(f"{base}/initstate", "live")
        tree.attr(f"{base}/refcnt", 0)
        tree.attr(f"{base}/coresize", coresize)
        tree.attr(f"{base}/initsize", 0)
        tree.attr(f"{base}/taint", "")
        tree.mkdir(f"{base}/holders")
    if parameters:
        tree.mkdir(f"{base}/parameters")
        for key, value in parameters.items():
            tree.attr(f"{base}/parameters/{key}", value, MODE_RW)


def add_driver(tree: TreeWriter, bus: str, driver: str, *, dynamic_ids: bool = False, bind_attrs: bool = True) -> None:
    """``/sys/bus/<bus>/drivers/<driver>`` with its write-only control files
    (0200): bind, unbind (unless the driver sets suppress_bind_attrs),
    uevent, and new_id/remove_id on the dax bus."""
    base = f"/sys/bus/{bus}/drivers/{driver}"
    tree.mkdir(base)
    names = (["bind", "unbind"] if bind_attrs else []) + ["uevent"] + (["new_id", "remove_id"] if dynamic_ids else [])
    for name in names:
        tree.attr(f"{base}/{name}", "", MODE_WO)
    module = DRIVER_MODULE.get(driver)
    if module and tree.is_dir(f"/sys/module/{module}"):
        tree.symlink(f"{base}/module", f"/sys/module/{module}")
        tree.mkdir(f"/sys/module/{module}/drivers")
        tree.symlink(f"/sys/module/{module}/drivers/{bus}:{driver}", base)


def register_device(tree: TreeWriter, bus_or_class: str, name: str, kpath: str, *, is_class: bool = False) -> None:
    """Link a device into its bus (``/sys/bus/B/devices/name``) or class
    (``/sys/class/C/name``) and give it the ``subsystem`` link."""
    if is_class:
        home = f"/sys/class/{bus_or_class}"
        tree.mkdir(home)
        tree.symlink(f"{home}/{name}", kpath)
    else:
        home = f"/sys/bus/{bus_or_class}"
        tree.mkdir(f"{home}/devices")
        tree.symlink(f"{home}/devices/{name}", kpath)
    tree.symlink(f"{kpath}/subsystem", home)


def unregister_device(tree: TreeWriter, bus_or_class: str, name: str, *, is_class: bool = False) -> None:
    if is_class:
        tree.remove(f"/sys/class/{bus_or_class}/{name}")
    else:
        tree.remove(f"/sys/bus/{bus_or_class}/devices/{name}")


def add_char_device(tree: TreeWriter, kpath: str, devname: str, major: int, minor: int) -> None:
    """``dev`` attribute, ``/sys/dev/char/M:m`` link and the ``/dev`` node."""
    tree.attr(f"{kpath}/dev", f"{major}:{minor}")
    tree.mkdir("/sys/dev/char")
    tree.symlink(f"/sys/dev/char/{major}:{minor}", kpath)
    tree.devnode(f"/dev/{devname}", "c", major, minor)


def remove_char_device(tree: TreeWriter, devname: str, major: int, minor: int) -> None:
    tree.remove(f"/sys/dev/char/{major}:{minor}")
    tree.remove_devnode(f"/dev/{devname}")


def bound_driver(tree: TreeWriter, dev_kpath: str) -> Optional[str]:
    """Name of the driver a device is bound to (basename of ``driver``)."""
    target = tree.readlink(f"{dev_kpath}/driver")
    return None if target is None else posixpath.basename(target)


def bind_driver(tree: TreeWriter, bus: str, driver: str, dev_kpath: str) -> None:
    """Bind: ``<dev>/driver`` -> the driver dir, and the driver dir's
    ``<devname>`` back-link; an existing binding is undone first."""
    unbind_driver(tree, bus, dev_kpath)
    drv = f"/sys/bus/{bus}/drivers/{driver}"
    if not tree.is_dir(drv):
        raise ValueError(f"no driver {driver!r} on bus {bus!r}")
    tree.symlink(f"{dev_kpath}/driver", drv)
    tree.symlink(f"{drv}/{posixpath.basename(dev_kpath)}", dev_kpath)


def unbind_driver(tree: TreeWriter, bus: str, dev_kpath: str) -> Optional[str]:
    """Remove a device's binding; returns the driver it had (None if unbound)."""
    old = bound_driver(tree, dev_kpath)
    if old is not None:
        tree.remove(f"/sys/bus/{bus}/drivers/{old}/{posixpath.basename(dev_kpath)}")
        tree.remove(f"{dev_kpath}/driver")
    return old


def add_device_dir(tree: TreeWriter, kpath: str, *, uevent: str = "") -> None:
    """A device directory with ``uevent`` and ``power/``."""
    tree.mkdir(f"{kpath}/power")
    tree.attr(f"{kpath}/uevent", uevent, MODE_RW)
