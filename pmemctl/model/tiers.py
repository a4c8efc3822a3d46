"""Memory tiers' abstract distances and weighted-interleave weights (newer
kernels; reference/provisioning.md §5).

* ``memory_tierN`` covers the abstract distances ``N << 7`` to
  ``((N + 1) << 7) - 1`` (include/linux/memory-tiers.h, MEMTIER_CHUNK_BITS);
  DRAM sits at 576 (tier 4).  Since about 6.7 kmem derives a node's distance
  from HMAT, so the tier number itself says how slow the kernel thinks the
  node is: pmemctl reads it, never assumes it.
* ``/sys/kernel/mm/mempolicy/weighted_interleave/nodeN`` (6.9+): the weight
  (1-255) MPOL_WEIGHTED_INTERLEAVE gives node N for new allocations; ``auto``
  (about 6.16) says whether the kernel recomputes them from bandwidth.
"""

from __future__ import annotations

import re
from typing import Optional

from pmemctl.immutable import Record
from pmemctl.sysfs.door import SysfsRoot

_set = object.__setattr__  # fills a record's read-only slots in __init__

#: include/linux/memory-tiers.h: each tier spans 2**7 abstract-distance units.
MEMTIER_CHUNK_BITS = 7
WEIGHTED_INTERLEAVE = "/sys/kernel/mm/mempolicy/weighted_interleave"
_NODE_RE = re.compile(r"^node(\d+)$")


def tier_adistance(tier_id: int) -> tuple[int, int]:
    """(first, last) abstract distance memory_tier``tier_id`` covers."""
    return tier_id << MEMTIER_CHUNK_BITS, ((tier_id + 1) << MEMTIER_CHUNK_BITS) - 1


class WeightedInterleave(Record):
    """The kernel's weighted-interleave table (6.9+)."""

    path: str
    weights: tuple[tuple[int, int], ...]  # (node, weight), by node
    auto: Optional[bool]  # None: the kernel has no ``auto`` switch (before ~6.16)

    __slots__ = ("path", "weights", "auto")
    _fields = __slots__

    def __init__(self, path: str, weights: tuple[tuple[int, int], ...], auto: Optional[bool]) -> None:
        _set(self, "path", path)
        _set(self, "weights", weights)
        _set(self, "auto", auto)

    def weight_of(self, node: int) -> Optional[int]:
        return dict(self.weights).get(node)


def read_weighted_interleave(door: SysfsRoot) -> Optional[WeightedInterleave]:
    """The weights, or None when the kernel has no weighted interleave."""
    if not door.is_dir(WEIGHTED_INTERLEAVE):
        return None
    weights = []
    for name in door.listdir(WEIGHTED_INTERLEAVE):
        m = _NODE_RE.match(name)
        if m is None:
            continue
        text = door.read_optional(f"{WEIGHTED_INTERLEAVE}/{name}")
        if text is not None and text.strip().isdigit():
            weights.append((int(m.group(1)), int(text.strip())))
    auto_text = door.read_optional(f"{WEIGHTED_INTERLEAVE}/auto")
    auto = None if auto_text is None else auto_text.strip() in ("true", "1", "Y", "y")
    return WeightedInterleave(WEIGHTED_INTERLEAVE, tuple(sorted(weights)), auto)


__all__ = ["MEMTIER_CHUNK_BITS", "WEIGHTED_INTERLEAVE", "WeightedInterleave", "read_weighted_interleave",
           "tier_adistance"]
