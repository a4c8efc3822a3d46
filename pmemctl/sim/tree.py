"""Low-level primitives for a fake sysfs/procfs tree on disk.

A :class:`TreeWriter` is bound to one sysroot directory.  Everything it is
given is a *kernel path* (``/sys/...``, ``/proc/...``, ``/dev/...``), mapped
under the root exactly as :class:`pmemctl.sysfs.SysfsRoot` maps them, so the
code building a tree speaks the same language as the code reading it.

What a sysfs tree has, and how this module reproduces it:

* directories (0755);
* attribute files with the kernel's modes: 0444 read-only, 0644 read-write,
  0200 write-only (driver ``bind``/``unbind``/``new_id``/``remove_id``,
  ``uevent`` of drivers), 0400 root-only (``resource``, dax_region ``align``);
  content always ends with one newline, as ``sysfs_emit()`` output does;
* relative symlinks computed the way sysfs does (``sysfs_create_link`` walks
  up to the common ancestor), e.g. ``/sys/bus/dax/devices/dax0.0 ->
  ../../../devices/.../dax0.0``;
* device nodes under ``/dev``: they cannot be created by an unprivileged user
  in a plain directory, so they are only *recorded* in
  ``ROOT/.pmemctl-sim/devnodes.json``; a test harness ``mknod``s them inside a
  private ``/dev``.

All writes go through ``os`` calls directly (no subprocesses, no pathlib in
hot paths): the ``big`` scenario writes ~500 000 entries.
"""

from __future__ import annotations

import errno
import json
import os
import posixpath
import shutil
import stat
from dataclasses import asdict, dataclass
from typing import Iterable, Literal, Optional, Union

from pmemctl.sysfs.door import SIM_MARKER_DIR
from pmemctl.sysfs.door import is_simulated_tree as is_simulated_tree  # re-exported (pmemctl.sim)

# File modes used by sysfs attributes (include/linux/sysfs.h __ATTR_RO/RW/WO,
# plus the 0400 attributes that expose physical addresses).
MODE_RO = 0o444
MODE_RW = 0o644
MODE_WO = 0o200
MODE_ROOT_RO = 0o400
MODE_DIR = 0o755

#: Name of the marker directory that identifies a simulated tree (the door owns it).
MARKER_DIR = SIM_MARKER_DIR
SCENARIO_FILE = "scenario.json"
DEVNODES_FILE = "devnodes.json"

#: a memory block's attributes that take one of a handful of values across
#: thousands of blocks: each block's file is a hard link to one file per
#: (content, mode) (:meth:`TreeWriter.populate` while sharing, and the simulated
#: kernel's writes: pmemctl.sim.kernel.confined), so a state change frees no
#: file of its own; whoever writes such a file in place gives it a file of its own first
SHARED_BLOCK_ATTRS = frozenset({"state", "valid_zones", "online"})
#: where the shared files of a build live (``.pmemctl-sim/tmp``, unlinked when the build ends)
SHARED_TMP_DIR = "tmp"
#: a new file, never made through a link or over an existing name
NOFOLLOW_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC

Content = Union[str, int]
DevType = Literal["c", "b"]


def relative_link_target(link_kpath: str, target_kpath: str) -> str:
    """Target text of a symlink at ``link_kpath`` pointing to ``target_kpath``.

    sysfs writes links relative to the link's directory: it climbs with
    ``../`` until it reaches an ancestor of the target's *parent*, then
    descends (fs/sysfs/symlink.c).  So a link to a directory that contains
    the link still climbs past it: ``node0/access0/initiators/node0`` is
    ``../../../node0``, never ``../..``.
    """
    if not link_kpath.startswith("/") or not target_kpath.startswith("/"):
        raise ValueError(f"kernel paths are absolute: {link_kpath!r} -> {target_kpath!r}")
    link_dir = posixpath.normpath(posixpath.dirname(link_kpath))
    target = posixpath.normpath(target_kpath)
    common = posixpath.commonpath([link_dir, posixpath.dirname(target)])
    ups = 0 if link_dir == common else len(link_dir[len(common):].strip("/").split("/"))
    down = target[len(common):].lstrip("/")
    return "../" * ups + down


@dataclass(frozen=True)
class DevNode:
    """A device node that would exist under /dev (recorded, not created)."""

    path: str  # kernel path, e.g. /dev/dax0.0
    type: DevType  # "c" char, "b" block
    major: int
    minor: int


class TreeWriter:
    """Creates and removes sysfs-like objects under one sysroot directory."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.path.abspath(os.fspath(root))
        self._devnodes: dict[str, DevNode] | None = None
        self._umask = _current_umask()
        #: while sharing (:meth:`share_block_files`): (content, mode) -> the file
        #: that block attributes of that content become hard links to
        self._build_shared: dict[tuple[bytes, int], str] | None = None

    def __repr__(self) -> str:
        return f"TreeWriter({self.root!r})"

    # -- path mapping --------------------------------------------------------

    def host(self, kpath: str) -> str:
        """Map a kernel path to the file under the root."""
        if not kpath.startswith("/"):
            raise ValueError(f"kernel paths are absolute: {kpath!r}")
        return self.root + kpath

    @property
    def marker_dir(self) -> str:
        return os.path.join(self.root, MARKER_DIR)

    # -- creation ------------------------------------------------------------

    def mkdir(self, kpath: str) -> None:
        """Create a directory (and its parents), like a kobject directory."""
        os.makedirs(self.host(kpath), mode=MODE_DIR, exist_ok=True)

    def attr(self, kpath: str, content: Content = "", mode: int = MODE_RO) -> None:
        """Create or rewrite an attribute; a trailing newline is added.

        ``content`` is written followed by ``\\n`` unless it already ends
        with one (multi-line attributes such as ``meminfo``).  The parent
        directory must exist.
        """
        text = str(content)
        if not text.endswith("\n"):
            text += "\n"
        self.write_bytes(kpath, text.encode(), mode)

    def write_bytes(self, kpath: str, data: bytes, mode: int = MODE_RO) -> None:
        """Write raw bytes to an attribute (no newline added), then set ``mode``."""
        self._write_host(self.host(kpath), data, mode)

    def _write_host(self, path: str, data: bytes, mode: int) -> None:
        # Building a tree creates almost every file (a failed open, then
        # create, write, close); rewriting one opens it, makes sure it is not
        # shared, truncates, writes, fchmods and closes it.
        try:
            fd = os.open(path, os.O_WRONLY)
            existing = True
        except FileNotFoundError:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            existing = False
        except PermissionError:
            # Re-writing a read-only attribute as an unprivileged user (a
            # shared one, see below, is replaced: a chmod would reach every sharer).
            existing = os.stat(path).st_nlink == 1
            if existing:
                os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
                fd = os.open(path, os.O_WRONLY)
            else:
                os.unlink(path)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        # an existing file keeps its old mode; O_CREAT applies the umask
        need_chmod = existing or bool(mode & self._umask)
        try:
            if existing and os.fstat(fd).st_nlink > 1:
                # one of the block attribute files the simulated kernel shares
                # between blocks (confined.ConfinedTreeWriter): writing through
                # it would change every block that shares it; this one alone gets a new file
                os.close(fd)
                fd = -1
                os.unlink(path)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
                need_chmod = bool(mode & self._umask)
            elif existing:
                os.ftruncate(fd, 0)
            os.write(fd, data)
            if need_chmod:
                os.fchmod(fd, mode)
        finally:
            if fd >= 0:
                os.close(fd)

    def populate(
        self,
        kpath: str,
        files: Iterable[tuple[str, Content, int]],
        links: Iterable[tuple[str, str]] = (),
        subdirs: Iterable[str] = (),
    ) -> None:
        """Fast path for many small objects: create directory ``kpath`` (its
        parent must exist) with ``(name, content, mode)`` attributes and
        ``(name, relative target)`` links whose targets are already relative."""
        host = self.root + kpath
        try:
            os.mkdir(host, MODE_DIR)
        except FileExistsError:
            pass
        for sub in subdirs:
            try:
                os.mkdir(f"{host}/{sub}", MODE_DIR)
            except FileExistsError:
                pass
        for name, content, mode in files:
            text = str(content)
            data = (text if text.endswith("\n") else text + "\n").encode()
            if name in SHARED_BLOCK_ATTRS and self._link_to_shared(host, name, data, mode):
                continue
            self._write_host(f"{host}/{name}", data, mode)
        for name, target in links:
            self._symlink_host(f"{host}/{name}", target)

    # -- block attributes shared between blocks --------------------------------

    def share_block_files(self) -> None:
        """From now until :meth:`end_sharing`, :meth:`populate` makes the
        :data:`SHARED_BLOCK_ATTRS` files hard links to one file per (content,
        mode), made in ``.pmemctl-sim/tmp`` (a build: thousands of blocks, a
        handful of values)."""
        if self._build_shared is None:
            self._build_shared = {}

    def end_sharing(self) -> None:
        """The shared files' names go (the attributes linked to them stay)."""
        shared, self._build_shared = self._build_shared, None
        for path in (shared or {}).values():
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    def _link_to_shared(self, host_dir: str, name: str, data: bytes, mode: int) -> bool:
        """Make ``host_dir/name`` (not there yet) a hard link to the shared
        file of (``data``, ``mode``); False when not sharing or it cannot be
        done (the caller writes a file of its own)."""
        shared = self._build_shared
        if shared is None:
            return False
        source = shared.get((data, mode))
        if source is None:
            source = self._make_shared_source(data, mode, len(shared))
            if source is None:
                return False
            shared[(data, mode)] = source
        try:
            os.link(source, f"{host_dir}/{name}", follow_symlinks=False)
        except OSError:  # (there already, too many links, no links here: a file of its own)
            return False
        return True

    def _make_shared_source(self, data: bytes, mode: int, number: int) -> str | None:
        """A new file holding ``data`` with ``mode`` in ``.pmemctl-sim/tmp`` (None: cannot)."""
        tmp = os.path.join(self.marker_dir, SHARED_TMP_DIR)
        source = os.path.join(tmp, f"build.{os.getpid()}.{number}")
        try:
            os.makedirs(tmp, mode=0o700, exist_ok=True)
            self._create(source, data, mode, None)
        except OSError:
            try:
                os.unlink(source)
            except OSError:
                pass
            return None
        return source

    def _create(self, name: str, data: bytes, mode: int, dir_fd: Optional[int]) -> None:
        """A new file ``name`` holding ``data`` with ``mode``, never created through a link."""
        try:
            fd = os.open(name, NOFOLLOW_CREATE, mode, dir_fd=dir_fd)
        except FileExistsError:  # a stale one from a killed run with this pid
            os.unlink(name, dir_fd=dir_fd)
            fd = os.open(name, NOFOLLOW_CREATE, mode, dir_fd=dir_fd)
        try:
            written = os.write(fd, data)
            while written < len(data):  # (a short write: only for large files)
                written += os.write(fd, data[written:])
            if mode & self._umask:  # O_CREAT applied the umask to it
                os.fchmod(fd, mode)
        finally:
            os.close(fd)

    def symlink_raw(self, link_kpath: str, target: str) -> None:
        """Create a symlink whose (relative) target text is already computed."""
        self._symlink_host(self.host(link_kpath), target)

    def _symlink_host(self, link: str, target: str) -> None:
        try:
            os.symlink(target, link)
        except FileExistsError:
            os.unlink(link)
            os.symlink(target, link)

    def attrs(self, directory: str, values: dict[str, Content], mode: int = MODE_RO) -> None:
        """Write several attributes of one directory with the same mode."""
        for name, value in values.items():
            self.attr(f"{directory}/{name}", value, mode)

    def symlink(self, link_kpath: str, target_kpath: str) -> None:
        """Create (or replace) a relative symlink, as sysfs does."""
        self._symlink_host(self.host(link_kpath), relative_link_target(link_kpath, target_kpath))

    # -- reading back (for code that reacts to the tree's own state) ---------

    def exists(self, kpath: str) -> bool:
        return os.path.lexists(self.host(kpath))

    def is_dir(self, kpath: str) -> bool:
        return os.path.isdir(self.host(kpath)) and not os.path.islink(self.host(kpath))

    def read(self, kpath: str) -> str:
        """Attribute content with one trailing newline stripped."""
        with open(self.host(kpath), "rb") as fh:
            data = fh.read()
        return data.decode().removesuffix("\n")

    def listdir(self, kpath: str) -> list[str]:
        try:
            return sorted(os.listdir(self.host(kpath)))
        except FileNotFoundError:
            return []

    def readlink(self, kpath: str) -> str | None:
        try:
            return os.readlink(self.host(kpath))
        except OSError:
            return None

    def resolve_link(self, kpath: str) -> str | None:
        """Kernel path a symlink points at (one level, normalised), or None."""
        target = self.readlink(kpath)
        if target is None:
            return None
        return posixpath.normpath(posixpath.join(posixpath.dirname(kpath), target))

    # -- removal ---------------------------------------------------------------

    def remove(self, kpath: str) -> None:
        """Remove a file, a symlink or a whole directory; absent is fine."""
        path = self.host(kpath)
        if os.path.islink(path) or os.path.isfile(path):
            os.unlink(path)
        elif os.path.isdir(path):
            shutil.rmtree(path)

    def remove_if_empty(self, kpath: str) -> bool:
        """Remove a directory only if it is empty; True when removed."""
        try:
            os.rmdir(self.host(kpath))
            return True
        except OSError as err:
            if err.errno in (errno.ENOENT, errno.ENOTEMPTY, errno.EEXIST):
                return False
            raise

    # -- device nodes (manifest) -------------------------------------------------

    def _load_devnodes(self) -> dict[str, DevNode]:
        if self._devnodes is None:
            self._devnodes = {}
            path = os.path.join(self.marker_dir, DEVNODES_FILE)
            if os.path.exists(path):
                with open(path, encoding="utf-8") as fh:
                    for entry in json.load(fh):
                        node = DevNode(entry["path"], entry["type"], int(entry["major"]), int(entry["minor"]))
                        self._devnodes[node.path] = node
        return self._devnodes

    def _save_devnodes(self) -> None:
        os.makedirs(self.marker_dir, mode=MODE_DIR, exist_ok=True)
        nodes = sorted(self._load_devnodes().values(), key=lambda n: n.path)
        tmp = os.path.join(self.marker_dir, DEVNODES_FILE + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump([asdict(n) for n in nodes], fh, indent=2)
            fh.write("\n")
        os.replace(tmp, os.path.join(self.marker_dir, DEVNODES_FILE))

    def devnode(self, kpath: str, dev_type: DevType, major: int, minor: int) -> None:
        """Record that device node ``kpath`` (``/dev/...``) exists."""
        if not kpath.startswith("/dev/"):
            raise ValueError(f"device nodes live under /dev: {kpath!r}")
        self._load_devnodes()[kpath] = DevNode(kpath, dev_type, major, minor)
        self._save_devnodes()

    def remove_devnode(self, kpath: str) -> None:
        if self._load_devnodes().pop(kpath, None) is not None:
            self._save_devnodes()

    def write_devnodes_manifest(self) -> None:
        """Write ``devnodes.json`` now, even when no node was recorded."""
        self._save_devnodes()

    def devnodes(self) -> list[DevNode]:
        return sorted(self._load_devnodes().values(), key=lambda n: n.path)


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def load_devnodes(root: str | os.PathLike[str]) -> list[DevNode]:
    """Device nodes recorded for the tree at ``root`` (empty when none)."""
    return TreeWriter(root).devnodes()


def iter_tree(root: str | os.PathLike[str]) -> Iterable[str]:
    """Kernel paths of every entry under ``root`` (marker directory excluded)."""
    base = os.path.abspath(os.fspath(root))
    for dirpath, dirnames, filenames in os.walk(base):
        if dirpath == base and MARKER_DIR in dirnames:
            dirnames.remove(MARKER_DIR)
        rel = dirpath[len(base):] or "/"
        for name in dirnames + filenames:
            yield posixpath.join(rel, name)
