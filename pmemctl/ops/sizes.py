"""Namespace size math: what a region can hold, and what a size turns into.

Pure functions, no I/O (tests/unit/test_namespace_sizes.py).  The rules, from
kernel-abi.md:

* §3.2 (ndctl's checks): a namespace size is a multiple of the region
  ``align`` (the kernel's own rule too: size_store returns EINVAL otherwise)
  and of the mode's alignment times the interleave ways (``mappings``); it is
  at least 16 MiB for every mode but raw; it fits in ``max_available_extent``
  (falling back to ``available_size``); a label-less region (nstype 4) cannot
  be subdivided at all.
* §5.2 (kernel nd_pfn_init, x86, ``--map=dev``): an fsdax or devdax namespace
  of ``ns_size`` bytes starting at ``start`` keeps
      npfns     = (ns_size - 8 KiB) / 4 KiB
      A         = max(align, 2 MiB)
      offset    = ALIGN(start + 8 KiB + 64 * npfns, A) - start
      end_trunc = start + ns_size - ALIGN_DOWN(start + ns_size, A)
      usable    = ns_size - offset - end_trunc      (data at start + offset)
  (``--map=mem``: offset = ALIGN(start + 8 KiB, A) - start).
* §5.2 / §7.6 (kmem): system RAM is the memory-block-aligned part of the
  data range, [ALIGN_UP(data start, bs), ALIGN_DOWN(data end, bs)).

The start address of a namespace not yet created is predicted as the lowest
free gap of the region that is large enough (first fit); callers say so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

# the one size formatter is pmemctl.units' (format_size; exact_size for sizes to type back)
from pmemctl.units import exact_size as exact_size
from pmemctl.units import format_size, format_sizes

KiB = 1024
MiB = 1024**2
GiB = 1024**3
TiB = 1024**4

PAGE_SIZE = 4096
#: the pfn/dax info block reserved at the start of the namespace (nd_pfn_init)
INFO_BLOCK = 8 * KiB
#: struct page per 4 KiB page kept on the namespace with --map=dev (MAX_STRUCT_PAGE_SIZE)
STRUCT_PAGE = 64
#: the minimum alignment of the pfn data offset on x86 (kernel-abi.md §5.2)
PFN_MIN_ALIGN = 2 * MiB
#: ndctl refuses smaller namespaces for every mode but raw (kernel-abi.md §3.2)
MIN_SIZE = 16 * MiB
#: the pfn/dax seeds' default align, and the one ndctl uses without --align
DEFAULT_ALIGN = 2 * MiB
#: pfn/dax supported_alignments when the seed does not say (kernel-abi.md §5.1)
DEFAULT_SUPPORTED_ALIGNMENTS = (4096, 2 * MiB)

MODES = ("devdax", "fsdax", "sector", "raw")
#: modes whose namespace carries a pfn/dax info block and memmap
PFN_MODES = ("devdax", "fsdax")


def align_up(value: int, align: int) -> int:
    return -(-value // align) * align


def align_down(value: int, align: int) -> int:
    return value // align * align


def suggestion(*sizes: int) -> str:
    """Sizes to paste (exact), with their readable value (as every command
    prints sizes) where it differs: ``102384M (about 100G)``; sizes that
    read the same share it: ``102384M or 102432M (both about 100G)``."""
    exact = [exact_size(n) for n in sizes]
    readable = [format_size(n) for n in sizes]
    if exact == readable:
        return " or ".join(exact)
    if len(set(readable)) == 1:
        return f"{' or '.join(exact)} ({'both ' if len(sizes) == 2 else ''}about {readable[0]})"
    return " or ".join(e if e == r else f"{e} (about {r})" for e, r in zip(exact, readable, strict=True))


# --------------------------------------------------------------------------
# info block and kmem


@dataclass(frozen=True)
class PfnLayout:
    """Where the data of an fsdax/devdax namespace lies (kernel-abi.md §5.2)."""

    start: int  # namespace start (resource)
    ns_size: int
    offset: int  # info block + memmap, from the namespace start to the data
    end_trunc: int  # dropped at the end to keep the data end aligned
    usable: int  # the pfn/dax ``size`` (what ndctl list shows); <= 0: unusable

    @property
    def data_start(self) -> int:
        return self.start + self.offset

    @property
    def data_end(self) -> int:  # exclusive
        return self.data_start + max(self.usable, 0)

    @property
    def reserved(self) -> int:
        return self.ns_size - max(self.usable, 0)


def pfn_layout(start: int, ns_size: int, align: int = DEFAULT_ALIGN, map_mode: str = "dev") -> PfnLayout:
    """The kernel's info-block reservation for a namespace of ``ns_size`` at ``start``."""
    a = max(align, PFN_MIN_ALIGN)
    if map_mode == "dev":
        npfns = max(ns_size - INFO_BLOCK, 0) // PAGE_SIZE
        offset = align_up(start + INFO_BLOCK + STRUCT_PAGE * npfns, a) - start
    else:
        offset = align_up(start + INFO_BLOCK, a) - start
    end_trunc = start + ns_size - align_down(start + ns_size, a)
    return PfnLayout(start, ns_size, offset, end_trunc, ns_size - offset - end_trunc)


def usable_size(mode: str, start: int, ns_size: int, align: int = DEFAULT_ALIGN) -> Optional[int]:
    """What the namespace offers in ``mode``: the pfn/dax size for fsdax/devdax,
    the whole size for raw, None for sector (the btt layout depends on the
    kernel's arena math, known only once created)."""
    if mode in PFN_MODES:
        return max(pfn_layout(start, ns_size, align).usable, 0)
    if mode == "raw":
        return ns_size
    return None


def kmem_blocks(data_start: int, data_end: int, block_size: int) -> tuple[int, int]:
    """(first block index, count) of the whole memory blocks kmem hot-adds
    for the data range [data_start, data_end) (drivers/dax/kmem.c)."""
    first = -(-data_start // block_size)
    stop = data_end // block_size
    return first, max(stop - first, 0)


def ram_of(start: int, ns_size: int, align: int, block_size: int) -> tuple[int, int]:
    """(first block, block count) a devdax namespace gives as system-ram."""
    lay = pfn_layout(start, ns_size, align)
    if lay.usable <= 0:
        return 0, 0
    return kmem_blocks(lay.data_start, lay.data_end, block_size)


# --------------------------------------------------------------------------
# regions


@dataclass(frozen=True)
class Extent:
    start: int
    size: int

    @property
    def end(self) -> int:
        return self.start + self.size


@dataclass(frozen=True)
class RegionGeometry:
    """What the size rules need to know about one region."""

    name: str
    size: int
    available: int  # max_available_extent (or available_size)
    align: int  # region ``align`` (already x mappings when needed)
    ways: int  # interleave ways (number of mappings)
    labeled: bool  # nstype 5; label-less (nstype 4) regions cannot be subdivided
    start: Optional[int] = None  # region resource (root only)
    #: configured namespaces as (start, size); for the first-fit prediction
    used: tuple[Extent, ...] = ()
    supported_alignments: tuple[int, ...] = DEFAULT_SUPPORTED_ALIGNMENTS

    def free_extents(self) -> list[Extent]:
        """Free gaps, lowest first, when the region start is known."""
        if self.start is None:
            return []
        out: list[Extent] = []
        cursor = self.start
        for ext in sorted(self.used, key=lambda e: e.start):
            if ext.start > cursor:
                out.append(Extent(cursor, ext.start - cursor))
            cursor = max(cursor, ext.end)
        end = self.start + self.size
        if end > cursor:
            out.append(Extent(cursor, end - cursor))
        return out

    def predicted_start(self, size: int) -> Optional[int]:
        """Where a new namespace of ``size`` would start (first fit), if known."""
        for gap in self.free_extents():
            if gap.size >= size:
                return gap.start
        gaps = self.free_extents()
        return gaps[0].start if gaps else None


def granule(geom: RegionGeometry, mode: str, align: int = DEFAULT_ALIGN) -> int:
    """The step valid sizes come in: a multiple of the region align and of the
    mode's alignment times the interleave ways (kernel-abi.md §3.2)."""
    mode_align = align if mode in PFN_MODES else PAGE_SIZE
    region_align = geom.align or PAGE_SIZE
    return math.lcm(region_align, mode_align * max(geom.ways, 1))


def min_size(geom: RegionGeometry, mode: str, align: int = DEFAULT_ALIGN) -> int:
    """The smallest valid size for ``mode`` (16 MiB for all but raw; for
    fsdax/devdax also room for the info block, the memmap and one align)."""
    g = granule(geom, mode, align)
    low = MIN_SIZE if mode != "raw" else g
    size = align_up(max(low, g), g)
    if mode in PFN_MODES:
        start = geom.predicted_start(size) or 0
        while pfn_layout(start, size, align).usable < max(align, PAGE_SIZE):
            size += g
    return size


def max_size(geom: RegionGeometry, mode: str, align: int = DEFAULT_ALIGN) -> int:
    """The largest valid size that fits (0: nothing fits)."""
    return align_down(geom.available, granule(geom, mode, align))


@dataclass(frozen=True)
class SizeVerdict:
    ok: bool
    size: int
    problem: Optional[str] = None  # why not
    suggestions: tuple[int, ...] = ()  # nearest valid sizes, smallest first


def check_size(geom: RegionGeometry, mode: str, size: int, align: int = DEFAULT_ALIGN) -> SizeVerdict:
    """Is ``size`` a valid namespace size for ``mode`` in this region?

    When it is not, the verdict names the rule and suggests the nearest valid
    sizes below and above it (within what the region has free).
    """
    g = granule(geom, mode, align)
    lo = min_size(geom, mode, align)
    hi = max_size(geom, mode, align)
    if hi < lo:
        return SizeVerdict(
            False, size,
            f"{geom.name} has {format_size(geom.available)} free in its largest extent, less than the "
            f"smallest {mode} namespace ({format_size(lo)})",
        )
    problems: list[str] = []
    if size % g:
        why = [f"the region align {exact_size(geom.align)}"]
        if geom.ways > 1 or mode in PFN_MODES:
            mode_align = align if mode in PFN_MODES else PAGE_SIZE
            why.append(f"{exact_size(mode_align)} x {geom.ways} interleave way(s)")
        problems.append(f"{exact_size(size)} is not a multiple of {exact_size(g)} ({' and '.join(why)})")
    if size < lo:
        shown, least = format_sizes(size, lo)
        problems.append(f"{shown} is below the smallest {mode} namespace ({least})")
    if size > hi:
        # "3.9G does not fit: 3.9G free" would not say why: format_sizes shows those exactly
        shown, free = format_sizes(size, geom.available)
        problems.append(f"{shown} does not fit: {geom.name} has {free} free in its largest extent")
    if not problems:
        return SizeVerdict(True, size)
    down = min(max(align_down(size, g), lo), hi)
    up = max(min(align_up(size, g), hi), lo)
    suggestions = tuple(sorted({down, up}))
    return SizeVerdict(False, size, "; ".join(problems), suggestions)


def valid_sizes(geom: RegionGeometry, mode: str, align: int = DEFAULT_ALIGN) -> Iterable[int]:
    g = granule(geom, mode, align)
    size = min_size(geom, mode, align)
    hi = max_size(geom, mode, align)
    while size <= hi:
        yield size
        size += g


# --------------------------------------------------------------------------
# the system-ram planner


@dataclass(frozen=True)
class RamPlan:
    """The namespace size to create for an amount of system RAM."""

    region: str
    ram: int  # requested bytes (whole blocks)
    blocks: int  # requested block count
    exact: bool  # a size yielding exactly ``blocks`` exists and fits
    ns_size: Optional[int]  # the smallest namespace size giving ``blocks`` blocks
    usable: Optional[int]  # its devdax size
    first_block: Optional[int]
    start: Optional[int]  # predicted namespace start (None: unknown, assumed aligned)
    align: int
    block_size: int
    #: nearest achievable (blocks, ns_size) below and above when not exact
    nearest: tuple[tuple[int, int], ...] = ()
    #: the most system RAM the region can give: (blocks, ns_size)
    most: Optional[tuple[int, int]] = None
    problem: Optional[str] = None


def plan_ram(geom: RegionGeometry, ram: int, block_size: int, align: int = DEFAULT_ALIGN) -> RamPlan:
    """The smallest devdax namespace that kmem turns into exactly ``ram`` bytes.

    ``ram`` must be a whole number of memory blocks (the caller checks and
    suggests).  The block count is not monotonic in the namespace size (the
    memmap grows by 1/64 of it and can push the data start past a block
    boundary), so the search walks the valid sizes upwards from the first
    one that could hold that many blocks, and stops at the first size that
    gives more.
    """
    if ram <= 0 or ram % block_size:
        raise ValueError("ram must be a positive whole number of memory blocks")
    want = ram // block_size
    g = granule(geom, "devdax", align)
    lo = min_size(geom, "devdax", align)
    hi = max_size(geom, "devdax", align)

    def start_for(size: int) -> int:
        s = geom.predicted_start(size)
        return s if s is not None else 0

    def count(size: int) -> int:
        return ram_of(start_for(size), size, align, block_size)[1]

    def smallest_giving(n: int, size: int) -> int:
        """Walk down from ``size`` (which gives n) while the count stays >= n."""
        best = size
        size -= g
        while size >= lo and count(size) >= n:
            if count(size) == n:
                best = size
            size -= g
        return best

    most: Optional[tuple[int, int]] = None
    if hi >= lo:
        # the count near the top varies by one block at most: look at a few sizes
        window = [hi - i * g for i in range(block_size // g + 2) if hi - i * g >= lo]
        top = max(window, key=lambda s: (count(s), s))
        if count(top) > 0:
            most = (count(top), smallest_giving(count(top), top))
    base = RamPlan(geom.name, ram, want, False, None, None, None, geom.predicted_start(want * block_size),
                   align, block_size, most=most)
    if most is None:
        return _replace(base, problem=f"{geom.name} has no room for a devdax namespace that holds a whole "
                                      f"{exact_size(block_size)} memory block")
    if want > most[0]:
        return _replace(
            base, nearest=(most,),
            problem=f"{geom.name} can give at most {most[0]} block(s) ({format_size(most[0] * block_size)}) of "
                    f"system RAM from {format_size(geom.available)} free in its largest extent",
        )
    below: Optional[tuple[int, int]] = None
    size = max(lo, align_down(want * block_size, g))
    while size <= hi:
        n = count(size)
        if n == want:
            start = start_for(size)
            lay = pfn_layout(start, size, align)
            first = ram_of(start, size, align, block_size)[0]
            return _replace(base, exact=True, ns_size=size, usable=lay.usable, first_block=first,
                            start=geom.predicted_start(size))
        if n > want:
            above = (n, smallest_giving(n, size))
            nearest = tuple(x for x in (below, above) if x is not None and x[0] > 0)
            return _replace(
                base, nearest=nearest,
                problem=f"no valid namespace size gives exactly {want} block(s): valid sizes step by "
                        f"{exact_size(g)}, and one step adds more than one {exact_size(block_size)} block",
            )
        below = (n, size)
        size += g
    return _replace(base, nearest=(most,), problem=f"{geom.name} is too small for that much")  # pragma: no cover


def _replace(plan: RamPlan, **changes: object) -> RamPlan:
    from dataclasses import replace

    return replace(plan, **changes)  # type: ignore[arg-type]


def ways_of(mappings: Sequence[object]) -> int:
    return max(len(mappings), 1)
