"""The simulated kernel's nd bus reactions (pmemctl.sim.kernel.nd).

Each test drives a freshly materialised tree through the door
(:class:`SimulatedKernel`), writing exactly what ndctl writes (kernel-abi.md
§5.2/§5.3: values end in NUL, sizes in hex with a newline), and checks the
tree with pmemctl's own discovery.
"""

from __future__ import annotations

import errno
import uuid as uuidlib
from pathlib import Path
from typing import Callable

import pytest

from pmemctl.errors import KernelError
from pmemctl.model.discover import discover
from pmemctl.model.records import NamespaceMode
from pmemctl.sim import layout
from pmemctl.sim.build import materialise
from pmemctl.sim.kernel import SimulatedKernel
from pmemctl.sim.kernel import nd as nd_kernel
from pmemctl.sim.kernel.errors import WriteRefused, kstrtoull
from pmemctl.sim.kernel.state import ND_STATE_FILE
from pmemctl.sim.tree import load_devnodes
from pmemctl.sysfs import paths

BUS = "/sys/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0"
R0 = f"{BUS}/region0"
R1 = f"{BUS}/region1"
GiB = layout.GiB
ND_DRIVER_ORDER = ("nd_region", "nd_pmem", "nd_bus", "nvdimm", "dax_pmem")


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def optane(tmp_path: Path) -> SimulatedKernel:
    return SimulatedKernel(materialise("optane-2s", tmp_path / "optane"))


@pytest.fixture
def qemu(tmp_path: Path) -> Callable[[str], SimulatedKernel]:
    def make(stage: str) -> SimulatedKernel:
        return SimulatedKernel(materialise("qemu-nvdimm", tmp_path / f"qemu-{stage}", {"stage": stage}))

    return make


def new_uuid() -> str:
    return str(uuidlib.uuid4())


def errno_of(k: SimulatedKernel, kpath: str, value: str) -> int:
    """The errno a write fails with (0 when it succeeds)."""
    try:
        k.write(kpath, value)
    except KernelError as err:
        return err.errno
    return 0


def enable(k: SimulatedKernel, name: str) -> str:
    """ndctl's enable: write the name to every nd driver's bind until one takes it."""
    for drv in ND_DRIVER_ORDER:
        if errno_of(k, f"{paths.ND_DRIVERS}/{drv}/bind", name + "\0") == 0:
            return drv
    raise AssertionError(f"no nd driver accepted {name}")


def configure_ns(k: SimulatedKernel, region: str, ns: str, size: int, *, holder_class: str, name: str = "") -> None:
    """The namespace half of §5.2."""
    kp = f"{region}/{ns}"
    k.write(f"{kp}/uuid", new_uuid() + "\0")
    k.write(f"{kp}/alt_name", name + "\0")
    k.write(f"{kp}/size", f"{size:#x}\n\0")
    k.write(f"{kp}/sector_size", "512\n\0")
    k.write(f"{kp}/holder_class", holder_class + "\0")


def create_devdax(k: SimulatedKernel, region: str = R1, size: int = 12 * GiB, align: int = 2 * 1024 * 1024,
                  name: str = "") -> tuple[str, str]:
    """The exact write sequence of ``ndctl create-namespace -m devdax`` (§5.2)."""
    ns = k.read(f"{region}/namespace_seed")
    dax = k.read(f"{region}/dax_seed")
    configure_ns(k, region, ns, size, holder_class="dax", name=name)
    kp = f"{region}/{dax}"
    k.write(f"{kp}/uuid", new_uuid() + "\0")
    k.write(f"{kp}/mode", "pmem\0")
    k.write(f"{kp}/align", f"{align}\n\0")
    k.write(f"{kp}/namespace", ns + "\0")
    assert enable(k, dax) == "dax_pmem"
    return ns, dax


def destroy(k: SimulatedKernel, region: str, ns: str) -> None:
    """The exact write sequence of ``ndctl destroy-namespace -f`` (§5.3)."""
    holder = k.read(f"{region}/{ns}/holder")
    if holder:
        if k.exists(f"{region}/{holder}/driver"):
            k.write(f"{region}/{holder}/driver/unbind", holder + "\0")
        k.write(f"{region}/{holder}/namespace", "\n\0")
    k.write(f"{region}/{ns}/holder_class", "\0")
    k.write(f"{region}/{ns}/force_raw", "1\n\0")
    enable(k, ns)
    k.write(f"{region}/{ns}/force_raw", "0\n\0")
    k.write(f"{region}/{ns}/driver/unbind", ns + "\0")
    k.write(f"{region}/{ns}/size", "0\n\0")


def ns_record(k: SimulatedKernel, name: str):  # type: ignore[no-untyped-def]
    return next(n for n in discover(k).namespaces if n.name == name)


def iomem(k: SimulatedKernel) -> str:
    return k.read("/proc/iomem")


# --------------------------------------------------------------------------- routing


def test_kernel_routes_nd_writes_here() -> None:
    assert nd_kernel.handles(f"{R1}/namespace1.2/size")
    assert nd_kernel.handles("/sys/bus/nd/drivers/dax_pmem/bind")
    assert not nd_kernel.handles("/sys/bus/dax/drivers/kmem/bind")
    assert not nd_kernel.handles("/sys/devices/system/memory/memory40/state")


# --------------------------------------------------------------------------- §5.2 devdax


def test_create_devdax_sequence_gives_a_devdax_namespace(optane: SimulatedKernel) -> None:
    k = optane
    free_before = int(k.read(f"{R1}/available_size"))
    assert k.read(f"{R1}/namespace_seed") == "namespace1.2"
    assert k.read(f"{R1}/dax_seed") == "dax1.1"
    ns, dax = create_devdax(k, name="scratch")

    rec = ns_record(k, ns)
    assert rec.mode == NamespaceMode.DEVDAX
    assert rec.enabled and rec.holder == dax and rec.alt_name == "scratch"
    start = rec.resource
    assert start is not None and start % (16 * 1024 * 1024) == 0
    usable = layout.pfn_usable_size(start, 12 * GiB, 2 * 1024 * 1024)
    assert rec.usable_size == usable
    # the dax-bus device is named from the namespace and sits under the nd dax device
    assert rec.dax_device == "dax1.2"
    dev = next(d for d in discover(k).dax_devices if d.name == "dax1.2")
    assert dev.driver == "device_dax" and dev.size == usable and dev.namespace == ns
    assert dev.path == f"{R1}/{dax}/dax1.2"
    offset, _ = layout.pfn_reservation(start, 12 * GiB, 2 * 1024 * 1024)
    assert dev.resource == start + offset
    assert dev.target_node == 3 and dev.numa_node == 1 and dev.align == 2 * 1024 * 1024
    assert [(m.start, m.end) for m in dev.mappings] == [(start + offset, start + offset + usable - 1)]
    assert k.read(f"{R1}/{dax}/dax_region/id") == "1"
    assert k.read(f"{R1}/{dax}/size") == str(usable)
    # links and nodes a tool needs: /sys/bus/dax, /sys/dev/char, /dev
    major, minor = k.read(f"{dev.path}/dev").split(":")
    assert k.resolve(f"/sys/dev/char/{major}:{minor}") == dev.path
    assert k.resolve(f"{paths.DAX_DEVICES}/dax1.2") == dev.path
    assert any(n.path == "/dev/dax1.2" and n.type == "c" for n in load_devnodes(k.root))
    # seeds advanced, space allocated, iomem shows the claim
    assert k.read(f"{R1}/namespace_seed") == "namespace1.3"
    assert k.read(f"{R1}/dax_seed") == "dax1.2"
    assert k.exists(f"{R1}/namespace1.3/uuid") and k.read(f"{R1}/namespace1.3/size") == "0"
    assert int(k.read(f"{R1}/available_size")) == free_before - 12 * GiB
    assert int(k.read(f"{R1}/max_available_extent")) == free_before - 12 * GiB
    text = iomem(k)
    assert f"{start:x}-{start + offset - 1:x} : {ns}" in text
    assert f"{start + offset:x}-{start + offset + usable - 1:x} : dax1.2" in text


def test_namespace_mode_and_holder_follow_the_claim(optane: SimulatedKernel) -> None:
    k = optane
    configure_ns(k, R1, "namespace1.2", 4 * 48 * 1024 * 1024, holder_class="dax")
    assert k.read(f"{R1}/namespace1.2/mode") == "raw"
    k.write(f"{R1}/dax1.1/namespace", "namespace1.2\0")
    assert k.read(f"{R1}/namespace1.2/holder") == "dax1.1"
    assert k.read(f"{R1}/namespace1.2/mode") == "dax"
    k.write(f"{R1}/dax1.1/namespace", "\n\0")
    assert k.read(f"{R1}/namespace1.2/holder") == ""
    assert k.read(f"{R1}/namespace1.2/mode") == "raw"
    # the released seed stays (it is the seed) and is reset
    assert k.read(f"{R1}/dax1.1/mode") == "none" and k.read(f"{R1}/dax1.1/uuid") == ""


# --------------------------------------------------------------------------- §5.3 destroy


def test_destroy_sequence_returns_the_space(optane: SimulatedKernel) -> None:
    k = optane
    free_before = int(k.read(f"{R1}/available_size"))
    ns, dax = create_devdax(k)
    destroy(k, R1, ns)

    assert int(k.read(f"{R1}/available_size")) == free_before
    assert int(k.read(f"{R1}/max_available_extent")) == free_before
    # neither the namespace nor the nd dax device is a seed any more: both are gone
    assert not k.exists(f"{R1}/{ns}") and not k.exists(f"{paths.ND_DEVICES}/{ns}")
    assert not k.exists(f"{R1}/{dax}")
    assert not k.exists(f"{paths.DAX_DEVICES}/dax1.2")
    assert all(n.path not in ("/dev/dax1.2", "/dev/pmem1.2") for n in load_devnodes(k.root))
    assert k.read(f"{R1}/namespace_seed") == "namespace1.3"
    assert k.read(f"{R1}/dax_seed") == "dax1.2"
    names = [n.name for n in discover(k).namespaces if n.region == "region1"]
    assert sorted(names) == ["namespace1.0", "namespace1.1", "namespace1.3"]
    assert ns not in iomem(k) and "dax1.2" not in iomem(k)
    # the freed id is reused by the next seed (IDA: lowest free id)
    ns2, _ = create_devdax(k)
    assert ns2 == "namespace1.3" and k.read(f"{R1}/namespace_seed") == "namespace1.2"


def test_destroy_of_the_0th_namespace_keeps_the_device(optane: SimulatedKernel) -> None:
    k = optane
    ns = "namespace0.0"  # fsdax, enabled through pfn0.0
    size = int(k.read(f"{R0}/{ns}/size"))
    free_before = int(k.read(f"{R0}/available_size"))
    destroy(k, R0, ns)
    assert k.exists(f"{R0}/{ns}")  # id 0 stays, as the kernel keeps it
    assert k.read(f"{R0}/{ns}/size") == "0" and k.read(f"{R0}/{ns}/uuid") == ""
    assert not k.exists(f"{R0}/{ns}/resource")
    assert int(k.read(f"{R0}/available_size")) == free_before + size
    assert not k.exists(f"{R0}/pfn0.0")  # released non-seed pfn device unregistered
    assert "pmem0" not in [n.path.rsplit("/", 1)[1] for n in load_devnodes(k.root)]


# --------------------------------------------------------------------------- fsdax / sector / raw


def test_fsdax_through_the_pfn_seed(optane: SimulatedKernel) -> None:
    k = optane
    ns = k.read(f"{R1}/namespace_seed")
    pfn = k.read(f"{R1}/pfn_seed")
    assert pfn == "pfn1.0"
    configure_ns(k, R1, ns, 12 * GiB, holder_class="pfn")
    k.write(f"{R1}/{pfn}/uuid", new_uuid() + "\0")
    k.write(f"{R1}/{pfn}/mode", "pmem\0")
    k.write(f"{R1}/{pfn}/align", "2097152\n\0")
    k.write(f"{R1}/{pfn}/namespace", ns + "\0")
    assert enable(k, pfn) == "nd_pmem"
    rec = ns_record(k, ns)
    assert rec.mode == NamespaceMode.FSDAX and rec.enabled
    assert rec.usable_size == layout.pfn_usable_size(rec.resource or 0, 12 * GiB, 2 * 1024 * 1024)
    assert rec.blockdev == "pmem1.2"
    assert k.read(f"{R1}/{pfn}/block/pmem1.2/size") == str((rec.usable_size or 0) // 512)
    assert k.read(f"{R1}/pfn_seed") == "pfn1.1"
    assert any(n.path == "/dev/pmem1.2" and n.type == "b" for n in load_devnodes(k.root))
    assert k.resolve("/sys/class/block/pmem1.2") == f"{R1}/{pfn}/block/pmem1.2"


def test_fsdax_with_the_memmap_in_ram(optane: SimulatedKernel) -> None:
    k = optane
    ns, pfn = k.read(f"{R1}/namespace_seed"), k.read(f"{R1}/pfn_seed")
    configure_ns(k, R1, ns, 12 * GiB, holder_class="pfn")
    k.write(f"{R1}/{pfn}/uuid", new_uuid() + "\0")
    k.write(f"{R1}/{pfn}/mode", "ram\0")
    k.write(f"{R1}/{pfn}/align", "2097152\n\0")
    k.write(f"{R1}/{pfn}/namespace", ns + "\0")
    enable(k, pfn)
    start = int(k.read(f"{R1}/{ns}/resource"), 16)
    assert int(k.read(f"{R1}/{pfn}/size")) == layout.pfn_usable_size(start, 12 * GiB, 2 * 1024 * 1024, "mem")


def test_sector_through_the_btt_seed(optane: SimulatedKernel) -> None:
    k = optane
    ns = k.read(f"{R1}/namespace_seed")
    btt = k.read(f"{R1}/btt_seed")
    assert btt == "btt1.1"
    configure_ns(k, R1, ns, 12 * GiB, holder_class="btt")
    k.write(f"{R1}/{btt}/uuid", new_uuid() + "\0")
    k.write(f"{R1}/{btt}/sector_size", "4096\n\0")
    k.write(f"{R1}/{btt}/namespace", ns + "\0")
    assert enable(k, btt) == "nd_pmem"
    rec = ns_record(k, ns)
    assert rec.mode == NamespaceMode.SECTOR and rec.enabled and rec.sector_size == 4096
    assert rec.usable_size == layout.btt_usable_size(12 * GiB, 4096)
    assert rec.blockdev == "pmem1.2s"
    assert k.read(f"{R1}/btt_seed") == "btt1.2"
    assert k.read(f"{R1}/{ns}/mode") == "safe"


def test_raw_namespace_gets_its_disk(optane: SimulatedKernel) -> None:
    k = optane
    ns = k.read(f"{R1}/namespace_seed")
    configure_ns(k, R1, ns, 12 * GiB, holder_class="")
    assert enable(k, ns) == "nd_pmem"
    rec = ns_record(k, ns)
    assert rec.mode == NamespaceMode.RAW and rec.enabled and rec.blockdev == "pmem1.2"
    assert k.read(f"{R1}/namespace_seed") == "namespace1.3"
    assert f"{rec.resource:x}-{(rec.resource or 0) + 12 * GiB - 1:x} : {ns}" in iomem(k)
    k.write(f"{R1}/{ns}/driver/unbind", ns + "\0")
    assert ns_record(k, ns).blockdev is None
    assert ns not in iomem(k)


def test_label_less_reconfigure_to_devdax(qemu: Callable[[str], SimulatedKernel]) -> None:
    """qemu-nvdimm as booted (raw io namespace) to devdax, as `ndctl
    create-namespace -f -e namespace0.0 -m devdax` does it; the sizes are the
    real 6.1 kernel's (real-kernel-lab.md)."""
    k = qemu("raw")
    ns = "namespace0.0"
    k.write(f"{R0}/{ns}/driver/unbind", ns + "\0")
    k.write(f"{R0}/{ns}/holder_class", "dax\0")
    k.write(f"{R0}/dax0.0/uuid", new_uuid() + "\0")
    k.write(f"{R0}/dax0.0/mode", "pmem\0")
    k.write(f"{R0}/dax0.0/align", "2097152\n\0")
    k.write(f"{R0}/dax0.0/namespace", ns + "\0")
    assert enable(k, "dax0.0") == "dax_pmem"
    dev = next(d for d in discover(k).dax_devices if d.name == "dax0.0")
    assert dev.size == 4_093_640_704 and dev.resource == 0x104000000 and dev.target_node == 1
    assert k.read(f"{R0}/namespace_seed") == "namespace0.0"  # io regions get no new seed
    assert k.read(f"{R0}/dax_seed") == "dax0.1"


# --------------------------------------------------------------------------- errnos: namespace


def test_namespace_uuid_errnos(optane: SimulatedKernel) -> None:
    k = optane
    kp = f"{R1}/namespace1.2"
    assert errno_of(k, f"{kp}/uuid", "not-a-uuid\0") == errno.EINVAL
    assert errno_of(k, f"{kp}/uuid", "0123456789abcdef0123456789abcdef\0") == errno.EINVAL  # 5.16+: canonical only
    assert errno_of(k, f"{kp}/uuid", "\0") == errno.EINVAL
    taken = k.read(f"{R1}/namespace1.0/uuid")
    assert errno_of(k, f"{kp}/uuid", taken + "\0") == errno.EINVAL  # not unique on the bus
    u = new_uuid().upper()
    assert errno_of(k, f"{kp}/uuid", u + "\n") == 0
    assert k.read(f"{kp}/uuid") == u.lower()
    k.write(f"{kp}/size", f"{12 * GiB:#x}\n\0")
    # 6.x namespace_update_uuid renames a labelled allocation (ndctl -e relies on it)
    renamed = new_uuid()
    assert errno_of(k, f"{kp}/uuid", renamed + "\0") == 0
    assert k.read(f"{kp}/uuid") == renamed and k.read(f"{kp}/size") == str(12 * GiB)
    # enabled (raw) and claimed namespaces refuse
    assert errno_of(k, f"{R1}/namespace1.0/uuid", new_uuid() + "\0") == errno.EBUSY  # claimed by btt1.0
    enable(k, "namespace1.2")
    assert errno_of(k, f"{kp}/uuid", new_uuid() + "\0") == errno.EBUSY


def test_alt_name_errnos(optane: SimulatedKernel) -> None:
    k = optane
    kp = f"{R1}/namespace1.2"
    assert errno_of(k, f"{kp}/alt_name", "x" * 64 + "\0") == errno.EINVAL
    assert errno_of(k, f"{kp}/alt_name", "x" * 63 + "\n") == 0
    assert k.read(f"{kp}/alt_name") == "x" * 63
    assert errno_of(k, f"{R1}/namespace1.1/alt_name", "busy\0") == errno.EBUSY  # claimed by dax1.0


@pytest.mark.parametrize(
    "value, expected",
    [
        ("0x300000000\n\0", 0),
        ("12884901888", 0),
        ("0x100000000\n\0", errno.EINVAL),  # 4 GiB is not a multiple of 48 MiB
        ("12345", errno.EINVAL),
        ("lots", errno.EINVAL),
        (f"{300 * GiB:#x}", errno.ENOSPC),  # 240 GiB free
    ],
)
def test_size_errnos(optane: SimulatedKernel, value: str, expected: int) -> None:
    k = optane
    kp = f"{R1}/namespace1.2"
    k.write(f"{kp}/uuid", new_uuid() + "\0")
    assert errno_of(k, f"{kp}/size", value) == expected


def test_size_needs_a_uuid_and_an_idle_namespace(optane: SimulatedKernel) -> None:
    k = optane
    kp = f"{R1}/namespace1.2"
    assert errno_of(k, f"{kp}/size", "0x300000000\n\0") == errno.ENXIO  # uuid unset
    assert errno_of(k, f"{R1}/namespace1.1/size", "0\n\0") == errno.EBUSY  # claimed by dax1.0
    assert errno_of(k, f"{R0}/namespace0.2/size", "0\n\0") == errno.EBUSY  # raw, enabled
    k.write(f"{kp}/uuid", new_uuid() + "\0")
    k.write(f"{kp}/size", f"{12 * GiB:#x}\n\0")
    enable(k, "namespace1.2")
    assert errno_of(k, f"{kp}/size", "0\n\0") == errno.EBUSY


def test_size_can_use_the_whole_free_space_then_nothing_more(optane: SimulatedKernel) -> None:
    k = optane
    free = int(k.read(f"{R1}/max_available_extent"))
    kp = f"{R1}/namespace1.2"
    k.write(f"{kp}/uuid", new_uuid() + "\0")
    k.write(f"{kp}/size", f"{free:#x}\n\0")
    assert k.read(f"{R1}/available_size") == "0" and k.read(f"{R1}/max_available_extent") == "0"
    # shrink, then grow in place again
    k.write(f"{kp}/size", f"{free - 48 * 1024 * 1024:#x}\n\0")
    assert int(k.read(f"{R1}/available_size")) == 48 * 1024 * 1024
    k.write(f"{kp}/size", f"{free:#x}\n\0")
    assert errno_of(k, f"{kp}/size", f"{free + 48 * 1024 * 1024:#x}\n\0") == errno.ENOSPC
    assert k.read(f"{kp}/dpa_extents") == "3"


def test_size_zero_deletes_but_keeps_the_seed(optane: SimulatedKernel) -> None:
    k = optane
    kp = f"{R1}/namespace1.2"  # the seed
    k.write(f"{kp}/uuid", new_uuid() + "\0")
    k.write(f"{kp}/size", f"{12 * GiB:#x}\n\0")
    assert k.exists(f"{kp}/resource")
    k.write(f"{kp}/size", "0\n\0")
    assert k.exists(kp)  # the seed survives
    assert k.read(f"{kp}/uuid") == "" and k.read(f"{kp}/size") == "0" and not k.exists(f"{kp}/resource")


def test_sector_size_holder_class_force_raw_errnos(optane: SimulatedKernel) -> None:
    k = optane
    kp = f"{R1}/namespace1.2"
    assert errno_of(k, f"{kp}/sector_size", "1024\n\0") == errno.EINVAL
    assert errno_of(k, f"{kp}/sector_size", "4096\n\0") == 0
    assert k.read(f"{kp}/sector_size") == "512 [4096] "
    assert errno_of(k, f"{R1}/namespace1.1/sector_size", "512\0") == errno.EBUSY  # claimed
    assert errno_of(k, f"{kp}/holder_class", "bogus\0") == errno.EINVAL
    for value in ("btt", "pfn", "dax", ""):
        assert errno_of(k, f"{kp}/holder_class", value + "\0") == 0
        assert k.read(f"{kp}/holder_class") == value
    assert errno_of(k, f"{R1}/namespace1.1/holder_class", "\0") == errno.EBUSY
    assert errno_of(k, f"{kp}/force_raw", "maybe\0") == errno.EINVAL
    assert errno_of(k, f"{kp}/force_raw", "1\n\0") == 0 and k.read(f"{kp}/force_raw") == "1"


def test_label_less_size_is_read_only(qemu: Callable[[str], SimulatedKernel]) -> None:
    k = qemu("raw")
    assert errno_of(k, f"{R0}/namespace0.0/size", "0\n\0") == errno.EACCES
    assert not k.exists(f"{R0}/namespace0.0/uuid")
    assert errno_of(k, f"{R0}/namespace0.0/force_raw", "1\0") == 0


def test_region_align_errnos(optane: SimulatedKernel) -> None:
    k = optane
    assert errno_of(k, f"{R1}/align", "0x1000000\n") == errno.EINVAL  # 16 MiB is not divisible by 3 ways
    assert errno_of(k, f"{R1}/align", "0x6000000\n") == 0  # 3 x 32 MiB
    assert k.read(f"{R1}/align") == "0x6000000"
    assert errno_of(k, f"{R1}/align", "garbage") == errno.EINVAL


# --------------------------------------------------------------------------- errnos: seeds


def test_seed_attribute_errnos(optane: SimulatedKernel) -> None:
    k = optane
    dax = f"{R1}/dax1.1"
    assert errno_of(k, f"{dax}/mode", "bogus\0") == errno.EINVAL
    assert errno_of(k, f"{dax}/align", "12345\n\0") == errno.EINVAL
    assert errno_of(k, f"{dax}/align", "1073741824\n\0") == 0
    assert errno_of(k, f"{dax}/uuid", "zz\0") == errno.EINVAL
    assert errno_of(k, f"{R1}/btt1.1/sector_size", "1000\0") == errno.EINVAL
    assert errno_of(k, f"{R1}/btt1.1/sector_size", "520\0") == 0
    # a bound device refuses every change
    bound = f"{R1}/dax1.0"
    assert errno_of(k, f"{bound}/mode", "ram\0") == errno.EBUSY
    assert errno_of(k, f"{bound}/align", "4096\0") == errno.EBUSY
    assert errno_of(k, f"{bound}/uuid", new_uuid() + "\0") == errno.EBUSY
    assert errno_of(k, f"{bound}/namespace", "\n\0") == errno.EBUSY
    assert errno_of(k, f"{R1}/btt1.0/sector_size", "512\0") == errno.EBUSY


def test_claim_errnos(optane: SimulatedKernel) -> None:
    k = optane
    dax = f"{R1}/dax1.1"
    assert errno_of(k, f"{dax}/namespace", "pfn1.0\0") == errno.EINVAL  # not namespace*
    assert errno_of(k, f"{dax}/namespace", "namespace1.9\0") == errno.ENODEV
    assert errno_of(k, f"{dax}/namespace", "namespace1.2\0") == errno.ENXIO  # seed: size 0 < 16 MiB
    assert errno_of(k, f"{dax}/namespace", "namespace1.0\0") == errno.EBUSY  # claimed by btt1.0
    configure_ns(k, R1, "namespace1.2", 12 * GiB, holder_class="pfn")
    assert errno_of(k, f"{dax}/namespace", "namespace1.2\0") == errno.EBUSY  # holder_class says pfn
    k.write(f"{R1}/namespace1.2/holder_class", "\0")
    assert errno_of(k, f"{dax}/namespace", "namespace1.2\n") == 0
    assert errno_of(k, f"{dax}/namespace", "namespace1.2\0") == errno.EBUSY  # already set
    assert errno_of(k, f"{R1}/pfn1.0/namespace", "namespace1.2\0") == errno.EBUSY  # already claimed
    assert errno_of(k, f"{dax}/namespace", "\n\0") == 0  # release
    assert k.read(f"{dax}/namespace") == ""


# --------------------------------------------------------------------------- errnos: bind / unbind


def test_bind_errnos(optane: SimulatedKernel) -> None:
    k = optane
    drivers = paths.ND_DRIVERS
    assert errno_of(k, f"{drivers}/nd_pmem/bind", "namespace7.7\0") == errno.ENODEV  # no such device
    assert errno_of(k, f"{drivers}/nd_pmem/bind", "dax1.1\0") == errno.ENODEV  # wrong driver
    assert errno_of(k, f"{drivers}/dax_pmem/bind", "namespace1.2\0") == errno.ENODEV
    assert errno_of(k, f"{drivers}/nd_region/bind", "region1\0") == errno.EBUSY  # already bound
    assert errno_of(k, f"{drivers}/dax_pmem/bind", "dax1.0\0") == errno.EBUSY
    assert errno_of(k, f"{drivers}/dax_pmem/bind", "dax1.1\0") == errno.ENODEV  # no namespace
    assert errno_of(k, f"{drivers}/nd_pmem/bind", "namespace1.2\0") == errno.ENODEV  # size 0
    assert errno_of(k, f"{drivers}/nd_pmem/bind", "namespace1.1\0") == errno.ENXIO  # claimed by dax1.0
    configure_ns(k, R1, "namespace1.2", 12 * GiB, holder_class="dax")
    k.write(f"{R1}/dax1.1/namespace", "namespace1.2\0")
    assert errno_of(k, f"{drivers}/dax_pmem/bind", "dax1.1\0") == errno.ENODEV  # no uuid
    k.write(f"{R1}/dax1.1/uuid", new_uuid() + "\0")
    assert errno_of(k, f"{drivers}/dax_pmem/bind", "dax1.1\0") == errno.ENXIO  # mode none
    k.write(f"{R1}/dax1.1/mode", "pmem\0")
    assert errno_of(k, f"{drivers}/dax_pmem/bind", "dax1.1\0") == 0
    # a claim device whose namespace is active raw
    configure_ns(k, R1, "namespace1.3", 12 * GiB, holder_class="")
    enable(k, "namespace1.3")
    k.write(f"{R1}/namespace1.3/driver/unbind", "namespace1.3\0")
    k.write(f"{R1}/pfn1.0/uuid", new_uuid() + "\0")
    k.write(f"{R1}/pfn1.0/mode", "pmem\0")
    k.write(f"{R1}/pfn1.0/namespace", "namespace1.3\0")
    assert errno_of(k, f"{drivers}/nd_pmem/bind", "namespace1.3\0") == errno.ENXIO  # now claimed
    assert errno_of(k, f"{drivers}/nd_pmem/bind", "pfn1.0\0") == 0


def test_unbind_errnos(optane: SimulatedKernel) -> None:
    k = optane
    drivers = paths.ND_DRIVERS
    assert errno_of(k, f"{drivers}/nd_pmem/unbind", "dax1.0\0") == errno.ENODEV  # bound to dax_pmem
    assert errno_of(k, f"{drivers}/dax_pmem/unbind", "dax1.1\0") == errno.ENODEV  # not bound
    assert errno_of(k, f"{drivers}/dax_pmem/unbind", "nothing\0") == errno.ENODEV
    assert errno_of(k, f"{drivers}/nd_region/unbind", "region1\0") == errno.EBUSY  # namespaces enabled


def test_dax_pmem_unbind_with_kmem_memory_online_strands_it(optane: SimulatedKernel) -> None:
    """region0's nd dax0.0 holds dax0.1, in system-ram with online blocks:
    the unbind succeeds as on the real kernel, the device goes, the online
    blocks stay with no owner (stranded until reboot)."""
    k = optane
    dev = next(d for d in discover(k).dax_devices if d.name == "dax0.1")
    online = [i for i in dev.blocks if k.read(f"{paths.MEMORY}/memory{i}/state") == "online"]
    assert online
    assert errno_of(k, f"{paths.ND_DRIVERS}/dax_pmem/unbind", "dax0.0\0") == 0
    assert not k.exists(f"{paths.DAX_DEVICES}/dax0.1")
    assert ns_record(k, "namespace0.1").enabled is False
    topo = discover(k)
    stranded = [b for b in topo.blocks if b.index in online]
    assert [b.index for b in stranded] == online
    assert all(b.state.value == "online" and b.device is None for b in stranded)


def test_dax_pmem_unbind_after_offlining_removes_the_memory(optane: SimulatedKernel) -> None:
    k = optane
    unbind = f"{paths.ND_DRIVERS}/dax_pmem/unbind"
    dev = next(d for d in discover(k).dax_devices if d.name == "dax0.1")
    for index in dev.blocks:
        if k.read(f"{paths.MEMORY}/memory{index}/state") == "online":
            k.write(f"{paths.MEMORY}/memory{index}/state", "offline")
    assert errno_of(k, unbind, "dax0.0\0") == 0
    assert not k.exists(f"{paths.DAX_DEVICES}/dax0.1")
    assert not any(k.exists(paths.memory_block(i)) for i in dev.blocks)  # kmem removed the memory
    assert not k.exists(paths.node_dir(2))  # the memory-only node went offline
    assert not k.exists(f"{R0}/dax0.0/size") and not k.exists(f"{R0}/dax0.0/dax_region")
    assert ns_record(k, "namespace0.1").enabled is False
    assert "dax0.1" not in iomem(k) and "System RAM (kmem)" not in iomem(k)


def test_re_enable_after_disable_recreates_the_dax_device(optane: SimulatedKernel) -> None:
    k = optane
    k.write(f"{R1}/dax1.0/driver/unbind", "dax1.0\0")
    assert not k.exists(f"{paths.DAX_DEVICES}/dax1.1")
    assert ns_record(k, "namespace1.1").enabled is False
    enable(k, "dax1.0")
    rec = ns_record(k, "namespace1.1")
    assert rec.enabled and rec.dax_device == "dax1.1"
    assert k.read(f"{R1}/dax_seed") == "dax1.1"  # dax1.0 is no seed: nothing advances


def test_region_and_dimm_disable_enable(optane: SimulatedKernel) -> None:
    """Simplified: a region is disabled only once nothing under it is enabled."""
    k = optane
    assert errno_of(k, f"{paths.ND_DRIVERS}/nvdimm/unbind", "nmem3\0") == errno.EBUSY  # region1 enabled
    k.write(f"{R1}/btt1.0/driver/unbind", "btt1.0\0")
    k.write(f"{R1}/dax1.0/driver/unbind", "dax1.0\0")
    assert errno_of(k, f"{paths.ND_DRIVERS}/nd_region/unbind", "region1\0") == 0
    assert errno_of(k, f"{paths.ND_DRIVERS}/nd_pmem/bind", "btt1.0\0") == errno.ENODEV  # region disabled
    assert enable(k, "region1") == "nd_region"
    # the region's probe brings its configured namespaces back, with their personality
    assert ns_record(k, "namespace1.0").blockdev == "pmem1s"
    assert ns_record(k, "namespace1.1").dax_device == "dax1.1"
    assert errno_of(k, f"{paths.ND_DRIVERS}/nd_pmem/bind", "btt1.0\0") == errno.EBUSY


def test_nd_state_records_info_blocks(optane: SimulatedKernel) -> None:
    import json

    k = optane
    ns, dax = create_devdax(k)
    state = json.loads(Path(k.root, ".pmemctl-sim", ND_STATE_FILE).read_text())
    info = state["info_blocks"][f"{R1}/{ns}"]
    assert info["kind"] == "dax" and info["uuid"] == k.read(f"{R1}/{dax}/uuid")
    destroy(k, R1, ns)
    state = json.loads(Path(k.root, ".pmemctl-sim", ND_STATE_FILE).read_text())
    assert f"{R1}/{ns}" not in state["info_blocks"]
    # attribute files hold only what the kernel shows
    assert not any(p.name.endswith(".json") for p in Path(k.root, "sys").rglob("*.json"))


@pytest.mark.parametrize(
    "text, value",
    [("0", 0), ("+10", 10), ("0x10", 16), ("010", 8), ("18446744073709551615", 2**64 - 1)],
)
def test_kstrtoull(text: str, value: int) -> None:
    assert kstrtoull(text) == value


@pytest.mark.parametrize("text, err", [("", errno.EINVAL), ("1 2", errno.EINVAL), ("08", errno.EINVAL),
                                       ("0x", errno.EINVAL), ("18446744073709551616", errno.ERANGE)])
def test_kstrtoull_rejects(text: str, err: int) -> None:
    with pytest.raises(WriteRefused) as info:
        kstrtoull(text)
    assert info.value.errno == err


def test_enable_after_ndctl_disable_finds_the_info_block(optane: SimulatedKernel) -> None:
    """ndctl disables a devdax/fsdax/sector namespace by unbinding and
    *releasing* its claim device; enabling the namespace raw then finds the
    info block on the media and the kernel re-creates the claim device."""
    k = optane
    # disable namespace1.1 (devdax via dax1.0) as ndctl does
    k.write(f"{R1}/dax1.0/driver/unbind", "dax1.0\0")
    k.write(f"{R1}/dax1.0/namespace", "\n\0")
    assert not k.exists(f"{R1}/dax1.0")  # not a seed: unregistered on release
    assert ns_record(k, "namespace1.1").mode == NamespaceMode.RAW
    # enable: the raw probe fails (ENXIO) because a dax device took the namespace
    assert errno_of(k, f"{paths.ND_DRIVERS}/nd_pmem/bind", "namespace1.1\0") == errno.ENXIO
    rec = ns_record(k, "namespace1.1")
    assert rec.mode == NamespaceMode.DEVDAX and rec.enabled and rec.holder == "dax1.0"
    assert rec.dax_device == "dax1.1" and rec.align == 1024 * 1024 * 1024
    # with force_raw the info block is ignored (what destroy-namespace relies on)
    k.write(f"{R1}/dax1.0/driver/unbind", "dax1.0\0")
    k.write(f"{R1}/dax1.0/namespace", "\n\0")
    k.write(f"{R1}/namespace1.1/force_raw", "1\n\0")
    assert errno_of(k, f"{paths.ND_DRIVERS}/nd_pmem/bind", "namespace1.1\0") == 0
    assert ns_record(k, "namespace1.1").mode == NamespaceMode.RAW
