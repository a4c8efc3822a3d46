"""The simulated kernel's reactions to writes on the nd bus (libnvdimm, 6.x).

:class:`pmemctl.sim.kernel.SimulatedKernel` routes every write under an nd
bus device (``/sys/devices/.../ndbusN/...``) and to
``/sys/bus/nd/drivers/*/{bind,unbind}`` here (:class:`NdKernel`, for the
targets :func:`handles` accepts).  The handler is split in
:mod:`.common` (views of the tree and shared refreshes),
:mod:`.attributes` (attribute stores) and :mod:`.drivers` (bind/unbind).  What is
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
simulator-only state is ``.pmemctl-sim/nd-state.json`` (:mod:`pmemctl.sim.kernel.state`): the info blocks the
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

from typing import Callable

from pmemctl.sim.kernel.context import SimContext
from pmemctl.sim.kernel.dax import DaxDrivers
from pmemctl.sim.kernel.nd.attributes import NdAttributes
from pmemctl.sim.kernel.nd.common import CHILD_RE, ND_DRIVER_FILE_RE, REGION_DIR_RE, NdCommon, RegionInfo
from pmemctl.sim.kernel.nd.drivers import NdDrivers
from pmemctl.sim.kernel.state import ensure_nd_state


def handles(target: str) -> bool:
    """True for the writes this package answers (the door's routing)."""
    return bool(ND_DRIVER_FILE_RE.match(target)) or (target.startswith("/sys/devices/") and "/ndbus" in target)


class NdKernel(NdAttributes, NdDrivers):
    """The nd write handler over one :class:`SimContext`."""

    def __init__(self, ctx: SimContext, dax: DaxDrivers, refresh_iomem: Callable[[], None]) -> None:
        super().__init__(ctx)
        self.dax = dax
        self._refresh_iomem = refresh_iomem

    def write(self, target: str, text: str) -> None:
        ensure_nd_state(self.ctx.root)  # the media as built, before the first change
        m = ND_DRIVER_FILE_RE.match(target)
        if m:
            self.driver_write(m.group(1), m.group(2), text)
            return
        m = REGION_DIR_RE.match(target)
        if m is None or m.group(3) is None:
            self.plain(target, text)
            return
        region = self.region(m.group(1))
        rest = m.group(3)
        if "/" not in rest:
            self.region_attr(region, rest, target, text)
            return
        dev, attr = rest.split("/", 1)
        cm = CHILD_RE.match(dev)
        if cm is None or "/" in attr or int(cm.group(2)) != region.id:
            self.plain(target, text)  # dax-bus devices, block devices, power/ ...
            return
        kind = cm.group(1)
        dev_kpath = f"{region.kpath}/{dev}"
        if kind == "namespace":
            self.namespace_attr(region, dev_kpath, attr, target, text)
        else:
            self.claim_attr(region, kind, dev_kpath, attr, target, text)
        self.refresh()

    def refresh(self) -> None:
        self._refresh_iomem()


__all__ = ["NdCommon", "NdKernel", "RegionInfo", "handles"]
