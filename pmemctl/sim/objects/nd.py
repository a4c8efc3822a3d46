"""The nd bus: DIMMs, regions, namespaces, pfn/dax/btt claims and their
block devices (kernel-abi.md §5.1, §7.7)."""

from __future__ import annotations

import posixpath
import re
from typing import Iterable, Optional, Sequence

from pmemctl.sim import layout
from pmemctl.sim.machine import (
    BusSpec,
    DimmSpec,
    NamespaceSpec,
    RegionSpec,
)
from pmemctl.sim.objects.core import (
    NAMESPACE_SECTOR_SIZES,
    ND_DEVICE_DAX_PMEM,
    ND_DEVICE_DIMM,
    ND_DEVICE_REGION_PMEM,
    ND_DRIVERS,
    SECTOR,
    SUPPORTED_ALIGNMENTS,
    add_bus,
    add_char_device,
    add_device_dir,
    add_driver,
    bind_driver,
    bound_driver,
    register_device,
    unbind_driver,
    unregister_device,
)
from pmemctl.sim.tree import MODE_RO, MODE_ROOT_RO, MODE_RW, TreeWriter

# =============================================================================
# nd bus, DIMMs, regions, namespaces (kernel-abi.md §5.1, §7.7)
# =============================================================================


def add_nd_root(tree: TreeWriter) -> None:
    """The nd bus with its five drivers and ``/sys/class/nd``."""
    add_bus(tree, "nd")
    tree.mkdir("/sys/class/nd")
    for driver in ND_DRIVERS:
        # drivers/nvdimm/bus.c: nd_bus_driver sets suppress_bind_attrs
        add_driver(tree, "nd", driver, bind_attrs=driver != "nd_bus")


def add_nd_bus(tree: TreeWriter, bus: BusSpec) -> None:
    """``ndbusN`` under its provider device, the ``nd/ndctlN`` class device
    (``dev``, ``device`` link, ``/sys/class/nd`` and ``/sys/dev/char`` links,
    ``/dev/ndctlN``) and the ``nd_bus`` binding."""
    kpath = bus.kpath
    parent = posixpath.dirname(kpath)
    if bus.nfit and not tree.exists(f"{parent}/hid"):
        add_acpi_nfit_device(tree, parent)
    add_device_dir(tree, kpath)
    tree.attr(f"{kpath}/commands", bus.commands)
    tree.attr(f"{kpath}/provider", bus.provider)
    # drivers/nvdimm/bus.c wait_probe_show: waits for probing to settle, then "1"
    tree.attr(f"{kpath}/wait_probe", 1)
    # the "firmware" attribute group: activate/capability only with firmware
    # activation ops (nvdimm_bus_firmware_visible), else an empty directory
    tree.mkdir(f"{kpath}/firmware")
    if bus.nfit:
        tree.mkdir(f"{kpath}/nfit")
        tree.attr(f"{kpath}/nfit/revision", 1)
        tree.attr(f"{kpath}/nfit/dsm_mask", "0x3bf" if "ars_cap" in bus.commands else "0x0")
        # drivers/acpi/nfit/core.c nfit_visible: scrub only with ARS; the
        # hw_error_scrub mode is always there, off (0) until written
        tree.attr(f"{kpath}/nfit/hw_error_scrub", 0, MODE_RW)
        if "ars_cap" in bus.commands:
            tree.attr(f"{kpath}/nfit/scrub", 0, MODE_RW)
    register_device(tree, "nd", bus.name, kpath)
    bind_driver(tree, "nd", "nd_bus", kpath)
    ctl = f"{kpath}/nd/ndctl{bus.id}"
    add_device_dir(tree, ctl, uevent=f"MAJOR={bus.major}\nMINOR={bus.minor}\nDEVNAME=ndctl{bus.id}")
    tree.symlink(f"{ctl}/device", kpath)
    add_char_device(tree, ctl, f"ndctl{bus.id}", bus.major, bus.minor)
    register_device(tree, "nd", f"ndctl{bus.id}", ctl, is_class=True)


def add_acpi_nfit_device(tree: TreeWriter, kpath: str) -> None:
    """The ACPI NVDIMM root device (``ACPI0012:00``) an NFIT bus hangs off:
    hid/path/modalias, on the acpi bus, bound to the ``nfit`` driver, with
    the ``physical_node`` link to its platform device."""
    add_device_dir(tree, kpath)
    tree.attr(f"{kpath}/hid", "ACPI0012")
    tree.attr(f"{kpath}/path", "\\_SB_.NVDR")
    tree.attr(f"{kpath}/modalias", "acpi:ACPI0012:")
    name = posixpath.basename(kpath)
    tree.mkdir("/sys/bus/acpi/drivers/nfit")
    register_device(tree, "acpi", name, kpath)
    bind_driver(tree, "acpi", "nfit", kpath)
    platform = f"/sys/devices/platform/{name}"
    add_device_dir(tree, platform)
    tree.symlink(f"{platform}/firmware_node", kpath)
    tree.symlink(f"{kpath}/physical_node", platform)


def add_dimm(tree: TreeWriter, dimm: DimmSpec) -> None:
    """``nmemN`` with its NFIT attributes, bound to ``nvdimm``.  ``state``
    starts idle; :func:`refresh_dimm_states` sets it once regions exist."""
    kpath = dimm.kpath
    add_device_dir(tree, kpath, uevent=f"MAJOR={dimm.major}\nMINOR={dimm.minor}\nDEVNAME=nmem{dimm.id}")
    add_char_device(tree, kpath, dimm.name, dimm.major, dimm.minor)
    tree.attr(f"{kpath}/commands", dimm.commands)
    tree.attr(f"{kpath}/state", "idle")
    tree.attr(f"{kpath}/available_slots", dimm.available_slots)
    if dimm.security != "none":
        # dimm_devs.c nvdimm_visible: security and frozen only with security ops
        tree.attr(f"{kpath}/security", dimm.security, MODE_RW)
        tree.attr(f"{kpath}/frozen", 0)
    # the "firmware" group: activate/result only with firmware ops
    tree.mkdir(f"{kpath}/firmware")
    tree.attr(f"{kpath}/flags", "label " if dimm.labeled else "")
    tree.attr(f"{kpath}/modalias", f"nd:t{ND_DEVICE_DIMM}")
    tree.attr(f"{kpath}/devtype", "nvdimm")
    nfit = f"{kpath}/nfit"
    tree.mkdir(nfit)
    tree.attrs(
        nfit,
        {
            "handle": f"{dimm.handle:#x}",
            "phys_id": f"{dimm.phys_id:#x}",
            "serial": f"0x{dimm.serial:08x}",
            "id": dimm.nfit_id,
            "vendor": f"0x{dimm.vendor:04x}",
            "device": f"0x{dimm.device:04x}",
            "rev_id": f"0x{dimm.rev_id:04x}",
            "subsystem_vendor": f"0x{dimm.subsystem_vendor:04x}",
            "subsystem_device": f"0x{dimm.subsystem_device:04x}",
            "subsystem_rev_id": f"0x{dimm.subsystem_rev_id:04x}",
            "format": f"0x{dimm.format:04x}",
            "formats": dimm.formats,
            "family": dimm.family,
            "dsm_mask": f"{dimm.dsm_mask:#x}",
            "flags": "",
        },
    )
    register_device(tree, "nd", dimm.name, kpath)
    bind_driver(tree, "nd", "nvdimm", kpath)


def set_dimm_state(tree: TreeWriter, dimm_kpath: str, active: bool) -> None:
    """``state``: "active" while nvdimm->busy, which init_active_labels
    (namespace_devs.c) raises for each enabled region mapping a DIMM that has
    driver data, and deactivate_labels drops when the region is disabled."""
    tree.attr(f"{dimm_kpath}/state", "active" if active else "idle")


def refresh_dimm_states(tree: TreeWriter, buses: Iterable[BusSpec]) -> None:
    """Recompute every DIMM's ``state`` from the regions bound to nd_region."""
    for bus in buses:
        for dimm in bus.dimms:
            if not tree.is_dir(dimm.kpath):
                continue
            active = dimm.has_driver_data and bound_driver(tree, dimm.kpath) is not None and any(
                bound_driver(tree, r.kpath) is not None and any(mp.dimm == dimm.name for mp in r.mappings)
                for r in bus.regions
            )
            set_dimm_state(tree, dimm.kpath, active)


def _nd_common(tree: TreeWriter, kpath: str, *, modalias: str, devtype: str, numa_node: int, target_node: int) -> None:
    add_device_dir(tree, kpath)
    tree.attr(f"{kpath}/modalias", modalias)
    tree.attr(f"{kpath}/devtype", devtype)
    tree.attr(f"{kpath}/numa_node", numa_node)
    tree.attr(f"{kpath}/target_node", target_node)


def add_region(tree: TreeWriter, region: RegionSpec) -> None:
    """``regionN`` with every attribute of kernel-abi.md §7.7; seeds and
    space are written by :func:`write_region_seeds` / :func:`set_region_space`."""
    kpath = region.kpath
    _nd_common(
        tree, kpath, modalias=f"nd:t{ND_DEVICE_REGION_PMEM}", devtype="nd_pmem",
        numa_node=region.numa_node, target_node=region.target_node,
    )
    tree.attr(f"{kpath}/size", region.size)
    tree.attr(f"{kpath}/align", f"{region.align:#x}", MODE_RW)
    tree.attr(f"{kpath}/nstype", region.nstype)
    tree.attr(f"{kpath}/mappings", len(region.mappings))
    for i, m in enumerate(region.mappings):
        tree.attr(f"{kpath}/mapping{i}", f"{m.dimm},{m.offset},{m.length},{m.position}")
    tree.attr(f"{kpath}/read_only", 1 if region.read_only else 0, MODE_RW)
    tree.attr(f"{kpath}/resource", f"{region.base:#x}", MODE_ROOT_RO)
    if region.set_cookie is not None:
        tree.attr(f"{kpath}/set_cookie", f"{region.set_cookie:#x}")
    if region.persistence_domain:
        tree.attr(f"{kpath}/persistence_domain", region.persistence_domain)
    if region.deep_flush is not None:
        # Writable only when the region has flush hints (region_visible).
        tree.attr(f"{kpath}/deep_flush", region.deep_flush, MODE_RW if region.deep_flush == 1 else MODE_RO)
    # badblocks_show prints one line per bad range: nothing at all when clean
    tree.write_bytes(f"{kpath}/badblocks", b"")
    tree.mkdir(f"{kpath}/nfit")
    tree.attr(f"{kpath}/nfit/range_index", region.range_index)
    active = sum(1 for ns in region.namespaces if not ns.seed and (ns.enabled or ns.holder_enabled))
    configured = sum(1 for ns in region.namespaces if not ns.seed)
    if region.labeled and configured == 0:
        # a labelled region with no labels yet registers one idle namespace
        # at probe and counts it (the real guest after `ndctl init-labels`: 1/1)
        active = configured = 1
    tree.attr(f"{kpath}/init_namespaces", f"{active}/{configured}")
    set_region_space(tree, region.kpath, region.available_size, region.max_available_extent)
    write_region_seeds(
        tree, kpath, namespace_seed=region.namespace_seed, pfn_seed=region.pfn_seed,
        dax_seed=region.dax_seed, btt_seed=region.btt_seed,
    )
    register_device(tree, "nd", region.name, kpath)
    if region.enabled:
        bind_driver(tree, "nd", "nd_region", kpath)


def set_region_space(
    tree: TreeWriter, region_kpath: str, available_size: Optional[int], max_available_extent: int
) -> None:
    """``available_size`` exists on labelled regions only (region_visible)."""
    if available_size is not None:
        tree.attr(f"{region_kpath}/available_size", available_size)
    tree.attr(f"{region_kpath}/max_available_extent", max_available_extent)


def write_region_seeds(
    tree: TreeWriter, region_kpath: str, *, namespace_seed: str, pfn_seed: str, dax_seed: str, btt_seed: str
) -> None:
    """Seed attributes hold a device name or an empty line."""
    for attr, value in (
        ("namespace_seed", namespace_seed),
        ("pfn_seed", pfn_seed),
        ("dax_seed", dax_seed),
        ("btt_seed", btt_seed),
    ):
        tree.attr(f"{region_kpath}/{attr}", value)


def format_size_select(selected: Optional[int], supported: Sequence[int]) -> str:
    """``512 [4096] `` style list: every value followed by a space, the
    selected one in brackets (nd_size_select_show); libndctl drops a last
    token without its trailing space."""
    return "".join(f"[{s}] " if s == selected else f"{s} " for s in supported)


def add_namespace(tree: TreeWriter, region: RegionSpec, ns: NamespaceSpec) -> None:
    """``namespaceR.N``: io namespaces expose only nstype, size (read-only),
    holder, holder_class, force_raw, mode and resource; labelled pmem ones add
    uuid, alt_name, sector_size, dpa_extents and a writable size."""
    kpath = ns.kpath
    _nd_common(
        tree, kpath, modalias=f"nd:t{ns.nstype}",
        devtype="nd_namespace_io" if ns.nstype == 4 else "nd_namespace_pmem",
        numa_node=ns.numa_node, target_node=ns.target_node,
    )
    tree.attr(f"{kpath}/nstype", ns.nstype)
    tree.attr(f"{kpath}/size", ns.size, MODE_RW if ns.nstype == 5 else MODE_RO)
    tree.attr(f"{kpath}/holder", ns.holder or "")
    tree.attr(f"{kpath}/holder_class", ns.holder_class, MODE_RW)
    tree.attr(f"{kpath}/force_raw", 0, MODE_RW)
    tree.attr(f"{kpath}/mode", namespace_mode_attr(ns))
    if ns.size and ns.resource is not None:
        # resource reads fail with ENXIO while the size is 0: leave it out.
        tree.attr(f"{kpath}/resource", f"{ns.resource:#x}", MODE_ROOT_RO)
    if ns.nstype == 5:
        tree.attr(f"{kpath}/uuid", ns.uuid or "", MODE_RW)
        tree.attr(f"{kpath}/alt_name", ns.alt_name, MODE_RW)
        tree.attr(f"{kpath}/sector_size", format_size_select(ns.sector_size, NAMESPACE_SECTOR_SIZES), MODE_RW)
        tree.attr(f"{kpath}/dpa_extents", len(region.mappings) if ns.size else 0)
    register_device(tree, "nd", ns.name, kpath)
    if ns.enabled:
        bind_driver(tree, "nd", "nd_pmem", kpath)


def namespace_mode_attr(ns: NamespaceSpec) -> str:
    """The namespace ``mode`` attribute: safe (btt), memory (pfn), dax, raw."""
    return {"sector": "safe", "fsdax": "memory", "devdax": "dax"}.get(ns.mode, "raw")


def remove_nd_device(tree: TreeWriter, kpath: str) -> None:
    unbind_driver(tree, "nd", kpath)
    unregister_device(tree, "nd", posixpath.basename(kpath))
    tree.remove(kpath)


def add_claim_seed(tree: TreeWriter, region: RegionSpec, name: str) -> None:
    """An idle pfn/dax/btt seed: no namespace, no uuid, no size/resource
    (those read ENXIO until the device is enabled)."""
    kind = re.sub(r"\d.*$", "", name)
    kpath = f"{region.kpath}/{name}"
    _write_claim_device(tree, region, kpath, kind, namespace="", uuid="", align=SUPPORTED_ALIGNMENTS[1],
                        mode="none", sector_size=None)
    register_device(tree, "nd", name, kpath)


def _write_claim_device(
    tree: TreeWriter,
    region: RegionSpec,
    kpath: str,
    kind: str,
    *,
    namespace: str,
    uuid: str,
    align: int,
    mode: str,
    sector_size: Optional[int],
) -> None:
    modalias = f"nd:t{ND_DEVICE_DAX_PMEM}" if kind == "dax" else f"nd:t{region.nstype}"
    _nd_common(
        tree, kpath, modalias=modalias, devtype=f"nd_{kind}",
        numa_node=region.numa_node, target_node=region.target_node,
    )
    tree.attr(f"{kpath}/uuid", uuid, MODE_RW)
    tree.attr(f"{kpath}/namespace", namespace, MODE_RW)
    if kind == "btt":
        tree.attr(f"{kpath}/sector_size", format_size_select(sector_size, layout.BTT_SECTOR_SIZES), MODE_RW)
        tree.attr(f"{kpath}/log_zero_flags", "Y")
    else:
        tree.attr(f"{kpath}/mode", mode, MODE_RW)
        tree.attr(f"{kpath}/align", align, MODE_RW)
        tree.attr(f"{kpath}/supported_alignments", format_size_select(None, SUPPORTED_ALIGNMENTS))


def add_claim(tree: TreeWriter, region: RegionSpec, ns: NamespaceSpec) -> None:
    """The pfn/dax/btt device that claims ``ns`` (fsdax/devdax/sector), with
    ``size``/``resource`` while enabled, bound to nd_pmem or dax_pmem."""
    if ns.holder is None or ns.holder_kpath is None:
        raise ValueError(f"{ns.name} is not claimed")
    kind = ns.holder_class
    kpath = ns.holder_kpath
    _write_claim_device(
        tree, region, kpath, kind, namespace=ns.name, uuid=ns.holder_uuid or "",
        align=ns.holder_align or SUPPORTED_ALIGNMENTS[1], mode=ns.holder_map or "pmem",
        sector_size=ns.btt_sector_size,
    )
    if ns.holder_enabled:
        tree.attr(f"{kpath}/size", ns.usable_size or 0)
        if kind != "btt" and ns.data_start is not None:
            tree.attr(f"{kpath}/resource", f"{ns.data_start:#x}", MODE_ROOT_RO)
    register_device(tree, "nd", ns.holder, kpath)
    if ns.holder_enabled:
        bind_driver(tree, "nd", "dax_pmem" if kind == "dax" else "nd_pmem", kpath)


#: Minors a disk allocated with blk_alloc_disk and no fixed range may use
#: (ext_range: DISK_MAX_PARTS).
DISK_MAX_PARTS = 256


def add_block_device(
    tree: TreeWriter,
    parent_kpath: str,
    name: str,
    major: int,
    minor: int,
    size_bytes: int,
    *,
    diskseq: int = 1,
    dax: bool = True,
) -> None:
    """``<parent>/block/<name>`` (pmem disk), ``/sys/block``, ``/sys/class/block``,
    ``/sys/dev/block`` links and the ``/dev`` block node.  The attributes are
    those of block/genhd.c disk_attrs for an idle, partition-less pmem disk;
    ``diskseq`` is the boot-wide disk sequence number (inc_diskseq)."""
    kpath = f"{parent_kpath}/block/{name}"
    add_device_dir(tree, kpath, uevent=f"MAJOR={major}\nMINOR={minor}\nDEVNAME={name}\nDEVTYPE=disk")
    tree.attr(f"{kpath}/dev", f"{major}:{minor}")
    tree.attr(f"{kpath}/size", size_bytes // SECTOR)
    tree.attr(f"{kpath}/ro", 0)
    tree.attr(f"{kpath}/removable", 0)
    tree.attr(f"{kpath}/range", 0)  # minors: 0 with extended devts (GENHD_FL_EXT_DEVT)
    tree.attr(f"{kpath}/ext_range", DISK_MAX_PARTS)
    tree.attr(f"{kpath}/hidden", 0)
    tree.attr(f"{kpath}/capability", 0)
    tree.attr(f"{kpath}/alignment_offset", 0)
    tree.attr(f"{kpath}/discard_alignment", 0)
    tree.attr(f"{kpath}/diskseq", diskseq)
    # disk_events: pmem reports no media events; the show functions print
    # nothing at all (no newline) and polling is "-1" (the default)
    tree.write_bytes(f"{kpath}/events", b"")
    tree.write_bytes(f"{kpath}/events_async", b"")
    tree.attr(f"{kpath}/events_poll_msecs", -1, MODE_RW)
    tree.write_bytes(f"{kpath}/badblocks", b"", MODE_RW)  # badblocks_show: one line per range
    tree.attr(f"{kpath}/inflight", f"{0:>8} {0:>8}")
    tree.attr(f"{kpath}/stat", " ".join(f"{0:>8}" for _ in range(17)))  # part_stat_show: 17 counters
    tree.mkdir(f"{kpath}/holders")
    tree.mkdir(f"{kpath}/slaves")
    if dax:
        # drivers/nvdimm/pmem.c: a pmem disk (raw or fsdax, not btt) has the
        # "dax" group with write_cache
        tree.mkdir(f"{kpath}/dax")
        tree.attr(f"{kpath}/dax/write_cache", 1, MODE_RW)
    bdi = f"/sys/devices/virtual/bdi/{major}:{minor}"
    tree.mkdir(bdi)
    tree.symlink(f"{kpath}/bdi", bdi)
    tree.mkdir(f"{kpath}/queue")
    tree.attr(f"{kpath}/queue/logical_block_size", 512)
    tree.attr(f"{kpath}/queue/dax", 1)
    tree.symlink(f"{kpath}/device", parent_kpath)
    tree.mkdir("/sys/block")
    tree.symlink(f"/sys/block/{name}", kpath)
    register_device(tree, "block", name, kpath, is_class=True)
    tree.mkdir("/sys/dev/block")
    tree.symlink(f"/sys/dev/block/{major}:{minor}", kpath)
    tree.devnode(f"/dev/{name}", "b", major, minor)


def remove_block_device(tree: TreeWriter, parent_kpath: str, name: str, major: int, minor: int) -> None:
    tree.remove(f"/sys/block/{name}")
    tree.remove(f"/sys/class/block/{name}")
    tree.remove(f"/sys/dev/block/{major}:{minor}")
    tree.remove_devnode(f"/dev/{name}")
    tree.remove(f"{parent_kpath}/block/{name}")
    tree.remove(f"/sys/devices/virtual/bdi/{major}:{minor}")
    tree.remove_if_empty(f"{parent_kpath}/block")
