"""The simulated kernel: a sysfs door whose writes the kernel reacts to.

:class:`SimulatedKernel` (:mod:`.door`) is a
:class:`~pmemctl.sysfs.door.SysfsRoot` over a materialised tree; each write
goes to the subsystem that reacts to it:

* :mod:`.memory` -- ``memoryN/state`` and ``memoryN/online``: state
  transitions, zones, ``valid_zones`` of the other offline blocks, node and
  /proc meminfo, node masks, memory tiers; ``auto_online_blocks`` and
  ``demotion_enabled``;
* :mod:`.dax` -- ``/sys/bus/dax/drivers/{kmem,device_dax}/{new_id,remove_id,bind,unbind}``:
  driver links, memory blocks created and removed by kmem, nodes coming
  online and going offline, and the stranded device that unbinding kmem
  under online memory leaves behind;
* :mod:`.nd` -- the nd bus: namespaces, claims, seeds, nd drivers;
* :mod:`.iomem` -- /proc/iomem after any of those.

Shared by all: :mod:`.context` (door, tree, static facts), :mod:`.errors`
(:class:`WriteRefused`, the product's kstr parsers mapped to it),
:mod:`.state` (``kernel-state.json``, ``nd-state.json``, ``holders.json``)
and :mod:`.faults` (injected faults, ``faults.json``).  Imports go one way:
errors -> faults -> state/context -> memory -> dax -> nd -> iomem -> door.

What a write costs (issue 14): a block's ``state``, ``online`` and
``valid_zones`` are replaced whole by links to one file per value (:mod:`.confined`), and
within a burst of writes (``SimulatedKernel.burst``, which the executor opens
around a plan) node and /proc meminfo and /proc/zoneinfo are written once, or
when read through the door, instead of after every block.

Where the truth lives: the tree itself (driver links, block files).  The
resolved machine description (``scenario.json``) supplies static facts
(node DRAM ranges, distances, HMAT, device ranges).
"""

from __future__ import annotations

from pmemctl.sim.kernel.door import SimulatedKernel, tool_unavailable_reason
from pmemctl.sim.kernel.errors import WriteRefused

__all__ = ["SimulatedKernel", "WriteRefused", "tool_unavailable_reason"]
