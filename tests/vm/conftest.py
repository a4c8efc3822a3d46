"""Fixtures for the real-kernel tier (marker ``vm``).

Each session fixture boots one guest lazily and is shared by every test that
needs it.  Every test marked ``vm`` (or using ``vm_kernel``) runs once per
guest kernel (:func:`harness.kernel_names`: Debian 12's 6.1 and 6.12 by
default), the parameter ``vm_kernel`` naming it; a boot listed in
:data:`BOOT_KERNELS` runs on those kernels only.  ``vm_profile`` is the
simulator's profile of the guest kernel (:mod:`pmemctl.sim.kernels`): the
facts a kernel computes come from there, never from constants here.
Tests skip only when QEMU guests cannot run on this machine
(:func:`harness.vm_available` / :func:`harness.prepare` say why) or when
``PMEMCTL_VM_SKIP=1`` is set.
"""

from __future__ import annotations

import json
import os
import re

import pytest

from . import harness, scenarios
from .harness import GiB, NvdimmSpec

# The captured sysfs trees contain relative symlinks that form loops
# (node1/subsystem -> bus/node -> devices/node1 ...): never collect there.
collect_ignore = ["captured"]

#: The two NVDIMMs of the dual-node boot and their HMAT figures.
DUAL_NVDIMMS = (
    NvdimmSpec(size=4 * GiB, node=1, latency_ns=150, bandwidth_mbs=8192),
    NvdimmSpec(size=2 * GiB, node=2, latency_ns=400, bandwidth_mbs=2048),
)


class Outputs:
    """Read the files a scenario left in ``$VMIO/out`` (see scenarios.PRELUDE)."""

    def __init__(self, result: harness.GuestResult):
        self.result = result

    def raw(self, name: str) -> bytes:
        key = f"out/{name}"
        if key not in self.result.files:
            raise AssertionError(f"guest left no {key}\n{self.result.describe()}")
        return self.result.files[key]

    def out(self, name: str) -> str:
        return self.raw(f"{name}.out").decode()

    def err(self, name: str) -> str:
        return self.raw(f"{name}.err").decode()

    def rc(self, name: str) -> int:
        return int(self.raw(f"{name}.rc").decode().strip())

    def json(self, name: str):
        return json.loads(self.out(name))

    def ok(self, name: str) -> str:
        """stdout of a step that must have exited 0."""
        rc = self.rc(name)
        assert rc == 0, f"guest step {name} exited {rc}: {self.err(name)}"
        return self.out(name)

    def facts(self, name: str) -> dict[str, str]:
        out = {}
        for line in self.raw(f"{name}.facts").decode().splitlines():
            path, _, value = line.partition("=")
            out[path] = value.strip()
        return out


#: Boots (session fixtures) that run on some kernels only, to keep the tier
#: within its time budget: what they check does not depend on the kernel
#: (the nd bus and labels, the venv's interpreter), so one kernel proves it.
#: A single test is limited the same way with ``@pytest.mark.kernels("6.1")``.
BOOT_KERNELS: dict[str, tuple[str, ...]] = {
    "namespaces_run": ("6.1",),
    # x86's block-size choice (arch/x86/mm/init_64.c) is the same on both
    "large_blocks_run": ("6.12",),
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every ``vm`` test once per guest kernel (session-scoped, so each
    boot happens once per kernel and tests are grouped by kernel)."""
    if metafunc.definition.get_closest_marker("vm") is None and "vm_kernel" not in metafunc.fixturenames:
        return
    if "vm_kernel" not in metafunc.fixturenames:
        metafunc.fixturenames.append("vm_kernel")
    kernels = harness.kernel_names()
    for fixture, only in BOOT_KERNELS.items():
        if fixture in metafunc.fixturenames:
            kernels = [k for k in kernels if k in only]
    marker = metafunc.definition.get_closest_marker("kernels")
    if marker is not None:
        kernels = [k for k in kernels if k in marker.args]
    metafunc.parametrize("vm_kernel", kernels, indirect=True, scope="session")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """All of one kernel's vm tests before the next kernel's (a stable sort):
    pytest's own grouping of session parameters is a heuristic, and a boot
    fixture torn down between two tests of the same kernel boots again."""
    order = {name: i for i, name in enumerate(harness.kernel_names())}

    def kernel_rank(item: pytest.Item) -> int:
        callspec = getattr(item, "callspec", None)
        name = callspec.params.get("vm_kernel") if callspec is not None else None
        return -1 if name is None else order.get(name, len(order))

    items.sort(key=kernel_rank)


@pytest.fixture(scope="session")
def vm_kernel(request: pytest.FixtureRequest):
    """The guest kernel this test runs on (a ``harness.KERNEL_SERIES`` name
    or a ``linux-image-*`` package).  Also ``$PMEMCTL_VM_KERNEL`` while it
    is active, so ``harness.run_guest`` and subprocesses default to it."""
    name = getattr(request, "param", None) or harness.current_kernel()
    before = os.environ.get("PMEMCTL_VM_KERNEL")
    os.environ["PMEMCTL_VM_KERNEL"] = name
    yield name
    if before is None:
        os.environ.pop("PMEMCTL_VM_KERNEL", None)
    else:
        os.environ["PMEMCTL_VM_KERNEL"] = before


@pytest.fixture(scope="session")
def vm_ready(vm_kernel: str) -> harness.Prepared:
    """Skip unless guests can run here; the cached (or downloaded) kernel."""
    if os.environ.get("PMEMCTL_VM_SKIP") == "1":
        pytest.skip("PMEMCTL_VM_SKIP=1")
    ok, reason = harness.vm_available(vm_kernel)
    if not ok:
        pytest.skip(f"QEMU guests cannot run here: {reason}")
    try:
        return harness.prepare(kernel=vm_kernel)
    except harness.VmUnavailable as e:
        pytest.skip(f"guest kernel {vm_kernel} not obtainable: {e}")


@pytest.fixture(scope="session")
def vm_profile(vm_ready: harness.Prepared):
    """The simulator's profile of the guest kernel (``pmemctl.sim.kernels``):
    tier placement, attribute set, dmesg formats, write semantics."""
    from pmemctl.sim.kernels import profile_for_release

    return profile_for_release(vm_ready.kernel_version)


def _kept_result(path: str) -> harness.GuestResult:
    """A GuestResult read back from a kept results share (see _vm_result)."""
    from pathlib import Path

    root = Path(path)
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
             if p.is_file() and not p.is_symlink() and p.name not in ("scenario.sh", "run.sh")}
    rc = files.get("exit_code", b"").decode().strip()
    return harness.GuestResult(
        exit_code=int(rc) if rc.lstrip("-").isdigit() else None,
        stdout=files.get("stdout", b"").decode(errors="replace"),
        stderr=files.get("stderr", b"").decode(errors="replace"),
        files=files, console_log="", qemu_returncode=0, timed_out=False, wall_seconds=0.0,
        guest_seconds=None, results_dir=root, argv=[],
    )


def _vm_result(request, scenario: str, name: str, **kw) -> harness.GuestResult:
    """Boot the guest for ``scenario``, or, with ``PMEMCTL_VM_REUSE_<NAME>=DIR``
    (e.g. PMEMCTL_VM_REUSE_FLOW), read the results share an earlier run kept
    (``--basetemp`` keeps them as BASETEMP/vm-NAME0/io): re-checks a run's
    assertions without booting."""
    kernel = request.getfixturevalue("vm_kernel")
    tag = re.sub(r"\W", "_", kernel)
    kept = os.environ.get(f"PMEMCTL_VM_REUSE_{name.upper()}_{tag}") or (
        os.environ.get(f"PMEMCTL_VM_REUSE_{name.upper()}") if kernel == harness.kernel_names()[0] else None)
    if kept:
        return _kept_result(kept)
    request.getfixturevalue("vm_ready")
    tmp = request.getfixturevalue("tmp_path_factory").mktemp(f"vm-{name}-{tag}")
    result = harness.run_guest(scenario, results_dir=tmp / "io", kernel=kernel, **kw)
    if result.exit_code != 0:
        pytest.fail(f"guest scenario {name} did not complete\n{result.describe()}")
    return result


@pytest.fixture(scope="session")
def single_run(request, vm_kernel) -> harness.GuestResult:
    """One 4 GiB NVDIMM on node 1: raw -> devdax -> system-ram with captures,
    then the write-semantics probe (ends with dax0.0 stranded)."""
    return _vm_result(request, scenarios.SINGLE_CONVERSION, "single", timeout=420)


@pytest.fixture(scope="session")
def single(single_run) -> Outputs:
    return Outputs(single_run)


@pytest.fixture(scope="session")
def dual_run(request, vm_kernel) -> harness.GuestResult:
    """Two NVDIMMs on memory-only nodes 1 and 2 with different HMAT figures,
    both converted to system-ram."""
    return _vm_result(request, scenarios.DUAL_NODE, "dual",
                      nvdimms=list(DUAL_NVDIMMS), timeout=300)


@pytest.fixture(scope="session")
def dual(dual_run) -> Outputs:
    return Outputs(dual_run)


# --------------------------------------------------------------------------
# pmemctl itself on the real kernel (scenarios 1-4 and 7, fidelity records)


def qemu_nvdimm_machine() -> dict:
    """run_guest() arguments that make the guest the machine the simulator's
    ``qemu-nvdimm`` scenario describes (its HMAT figures included), so the
    two can be compared attribute by attribute."""
    from pmemctl.sim.scenario import load_scenario

    m = load_scenario("qemu-nvdimm").machine
    dram, pmem = m.node(0), m.node(1)
    assert dram is not None and pmem is not None and dram.access0 and pmem.access0
    return {
        "nvdimms": [NvdimmSpec(size=4 * GiB, node=1, latency_ns=pmem.access0.read_latency,
                               bandwidth_mbs=pmem.access0.read_bandwidth)],
        "dram_latency_ns": dram.access0.read_latency,
        "dram_bandwidth_mbs": dram.access0.read_bandwidth,
    }


@pytest.fixture(scope="session")
def flow_run(request, vm_kernel) -> harness.GuestResult:
    """One 4 GiB NVDIMM on node 1 shaped like the qemu-nvdimm scenario:
    pmemctl converts, onlines, offlines and refuses on the real kernel
    (scenarios.PMEMCTL_FLOW), recording the machine at raw/devdax/system-ram."""
    return _vm_result(request, scenarios.PMEMCTL_FLOW, "flow", timeout=900, **qemu_nvdimm_machine())


@pytest.fixture(scope="session")
def flow(flow_run) -> Outputs:
    return Outputs(flow_run)


@pytest.fixture(scope="session")
def namespaces_run(request, vm_kernel) -> harness.GuestResult:
    """The qemu-nvdimm machine again: scenario 6, namespaces of a given size
    created and destroyed by pmemctl with each backend
    (scenarios.NAMESPACES)."""
    return _vm_result(request, scenarios.NAMESPACES, "namespaces", timeout=600, **qemu_nvdimm_machine())


@pytest.fixture(scope="session")
def namespaces(namespaces_run) -> Outputs:
    return Outputs(namespaces_run)


def kmem_tier(profile, nvdimm: NvdimmSpec, dram_latency_ns: int = 100, dram_bandwidth_mbs: int = 16384) -> int:
    """The memory_tierN the guest kernel puts an NVDIMM's node in once kmem
    onlines it: the kernel profile computes it from the HMAT figures QEMU
    gives (the same for reads and writes; harness.run_guest's DRAM defaults)."""
    from pmemctl.sim.kernels import Perf

    return profile.kmem_tier(
        Perf(nvdimm.latency_ns, nvdimm.latency_ns, nvdimm.bandwidth_mbs, nvdimm.bandwidth_mbs),
        Perf(dram_latency_ns, dram_latency_ns, dram_bandwidth_mbs, dram_bandwidth_mbs),
    )


def qemu_nvdimm_tier(profile) -> int:
    """The tier of the flow/namespaces boots' NVDIMM node (qemu_nvdimm_machine)."""
    m = qemu_nvdimm_machine()
    return kmem_tier(profile, m["nvdimms"][0], m["dram_latency_ns"], m["dram_bandwidth_mbs"])


#: Boot DRAM of the large-block boot: 65 GiB puts the end of RAM at 66 GiB
#: (3 GiB below the PCI hole, 62 GiB above 4 GiB), 2 GiB-aligned.
LARGE_DRAM = 65 * GiB


@pytest.fixture(scope="session")
def large_blocks_run(request, vm_kernel) -> harness.GuestResult:
    """65 GiB of DRAM and one 8 GiB NVDIMM: memory blocks of 2 GiB; pmemctl
    converts the namespace to system RAM and back (scenarios.LARGE_BLOCKS)."""
    # 8 GiB: its data starts 64 MiB past a 2 GiB boundary, so kmem can add
    # only the 2 GiB blocks wholly inside (a 4 GiB one holds none: pmemctl refuses it)
    return _vm_result(request, scenarios.LARGE_BLOCKS, "large", dram=LARGE_DRAM, timeout=900,
                      nvdimms=[NvdimmSpec(size=8 * GiB, node=1)])


@pytest.fixture(scope="session")
def large_blocks(large_blocks_run) -> Outputs:
    return Outputs(large_blocks_run)


#: (title, lines) the tests want shown at the end of the run (fidelity figures)
SUMMARY: list[tuple[str, list[str]]] = []


#: seconds spent in the real-kernel tier's tests (setup, call, teardown: the
#: guests boot in fixtures) and how many ran, printed at the end: the tier's
#: budget is 15 minutes for both kernels (issue 13)
_TIER_TIME = {"seconds": 0.0, "tests": 0}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _TIER_TIME["seconds"] += report.duration
    if report.when == "call":
        _TIER_TIME["tests"] += 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # pragma: no cover - output only
    if _TIER_TIME["tests"]:
        terminalreporter.write_sep("-", "real-kernel tier time")
        terminalreporter.write_line(f"{_TIER_TIME['tests']} tests ran in {_TIER_TIME['seconds'] / 60:.1f} min "
                                    "(setup, call and teardown; budget 15 min for both kernels)")
    for title, lines in SUMMARY:
        terminalreporter.write_sep("-", title)
        for line in lines:
            terminalreporter.write_line(line)
