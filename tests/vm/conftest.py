"""Fixtures for the real-kernel tier (marker ``vm``).

Each session fixture boots one guest lazily and is shared by every test that
needs it, so the whole tier costs two boots (about 35 s + 15 s here).
Tests skip only when QEMU guests cannot run on this machine
(:func:`harness.vm_available` / :func:`harness.prepare` say why) or when
``PMEMCTL_VM_SKIP=1`` is set.
"""

from __future__ import annotations

import json
import os

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


@pytest.fixture(scope="session")
def vm_ready() -> harness.Prepared:
    """Skip unless guests can run here; the cached (or downloaded) kernel."""
    if os.environ.get("PMEMCTL_VM_SKIP") == "1":
        pytest.skip("PMEMCTL_VM_SKIP=1")
    ok, reason = harness.vm_available()
    if not ok:
        pytest.skip(f"QEMU guests cannot run here: {reason}")
    try:
        return harness.prepare()
    except harness.VmUnavailable as e:
        pytest.skip(f"guest kernel not obtainable: {e}")


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
    kept = os.environ.get(f"PMEMCTL_VM_REUSE_{name.upper()}")
    if kept:
        return _kept_result(kept)
    request.getfixturevalue("vm_ready")
    tmp = request.getfixturevalue("tmp_path_factory").mktemp(f"vm-{name}")
    result = harness.run_guest(scenario, results_dir=tmp / "io", **kw)
    if result.exit_code != 0:
        pytest.fail(f"guest scenario {name} did not complete\n{result.describe()}")
    return result


@pytest.fixture(scope="session")
def single_run(request) -> harness.GuestResult:
    """One 4 GiB NVDIMM on node 1: raw -> devdax -> system-ram with captures,
    then the write-semantics probe (ends with dax0.0 stranded)."""
    return _vm_result(request, scenarios.SINGLE_CONVERSION, "single", timeout=420)


@pytest.fixture(scope="session")
def single(single_run) -> Outputs:
    return Outputs(single_run)


@pytest.fixture(scope="session")
def dual_run(request) -> harness.GuestResult:
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
def flow_run(request) -> harness.GuestResult:
    """One 4 GiB NVDIMM on node 1 shaped like the qemu-nvdimm scenario:
    pmemctl converts, onlines, offlines and refuses on the real kernel
    (scenarios.PMEMCTL_FLOW), recording the machine at raw/devdax/system-ram."""
    return _vm_result(request, scenarios.PMEMCTL_FLOW, "flow", timeout=900, **qemu_nvdimm_machine())


@pytest.fixture(scope="session")
def flow(flow_run) -> Outputs:
    return Outputs(flow_run)


@pytest.fixture(scope="session")
def namespaces_run(request) -> harness.GuestResult:
    """The qemu-nvdimm machine again: scenario 6, namespaces of a given size
    created and destroyed by pmemctl with each backend
    (scenarios.NAMESPACES)."""
    return _vm_result(request, scenarios.NAMESPACES, "namespaces", timeout=600, **qemu_nvdimm_machine())


@pytest.fixture(scope="session")
def namespaces(namespaces_run) -> Outputs:
    return Outputs(namespaces_run)


#: (title, lines) the tests want shown at the end of the run (fidelity figures)
SUMMARY: list[tuple[str, list[str]]] = []


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # pragma: no cover - output only
    for title, lines in SUMMARY:
        terminalreporter.write_sep("-", title)
        for line in lines:
            terminalreporter.write_line(line)
