"""/proc/zoneinfo: each zone's present memory and its span (issue 14).

mm/vmstat.c zoneinfo_show_print prints, for every zone of every online node,
``Node N, zone NAME``, then ``spanned`` and ``present`` (in pages), and for a
populated zone (present pages) its pagesets and ``start_pfn:``.  A zone's
span is [start_pfn, start_pfn + spanned) pages.

Two facts of the kernel make the span useful to a change of one dax device:

* every page of an online memory block belongs to one zone of one node, and
  lies inside that zone's span (mm/memory_hotplug.c move_pfn_range_to_zone
  grows the span to take it in);
* offlining a block at a span's edge shrinks the span to the next page still
  online in that zone (shrink_zone_span, since Linux 5.5; offline memory in
  between is skipped).

So a block inside the span of exactly one populated zone of its node, when
online, is in that zone (what its ``valid_zones`` reads), and a range that
no populated zone's span meets holds no online block.  ZONE_DEVICE has no
present pages (memmap_init_zone_device) and is never populated.
"""

from __future__ import annotations

import os
import re
from typing import Iterable, Optional

from pmemctl.errors import BadAttribute
from pmemctl.sysfs.door import SysfsRoot

PROC_ZONEINFO = "/proc/zoneinfo"
# (patterns, compiled by re's own cache on first use: not at import, which
# every command pays; issue 14's start-up)
#: one zone's section: its head, and everything up to the next head
_SECTION = r"^Node\s+(\d+),\s+zone\s+(\S+)[^\n]*\n(.*?)(?=^Node\s|\Z)"
_PRESENT = r"^\s+present\s+(\S+)"
_FREE = r"^\s+pages free\s+(\d+)"  # (a garbled count is left out, as ever)
_SPANNED = r"^\s+spanned\s+(\S+)"
_START = r"^\s+start_pfn:\s+(\S+)"


class ZoneInfo:
    """What /proc/zoneinfo says of each zone, in bytes.  (A plain class: no
    dataclass decoration on the start-up path.)"""

    __slots__ = ("present", "free", "spans")

    def __init__(self, present: dict[int, dict[str, int]], free: dict[int, dict[str, int]],
                 spans: Optional[dict[int, list[tuple[str, int, int]]]]) -> None:
        #: node -> zone -> present bytes (every zone listed, populated or not)
        self.present = present
        #: node -> zone -> free bytes ("pages free"; where the kernel prints it)
        self.free = free
        #: node -> (zone, first byte, end byte) of each populated zone; None when
        #: a populated zone printed no start_pfn (its span is unknown)
        self.spans = spans

    def sole_zones(self, node: int, block_size: int) -> list[tuple[int, int, str]]:
        """Runs of block indexes ``[first, end)`` of ``node`` and the zone an
        online block there is in: the blocks wholly inside one populated
        zone's span that no other zone of the node meets.  Empty when the
        node's spans overlap (interleaved zones: each block's own
        ``valid_zones`` says), or spans are unknown."""
        if self.spans is None:
            return []
        zones = sorted(self.spans.get(node, ()), key=lambda z: z[1])
        for (_z, _first, end), (_n, nxt, _e) in zip(zones, zones[1:], strict=False):
            if nxt < end:
                return []
        # a block a span only partly covers is left out: a neighbouring zone may meet it
        runs = [(-(-first // block_size), end // block_size, zone) for zone, first, end in zones]
        return [(a, b, zone) for a, b, zone in runs if a < b]

    def no_online_memory_in(self, ranges: Iterable[tuple[int, int]]) -> bool:
        """Whether the byte ranges certainly hold no online memory: no
        populated zone of any node spans any byte of them.  False when
        spans are unknown."""
        if self.spans is None:
            return False
        spans = [(first, end) for zones in self.spans.values() for _zone, first, end in zones]
        return not any(first < hi and lo < end for lo, hi in ranges for first, end in spans)


def parse_zoneinfo(text: str, page_size: int) -> ZoneInfo:
    """Parse /proc/zoneinfo (``page_size``: the bytes of the pages it counts)."""
    present: dict[int, dict[str, int]] = {}
    free: dict[int, dict[str, int]] = {}
    spans: Optional[dict[int, list[tuple[str, int, int]]]] = {}
    for m in re.finditer(_SECTION, text, re.M | re.S):
        node, zone, body = int(m.group(1)), m.group(2), m.group(3)
        free_pages = _number(re.search(_FREE, body, re.M), f"pages free of node {node} zone {zone}")
        if free_pages is not None:
            free.setdefault(node, {})[zone] = free_pages * page_size
        pages = _number(re.search(_PRESENT, body, re.M), f"present of node {node} zone {zone}")
        if pages is None:
            continue
        present.setdefault(node, {})[zone] = pages * page_size
        if not pages or spans is None:
            continue
        start = _number(re.search(_START, body, re.M), f"start_pfn of node {node} zone {zone}")
        spanned = _number(re.search(_SPANNED, body, re.M), f"spanned of node {node} zone {zone}")
        if start is None or spanned is None:
            spans = None  # a kernel that prints no span: nothing is inferred from spans
            continue
        spans.setdefault(node, []).append((zone, start * page_size, (start + spanned) * page_size))
    return ZoneInfo(present, free, spans)


def _number(m: Optional[re.Match[str]], what: str) -> Optional[int]:
    if m is None:
        return None
    try:
        return int(m.group(1))
    except ValueError as err:
        raise BadAttribute(PROC_ZONEINFO, m.group(0).strip(), f"{what} as a number of pages") from err


def read_zoneinfo(door: SysfsRoot) -> Optional[ZoneInfo]:
    """/proc/zoneinfo parsed; None when it is absent.  Read whole: it holds
    a pageset per CPU per populated zone, past 64 KiB on a large machine,
    and a node missing from a cut-off read would look like one without
    online memory."""
    text = door.read_all(PROC_ZONEINFO)
    if text is None:
        return None
    return parse_zoneinfo(text, os.sysconf("SC_PAGE_SIZE"))
