"""The one namespace reader: a namespace's sysfs attributes -> a Namespace record.

Used by discovery (every namespace of the snapshot) and by the namespace
steps' live checks (one namespace, read again before and after a step).
Formats: kernel-abi.md §7.7 and Documentation/ABI/testing/sysfs-bus-nd.
"""

from __future__ import annotations

import os
from typing import Optional

from pmemctl.errors import BadAttribute, PmemctlError
from pmemctl.model.attrs import bus_of, enabled, node_id, opt, opt_int, opt_str
from pmemctl.model.records import Namespace, NamespaceMode
from pmemctl.sysfs import abi, paths
from pmemctl.sysfs.door import SysfsRoot

_MODE_OF = {"devdax": NamespaceMode.DEVDAX, "fsdax": NamespaceMode.FSDAX, "sector": NamespaceMode.SECTOR}


def first_block_device(door: SysfsRoot, dev_path: str) -> Optional[str]:
    names = sorted(door.listdir(dev_path + "/block"))
    return names[0] if names else None


def dax_child(door: SysfsRoot, nd_dax_path: str) -> Optional[str]:
    """The dax-bus device under an nd dax device (regionR/daxR.M/daxR.N)."""
    for entry in sorted(door.listdir(nd_dax_path)):
        if abi.DAX_DEVICE_RE.match(entry) and door.is_dir(f"{nd_dax_path}/{entry}"):
            return entry
    return None


def read_namespace(
    door: SysfsRoot, name: str, npath: str, region_path: str, owner: Optional[dict[str, str]] = None
) -> Namespace:
    """Read namespace ``name`` at kernel path ``npath`` in ``region_path``.

    ``owner`` (discovery): filled with nd dax device path -> namespace name.
    """
    size = opt_int(door, npath + "/size")
    if size is None:
        raise BadAttribute(npath + "/size", "", "a namespace size (attribute missing)")
    holder = opt_str(door, npath + "/holder")
    mode = NamespaceMode.RAW
    usable: Optional[int] = None
    holder_uuid: Optional[str] = None
    align: Optional[int] = None
    blockdev: Optional[str] = None
    dax_device: Optional[str] = None
    sector_size: Optional[int] = None
    is_enabled = enabled(door, npath)
    personality = abi.personality_of_holder(holder) if holder else None
    if holder:
        hpath = f"{region_path}/{holder}"
        holder_uuid = opt_str(door, hpath + "/uuid")
        usable = opt_int(door, hpath + "/size")
        is_enabled = enabled(door, hpath)
    if holder and personality is not None:
        mode = _MODE_OF[personality.mode]
        if mode in (NamespaceMode.DEVDAX, NamespaceMode.FSDAX):
            align = opt_int(door, hpath + "/align")
        if mode == NamespaceMode.DEVDAX:
            dax_device = dax_child(door, hpath)
            if owner is not None:
                owner[hpath] = name
        else:
            blockdev = first_block_device(door, hpath)
        if mode == NamespaceMode.SECTOR:
            # btt sector_size lists the supported sizes with the selected one in
            # brackets, like the namespace's (drivers/nvdimm/btt_devs.c,
            # nd_size_select_show): "512 520 528 [4096] 4104 4160 4224".
            sector_size = opt(door, hpath + "/sector_size", abi.parse_selected, "sizes like '512 [4096]'")
    elif not holder:
        # mode attribute: raw, or "memory" for a raw namespace with struct pages
        # (kernel-abi.md §7.7); fsdax without a pfn holder is only legacy e820.
        kmode = opt_str(door, npath + "/mode")
        if kmode == "memory" and door.listdir(npath + "/block"):
            mode = NamespaceMode.FSDAX
        blockdev = first_block_device(door, npath)
    if sector_size is None and mode != NamespaceMode.DEVDAX:
        text = door.read_optional(npath + "/sector_size")
        sector_size = abi.parse_selected(text) if text else None
    return Namespace(
        name=name,
        path=npath,
        region=region_path.rsplit("/", 1)[-1],
        bus=bus_of(npath),
        mode=mode,
        size=size,
        usable_size=usable,
        uuid=abi.label_uuid(opt_str(door, npath + "/uuid")),
        holder_uuid=holder_uuid,
        alt_name=opt_str(door, npath + "/alt_name"),
        holder=holder,
        blockdev=blockdev,
        sector_size=sector_size,
        align=align,
        enabled=is_enabled,
        resource=opt_int(door, npath + "/resource"),
        numa_node=node_id(opt_int(door, npath + "/numa_node")),
        target_node=node_id(opt_int(door, npath + "/target_node")),
        nstype=opt_int(door, npath + "/nstype"),
        dax_device=dax_device,
    )


def read_namespace_now(door: SysfsRoot, name: str) -> Optional[Namespace]:
    """Namespace ``name`` as the kernel shows it now, or None when it does not
    exist (``/sys/bus/nd/devices/NAME``, or no ``size`` attribute)."""
    link = f"{paths.ND_DEVICES}/{name}"
    if not door.exists(link):
        return None
    try:
        npath = door.resolve(link)
    except PmemctlError:
        npath = link
    try:
        return read_namespace(door, name, npath, os.path.dirname(npath))
    except BadAttribute:
        return None


def find_by_uuid(door: SysfsRoot, region: str, uuid: str) -> Optional[str]:
    """The namespace of ``region`` whose (label) uuid is ``uuid``, if any."""
    prefix = f"namespace{region[len('region'):]}."
    for entry in sorted(door.listdir(paths.ND_DEVICES)):
        if not entry.startswith(prefix):
            continue
        text = (door.read_optional(f"{paths.ND_DEVICES}/{entry}/uuid") or "").strip().lower()
        if text == uuid.lower():
            return entry
    return None
