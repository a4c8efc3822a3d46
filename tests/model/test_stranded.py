"""Stranded kmem memory: found in /proc/iomem, classified, warned about.

The shape of /proc/iomem after `echo daxX.Y > .../dax_pmem/unbind` with the
memory online is the real 6.1 guest's (tests/vm, the namespaces boot).
"""

from __future__ import annotations

from pathlib import Path

from pmemctl.commandline import command_line
from pmemctl.model.discover import discover, read_stranded
from pmemctl.model.records import BlockState, DaxDevice, MemoryBlock, NodeKind
from pmemctl.ops.read import topology_view
from pmemctl.sim.build import materialise
from pmemctl.sim.kernel import SimulatedKernel
from pmemctl.sysfs import paths
from pmemctl.sysfs.door import SysfsRoot

BS = 128 << 20

REAL_IOMEM = """\
00001000-0009fbff : System RAM
00100000-7ffdefff : System RAM
100000000-1f7ffffff : Persistent Memory
  100000000-1013fffff : namespace0.2
  101400000-147ffffff : dax0.2
  150000000-167ffffff : dax0.3
    150000000-167ffffff : System RAM (kmem)
"""


class _Door(SysfsRoot):
    """A door whose /proc/iomem is the given text (nothing else is read)."""

    def __init__(self, root: Path, iomem: str) -> None:
        super().__init__(str(root))
        self._iomem = iomem

    def read_optional(self, kpath: str):  # type: ignore[override]
        return self._iomem if kpath == paths.PROC_IOMEM else None


def _blocks(indexes: range) -> list[MemoryBlock]:
    return [MemoryBlock(i, BlockState.ONLINE, ("Movable",), True, 1, None) for i in indexes]


def _kmem_device(name: str) -> DaxDevice:
    return DaxDevice(name, "/x", 0, None, 0, None, None, 1, 0, "kmem", None, "nvdimm", None, (), None, ())


def test_the_real_guests_iomem(tmp_path: Path) -> None:
    door = _Door(tmp_path, REAL_IOMEM)
    [st] = read_stranded(door, [], _blocks(range(40, 46)), BS)
    assert (st.device, st.start, st.end, st.source) == ("dax0.3", 0x150000000, 0x167FFFFFF, "nvdimm")
    assert st.blocks == (42, 43, 44)


def test_memory_kmem_still_holds_is_not_stranded(tmp_path: Path) -> None:
    door = _Door(tmp_path, REAL_IOMEM)
    assert read_stranded(door, [_kmem_device("dax0.3")], _blocks(range(40, 46)), BS) == []


def test_addresses_hidden_from_non_root_report_nothing(tmp_path: Path) -> None:
    """Without CAP_SYS_ADMIN every /proc/iomem range reads 00000000-00000000."""
    import re

    text = re.sub(r"[0-9a-f]+-[0-9a-f]+ :", "00000000-00000000 :", REAL_IOMEM)
    assert read_stranded(_Door(tmp_path, text), [], _blocks(range(40, 46)), BS) == []


def test_cxl_and_soft_reserved_sources(tmp_path: Path) -> None:
    text = ("840000000-103fffffff : CXL Window 0\n"
            "  840000000-c3fffffff : region0\n"
            "    840000000-c3fffffff : dax0.0\n"
            "      840000000-c3fffffff : System RAM (kmem)\n"
            "1040000000-123fffffff : Soft Reserved\n"
            "  1040000000-123fffffff : hmem.0\n"
            "    1040000000-123fffffff : dax1.0\n"
            "      1040000000-123fffffff : System RAM (kmem)\n")
    found = read_stranded(_Door(tmp_path, text), [], [], BS)
    assert [(s.device, s.source, s.blocks) for s in found] == [("dax0.0", "cxl", ()), ("dax1.0", "hmem", ())]


def _stranded_machine(tmp_path: Path) -> SimulatedKernel:
    """qemu-nvdimm at system-ram, then dax_pmem unbound with the memory online."""
    k = SimulatedKernel(materialise("qemu-nvdimm", tmp_path / "m", {"stage": "system-ram"}))
    holder = k.read("/sys/bus/nd/devices/namespace0.0/holder").strip()
    k.write("/sys/bus/nd/drivers/dax_pmem/unbind", holder)
    return k


def test_a_stranded_node_is_still_pmem_and_warned_about(tmp_path: Path) -> None:
    k = _stranded_machine(tmp_path)
    topo = discover(k)
    [st] = topo.stranded
    assert st.device == "dax0.0" and st.source == "nvdimm" and len(st.blocks) == 30
    node1 = topo.node(1)
    assert node1 is not None and node1.kind == NodeKind.PMEM
    assert any("stranded from dax0.0" in e for e in node1.evidence)
    view = topology_view(k)
    [warning] = [w for w in view.warnings if "dax0.0" in w]
    assert "stranded" in warning and command_line("offline", "--blocks", "33-62", sysroot=topo.sysroot) in warning


def test_offlined_stranded_memory_is_still_reported_but_not_in_use(tmp_path: Path) -> None:
    k = _stranded_machine(tmp_path)
    for i in range(33, 63):
        k.write(paths.memory_block(i) + "/state", "offline")
    [warning] = [w for w in topology_view(k).warnings if "dax0.0" in w]
    assert "until reboot" in warning and "offline and not in use" in warning
