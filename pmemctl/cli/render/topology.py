"""Text face of ``pmemctl topology``: nodes, distances, tiers, policy,
warnings, the evidence behind each node kind, and ready-to-use node lists."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pmemctl.cli.render.common import DASH, opt, size, yes_no
from pmemctl.cli.render.doc import Block, Column, Document, KeyValues, Lines, table
from pmemctl.model.tiers import tier_adistance
from pmemctl.units import format_cpulist

if TYPE_CHECKING:  # pragma: no cover
    from pmemctl.model.records import NumaNode
    from pmemctl.ops.read import TopologyView

NODE_COLUMNS = (
    Column("NODE", "right"),
    Column("KIND"),
    Column("CPUS", wrap=True),
    Column("MEMTOTAL", "right", drop=1),
    Column("MEMFREE", "right", drop=3),
    Column("BLOCKS", "right", drop=2),
    Column("ZONES", drop=5),
    Column("TIER", "right", drop=4),
    Column("DAX"),
    Column("READ-NS", "right", drop=6),
    Column("WRITE-NS", "right", drop=7),
    Column("READ-MiB/s", "right", drop=8),
    Column("WRITE-MiB/s", "right", drop=9),
)


def _node_row(n: "NumaNode") -> tuple[str, ...]:
    # CPU initiators (access1) describe what a program sees; fall back to access0.
    acc = n.access1 or n.access0
    zones = ",".join(f"{z}:{c}" for z, c in n.zone_blocks.items())
    return (
        str(n.id),
        n.kind.value,
        format_cpulist(n.cpus) or DASH,
        size(n.mem_total),
        size(n.mem_free),
        f"{n.blocks_online}/{n.blocks_total}",
        zones or DASH,
        opt(n.memory_tier),
        ",".join(n.dax_devices) or DASH,
        opt(acc and acc.read_latency),
        opt(acc and acc.write_latency),
        opt(acc and acc.read_bandwidth),
        opt(acc and acc.write_bandwidth),
    )


def topology_document(view: "TopologyView") -> Document:
    topo = view.topology
    nodes = view.nodes
    blocks: list[Block] = [table(NODE_COLUMNS, [_node_row(n) for n in nodes], "NUMA nodes")]

    ids = [n.id for n in nodes]
    if ids:
        dist_cols = [Column("NODE", "right")] + [Column(str(i), "right") for i in ids]
        dist_rows = [[str(n.id)] + [opt(n.distances.get(i)) for i in ids] for n in nodes]
        blocks.append(table(dist_cols, dist_rows, "Distances"))

    kind_of = {n.id: n.kind.value for n in nodes}
    if topo.tiers:
        tier_rows = [
            (
                str(t.id),
                format_cpulist(t.nodes) or DASH,
                ",".join(sorted({kind_of.get(i, "?") for i in t.nodes})) or DASH,
                "{}-{}".format(*tier_adistance(t.id)),
            )
            for t in topo.tiers
        ]
        blocks.append(table((Column("TIER", "right"), Column("NODES"), Column("KINDS"), Column("ADISTANCE")),
                            tier_rows, "Memory tiers"))
    else:
        blocks.append(Lines(("none (this kernel has no /sys/devices/virtual/memory_tiering)",), "Memory tiers"))
    if view.interleave is not None:
        wi = view.interleave
        rows = [(str(n), str(w)) for n, w in wi.weights]
        title = "Weighted interleave" + ("" if wi.auto is None else f" (auto: {'yes' if wi.auto else 'no'})")
        blocks.append(table((Column("NODE", "right"), Column("WEIGHT", "right")), rows, title))

    p = topo.policy
    blocks.append(KeyValues((
        ("auto_online_blocks", opt(p.auto_online_blocks)),
        ("memhp_default_state", opt(p.memhp_default_state)),
        ("movable_node", yes_no(p.movable_node)),
        ("online_policy", opt(p.online_policy)),
        ("auto_movable_ratio", opt(p.auto_movable_ratio)),
        ("memmap_on_memory", opt(p.memmap_on_memory)),
        ("demotion_enabled", yes_no(p.demotion_enabled)),
        ("memory hot-remove", yes_no(p.hotremove)),
        ("kmem driver", yes_no(p.kmem_driver)),
    ), "Policy"))

    if view.warnings:
        blocks.append(Lines(tuple(view.warnings), "Warnings", indent=2, style="yellow"))

    evidence = [f"node {n.id} ({n.kind.value}): {'; '.join(n.evidence) or 'no evidence'}" for n in nodes]
    if evidence:
        blocks.append(Lines(tuple(evidence), "Evidence", indent=2))

    nl = view.node_lists
    hints = [
        ("DRAM only", f"numactl --membind={nl.dram}" if nl.dram else "no DRAM node with memory"),
        ("All memory", f"numactl --membind={nl.all_memory}" if nl.all_memory else "no node with memory"),
    ]
    if nl.pmem:
        hints.append(("PMEM only", f"numactl --membind={nl.pmem}"))
    if nl.cxl:
        hints.append(("CXL only", f"numactl --membind={nl.cxl}"))
    blocks.append(KeyValues(tuple(hints), "Node lists"))
    return Document.of(blocks)
