"""Nothing outside the sysroot: pmemctl's own files (lock, journal,
last-run), the info-block wipe and attribute reads/writes refuse symlinks,
FIFOs and device nodes planted where they open (issue 16, items 1, 2, 4)."""

from __future__ import annotations

import errno
import hashlib
import os
import stat

import pytest

from pmemctl.errors import DamagedJournal, KernelError, NotFound, OutsideSysroot, UnsafeStateFile
from pmemctl.sysfs.door import SysfsRoot
from pmemctl.sysfs.state import Journal, RunLock


def digest(path):
    """A hash of everything below ``path`` (names, modes, contents)."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in sorted(os.walk(path)):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            h.update(f"{p}:{st.st_mode:o}".encode())
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as fh:
                    h.update(fh.read())
    return h.hexdigest()


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "root"
    (root / "sys/devices").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("SECRET-TOKEN-123\n")
    return root, outside


def plan_header():
    return {"plan": {"title": "t", "actions": []}, "state": "applying"}


# -- item 1: lock, journal, last-run ------------------------------------------


@pytest.mark.parametrize("relative", [False, True])
def test_symlinked_lock_file_is_refused(tree, relative):
    root, outside = tree
    (root / "run/lock").mkdir(parents=True)
    target = "../../../outside/secret" if relative else str(outside / "secret")
    os.symlink(target, root / "run/lock/pmemctl.lock")
    before = digest(outside)
    with pytest.raises(UnsafeStateFile) as exc:
        RunLock(SysfsRoot(root)).acquire()
    assert "symbolic link" in exc.value.sentence()
    assert digest(outside) == before


@pytest.mark.parametrize("which", ["run", "run/lock"])
def test_symlinked_lock_directory_is_refused(tree, which):
    root, outside = tree
    (root / which).parent.mkdir(parents=True, exist_ok=True)
    os.symlink(outside, root / which)
    before = digest(outside)
    with pytest.raises(UnsafeStateFile):
        RunLock(SysfsRoot(root)).acquire()
    assert digest(outside) == before


def test_symlink_loop_at_the_lock_is_refused(tree):
    root, _ = tree
    (root / "run/lock").mkdir(parents=True)
    os.symlink("pmemctl.lock", root / "run/lock/pmemctl.lock")
    with pytest.raises(UnsafeStateFile):
        RunLock(SysfsRoot(root)).acquire()


def test_fifo_as_lock_is_refused_without_hanging(tree):
    root, _ = tree
    (root / "run/lock").mkdir(parents=True)
    os.mkfifo(root / "run/lock/pmemctl.lock")
    with pytest.raises(UnsafeStateFile) as exc:
        RunLock(SysfsRoot(root)).acquire()
    assert "not a regular file" in exc.value.sentence()


@pytest.mark.parametrize("name", ["journal.json", "journal.log"])
def test_symlinked_journal_file_is_refused(tree, name):
    root, outside = tree
    (root / "var/lib/pmemctl").mkdir(parents=True)
    os.symlink(outside / "secret", root / "var/lib/pmemctl" / name)
    before = digest(outside)
    j = Journal(SysfsRoot(root))
    with pytest.raises((UnsafeStateFile, DamagedJournal)):
        j.load()
        j.begin(plan_header())
    assert digest(outside) == before


@pytest.mark.parametrize("which", ["var/lib/pmemctl", "var/lib", "var"])
def test_symlinked_journal_directory_is_refused(tree, which):
    root, outside = tree
    (root / which).parent.mkdir(parents=True, exist_ok=True)
    os.symlink(outside, root / which)
    before = digest(outside)
    j = Journal(SysfsRoot(root))
    with pytest.raises((UnsafeStateFile, DamagedJournal)):
        j.load()
        j.begin(plan_header())
    assert digest(outside) == before


def test_symlinked_last_run_is_not_written_through(tree):
    root, outside = tree
    (root / "var/lib/pmemctl").mkdir(parents=True)
    os.symlink(outside / "secret", root / "var/lib/pmemctl/last-run.json")
    before = digest(outside)
    j = Journal(SysfsRoot(root))
    assert j.last_run() is None
    j.begin(plan_header())
    j.finish({"state": "finished", "status": "changed"})
    assert digest(outside) == before
    assert j.load() is None


def test_state_directories_are_created_0700(tree):
    root, _ = tree
    door = SysfsRoot(root)
    with RunLock(door):
        pass
    j = Journal(door)
    j.begin(plan_header())
    j.close()
    for d in ("run", "run/lock", "var", "var/lib", "var/lib/pmemctl"):
        assert stat.S_IMODE(os.stat(root / d).st_mode) == 0o700, d


def test_nothing_is_created_under_a_sysroot_that_does_not_exist(tmp_path):
    root = tmp_path / "nonexistent"
    door = SysfsRoot(root)
    with pytest.raises(NotFound):
        RunLock(door).acquire()
    with pytest.raises(NotFound):
        Journal(door).load()
    with pytest.raises(NotFound):
        Journal(door).begin(plan_header())
    assert not root.exists()


def test_reading_the_journal_creates_nothing(tree):
    root, _ = tree
    j = Journal(SysfsRoot(root))
    assert j.load() is None and j.last_run() is None
    assert sorted(os.listdir(root)) == ["sys"]


def test_lock_holder_text_is_shown_as_digits_only(tree):
    root, _ = tree
    door = SysfsRoot(root)
    held = RunLock(door)
    held.acquire()
    try:
        os.ftruncate(held._fd, 0)
        os.pwrite(held._fd, b"\x1b[m12\xff34\n", 0)
        with pytest.raises(Exception) as exc:
            RunLock(door).acquire()
        assert "(pid 1234)" in exc.value.sentence()
        assert "\x1b" not in exc.value.sentence()
    finally:
        held.release()


# -- item 2: the info-block wipe ------------------------------------------------


def test_wipe_through_a_symlink_out_of_the_sysroot_is_refused(tree):
    root, outside = tree
    (outside / "disk").write_bytes(b"\xaa" * 16384)
    (root / "dev").mkdir()
    os.symlink(outside / "disk", root / "dev/pmem0.1")
    before = digest(outside)
    with pytest.raises(OutsideSysroot):
        SysfsRoot(root).wipe_info_block("/dev/pmem0.1")
    assert digest(outside) == before


def test_wipe_through_a_symlinked_dev_directory_is_refused(tree):
    root, outside = tree
    (outside / "pmem0.1").write_bytes(b"\xaa" * 16384)
    os.symlink(outside, root / "dev")
    before = digest(outside)
    with pytest.raises(OutsideSysroot):
        SysfsRoot(root).wipe_info_block("/dev/pmem0.1")
    assert digest(outside) == before


def test_wipe_refuses_a_path_outside_dev(tree):
    root, _ = tree
    with pytest.raises(OutsideSysroot):
        SysfsRoot(root).wipe_info_block("/dev/../etc/passwd")
    with pytest.raises(OutsideSysroot):
        SysfsRoot(root).wipe_info_block("/etc/passwd")


def test_wipe_refuses_a_fifo_on_a_tree_without_hanging(tree):
    root, _ = tree
    (root / "dev").mkdir()
    os.mkfifo(root / "dev/pmem0.1")
    with pytest.raises(KernelError):
        SysfsRoot(root).wipe_info_block("/dev/pmem0.1")


def test_wipe_on_a_tree_still_zeroes_a_regular_file_or_skips_an_absent_one(tree):
    root, _ = tree
    (root / "dev").mkdir()
    (root / "dev/pmem0.1").write_bytes(b"\xaa" * 16384)
    door = SysfsRoot(root)
    assert door.wipe_info_block("/dev/pmem0.1") is True
    assert (root / "dev/pmem0.1").read_bytes()[:8192] == bytes(8192)
    assert door.wipe_info_block("/dev/pmem0.1") is False
    assert door.wipe_info_block("/dev/pmem9.9") is None


def test_wipe_on_the_running_machine_refuses_anything_but_a_block_device(tmp_path, monkeypatch):
    target = tmp_path / "plain"
    target.write_bytes(b"\xaa" * 16384)
    door = SysfsRoot("/")
    monkeypatch.setattr(door, "host_path", lambda kpath: str(target))
    with pytest.raises(KernelError) as exc:
        door.wipe_info_block("/dev/pmem0.1")
    assert exc.value.errno == errno.ENOTBLK
    assert target.read_bytes() == b"\xaa" * 16384


# -- item 4: attribute reads and writes -----------------------------------------


@pytest.fixture
def memtree(tree):
    root, outside = tree
    mem = root / "sys/devices/system/memory"
    (mem / "memory40").mkdir(parents=True)
    (mem / "memory41").mkdir(parents=True)
    (mem / "memory40/state").write_text("online\n")
    (mem / "memory41/state").write_text("offline\n")
    return root, outside, mem


def test_a_symlinked_attribute_is_not_read_and_its_content_not_shown(memtree):
    root, outside, mem = memtree
    os.symlink(outside / "secret", mem / "block_size_bytes")
    door = SysfsRoot(root)
    for read in (door.read, door.read_optional, door.read_all):
        with pytest.raises(KernelError) as exc:
            read("/sys/devices/system/memory/block_size_bytes")
        assert "SECRET" not in exc.value.sentence()
        assert "symbolic link" in exc.value.sentence()


@pytest.mark.parametrize("bulk", [1, 20000])
def test_a_symlinked_attribute_in_a_block_walk_is_refused(memtree, bulk):
    root, outside, mem = memtree
    (mem / "memory41/state").unlink()
    os.symlink(outside / "secret", mem / "memory41/state")
    rel = ["memory40/state"] * bulk + ["memory41/state"]
    with pytest.raises(KernelError) as exc:
        SysfsRoot(root).read_many(rel, "/sys/devices/system/memory")
    assert "SECRET" not in exc.value.sentence()
    with pytest.raises(KernelError) as exc:
        SysfsRoot(root).read_table("/sys/devices/system/memory", ["memory40"] * bulk + ["memory41"], ["state"])
    assert "SECRET" not in exc.value.sentence()
    assert "symbolic link" in exc.value.sentence()


def test_a_fifo_attribute_does_not_hang_reads(memtree):
    root, _, mem = memtree
    (mem / "memory41/state").unlink()
    os.mkfifo(mem / "memory41/state")
    door = SysfsRoot(root)
    with pytest.raises(KernelError) as exc:
        door.read("/sys/devices/system/memory/memory41/state")
    assert "FIFO" in exc.value.sentence()
    with pytest.raises(KernelError):
        door.read_optional("/sys/devices/system/memory/memory41/state")
    with pytest.raises(KernelError):
        door.read_many(["memory40/state", "memory41/state"], "/sys/devices/system/memory")


def test_a_fifo_attribute_is_refused_for_writing_without_opening_it(memtree):
    root, _, mem = memtree
    (mem / "memory41/state").unlink()
    os.mkfifo(mem / "memory41/state", 0o644)
    with pytest.raises(KernelError) as exc:
        SysfsRoot(root).write("/sys/devices/system/memory/memory41/state", "online")
    assert "FIFO" in exc.value.sentence()


def test_a_write_through_a_symlinked_attribute_is_refused(memtree):
    root, outside, mem = memtree
    (mem / "memory41/state").unlink()
    os.symlink(outside / "secret", mem / "memory41/state")
    before = digest(outside)
    with pytest.raises((KernelError, OutsideSysroot)):
        SysfsRoot(root).write("/sys/devices/system/memory/memory41/state", "online")
    assert digest(outside) == before


def test_a_write_through_a_directory_out_of_the_sysroot_is_refused_before_opening(memtree, monkeypatch):
    root, outside, mem = memtree
    (outside / "memory42").mkdir()
    (outside / "memory42/state").write_text("offline\n")
    os.symlink(outside / "memory42", mem / "memory42")
    before = digest(outside)
    opened = []
    real_open = os.open

    def spy(path, flags, *a, **kw):
        if flags & os.O_WRONLY:
            opened.append(path)
        return real_open(path, flags, *a, **kw)

    monkeypatch.setattr(os, "open", spy)
    with pytest.raises(OutsideSysroot):
        SysfsRoot(root).write("/sys/devices/system/memory/memory42/state", "online")
    assert opened == []
    assert digest(outside) == before


def test_ordinary_attribute_writes_and_reads_still_work(memtree):
    root, _, mem = memtree
    door = SysfsRoot(root)
    door.write("/sys/devices/system/memory/memory41/state", "online")
    assert door.read("/sys/devices/system/memory/memory41/state") == "online"
    assert door.read_many(["memory40/state", "memory41/state", "memory99/state"],
                          "/sys/devices/system/memory") == ["online", "online", None]
    assert door.read_optional("/sys/devices/system/memory/memory99/state") is None
    with pytest.raises(KernelError):
        door.write("/sys/devices/system/memory/memory99/state", "online")
    assert not (mem / "memory99").exists()


def test_on_the_running_machine_only_a_root_owned_directory_link_is_followed(tmp_path):
    from pmemctl.sysfs import state

    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "link")
    door = SysfsRoot("/")
    dfd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        err = OSError(errno.ELOOP, "loop")
        fd = state._root_owned_link(door, dfd, "link", err)
        if os.geteuid() == 0 and os.lstat(tmp_path / "link").st_uid == 0:
            assert fd is not None
            os.close(fd)
        else:
            assert fd is None
        assert state._root_owned_link(SysfsRoot(tmp_path), dfd, "link", err) is None  # never on a tree
    finally:
        os.close(dfd)


def test_a_process_name_is_shown_without_its_escape_sequences(tmp_path):
    """A process holding a device open is named in refusals; its name is
    whatever its owner set (prctl PR_SET_NAME takes any bytes), so escape
    sequences in it never reach the terminal (issue 16, item 5's class)."""
    import subprocess
    import sys
    import time

    held = tmp_path / "pmem-stand-in"
    held.write_bytes(b"")
    code = (
        "import ctypes, sys, time\n"
        "ctypes.CDLL(None).prctl(15, b'\\x1b[2Jevil\\x07', 0, 0, 0)\n"  # PR_SET_NAME
        f"fh = open({str(held)!r}); print('ready', flush=True); time.sleep(30)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        users = SysfsRoot("/").processes_using(str(held))
        deadline = time.monotonic() + 5
        while not users and time.monotonic() < deadline:
            time.sleep(0.05)
            users = SysfsRoot("/").processes_using(str(held))
        assert [pid for pid, _ in users] == [proc.pid]
        name = users[0][1]
        assert "evil" in name and "\x1b" not in name and "\x07" not in name and name.isprintable()
    finally:
        proc.kill()
        proc.wait()
