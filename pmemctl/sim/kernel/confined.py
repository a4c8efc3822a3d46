"""The simulated kernel's writes stay inside its tree (issue 16, item 3).

The door refuses a write whose attribute resolves outside the sysroot, but
the simulated kernel then reacts with writes of its own (``/proc/meminfo``,
``valid_zones`` of other blocks, blocks and nodes hot-added or removed, its
state files under ``.pmemctl-sim/``).  A tree is data that anyone may have
made: a ``proc/meminfo`` link to a file elsewhere, or
``sys/devices/system/memory`` linked to a directory elsewhere, must not let
those writes replace, chmod or delete anything outside.  So:

* :func:`check_tree` refuses, before the first write is answered, a tree
  whose top-level places the simulator writes resolve outside it
  (:class:`~pmemctl.errors.OutsideSysroot`, nothing changed);
* :class:`ConfinedTreeWriter` checks every directory it writes in, creates
  in or deletes from (once per directory and run: a directory inside the
  tree that is not a link keeps its children inside), never follows a link
  on the last component, and writes an attribute whole: a temporary file
  under ``.pmemctl-sim/`` renamed over it, so a reader never sees a
  half-written or empty attribute (issue 16, item 14);
* :func:`save_json` writes the simulator's own state files the same way.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from typing import Any, Iterable

from pmemctl.errors import OutsideSysroot
from pmemctl.sim.tree import MARKER_DIR, Content, TreeWriter
from pmemctl.sysfs import paths

#: where the simulated kernel writes (files, then directories): checked as a
#: whole before the first write of a run is answered
WRITTEN_FILES = (paths.PROC_MEMINFO, paths.PROC_IOMEM)
WRITTEN_DIRS = (
    "/sys", "/sys/devices", "/sys/devices/system", paths.MEMORY, paths.NODE, "/sys/bus", "/sys/bus/memory",
    "/sys/bus/memory/devices", "/sys/bus/node", "/sys/bus/node/devices", paths.DAX_BUS, paths.DAX_DEVICES,
    paths.DAX_DRIVERS, paths.ND_BUS, paths.ND_DEVICES, paths.ND_DRIVERS, "/sys/class", "/sys/devices/virtual",
    paths.MEMORY_TIERING, "/proc", "/dev",
)
_TMP_DIR = "tmp"
#: this process's id (names its temporaries; getpid is a system call), kept right in a forked child
_PID = [os.getpid()]
os.register_at_fork(after_in_child=lambda: _PID.__setitem__(0, os.getpid()))
_NOFOLLOW_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _outside(host: str, real: str, root: str) -> OutsideSysroot:
    return OutsideSysroot(
        f"{host} resolves to {real}, outside the simulated tree {root}",
        hint="the tree has a symlink that escapes it; the simulated kernel refuses to write through it",
    )


def _inside(real: str, real_root: str) -> bool:
    return real == real_root or real.startswith(real_root.rstrip("/") + "/")


def check_tree(root: str) -> None:
    """Refuse a tree where a place the simulator writes resolves outside it,
    or where one of the files it rewrites is not a regular file."""
    real_root = os.path.realpath(root)
    for kpath in ("/" + MARKER_DIR, *WRITTEN_DIRS, *WRITTEN_FILES):
        host = root.rstrip("/") + kpath
        try:
            st = os.lstat(host)
        except FileNotFoundError:
            continue
        real = os.path.realpath(host)
        if not _inside(real, real_root):
            raise _outside(host, real, root)
        if kpath in WRITTEN_FILES and not stat.S_ISREG(st.st_mode):
            raise OutsideSysroot(f"{host} is not a regular file; the simulated kernel refuses to rewrite it")


class ConfinedTreeWriter(TreeWriter):
    """A :class:`~pmemctl.sim.tree.TreeWriter` whose writes, creations and
    deletions never leave the tree (see the module docstring)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        super().__init__(root)
        self._real_root = os.path.realpath(self.root)
        #: host directories checked to lie inside the tree (this run)
        self._checked: set[str] = set()
        #: host paths known to be regular files this run: this writer renamed
        #: its own file there, or the door checked it (:meth:`checked_by_door`)
        self._regular: set[str] = set()
        self._tmp: str | None = None

    # -- confinement -------------------------------------------------------

    def _check_dir(self, host_dir: str) -> None:
        """``host_dir`` (existing or not) lies inside the tree.  A directory
        that is not a link, inside a checked one, is inside: one lstat per
        directory not seen yet; a link is resolved and checked."""
        if host_dir in self._checked or host_dir == self.root:
            return
        if not (host_dir + "/").startswith(self.root + "/"):
            raise _outside(host_dir, host_dir, self.root)
        self._check_dir(os.path.dirname(host_dir))
        try:
            st = os.lstat(host_dir)
        except (FileNotFoundError, NotADirectoryError):
            return  # not there (yet): checked again once it is
        if stat.S_ISLNK(st.st_mode):
            real = os.path.realpath(host_dir)
            if not _inside(real, self._real_root):
                raise _outside(host_dir, real, self.root)
        self._checked.add(host_dir)

    def checked_by_door(self, kpath: str) -> None:
        """The door has just checked the attribute ``kpath`` before a write
        (sysfs.door.SysfsRoot.check_writable: opened ``O_PATH`` without
        following a link, a regular file whose real path lies inside the
        tree): its directory and the file need no check of their own."""
        path = self.host(kpath)
        self._checked.add(os.path.dirname(path))
        self._regular.add(path)

    def _refuse_odd_target(self, path: str) -> None:
        """The file an attribute write replaces must be a regular file (or absent)."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if not stat.S_ISREG(st.st_mode):
            what = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a regular file"
            raise OutsideSysroot(f"{path} is {what}; the simulated kernel refuses to write through it")

    def _tmp_dir(self) -> str:
        """``.pmemctl-sim/tmp``: temporaries never show in the tree's directories."""
        if self._tmp is None:
            tmp = os.path.join(self.marker_dir, _TMP_DIR)
            self._check_dir(self.marker_dir)
            self._check_dir(tmp)
            try:
                os.mkdir(tmp, 0o700)
            except FileExistsError:
                pass
            self._tmp = tmp
        return self._tmp

    # -- TreeWriter's primitives, confined ---------------------------------

    def _write_host(self, path: str, data: bytes, mode: int) -> None:
        directory, _, name = path.rpartition("/")
        if directory not in self._checked:
            self._check_dir(directory)
        if path not in self._regular:
            self._refuse_odd_target(path)
        tmp = f"{self._tmp or self._tmp_dir()}/{_PID[0]}.{name}"
        try:
            self._write_via(tmp, path, data, mode)
        except OSError as err:
            if err.errno != errno.EXDEV:
                raise
            # the attribute's directory is another mount (a bind-mounted part of the tree)
            self._write_via(f"{directory}/.{_PID[0]}.tmp", path, data, mode)
        self._regular.add(path)

    def _write_via(self, tmp: str, path: str, data: bytes, mode: int) -> None:
        """Create ``tmp`` (never through a link), write ``data``, give it
        ``mode`` and rename it over ``path``: four system calls when the
        umask leaves ``mode`` alone, a fifth (fchmod) when it does not."""
        try:
            fd = os.open(tmp, _NOFOLLOW_CREATE, mode)
        except FileExistsError:  # a stale one from a killed run with this pid
            os.unlink(tmp)
            fd = os.open(tmp, _NOFOLLOW_CREATE, mode)
        try:
            written = os.write(fd, data)
            while written < len(data):  # (a short write: only for large files)
                written += os.write(fd, data[written:])
            if mode & self._umask:  # O_CREAT applied the umask to it
                os.fchmod(fd, mode)
        finally:
            os.close(fd)
        try:
            os.rename(tmp, path)  # replaces the attribute whole: never seen half-written
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def flip_in_place(self, kpath: str, old: bytes, new: bytes, mode: int) -> None:
        """Rewrite an attribute from ``old`` to ``new``, two values of one
        length that differ in one byte (``online``: ``0`` and ``1``), by
        writing that byte in place: a reader sees the old value or the new
        one, never a mix (one byte cannot be half-written), and no file is
        created or renamed.  The attribute is opened ``O_PATH`` without
        following a link, and only a regular file with one link (a hard link
        could reach a file outside), the mode and the size expected is
        reopened for writing (that inode itself, through /proc/self/fd:
        nothing else, no device or FIFO, is ever opened) and given the whole
        new value; anything else is replaced whole, as :meth:`write_bytes` does."""
        path = self.host(kpath)
        if _one_byte_apart(old, new):
            self._check_dir(os.path.dirname(path))
            if self._flip(path, old, new, mode):
                return
        self.write_bytes(kpath, new, mode)

    @staticmethod
    def _flip(path: str, old: bytes, new: bytes, mode: int) -> bool:
        """:meth:`flip_in_place`'s write; False (nothing written) where the file is not as expected."""
        try:
            pfd = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return False  # absent, or a link on the last component: replaced whole
        try:
            st = os.fstat(pfd)
            if not (stat.S_ISREG(st.st_mode) and st.st_nlink == 1 and st.st_size == len(old)
                    and stat.S_IMODE(st.st_mode) == mode):
                return False
            try:
                fd = os.open(f"/proc/self/fd/{pfd}", os.O_WRONLY | os.O_CLOEXEC)
            except OSError:
                return False  # no /proc, or not ours to write: replaced whole
        finally:
            os.close(pfd)
        try:
            # the whole value at once: where the file holds ``old`` only the one
            # differing byte changes (the others are written as they are)
            return os.pwrite(fd, new, 0) == len(new)
        finally:
            os.close(fd)

    def _symlink_host(self, link: str, target: str) -> None:
        self._check_dir(os.path.dirname(link))
        super()._symlink_host(link, target)

    def mkdir(self, kpath: str) -> None:
        self._check_dir(self.host(kpath))
        super().mkdir(kpath)

    def populate(self, kpath: str, files: Iterable[tuple[str, Content, int]],
                 links: Iterable[tuple[str, str]] = (), subdirs: Iterable[str] = ()) -> None:
        self._check_dir(self.host(kpath))
        super().populate(kpath, files, links, subdirs)

    def remove(self, kpath: str) -> None:
        # the entry itself may be a link (unlinked, never followed: TreeWriter
        # checks islink first); rmtree does not follow links inside
        self._check_dir(os.path.dirname(self.host(kpath)))
        super().remove(kpath)
        self._checked.discard(self.host(kpath))

    def remove_if_empty(self, kpath: str) -> bool:
        self._check_dir(os.path.dirname(self.host(kpath)))
        removed = super().remove_if_empty(kpath)
        self._checked.discard(self.host(kpath))
        return removed

    def _save_devnodes(self) -> None:
        self._check_dir(self.marker_dir)
        try:  # TreeWriter opens the temporary by name: never through a planted link
            os.unlink(os.path.join(self.marker_dir, "devnodes.json.tmp"))
        except FileNotFoundError:
            pass
        super()._save_devnodes()


def _one_byte_apart(old: bytes, new: bytes) -> bool:
    """``old`` and ``new`` have one length and differ in exactly one byte."""
    return len(old) == len(new) and sum(a != b for a, b in zip(old, new, strict=True)) == 1


def save_json(root: str | os.PathLike[str], path: str, data: Any, *, indent: int = 1) -> None:
    """Write one of the simulator's state files (``path`` in the marker
    directory of the tree at ``root``) via a temporary and a rename, never
    through a link, never outside the tree."""
    top = os.path.abspath(os.fspath(root))
    marker = os.path.dirname(path)
    real = os.path.realpath(marker)
    if not _inside(real, os.path.realpath(top)):
        raise _outside(marker, real, top)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    try:
        fd = os.open(tmp, _NOFOLLOW_CREATE, 0o644)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise OutsideSysroot(f"{tmp} is a symbolic link; the simulated kernel refuses to write through it") from err
        raise
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=indent, sort_keys=True)
    os.replace(tmp, path)


__all__ = ["ConfinedTreeWriter", "check_tree", "save_json"]
