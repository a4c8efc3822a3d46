"""reconfigure / online / offline / status / resume / rollback / demo via the CLI.

Exit codes are the contract scripts rely on: each outcome is checked.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pmemctl.errors import ExitCode
from pmemctl.sim.kernel import faults

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def devdax(fresh_tree):
    return fresh_tree("qemu-nvdimm", stage="devdax")


@pytest.fixture
def sysram(fresh_tree):
    return fresh_tree("qemu-nvdimm", stage="system-ram")


def blocks_json(invoke, tree, *extra):
    res = invoke("--sysroot", tree, "blocks", "--json", *extra)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def online_count(invoke, tree, device="dax0.0"):
    doc = blocks_json(invoke, tree, "--device", device)
    return doc["totals"]["blocks_online"]


def test_dry_run_prints_the_exact_writes_and_changes_nothing(invoke, devdax):
    before = (devdax / "sys/bus/dax/devices/dax0.0/driver").resolve()
    res = invoke("--sysroot", devdax, "reconfigure", "dax0.0", "--mode", "system-ram", "--dry-run")
    assert res.exit_code == 0, res.output
    assert "echo dax0.0 > /sys/bus/dax/drivers/device_dax/unbind" in res.stdout
    assert "echo online_movable > /sys/devices/system/memory/memory33/state" in res.stdout
    assert "dry run: nothing was written" in res.stdout
    assert (devdax / "sys/bus/dax/devices/dax0.0/driver").resolve() == before


def test_dry_run_json_lists_every_write(invoke, devdax):
    res = invoke("--sysroot", devdax, "reconfigure", "dax0.0", "-m", "system-ram", "--dry-run", "--json")
    doc = json.loads(res.stdout)
    assert doc["schema_version"] == 2 and doc["command"] == "reconfigure" and doc["dry_run"] is True
    assert doc["outcome"] is None
    writes = [w for s in doc["plan"]["steps"] for w in s["writes"]]
    assert writes[0] == {"path": "/sys/bus/dax/drivers/device_dax/remove_id", "value": "dax0.0", "kind": "sysfs"}
    assert len(writes) == 4 + 30


def test_destructive_change_needs_yes_when_not_a_tty(invoke, devdax):
    res = invoke("--sysroot", devdax, "reconfigure", "dax0.0", "--mode", "system-ram")
    assert res.exit_code == ExitCode.REFUSED
    assert "--yes" in res.stderr and "Traceback" not in res.stderr
    assert online_count(invoke, devdax) == 0


def test_convert_then_no_change_then_back(invoke, devdax):
    res = invoke("--sysroot", devdax, "reconfigure", "dax0.0", "--mode", "system-ram", "--yes")
    assert res.exit_code == ExitCode.OK, res.output
    assert online_count(invoke, devdax) == 30
    zones = {tuple(r["zones"]) for r in blocks_json(invoke, devdax, "--device", "dax0.0")["ranges"]}
    assert zones == {("movable",)}
    res = invoke("--sysroot", devdax, "reconfigure", "dax0.0", "--mode", "system-ram", "--yes")
    assert res.exit_code == ExitCode.NO_CHANGE
    res = invoke("--sysroot", devdax, "reconfigure", "dax0.0", "--mode", "devdax", "--yes", "--json")
    assert res.exit_code == ExitCode.OK, res.output
    doc = json.loads(res.stdout)
    assert doc["outcome"]["status"] == "changed" and doc["outcome"]["exit_code"] == 0
    lst = json.loads(invoke("--sysroot", devdax, "list", "--json").stdout)
    dev = lst["buses"][0]["regions"][0]["namespaces"][0]["dax_device"]
    assert dev["mode"] == "devdax" and dev["blocks_total"] == 0


def test_online_by_size_count_and_blocks(invoke, devdax):
    assert invoke("--sysroot", devdax, "reconfigure", "dax0.0", "-m", "system-ram", "--no-online", "-y").exit_code == 0
    res = invoke("--sysroot", devdax, "online", "dax0.0", "--size", "300M")
    assert res.exit_code == 0, res.output
    assert "rounded down to 2 whole block(s)" in res.stdout
    assert invoke("--sysroot", devdax, "online", "dax0.0", "--count", "3").exit_code == 0
    assert invoke("--sysroot", devdax, "online", "--blocks", "60-62", "--zone", "normal").exit_code == 0
    assert online_count(invoke, devdax) == 8
    res = invoke("--sysroot", devdax, "offline", "dax0.0", "--blocks", "33-34")
    assert res.exit_code == 0, res.output
    assert online_count(invoke, devdax) == 6


@pytest.mark.parametrize(
    "args,code,needle",
    [
        (["online", "dax0.0", "--size", "100M"], ExitCode.USAGE, "128M"),
        (["online", "dax0.0", "--size", "lots"], ExitCode.USAGE, "not a size"),
        (["online", "dax0.0", "--count", "2", "--size", "1G"], ExitCode.USAGE, "only one of"),
        (["online", "--blocks", "33-x"], ExitCode.USAGE, "block list"),
        (["online", "dax9.9", "--count", "1"], ExitCode.NOT_FOUND, "dax9.9"),
        (["online", "--blocks", "999"], ExitCode.NOT_FOUND, "memory block 999"),
        (["reconfigure", "dax0.0", "--mode", "bogus"], ExitCode.USAGE, "bogus"),
        (["reconfigure", "dax0.0", "--mode", "devdax", "--no-online"], ExitCode.USAGE, "--no-online"),
        (["reconfigure", "dax0.0", "-m", "system-ram", "--zone", "dma"], ExitCode.USAGE, "dma"),
        (["reconfigure", "nothing-like-this", "-m", "system-ram"], ExitCode.NOT_FOUND, "nothing-like-this"),
    ],
)
def test_bad_input_is_one_line_with_its_code(invoke, sysram, args, code, needle):
    before = (sysram / "proc/meminfo").read_text()
    res = invoke("--sysroot", sysram, *args)
    assert res.exit_code == code, res.output
    assert needle in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    assert (sysram / "proc/meminfo").read_text() == before


def test_online_on_devdax_device_is_refused(invoke, devdax):
    res = invoke("--sysroot", devdax, "online", "dax0.0", "--count", "1")
    assert res.exit_code == ExitCode.REFUSED
    assert "reconfigure dax0.0 --mode system-ram" in res.stderr


def test_all_online_is_no_change(invoke, sysram):
    assert invoke("--sysroot", sysram, "online", "dax0.0").exit_code == ExitCode.NO_CHANGE


def test_offline_failure_rolls_back(invoke, sysram):
    faults.inject(sysram, "offline-busy", blocks=[58])
    res = invoke("--sysroot", sysram, "offline", "dax0.0", "--blocks", "57-62")  # a list: all or nothing
    assert res.exit_code == ExitCode.ROLLED_BACK, res.output
    assert "memory block 58" in res.stdout and "EBUSY" in res.stdout
    assert online_count(invoke, sysram) == 30


def test_bind_failure_rolls_back(invoke, devdax):
    faults.inject(devdax, "bind-fail", driver="kmem", device="dax0.0")
    res = invoke("--sysroot", devdax, "reconfigure", "dax0.0", "-m", "system-ram", "--yes")
    assert res.exit_code == ExitCode.ROLLED_BACK
    assert "dax0.0 is bound to device_dax" in res.stdout


def test_partial_online(invoke, devdax):
    assert invoke("--sysroot", devdax, "reconfigure", "dax0.0", "-m", "system-ram", "--no-online", "-y").exit_code == 0
    faults.inject(devdax, "online-fail", blocks=[35])
    res = invoke("--sysroot", devdax, "online", "dax0.0", "--count", "4")
    assert res.exit_code == ExitCode.PARTIAL
    assert "memory35" in res.stdout


def test_rollback_incomplete_keeps_the_journal(invoke, devdax):
    faults.inject(devdax, "bind-fail", driver="kmem", device="dax0.0")
    faults.inject(devdax, "bind-fail", driver="device_dax", device="dax0.0")
    res = invoke("--sysroot", devdax, "reconfigure", "dax0.0", "-m", "system-ram", "--yes")
    assert res.exit_code == ExitCode.ROLLBACK_INCOMPLETE
    assert "NO driver" in res.stdout
    st = invoke("--sysroot", devdax, "status", "--json")
    assert st.exit_code == ExitCode.LOCKED
    assert json.loads(st.stdout)["unfinished"]["state"] == "rollback-incomplete"
    # a new change is refused until the old one is settled
    res = invoke("--sysroot", devdax, "reconfigure", "dax0.0", "-m", "system-ram", "--yes")
    assert res.exit_code == ExitCode.LOCKED and f"pmemctl --sysroot {devdax} rollback" in res.stderr
    faults.clear(devdax)
    res = invoke("--sysroot", devdax, "rollback")
    assert res.exit_code == 0, res.output
    assert invoke("--sysroot", devdax, "status").exit_code == 0
    lst = json.loads(invoke("--sysroot", devdax, "list", "--json").stdout)
    assert lst["buses"][0]["regions"][0]["namespaces"][0]["dax_device"]["driver"] == "device_dax"


def test_second_run_is_refused_while_the_lock_is_held(invoke, sysram):
    from pmemctl.sysfs.door import SysfsRoot
    from pmemctl.sysfs.state import RunLock

    lock = RunLock(SysfsRoot(sysram))
    lock.acquire()
    try:
        res = invoke("--sysroot", sysram, "offline", "dax0.0", "--count", "1")
        assert res.exit_code == ExitCode.LOCKED
        assert "another pmemctl run" in res.stderr
    finally:
        lock.release()


def _env():
    env = dict(os.environ, PYTHONPATH=str(REPO), NO_COLOR="1")
    env.pop("PMEMCTL_SYSROOT", None)
    return env


def test_sigint_during_apply_leaves_a_journal_that_rollback_completes(sysram):
    faults.inject(sysram, "offline-hang", blocks=[57], seconds=60)
    cmd = [sys.executable, "-m", "pmemctl", "--sysroot", str(sysram), "offline", "dax0.0", "--count", "8",
           "--timeout", "60"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    journal = sysram / "var/lib/pmemctl/journal.json"
    deadline = time.monotonic() + 30
    while not journal.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # let it reach the hanging block
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == ExitCode.ROLLBACK_INCOMPLETE, (out, err)
    assert f"pmemctl --sysroot {sysram} rollback" in err and "Traceback" not in err
    faults.clear(sysram)
    def run(*a: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pmemctl", "--sysroot", str(sysram), *a],
                              capture_output=True, text=True, env=_env())

    st = run("status", "--json")
    assert st.returncode == ExitCode.LOCKED
    assert json.loads(st.stdout)["unfinished"]["state"] == "interrupted"
    rb = run("rollback")
    assert rb.returncode == 0, rb.stdout + rb.stderr
    doc = json.loads(run("blocks", "--json", "--device", "dax0.0").stdout)
    assert doc["totals"]["blocks_online"] == 30
    assert run("status").returncode == 0


def test_demo_runs_without_root_or_pmem(invoke):
    res = invoke("demo")
    assert res.exit_code == 0, res.output
    for step in ("1. Discover", "3. Plan", "4. Convert", "5. Online half", "6. NUMA topology after"):
        assert step in res.stdout
    assert "Movable:15" in res.stdout


def test_offline_count_dry_run_says_spares_may_be_used(invoke, sysram):
    """Issue 15 item 11: --count/--size may take another block of the device
    when one is busy; the plan says so before anything is written, --blocks does not."""
    res = invoke("--sysroot", sysram, "offline", "dax0.0", "--count", "4", "--dry-run")
    assert res.exit_code == 0, res.output
    assert "replaced by another online movable block of dax0.0: spare block(s) 33-58" in res.stdout
    assert "PARTIAL only if fewer than 4 block(s) go offline" in res.stdout
    listed = invoke("--sysroot", sysram, "offline", "dax0.0", "--blocks", "59-62", "--dry-run")
    assert "spare" not in listed.stdout


def test_demo_builds_on_the_default_kernel_profile(invoke, tmp_path):
    """demo builds what 'sim create' builds by default (the newest profile):
    on 6.12 the kmem node's tier comes from HMAT (36), not the 6.1 default 22."""
    from pmemctl.sim.kernel import SimulatedKernel
    from pmemctl.sim.kernels import DEFAULT_KERNEL

    keep = tmp_path / "kept"
    res = invoke("demo", "--keep", keep)
    assert res.exit_code == 0, res.stdout + res.stderr
    made = tmp_path / "made"
    assert invoke("sim", "create", made, "--scenario", "qemu-nvdimm", "--kernel", DEFAULT_KERNEL).exit_code == 0
    assert SimulatedKernel(keep).spec.kernel_release == SimulatedKernel(made).spec.kernel_release
    assert "memory_tier36" in res.stdout
