"""The simulator's arithmetic against the product's (property tests).

The simulator is an independent oracle: it never imports pmemctl.model or
pmemctl.ops, so the same kernel rules are written twice.  These properties
check that the two copies agree on every input, not just on the scenarios:

* the pfn/dax info-block reservation (x86 nd_pfn_init): the simulator's
  :func:`pmemctl.sim.layout.pfn_reservation` (which the simulated nd_pmem
  and dax_pmem drivers use to place the data) against the product's
  :func:`pmemctl.ops.sizes.pfn_layout` (which the planners use to predict
  sizes);
* kmem's hot-plug block trimming (drivers/dax/kmem.c): the simulated
  kernel's :func:`pmemctl.sim.kernel.dax.hotplug_indexes` (the blocks its
  kmem probe hot-adds) against the model's
  :func:`pmemctl.model.records.kmem_blocks`,
  :meth:`pmemctl.model.records.DaxDevice.hotplug_blocks` and the planners'
  :func:`pmemctl.ops.sizes.kmem_blocks`.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pmemctl.model.records import DaxDevice, DaxMappingRange, kmem_blocks
from pmemctl.ops import sizes
from pmemctl.sim import layout
from pmemctl.sim.kernel.dax import hotplug_indexes, hotplug_ranges

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

PAGE = 4096
#: what a pfn/dax device's ``align`` can be (supported_alignments on x86-64), and odd ones
ALIGNS = st.sampled_from([4 * KiB, 64 * KiB, 2 * MiB, 16 * MiB, 1 * GiB])
#: memory block sizes (block_size_bytes): 128 MiB .. 2 GiB, and small ones for dense cases
BLOCK_SIZES = st.sampled_from([16 * MiB, 128 * MiB, 256 * MiB, 1 * GiB, 2 * GiB])

# namespace start: page aligned anywhere below 64 TiB; size: ND_MIN_NAMESPACE_SIZE and up, pages
starts = st.integers(min_value=0, max_value=(64 << 40) // PAGE).map(lambda n: n * PAGE)
ns_sizes = st.integers(min_value=(16 * MiB) // PAGE, max_value=(4 << 40) // PAGE).map(lambda n: n * PAGE)


@settings(max_examples=500, deadline=None)
@given(start=starts, ns_size=ns_sizes, align=ALIGNS, map_location=st.sampled_from(["dev", "mem"]))
def test_pfn_reservation_matches_the_product(start: int, ns_size: int, align: int, map_location: str) -> None:
    offset, end_trunc = layout.pfn_reservation(start, ns_size, align, map_location)
    product = sizes.pfn_layout(start, ns_size, align, map_location)
    assert (offset, end_trunc) == (product.offset, product.end_trunc)
    assert layout.pfn_usable_size(start, ns_size, align, map_location) == product.usable
    assert product.start == start and product.ns_size == ns_size


@settings(max_examples=200, deadline=None)
@given(start=starts, ns_size=ns_sizes, align=ALIGNS, block_size=BLOCK_SIZES)
def test_devdax_ram_matches_the_product(start: int, ns_size: int, align: int, block_size: int) -> None:
    """A devdax namespace given to kmem: the simulator's data range (after the
    info block) trimmed by its kmem, against the planners' ``ram_of``."""
    offset, end_trunc = layout.pfn_reservation(start, ns_size, align)
    usable = ns_size - offset - end_trunc
    sim_blocks = hotplug_indexes([(start + offset, start + offset + usable - 1)], block_size) if usable > 0 else []
    first, count = sizes.ram_of(start, ns_size, align, block_size)
    assert sim_blocks == list(range(first, first + count))


# a dax device's ranges: up to four disjoint, ascending (start, end inclusive) ranges
@st.composite
def dax_ranges(draw: st.DrawFn) -> list[tuple[int, int]]:
    granule = draw(st.sampled_from([PAGE, 2 * MiB, 16 * MiB]))
    cuts = draw(st.lists(st.integers(min_value=0, max_value=(1 << 44) // granule), min_size=2, max_size=8, unique=True))
    cuts.sort()
    pairs = list(zip(cuts[0::2], cuts[1::2], strict=False))
    return [(lo * granule, hi * granule - 1) for lo, hi in pairs if hi > lo]


@settings(max_examples=500, deadline=None)
@given(ranges=dax_ranges(), block_size=BLOCK_SIZES)
def test_kmem_hotplug_blocks_match_the_model(ranges: list[tuple[int, int]], block_size: int) -> None:
    sim = hotplug_indexes(ranges, block_size)
    exclusive = [(lo, end + 1) for lo, end in ranges]
    assert sim == kmem_blocks(exclusive, block_size)
    dev = DaxDevice(
        name="dax0.0", path="/sys/devices/platform/e820_pmem/ndbus0/region0/dax0.0/dax0.0", region_id=0,
        region_path=None, size=sum(hi - lo for lo, hi in exclusive), resource=ranges[0][0] if ranges else None,
        align=None, target_node=1, numa_node=0, driver="kmem", dev=None, source="nvdimm", namespace=None,
        mappings=tuple(DaxMappingRange(lo, end, 0) for lo, end in ranges), memmap_on_memory=None, blocks=(),
    )
    assert sim == (dev.hotplug_blocks(block_size) if ranges else [])
    # range by range, the planners' (first, count) and the simulator's trimmed range agree
    for lo, end in ranges:
        first, count = sizes.kmem_blocks(lo, end + 1, block_size)
        trimmed = hotplug_ranges([(lo, end)], block_size)
        if count == 0:
            assert trimmed == []
        else:
            assert trimmed == [(first * block_size, (first + count) * block_size)]


@settings(max_examples=300, deadline=None)
@given(start=starts, size=st.integers(min_value=1, max_value=1 << 40), block_size=BLOCK_SIZES)
def test_single_range_trim_matches_the_product(start: int, size: int, block_size: int) -> None:
    """A device without mappingN (resource + size), unaligned at both ends."""
    assert hotplug_indexes([(start, start + size - 1)], block_size) == kmem_blocks([(start, start + size)], block_size)
