"""The sysfs door on tmp dirs: no-create writes, errno mapping, confinement."""

import errno
import os

import pytest

from pmemctl.errors import (
    AccessDenied,
    AttributeMissing,
    OutsideSysroot,
)
from pmemctl.sysfs.door import SysfsRoot, clean_value


@pytest.fixture
def tree(tmp_path):
    mem = tmp_path / "sys/devices/system/memory/memory5"
    mem.mkdir(parents=True)
    (mem / "state").write_text("online_movable\n")
    os.chmod(mem / "state", 0o644)
    (mem / "phys_index").write_text("00000005\n")
    os.chmod(mem / "phys_index", 0o444)
    drv = tmp_path / "sys/bus/dax/drivers/kmem"
    drv.mkdir(parents=True)
    (drv / "bind").write_text("")
    os.chmod(drv / "bind", 0o200)
    return tmp_path


def test_clean_value_strips_nul_and_newline():
    assert clean_value(b"online\n") == "online"
    assert clean_value(b"offline\0ovable\0") == "offline"
    assert clean_value(b"a\n\n") == "a\n"  # only one trailing newline
    assert clean_value(b"") == ""


def test_read_maps_kernel_paths_under_root(tree):
    door = SysfsRoot(tree)
    assert door.read("/sys/devices/system/memory/memory5/phys_index") == "00000005"
    assert door.host_path("/sys/x") == str(tree) + "/sys/x"
    assert SysfsRoot("/").host_path("/sys/x") == "/sys/x"


def test_read_missing_is_typed(tree):
    door = SysfsRoot(tree)
    with pytest.raises(AttributeMissing) as exc:
        door.read("/sys/devices/system/memory/memory6/state")
    assert exc.value.errno == errno.ENOENT
    assert exc.value.path.endswith("memory6/state")
    assert door.read_optional("/sys/devices/system/memory/memory6/state") is None


def test_write_replaces_value(tree):
    door = SysfsRoot(tree)
    door.write("/sys/devices/system/memory/memory5/state", "offline")
    assert door.read("/sys/devices/system/memory/memory5/state") == "offline"


def test_write_never_creates(tree):
    door = SysfsRoot(tree)
    with pytest.raises(AttributeMissing) as exc:
        door.write("/sys/devices/system/memory/memory5/bogus", "1")
    assert exc.value.errno == errno.ENOENT
    assert exc.value.value == "1"
    assert not (tree / "sys/devices/system/memory/memory5/bogus").exists()


def test_write_read_only_attribute_is_eacces_even_for_root(tree):
    door = SysfsRoot(tree)
    with pytest.raises(AccessDenied) as exc:
        door.write("/sys/devices/system/memory/memory5/phys_index", "7")
    assert exc.value.errno == errno.EACCES
    assert door.read("/sys/devices/system/memory/memory5/phys_index") == "00000005"


def test_write_only_attribute_accepts_writes(tree):
    SysfsRoot(tree).write("/sys/bus/dax/drivers/kmem/bind", "dax0.0")


def test_write_does_not_follow_link_out_of_root(tree, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    victim = outside / "victim"
    victim.write_text("keep\n")
    os.symlink(str(outside), tree / "sys/escape")
    door = SysfsRoot(tree)
    with pytest.raises(OutsideSysroot):
        door.write("/sys/escape/victim", "changed")
    assert victim.read_text() == "keep\n"


def test_relative_links_inside_root_resolve(tree):
    os.makedirs(tree / "sys/bus/memory/devices")
    os.symlink("../../../devices/system/memory/memory5", tree / "sys/bus/memory/devices/memory5")
    door = SysfsRoot(tree)
    assert door.resolve("/sys/bus/memory/devices/memory5") == "/sys/devices/system/memory/memory5"
    assert door.link_basename("/sys/bus/memory/devices/memory5") == "memory5"
    assert door.readlink("/sys/devices/system/memory/memory5/state") is None


def test_read_many_mixes_present_and_absent(tree):
    door = SysfsRoot(tree)
    base = "/sys/devices/system/memory"
    assert door.read_many(["memory5/state", "memory6/state"], base) == ["online_movable", None]
    assert door.read_many(["memory5/state"], "/sys/nothing") == [None]




def test_read_many_of_a_long_list_keeps_order(tmp_path):
    base = tmp_path / "sys/devices/system/memory"
    n = 17000  # a long walk (it was split with a forked reader once)
    for i in range(n):
        (base / f"memory{i}").mkdir(parents=True)
        if i % 1000 != 7:  # some absent
            (base / f"memory{i}" / "state").write_text(f"{i}\n")
    door = SysfsRoot(tmp_path)
    got = door.read_many([f"memory{i}/state" for i in range(n)], "/sys/devices/system/memory")
    assert got == [None if i % 1000 == 7 else str(i) for i in range(n)]


def test_read_table_reads_columns_of_many_directories(tmp_path):
    base = tmp_path / "sys/devices/system/memory"
    for i in range(6):
        (base / f"memory{i}").mkdir(parents=True)
        (base / f"memory{i}" / "state").write_text("online\n" if i % 2 else "offline\n")
        if i != 3:  # memory3 has no removable
            (base / f"memory{i}" / "removable").write_text("1\n")
    (base / "memory4" / "state").write_bytes(b"online\0junk\n")  # cut at the NUL, as read() does
    (base / "memory5" / "state").write_text("")  # an empty attribute reads as ""
    door = SysfsRoot(tmp_path)
    names = [f"memory{i}" for i in range(7)]  # memory6 does not exist
    states, removable = door.read_table("/sys/devices/system/memory", names, ["state", "removable"])
    assert states == ["offline", "online", "offline", "online", "online", "", None]
    assert removable == ["1", "1", "1", None, "1", "1", None]
    assert door.read_table("/sys/nothing", names[:2], ["state"]) == [[None, None]]
    assert door.read_table("/sys/devices/system/memory", [], ["state", "removable"]) == [[], []]


def test_read_table_refuses_a_fifo_after_the_same_text_was_read_from_files(tmp_path):
    base = tmp_path / "sys/devices/system/memory"
    for i in range(3):
        (base / f"memory{i}").mkdir(parents=True)
    (base / "memory0" / "state").write_text("")
    (base / "memory1" / "state").write_text("")
    os.mkfifo(base / "memory2" / "state")  # reads empty, like memory0 and memory1: still refused
    from pmemctl.errors import KernelError

    with pytest.raises(KernelError) as exc:
        SysfsRoot(tmp_path).read_table("/sys/devices/system/memory", ["memory0", "memory1", "memory2"], ["state"])
    assert "FIFO" in exc.value.sentence()
