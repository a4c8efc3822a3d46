"""Issue 15 item 9: while another pmemctl run holds the lock, ``status``
says "in progress, pid N" (not "UNFINISHED ... run resume/rollback"), and
``rollback``/``resume`` refuse with the lock holder named (exit 10)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pmemctl.errors import ExitCode
from pmemctl.sim.kernel import faults
from pmemctl.sysfs.door import SysfsRoot
from pmemctl.sysfs.state import LockHolder, RunLock, lock_holder

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def sysram(fresh_tree):
    return fresh_tree("qemu-nvdimm", stage="system-ram")


@pytest.fixture
def live_run(sysram):
    """A real ``pmemctl offline`` in another process, stuck on a hanging
    block: it holds the lock and its journal is written."""
    faults.inject(sysram, "offline-hang", blocks=[57], seconds=60)
    env = dict(os.environ, PYTHONPATH=str(REPO), NO_COLOR="1")
    env.pop("PMEMCTL_SYSROOT", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pmemctl", "--sysroot", str(sysram), "offline", "dax0.0", "--yes", "--timeout", "60"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    journal = sysram / "var/lib/pmemctl/journal.json"
    deadline = time.monotonic() + 30
    while not journal.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert journal.exists() and proc.poll() is None
    try:
        yield sysram, proc.pid
    finally:
        proc.kill()
        proc.wait()


def test_status_during_a_live_run_says_in_progress_with_the_pid(invoke, live_run):
    tree, pid = live_run
    res = invoke("--sysroot", tree, "status")
    assert res.exit_code == ExitCode.LOCKED
    assert f"in progress, pid {pid}" in res.stdout.lower()
    assert "UNFINISHED" not in res.stdout
    assert "resume" not in res.stdout and "rollback" not in res.stdout


@pytest.mark.parametrize("command", ["rollback", "resume"])
def test_recovery_during_a_live_run_refuses_naming_the_holder(invoke, live_run, command):
    tree, pid = live_run
    res = invoke("--sysroot", tree, command)
    assert res.exit_code == ExitCode.LOCKED
    assert f"pid {pid}" in res.stderr and "another pmemctl run" in res.stderr
    res = invoke("--sysroot", tree, command, "--json")
    assert res.exit_code == ExitCode.LOCKED
    assert f"pid {pid}" in json.loads(res.stdout)["error"]["message"]


def test_a_dead_run_leaves_an_unfinished_change(invoke, live_run):
    tree, pid = live_run
    os.kill(pid, 9)
    deadline = time.monotonic() + 10
    while lock_holder(SysfsRoot(tree)) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    res = invoke("--sysroot", tree, "status")
    assert res.exit_code == ExitCode.LOCKED
    assert "UNFINISHED" in res.stdout and "in progress" not in res.stdout.lower()


def test_lock_holder_is_a_read_only_query(sysram):
    door = SysfsRoot(sysram)
    assert lock_holder(door) is None
    assert not (sysram / "run").exists()  # nothing created
    lock = RunLock(door)
    lock.acquire()
    try:
        assert lock_holder(door) == LockHolder(os.getpid())
    finally:
        lock.release()
    assert lock_holder(door) is None


def test_status_with_the_lock_held_and_no_journal_yet(invoke, sysram):
    lock = RunLock(SysfsRoot(sysram))
    lock.acquire()
    try:
        res = invoke("--sysroot", sysram, "status")
    finally:
        lock.release()
    assert res.exit_code == ExitCode.LOCKED
    assert f"in progress, pid {os.getpid()}" in res.stdout.lower()
    assert invoke("--sysroot", sysram, "status").exit_code == ExitCode.OK


def test_status_json_names_the_run_in_progress(invoke, live_run):
    from cli_support import check_schema

    tree, pid = live_run
    res = invoke("--sysroot", tree, "status", "--json")
    assert res.exit_code == ExitCode.LOCKED
    doc = json.loads(res.stdout)
    check_schema(doc)
    assert doc["in_progress"] == {"pid": pid}
    assert doc["journal_readable"] is True


def test_status_json_without_a_run_has_the_same_keys(invoke, sysram):
    from cli_support import check_schema

    doc = json.loads(invoke("--sysroot", sysram, "status", "--json").stdout)
    check_schema(doc)
    assert doc["in_progress"] is None and doc["journal_readable"] is True


@pytest.mark.parametrize("command", ["rollback", "resume"])
def test_recovery_dry_run_during_a_live_run_refuses_naming_the_holder(invoke, live_run, command):
    tree, pid = live_run
    res = invoke("--sysroot", tree, command, "--dry-run")
    assert res.exit_code == ExitCode.LOCKED
    assert f"pid {pid}" in res.stderr and "another pmemctl run" in res.stderr
