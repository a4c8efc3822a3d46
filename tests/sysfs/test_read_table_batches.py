"""``SysfsRoot.read_table`` closes the files it reads in batches (one
close_range for consecutive descriptors): same values, no descriptor leaked
or closed that is not its own, whatever the descriptor table looks like."""

from __future__ import annotations

import os
import resource
from pathlib import Path
from typing import Optional

import pytest

from pmemctl.errors import KernelError
from pmemctl.sysfs import door as door_module
from pmemctl.sysfs.door import SysfsRoot

MEMORY = "/sys/devices/system/memory"


def open_fds() -> set[int]:
    return {int(name) for name in os.listdir("/proc/self/fd")} - {-1}


def make_blocks(root: Path, count: int) -> list[str]:
    base = root / "sys/devices/system/memory"
    for i in range(count):
        (base / f"memory{i}").mkdir(parents=True)
        (base / f"memory{i}" / "state").write_text("online\n" if i % 3 else "offline\n")
        (base / f"memory{i}" / "removable").write_text(f"{i % 2}\n")
    return [f"memory{i}" for i in range(count)]


def expected(count: int) -> list[list[Optional[str]]]:
    return [["online" if i % 3 else "offline" for i in range(count)], [str(i % 2) for i in range(count)]]


def test_many_batches_read_every_value_and_leave_no_descriptor(tmp_path: Path) -> None:
    names = make_blocks(tmp_path, 3 * door_module._CLOSE_BATCH + 5)
    before = open_fds()
    got = SysfsRoot(tmp_path).read_table(MEMORY, names, ["state", "removable"])
    assert got == expected(len(names))
    assert open_fds() == before


def test_descriptors_of_others_between_the_batch_stay_open(tmp_path: Path) -> None:
    """Holes in the descriptor table make a batch's descriptors non-consecutive:
    the ones in between belong to someone else and must survive."""
    names = make_blocks(tmp_path, 2 * door_module._CLOSE_BATCH)
    spare = [os.open(os.devnull, os.O_RDONLY) for _ in range(12)]
    others = spare[1::2]
    for fd in spare[0::2]:
        os.close(fd)  # holes the read fills first
    try:
        before = open_fds()
        assert SysfsRoot(tmp_path).read_table(MEMORY, names, ["state", "removable"]) == expected(len(names))
        assert open_fds() == before
        for fd in others:
            os.fstat(fd)  # still open
    finally:
        for fd in others:
            os.close(fd)


def test_near_the_descriptor_limit_the_batch_is_given_back_and_the_read_goes_on(tmp_path: Path) -> None:
    names = make_blocks(tmp_path, 3 * door_module._CLOSE_BATCH)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    before = open_fds()
    # room for the directory and four files only: every batch runs out of
    # descriptors.  The room is counted, not assumed: how many holes the
    # table has below its highest descriptor depends on how pytest was run
    # (CI's table had none, and the directory took the only free slot).
    def free_below(limit: int) -> int:
        return limit - len({fd for fd in before if fd < limit})

    limit = 3
    while free_below(limit) < 5:  # each step frees at most one more slot
        limit += 1
    assert free_below(limit) == 5
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    try:
        got = SysfsRoot(tmp_path).read_table(MEMORY, names, ["state", "removable"])
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert got == expected(len(names))
    assert open_fds() == before


def test_an_error_in_the_middle_of_a_batch_leaves_no_descriptor(tmp_path: Path) -> None:
    names = make_blocks(tmp_path, door_module._CLOSE_BATCH)
    victim = tmp_path / "sys/devices/system/memory/memory40/state"
    victim.unlink()
    victim.symlink_to(tmp_path / "sys/devices/system/memory/memory1/state")
    before = open_fds()
    with pytest.raises(KernelError) as exc:
        SysfsRoot(tmp_path).read_table(MEMORY, names, ["state", "removable"])
    assert "symbolic link" in exc.value.sentence()
    assert open_fds() == before


def test_a_directory_where_an_attribute_should_be_is_refused(tmp_path: Path) -> None:
    """A read error (EISDIR) sends the batch file by file, which names the culprit."""
    names = make_blocks(tmp_path, door_module._CLOSE_BATCH)
    victim = tmp_path / "sys/devices/system/memory/memory33/removable"
    victim.unlink()
    victim.mkdir()
    before = open_fds()
    with pytest.raises(KernelError) as exc:
        SysfsRoot(tmp_path).read_table(MEMORY, names, ["state", "removable"])
    assert "memory33/removable" in exc.value.sentence() and "directory" in exc.value.sentence()
    assert open_fds() == before


def test_a_batch_with_an_absent_file_reads_the_others_one_by_one(tmp_path: Path) -> None:
    names = make_blocks(tmp_path, 2 * door_module._CLOSE_BATCH)
    (tmp_path / "sys/devices/system/memory/memory70/removable").unlink()
    (tmp_path / "sys/devices/system/memory/memory71/state").write_bytes(b"online\0junk\n")
    want = expected(len(names))
    want[1][70] = None
    want[0][71] = "online"
    before = open_fds()
    assert SysfsRoot(tmp_path).read_table(MEMORY, names, ["state", "removable"]) == want
    assert open_fds() == before
