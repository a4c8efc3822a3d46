"""Layout arithmetic against the facts the lab and the kernel ABI give."""

from __future__ import annotations

import pytest

from pmemctl.sim import layout
from pmemctl.sim.layout import GiB, MiB


def test_pfn_reservation_matches_qemu_lab() -> None:
    # real-kernel-lab.md: 3968 MiB namespace at 0x100000000, --align 2M ->
    # dax0.0 of 4,093,640,704 bytes at 0x104000000.
    offset, trunc = layout.pfn_reservation(0x100000000, 3968 * MiB, 2 * MiB)
    assert 0x100000000 + offset == 0x104000000
    assert trunc == 0
    assert layout.pfn_usable_size(0x100000000, 3968 * MiB, 2 * MiB) == 4_093_640_704


def test_pfn_reservation_matches_abi_checks() -> None:
    # kernel-abi.md §5.2: 16 GiB -> 16909336576, data at start + 0x10200000.
    start = 0x140000000
    offset, _ = layout.pfn_reservation(start, 16 * GiB, 2 * MiB)
    assert offset == 0x10200000
    assert layout.pfn_usable_size(start, 16 * GiB, 2 * MiB) == 16909336576
    # 4 GiB -> 4225761280 (ndctl documentation sample).
    assert layout.pfn_usable_size(start, 4 * GiB, 2 * MiB) == 4225761280


def test_pfn_map_mem_reserves_only_the_info_block() -> None:
    offset, _ = layout.pfn_reservation(0x100000000, 4 * GiB, 2 * MiB, "mem")
    assert offset == 2 * MiB
    with pytest.raises(ValueError):
        layout.pfn_reservation(0, GiB, 2 * MiB, "disk")


def test_kmem_hotplug_range_trims_to_blocks() -> None:
    # real-kernel-lab.md: blocks memory33-memory62 = 0x108000000-0x1f7ffffff.
    lo_hi = layout.kmem_hotplug_range(0x104000000, 0x1F7FFFFFF, 128 * MiB)
    assert lo_hi == (0x108000000, 0x1F8000000)
    assert list(layout.block_indexes(*lo_hi, 128 * MiB)) == list(range(33, 63))
    assert layout.kmem_hotplug_range(0x104000000, 0x107FFFFFF, 128 * MiB) is None


def test_blocks_touching_counts_partial_blocks() -> None:
    ranges = [(0x1000, 0x9FC00), (0x100000, 0x7FFE0000)]
    assert layout.blocks_touching(ranges, 128 * MiB) == list(range(16))


@pytest.mark.parametrize(
    ("lo", "hi", "zone"),
    [
        (0, 128 * MiB, "none"),  # memory0 spans DMA and DMA32
        (128 * MiB, 256 * MiB, "DMA32"),
        (4 * GiB, 4 * GiB + 128 * MiB, "Normal"),
        (0, 2 * GiB, "none"),
        (2 * GiB, 6 * GiB, "none"),
    ],
)
def test_boot_zone(lo: int, hi: int, zone: str) -> None:
    assert layout.boot_zone(lo, hi) == zone


def test_offline_valid_zones_follow_zone_spans() -> None:
    bs = 128 * MiB
    # A fresh kmem node: nothing online -> Normal first.
    assert layout.offline_valid_zones(40 * bs, 41 * bs, {}) == "Normal Movable"
    assert layout.offline_valid_zones(40 * bs, 41 * bs, {}, movable_node=True) == "Movable Normal"
    spans = layout.zone_spans([("Movable", 33 * bs, 34 * bs), ("Movable", 50 * bs, 51 * bs)])
    # Inside the Movable span only -> Movable first.
    assert layout.offline_valid_zones(40 * bs, 41 * bs, spans) == "Movable Normal"
    # Outside every span -> the kernel zone first.
    assert layout.offline_valid_zones(60 * bs, 61 * bs, spans) == "Normal Movable"
    both = layout.zone_spans([("Movable", 33 * bs, 34 * bs), ("Normal", 30 * bs, 50 * bs)])
    assert layout.offline_valid_zones(40 * bs, 41 * bs, both) == "Normal Movable"
    # Low memory: the kernel zone is DMA32.
    low = layout.zone_spans([("DMA32", 1 * bs, 2 * bs), ("DMA32", 9 * bs, 10 * bs)])
    assert layout.offline_valid_zones(5 * bs, 6 * bs, low) == "DMA32 Movable"


def test_btt_usable_size_is_a_little_smaller() -> None:
    raw = 48 * GiB
    usable = layout.btt_usable_size(raw, 4096)
    assert raw * 0.99 < usable < raw
    assert usable % 4096 == 0
    assert layout.btt_usable_size(8 * MiB) == 0  # below one arena


@pytest.mark.parametrize(
    ("cpus", "nr", "text"),
    [((0, 1), 2, "3"), ((), 2, "0"), (range(16), 32, "0000ffff"), (range(16, 32), 64, "00000000,ffff0000")],
)
def test_cpumask_hex(cpus: tuple[int, ...], nr: int, text: str) -> None:
    assert layout.cpumask_hex(tuple(cpus), nr) == text


def test_stable_ids_are_deterministic() -> None:
    assert layout.stable_uuid("a", "b") == layout.stable_uuid("a", "b")
    assert layout.stable_uuid("a", "b") != layout.stable_uuid("a", "c")
    assert 0 <= layout.stable_u64("x") < 2**64
