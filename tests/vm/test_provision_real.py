"""Provisioning at boot, proven on a real kernel (issue 10).

Two boots of the same two NVDIMMs (see :mod:`provision_support`):

1. the guest's init runs ``pmemctl apply`` from a layout keyed by dax uuid
   before a stand-in workload; a second apply exits 3 and writes nothing;
2. the same DIMMs again (devdax after the reboot), systemd as PID 1 with the
   units of ``pmemctl boot install --before demo-db.service``: the layout
   converges again from devdax, on the right devices, and systemd's own
   timestamps show the workload started only after the memory was online.

A change of dax device names between boots is proven separately
(test_provision_identity_real.py: labelled namespaces whose names swap at the
next boot).  Swapping these two label-less DIMMs on QEMU's command line does
not do it: Linux 6.1 brought both namespaces back ``raw`` (the devdax info
blocks were not recognised; seen with QEMU's placement and with explicit
``addr=``), so there was no devdax device left to identify.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from . import provision_support as ps
from .checks import strace_writes
from .harness import GuestResult, run_guest

pytestmark = pytest.mark.vm

#: node -> (entry, zone, online) as the layout asks
WANTED = {1: ("pmem-fast", "movable", "all"), 2: ("pmem-slow", "normal", "1G")}
#: 128 MiB blocks in 1G
ONE_G_BLOCKS = 8


class Boot:
    """One boot's results: a :class:`GuestResult`, or a kept share re-read."""

    def __init__(self, result: GuestResult | None = None, kept: Path | None = None) -> None:
        self.r = result
        self.files: dict[str, bytes] = result.files if result else {
            p.relative_to(kept).as_posix(): p.read_bytes() for p in sorted(kept.rglob("*")) if p.is_file()}
        rc = self.files.get("exit_code", b"").decode().strip()
        self.exit_code = int(rc) if rc.lstrip("-").isdigit() else None

    def describe(self) -> str:
        return self.r.describe() if self.r else f"(kept share) exit_code={self.exit_code}"

    def file(self, name: str) -> str:
        key = f"out/{name}"
        if key not in self.files:
            raise AssertionError(f"guest left no {key}\n{self.describe()}")
        return self.files[key].decode("utf-8", "replace")

    def rc(self, name: str) -> int:
        return int(self.file(f"{name}.rc").strip())

    def json(self, name: str) -> Any:
        return json.loads(self.file(f"{name}.out"))


#: re-check kept shares without booting: DIR holds first/ and systemd/ (the
#: shares of an earlier run with --basetemp: BASETEMP/provision0/)
REUSE_ENV = "PMEMCTL_VM_REUSE_PROVISION"


@pytest.fixture(scope="module")
def boots(vm_ready: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Boot, Boot]:
    reuse = os.environ.get(REUSE_ENV)
    if reuse:
        return Boot(kept=Path(reuse) / "first"), Boot(kept=Path(reuse) / "systemd")
    work = tmp_path_factory.mktemp("provision")
    wanted = json.dumps({str(n): list(v) for n, v in WANTED.items()})
    first = run_guest(ps.FIRST_BOOT, nvdimms=list(ps.DIMMS), backing_dir=work, env={"WANTED_JSON": wanted},
                      timeout=480, results_dir=work / "first")
    assert first.exit_code == 0, first.describe()
    layout = first.files["out/layout.toml"].decode()
    ko = ps.overlay_module(vm_ready)
    if any(str(ko).startswith(d) for d in ("/tmp/", "/run/")):
        pytest.skip(f"the overlay module {ko} is under a directory the guest covers with a tmpfs")
    second = run_guest(ps.systemd_boot_scenario(layout), nvdimms=list(ps.DIMMS), backing_dir=work,
                       init_hook=ps.SYSTEMD_HOOK.format(overlay_ko=ko),
                       extra_cmdline=ps.SYSTEMD_CMDLINE, timeout=600, results_dir=work / "systemd")
    for img in work.glob("*.img"):
        img.unlink()
    return Boot(first), Boot(second)


def _dax_by_uuid(doc: dict[str, Any]) -> dict[str, tuple[str, int, str]]:
    """dax info-block uuid -> (dax device name, target node, mode)."""
    out = {}
    for bus in doc["buses"]:
        for region in bus["regions"]:
            for ns in region["namespaces"]:
                dax = ns["dax_device"]
                if dax is not None and ns["holder_uuid"]:
                    out[ns["holder_uuid"]] = (dax["name"], dax["target_node"], dax["mode"])
    return out


def _workload_saw(text: str) -> dict[int, list[tuple[str, str]]]:
    """node -> [(state, valid_zones)] of every block, as the workload found them."""
    seen: dict[int, list[tuple[str, str]]] = {1: [], 2: []}
    for line in text.splitlines():
        m = re.match(r"^node(\d) memory\d+ (\w+) (.*)$", line)
        if m:
            seen[int(m[1])].append((m[2], m[3].strip()))
    return seen


def _assert_layout_holds(saw: dict[int, list[tuple[str, str]]], where: str) -> None:
    fast, slow = saw[1], saw[2]
    assert len(fast) > 20 and all(b == ("online", "Movable") for b in fast), f"{where}: node 1 {fast}"
    online = [b for b in slow if b[0] == "online"]
    assert len(online) == ONE_G_BLOCKS and all(z == "Normal" for _, z in online), f"{where}: node 2 {slow}"
    assert len(slow) > ONE_G_BLOCKS and {s for s, _ in slow} == {"online", "offline"}, f"{where}: node 2 {slow}"


def test_init_applies_the_layout_before_the_workload(boots: tuple[Boot, Boot]) -> None:
    first, _ = boots
    doc = first.json("apply1")
    assert first.rc("apply1") == 0, first.file("apply1.err")
    assert {i["name"]: i["status"] for i in doc["items"]} == {"pmem-fast": "changed", "pmem-slow": "changed"}
    assert all(i["selector"].startswith("dax_uuid=") for i in doc["items"])
    _assert_layout_holds(_workload_saw(first.file("workload-start.txt")), "boot 1, workload start")
    assert first.rc("check") == 0, first.file("check.out")


def test_second_apply_is_converged_and_writes_nothing(boots: tuple[Boot, Boot]) -> None:
    first, _ = boots
    assert first.rc("apply2") == 3, first.file("apply2.err")
    doc = first.json("apply2")
    assert {i["status"] for i in doc["items"]} == {"converged"} and doc["plan"] is None
    trace = first.file("apply2.strace")
    writes = [w for w in strace_writes(trace, prefixes=("/",)) if not w.path.startswith(("/run/vmio/", "/tmp/"))]
    assert writes == [], writes
    changes = re.findall(r"^\d+\s+(?:unlink|unlinkat|rename|renameat2?|mkdir|mkdirat|ftruncate)\(.*$", trace, re.M)
    assert [c for c in changes if "/tmp/" not in c] == []
    assert first.file("state-before-apply2.txt") == first.file("state-after-apply2.txt")


def test_second_boot_converges_again_from_devdax_by_uuid(boots: tuple[Boot, Boot]) -> None:
    first, second = boots
    assert second.rc("list-before") == 0, second.describe()
    before = _dax_by_uuid(first.json("list-devdax"))
    again = _dax_by_uuid(second.json("list-before"))
    assert len(before) == 2 and before.keys() == again.keys()
    for uuid, (_, node, _) in before.items():
        assert again[uuid][1:] == (node, "devdax")  # the same DIMM, back in devdax after the reboot
    final = _dax_by_uuid(second.json("sd-list"))
    assert {u: (m, n) for u, (_, n, m) in final.items()} == {u: ("system-ram", n) for u, (_, n, _) in before.items()}


def test_boot_install_in_the_guest_root_verifies(boots: tuple[Boot, Boot]) -> None:
    _, second = boots
    assert second.rc("boot-install") == 0, second.file("boot-install.err")
    doc = second.json("boot-install")
    assert doc["root"] == "/" and doc["state"] == "changed"
    assert second.json("boot-status")["state"] == "current"
    assert second.rc("verify") == 0 and second.file("verify.out").strip() == ""


def test_systemd_starts_the_workload_only_after_the_memory_is_online(boots: tuple[Boot, Boot]) -> None:
    _, second = boots
    assert second.exit_code == 0, second.describe()
    apply = ps.show(second.file("show-pmemctl-apply.service.txt"))
    target = ps.show(second.file("show-pmemctl-memory.target.txt"))
    workload = ps.show(second.file(f"show-{ps.WORKLOAD}.txt"))
    assert (apply["ActiveState"], apply["Result"], apply["ExecMainStatus"]) == ("active", "success", "0"), apply
    assert target["ActiveState"] == "active" and workload["ActiveState"] == "active"
    assert "/etc/systemd/system/demo-db.service.d/50-pmemctl.conf" in workload["DropInPaths"].split()
    assert "pmemctl-memory.target" in workload["After"].split()
    applied = int(apply["ExecMainExitTimestampMonotonic"])
    assert 0 < int(apply["ExecMainStartTimestampMonotonic"]) < applied
    assert applied <= int(apply["ActiveEnterTimestampMonotonic"]) <= int(target["ActiveEnterTimestampMonotonic"])
    assert int(target["ActiveEnterTimestampMonotonic"]) <= int(workload["ExecMainStartTimestampMonotonic"])
    # what the workload found when it started, and when (uptime, seconds)
    saw = second.file("workload-start.txt")
    _assert_layout_holds(_workload_saw(saw), "boot 2 (systemd), workload start")
    started = float(saw.splitlines()[0].split()[1])
    assert started * 1e6 >= applied
    # after the boot: the layout holds, and another run has nothing to do
    assert second.rc("sd-check") == 0, second.file("sd-check.out")
    assert second.rc("sd-apply2") == 3, second.file("sd-apply2.err")
    journal = second.file("journal.txt")
    assert journal.index("Finished pmemctl-apply.service") < journal.index(f"Starting {ps.WORKLOAD}")
