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
    assert "attribute" not in said  # a directory, not a sysfs attribute


def test_other_errors_are_not_reworded(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "sys" / "devices").mkdir(parents=True)

    def refused(*args, **kw):
        raise OSError(errno.ENOSPC, "full")

    monkeypatch.setattr(confined, "walk", refused)
    with pytest.raises(OSError):
        state.RunLock(SysfsRoot(str(tmp_path))).acquire()


def _walk_refusing(kdirs: set[str], err: int):
    """confined.walk, except that making the directories named raises ``err``
    (looking for them finds nothing, as on a tree where they were never made)."""
    real = confined.walk

    def walk(root_fd, parts, *args, **kw):
        if "/" + "/".join(parts) in kdirs and kw.get("create_mode") is not None:
            raise OSError(err, "refused", "/" + "/".join(parts))
        return real(root_fd, parts, *args, **kw)

    return walk


def test_a_read_only_var_lib_sends_the_journal_to_run(tmp_path: Path, monkeypatch) -> None:
    # a guest whose /var/lib is read-only (EROFS) still journals its run, in /run/pmemctl
    # (the real-kernel tier's doctor scenario boots such a guest)
    (tmp_path / "sys" / "devices").mkdir(parents=True)
    monkeypatch.setattr(confined, "walk", _walk_refusing({state.STATE_DIR}, errno.EROFS))
    journal = state.Journal(SysfsRoot(str(tmp_path)))
    journal.begin({"plan": {"actions": []}})
    try:
        assert (tmp_path / "run" / "pmemctl" / "journal.json").is_file()
        assert journal.state_dir == f"{tmp_path}/run/pmemctl"
    finally:
        journal.close()


@pytest.mark.parametrize("err", [errno.EACCES, errno.EROFS])
def test_no_journal_directory_at_all_is_one_clear_error(tmp_path: Path, monkeypatch, err: int) -> None:
    (tmp_path / "sys" / "devices").mkdir(parents=True)
    monkeypatch.setattr(confined, "walk", _walk_refusing({state.STATE_DIR, state.FALLBACK_STATE_DIR}, err))
    with pytest.raises(KernelError) as caught:
        state.Journal(SysfsRoot(str(tmp_path))).begin({"plan": {"actions": []}})
    said = caught.value.sentence()
    assert errno.errorcode[err] in said and f"run as a user who can write {tmp_path}/run/pmemctl" in said


def test_a_status_query_on_a_tree_it_cannot_read_is_not_an_error(tmp_path: Path, monkeypatch) -> None:
    # asking who holds the lock never fails for want of permission: it says "cannot tell"
    (tmp_path / "sys" / "devices").mkdir(parents=True)
    def refused(*args, **kw):
        raise OSError(errno.EACCES, "refused", "/run/lock")

    monkeypatch.setattr(confined, "walk", refused)
    assert state.lock_holder(SysfsRoot(str(tmp_path))) is None
