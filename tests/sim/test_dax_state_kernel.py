"""The simulated kernel's proposed whole-device hotplug file ``daxX.Y/state``
(kernel profile ``6.12+dax-state``; reference/provisioning.md §5).

Fidelity note: no real kernel has this file -- it is a 2026 proposal, not
merged, and no patched kernel was booted for these tests (there is no
tests/vm counterpart).  What is checked here is that the simulator answers
as :mod:`pmemctl.sim.kernel.dax_state` says the proposal does: the values,
the transitions, all-or-nothing on failure, and the errnos (those the
proposal leaves open are the simulator's documented choice).
"""

from __future__ import annotations

import errno
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import pytest

from pmemctl.errors import KernelError
from pmemctl.sim.build import materialise
from pmemctl.sim.kernel import SimulatedKernel
from pmemctl.sim.kernel import faults as sim_faults
from pmemctl.sim.kernels import DEFAULT_KERNEL, PROFILES, get_profile, kernel_names, profile_for_release
from pmemctl.sim.scenario import load_scenario
from pmemctl.sysfs import paths

KERNEL = "6.12+dax-state"
STATE = "/sys/bus/dax/devices/dax0.0/state"
BLOCKS = range(33, 63)  # qemu-nvdimm's dax0.0: memory33-62 on node 1


@pytest.fixture
def machine() -> Iterator[Callable[..., SimulatedKernel]]:
    made: list[Path] = []

    def make(name: str = "qemu-nvdimm", kernel: str = KERNEL, **params: str) -> SimulatedKernel:
        root = Path(tempfile.mkdtemp(prefix="pmemctl-daxstate-", dir="/dev/shm" if Path("/dev/shm").is_dir()
                                     else None))
        made.append(root)
        materialise(load_scenario(name, params, kernel=kernel), root / "t")
        return SimulatedKernel(root / "t")

    yield make
    for root in made:
        shutil.rmtree(root, ignore_errors=True)


def state(k: SimulatedKernel) -> str:
    return k.read(STATE).strip()


def blocks(k: SimulatedKernel) -> dict[int, tuple[str, str]]:
    """Present blocks of dax0.0: index -> (state, valid_zones)."""
    out = {}
    for i in BLOCKS:
        st = k.read_optional(f"{paths.memory_block(i)}/state")
        if st is not None:
            out[i] = (st.strip(), (k.read_optional(f"{paths.memory_block(i)}/valid_zones") or "").strip())
    return out


def refused(k: SimulatedKernel, value: str) -> int:
    with pytest.raises(KernelError) as caught:
        k.write(STATE, value)
    return caught.value.errno


def test_the_profile_is_simulator_only_and_not_the_default() -> None:
    p = get_profile(KERNEL)
    assert p.dax_state_file and p.simulator_only
    assert not any(PROFILES[n].dax_state_file for n in ("6.1", "6.12"))
    assert DEFAULT_KERNEL == "6.12" and kernel_names()[-1] == KERNEL
    assert profile_for_release(p.release) is p
    assert not profile_for_release("6.12.57+deb13-amd64").dax_state_file  # another 6.12: the released one


@pytest.mark.parametrize("kernel", ["6.1", "6.12"])
def test_released_kernels_have_no_state_file(machine, kernel: str) -> None:
    k = machine(kernel=kernel, stage="system-ram")
    assert k.read_optional(STATE) is None
    assert k.exists("/sys/bus/dax/devices/dax0.0/size")


@pytest.mark.parametrize("params, expected", [
    ({"stage": "devdax"}, "unplugged"),  # device_dax holds it: nothing plugged
    ({"stage": "system-ram"}, "online_movable"),
])
def test_the_file_at_boot(machine, params: dict[str, str], expected: str) -> None:
    k = machine(**params)
    assert state(k) == expected
    mode = (Path(k.root) / STATE.lstrip("/")).resolve().stat().st_mode & 0o777
    assert mode == 0o644


def test_kmem_bound_at_boot_with_the_offline_policy_reads_offline(machine) -> None:
    k = machine("cxl-hmem", mode="boot")  # memhp_default_state=offline: kmem adds the blocks offline
    assert k.read("/sys/bus/dax/devices/dax0.0/state").strip() == "offline"


def test_unplug_then_online_in_another_zone(machine) -> None:
    k = machine(stage="system-ram")
    k.write(STATE, "unplugged")
    assert state(k) == "unplugged" and blocks(k) == {}
    assert k.resolve(f"{paths.DAX_DEVICES}/dax0.0/driver").endswith("/kmem")
    k.write(STATE, "online_kernel")
    assert state(k) == "online_kernel"
    assert blocks(k) == {i: ("online", "Normal") for i in BLOCKS}
    meminfo = k.read("/sys/devices/system/node/node1/meminfo")
    assert re.search(rf"^Node 1 MemTotal: +{30 * 128 * 1024} kB$", meminfo, re.M)


@pytest.mark.parametrize("value", ["offline", "bogus", "Online", ""])
def test_values_outside_the_writable_four_are_einval(machine, value: str) -> None:
    k = machine(stage="system-ram")
    assert refused(k, value) == errno.EINVAL
    assert state(k) == "online_movable"


def test_transitions_the_proposal_does_not_allow_are_einval(machine) -> None:
    k = machine(stage="system-ram")
    assert refused(k, "online_kernel") == errno.EINVAL  # online only from unplugged
    assert refused(k, "online_movable") == errno.EINVAL
    k.write(STATE, "unplugged")
    assert refused(k, "unplugged") == errno.EINVAL


def test_a_device_kmem_does_not_hold_is_enxio(machine) -> None:
    k = machine(stage="devdax")
    assert refused(k, "online_movable") == errno.ENXIO
    assert state(k) == "unplugged"


def test_kmem_bind_records_the_policy_and_unbind_unplugged(machine) -> None:
    k = machine(stage="devdax")
    k.write("/sys/bus/dax/drivers/device_dax/unbind", "dax0.0")
    k.write("/sys/bus/dax/drivers/kmem/new_id", "dax0.0")
    assert state(k) == "offline"  # auto_online_blocks=offline: the blocks are there, offline
    assert set(blocks(k)) == set(BLOCKS)
    k.write(STATE, "unplugged")  # offline -> unplugged is allowed
    k.write(STATE, "online_movable")
    assert blocks(k) == {i: ("online", "Movable") for i in BLOCKS}
    k.write(STATE, "unplugged")
    k.write("/sys/bus/dax/drivers/kmem/unbind", "dax0.0")
    assert state(k) == "unplugged"


def test_unplug_is_all_or_nothing(machine) -> None:
    k = machine(stage="system-ram")
    before = blocks(k)
    sim_faults.inject(k.root, "offline-busy", blocks=[40])
    assert refused(k, "unplugged") == errno.EBUSY
    # blocks 62..41 were offlined before 40 refused: all back, in their zone
    assert blocks(k) == before
    assert state(k) == "online_movable"


def test_online_is_all_or_nothing(machine) -> None:
    k = machine(stage="system-ram")
    k.write(STATE, "unplugged")
    sim_faults.inject(k.root, "online-fail", blocks=[50], errno="EHWPOISON")
    assert refused(k, "online_movable") == 133  # EHWPOISON
    assert blocks(k) == {} and state(k) == "unplugged"
    assert k.read("/sys/devices/system/node/has_memory").strip() == "0"  # node 1 has no memory again
    sim_faults.clear(k.root)
    k.write(STATE, "online_movable")
    assert blocks(k) == {i: ("online", "Movable") for i in BLOCKS}


def test_no_other_agent_sees_the_blocks_before_they_are_online(machine) -> None:
    """The udev-race fault onlines new blocks into Normal; the whole-device
    online adds and onlines them before any uevent is seen."""
    k = machine(stage="system-ram")
    k.write(STATE, "unplugged")
    sim_faults.inject(k.root, "udev-race", zone="Normal")
    k.write(STATE, "online_movable")
    assert blocks(k) == {i: ("online", "Movable") for i in BLOCKS}
