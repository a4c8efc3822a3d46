"""Small helpers shared by the renderers: cell formatters and block counts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from pmemctl.units import format_size

if TYPE_CHECKING:  # pragma: no cover
    from pmemctl.model.records import Topology

DASH = "-"  # shown for an unknown or absent value (JSON has null)


def opt(value: object) -> str:
    """``-`` for None, else ``str(value)``."""
    return DASH if value is None else str(value)


def size(nbytes: Optional[int]) -> str:
    """lsmem-style binary size (``128M``, ``2.9G``); ``-`` for None."""
    return format_size(nbytes)


def yes_no(value: Optional[bool]) -> str:
    return DASH if value is None else ("yes" if value else "no")


def enabled(value: bool) -> str:
    return "enabled" if value else "disabled"


def dax_block_counts(topo: "Topology") -> dict[str, tuple[int, int]]:
    """dax device name -> (blocks inside its ranges, of those online)."""
    counts: dict[str, list[int]] = {}
    for b in topo.blocks:
        if b.device is not None:
            c = counts.setdefault(b.device, [0, 0])
            c[0] += 1
            c[1] += b.online
    return {name: (c[0], c[1]) for name, c in counts.items()}
