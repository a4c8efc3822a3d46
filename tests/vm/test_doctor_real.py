"""``pmemctl doctor`` on a real Debian kernel (QEMU/TCG, one boot).

The guest is the qemu-nvdimm machine (one 4 GiB NVDIMM on memory-only node 1,
``nvdimm=on,hmat=on``, ``memhp_default_state=offline`` on the command line).
The scenario makes the guest's own conditions, then runs doctor and takes a
support bundle:

* the Debian kernel's own configuration is bound on /boot (the guest runs
  the host's root, whose /boot lacks it);
* ``dax0.0``: a devdax namespace of 1 GiB + 64 MiB, not a block multiple:
  kmem would lose whole blocks to alignment;
* the next namespace goes to system-ram with pmemctl, then kmem is unbound
  behind its back with the memory online: stranded until reboot;
* a udev rule that onlines memory, planted in /run/udev/rules.d (tmpfs in
  the guest).

Doctor must find each of them, see the HMAT, SRAT and NFIT tables, and the
bundle unpacked on the host must give the same findings.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from . import harness
from .conftest import Outputs, _vm_result, qemu_nvdimm_machine
from .scenarios import PRELUDE

pytestmark = pytest.mark.vm

UDEV_RULE = 'SUBSYSTEM=="memory", ACTION=="add", ATTR{state}=="offline", ATTR{state}="online_movable"'

DOCTOR_SCENARIO = PRELUDE + r"""
set +e
[ -n "$KBOOT" ] && [ -d "$KBOOT" ] && mount --bind "$KBOOT" /boot
run lab-disable ndctl disable-region region0
run lab-init ndctl init-labels nmem0
run lab-enable ndctl enable-region region0
chardev() { $PYTHON -c 'import json,sys; d=json.load(sys.stdin); print(d["daxregion"]["devices"][0]["chardev"])'; }
ndctl create-namespace -r region0 -m devdax -a 2M -s 1088M > "$VMIO/out/ns-unaligned.json"
UNALIGNED=$(chardev < "$VMIO/out/ns-unaligned.json")
ndctl create-namespace -r region0 -m devdax -a 2M -s 1G > "$VMIO/out/ns-stranded.json"
STRANDED=$(chardev < "$VMIO/out/ns-stranded.json")
echo "$UNALIGNED $STRANDED" > "$VMIO/out/devices"
run to-ram pmemctl reconfigure "$STRANDED" --mode system-ram --zone movable --yes
echo "$STRANDED" > /sys/bus/dax/drivers/kmem/unbind
echo "unbind rc=$?"
# planted last: pmemctl itself refuses to reconfigure while a udev rule onlines memory
mkdir -p /run/udev/rules.d
echo '__RULE__' > /run/udev/rules.d/99-online-memory.rules
run doctor pmemctl doctor --json
run doctor-text pmemctl doctor
run bundle pmemctl doctor --bundle "$VMIO/out/bundle.tar.gz" --json
ls /sys/firmware/acpi/tables > "$VMIO/out/tables"
""".replace("__RULE__", UDEV_RULE)


@pytest.fixture(scope="module")
def doctor_run(request: pytest.FixtureRequest) -> Outputs:
    prepared = request.getfixturevalue("vm_ready")
    kboot = str(Path(prepared.vmlinuz).parent)
    return Outputs(_vm_result(request, DOCTOR_SCENARIO, "doctor", timeout=900, env={"KBOOT": kboot},
                              **qemu_nvdimm_machine()))


def _by_id(doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for f in doc["findings"]:
        out.setdefault(f["id"], []).append(f)
    return out


def _comparable(doc: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(f["id"], f["severity"], f["subject"], json.dumps(f["evidence"])) for f in doc["findings"]]


def test_guest_conditions_are_found(doctor_run: Outputs) -> None:
    unaligned, stranded = doctor_run.raw("devices").decode().split()
    assert doctor_run.rc("to-ram") == 0, doctor_run.err("to-ram")
    doc = json.loads(doctor_run.out("doctor"))
    assert doctor_run.rc("doctor") == doc["exit_code"] == 12  # warnings, no error
    found = _by_id(doc)
    # the command line
    memhp = found["cmdline-memhp-offline"][0]
    assert {"path": "/proc/cmdline", "value": "memhp_default_state=offline"} in memhp["evidence"]
    # the firmware tables: HMAT, SRAT and NFIT are there, so nothing is said about them
    tables = doctor_run.raw("tables").decode().split()
    assert {"HMAT", "SRAT", "NFIT"} <= set(tables)
    assert not {"acpi-tables-unknown", "acpi-no-hmat", "acpi-no-srat", "acpi-no-nfit"} & set(found)
    # the kernel configuration was read (Debian's) and has what kmem needs
    assert "kconfig-unknown" not in found
    assert not {"kconfig-no-memory-hotplug", "kconfig-no-memory-hotremove", "kconfig-no-dev-dax-kmem"} & set(found)
    # alignment: 1 GiB + 64 MiB loses whole blocks
    loss = next(f for f in found["align-loss"] if f["subject"] == unaligned)
    assert any(e["path"] == "computed" and "outside whole 128M blocks" in e["value"] for e in loss["evidence"])
    # stranded: kmem unbound with the memory online
    strand = next(f for f in found["stranded-memory"] if f["subject"] == stranded)
    assert any(e["path"] == "/proc/iomem" and "System RAM (kmem)" in e["value"] for e in strand["evidence"])
    assert strand["needs_reboot"] is True
    # the planted udev rule
    rule = found["agent-udev-onlines-memory"][0]
    assert rule["subject"] == "/run/udev/rules.d/99-online-memory.rules"
    assert any('ATTR{state}="online_movable"' in e["value"] for e in rule["evidence"])
    assert doc["read_as_root"] is True and not any(f["needs_root"] for f in doc["findings"])


def test_bundle_gives_the_same_findings_on_the_host(doctor_run: Outputs, tmp_path: Path) -> None:
    in_guest = json.loads(doctor_run.out("doctor"))
    bundle = tmp_path / "bundle.tar.gz"
    bundle.write_bytes(doctor_run.raw("bundle.tar.gz"))
    dest = tmp_path / "unpacked"
    env = {"PYTHONPATH": str(harness.PROJECT_DIR), "PATH": "/usr/bin:/bin", "NO_COLOR": "1"}
    run = [sys.executable, "-m", "pmemctl"]
    unpack = subprocess.run([*run, "sim", "unpack", str(bundle), str(dest)], capture_output=True, text=True,
                            env=env, check=False)
    assert unpack.returncode == 0, unpack.stderr
    on_host = subprocess.run([*run, "--sysroot", str(dest), "doctor", "--json"], capture_output=True, text=True,
                             env=env, check=False)
    assert on_host.returncode == 12, on_host.stderr
    assert _comparable(json.loads(on_host.stdout)) == _comparable(in_guest), shlex.join(on_host.args)
    meta = json.loads((dest / ".pmemctl-bundle/bundle.json").read_text())
    assert meta["versions"]["ndctl"] and meta["dmesg"] is True
    assert (dest / "boot").is_dir() and any(p.name.startswith("config-") for p in (dest / "boot").iterdir())
