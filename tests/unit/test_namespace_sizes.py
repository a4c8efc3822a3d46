"""The namespace size math (pmemctl.ops.sizes): pure, no filesystem."""

from __future__ import annotations

import random

import pytest

from pmemctl.ops.sizes import (
    Extent,
    GiB,
    MiB,
    RegionGeometry,
    check_size,
    exact_size,
    granule,
    kmem_blocks,
    max_size,
    min_size,
    pfn_layout,
    plan_ram,
    ram_of,
    suggestion,
    usable_size,
    valid_sizes,
)

# optane-2s region1: three 128 GiB DIMMs interleaved, region align 48M (16M x 3),
# two namespaces (48G sector, 96G devdax) at the start, 240G free after them.
OPTANE_BASE = 0x8000000000
OPTANE = RegionGeometry(
    name="region1", size=384 * GiB, available=240 * GiB, align=48 * MiB, ways=3, labeled=True,
    start=OPTANE_BASE, used=(Extent(OPTANE_BASE, 48 * GiB), Extent(OPTANE_BASE + 48 * GiB, 96 * GiB)),
)


# -- the info block (kernel-abi.md §5.2) ------------------------------------


def test_pfn_layout_matches_the_documented_samples():
    # "4 GiB -> 4225761280 (doc sample); 16 GiB -> 16909336576 (data start =
    # namespace start + 0x10200000)"
    assert pfn_layout(0, 4 * GiB).usable == 4225761280
    lay = pfn_layout(0x240000000, 16 * GiB)
    assert lay.usable == 16909336576
    assert lay.offset == 0x10200000
    assert lay.data_start == 0x240000000 + 0x10200000


def test_pfn_layout_qemu_guest():
    # real-kernel-lab: a 3968M label-less namespace at 0x100000000 with 2M align
    # keeps 4,093,640,704 bytes at 0x104000000; kmem adds memory33-memory62
    lay = pfn_layout(0x100000000, 3968 * MiB, 2 * MiB)
    assert lay.data_start == 0x104000000
    assert lay.usable == 4093640704
    assert ram_of(0x100000000, 3968 * MiB, 2 * MiB, 128 * MiB) == (33, 30)


def test_pfn_layout_unaligned_start_and_end():
    # a 1G align with a start that is not 1G aligned: the end is truncated too
    lay = pfn_layout(0x40000000 + 48 * MiB, 3 * GiB, 1 * GiB)
    assert lay.data_start % GiB == 0
    assert (lay.data_start + lay.usable) % GiB == 0
    assert lay.end_trunc == 48 * MiB
    assert lay.offset + lay.usable + lay.end_trunc == 3 * GiB


def test_map_mem_reserves_only_the_info_block():
    assert pfn_layout(0, 4 * GiB, map_mode="mem").offset == 2 * MiB


def test_usable_size_per_mode():
    assert usable_size("raw", 0, 4 * GiB) == 4 * GiB
    assert usable_size("devdax", 0, 4 * GiB) == 4225761280
    assert usable_size("fsdax", 0, 4 * GiB) == 4225761280
    assert usable_size("sector", 0, 4 * GiB) is None


def test_kmem_blocks_trims_to_whole_blocks():
    bs = 128 * MiB
    assert kmem_blocks(0, 4 * bs, bs) == (0, 4)
    assert kmem_blocks(1, 4 * bs, bs) == (1, 3)
    assert kmem_blocks(1, 4 * bs - 1, bs) == (1, 2)
    assert kmem_blocks(bs + 1, 2 * bs - 1, bs) == (2, 0)


# -- sizes a region takes (kernel-abi.md §3.2) --------------------------------


def test_granule_is_region_align_and_mode_align_times_ways():
    assert granule(OPTANE, "devdax") == 48 * MiB  # lcm(48M, 2M x 3)
    assert granule(OPTANE, "devdax", 1 * GiB) == 3 * GiB  # lcm(48M, 1G x 3)
    assert granule(OPTANE, "raw") == 48 * MiB
    one_way = RegionGeometry("r", 16 * GiB, 16 * GiB, 16 * MiB, 1, True, 0)
    assert granule(one_way, "fsdax") == 16 * MiB
    assert granule(one_way, "fsdax", 1 * GiB) == 1 * GiB


def test_min_and_max_sizes():
    assert min_size(OPTANE, "devdax") == 48 * MiB
    assert max_size(OPTANE, "devdax") == 240 * GiB
    small = RegionGeometry("r", 64 * MiB, 64 * MiB, 16 * MiB, 1, True, 0)
    assert min_size(small, "raw") == 16 * MiB
    assert min_size(small, "devdax") == 16 * MiB  # 14M usable after the 2M offset
    # with a 1G align the namespace needs room for the offset and one 1G page
    big_align = RegionGeometry("r", 16 * GiB, 16 * GiB, 16 * MiB, 1, True, 0)
    assert min_size(big_align, "devdax", 1 * GiB) == 2 * GiB


def test_check_size_accepts_valid_sizes():
    assert check_size(OPTANE, "devdax", 96 * GiB).ok
    assert check_size(OPTANE, "devdax", 240 * GiB).ok
    assert check_size(OPTANE, "sector", 48 * MiB).ok


def test_check_size_misaligned_suggests_neighbours():
    v = check_size(OPTANE, "devdax", 100 * GiB)
    assert not v.ok
    assert "not a multiple of 48M" in (v.problem or "")
    assert v.suggestions == (102384 * MiB, 102432 * MiB)
    assert all(s % (48 * MiB) == 0 for s in v.suggestions)


def test_check_size_too_big_suggests_the_largest():
    v = check_size(OPTANE, "devdax", 300 * GiB)
    assert not v.ok and "does not fit" in (v.problem or "")
    assert v.suggestions == (240 * GiB,)


def test_check_size_too_small_suggests_the_smallest():
    v = check_size(OPTANE, "fsdax", 8 * MiB)
    assert not v.ok and "below the smallest" in (v.problem or "")
    assert v.suggestions == (48 * MiB,)


def test_check_size_full_region():
    full = RegionGeometry("r", 4 * GiB, 8 * MiB, 16 * MiB, 1, True, 0)
    v = check_size(full, "devdax", 16 * MiB)
    assert not v.ok and "less than the smallest" in (v.problem or "") and v.suggestions == ()


def test_predicted_start_is_first_fit():
    base = 0x100000000
    geom = RegionGeometry(
        "r", 16 * GiB, 8 * GiB, 16 * MiB, 1, True, base,
        used=(Extent(base + 1 * GiB, 4 * GiB), Extent(base + 7 * GiB, 4 * GiB)),
    )
    assert geom.predicted_start(1 * GiB) == base  # the 1G hole at the start
    assert geom.predicted_start(2 * GiB) == base + 5 * GiB  # the 2G hole between
    assert geom.predicted_start(5 * GiB) == base + 11 * GiB  # the tail
    unknown = RegionGeometry("r", 16 * GiB, 16 * GiB, 16 * MiB, 1, True, None)
    assert unknown.predicted_start(1 * GiB) is None


# -- the system-ram planner -----------------------------------------------------


def test_plan_ram_on_an_interleaved_region():
    p = plan_ram(OPTANE, 64 * GiB, 2 * GiB)
    assert p.exact and p.problem is None
    assert p.ns_size == 66 * GiB
    assert p.start == OPTANE_BASE + 144 * GiB
    first, count = ram_of(p.start, p.ns_size, 2 * MiB, 2 * GiB)
    assert (first, count) == (p.first_block, 32)
    # one granule less gives fewer blocks: it is the smallest
    assert ram_of(p.start, p.ns_size - 48 * MiB, 2 * MiB, 2 * GiB)[1] < 32


def test_plan_ram_more_than_the_region_holds():
    p = plan_ram(OPTANE, 240 * GiB, 2 * GiB)
    assert not p.exact
    assert p.most == (118, 240 * GiB)
    assert p.nearest == ((118, 240 * GiB),)
    assert "at most 118 block(s)" in (p.problem or "")


def test_plan_ram_granule_coarser_than_blocks_has_no_exact_size():
    # 4 ways x 1G align: sizes step by 4G, while blocks are 128M
    geom = RegionGeometry("r", 64 * GiB, 64 * GiB, 64 * MiB, 4, True, 0x1000000000)
    p = plan_ram(geom, 128 * MiB, 128 * MiB, 1 * GiB)
    assert not p.exact and p.ns_size is None
    assert p.nearest and all(n > 1 for n, _ in p.nearest)
    assert "not small enough" in (p.problem or "") or "more than one" in (p.problem or "")


def test_plan_ram_small_remainder_holds_no_block():
    # 48M free with 128M blocks: no namespace can hold a whole block
    geom = RegionGeometry("r", 4 * GiB, 48 * MiB, 16 * MiB, 1, True, 0)
    p = plan_ram(geom, 128 * MiB, 128 * MiB)
    assert not p.exact and p.most is None
    assert "no room" in (p.problem or "")


def test_plan_ram_rejects_partial_blocks():
    with pytest.raises(ValueError):
        plan_ram(OPTANE, 3 * GiB, 2 * GiB)


def _brute(geom: RegionGeometry, bs: int, align: int) -> dict[int, int]:
    """blocks -> the smallest valid size giving exactly that many."""
    out: dict[int, int] = {}
    for size in valid_sizes(geom, "devdax", align):
        n = ram_of(geom.predicted_start(size) or 0, size, align, bs)[1]
        out.setdefault(n, size)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_plan_ram_agrees_with_brute_force_on_awkward_regions(seed):
    """The block count is not monotonic in the size (the memmap grows by 1/64
    and can push the data start over a block boundary): compare the planner
    with an exhaustive walk on odd interleaves, starts and remainders."""
    rnd = random.Random(seed)
    for _ in range(25):
        ways = rnd.choice([1, 2, 3, 4, 6])
        region_align = rnd.choice([16 * MiB, 4 * MiB * ways, 16 * MiB * ways])
        bs = rnd.choice([128 * MiB, 256 * MiB, 1 * GiB, 2 * GiB])
        align = rnd.choice([2 * MiB, 1 * GiB, 4096])
        base = rnd.choice([0, 4 * GiB, 0x2000000000]) + rnd.choice([0, 16 * MiB, 48 * MiB, 144 * MiB])
        used = rnd.choice([0, 1 * GiB, 3 * GiB + 48 * MiB])
        free = rnd.choice([2 * GiB, 5 * GiB + 16 * MiB, 17 * GiB])
        geom = RegionGeometry("r", used + free, free, region_align, ways, True, base,
                              (Extent(base, used),) if used else ())
        if max_size(geom, "devdax", align) < min_size(geom, "devdax", align):
            continue
        truth = _brute(geom, bs, align)
        most = max(truth)
        for want in range(1, most + 2):
            p = plan_ram(geom, want * bs, bs, align)
            assert (p.ns_size if p.exact else None) == truth.get(want), (geom, bs, align, want)
            if p.most is not None:
                assert p.most == (most, truth[most])


# -- formatting -----------------------------------------------------------------


def test_size_formatting():
    assert exact_size(96 * GiB) == "96G"
    assert exact_size(102384 * MiB) == "102384M"
    assert exact_size(12345) == "12345"
    assert suggestion(96 * GiB) == "96G"
    assert suggestion(102384 * MiB) == "102384M (about 100G)"  # readable as every command prints sizes
    assert suggestion(102384 * MiB, 102432 * MiB) == "102384M or 102432M (both about 100G)"
    assert suggestion(3968 * MiB, 4 * GiB) == "3968M (about 3.9G) or 4G"
