"""/proc/zoneinfo's spans (pmemctl/model/zoneinfo.py, issue 14): an online
block inside one zone's span alone is in that zone, and a range no
populated zone spans holds no online block.  Checked on hand-written text
in the kernel's format, and against every simulated machine's own blocks."""

from __future__ import annotations

import pytest

from pmemctl.errors import BadAttribute
from pmemctl.model.discover import discover
from pmemctl.model.zoneinfo import parse_zoneinfo, read_zoneinfo
from pmemctl.sim.cases import ALL_CASES, Case, TreeCache
from pmemctl.sysfs.door import SysfsRoot

PAGE = 4096
BLOCK = 128 << 20
PAGES_PER_BLOCK = BLOCK // PAGE


def zone(node: int, name: str, present: int, spanned: int = 0, start: int | None = None) -> str:
    """One zone's section as mm/vmstat.c prints it (the lines that matter here,
    and a few around them)."""
    text = (f"Node {node}, zone {name:>8}\n  pages free     {present}\n        min      0\n"
            f"        spanned  {spanned}\n        present  {present}\n        managed  {present}\n")
    if present:
        text += "  pagesets\n    cpu: 0\n              count:    0\n  node_unreclaimable:  0\n"
        if start is not None:
            text += f"  start_pfn:           {start}\n"
    return text


def blocks(first: int, count: int) -> tuple[int, int]:
    """(start_pfn, spanned) of ``count`` blocks from block ``first``."""
    return first * PAGES_PER_BLOCK, count * PAGES_PER_BLOCK


def test_present_and_spans_of_populated_zones_only() -> None:
    movable_start, movable_pages = blocks(40, 8)
    text = (zone(0, "DMA", 3998, 4095, 1) + zone(0, "DMA32", 700000, 1044480, 4096)
            + zone(0, "Normal", 0) + zone(0, "Movable", 0) + zone(0, "Device", 0)
            + zone(1, "Normal", 0) + zone(1, "Movable", movable_pages, movable_pages, movable_start)
            + zone(1, "Device", 0, 99999))  # ZONE_DEVICE: spanned, never present
    info = parse_zoneinfo(text, PAGE)
    assert info.present[0] == {"DMA": 3998 * PAGE, "DMA32": 700000 * PAGE, "Normal": 0, "Movable": 0, "Device": 0}
    assert info.present[1] == {"Normal": 0, "Movable": movable_pages * PAGE, "Device": 0}
    assert info.free[0]["DMA"] == 3998 * PAGE and info.free[1]["Movable"] == movable_pages * PAGE
    assert info.spans == {0: [("DMA", PAGE, 4096 * PAGE), ("DMA32", 4096 * PAGE, (4096 + 1044480) * PAGE)],
                          1: [("Movable", 40 * BLOCK, 48 * BLOCK)]}
    assert info.sole_zones(1, BLOCK) == [(40, 48, "Movable")]
    assert info.sole_zones(7, BLOCK) == []  # a node zoneinfo does not list
    assert info.no_online_memory_in([(48 * BLOCK, 60 * BLOCK), (33 * BLOCK, 40 * BLOCK)])
    assert not info.no_online_memory_in([(47 * BLOCK, 49 * BLOCK)])
    assert not info.no_online_memory_in([(31 * BLOCK, 33 * BLOCK)])  # the end of node 0's DMA32


def test_overlapping_zones_name_no_block() -> None:
    """Normal onlined in the middle of Movable: the spans overlap, so no
    block's zone follows from them (valid_zones is read)."""
    m_start, m_pages = blocks(40, 8)
    n_start, n_pages = blocks(43, 1)
    text = zone(1, "Normal", n_pages, n_pages, n_start) + zone(1, "Movable", m_pages - n_pages, m_pages, m_start)
    assert parse_zoneinfo(text, PAGE).sole_zones(1, BLOCK) == []


def test_adjacent_zones_and_a_block_a_span_covers_in_part() -> None:
    n_start, n_pages = blocks(40, 4)
    m_start, m_pages = blocks(44, 4)
    half = PAGES_PER_BLOCK // 2
    text = (zone(1, "Normal", n_pages, n_pages, n_start)
            + zone(1, "Movable", m_pages + half, m_pages + half, m_start))  # ends half-way into block 48
    assert parse_zoneinfo(text, PAGE).sole_zones(1, BLOCK) == [(40, 44, "Normal"), (44, 48, "Movable")]


def test_a_populated_zone_without_start_pfn_leaves_spans_unknown() -> None:
    start, pages = blocks(40, 8)
    info = parse_zoneinfo(zone(0, "Normal", 5, 5, 1) + zone(1, "Movable", pages, pages, None), PAGE)
    assert info.spans is None
    assert info.present[1] == {"Movable": pages * PAGE}
    assert info.sole_zones(1, BLOCK) == []
    assert not info.no_online_memory_in([(0, 1)])


def test_a_garbled_number_names_the_file() -> None:
    with pytest.raises(BadAttribute) as err:
        parse_zoneinfo(zone(1, "Movable", 8, 8, 0).replace("present  8", "present  x8"), PAGE)
    assert "/proc/zoneinfo" in str(err.value)


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.id)
def test_spans_agree_with_every_online_blocks_valid_zones(sim_trees: TreeCache, case: Case) -> None:
    """Every online block the spans place is in the zone its valid_zones
    names, and every dax device range they call empty has no online block."""
    root, _ = sim_trees.get(case)
    door = SysfsRoot(str(root))
    topo = discover(door)
    info = read_zoneinfo(door)
    bs = topo.policy.block_size
    assert info is not None and bs
    placed = 0
    for b in topo.blocks:
        if not b.online or b.node is None:
            continue
        for first, end, name in info.sole_zones(b.node, bs):
            if first <= b.index < end:
                assert b.zones == (name,), b
                placed += 1
    assert placed or not any(b.online and b.device for b in topo.blocks)
    for dev in topo.dax_devices:
        if dev.blocks and info.no_online_memory_in([(i * bs, (i + 1) * bs) for i in dev.blocks]):
            assert not any(b.online for b in topo.blocks if b.device == dev.name), dev.name
