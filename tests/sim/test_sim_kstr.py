"""The simulated kernel parses values with the product's kstr parsers
(:mod:`pmemctl.sysfs.abi`), as lib/kstrtox.c does: ``kstrtobool`` decides on
the first character (``y``/``t``/``1``, ``n``/``f``/``0``) or the first two
(``on``/``of``), so ``t``, ``yup`` and ``of`` are accepted where the kernel
parses a boolean (the simulator's own, stricter copy refused them)."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from pmemctl.errors import KernelError
from pmemctl.sim.build import materialise
from pmemctl.sim.kernel import SimulatedKernel, WriteRefused
from pmemctl.sim.kernel.errors import kstrtobool, parse_uuid
from pmemctl.sysfs import paths

R1 = "/sys/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region1"


@pytest.fixture(scope="module")
def optane(tmp_path_factory: pytest.TempPathFactory) -> SimulatedKernel:
    return SimulatedKernel(materialise("optane-2s", Path(tmp_path_factory.mktemp("kstr")) / "optane"))


def errno_of(k: SimulatedKernel, kpath: str, value: str) -> int:
    try:
        k.write(kpath, value)
    except KernelError as err:
        return err.errno
    return 0


@pytest.mark.parametrize("text, value", [("t", True), ("yup", True), ("of", False), ("on", True), ("F", False),
                                         ("1", True), ("0", False), ("Yes", True), ("no", False)])
def test_demotion_enabled_takes_kstrtobool(optane: SimulatedKernel, text: str, value: bool) -> None:
    assert errno_of(optane, paths.DEMOTION_ENABLED, text + "\n") == 0
    assert optane.read(paths.DEMOTION_ENABLED) == ("true" if value else "false")


@pytest.mark.parametrize("text, value", [("t", "1"), ("yup", "1"), ("of", "0"), ("on", "1")])
def test_force_raw_takes_kstrtobool(optane: SimulatedKernel, text: str, value: str) -> None:
    kp = f"{R1}/namespace1.2/force_raw"
    assert errno_of(optane, kp, text + "\0") == 0
    assert optane.read(kp) == value


def test_block_online_takes_kstrtobool(optane: SimulatedKernel) -> None:
    """``memoryN/online`` of an online block: a true value is a no-op success."""
    online = next(e for e in sorted(optane.listdir(paths.MEMORY))
                  if e.startswith("memory") and optane.read_optional(f"{paths.MEMORY}/{e}/state") == "online")
    for text in ("t", "yup", "on"):
        assert errno_of(optane, f"{paths.MEMORY}/{online}/online", text + "\n") == 0
    assert optane.read(f"{paths.MEMORY}/{online}/state") == "online"


@pytest.mark.parametrize("text", ["maybe", "", "o", "x1", " 1"])
def test_booleans_the_kernel_refuses(optane: SimulatedKernel, text: str) -> None:
    assert errno_of(optane, paths.DEMOTION_ENABLED, text + "\n") == errno.EINVAL
    with pytest.raises(WriteRefused) as info:
        kstrtobool(text)
    assert info.value.errno == errno.EINVAL


def test_parse_uuid_uses_the_canonical_form() -> None:
    u = "0123ABCD-4567-89ab-cdef-0123456789AB"
    assert parse_uuid(u + "\n") == u.lower()
    assert parse_uuid(u + "trailing") == u.lower()  # uuid_is_valid looks at 36 characters only
    with pytest.raises(WriteRefused):
        parse_uuid(u[:-1])
