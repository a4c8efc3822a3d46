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

What a memory block write costs (issue 14): ``state``, ``online`` and
``valid_zones`` take a handful of values across thousands of blocks, so each
(value, mode) is written once per run into a file under ``.pmemctl-sim/tmp``
and a block's attribute is replaced by a hard link to it (link + rename, two
system calls: no file created, written or freed per block; a reader still
sees the old file or the new one, whole).  The temporary directory and
``sys/devices/system/memory`` are held open (``O_PATH``), so a block's files
are reached from there in two steps (``memoryN/state``) rather than from
``/``; the first write of a block in a run checks its three files (an lstat
each the door has not checked) before it replaces any, later ones go
straight to link + rename (:meth:`ConfinedTreeWriter.replace_block_attrs`).
A tree is built with these files already linked to one file per value
(:meth:`TreeWriter.share_block_files`), and kmem's hot-add links them to
this writer's shared files, so no state change frees a file of a block's
own (freeing one costs about as much as the rename).  Writers that would
write such a file in place (:meth:`TreeWriter._write_host`) give it a file
of its own first; the FUSE bridge shows each with one link, as kernfs does.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import weakref
from typing import Any, Iterable, Optional, Sequence

from pmemctl.errors import OutsideSysroot
from pmemctl.sim.tree import MARKER_DIR, NOFOLLOW_CREATE, SHARED_BLOCK_ATTRS, SHARED_TMP_DIR, Content, TreeWriter
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
_TMP_DIR = SHARED_TMP_DIR
#: this process's id (names its temporaries; getpid is a system call), kept right in a forked child
_PID = [os.getpid()]
os.register_at_fork(after_in_child=lambda: _PID.__setitem__(0, os.getpid()))
_DIR_PATH = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC
#: memory block attributes written as a link to one shared file per (value, mode)
SHARED_ATTRS = SHARED_BLOCK_ATTRS
_SHARED_ORDER = tuple(sorted(SHARED_ATTRS))
#: at most this many shared files per writer (and values of at most _SHARED_LEN bytes)
_SHARED_MAX = 32
_SHARED_LEN = 64


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
        self._memory = self.host(paths.MEMORY)
        #: O_PATH fds of the temporary directory and sys/devices/system/memory
        #: (by host path), opened once each is checked; closed with the writer
        self._dir_fds: dict[str, int] = {}
        #: (value, mode) -> its shared file's name in the temporary directory (:data:`SHARED_ATTRS`)
        self._shared: dict[tuple[bytes, int], str] = {}
        self._shared_made = 0
        #: memory blocks whose :data:`SHARED_ATTRS` this run has checked to be
        #: regular files (or replaced): :meth:`replace_block_attrs` goes straight to link + rename
        self._checked_blocks: set[int] = set()
        weakref.finalize(self, _release, self._dir_fds, os.path.join(self.marker_dir, _TMP_DIR), self._shared, _PID[0])

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

    def _refuse_odd_target(self, path: str, at: Optional[int] = None, rel: Optional[str] = None) -> None:
        """The file an attribute write replaces must be a regular file (or
        absent); looked up as ``rel`` under the directory fd ``at`` when given."""
        try:
            st = os.lstat(path) if at is None else os.lstat(rel or path, dir_fd=at)
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

    def _dir_fd(self, host_dir: str) -> Optional[int]:
        """An ``O_PATH`` fd of a checked directory (the temporary one or the
        memory blocks' parent), held for the writer's life; None where it
        cannot be opened (the path-based writes then say why)."""
        fd = self._dir_fds.get(host_dir)
        if fd is None:
            self._check_dir(host_dir)
            try:
                fd = os.open(host_dir, _DIR_PATH)
            except OSError:
                return None
            self._dir_fds[host_dir] = fd
        return fd

    def _at(self, directory: str, name: str) -> tuple[Optional[int], str]:
        """(directory fd, relative path) of ``directory/name``: a memory block's
        file from the held memory directory (``memoryN/name``; ``memoryN``
        itself is checked like any directory written in), anything else by its path."""
        parent, _, sub = directory.rpartition("/")
        if parent == self._memory:
            fd = self._dir_fds.get(parent)
            if fd is None:
                fd = self._dir_fd(parent)
            if fd is not None:
                return fd, f"{sub}/{name}"
        return None, f"{directory}/{name}"

    # -- TreeWriter's primitives, confined ---------------------------------

    def _write_host(self, path: str, data: bytes, mode: int) -> None:
        directory, _, name = path.rpartition("/")
        if directory not in self._checked:
            self._check_dir(directory)
        at, rel = self._at(directory, name)  # (rel is the whole path when at is None)
        if path not in self._regular:
            self._refuse_odd_target(path, at, rel)
        tmp_dir = self._tmp or self._tmp_dir()
        tmp_fd = self._dir_fds.get(tmp_dir)
        if tmp_fd is None:
            tmp_fd = self._dir_fd(tmp_dir)
        tmp = f"{_PID[0]}.{name}" if tmp_fd is not None else f"{tmp_dir}/{_PID[0]}.{name}"
        try:
            if not (at is not None and tmp_fd is not None and name in SHARED_ATTRS and len(data) <= _SHARED_LEN
                    and self._link_shared(tmp_fd, tmp, at, rel, data, mode)):
                self._write_via(tmp, rel, data, mode, tmp_fd, at)
        except OSError as err:
            if err.errno != errno.EXDEV:
                raise
            # the attribute's directory is another mount (a bind-mounted part of the tree)
            self._write_via(f"{directory}/.{_PID[0]}.tmp", path, data, mode)
        self._regular.add(path)

    def _write_via(self, tmp: str, path: str, data: bytes, mode: int,
                   tmp_fd: Optional[int] = None, at: Optional[int] = None) -> None:
        """Create ``tmp`` (never through a link), write ``data``, give it
        ``mode`` and rename it over ``path`` (``tmp`` relative to ``tmp_fd``,
        ``path`` to ``at``, when given): four system calls when the umask
        leaves ``mode`` alone, a fifth (fchmod) when it does not."""
        self._create(tmp, data, mode, tmp_fd)
        try:
            # replaces the attribute whole: never seen half-written
            os.rename(tmp, path, src_dir_fd=tmp_fd, dst_dir_fd=at)
        except BaseException:
            _unlink_quietly(tmp, tmp_fd)
            raise

    def _shared_file(self, key: tuple[bytes, int], tmp_fd: int) -> Optional[str]:
        """The name (under ``tmp_fd``) of this writer's shared file holding
        ``key`` = (data, mode), made on first use; None once the writer holds
        as many as it keeps (the caller then writes a file of its own)."""
        shared = self._shared.get(key)
        if shared is None:
            if len(self._shared) >= _SHARED_MAX:
                return None
            self._shared_made += 1
            shared = f"{_PID[0]}.shared{self._shared_made}"
            self._create(shared, key[0], key[1], tmp_fd)
            self._shared[key] = shared
        return shared

    def _link_shared(self, tmp_fd: int, tmp: str, at: int, rel: str, data: bytes, mode: int) -> bool:
        """Replace ``rel`` (under ``at``) by a hard link to the shared file
        holding ``data`` with ``mode`` (made on first use): link it to
        ``tmp``, rename that over the attribute.  False (nothing changed)
        where no shared file can be had or linked: the caller writes a file of its own."""
        key = (data, mode)
        shared = self._shared_file(key, tmp_fd)
        if shared is None:
            return False
        try:
            os.link(shared, tmp, src_dir_fd=tmp_fd, dst_dir_fd=tmp_fd, follow_symlinks=False)
        except FileExistsError:  # a stale temporary from a killed run with this pid
            os.unlink(tmp, dir_fd=tmp_fd)
            return self._link_shared(tmp_fd, tmp, at, rel, data, mode)
        except OSError:  # gone, too many links (EMLINK), or links not supported here
            del self._shared[key]
            _unlink_quietly(shared, tmp_fd)
            return False
        try:
            os.rename(tmp, rel, src_dir_fd=tmp_fd, dst_dir_fd=at)
        except BaseException:
            _unlink_quietly(tmp, tmp_fd)
            raise
        return True

    def replace_block_attrs(self, index: int, attrs: Sequence[tuple[str, bytes, int]]) -> None:
        """Replace attributes of ``memory{index}`` ((name, value, mode) of
        :data:`SHARED_ATTRS`, in that order) each by a link to the shared file
        of its value: two system calls each (link, rename).  The first call
        for a block in this run checks its directory and its three attribute
        files (:meth:`_check_block`) before it changes any.  Anything out of
        the ordinary (no held directory, no shared file yet, a link refused,
        another mount) takes :meth:`_write_host`, which says why."""
        fds = self._dir_fds
        mem_fd = fds.get(self._memory)
        tmp_fd = fds.get(self._tmp) if self._tmp is not None else None
        if mem_fd is None or tmp_fd is None or index not in self._checked_blocks:
            if not self._check_block(index):
                for name, data, mode in attrs:
                    self._write_host(f"{self._memory}/memory{index}/{name}", data, mode)
                return
            mem_fd = fds[self._memory]
            tmp_fd = fds[self._tmp]  # type: ignore[index]
        shared = self._shared
        pid = _PID[0]
        sub = f"memory{index}/"
        for name, data, mode in attrs:
            src = shared.get((data, mode))
            if src is None:  # (made the long way, once per value and mode)
                self._write_host(f"{self._memory}/{sub}{name}", data, mode)
                continue
            tmp = f"{pid}.{name}"
            try:
                os.link(src, tmp, src_dir_fd=tmp_fd, dst_dir_fd=tmp_fd, follow_symlinks=False)
            except OSError:  # a stale temporary, too many links, the shared file gone: the long way
                self._write_host(f"{self._memory}/{sub}{name}", data, mode)
                continue
            try:
                # replaces the attribute whole: never seen half-written
                os.rename(tmp, sub + name, src_dir_fd=tmp_fd, dst_dir_fd=mem_fd)
            except OSError as err:
                _unlink_quietly(tmp, tmp_fd)
                if err.errno != errno.EXDEV:
                    raise
                self._write_host(f"{self._memory}/{sub}{name}", data, mode)  # (another mount: its own temporary)
            except BaseException:
                _unlink_quietly(tmp, tmp_fd)
                raise

    def _check_block(self, index: int) -> bool:
        """Before this run first replaces files of ``memory{index}``: its
        directory lies inside the tree and every one of its
        :data:`SHARED_ATTRS` is a regular file or absent (one lstat each not
        known yet; OutsideSysroot otherwise, nothing changed).  True when
        :meth:`replace_block_attrs` can go straight to the held directories from now on."""
        directory = f"{self._memory}/memory{index}"
        if directory not in self._checked:
            self._check_dir(directory)
        at, _ = self._at(directory, "")
        for name in _SHARED_ORDER:
            path = f"{directory}/{name}"
            if path not in self._regular:
                self._refuse_odd_target(path, at, f"memory{index}/{name}" if at is not None else None)
                self._regular.add(path)  # (regular or absent: all _write_host asks)
        tmp_dir = self._tmp or self._tmp_dir()
        if at is None or (self._dir_fds.get(tmp_dir) is None and self._dir_fd(tmp_dir) is None):
            return False
        self._checked_blocks.add(index)
        return True

    def _symlink_host(self, link: str, target: str) -> None:
        self._check_dir(os.path.dirname(link))
        super()._symlink_host(link, target)

    def mkdir(self, kpath: str) -> None:
        self._check_dir(self.host(kpath))
        super().mkdir(kpath)

    def populate(self, kpath: str, files: Iterable[tuple[str, Content, int]],
                 links: Iterable[tuple[str, str]] = (), subdirs: Iterable[str] = ()) -> None:
        host = self.host(kpath)
        self._check_dir(host)
        super().populate(kpath, files, links, subdirs)
        parent, _, name = host.rpartition("/")
        if (parent == self._memory and name.startswith("memory") and name[6:].isdigit()
                and all(f"{host}/{attr}" in self._regular for attr in SHARED_ATTRS)):
            self._checked_blocks.add(int(name[6:]))  # (a block kmem added: its files are this writer's)

    def _link_to_shared(self, host_dir: str, name: str, data: bytes, mode: int) -> bool:
        """A block attribute :meth:`populate` makes (kmem adding a block): a
        hard link to this writer's shared file of the value, one system call
        (False where there is none to be had, or the name is taken: the caller writes)."""
        if len(data) > _SHARED_LEN:
            return False
        tmp_dir = self._tmp or self._tmp_dir()
        tmp_fd = self._dir_fds.get(tmp_dir)
        if tmp_fd is None:
            tmp_fd = self._dir_fd(tmp_dir)
            if tmp_fd is None:
                return False
        key = (data, mode)
        shared = self._shared_file(key, tmp_fd)
        if shared is None:
            return False
        at, rel = self._at(host_dir, name)
        try:
            # never follows a link at either end; a name already there (even a link): EEXIST
            os.link(shared, rel, src_dir_fd=tmp_fd, dst_dir_fd=at, follow_symlinks=False)
        except OSError:
            return False
        self._regular.add(f"{host_dir}/{name}")
        return True

    def remove(self, kpath: str) -> None:
        # the entry itself may be a link (unlinked, never followed: TreeWriter
        # checks islink first); rmtree does not follow links inside
        self._check_dir(os.path.dirname(self.host(kpath)))
        super().remove(kpath)
        self._forget(self.host(kpath))

    def remove_if_empty(self, kpath: str) -> bool:
        self._check_dir(os.path.dirname(self.host(kpath)))
        removed = super().remove_if_empty(kpath)
        self._forget(self.host(kpath))
        return removed

    def _forget(self, host: str) -> None:
        """What this run knew about a path it removed (and a held directory under it)."""
        self._checked.discard(host)
        parent, _, name = host.rpartition("/")
        if parent == self._memory and name.startswith("memory") and name[6:].isdigit():
            self._checked_blocks.discard(int(name[6:]))
        for held in [d for d in self._dir_fds if d == host or d.startswith(host + "/")]:
            os.close(self._dir_fds.pop(held))
            self._checked_blocks.clear()  # (replace_block_attrs goes through the held directories)

    def _save_devnodes(self) -> None:
        self._check_dir(self.marker_dir)
        try:  # TreeWriter opens the temporary by name: never through a planted link
            os.unlink(os.path.join(self.marker_dir, "devnodes.json.tmp"))
        except FileNotFoundError:
            pass
        super()._save_devnodes()


def _unlink_quietly(name: str, dir_fd: Optional[int]) -> None:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except OSError:
        pass


def _release(dir_fds: dict[str, int], tmp_dir: str, shared: dict[tuple[bytes, int], str], pid: int) -> None:
    """A writer's end (collected, or the process exiting): its shared files'
    names go (the block attributes linked to them stay) and its directory fds close."""
    tmp_fd = dir_fds.get(tmp_dir)
    if tmp_fd is not None and pid == _PID[0]:  # (not in a forked child: the files are the parent's)
        for name in shared.values():
            _unlink_quietly(name, tmp_fd)
    shared.clear()
    for fd in dir_fds.values():
        try:
            os.close(fd)
        except OSError:
            pass
    dir_fds.clear()


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
        fd = os.open(tmp, NOFOLLOW_CREATE, 0o644)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise OutsideSysroot(f"{tmp} is a symbolic link; the simulated kernel refuses to write through it") from err
        raise
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=indent, sort_keys=True)
    os.replace(tmp, path)


def load_json(path: str) -> Any:
    """Read one of the simulator's state files; FileNotFoundError when it is
    absent.  Only a regular file is opened (a FIFO or a device planted there
    would block the simulator or have it open a device: refused with one
    sentence), without blocking in any case."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise OutsideSysroot(f"{path} is not a regular file; the simulated kernel refuses to read it")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # replaced meanwhile
            raise OutsideSysroot(f"{path} is not a regular file; the simulated kernel refuses to read it")
        return json.load(fh)


__all__ = ["ConfinedTreeWriter", "check_tree", "load_json", "save_json"]
