"""The simulated kernel's reactions to writes on the nd bus (libnvdimm, 6.x).

:class:`pmemctl.sim.kernel.SimulatedKernel` routes every write under an nd
bus device (``/sys/devices/.../ndbusN/...``) and to
``/sys/bus/nd/drivers/*/{bind,unbind}`` here (:func:`handler`).  What is
reproduced, with the kernel's errnos (kernel-abi.md §5, §7.7):

* namespace attributes (labelled pmem, nstype 5): ``uuid``, ``alt_name``,
  ``size`` (space allocation, ``0`` deletes), ``sector_size``,
  ``holder_class``, ``force_raw``; label-less (io, nstype 4) namespaces only
  have ``holder_class`` and ``force_raw`` writable;
* pfn/dax/btt devices: ``uuid``, ``mode``, ``align``, ``sector_size`` (btt),
  ``namespace`` (claim and release);
* region ``align``, ``read_only``, ``deep_flush``;
* enabling and disabling through the nd drivers' ``bind``/``unbind``
  (ndctl writes a device name to every driver's ``bind`` until one accepts
  it): raw/fsdax/sector namespaces get their block device, an nd dax device
  bound to ``dax_pmem`` gets its dax-bus device (named from the namespace,
  bound to device_dax), seeds advance, region space, ``/proc/iomem``;
* the DIMMs' ``state`` (active while an enabled region maps them) and, for
  DIMMs with a described label area, ``available_slots`` (one label per
  labelled namespace with space).

Not reproduced: initialising a label-less DIMM's labels.  Real ndctl does
that through ioctls on ``/dev/nmemN`` (ndctl's autolabel in create-namespace,
``ndctl init-labels``), which the FUSE bridge does not serve: the attempt
fails there (use ``--no-autolabel``), and the labelled state is built by the
scenario instead (``qemu-nvdimm`` devdax/system-ram stages).

Where the truth lives: the tree.  A namespace's allocation is its ``size``
and ``resource`` (the kernel keeps it in the DIMM labels; nothing else in
sysfs shows it), seeds are the region's ``*_seed`` attributes, claims are
``holder``/``namespace``, enabled means a ``driver`` link.  The static facts
(region base, mappings, nodes) come from the machine description.  The only
simulator-only state is ``.pmemctl-sim/nd-state.json``: the info blocks the
simulated drivers wrote on the namespaces' media (kind, uuid, mode, align,
sector size).  Enabling a namespace raw (without ``force_raw``) finds them
again and brings the fsdax/devdax/sector personality back, as the kernel
does; deleting the namespace (size 0) forgets them, and so does ndctl
zeroing the info block through the FUSE bridge's stand-in ``/dev/pmemX``
(:mod:`pmemctl.sim.fuse`).

Simplifications (documented in the tests): one contiguous extent per
namespace, allocated first-fit from the region start and grown in place; a
region or DIMM is disabled only when nothing under it is enabled, and its
children stay registered meanwhile (the kernel unregisters them and
re-creates them from the labels on enable).
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import posixpath
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional

from pmemctl.sim import layout, objects
from pmemctl.sim.kernel import _KernelSays
from pmemctl.sim.machine import DaxDeviceSpec, DaxMappingSpec, DaxRegionSpec, IomemEntrySpec, NamespaceSpec, RegionSpec
from pmemctl.sim.tree import MODE_ROOT_RO, MODE_RW, TreeWriter
from pmemctl.sysfs import paths

if TYPE_CHECKING:  # pragma: no cover
    from pmemctl.sim.kernel import SimulatedKernel

STATE_FILE = "nd-state.json"
MIN_NAMESPACE_SIZE = 16 * layout.MiB  # ND_MIN_NAMESPACE_SIZE
NSLABEL_NAME_LEN = 64
PMEM_LBASIZES = objects.NAMESPACE_SECTOR_SIZES
BTT_LBASIZES = layout.BTT_SECTOR_SIZES
CLAIM_KINDS = ("pfn", "dax", "btt")

_ND_DRIVER_FILE = re.compile(r"^/sys/bus/nd/drivers/([^/]+)/(bind|unbind)$")
_REGION_DIR = re.compile(r"^(/sys/devices/.*/ndbus\d+/region(\d+))(?:/(.*))?$")
_CHILD = re.compile(r"^(namespace|pfn|dax|btt)(\d+)\.(\d+)$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def handler(kernel: "SimulatedKernel") -> Callable[[str, str], None]:
    """The write handler :meth:`SimulatedKernel._handler_for` returns for nd targets."""
    return NdKernel(kernel).write


def handles(target: str) -> bool:
    """True for the writes this module answers (the kernel.py routing test)."""
    return bool(_ND_DRIVER_FILE.match(target)) or (target.startswith("/sys/devices/") and "/ndbus" in target)


# =============================================================================
# kernel string parsing
# =============================================================================


def kstrtoull(text: str) -> int:
    """lib/kstrtox.c with base 0: ``0x`` hex, leading ``0`` octal, else
    decimal; one leading ``+``; nothing else (the door already dropped one
    trailing newline).  EINVAL on garbage, ERANGE above 2**64-1."""
    s = text[1:] if text.startswith("+") else text
    if s[:2] in ("0x", "0X"):
        digits, base = s[2:], 16
    elif s.startswith("0") and len(s) > 1:
        digits, base = s[1:], 8
    else:
        digits, base = s, 10
    allowed = {16: "0123456789abcdefABCDEF", 8: "01234567", 10: "0123456789"}[base]
    if not digits or any(c not in allowed for c in digits):
        raise _KernelSays(errno.EINVAL)
    value = int(digits, base)
    if value >= 1 << 64:
        raise _KernelSays(errno.ERANGE)
    return value


def kstrtobool(text: str) -> bool:
    """lib/kstrtox.c kstrtobool: first character decides (``on``/``off``)."""
    t = text.lower()
    if t[:1] in ("y", "1", "t"):
        return True
    if t[:1] in ("n", "0", "f"):
        return False
    if t[:2] == "on":
        return True
    if t[:2] == "of":
        return False
    raise _KernelSays(errno.EINVAL)


def parse_uuid(text: str) -> str:
    """uuid_parse (5.16+): the canonical 36-character form, lowercased on
    show; anything after the 36 characters is ignored (uuid_is_valid only
    looks at those)."""
    m = _UUID.match(text.strip())
    if m is None:
        raise _KernelSays(errno.EINVAL)
    return m.group(0).lower()


def _strim(text: str) -> str:
    return text.strip()


# =============================================================================
# views of the tree
# =============================================================================


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


class NdKernel:
    """One write's worth of nd reactions over a :class:`SimulatedKernel`."""

    def __init__(self, kernel: "SimulatedKernel") -> None:
        self.k = kernel
        self.tree: TreeWriter = kernel.tree

    # ------------------------------------------------------------ small io

    def _read(self, kpath: str) -> Optional[str]:
        try:
            return self.tree.read(kpath)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    def _plain(self, target: str, text: str) -> None:
        """What the door does for attributes nobody reacts to: store the value."""
        self.tree.write_bytes(target, (text + "\n").encode(), self.k._mode(target))

    def _driver(self, kpath: str) -> Optional[str]:
        return objects.bound_driver(self.tree, kpath)

    # ------------------------------------------------------------- dispatch

    def write(self, target: str, text: str) -> None:
        ensure_state(self.k.root)  # the media as built, before the first change
        m = _ND_DRIVER_FILE.match(target)
        if m:
            self._driver_write(m.group(1), m.group(2), text)
            return
        m = _REGION_DIR.match(target)
        if m is None or m.group(3) is None:
            self._plain(target, text)
            return
        region = self.region(m.group(1))
        rest = m.group(3)
        if "/" not in rest:
            self._region_attr(region, rest, target, text)
            return
        dev, attr = rest.split("/", 1)
        cm = _CHILD.match(dev)
        if cm is None or "/" in attr or int(cm.group(2)) != region.id:
            self._plain(target, text)  # dax-bus devices, block devices, power/ ...
            return
        kind = cm.group(1)
        dev_kpath = f"{region.kpath}/{dev}"
        if kind == "namespace":
            self._namespace_attr(region, dev_kpath, attr, target, text)
        else:
            self._claim_attr(region, kind, dev_kpath, attr, target, text)
        self.refresh()

    # --------------------------------------------------------------- regions

    def region(self, kpath: str) -> RegionInfo:
        static = next((r for r in self.k.machine.regions() if r.kpath == kpath), None)
        name = posixpath.basename(kpath)
        base_text = self._read(f"{kpath}/resource")
        base = int(base_text, 16) if base_text else (static.base if static else 0)
        return RegionInfo(
            kpath=kpath,
            name=name,
            id=int(name[len("region"):]),
            base=base,
            size=int(self._read(f"{kpath}/size") or 0),
            align=int(self._read(f"{kpath}/align") or "0x1000000", 16),
            nstype=int(self._read(f"{kpath}/nstype") or 5),
            ways=max(1, int(self._read(f"{kpath}/mappings") or 1)),
            numa_node=int(self._read(f"{kpath}/numa_node") or -1),
            target_node=int(self._read(f"{kpath}/target_node") or -1),
            static=static,
        )

    def _region_for_objects(self, region: RegionInfo) -> RegionSpec:
        """A Region dataclass for the object functions (static facts only)."""
        if region.static is not None:
            return region.static
        raise _KernelSays(errno.ENXIO)

    def _region_attr(self, region: RegionInfo, attr: str, target: str, text: str) -> None:
        if attr == "align":
            val = kstrtoull(text)
            dpa, rem = divmod(val, region.ways)
            if rem or dpa < layout.PAGE_SIZE or dpa & (dpa - 1) or val > region.size:
                raise _KernelSays(errno.EINVAL)
            self.tree.attr(target, f"{val:#x}", MODE_RW)
        elif attr == "read_only":
            self.tree.attr(target, 1 if kstrtobool(text) else 0, MODE_RW)
        elif attr == "deep_flush":
            if not kstrtobool(text):
                raise _KernelSays(errno.EINVAL)  # only "flush now" is accepted; the value stays
        else:
            self._plain(target, text)

    def children(self, region: RegionInfo, kind: str) -> list[str]:
        """Names of ``kind`` devices (namespace/pfn/dax/btt) under the region, by id."""
        out = []
        for entry in self.tree.listdir(region.kpath):
            m = _CHILD.match(entry)
            if m and m.group(1) == kind and int(m.group(2)) == region.id and self.tree.is_dir(f"{region.kpath}/{entry}"):
                out.append((int(m.group(3)), entry))
        return [name for _, name in sorted(out)]

    def seed(self, region: RegionInfo, kind: str) -> str:
        return self._read(f"{region.kpath}/{kind}_seed") or ""

    def _set_seed(self, region: RegionInfo, kind: str, name: str) -> None:
        self.tree.attr(f"{region.kpath}/{kind}_seed", name)

    def _next_id(self, region: RegionInfo, kind: str) -> int:
        """Lowest free id (ida_simple_get on the region's per-kind IDA)."""
        used = {int(_CHILD.match(n).group(3)) for n in self.children(region, kind)}  # type: ignore[union-attr]
        i = 0
        while i in used:
            i += 1
        return i

    # --------------------------------------------------------------- space

    def allocations(self, region: RegionInfo, *, skip: str = "") -> list[tuple[int, int]]:
        """[start, end) of every namespace's allocation (size and resource)."""
        out = []
        for name in self.children(region, "namespace"):
            if name == skip:
                continue
            kp = f"{region.kpath}/{name}"
            size = int(self._read(f"{kp}/size") or 0)
            res = self._read(f"{kp}/resource")
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

    def _refresh_space(self, region: RegionInfo) -> None:
        if not region.labelled:
            return
        free = self.free_extents(region)
        objects.set_region_space(
            self.tree, region.kpath, sum(hi - lo for lo, hi in free), max((hi - lo for lo, hi in free), default=0)
        )

    # ============================================================ namespaces

    def _ns_claim(self, ns_kpath: str) -> str:
        return self._read(f"{ns_kpath}/holder") or ""

    def _ns_size(self, ns_kpath: str) -> int:
        return int(self._read(f"{ns_kpath}/size") or 0)

    def _ns_resource(self, ns_kpath: str) -> Optional[int]:
        text = self._read(f"{ns_kpath}/resource")
        return int(text, 16) if text else None

    def _ns_uuid(self, ns_kpath: str) -> str:
        return self._read(f"{ns_kpath}/uuid") or ""

    def _busy(self, kpath: str) -> bool:
        """dev->driver || ndns->claim."""
        return self._driver(kpath) is not None or bool(self._ns_claim(kpath))

    def _namespace_attr(self, region: RegionInfo, kp: str, attr: str, target: str, text: str) -> None:
        nstype = int(self._read(f"{kp}/nstype") or region.nstype)
        if attr == "force_raw":
            self.tree.attr(target, 1 if kstrtobool(text) else 0, MODE_RW)
        elif attr == "holder_class":
            self._holder_class_store(kp, target, text)
        elif nstype != 5:
            self._plain(target, text)  # io namespaces: everything else is read-only (door: EACCES)
        elif attr == "uuid":
            self._ns_uuid_store(region, kp, target, text)
        elif attr == "alt_name":
            if self._busy(kp):
                raise _KernelSays(errno.EBUSY)
            name = _strim(text)
            if len(name) + 1 > NSLABEL_NAME_LEN:
                raise _KernelSays(errno.EINVAL)
            self.tree.attr(target, name, MODE_RW)
        elif attr == "sector_size":
            if self._busy(kp):
                raise _KernelSays(errno.EBUSY)
            lbasize = kstrtoull(text)
            if lbasize not in PMEM_LBASIZES:
                raise _KernelSays(errno.EINVAL)
            self.tree.attr(target, objects.format_size_select(lbasize, PMEM_LBASIZES), MODE_RW)
        elif attr == "size":
            self._ns_size_store(region, kp, text)
        else:
            self._plain(target, text)

    def _holder_class_store(self, kp: str, target: str, text: str) -> None:
        if self._busy(kp):
            raise _KernelSays(errno.EBUSY)
        value = _strim(text)
        if value not in ("btt", "pfn", "dax", ""):
            raise _KernelSays(errno.EINVAL)
        self.tree.attr(target, value, MODE_RW)

    def _ns_uuid_store(self, region: RegionInfo, kp: str, target: str, text: str) -> None:
        if self._ns_claim(kp) or self._driver(kp) is not None:
            raise _KernelSays(errno.EBUSY)
        new = parse_uuid(text)
        old = self._ns_uuid(kp)
        if new == old:
            return
        # nd_is_uuid_unique: no other namespace on the bus may carry it
        bus = region.kpath.rsplit("/", 1)[0]
        for entry in self.tree.listdir(bus):
            if not re.fullmatch(r"region\d+", entry):
                continue
            for child in self.tree.listdir(f"{bus}/{entry}"):
                ckp = f"{bus}/{entry}/{child}"
                if child.startswith("namespace") and ckp != kp and self._read(f"{ckp}/uuid") == new:
                    raise _KernelSays(errno.EINVAL)
        if old and not any(self._ns_size(f"{region.kpath}/{n}") for n in self.children(region, "namespace")):
            # namespace_update_uuid: renaming needs the region's labels (the
            # allocation is renamed in them); with none written yet -> EBUSY.
            # A labelled namespace with space can be renamed (ndctl -e does).
            raise _KernelSays(errno.EBUSY)
        self.tree.attr(target, new, MODE_RW)
        if old:
            state = load_state(self.k.root)  # the info block names the namespace by its old uuid
            state.get("info_blocks", {}).pop(kp, None)
            save_state(self.k.root, state)

    def _ns_size_store(self, region: RegionInfo, kp: str, text: str) -> None:
        val = kstrtoull(text)
        name = posixpath.basename(kp)
        if self._busy(kp):
            raise _KernelSays(errno.EBUSY)
        if not self._ns_uuid(kp):
            raise _KernelSays(errno.ENXIO)  # uuid_not_set: the label needs one
        self._require_dimms(region)
        if val % region.align:
            raise _KernelSays(errno.EINVAL)
        allocated = self._ns_size(kp)
        start = self._ns_resource(kp)
        free = self.free_extents(region, skip=name)
        if val != allocated:
            if val == 0:
                start = None
            elif allocated == 0 or start is None:
                start = next((lo for lo, hi in free if hi - lo >= val), None)
                if start is None:
                    raise _KernelSays(errno.ENOSPC)
            elif val > allocated:
                # grow in place: the space right after the extent must be free
                if not any(lo <= start and start + val <= hi for lo, hi in free):
                    raise _KernelSays(errno.ENOSPC)
            self._set_ns_allocation(region, kp, val, start)
        if val == 0:
            # setting size zero == "delete namespace": the uuid goes, and the
            # device too unless it is id 0 or the seed
            self.tree.attr(f"{kp}/uuid", "", MODE_RW)
            ns_id = int(_CHILD.match(name).group(3))  # type: ignore[union-attr]
            if allocated and ns_id != 0 and self.seed(region, "namespace") != name and not self._ns_claim(kp):
                self._unregister(kp)
            self._forget_info_block(kp)

    def _require_dimms(self, region: RegionInfo) -> None:
        """All DIMMs of the interleave set must be enabled to change sizes (ENXIO)."""
        if region.static is None:
            return
        bus = region.kpath.rsplit("/", 1)[0]
        for mapping in region.static.mappings:
            if self._driver(f"{bus}/{mapping.dimm}") is None:
                raise _KernelSays(errno.ENXIO)

    def _set_ns_allocation(self, region: RegionInfo, kp: str, size: int, start: Optional[int]) -> None:
        self.tree.attr(f"{kp}/size", size, MODE_RW)
        if size and start is not None:
            self.tree.attr(f"{kp}/resource", f"{start:#x}", MODE_ROOT_RO)
        else:
            self.tree.remove(f"{kp}/resource")  # reads ENXIO while the size is 0
        if self.tree.exists(f"{kp}/dpa_extents"):
            self.tree.attr(f"{kp}/dpa_extents", region.ways if size else 0)
        self._refresh_space(region)
        self._refresh_label_slots()

    def _unregister(self, kpath: str) -> None:
        objects.remove_nd_device(self.tree, kpath)

    # ======================================================== pfn / dax / btt

    def _claim_attr(self, region: RegionInfo, kind: str, kp: str, attr: str, target: str, text: str) -> None:
        bound = self._driver(kp) is not None
        if attr == "uuid":
            if bound:
                raise _KernelSays(errno.EBUSY)
            self.tree.attr(target, parse_uuid(text), MODE_RW)
        elif attr == "mode" and kind != "btt":
            if bound:
                raise _KernelSays(errno.EBUSY)
            mode = _strim(text)
            if mode not in ("pmem", "ram", "none"):
                raise _KernelSays(errno.EINVAL)
            self.tree.attr(target, mode, MODE_RW)
        elif attr == "align" and kind != "btt":
            if bound:
                raise _KernelSays(errno.EBUSY)
            align = kstrtoull(text)
            if align not in self._supported_alignments(kp):
                raise _KernelSays(errno.EINVAL)
            self.tree.attr(target, align, MODE_RW)
        elif attr == "sector_size" and kind == "btt":
            if bound:
                raise _KernelSays(errno.EBUSY)
            lbasize = kstrtoull(text)
            if lbasize not in BTT_LBASIZES:
                raise _KernelSays(errno.EINVAL)
            self.tree.attr(target, objects.format_size_select(lbasize, BTT_LBASIZES), MODE_RW)
        elif attr == "namespace":
            self._namespace_store(region, kind, kp, text)
        else:
            self._plain(target, text)

    def _supported_alignments(self, kp: str) -> tuple[int, ...]:
        text = self._read(f"{kp}/supported_alignments") or ""
        found = tuple(int(t.strip("[]")) for t in text.split() if t.strip("[]").isdigit())
        return found or objects.SUPPORTED_ALIGNMENTS

    def _namespace_store(self, region: RegionInfo, kind: str, kp: str, text: str) -> None:
        """nd_namespace_store: claim ``namespaceR.N`` or release with an empty write."""
        if self._driver(kp) is not None:
            raise _KernelSays(errno.EBUSY)  # "namespace already active"
        name = _strim(text)
        if name and not name.startswith("namespace"):
            raise _KernelSays(errno.EINVAL)
        current = self._read(f"{kp}/namespace") or ""
        if not name:
            self._detach_and_reset(region, kind, kp, current)
            return
        if current:
            raise _KernelSays(errno.EBUSY)  # already set
        ns_kp = f"{region.kpath}/{name}"
        if not _CHILD.match(name) or not self.tree.is_dir(ns_kp):
            raise _KernelSays(errno.ENODEV)
        claim_class = self._read(f"{ns_kp}/holder_class") or ""
        if claim_class and claim_class != kind:
            raise _KernelSays(errno.EBUSY)
        if self._ns_size(ns_kp) < MIN_NAMESPACE_SIZE:
            raise _KernelSays(errno.ENXIO)  # too small to host
        if self._ns_claim(ns_kp):
            raise _KernelSays(errno.EBUSY)  # already claimed
        self.tree.attr(f"{kp}/namespace", name, MODE_RW)
        self.tree.attr(f"{ns_kp}/holder", posixpath.basename(kp))
        self.tree.attr(f"{ns_kp}/mode", {"btt": "safe", "pfn": "memory", "dax": "dax"}[kind])

    def _detach_and_reset(self, region: RegionInfo, kind: str, kp: str, ns_name: str) -> None:
        """Release the namespace; an idle non-seed device is unregistered, a
        seed is reset (uuid cleared, mode none / lbasize unset)."""
        if ns_name:
            ns_kp = f"{region.kpath}/{ns_name}"
            if self.tree.is_dir(ns_kp):
                self.tree.attr(f"{ns_kp}/holder", "")
                self.tree.attr(f"{ns_kp}/mode", "raw")
            self.tree.attr(f"{kp}/namespace", "", MODE_RW)
        name = posixpath.basename(kp)
        if self.seed(region, kind) != name and self._driver(kp) is None:
            self._unregister(kp)
            return
        self.tree.attr(f"{kp}/uuid", "", MODE_RW)
        if kind == "btt":
            self.tree.attr(f"{kp}/sector_size", objects.format_size_select(None, BTT_LBASIZES), MODE_RW)
        else:
            self.tree.attr(f"{kp}/mode", "none", MODE_RW)

    # =============================================================== drivers

    def _find_device(self, name: str) -> Optional[str]:
        link = f"{paths.ND_DEVICES}/{name}"
        if not name or "/" in name or not self.tree.exists(link):
            return None
        return self.tree.resolve_link(link)

    @staticmethod
    def _kind_of(name: str) -> str:
        for prefix in ("namespace", "region", "ndbus", "nmem", "pfn", "dax", "btt"):
            if name.startswith(prefix):
                return prefix
        return ""

    _DRIVER_ACCEPTS = {
        "nd_pmem": ("namespace", "pfn", "btt"),
        "dax_pmem": ("dax",),
        "nd_region": ("region",),
        "nvdimm": ("nmem",),
        "nd_bus": ("ndbus",),
    }

    def _driver_write(self, driver: str, op: str, text: str) -> None:
        name = _strim(text)
        kp = self._find_device(name)
        if kp is None:
            raise _KernelSays(errno.ENODEV)  # bus_find_device_by_name found nothing
        kind = self._kind_of(name)
        bound = self._driver(kp)
        if op == "unbind":
            if bound != driver:
                raise _KernelSays(errno.ENODEV)
            self._remove(kind, kp)
            self.refresh()
            return
        if kind not in self._DRIVER_ACCEPTS.get(driver, ()):
            raise _KernelSays(errno.ENODEV)  # driver_match_device failed
        if bound is not None:
            raise _KernelSays(errno.EBUSY)
        self.k.faults.check_bind(driver, name)
        self._probe(driver, kind, kp)
        self.refresh()

    # -- probe -------------------------------------------------------------

    def _probe(self, driver: str, kind: str, kp: str) -> None:
        if kind in ("nmem", "ndbus"):
            objects.bind_driver(self.tree, "nd", driver, kp)
            self._refresh_dimm_states()
            return
        if kind == "region":
            objects.bind_driver(self.tree, "nd", driver, kp)
            self._refresh_dimm_states()  # init_active_labels: the DIMMs become busy
            self._enable_children(self.region(kp))
            return
        region = self.region(posixpath.dirname(kp))
        if self._driver(region.kpath) is None:
            raise _KernelSays(errno.ENODEV)  # children of a disabled region are not registered
        if kind == "namespace":
            self._probe_raw(region, kp)
        else:
            self._probe_claim(region, kind, kp)

    def _common_probe(self, region: RegionInfo, kind: str, kp: str) -> str:
        """nvdimm_namespace_common_probe: the namespace ``kp`` (or the one it
        claims) if it may be enabled, else the kernel's errno."""
        if kind == "namespace":
            ns_kp = kp
            if self._ns_claim(ns_kp):
                raise _KernelSays(errno.ENXIO)  # claimed by a pfn/dax/btt
        else:
            ns_name = self._read(f"{kp}/namespace") or ""
            if not ns_name:
                raise _KernelSays(errno.ENODEV)
            ns_kp = f"{region.kpath}/{ns_name}"
            if self._driver(ns_kp) is not None:
                raise _KernelSays(errno.EBUSY)  # the raw personality is active
        if self._ns_size(ns_kp) < MIN_NAMESPACE_SIZE:
            raise _KernelSays(errno.ENODEV)
        if int(self._read(f"{ns_kp}/nstype") or 5) == 5 and not self._ns_uuid(ns_kp):
            raise _KernelSays(errno.ENODEV)
        return ns_kp

    def _probe_raw(self, region: RegionInfo, kp: str) -> None:
        self._common_probe(region, "namespace", kp)
        self._detect_info_block(region, kp)
        size = self._ns_size(kp)
        objects.bind_driver(self.tree, "nd", "nd_pmem", kp)
        self._add_disk(kp, self._disk_name(kp, ""), size)
        self._advance_seeds(region, "namespace", kp, kp)

    def _probe_claim(self, region: RegionInfo, kind: str, kp: str) -> None:
        ns_kp = self._common_probe(region, kind, kp)
        start = self._ns_resource(ns_kp)
        ns_size = self._ns_size(ns_kp)
        if start is None:
            raise _KernelSays(errno.ENXIO)
        uuid = self._read(f"{kp}/uuid") or ""
        if not uuid:
            raise _KernelSays(errno.ENODEV)  # nvdimm_setup_pfn / attach_btt: no uuid
        if kind == "btt":
            lbasize = _selected(self._read(f"{kp}/sector_size") or "")
            if lbasize is None:
                raise _KernelSays(errno.ENODEV)  # lbasize unset
            usable = layout.btt_usable_size(ns_size, lbasize)
            if usable <= 0:
                raise _KernelSays(errno.ENXIO)
            objects.bind_driver(self.tree, "nd", "nd_pmem", kp)
            self.tree.attr(f"{kp}/size", usable)
            self._add_disk(kp, self._disk_name(ns_kp, "s"), usable, dax=False)
            self._record_info_block(ns_kp, kind="btt", uuid=uuid, sector_size=lbasize)
        else:
            mode = self._read(f"{kp}/mode") or "none"
            if mode not in ("pmem", "ram"):
                raise _KernelSays(errno.ENXIO)  # nd_pfn_init: PFN_MODE_NONE
            align = int(self._read(f"{kp}/align") or objects.SUPPORTED_ALIGNMENTS[1])
            map_location = "dev" if mode == "pmem" else "mem"
            offset, trunc = layout.pfn_reservation(start, ns_size, align, map_location)
            usable = ns_size - offset - trunc
            if offset >= ns_size or usable <= 0:
                raise _KernelSays(errno.ENXIO)
            data_start = start + offset
            if kind == "dax":
                self._add_dax(region, kp, ns_kp, data_start, usable, align)
                objects.bind_driver(self.tree, "nd", "dax_pmem", kp)
            else:
                objects.bind_driver(self.tree, "nd", "nd_pmem", kp)
                self._add_disk(kp, self._disk_name(ns_kp, ""), usable)
            self.tree.attr(f"{kp}/size", usable)
            self.tree.attr(f"{kp}/resource", f"{data_start:#x}", MODE_ROOT_RO)
            self._record_info_block(ns_kp, kind=kind, uuid=uuid, mode=mode, align=align, data_offset=offset,
                                    end_trunc=trunc)
        self._advance_seeds(region, kind, kp, ns_kp)

    def _detect_info_block(self, region: RegionInfo, ns_kp: str) -> None:
        """nd_pmem_probe on a namespace: unless ``force_raw``, an info block on
        the media (nd_btt_probe / nd_pfn_probe / nd_dax_probe) makes the kernel
        register a new btt/pfn/dax device claiming the namespace (lowest free
        id, settings read from the info block), which its driver then probes;
        the raw probe itself fails with ENXIO.  This is how ``ndctl
        enable-namespace`` and ``enable-region`` bring fsdax/devdax/sector
        namespaces back after ndctl released their claim on disable."""
        if (self._read(f"{ns_kp}/force_raw") or "0") == "1":
            return
        info = info_block(self.k.root, ns_kp)
        if not info:
            return
        kind = str(info.get("kind", ""))
        claim_class = self._read(f"{ns_kp}/holder_class") or ""
        if kind not in CLAIM_KINDS or claim_class not in ("", kind):
            return
        name = f"{kind}{region.id}.{self._next_id(region, kind)}"
        dev_kp = f"{region.kpath}/{name}"
        objects.add_claim_seed(self.tree, self._region_for_objects(region), name)
        self.tree.attr(f"{dev_kp}/uuid", info.get("uuid", ""), MODE_RW)
        if kind == "btt":
            self.tree.attr(f"{dev_kp}/sector_size",
                           objects.format_size_select(info.get("sector_size"), BTT_LBASIZES), MODE_RW)
        else:
            self.tree.attr(f"{dev_kp}/mode", info.get("mode", "pmem"), MODE_RW)
            self.tree.attr(f"{dev_kp}/align", info.get("align", objects.SUPPORTED_ALIGNMENTS[1]), MODE_RW)
        self.tree.attr(f"{dev_kp}/namespace", posixpath.basename(ns_kp), MODE_RW)
        self.tree.attr(f"{ns_kp}/holder", name)
        self.tree.attr(f"{ns_kp}/mode", {"btt": "safe", "pfn": "memory", "dax": "dax"}[kind])
        try:
            self._probe_claim(region, kind, dev_kp)
        except _KernelSays:
            pass  # the new device stays registered, unbound (probe errors are logged only)
        raise _KernelSays(errno.ENXIO)

    def _enable_children(self, region: RegionInfo) -> None:
        """nd_region_probe registers the region's namespaces and the bus probes
        each: configured namespaces come back (through their claim device when
        they still have one, else raw, with info-block detection)."""
        for name in self.children(region, "namespace"):
            kp = f"{region.kpath}/{name}"
            if self._ns_size(kp) == 0 or self._driver(kp) is not None:
                continue
            holder = self._ns_claim(kp)
            try:
                if holder:
                    hkp = f"{region.kpath}/{holder}"
                    if self._driver(hkp) is None:
                        self._probe_claim(region, self._kind_of(holder), hkp)
                else:
                    self._probe_raw(region, kp)
            except _KernelSays:
                continue

    def _advance_seeds(self, region: RegionInfo, kind: str, dev_kp: str, ns_kp: str) -> None:
        """nd_region_notify_driver_action on a successful probe: a seed that
        got used is replaced by a new idle one (lowest free id)."""
        reg = self._region_for_objects(region)
        if kind != "namespace" and self.seed(region, kind) == posixpath.basename(dev_kp):
            new = f"{kind}{region.id}.{self._next_id(region, kind)}"
            objects.add_claim_seed(self.tree, reg, new)
            self._set_seed(region, kind, new)
        if region.labelled and self.seed(region, "namespace") == posixpath.basename(ns_kp):
            ns_id = self._next_id(region, "namespace")
            name = f"namespace{region.id}.{ns_id}"
            seed = NamespaceSpec(
                name=name, id=ns_id, region=region.name, kpath=f"{region.kpath}/{name}", mode="raw", seed=True,
                nstype=region.nstype, size=0, resource=None, uuid=None, alt_name="", sector_size=None,
                enabled=False, numa_node=region.numa_node, target_node=region.target_node,
            )
            objects.add_namespace(self.tree, reg, seed)
            self._set_seed(region, "namespace", name)

    # -- block devices -------------------------------------------------------

    @staticmethod
    def _disk_name(ns_kp: str, suffix: str) -> str:
        """nvdimm_namespace_disk_name: ``pmemR`` for id 0, else ``pmemR.N``;
        ``s`` for a btt."""
        m = _CHILD.match(posixpath.basename(ns_kp))
        assert m is not None
        region_id, ns_id = int(m.group(2)), int(m.group(3))
        return (f"pmem{region_id}" if ns_id == 0 else f"pmem{region_id}.{ns_id}") + suffix

    def _free_minor(self, major: int, dev_type: str) -> int:
        used = {n.minor for n in self.tree.devnodes() if n.major == major and n.type == dev_type}
        minor = 0
        while minor in used:
            minor += 1
        return minor

    def _add_disk(self, parent_kp: str, name: str, size: int, *, dax: bool = True) -> None:
        minor = self._free_minor(objects.BLKEXT_MAJOR, "b")
        objects.add_block_device(self.tree, parent_kp, name, objects.BLKEXT_MAJOR, minor, size,
                                 diskseq=self._next_diskseq(), dax=dax)

    def _next_diskseq(self) -> int:
        """inc_diskseq: a boot-wide counter, never reused (kept in nd-state.json;
        a tree without it continues after the highest number it shows)."""
        state = load_state(self.k.root)
        last = state.get("diskseq")
        if last is None:
            last = 0
            for disk in self.tree.listdir("/sys/class/block"):
                text = self._read(f"/sys/class/block/{disk}/diskseq")
                if text and text.isdigit():
                    last = max(last, int(text))
        state["diskseq"] = int(last) + 1
        save_state(self.k.root, state)
        return int(last) + 1

    def _remove_disks(self, parent_kp: str) -> None:
        for name in self.tree.listdir(f"{parent_kp}/block"):
            dev = self._read(f"{parent_kp}/block/{name}/dev") or ""
            major, _, minor = dev.partition(":")
            if major.isdigit() and minor.isdigit():
                objects.remove_block_device(self.tree, parent_kp, name, int(major), int(minor))
            else:
                self.tree.remove(f"{parent_kp}/block/{name}")
        self.tree.remove_if_empty(f"{parent_kp}/block")

    # -- the dax-bus device of an nd dax ----------------------------------------

    def _add_dax(self, region: RegionInfo, kp: str, ns_kp: str, data_start: int, usable: int, align: int) -> None:
        m = _CHILD.match(posixpath.basename(ns_kp))
        assert m is not None
        name = f"dax{m.group(2)}.{m.group(3)}"  # named from the namespace (kernel-abi.md §9.7)
        if self.tree.exists(f"{paths.DAX_DEVICES}/{name}"):
            raise _KernelSays(errno.EBUSY)  # a device of that name is still registered
        objects.add_dax_region_attrs(
            self.tree,
            DaxRegionSpec(id=region.id, kpath=kp, source="nvdimm", start=data_start, size=usable, align=align,
                      dynamic=False, available_size=0, seed=""),
        )
        dev = DaxDeviceSpec(
            name=name, region_id=region.id, kpath=f"{kp}/{name}", region_kpath=kp, source="nvdimm", size=usable,
            align=align, target_node=region.target_node, numa_node=region.numa_node, driver="device_dax",
            mappings=(DaxMappingSpec(start=data_start, end=data_start + usable - 1, page_offset=0),),
            major=objects.DAX_MAJOR, minor=self._free_minor(objects.DAX_MAJOR, "c"),
            namespace=posixpath.basename(ns_kp),
        )
        from pmemctl.sim.build import _kernel_at_least

        memmap = False if _kernel_at_least(self.k.machine.kernel_release, (6, 8)) else None
        objects.add_dax_device(self.tree, dev, dynamic=False, memmap_on_memory=memmap)

    def _dax_children(self, kp: str) -> list[str]:
        return [e for e in self.tree.listdir(kp) if re.fullmatch(r"dax\d+\.\d+", e) and self.tree.is_dir(f"{kp}/{e}")]

    def _remove_dax(self, kp: str) -> None:
        """dax_pmem remove: the dax-bus device goes (its driver first).

        An unbind cannot fail: with memory kmem still has online, kmem's
        remove leaves it ("cannot be hotremoved until the next reboot"), the
        blocks stay online with no device, and the dax device goes anyway --
        what the real 6.1 guest did (tests/vm, the namespaces boot, step
        w-unbind-dax-pmem).  pmemctl never writes this: it offlines first."""
        children = self._dax_children(kp)
        for name in children:
            dev_kp = f"{kp}/{name}"
            driver = self._driver(dev_kp)
            if driver == "kmem":
                self.k._remove("kmem", name, dev_kp, self.k._load_state())
            elif driver is not None:
                objects.unbind_driver(self.tree, "dax", dev_kp)
            dev = self._read(f"{dev_kp}/dev") or ""
            major, _, minor = dev.partition(":")
            objects.unregister_device(self.tree, "dax", name)
            if major.isdigit() and minor.isdigit():
                objects.remove_char_device(self.tree, name, int(major), int(minor))
            self.tree.remove(dev_kp)
        self.tree.remove(f"{kp}/dax_region")

    def _dax_ranges(self, dev_kp: str) -> list[tuple[int, int]]:
        """(start, end inclusive) of each mappingN of a dax-bus device."""
        out = []
        for entry in sorted(self.tree.listdir(dev_kp)):
            if re.fullmatch(r"mapping\d+", entry):
                start = self._read(f"{dev_kp}/{entry}/start")
                end = self._read(f"{dev_kp}/{entry}/end")
                if start and end:
                    out.append((int(start, 16), int(end, 16)))
        if not out:
            res = self._read(f"{dev_kp}/resource")
            size = self._read(f"{dev_kp}/size")
            if res and size:
                out.append((int(res, 16), int(res, 16) + int(size) - 1))
        return out

    # -- remove (unbind) ---------------------------------------------------------

    def _remove(self, kind: str, kp: str) -> None:
        if kind == "region":
            if any(self._driver(f"{kp}/{c}") for c in self.tree.listdir(kp) if _CHILD.match(c)):
                raise _KernelSays(errno.EBUSY)  # simplification: disable what is under it first
            objects.unbind_driver(self.tree, "nd", kp)
            self._refresh_dimm_states()  # deactivate_labels: the DIMMs go idle
            return
        if kind == "nmem":
            bus = posixpath.dirname(kp)
            name = posixpath.basename(kp)
            for r in self.k.machine.regions():
                if r.kpath.startswith(bus + "/") and any(mp.dimm == name for mp in r.mappings) and self._driver(r.kpath):
                    raise _KernelSays(errno.EBUSY)  # an enabled region uses it
            objects.unbind_driver(self.tree, "nd", kp)
            self._refresh_dimm_states()
            return
        if kind == "ndbus":
            raise _KernelSays(errno.EBUSY)  # not simulated: it would tear down every region
        if kind == "dax":
            self._remove_dax(kp)
        else:
            self._remove_disks(kp)
        if kind != "namespace":
            # size and resource read ENXIO again once disabled
            self.tree.remove(f"{kp}/size")
            self.tree.remove(f"{kp}/resource")
        objects.unbind_driver(self.tree, "nd", kp)

    # =============================================================== state

    def _record_info_block(self, ns_kp: str, **info: Any) -> None:
        state = load_state(self.k.root)
        state.setdefault("info_blocks", {})[ns_kp] = info
        save_state(self.k.root, state)

    def _forget_info_block(self, ns_kp: str) -> None:
        forget_info_block(self.k.root, ns_kp)

    def _refresh_dimm_states(self) -> None:
        objects.refresh_dimm_states(self.tree, self.k.machine.buses)

    def _refresh_label_slots(self) -> None:
        """available_slots of DIMMs with a described label area: a labelled
        namespace with space holds one label on each DIMM of its set (written
        by the size/uuid stores, freed when the size goes to 0), and the
        kernel keeps one slot back (scenario._with_label_slots)."""
        for bus in self.k.machine.buses:
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
                                    if self._ns_size(f"{r.kpath}/{n}"))
                nslot = layout.label_slots(dimm.label_area, dimm.label_version if dimm.labeled else None)
                self.tree.attr(f"{dimm.kpath}/available_slots", max(nslot - used - 1, 0))

    # =============================================================== iomem

    def refresh(self) -> None:
        refresh_iomem(self.k)


# =============================================================================
# simulator-only state: the info blocks on the (simulated) media
# =============================================================================


def _state_path(root: str | os.PathLike[str]) -> str:
    from pmemctl.sim.tree import MARKER_DIR

    return os.path.join(os.fspath(root), MARKER_DIR, STATE_FILE)


def load_state(root: str | os.PathLike[str]) -> dict[str, Any]:
    """``.pmemctl-sim/nd-state.json``: ``info_blocks`` maps a namespace's
    kernel path to the pfn/dax/btt info block its media carries (what the
    kernel reads back when the namespace is enabled again)."""
    try:
        with open(_state_path(root)) as fh:
            return dict(json.load(fh))
    except FileNotFoundError:
        return {"info_blocks": _info_blocks_of_tree(root)}


def _info_blocks_of_tree(root: str | os.PathLike[str]) -> dict[str, Any]:
    """A tree as materialised: every namespace claimed by a pfn/dax/btt has
    that device's info block on its media."""
    tree = TreeWriter(root)
    out: dict[str, Any] = {}
    for name in tree.listdir(paths.ND_DEVICES):
        m = _CHILD.match(name)
        if m is None or m.group(1) == "namespace":
            continue
        kp = tree.resolve_link(f"{paths.ND_DEVICES}/{name}")
        if kp is None:
            continue

        def read(attr: str, kp: str = kp) -> str:
            try:
                return tree.read(f"{kp}/{attr}")
            except OSError:
                return ""

        ns = read("namespace")
        uuid = read("uuid")
        if not ns or not uuid:
            continue
        info: dict[str, Any] = {"kind": m.group(1), "uuid": uuid}
        if m.group(1) == "btt":
            info["sector_size"] = _selected(read("sector_size"))
        else:
            info["mode"] = read("mode") or "pmem"
            info["align"] = int(read("align") or objects.SUPPORTED_ALIGNMENTS[1])
        out[f"{posixpath.dirname(kp)}/{ns}"] = info
    return out


def ensure_state(root: str | os.PathLike[str]) -> None:
    """Write nd-state.json from the tree if it does not exist yet."""
    if not os.path.exists(_state_path(root)):
        save_state(root, load_state(root))


def save_state(root: str | os.PathLike[str], state: dict[str, Any]) -> None:
    path = _state_path(root)
    with open(path + ".tmp", "w") as fh:
        json.dump(state, fh, indent=1, sort_keys=True)
    os.replace(path + ".tmp", path)


def info_block(root: str | os.PathLike[str], ns_kpath: str) -> Optional[dict[str, Any]]:
    found = load_state(root).get("info_blocks", {}).get(ns_kpath)
    return dict(found) if found else None


def forget_info_block(root: str | os.PathLike[str], ns_kpath: str) -> None:
    """The info block was zeroed (ndctl writes zeros over the first 8 KiB of
    the raw block device) or the namespace's space was freed."""
    state = load_state(root)
    if state.get("info_blocks", {}).pop(ns_kpath, None) is not None:
        save_state(root, state)


def _selected(text: str) -> Optional[int]:
    for token in text.split():
        if token.startswith("[") and token.endswith("]"):
            return int(token[1:-1])
    return None


# =============================================================================
# /proc/iomem from the tree as it is now
# =============================================================================


def current_machine(kernel: "SimulatedKernel") -> Any:
    """The machine description with its namespaces and dax devices replaced
    by what the tree holds now (for /proc/iomem)."""
    m = kernel.machine
    tree = kernel.tree
    nd = NdKernel(kernel)

    def read(kpath: str) -> Optional[str]:
        return nd._read(kpath)

    devices: list[DaxDeviceSpec] = []
    static_by_name = {d.name: d for d in m.dax_devices}
    bs = kernel.block_size
    for name in tree.listdir(paths.DAX_DEVICES):
        link = f"{paths.DAX_DEVICES}/{name}"
        kp = tree.resolve_link(link)
        if kp is None or not tree.is_dir(kp):
            continue
        ranges = nd._dax_ranges(kp)
        driver = objects.bound_driver(tree, kp)
        hotplug = tuple(r for s, e in ranges if (r := layout.kmem_hotplug_range(s, e, bs)) is not None)
        static = static_by_name.get(name)
        if static is not None and static.kpath == kp:
            devices.append(dataclasses.replace(static, driver=driver, hotplug_ranges=hotplug))
            continue
        devices.append(
            DaxDeviceSpec(
                name=name, region_id=int(read(f"{posixpath.dirname(kp)}/dax_region/id") or 0), kpath=kp,
                region_kpath=posixpath.dirname(kp), source="nvdimm", size=int(read(f"{kp}/size") or 0),
                align=int(read(f"{kp}/align") or 0), target_node=int(read(f"{kp}/target_node") or -1),
                numa_node=int(read(f"{kp}/numa_node") or -1), driver=driver,
                mappings=tuple(DaxMappingSpec(s, e, 0) for s, e in ranges), major=0, minor=0,
                hotplug_ranges=hotplug,
            )
        )
    buses = []
    for bus in m.buses:
        regions = []
        for region in bus.regions:
            if not tree.is_dir(region.kpath):
                regions.append(region)
                continue
            info = nd.region(region.kpath)
            namespaces = []
            for ns_name in nd.children(info, "namespace"):
                kp = f"{region.kpath}/{ns_name}"
                size = nd._ns_size(kp)
                res = nd._ns_resource(kp)
                holder = nd._ns_claim(kp)
                hkp = f"{region.kpath}/{holder}" if holder else None
                holder_enabled = bool(hkp and objects.bound_driver(tree, hkp))
                data = read(f"{hkp}/resource") if hkp and holder_enabled else None
                dax_children = nd._dax_children(hkp) if hkp and holder.startswith("dax") else []
                namespaces.append(
                    NamespaceSpec(
                        name=ns_name, id=int(ns_name.rsplit(".", 1)[1]), region=region.name, kpath=kp,
                        mode={"dax": "devdax", "pfn": "fsdax", "btt": "sector"}.get(re.sub(r"\d.*", "", holder), "raw"),
                        seed=size == 0, nstype=region.nstype, size=size, resource=res, uuid=None, alt_name="",
                        sector_size=None, enabled=objects.bound_driver(tree, kp) is not None,
                        numa_node=region.numa_node, target_node=region.target_node, holder=holder or None,
                        holder_kpath=hkp, holder_enabled=holder_enabled,
                        data_start=int(data, 16) if data else None,
                        dax_device=dax_children[0] if dax_children else None,
                    )
                )
            regions.append(dataclasses.replace(region, namespaces=tuple(namespaces)))
        buses.append(dataclasses.replace(bus, regions=tuple(regions)))
    # ranges kmem could not remove stay claimed while no kmem instance holds
    # them again (they cannot be re-probed until reboot)
    held = {d.name for d in devices if d.driver == "kmem"}
    stranded = tuple((str(n), int(lo), int(hi)) for n, lo, hi in kernel._load_state().get("stranded_kmem", [])
                     if n not in held)
    return dataclasses.replace(m, buses=tuple(buses), dax_devices=tuple(devices), stranded_kmem=stranded)


def iomem_entries(kernel: "SimulatedKernel") -> list[IomemEntrySpec]:
    """Every /proc/iomem resource of the machine as the tree has it now."""
    from pmemctl.sim.build import iomem_entries as build_entries

    return build_entries(current_machine(kernel))


def refresh_iomem(kernel: "SimulatedKernel") -> None:
    """Rewrite /proc/iomem from the tree (namespaces created or destroyed,
    dax devices added, kmem claims).  SimulatedKernel._refresh_iomem can
    call this instead of its machine-description version."""
    objects.write_proc_iomem(kernel.tree, iomem_entries(kernel))


__all__ = [
    "NdKernel",
    "current_machine",
    "forget_info_block",
    "info_block",
    "load_state",
    "save_state",
    "handler",
    "handles",
    "iomem_entries",
    "kstrtobool",
    "kstrtoull",
    "parse_uuid",
    "refresh_iomem",
]
