"""Enabling and disabling on the nd bus: the nd drivers' ``bind``/``unbind``.

ndctl writes a device name to every nd driver's ``bind`` until one accepts
it.  Raw/fsdax/sector namespaces get their block device, an nd dax device
bound to ``dax_pmem`` gets its dax-bus device (named from the namespace,
bound to device_dax), seeds advance, and the DIMMs' ``state`` follows the
regions.  Enabling a namespace raw (without ``force_raw``) finds the info
block on its media (:mod:`pmemctl.sim.kernel.state`) and brings the
fsdax/devdax/sector personality back, as the kernel does.  Unbinding
``dax_pmem`` under memory kmem still has online leaves it stranded
(:meth:`pmemctl.sim.kernel.dax.DaxDrivers.remove`).
"""

from __future__ import annotations

import errno
import posixpath

from pmemctl.sim import layout, objects
from pmemctl.sim.kernel.dax import DaxDrivers
from pmemctl.sim.kernel.dax_state import UNPLUGGED, add_state_file
from pmemctl.sim.kernel.errors import WriteRefused
from pmemctl.sim.kernel.nd.common import (
    BTT_LBASIZES,
    CHILD_RE,
    CLAIM_KINDS,
    CLAIMED_NS_MODE,
    MIN_NAMESPACE_SIZE,
    NdCommon,
    RegionInfo,
)
from pmemctl.sim.kernel.state import info_block, load_nd_state, save_nd_state
from pmemctl.sim.kernels import profile_for_release
from pmemctl.sim.machine import DaxDeviceSpec, DaxMappingSpec, DaxRegionSpec, NamespaceSpec
from pmemctl.sim.objects import kernel_attrs
from pmemctl.sim.tree import MODE_ROOT_RO, MODE_RW
from pmemctl.sysfs import abi, paths


class NdDrivers(NdCommon):
    """bind/unbind of nd_bus, nvdimm, nd_region, nd_pmem and dax_pmem."""

    #: the dax subsystem (kmem's remove when dax_pmem takes a device away)
    dax: DaxDrivers

    _DRIVER_ACCEPTS = {
        "nd_pmem": ("namespace", "pfn", "btt"),
        "dax_pmem": ("dax",),
        "nd_region": ("region",),
        "nvdimm": ("nmem",),
        "nd_bus": ("ndbus",),
    }

    def driver_write(self, driver: str, op: str, text: str) -> None:
        name = text.strip()
        kp = self.find_device(name)
        if kp is None:
            raise WriteRefused(errno.ENODEV)  # bus_find_device_by_name found nothing
        kind = self.kind_of(name)
        bound = self.driver(kp)
        if op == "unbind":
            if bound != driver:
                raise WriteRefused(errno.ENODEV)
            self.remove(kind, kp)
            self.refresh()
            return
        if kind not in self._DRIVER_ACCEPTS.get(driver, ()):
            raise WriteRefused(errno.ENODEV)  # driver_match_device failed
        if bound is not None:
            raise WriteRefused(errno.EBUSY)
        self.ctx.faults.check_bind(driver, name)
        self._probe(driver, kind, kp)
        self.refresh()

    def _probe(self, driver: str, kind: str, kp: str) -> None:
        if kind in ("nmem", "ndbus"):
            objects.bind_driver(self.tree, "nd", driver, kp)
            self.refresh_dimm_states()
            return
        if kind == "region":
            objects.bind_driver(self.tree, "nd", driver, kp)
            self.refresh_dimm_states()  # init_active_labels: the DIMMs become busy
            self._enable_children(self.region(kp))
            return
        region = self.region(posixpath.dirname(kp))
        if self.driver(region.kpath) is None:
            raise WriteRefused(errno.ENODEV)  # children of a disabled region are not registered
        if kind == "namespace":
            self._probe_raw(region, kp)
        else:
            self._probe_claim(region, kind, kp)

    def _common_probe(self, region: RegionInfo, kind: str, kp: str) -> str:
        """nvdimm_namespace_common_probe: the namespace ``kp`` (or the one it
        claims) if it may be enabled, else the kernel's errno."""
        if kind == "namespace":
            ns_kp = kp
            if self.ns_claim(ns_kp):
                raise WriteRefused(errno.ENXIO)  # claimed by a pfn/dax/btt
        else:
            ns_name = self.read(f"{kp}/namespace") or ""
            if not ns_name:
                raise WriteRefused(errno.ENODEV)
            ns_kp = f"{region.kpath}/{ns_name}"
            if self.driver(ns_kp) is not None:
                raise WriteRefused(errno.EBUSY)  # the raw personality is active
        if self.ns_size(ns_kp) < MIN_NAMESPACE_SIZE:
            raise WriteRefused(errno.ENODEV)
        if int(self.read(f"{ns_kp}/nstype") or 5) == 5 and not self.ns_uuid(ns_kp):
            raise WriteRefused(errno.ENODEV)
        return ns_kp

    def _probe_raw(self, region: RegionInfo, kp: str) -> None:
        self._common_probe(region, "namespace", kp)
        self._detect_info_block(region, kp)
        size = self.ns_size(kp)
        objects.bind_driver(self.tree, "nd", "nd_pmem", kp)
        self._add_disk(kp, self._disk_name(kp, ""), size)
        self._advance_seeds(region, "namespace", kp, kp)

    def _probe_claim(self, region: RegionInfo, kind: str, kp: str) -> None:
        ns_kp = self._common_probe(region, kind, kp)
        start = self.ns_resource(ns_kp)
        ns_size = self.ns_size(ns_kp)
        if start is None:
            raise WriteRefused(errno.ENXIO)
        uuid = self.read(f"{kp}/uuid") or ""
        if not uuid:
            raise WriteRefused(errno.ENODEV)  # nvdimm_setup_pfn / attach_btt: no uuid
        if kind == "btt":
            lbasize = abi.parse_selected(self.read(f"{kp}/sector_size") or "")
            if lbasize is None:
                raise WriteRefused(errno.ENODEV)  # lbasize unset
            usable = layout.btt_usable_size(ns_size, lbasize)
            if usable <= 0:
                raise WriteRefused(errno.ENXIO)
            objects.bind_driver(self.tree, "nd", "nd_pmem", kp)
            self.tree.attr(f"{kp}/size", usable)
            self._add_disk(kp, self._disk_name(ns_kp, "s"), usable, dax=False)
            self.record_info_block(ns_kp, kind="btt", uuid=uuid, sector_size=lbasize)
        else:
            mode = self.read(f"{kp}/mode") or "none"
            if mode not in ("pmem", "ram"):
                raise WriteRefused(errno.ENXIO)  # nd_pfn_init: PFN_MODE_NONE
            align = int(self.read(f"{kp}/align") or objects.SUPPORTED_ALIGNMENTS[1])
            map_location = "dev" if mode == "pmem" else "mem"
            offset, trunc = layout.pfn_reservation(start, ns_size, align, map_location)
            usable = ns_size - offset - trunc
            if offset >= ns_size or usable <= 0:
                raise WriteRefused(errno.ENXIO)
            data_start = start + offset
            if kind == "dax":
                self._add_dax(region, kp, ns_kp, data_start, usable, align)
                objects.bind_driver(self.tree, "nd", "dax_pmem", kp)
            else:
                objects.bind_driver(self.tree, "nd", "nd_pmem", kp)
                self._add_disk(kp, self._disk_name(ns_kp, ""), usable)
            self.tree.attr(f"{kp}/size", usable)
            self.tree.attr(f"{kp}/resource", f"{data_start:#x}", MODE_ROOT_RO)
            self.record_info_block(ns_kp, kind=kind, uuid=uuid, mode=mode, align=align, data_offset=offset,
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
        if (self.read(f"{ns_kp}/force_raw") or "0") == "1":
            return
        info = info_block(self.ctx.root, ns_kp)
        if not info:
            return
        kind = str(info.get("kind", ""))
        claim_class = self.read(f"{ns_kp}/holder_class") or ""
        if kind not in CLAIM_KINDS or claim_class not in ("", kind):
            return
        name = f"{kind}{region.id}.{self.next_id(region, kind)}"
        dev_kp = f"{region.kpath}/{name}"
        objects.add_claim_seed(self.tree, self.region_for_objects(region), name)
        self.tree.attr(f"{dev_kp}/uuid", info.get("uuid", ""), MODE_RW)
        if kind == "btt":
            self.tree.attr(f"{dev_kp}/sector_size",
                           objects.format_size_select(info.get("sector_size"), BTT_LBASIZES), MODE_RW)
        else:
            self.tree.attr(f"{dev_kp}/mode", info.get("mode", "pmem"), MODE_RW)
            self.tree.attr(f"{dev_kp}/align", info.get("align", objects.SUPPORTED_ALIGNMENTS[1]), MODE_RW)
        self.tree.attr(f"{dev_kp}/namespace", posixpath.basename(ns_kp), MODE_RW)
        self.tree.attr(f"{ns_kp}/holder", name)
        self.tree.attr(f"{ns_kp}/mode", CLAIMED_NS_MODE[kind])
        try:
            self._probe_claim(region, kind, dev_kp)
        except WriteRefused:
            pass  # the new device stays registered, unbound (probe errors are logged only)
        raise WriteRefused(errno.ENXIO)

    def _enable_children(self, region: RegionInfo) -> None:
        """nd_region_probe registers the region's namespaces and the bus probes
        each: configured namespaces come back (through their claim device when
        they still have one, else raw, with info-block detection)."""
        for name in self.children(region, "namespace"):
            kp = f"{region.kpath}/{name}"
            if self.ns_size(kp) == 0 or self.driver(kp) is not None:
                continue
            holder = self.ns_claim(kp)
            try:
                if holder:
                    hkp = f"{region.kpath}/{holder}"
                    if self.driver(hkp) is None:
                        self._probe_claim(region, self.kind_of(holder), hkp)
                else:
                    self._probe_raw(region, kp)
            except WriteRefused:
                continue

    def _advance_seeds(self, region: RegionInfo, kind: str, dev_kp: str, ns_kp: str) -> None:
        """nd_region_notify_driver_action on a successful probe: a seed that
        got used is replaced by a new idle one (lowest free id)."""
        reg = self.region_for_objects(region)
        if kind != "namespace" and self.seed(region, kind) == posixpath.basename(dev_kp):
            new = f"{kind}{region.id}.{self.next_id(region, kind)}"
            objects.add_claim_seed(self.tree, reg, new)
            self.set_seed(region, kind, new)
        if region.labelled and self.seed(region, "namespace") == posixpath.basename(ns_kp):
            ns_id = self.next_id(region, "namespace")
            name = f"namespace{region.id}.{ns_id}"
            seed = NamespaceSpec(
                name=name, id=ns_id, region=region.name, kpath=f"{region.kpath}/{name}", mode="raw", seed=True,
                nstype=region.nstype, size=0, resource=None, uuid=None, alt_name="", sector_size=None,
                enabled=False, numa_node=region.numa_node, target_node=region.target_node,
            )
            objects.add_namespace(self.tree, reg, seed)
            self.set_seed(region, "namespace", name)

    @staticmethod
    def _disk_name(ns_kp: str, suffix: str) -> str:
        """nvdimm_namespace_disk_name: ``pmemR`` for id 0, else ``pmemR.N``;
        ``s`` for a btt."""
        return abi.raw_blockdev(posixpath.basename(ns_kp)) + suffix

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
        kernel_attrs.add_disk_extras(self.tree, f"{parent_kp}/block/{name}",
                                     profile_for_release(self.ctx.machine.kernel_release))

    def _next_diskseq(self) -> int:
        """inc_diskseq: a boot-wide counter, never reused (kept in nd-state.json;
        a tree without it continues after the highest number it shows)."""
        state = load_nd_state(self.ctx.root)
        last = state.get("diskseq")
        if last is None:
            last = 0
            for disk in self.tree.listdir("/sys/class/block"):
                text = self.read(f"/sys/class/block/{disk}/diskseq")
                if text and text.isdigit():
                    last = max(last, int(text))
        state["diskseq"] = int(last) + 1
        save_nd_state(self.ctx.root, state)
        return int(last) + 1

    def _remove_disks(self, parent_kp: str) -> None:
        for name in self.tree.listdir(f"{parent_kp}/block"):
            dev = self.read(f"{parent_kp}/block/{name}/dev") or ""
            major, _, minor = dev.partition(":")
            if major.isdigit() and minor.isdigit():
                objects.remove_block_device(self.tree, parent_kp, name, int(major), int(minor))
            else:
                self.tree.remove(f"{parent_kp}/block/{name}")
        self.tree.remove_if_empty(f"{parent_kp}/block")

    def _add_dax(self, region: RegionInfo, kp: str, ns_kp: str, data_start: int, usable: int, align: int) -> None:
        m = CHILD_RE.match(posixpath.basename(ns_kp))
        assert m is not None
        name = f"dax{m.group(2)}.{m.group(3)}"  # named from the namespace (kernel-abi.md §9.7)
        if self.tree.exists(f"{paths.DAX_DEVICES}/{name}"):
            raise WriteRefused(errno.EBUSY)  # a device of that name is still registered
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
        profile = profile_for_release(self.ctx.machine.kernel_release)
        memmap = False if profile.dax_memmap_on_memory else None
        objects.add_dax_device(self.tree, dev, dynamic=False, memmap_on_memory=memmap)
        if profile.dax_state_file:  # the proposed daxX.Y/state: device_dax holds it, no memory plugged
            add_state_file(self.tree, dev.kpath, UNPLUGGED)

    def _remove_dax(self, kp: str) -> None:
        """dax_pmem remove: the dax-bus device goes (its driver first).

        An unbind cannot fail: with memory kmem still has online, kmem's
        remove leaves it ("cannot be hotremoved until the next reboot"), the
        blocks stay online with no device, and the dax device goes anyway --
        what the real 6.1 guest did (tests/vm, the namespaces boot, step
        w-unbind-dax-pmem).  pmemctl never writes this: it offlines first."""
        children = self.dax_children(kp)
        for name in children:
            dev_kp = f"{kp}/{name}"
            driver = self.driver(dev_kp)
            if driver == "kmem":
                self.dax.remove("kmem", name, dev_kp)
            elif driver is not None:
                objects.unbind_driver(self.tree, "dax", dev_kp)
            dev = self.read(f"{dev_kp}/dev") or ""
            major, _, minor = dev.partition(":")
            objects.unregister_device(self.tree, "dax", name)
            if major.isdigit() and minor.isdigit():
                objects.remove_char_device(self.tree, name, int(major), int(minor))
            self.tree.remove(dev_kp)
        self.tree.remove(f"{kp}/dax_region")

    def remove(self, kind: str, kp: str) -> None:
        if kind == "region":
            if any(self.driver(f"{kp}/{c}") for c in self.tree.listdir(kp) if CHILD_RE.match(c)):
                raise WriteRefused(errno.EBUSY)  # simplification: disable what is under it first
            objects.unbind_driver(self.tree, "nd", kp)
            self.refresh_dimm_states()  # deactivate_labels: the DIMMs go idle
            return
        if kind == "nmem":
            bus = posixpath.dirname(kp)
            name = posixpath.basename(kp)
            for r in self.ctx.machine.regions():
                if r.kpath.startswith(bus + "/") and any(mp.dimm == name for mp in r.mappings) and self.driver(r.kpath):
                    raise WriteRefused(errno.EBUSY)  # an enabled region uses it
            objects.unbind_driver(self.tree, "nd", kp)
            self.refresh_dimm_states()
            return
        if kind == "ndbus":
            raise WriteRefused(errno.EBUSY)  # not simulated: it would tear down every region
        if kind == "dax":
            self._remove_dax(kp)
        else:
            self._remove_disks(kp)
        if kind != "namespace":
            # size and resource read ENXIO again once disabled
            self.tree.remove(f"{kp}/size")
            self.tree.remove(f"{kp}/resource")
        objects.unbind_driver(self.tree, "nd", kp)


__all__ = ["NdDrivers"]
