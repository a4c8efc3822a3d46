"""The run lock and journal directories on a tree the user cannot write: one
sentence naming the directory, the errno and what to do, not an internal error."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from pmemctl.errors import KernelError
from pmemctl.sysfs import confined, state
from pmemctl.sysfs.door import SysfsRoot


@pytest.mark.parametrize("err", [errno.EACCES, errno.EPERM, errno.EROFS])
def test_a_lock_directory_the_user_cannot_make_is_one_clear_error(tmp_path: Path, monkeypatch, err: int) -> None:
    (tmp_path / "sys" / "devices").mkdir(parents=True)

    def refused(*args, **kw):
        raise OSError(err, "refused", "run")  # what os.mkdir says to a user who does not own the tree

    monkeypatch.setattr(confined, "walk", refused)
    with pytest.raises(KernelError) as caught:
        state.RunLock(SysfsRoot(str(tmp_path))).acquire()
    said = caught.value.sentence()
    assert errno.errorcode[err] in said and "/run" in said
    assert f"run as a user who can write {tmp_path}/run" in said


def test_other_errors_are_not_reworded(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "sys" / "devices").mkdir(parents=True)

    def refused(*args, **kw):
        raise OSError(errno.ENOSPC, "full")

    monkeypatch.setattr(confined, "walk", refused)
    with pytest.raises(OSError):
        state.RunLock(SysfsRoot(str(tmp_path))).acquire()
