"""Fidelity of the simulator: the real guest recorded with ``pmemctl sim
record`` at raw, devdax and system-ram (scenarios.PMEMCTL_FLOW, a guest shaped
like the ``qemu-nvdimm`` scenario) against ``qemu-nvdimm`` built at the same
stage and recorded the same way.

Each stage prints its agreement (percentage of attributes that agree, see
fidelity.py for what agreeing means and LEGITIMATE for the differences that
are normalised away, with their reasons) and every difference; below
THRESHOLD the test fails.  The figures are also shown in the run's summary.
"""

from __future__ import annotations

import json
import os

import pytest

from . import harness
from .conftest import SUMMARY
from .fidelity import LEGITIMATE, compare, load_tree

pytestmark = pytest.mark.vm

STAGES = ("raw", "devdax", "system-ram")
THRESHOLD = 95.0


def _pair(run, stage: str, base, kernel: str | None = None):
    """(real recording, simulated recording) of ``stage`` from a guest run;
    the simulated machine runs kernel profile ``kernel`` (the guest's)."""
    from pmemctl.sim.build import materialise
    from pmemctl.sim.record import record

    tar = run.files.get(f"rec/{stage}.tar")
    assert tar, f"the guest recorded no {stage}\n{run.describe()}"
    real = harness.unpack_capture(tar, base / "real" / stage) / f"rec-{stage}"
    src = materialise("qemu-nvdimm", base / "simsrc" / stage, {"stage": stage}, kernel=kernel)
    sim = base / "sim" / stage
    record(sim, src)
    return real, sim


@pytest.fixture(scope="module")
def recordings(flow_run, tmp_path_factory, vm_profile):
    """stage -> (real recording, simulated recording)."""
    base = tmp_path_factory.mktemp("fidelity")
    return {stage: _pair(flow_run, stage, base, vm_profile.name) for stage in STAGES}


@pytest.fixture(scope="module")
def comparisons(recordings, vm_kernel):
    out = {stage: compare(str(real), str(sim), stage) for stage, (real, sim) in recordings.items()}
    lines = [f"{stage:>10}: {c.agree}/{c.total} attributes agree = {c.percent:.1f} % "
             f"(threshold {THRESHOLD:.0f} %)" for stage, c in out.items()]
    SUMMARY.append((f"simulator fidelity vs real kernel {vm_kernel} (qemu-nvdimm --kernel {vm_kernel})", lines))
    return out


def test_real_recordings_are_complete(recordings, vm_ready):
    for real, _ in recordings.values():
        meta = json.loads((real / ".pmemctl-record.json").read_text())
        assert meta["kernel"] == vm_ready.kernel_version and not meta["missing"], meta
        assert not meta["truncated"]
        # 0200 driver files are created empty and never read; ENXIO of a
        # disabled seed's size is recorded, not fatal
        bind = real / "sys/bus/dax/drivers/kmem/bind"
        assert bind.stat().st_mode & 0o777 == 0o200 and bind.read_bytes() == b""
        assert set(meta["errors"].values()) <= {"ENXIO"}, meta["errors"]
        link = real / "sys/bus/nd/devices/region0"
        assert os.readlink(link) == "../../../devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0"
        assert not list(real.rglob("uevent"))
        tree = load_tree(str(real))
        assert "sys/devices/system/memory/block_size_bytes" in tree


@pytest.mark.parametrize("stage", STAGES)
def test_simulator_agrees_with_the_real_kernel(comparisons, stage):
    c = comparisons[stage]
    report = c.report()
    print(report)
    print("legitimate differences (normalised):")
    for name, reason in LEGITIMATE.items():
        print(f"  {name}: {reason}")
    if c.percent < THRESHOLD:
        pytest.fail(f"simulator fidelity {c.percent:.1f} % < {THRESHOLD:.0f} %\n{report}", pytrace=False)


def test_simulator_agrees_at_the_labelled_stage(namespaces_run, tmp_path, vm_profile):
    """The namespaces boot records the machine right after ndctl initialised
    the labels (an empty labelled region): qemu-nvdimm's ``labelled`` stage."""
    real, sim = _pair(namespaces_run, "labelled", tmp_path, vm_profile.name)
    c = compare(str(real), str(sim), "labelled")
    SUMMARY.append(("simulator fidelity vs real kernel (qemu-nvdimm, namespaces boot)",
                    [f"  labelled: {c.agree}/{c.total} attributes agree = {c.percent:.1f} % "
                     f"(threshold {THRESHOLD:.0f} %)"]))
    report = c.report()
    print(report)
    if c.percent < THRESHOLD:
        pytest.fail(f"simulator fidelity {c.percent:.1f} % < {THRESHOLD:.0f} %\n{report}", pytrace=False)
