"""Text face of ``pmemctl list``: one table, indented bus → region →
namespace → dax device, then the standalone (hmem/CXL) dax devices."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from pmemctl.cli.render.common import DASH, dax_block_counts, enabled, opt, size
from pmemctl.cli.render.doc import Column, Document, Lines, table

if TYPE_CHECKING:  # pragma: no cover
    from pmemctl.model.records import DaxDevice
    from pmemctl.ops.read import ListView

COLUMNS = (
    Column("NAME"),
    Column("TYPE"),
    Column("MODE"),
    Column("SIZE", "right"),
    Column("NODE", "right"),
    Column("TARGET", "right", drop=2),
    Column("STATE"),
    Column("MEMORY", "right", drop=1),
    Column("DETAIL", wrap=True),
)

_INDENT = "  "


def _dax_row(dev: "DaxDevice", depth: int, counts: Mapping[str, tuple[int, int]]) -> tuple[str, ...]:
    total, online = counts.get(dev.name, (0, 0))
    detail = [f"source {dev.source}"] if dev.namespace is None else []
    if dev.mode.value == "devdax":
        detail.append(f"/dev/{dev.name}")
    return (
        _INDENT * depth + dev.name,
        "dax",
        dev.mode.value,
        size(dev.size),
        opt(dev.numa_node),
        opt(dev.target_node),
        dev.driver or "unbound",
        f"{online}/{total} online" if total else DASH,
        ", ".join(detail) or DASH,
    )


def list_document(view: "ListView", *, filtered: bool) -> Document:
    topo = view.topology
    counts = dax_block_counts(topo)
    rows: list[tuple[str, ...]] = []
    for bv in view.buses:
        bus = bv.bus
        detail = f"provider {bus.provider or DASH}" + (f", dimms {' '.join(bus.dimms)}" if bus.dimms else "")
        rows.append((bus.name, "bus", DASH, DASH, DASH, DASH, DASH, DASH, detail))
        for rv in bv.regions:
            r = rv.region
            rdetail = f"available {size(r.available_size)}" if r.available_size is not None else DASH
            rows.append((
                _INDENT + r.name, "region", r.type, size(r.size), opt(r.numa_node),
                opt(r.target_node), enabled(r.enabled), DASH, rdetail,
            ))
            for ns, dev in rv.namespaces:
                ndetail = []
                if ns.blockdev:
                    ndetail.append(f"/dev/{ns.blockdev}")
                if ns.alt_name:
                    ndetail.append(f"name {ns.alt_name}")
                state = "idle" if ns.is_seed_idle else enabled(ns.enabled)
                rows.append((
                    _INDENT * 2 + ns.name, "namespace", ns.mode.value, size(ns.size),
                    opt(ns.numa_node), opt(ns.target_node), state, DASH, ", ".join(ndetail) or DASH,
                ))
                if dev is not None:
                    rows.append(_dax_row(dev, 3, counts))
    for dev in view.standalone:
        rows.append(_dax_row(dev, 0, counts))
    if not rows:
        what = "nothing matches the filters" if filtered else "no NVDIMM buses or dax devices found"
        return Document.of([Lines((f"{what} under {topo.sysroot}",))])
    return Document.of([table(COLUMNS, rows)])
