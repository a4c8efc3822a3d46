"""What the nd subsystem of the simulated kernel reads and keeps up to date.

:class:`NdCommon` is the view of the nd bus in the tree that the write
handlers (:mod:`.attributes`, :mod:`.drivers`) and /proc/iomem
(:mod:`pmemctl.sim.kernel.iomem`) share: regions and their children, seeds,
namespace allocations and free space, claims, drivers, and the derived
attributes every change refreshes (region space, DIMM states, label slots).
"""

from __future__ import annotations

import errno
import posixpath
import re
from dataclasses import dataclass
from typing import Any, Optional

from pmemctl.sim import layout, objects
from pmemctl.sim.kernel.context import SimContext
from pmemctl.sim.kernel.errors import WriteRefused
from pmemctl.sim.kernel.state import forget_info_block, record_info_block
from pmemctl.sim.machine import RegionSpec
from pmemctl.sim.tree import TreeWriter
from pmemctl.sysfs import paths

MIN_NAMESPACE_SIZE = 16 * layout.MiB  # ND_MIN_NAMESPACE_SIZE
NSLABEL_NAME_LEN = 64
PMEM_LBASIZES = objects.NAMESPACE_SECTOR_SIZES
BTT_LBASIZES = layout.BTT_SECTOR_SIZES
CLAIM_KINDS = ("pfn", "dax", "btt")
#: a claimed namespace's ``mode`` attribute, by the kind of its holder
CLAIMED_NS_MODE = {"btt": "safe", "pfn": "memory", "dax": "dax"}

ND_DRIVER_FILE_RE = re.compile(r"^/sys/bus/nd/drivers/([^/]+)/(bind|unbind)$")
REGION_DIR_RE = re.compile(r"^(/sys/devices/.*/ndbus\d+/region(\d+))(?:/(.*))?$")
CHILD_RE = re.compile(r"^(namespace|pfn|dax|btt)(\d+)\.(\d+)$")


@dataclass(frozen=True)
class RegionInfo:
    kpath: str
    name: str
    id: int
    base: int
    size: int
    align: int
    nstype: int
    ways: int
    numa_node: int
    target_node: int
    static: Optional[RegionSpec]  # the machine description's region (static facts)

    @property
    def labelled(self) -> bool:
        return self.nstype == 5


class NdCommon:
    """The nd bus of one :class:`SimContext`: views and shared refreshes."""

    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx
        self.tree: TreeWriter = ctx.tree

    def refresh(self) -> None:
        """What follows every nd change outside the nd bus (/proc/iomem):
        the write handler (:class:`pmemctl.sim.kernel.nd.NdKernel`) does it."""
        raise NotImplementedError

    def read(self, kpath: str) -> Optional[str]:
        try:
            return self.tree.read(kpath)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    def plain(self, target: str, text: str) -> None:
        """What the door does for attributes nobody reacts to: store the value."""
        self.tree.write_bytes(target, (text + "\n").encode(), self.ctx.mode(target))

    def driver(self, kpath: str) -> Optional[str]:
        return objects.bound_driver(self.tree, kpath)

    def region(self, kpath: str) -> RegionInfo:
        static = next((r for r in self.ctx.machine.regions() if r.kpath == kpath), None)
        name = posixpath.basename(kpath)
        base_text = self.read(f"{kpath}/resource")
        base = int(base_text, 16) if base_text else (static.base if static else 0)
        return RegionInfo(
            kpath=kpath,
            name=name,
            id=int(name[len("region"):]),
            base=base,
            size=int(self.read(f"{kpath}/size") or 0),
            align=int(self.read(f"{kpath}/align") or "0x1000000", 16),
            nstype=int(self.read(f"{kpath}/nstype") or 5),
            ways=max(1, int(self.read(f"{kpath}/mappings") or 1)),
            numa_node=int(self.read(f"{kpath}/numa_node") or -1),
            target_node=int(self.read(f"{kpath}/target_node") or -1),
            static=static,
        )

    def region_for_objects(self, region: RegionInfo) -> RegionSpec:
        """A Region dataclass for the object functions (static facts only)."""
        if region.static is not None:
            return region.static
        raise WriteRefused(errno.ENXIO)

    def children(self, region: RegionInfo, kind: str) -> list[str]:
        """Names of ``kind`` devices (namespace/pfn/dax/btt) under the region, by id."""
        out = []
        for entry in self.tree.listdir(region.kpath):
            m = CHILD_RE.match(entry)
            if (m and m.group(1) == kind and int(m.group(2)) == region.id
                    and self.tree.is_dir(f"{region.kpath}/{entry}")):
                out.append((int(m.group(3)), entry))
        return [name for _, name in sorted(out)]

    def seed(self, region: RegionInfo, kind: str) -> str:
        return self.read(f"{region.kpath}/{kind}_seed") or ""

    def set_seed(self, region: RegionInfo, kind: str, name: str) -> None:
        self.tree.attr(f"{region.kpath}/{kind}_seed", name)

    def next_id(self, region: RegionInfo, kind: str) -> int:
        """Lowest free id (ida_simple_get on the region's per-kind IDA)."""
        used = {int(CHILD_RE.match(n).group(3)) for n in self.children(region, kind)}  # type: ignore[union-attr]
        i = 0
        while i in used:
            i += 1
        return i

    def allocations(self, region: RegionInfo, *, skip: str = "") -> list[tuple[int, int]]:
        """[start, end) of every namespace's allocation (size and resource)."""
        out = []
        for name in self.children(region, "namespace"):
            if name == skip:
                continue
            kp = f"{region.kpath}/{name}"
            size = int(self.read(f"{kp}/size") or 0)
            res = self.read(f"{kp}/resource")
            if size and res:
                out.append((int(res, 16), int(res, 16) + size))
        return sorted(out)

    def free_extents(self, region: RegionInfo, *, skip: str = "") -> list[tuple[int, int]]:
        if not region.labelled:
            return []
        cursor = region.base
        free = []
        for lo, hi in self.allocations(region, skip=skip):
            if lo > cursor:
                free.append((cursor, lo))
            cursor = max(cursor, hi)
        end = region.base + region.size
        if end > cursor:
            free.append((cursor, end))
        return free

    def refresh_space(self, region: RegionInfo) -> None:
        if not region.labelled:
            return
        free = self.free_extents(region)
        objects.set_region_space(
            self.tree, region.kpath, sum(hi - lo for lo, hi in free), max((hi - lo for lo, hi in free), default=0)
        )

    def ns_claim(self, ns_kpath: str) -> str:
        return self.read(f"{ns_kpath}/holder") or ""

    def ns_size(self, ns_kpath: str) -> int:
        return int(self.read(f"{ns_kpath}/size") or 0)

    def ns_resource(self, ns_kpath: str) -> Optional[int]:
        text = self.read(f"{ns_kpath}/resource")
        return int(text, 16) if text else None

    def ns_uuid(self, ns_kpath: str) -> str:
        return self.read(f"{ns_kpath}/uuid") or ""

    def busy(self, kpath: str) -> bool:
        """dev->driver || ndns->claim."""
        return self.driver(kpath) is not None or bool(self.ns_claim(kpath))

    def unregister(self, kpath: str) -> None:
        objects.remove_nd_device(self.tree, kpath)

    def supported_alignments(self, kp: str) -> tuple[int, ...]:
        text = self.read(f"{kp}/supported_alignments") or ""
        found = tuple(int(t.strip("[]")) for t in text.split() if t.strip("[]").isdigit())
        return found or objects.SUPPORTED_ALIGNMENTS

    def find_device(self, name: str) -> Optional[str]:
        link = f"{paths.ND_DEVICES}/{name}"
        if not name or "/" in name or not self.tree.exists(link):
            return None
        return self.tree.resolve_link(link)

    @staticmethod
    def kind_of(name: str) -> str:
        for prefix in ("namespace", "region", "ndbus", "nmem", "pfn", "dax", "btt"):
            if name.startswith(prefix):
                return prefix
        return ""

    def dax_children(self, kp: str) -> list[str]:
        return [e for e in self.tree.listdir(kp) if re.fullmatch(r"dax\d+\.\d+", e) and self.tree.is_dir(f"{kp}/{e}")]

    def dax_ranges(self, dev_kp: str) -> list[tuple[int, int]]:
        """(start, end inclusive) of each mappingN of a dax-bus device."""
        out = []
        for entry in sorted(self.tree.listdir(dev_kp)):
            if re.fullmatch(r"mapping\d+", entry):
                start = self.read(f"{dev_kp}/{entry}/start")
                end = self.read(f"{dev_kp}/{entry}/end")
                if start and end:
                    out.append((int(start, 16), int(end, 16)))
        if not out:
            res = self.read(f"{dev_kp}/resource")
            size = self.read(f"{dev_kp}/size")
            if res and size:
                out.append((int(res, 16), int(res, 16) + int(size) - 1))
        return out

    def refresh_dimm_states(self) -> None:
        objects.refresh_dimm_states(self.tree, self.ctx.machine.buses)

    def refresh_label_slots(self) -> None:
        """available_slots of DIMMs with a described label area: a labelled
        namespace with space holds one label on each DIMM of its set (written
        by the size/uuid stores, freed when the size goes to 0), and the
        kernel keeps one slot back (scenario._with_label_slots)."""
        for bus in self.ctx.machine.buses:
            for dimm in bus.dimms:
                if not dimm.label_area or not self.tree.is_dir(dimm.kpath):
                    continue
                used = 0
                for r in bus.regions:
                    if not any(mp.dimm == dimm.name for mp in r.mappings) or not self.tree.is_dir(r.kpath):
                        continue
                    info = self.region(r.kpath)
                    if info.labelled:
                        used += sum(1 for n in self.children(info, "namespace")
                                    if self.ns_size(f"{r.kpath}/{n}"))
                nslot = layout.label_slots(dimm.label_area, dimm.label_version if dimm.labeled else None)
                self.tree.attr(f"{dimm.kpath}/available_slots", max(nslot - used - 1, 0))

    def record_info_block(self, ns_kp: str, **info: Any) -> None:
        record_info_block(self.ctx.root, ns_kp, **info)

    def forget_info_block(self, ns_kp: str) -> None:
        forget_info_block(self.ctx.root, ns_kp)


__all__ = [
    "BTT_LBASIZES",
    "CHILD_RE",
    "CLAIMED_NS_MODE",
    "CLAIM_KINDS",
    "MIN_NAMESPACE_SIZE",
    "ND_DRIVER_FILE_RE",
    "NSLABEL_NAME_LEN",
    "NdCommon",
    "PMEM_LBASIZES",
    "REGION_DIR_RE",
    "RegionInfo",
]
