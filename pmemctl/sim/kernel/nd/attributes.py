"""Attribute stores on the nd bus (kernel-abi.md §5.2, §7.7).

Namespace attributes (labelled pmem, nstype 5): ``uuid``, ``alt_name``,
``size`` (space allocation, ``0`` deletes), ``sector_size``,
``holder_class``, ``force_raw``; label-less (io, nstype 4) namespaces only
have ``holder_class`` and ``force_raw`` writable.  pfn/dax/btt devices:
``uuid``, ``mode``, ``align``, ``sector_size`` (btt), ``namespace`` (claim
and release).  Region ``align``, ``read_only``, ``deep_flush``.
"""

from __future__ import annotations

import errno
import posixpath
import re
from typing import Optional

from pmemctl.sim import layout, objects
from pmemctl.sim.kernel.errors import WriteRefused, kstrtobool, kstrtoull, parse_uuid
from pmemctl.sim.kernel.nd.common import (
    BTT_LBASIZES,
    CHILD_RE,
    CLAIMED_NS_MODE,
    MIN_NAMESPACE_SIZE,
    NSLABEL_NAME_LEN,
    PMEM_LBASIZES,
    NdCommon,
    RegionInfo,
)
from pmemctl.sim.kernel.state import load_nd_state, save_nd_state
from pmemctl.sim.tree import MODE_ROOT_RO, MODE_RW


class NdAttributes(NdCommon):
    """The stores of region, namespace and pfn/dax/btt attributes."""

    def region_attr(self, region: RegionInfo, attr: str, target: str, text: str) -> None:
        if attr == "align":
            val = kstrtoull(text)
            dpa, rem = divmod(val, region.ways)
            if rem or dpa < layout.PAGE_SIZE or dpa & (dpa - 1) or val > region.size:
                raise WriteRefused(errno.EINVAL)
            self.tree.attr(target, f"{val:#x}", MODE_RW)
        elif attr == "read_only":
            self.tree.attr(target, 1 if kstrtobool(text) else 0, MODE_RW)
        elif attr == "deep_flush":
            if not kstrtobool(text):
                raise WriteRefused(errno.EINVAL)  # only "flush now" is accepted; the value stays
        else:
            self.plain(target, text)

    def namespace_attr(self, region: RegionInfo, kp: str, attr: str, target: str, text: str) -> None:
        nstype = int(self.read(f"{kp}/nstype") or region.nstype)
        if attr == "force_raw":
            self.tree.attr(target, 1 if kstrtobool(text) else 0, MODE_RW)
        elif attr == "holder_class":
            self._holder_class_store(kp, target, text)
        elif nstype != 5:
            self.plain(target, text)  # io namespaces: everything else is read-only (door: EACCES)
        elif attr == "uuid":
            self._ns_uuid_store(region, kp, target, text)
        elif attr == "alt_name":
            if self.busy(kp):
                raise WriteRefused(errno.EBUSY)
            name = text.strip()
            if len(name) + 1 > NSLABEL_NAME_LEN:
                raise WriteRefused(errno.EINVAL)
            self.tree.attr(target, name, MODE_RW)
        elif attr == "sector_size":
            if self.busy(kp):
                raise WriteRefused(errno.EBUSY)
            self._store_lbasize(target, text, PMEM_LBASIZES)
        elif attr == "size":
            self._ns_size_store(region, kp, text)
        else:
            self.plain(target, text)

    def _store_lbasize(self, target: str, text: str, sizes: tuple[int, ...]) -> None:
        """A sector_size store (kstrtoull, one of the sizes the device lists)."""
        lbasize = kstrtoull(text)
        if lbasize not in sizes:
            raise WriteRefused(errno.EINVAL)
        self.tree.attr(target, objects.format_size_select(lbasize, sizes), MODE_RW)

    def _holder_class_store(self, kp: str, target: str, text: str) -> None:
        if self.busy(kp):
            raise WriteRefused(errno.EBUSY)
        value = text.strip()
        if value not in ("btt", "pfn", "dax", ""):
            raise WriteRefused(errno.EINVAL)
        self.tree.attr(target, value, MODE_RW)

    def _ns_uuid_store(self, region: RegionInfo, kp: str, target: str, text: str) -> None:
        if self.ns_claim(kp) or self.driver(kp) is not None:
            raise WriteRefused(errno.EBUSY)
        new = parse_uuid(text)
        old = self.ns_uuid(kp)
        if new == old:
            return
        # nd_is_uuid_unique: no other namespace on the bus may carry it
        bus = region.kpath.rsplit("/", 1)[0]
        for entry in self.tree.listdir(bus):
            if not re.fullmatch(r"region\d+", entry):
                continue
            for child in self.tree.listdir(f"{bus}/{entry}"):
                ckp = f"{bus}/{entry}/{child}"
                if child.startswith("namespace") and ckp != kp and self.read(f"{ckp}/uuid") == new:
                    raise WriteRefused(errno.EINVAL)
        if old and not any(self.ns_size(f"{region.kpath}/{n}") for n in self.children(region, "namespace")):
            # namespace_update_uuid: renaming needs the region's labels (the
            # allocation is renamed in them); with none written yet -> EBUSY.
            # A labelled namespace with space can be renamed (ndctl -e does).
            raise WriteRefused(errno.EBUSY)
        self.tree.attr(target, new, MODE_RW)
        if old:
            state = load_nd_state(self.ctx.root)  # the info block names the namespace by its old uuid
            state.get("info_blocks", {}).pop(kp, None)
            save_nd_state(self.ctx.root, state)

    def _ns_size_store(self, region: RegionInfo, kp: str, text: str) -> None:
        val = kstrtoull(text)
        name = posixpath.basename(kp)
        if self.busy(kp):
            raise WriteRefused(errno.EBUSY)
        if not self.ns_uuid(kp):
            raise WriteRefused(errno.ENXIO)  # uuid_not_set: the label needs one
        self._require_dimms(region)
        if val % region.align:
            raise WriteRefused(errno.EINVAL)
        allocated = self.ns_size(kp)
        start = self.ns_resource(kp)
        free = self.free_extents(region, skip=name)
        if val != allocated:
            if val == 0:
                start = None
            elif allocated == 0 or start is None:
                start = next((lo for lo, hi in free if hi - lo >= val), None)
                if start is None:
                    raise WriteRefused(errno.ENOSPC)
            elif val > allocated:
                # grow in place: the space right after the extent must be free
                if not any(lo <= start and start + val <= hi for lo, hi in free):
                    raise WriteRefused(errno.ENOSPC)
            self._set_ns_allocation(region, kp, val, start)
        if val == 0:
            # setting size zero == "delete namespace": the uuid goes, and the
            # device too unless it is id 0 or the seed
            self.tree.attr(f"{kp}/uuid", "", MODE_RW)
            ns_id = int(CHILD_RE.match(name).group(3))  # type: ignore[union-attr]
            if allocated and ns_id != 0 and self.seed(region, "namespace") != name and not self.ns_claim(kp):
                self.unregister(kp)
            self.forget_info_block(kp)

    def _require_dimms(self, region: RegionInfo) -> None:
        """All DIMMs of the interleave set must be enabled to change sizes (ENXIO)."""
        if region.static is None:
            return
        bus = region.kpath.rsplit("/", 1)[0]
        for mapping in region.static.mappings:
            if self.driver(f"{bus}/{mapping.dimm}") is None:
                raise WriteRefused(errno.ENXIO)

    def _set_ns_allocation(self, region: RegionInfo, kp: str, size: int, start: Optional[int]) -> None:
        self.tree.attr(f"{kp}/size", size, MODE_RW)
        if size and start is not None:
            self.tree.attr(f"{kp}/resource", f"{start:#x}", MODE_ROOT_RO)
        else:
            self.tree.remove(f"{kp}/resource")  # reads ENXIO while the size is 0
        if self.tree.exists(f"{kp}/dpa_extents"):
            self.tree.attr(f"{kp}/dpa_extents", region.ways if size else 0)
        self.refresh_space(region)
        self.refresh_label_slots()

    def claim_attr(self, region: RegionInfo, kind: str, kp: str, attr: str, target: str, text: str) -> None:
        bound = self.driver(kp) is not None
        if attr == "uuid":
            if bound:
                raise WriteRefused(errno.EBUSY)
            self.tree.attr(target, parse_uuid(text), MODE_RW)
        elif attr == "mode" and kind != "btt":
            if bound:
                raise WriteRefused(errno.EBUSY)
            mode = text.strip()
            if mode not in ("pmem", "ram", "none"):
                raise WriteRefused(errno.EINVAL)
            self.tree.attr(target, mode, MODE_RW)
        elif attr == "align" and kind != "btt":
            if bound:
                raise WriteRefused(errno.EBUSY)
            align = kstrtoull(text)
            if align not in self.supported_alignments(kp):
                raise WriteRefused(errno.EINVAL)
            self.tree.attr(target, align, MODE_RW)
        elif attr == "sector_size" and kind == "btt":
            if bound:
                raise WriteRefused(errno.EBUSY)
            self._store_lbasize(target, text, BTT_LBASIZES)
        elif attr == "namespace":
            self._namespace_store(region, kind, kp, text)
        else:
            self.plain(target, text)

    def _namespace_store(self, region: RegionInfo, kind: str, kp: str, text: str) -> None:
        """nd_namespace_store: claim ``namespaceR.N`` or release with an empty write."""
        if self.driver(kp) is not None:
            raise WriteRefused(errno.EBUSY)  # "namespace already active"
        name = text.strip()
        if name and not name.startswith("namespace"):
            raise WriteRefused(errno.EINVAL)
        current = self.read(f"{kp}/namespace") or ""
        if not name:
            self._detach_and_reset(region, kind, kp, current)
            return
        if current:
            raise WriteRefused(errno.EBUSY)  # already set
        ns_kp = f"{region.kpath}/{name}"
        if not CHILD_RE.match(name) or not self.tree.is_dir(ns_kp):
            raise WriteRefused(errno.ENODEV)
        claim_class = self.read(f"{ns_kp}/holder_class") or ""
        if claim_class and claim_class != kind:
            raise WriteRefused(errno.EBUSY)
        if self.ns_size(ns_kp) < MIN_NAMESPACE_SIZE:
            raise WriteRefused(errno.ENXIO)  # too small to host
        if self.ns_claim(ns_kp):
            raise WriteRefused(errno.EBUSY)  # already claimed
        self.tree.attr(f"{kp}/namespace", name, MODE_RW)
        self.tree.attr(f"{ns_kp}/holder", posixpath.basename(kp))
        self.tree.attr(f"{ns_kp}/mode", CLAIMED_NS_MODE[kind])

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
        if self.seed(region, kind) != name and self.driver(kp) is None:
            self.unregister(kp)
            return
        self.tree.attr(f"{kp}/uuid", "", MODE_RW)
        if kind == "btt":
            self.tree.attr(f"{kp}/sector_size", objects.format_size_select(None, BTT_LBASIZES), MODE_RW)
        else:
            self.tree.attr(f"{kp}/mode", "none", MODE_RW)


__all__ = ["NdAttributes"]
