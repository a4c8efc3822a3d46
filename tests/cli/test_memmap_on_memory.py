"""``reconfigure --memmap-on-memory``: daxX.Y/memmap_on_memory (Linux 6.8+)
written before kmem binds; refused (exit 9) where the kernel lacks it."""

from __future__ import annotations

import json
from pathlib import Path

from pmemctl.errors import ExitCode
from pmemctl.sim.build import materialise

PARAM = "sys/module/memory_hotplug/parameters/memmap_on_memory"
ATTR = "sys/bus/dax/devices/dax0.0/memmap_on_memory"


def _machine(tmp_path: Path, kernel: str, global_on: bool = False) -> Path:
    root = materialise("qemu-nvdimm", tmp_path / kernel, {"stage": "devdax"}, kernel=kernel)
    if global_on:  # booted with memory_hotplug.memmap_on_memory=1 (a read-only parameter once booted)
        param = root / PARAM
        param.chmod(0o644)
        param.write_text("Y\n")
        param.chmod(0o444)
    return root


def test_written_before_kmem_binds(invoke, tmp_path: Path) -> None:
    root = _machine(tmp_path, "6.12", global_on=True)
    dry = invoke("--sysroot", root, "reconfigure", "dax0.0", "-m", "system-ram", "--memmap-on-memory",
                 "--dry-run", "--json")
    assert dry.exit_code == 0, dry.stderr
    writes = [(w["path"], w["value"]) for s in json.loads(dry.stdout)["plan"]["steps"] for w in s["writes"]]
    memmap = writes.index(("/sys/bus/dax/devices/dax0.0/memmap_on_memory", "1"))
    assert memmap < writes.index(("/sys/bus/dax/drivers/kmem/new_id", "dax0.0"))
    assert writes.index(("/sys/bus/dax/drivers/device_dax/unbind", "dax0.0")) < memmap
    done = invoke("--sysroot", root, "reconfigure", "dax0.0", "-m", "system-ram", "--memmap-on-memory", "--yes")
    assert done.exit_code == 0, done.stderr
    assert (root / ATTR).read_text() == "1\n"
    # kmem holds it now: the kernel would answer EBUSY, pmemctl refuses first
    again = invoke("--sysroot", root, "reconfigure", "dax0.0", "-m", "system-ram", "--no-memmap-on-memory", "--yes")
    assert again.exit_code == ExitCode.REFUSED and "before kmem binds" in again.stdout + again.stderr
    back = invoke("--sysroot", root, "reconfigure", "dax0.0", "-m", "devdax", "--yes")
    assert back.exit_code == 0, back.stderr
    off = invoke("--sysroot", root, "reconfigure", "dax0.0", "-m", "system-ram", "--no-memmap-on-memory", "--yes")
    assert off.exit_code == 0 and (root / ATTR).read_text() == "0\n"


def test_refused_where_the_kernel_lacks_the_attribute(invoke, tmp_path: Path) -> None:
    root = _machine(tmp_path, "6.1")
    r = invoke("--sysroot", root, "reconfigure", "dax0.0", "-m", "system-ram", "--memmap-on-memory", "--yes")
    assert r.exit_code == ExitCode.UNSUPPORTED
    assert "dax0.0 has no memmap_on_memory attribute" in r.stderr and "6.8" in r.stderr
    assert not (root / ATTR).exists()
    assert (root / "sys/bus/dax/devices/dax0.0/driver").resolve().name == "device_dax"  # nothing written


def test_refused_where_the_global_parameter_is_off(invoke, tmp_path: Path) -> None:
    root = _machine(tmp_path, "6.12")  # Debian's default: memmap_on_memory=N
    r = invoke("--sysroot", root, "reconfigure", "dax0.0", "-m", "system-ram", "--memmap-on-memory", "--yes")
    assert r.exit_code == ExitCode.UNSUPPORTED
    assert "memory_hotplug.memmap_on_memory is N" in r.stderr
    assert (root / ATTR).read_text() == "0\n"
    # turning it off is always possible
    r = invoke("--sysroot", root, "reconfigure", "dax0.0", "-m", "system-ram", "--no-memmap-on-memory", "--yes")
    assert r.exit_code == 0, r.stderr


def test_the_simulated_kernel_answers_like_6_12(tmp_path: Path) -> None:
    import errno

    import pytest

    from pmemctl.errors import KernelError
    from pmemctl.sim.kernel import SimulatedKernel

    root = _machine(tmp_path, "6.12")
    door = SimulatedKernel(str(root))
    with pytest.raises(KernelError) as err:
        door.write("/sys/bus/dax/devices/dax0.0/memmap_on_memory", "1")
    assert err.value.errno == errno.EOPNOTSUPP
    with pytest.raises(KernelError) as err:
        door.write("/sys/bus/dax/devices/dax0.0/memmap_on_memory", "maybe")
    assert err.value.errno == errno.EINVAL


def test_usage_with_devdax(invoke, tmp_path: Path) -> None:
    root = _machine(tmp_path, "6.12")
    r = invoke("--sysroot", root, "reconfigure", "dax0.0", "-m", "devdax", "--memmap-on-memory")
    assert r.exit_code == ExitCode.USAGE
