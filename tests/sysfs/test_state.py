"""The run lock and the intent journal under a sysroot."""

from __future__ import annotations

import pytest

from pmemctl.errors import Locked
from pmemctl.sysfs.door import SysfsRoot
from pmemctl.sysfs.state import Journal, RunLock


def test_journal_round_trip_with_batches(tmp_path):
    (tmp_path / "sys/devices").mkdir(parents=True)
    j = Journal(SysfsRoot(tmp_path))
    j.begin({"plan": {"title": "t", "actions": []}, "state": "applying"})
    j.event(0, "start", to=64)
    j.event(0, "done", to=10)
    j.event(10, "fail", err=16)
    j.event(11, "not-run", to=64)
    j.close()
    rec = Journal(SysfsRoot(tmp_path)).load()
    st = rec.statuses()
    assert st[0] == st[9] == "done" and st[10] == "fail" and st[11] == st[63] == "not-run"
    assert (tmp_path / "var/lib/pmemctl/journal.json").exists()


def test_journal_falls_back_to_run_when_var_lib_is_not_writable(tmp_path):
    (tmp_path / "var").mkdir()
    (tmp_path / "var/lib").write_text("not a directory: stands for a read-only /var/lib\n")
    j = Journal(SysfsRoot(tmp_path))
    j.begin({"plan": {"title": "t", "actions": []}})
    j.close()
    assert (tmp_path / "run/pmemctl/journal.json").exists()
    # a later run finds it there
    assert Journal(SysfsRoot(tmp_path)).load() is not None


def test_torn_last_line_is_ignored(tmp_path):
    j = Journal(SysfsRoot(tmp_path))
    j.begin({"plan": {"title": "t", "actions": []}})
    j.event(0, "start")
    j.close()
    with open(j.log_path, "a") as fh:
        fh.write('{"e":"do')  # a crash in the middle of a write
    assert Journal(SysfsRoot(tmp_path)).load().statuses() == {0: "start"}


def test_lock_is_exclusive(tmp_path):
    door = SysfsRoot(tmp_path)
    first = RunLock(door)
    first.acquire()
    try:
        with pytest.raises(Locked):
            RunLock(door).acquire()
    finally:
        first.release()
    with RunLock(door):
        pass
