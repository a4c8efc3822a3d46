"""Pure arithmetic of the kernel's memory layout (no I/O).

Each function states the kernel fact it reproduces (kernel-abi.md section in
brackets).  Everything here works on byte addresses; ranges are half-open
``(start, end)`` unless a name says ``end_incl``.
"""

from __future__ import annotations

import struct
import uuid as _uuid
from typing import Iterable, Optional, Sequence

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
PAGE_SIZE = 4096
STRUCT_PAGE_SIZE = 64  # sizeof(struct page) on x86-64

# x86-64 zone boundaries (arch/x86/mm/init.c zone_sizes_init).
DMA_END = 16 * MiB
DMA32_END = 4 * GiB

KERNEL_ZONES = ("DMA", "DMA32", "Normal")


def align_up(value: int, align: int) -> int:
    return -(-value // align) * align


def align_down(value: int, align: int) -> int:
    return value // align * align


# -- pfn / dax info block (kernel-abi.md §5.2) ---------------------------------


def pfn_reservation(start: int, ns_size: int, align: int, map_location: str = "dev") -> tuple[int, int]:
    """``(data_offset, end_trunc)`` of an fsdax/devdax namespace (x86 nd_pfn_init).

    ``--map=dev`` keeps the memmap (64 bytes per 4 KiB page) in the namespace
    after an 8 KiB info block; the data then starts at the next ``A``-aligned
    address with ``A = max(align, 2 MiB)``, and the tail is cut to ``A``.
    Checks from the lab: a 3968 MiB namespace at 0x100000000 with 2 MiB align
    gives data at 0x104000000 and 4,093,640,704 bytes.
    """
    effective_align = max(align, 2 * MiB)
    if map_location == "dev":
        npfns = (ns_size - 8 * KiB) // PAGE_SIZE
        offset = align_up(start + 8 * KiB + STRUCT_PAGE_SIZE * npfns, effective_align) - start
    elif map_location == "mem":
        offset = align_up(start + 8 * KiB, effective_align) - start
    else:
        raise ValueError(f"map location must be dev or mem, not {map_location!r}")
    end = start + ns_size
    end_trunc = end - align_down(end, effective_align)
    return offset, end_trunc


def pfn_usable_size(start: int, ns_size: int, align: int, map_location: str = "dev") -> int:
    offset, end_trunc = pfn_reservation(start, ns_size, align, map_location)
    return ns_size - offset - end_trunc


# -- btt (approximation of drivers/nvdimm/btt.c arena layout) -------------------

BTT_ARENA_MAX = 512 * GiB
BTT_ARENA_MIN = 16 * MiB
BTT_NFREE = 256  # one free block per lane (ND_MAX_LANES)
BTT_LOG_GROUP = 64  # bytes per lane in the flog
BTT_INFO_SIZE = 4096
BTT_MAP_ENTRY = 4
BTT_INT_LBA_ALIGN = 64
BTT_SECTOR_SIZES = (512, 520, 528, 4096, 4104, 4160, 4224)


def btt_usable_size(raw_size: int, sector_size: int = 4096) -> int:
    """Bytes a btt exposes over ``raw_size`` bytes (arena overhead removed).

    Per arena: two 4 KiB info blocks, a 4 KiB-aligned flog of 64 bytes per
    lane, a 4-byte map entry per internal block and 256 free blocks.  This
    is the layout arithmetic, not a byte-exact copy of every kernel version.
    """
    internal_lbasize = align_up(sector_size, BTT_INT_LBA_ALIGN)
    flog = align_up(BTT_NFREE * BTT_LOG_GROUP, PAGE_SIZE)
    total = 0
    remaining = raw_size
    while remaining >= BTT_ARENA_MIN:
        arena = min(remaining, BTT_ARENA_MAX)
        remaining -= arena
        available = arena - 2 * BTT_INFO_SIZE - flog
        internal_nlba = (available - PAGE_SIZE) // (internal_lbasize + BTT_MAP_ENTRY)
        external_nlba = internal_nlba - BTT_NFREE
        total += external_nlba * sector_size
    return total


# -- memory blocks (kernel-abi.md §7.1, §7.6) -----------------------------------


def kmem_hotplug_range(start: int, end_incl: int, block_size: int) -> Optional[tuple[int, int]]:
    """The part of one dax range kmem hot-adds: ``[ALIGN_UP(start), ALIGN_DOWN(end+1))``.

    None when nothing is left after alignment (kmem: "mappingN ... too small
    after alignment").
    """
    lo = align_up(start, block_size)
    hi = align_down(end_incl + 1, block_size)
    return (lo, hi) if hi > lo else None


def block_indexes(lo: int, hi: int, block_size: int) -> range:
    """Indexes N of the blocks ``memoryN`` fully inside ``[lo, hi)`` (block-aligned)."""
    return range(lo // block_size, hi // block_size)


def blocks_touching(ranges: Iterable[tuple[int, int]], block_size: int) -> list[int]:
    """Indexes of every block that has any byte of the given ranges (boot memory:
    a block exists when any of its sections is present)."""
    found: set[int] = set()
    for lo, hi in ranges:
        if hi <= lo:
            continue
        found.update(range(lo // block_size, (hi - 1) // block_size + 1))
    return sorted(found)


def overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def boot_zone(lo: int, hi: int) -> str:
    """Zone of boot memory in ``[lo, hi)`` on x86-64; ``none`` when it spans two
    zones (valid_zones of such a block reads ``none``: drivers/base/memory.c)."""
    zones = set()
    if lo < DMA_END:
        zones.add("DMA")
    if lo < DMA32_END and hi > DMA_END:
        zones.add("DMA32")
    if hi > DMA32_END:
        zones.add("Normal")
    return zones.pop() if len(zones) == 1 else "none"


def zones_of_online_block(zone: str, lo: int, hi: int) -> tuple[str, ...]:
    """Zones whose span an online block extends (``none`` counts for both low zones)."""
    if zone == "none":
        return tuple(z for z in KERNEL_ZONES if overlap((lo, hi), _ZONE_ADDR[z]) > 0)
    return (zone,)


_ZONE_ADDR = {"DMA": (0, DMA_END), "DMA32": (DMA_END, DMA32_END), "Normal": (DMA32_END, 1 << 64)}


def zone_spans(online_blocks: Iterable[tuple[str, int, int]]) -> dict[str, tuple[int, int]]:
    """Span ``[min start, max end)`` of each zone from ``(zone, lo, hi)`` of the
    node's online blocks: a zone spans holes, and shrinks only at its edges
    when memory goes offline (mm/memory_hotplug.c shrink_zone_span)."""
    spans: dict[str, tuple[int, int]] = {}
    for zone, lo, hi in online_blocks:
        for z in zones_of_online_block(zone, lo, hi):
            old = spans.get(z)
            spans[z] = (lo, hi) if old is None else (min(old[0], lo), max(old[1], hi))
    return spans


def offline_valid_zones(
    lo: int, hi: int, spans: dict[str, tuple[int, int]], movable_node: bool = False
) -> str:
    """``valid_zones`` of an offline block (online_policy=contig-zones).

    The default zone comes first, then the kernel zone and Movable if they
    differ (drivers/base/memory.c valid_zones_show).  The kernel zone is the
    first of DMA/DMA32/Normal whose span intersects the block, else Normal;
    the default is whichever of {kernel zone, Movable} alone intersects the
    block, else the kernel zone (Movable with ``movable_node``).
    """
    # (every simulated block write asks: the overlaps are spelt out, max(starts) < min(ends))
    kernel_zone, in_kernel = "Normal", False
    for z in KERNEL_ZONES:
        span = spans.get(z)
        if span is not None and max(lo, span[0]) < min(hi, span[1]):
            kernel_zone, in_kernel = z, True
            break
    span = spans.get("Movable")
    in_movable = span is not None and max(lo, span[0]) < min(hi, span[1])
    if in_kernel != in_movable:
        movable_first = in_movable
    else:
        movable_first = movable_node
    return f"Movable {kernel_zone}" if movable_first else f"{kernel_zone} Movable"


# -- formatting helpers shared by the objects ------------------------------------


def cpumask_hex(cpus: Sequence[int], nr_cpu_ids: int) -> str:
    """A cpumask as ``cpumap`` prints it (``%*pb``): hex, zero-padded to
    ``nr_cpu_ids`` bits, comma every 32 bits (lib/bitmap.c bitmap_print_to_pagebuf)."""
    value = 0
    for cpu in cpus:
        value |= 1 << cpu
    digits = max(1, -(-nr_cpu_ids // 4))
    text = f"{value:0{digits}x}"
    groups: list[str] = []
    while len(text) > 8:
        groups.insert(0, text[-8:])
        text = text[:-8]
    groups.insert(0, text)
    return ",".join(groups)


_UUID_NAMESPACE = _uuid.UUID("6f1c8f4e-2d0b-4b8e-9a51-70b3c2a8d4e1")


def stable_uuid(*parts: str) -> str:
    """A uuid derived from names, so a scenario always materialises identically."""
    return str(_uuid.uuid5(_UUID_NAMESPACE, "/".join(parts)))


def stable_u64(*parts: str) -> int:
    """A 64-bit value derived from names (interleave-set cookies)."""
    return _uuid.uuid5(_UUID_NAMESPACE, "/".join(parts)).int >> 64


# -- NFIT interleave-set cookie (drivers/acpi/nfit/core.c, drivers/nvdimm/core.c)

#: Bytes of one DIMM's record in the v1.2 cookie: region offset (u64), serial
#: number (u32), vendor id (u16), manufacturing date (u16), manufacturing
#: location (u8), 31 reserved bytes -- the NFIT fields as stored (little
#: endian), not as sysfs prints them.
_COOKIE2_RECORD = struct.Struct("<QIHHB31x")


def fletcher64(data: bytes) -> int:
    """nd_fletcher64 over little-endian 32-bit words: the low half is the
    running sum, the high half the sum of the running sums (both mod 2^32)."""
    lo = hi = 0
    for (word,) in struct.iter_unpack("<I", data[: len(data) - len(data) % 4]):
        lo = (lo + word) & 0xFFFFFFFF
        hi = (hi + lo) & 0xFFFFFFFF
    return hi << 32 | lo


def nfit_set_cookie(members: Sequence[tuple[int, int, int, int, int]]) -> int:
    """The v1.2 interleave-set cookie ``set_cookie`` shows when the DIMMs have
    no labels or v1.2 labels (nd_region_interleave_set_cookie: cookie2).

    ``members``: per DIMM of the set (region_offset, serial, vendor,
    manufacturing_date, manufacturing_location) as the NFIT stores them;
    the kernel sorts the records by region offset before summing them."""
    records = sorted(members, key=lambda m: m[0])
    return fletcher64(b"".join(_COOKIE2_RECORD.pack(*m) for m in records))


#: One DIMM's record in the v1.1 cookie: region offset (u64), serial (u32), pad.
_COOKIE1_RECORD = struct.Struct("<QI4x")


def nfit_set_cookie_v11(members: Sequence[tuple[int, int, int, int, int]]) -> int:
    """The v1.1 cookie (cookie1), which ``set_cookie`` shows once the DIMMs
    carry a v1.1 label index: the same sum over (region offset, serial) only.
    Checked against the real guest after ``ndctl init-labels``: 0x2468ac00123456."""
    records = sorted(members, key=lambda m: m[0])
    return fletcher64(b"".join(_COOKIE1_RECORD.pack(m[0], m[1]) for m in records))


#: Bytes of one label by label-index version (v1.1: 128, v1.2: 256).
LABEL_BYTES = {"1.1": 128, "1.2": 256}
#: Bytes of one label index block for label areas up to 2040 slots
#: (72-byte header + free bitmap, aligned to 256); a label area holds two.
LABEL_INDEX_BYTES = 256


def label_slots(label_area: int, version: Optional[str]) -> int:
    """Label slots of a DIMM's label area.

    Initialised (``version``): what ndctl wrote into the index, the area less
    its two index blocks, in labels of that version -- (131072 - 512) // 128
    = 1020 after `ndctl init-labels` (v1.1), // 256 = 510 after the autolabel
    (v1.2).  Uninitialised (None): nvdimm_num_label_slots' estimate,
    area // (256 + 1) = 510.  available_slots_show prints the free slots less
    one (the real guest: 1019, 508 with one label, 509 uninitialised)."""
    if version is None:
        return label_area // (LABEL_BYTES["1.2"] + 1)
    return (label_area - 2 * LABEL_INDEX_BYTES) // LABEL_BYTES[version]


def bswap(value: int, width: int) -> int:
    """Byte-swap a ``width``-byte integer (sysfs prints NFIT serial and
    vendor with be32_to_cpu/be16_to_cpu of the little-endian stored value)."""
    return int.from_bytes(value.to_bytes(width, "little"), "big")
