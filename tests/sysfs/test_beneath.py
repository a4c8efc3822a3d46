"""The door's fast confinement check (openat2 RESOLVE_BENEATH, issue 14)
decides exactly as the ordinary one: same kernel path, same refusals, and
the ordinary way is taken where openat2 cannot be used."""

from __future__ import annotations

import os

import pytest

from pmemctl.errors import KernelError, NotAnAttribute, OutsideSysroot
from pmemctl.sysfs import beneath
from pmemctl.sysfs.door import SysfsRoot

STATE = "/sys/devices/system/memory/memory7/state"


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "root"
    block = root / "sys/devices/system/memory/memory7"
    block.mkdir(parents=True)
    (block / "state").write_text("offline\n")
    outside = tmp_path / "outside"
    (outside / "memory7").mkdir(parents=True)
    (outside / "memory7/state").write_text("offline\n")
    return root, outside


def ordinary(root) -> SysfsRoot:
    """A door that never takes the openat2 way."""
    door = SysfsRoot(root)
    door._root_fd_tried = True  # as where openat2 is unavailable
    return door


def test_openat2_is_used_here_and_lands_on_the_attribute(tree):
    root, _ = tree
    if beneath.opener() is None:
        pytest.skip("openat2 is not available on this machine")
    door = SysfsRoot(root)
    fast = door._beneath_path_fd(STATE)
    assert fast is not None
    pfd, real = fast
    try:
        assert os.path.samestat(os.fstat(pfd), os.stat(root / STATE[1:]))
        assert real == os.path.realpath(root) + STATE
    finally:
        os.close(pfd)
    assert door.check_writable(STATE, "online") == ordinary(root).check_writable(STATE, "online") == STATE
    door.write(STATE, "online")
    assert (root / STATE[1:]).read_text() == "online"


@pytest.mark.parametrize("door_of", [SysfsRoot, ordinary])
def test_a_link_out_of_the_tree_is_refused_either_way(tree, door_of):
    root, outside = tree
    memory = root / "sys/devices/system/memory"
    os.rename(memory / "memory7", memory / "memory7.real")
    os.symlink(outside / "memory7", memory / "memory7")
    with pytest.raises(OutsideSysroot):
        door_of(root).write(STATE, "online")
    assert (outside / "memory7/state").read_text() == "offline\n"


@pytest.mark.parametrize("door_of", [SysfsRoot, ordinary])
def test_a_link_inside_the_tree_is_followed_to_its_real_path_either_way(tree, door_of):
    root, _ = tree
    memory = root / "sys/devices/system/memory"
    os.rename(memory / "memory7", memory / "memory7.real")
    os.symlink("memory7.real", memory / "memory7")
    assert door_of(root).check_writable(STATE, "online") == "/sys/devices/system/memory/memory7.real/state"


@pytest.mark.parametrize("door_of", [SysfsRoot, ordinary])
def test_fifo_missing_and_read_only_attributes_fail_the_same_either_way(tree, door_of):
    root, _ = tree
    block = root / "sys/devices/system/memory/memory7"
    os.remove(block / "state")
    os.mkfifo(block / "state")
    with pytest.raises(NotAnAttribute):
        door_of(root).write(STATE, "online")
    os.remove(block / "state")
    with pytest.raises(KernelError) as missing:
        door_of(root).write(STATE, "online")
    assert missing.value.errno == 2
    (block / "state").write_text("offline\n")
    os.chmod(block / "state", 0o444)
    with pytest.raises(KernelError) as denied:
        door_of(root).write(STATE, "online")
    assert denied.value.errno == 13


def test_a_path_not_in_normal_form_takes_the_ordinary_way(tree):
    root, _ = tree
    door = SysfsRoot(root)
    for kpath in ("/sys/devices/system/memory/./memory7/state", "/sys//devices/system/memory/memory7/state",
                  "/sys/devices/system/memory/memory7/../memory7/state"):
        assert door._beneath_path_fd(kpath) is None
        door.check_writable(kpath, "online")  # still allowed: inside the tree
