"""Record the pmem-relevant sysfs and procfs of a machine as a tree.

``pmemctl sim record DIR`` (and :func:`record`) copies what pmemctl, lsmem,
daxctl and ndctl read about persistent memory from the machine at a sysroot
(``/`` by default, or any tree: a simulated one, an earlier recording) into
DIR, so that every pmemctl command can read it back with ``--sysroot DIR``.
It doubles as a support capture: a user can send the directory (or a tar of
it) and the problem can be looked at on another machine.

What is copied (kernel paths):

* ``/sys/devices/system/{memory,node}``; of ``/sys/devices/system/cpu`` the
  basics: ``possible present online offline kernel_max`` and, of each
  ``cpuN``, ``online`` and its ``nodeN`` and ``subsystem`` links;
* ``/sys/bus/{nd,dax,memory,node,memory_tiering}``, and the device trees
  their ``devices/`` links point into: each ``ndbusN`` (the whole NVDIMM
  hierarchy) with the attributes and links of its parent (e.g.
  ``.../ACPI0012:00``, without its other children), and the parent of each
  dax device (the dax region holder: an nd ``daxX.Y``, ``hmem.N``, a CXL
  ``dax_regionN``) unless already inside a copied tree;
* ``/sys/class/nd``, the ``/sys/dev/char`` links that point into a copied
  tree (nd and dax character devices), ``/sys/devices/virtual/memory_tiering``,
  ``/sys/kernel/mm/{numa,mempolicy}``, ``/sys/module/{memory_hotplug,kmem,device_dax,dax_pmem}``;
* ``/proc/{iomem,cmdline,meminfo}``.

How: directories are walked without following symlinks; symlinks are
re-created with the same (relative, as sysfs writes them) target text; each
regular file gets the content read at recording time and the same mode bits.
Files without any read bit (driver ``bind``/``unbind``/``new_id``...) are
created empty and never opened.  A file that cannot be read (ENXIO from a
disabled seed's ``size``, EACCES for a 0400 attribute when not root) is left
out of the tree -- an empty file would read as a value, an absent one reads
as "no value", which is what pmemctl makes of those errnos -- and its errno
and mode are kept in the metadata; a file larger than 1 MiB is cut there
(noted too).  Skipped:
``power/`` directories, ``uevent`` files, a module's ``sections/`` and
``notes/``, and the ``queue/ trace/ integrity/ mq/`` internals of block
devices.  Directory modes are restored last, so 0555 directories work.

Metadata: ``DIR/.pmemctl-record.json`` (source, kernel release, time, read
errors with the modes of the files left out, truncated files, roots copied
and missing, counts).

A recording of the *running machine* is a plain, read-only captured tree:
pmemctl reads it like the machine, but no kernel reacts to writes into it
(a write would just change a file), so use it with the read commands and
``--dry-run``.  A recording of a *simulated* tree also copies the simulator's
marker directory (``.pmemctl-sim/``: the machine description, kernel state,
injected faults), so the copy is again a working simulated machine.

This module reads the source through plain ``os`` calls (it is a recorder,
not a door): it never writes under the source.
"""

from __future__ import annotations

import errno as _errno
import json
import os
import posixpath
import re
import shutil
import stat
import time
from dataclasses import dataclass, field
from typing import Any, Optional

from pmemctl.sim.tree import MARKER_DIR

#: Metadata file written at the top of every recording.
RECORD_FILE = ".pmemctl-record.json"
RECORD_FORMAT = 1

#: Subtrees copied whole (minus the skip rules).
SYS_ROOTS: tuple[str, ...] = (
    "/sys/devices/system/memory",
    "/sys/devices/system/node",
    "/sys/bus/nd",
    "/sys/bus/dax",
    "/sys/bus/memory",
    "/sys/bus/node",
    "/sys/bus/memory_tiering",
    "/sys/class/nd",
    "/sys/devices/virtual/memory_tiering",
    "/sys/kernel/mm/numa",
    "/sys/kernel/mm/mempolicy",  # weighted_interleave (6.9+): topology reports it
    "/sys/module/memory_hotplug",
    "/sys/module/kmem",
    "/sys/module/device_dax",
    "/sys/module/dax_pmem",
)
#: Roots only some kernels have: their absence is no gap in the recording.
OPTIONAL_ROOTS = frozenset({"/sys/kernel/mm/mempolicy"})
CPU_ROOT = "/sys/devices/system/cpu"
#: The basics recorded of the CPUs: which exist and are online, and on which node.
CPU_ROOT_FILES = frozenset({"possible", "present", "online", "offline", "kernel_max"})
CPU_FILES = frozenset({"online"})
DEV_CHAR = "/sys/dev/char"
PROC_FILES: tuple[str, ...] = ("/proc/iomem", "/proc/cmdline", "/proc/meminfo")

#: Buses whose ``devices/`` links lead to device trees that are copied too.
LINKED_BUSES: tuple[str, ...] = ("nd", "dax", "memory", "node", "memory_tiering")

SKIP_DIRS = frozenset({"power"})
SKIP_FILES = frozenset({"uevent"})
SKIP_IN_MODULE = frozenset({"sections", "notes"})
SKIP_IN_BLOCKDEV = frozenset({"queue", "trace", "integrity", "mq"})

#: Longest content kept of one file.
MAX_FILE_BYTES = 1 << 20

_READ_BITS = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
_CPU_DIR_RE = re.compile(r"^cpu\d+$")
_NODE_LINK_RE = re.compile(r"^node\d+$")


@dataclass
class Recording:
    """What :func:`record` did."""

    dest: str
    source: str
    simulated: bool
    files: int = 0
    links: int = 0
    dirs: int = 0
    errors: dict[str, str] = field(default_factory=dict)  # kernel path -> errno name
    error_modes: dict[str, str] = field(default_factory=dict)  # unreadable file -> its mode
    truncated: list[str] = field(default_factory=list)
    roots: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "dest": self.dest,
            "source": self.source,
            "simulated": self.simulated,
            "files": self.files,
            "links": self.links,
            "dirs": self.dirs,
            "errors": dict(sorted(self.errors.items())),
            "error_modes": dict(sorted(self.error_modes.items())),
            "truncated": sorted(self.truncated),
            "roots": list(self.roots),
            "missing": list(self.missing),
            "seconds": round(self.seconds, 3),
        }


def _errname(err: OSError) -> str:
    return _errno.errorcode.get(err.errno or 0, str(err.errno))


def is_recording(root: str | os.PathLike[str]) -> bool:
    """True when ``root`` holds a tree written by :func:`record`."""
    return os.path.isfile(os.path.join(os.fspath(root), RECORD_FILE))


def load_metadata(root: str | os.PathLike[str]) -> dict[str, Any]:
    with open(os.path.join(os.fspath(root), RECORD_FILE), encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


class _Recorder:
    def __init__(self, source: str, dest: str) -> None:
        src = os.path.abspath(source).rstrip("/") or "/"
        self.src_prefix = "" if src == "/" else src
        self.dest = dest
        self.rec = Recording(dest=dest, source=src, simulated=os.path.isdir(os.path.join(src, MARKER_DIR)))
        self._dir_modes: list[tuple[str, int]] = []
        self._roots: list[str] = []

    # -- mapping ---------------------------------------------------------------

    def src(self, kpath: str) -> str:
        return self.src_prefix + kpath

    def dst(self, kpath: str) -> str:
        return self.dest + kpath

    def _inside_roots(self, kpath: str) -> bool:
        return any(kpath == r or kpath.startswith(r + "/") for r in self._roots)

    # -- primitives ------------------------------------------------------------

    def _parents(self, kpath: str) -> None:
        os.makedirs(os.path.dirname(self.dst(kpath)), exist_ok=True)

    def copy_link(self, kpath: str) -> None:
        try:
            target = os.readlink(self.src(kpath))
        except OSError as err:
            self.rec.errors[kpath] = _errname(err)
            return
        self._parents(kpath)
        d = self.dst(kpath)
        if os.path.lexists(d):
            return
        os.symlink(target, d)
        self.rec.links += 1

    def copy_file(self, kpath: str, st: os.stat_result) -> None:
        mode = stat.S_IMODE(st.st_mode)
        data = b""
        if mode & _READ_BITS:  # write-only attributes are created empty, never opened
            data = self._read(kpath)
            if kpath in self.rec.errors:
                # left out: an empty file would read as a value ('' where a
                # number is due); absent reads as "no value", as ENXIO does
                self.rec.error_modes[kpath] = f"{mode:04o}"
                return
        self._parents(kpath)
        d = self.dst(kpath)
        fd = os.open(d, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.chmod(d, mode)
        self.rec.files += 1

    def _read(self, kpath: str) -> bytes:
        try:
            fd = os.open(self.src(kpath), os.O_RDONLY | os.O_NONBLOCK)
        except OSError as err:
            self.rec.errors[kpath] = _errname(err)
            return b""
        chunks: list[bytes] = []
        total = 0
        try:
            while total <= MAX_FILE_BYTES:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
        except OSError as err:
            self.rec.errors[kpath] = _errname(err)
            return b""
        finally:
            os.close(fd)
        data = b"".join(chunks)
        if len(data) > MAX_FILE_BYTES:
            self.rec.truncated.append(kpath)
            data = data[:MAX_FILE_BYTES]
        return data

    def make_dir(self, kpath: str, st: os.stat_result) -> None:
        d = self.dst(kpath)
        os.makedirs(d, exist_ok=True)
        self._dir_modes.append((d, stat.S_IMODE(st.st_mode)))
        self.rec.dirs += 1

    # -- walks -----------------------------------------------------------------

    def copy_tree(self, kpath: str) -> None:
        """Copy one subtree, never following links, with the skip rules."""
        try:
            st = os.lstat(self.src(kpath))
        except OSError as err:
            if err.errno == _errno.ENOENT:
                if kpath not in OPTIONAL_ROOTS:
                    self.rec.missing.append(kpath)
            else:
                self.rec.errors[kpath] = _errname(err)
            return
        self._roots.append(kpath)
        self.rec.roots.append(kpath)
        if stat.S_ISLNK(st.st_mode):
            self.copy_link(kpath)
            return
        if not stat.S_ISDIR(st.st_mode):
            self.copy_file(kpath, st)
            return
        stack = [(kpath, st)]
        while stack:
            cur, cst = stack.pop()
            self.make_dir(cur, cst)
            try:
                entries = list(os.scandir(self.src(cur)))
            except OSError as err:
                self.rec.errors[cur] = _errname(err)
                continue
            in_module = cur.startswith("/sys/module/") and cur.count("/") == 3
            in_blockdev = "/block/" in cur + "/" and posixpath.basename(posixpath.dirname(cur)) == "block"
            for entry in entries:
                name = entry.name
                child = f"{cur}/{name}"
                try:
                    est = entry.stat(follow_symlinks=False)
                except OSError as err:
                    self.rec.errors[child] = _errname(err)
                    continue
                if stat.S_ISLNK(est.st_mode):
                    self.copy_link(child)
                elif stat.S_ISDIR(est.st_mode):
                    if name in SKIP_DIRS or (in_module and name in SKIP_IN_MODULE) or (
                        in_blockdev and name in SKIP_IN_BLOCKDEV
                    ):
                        continue
                    stack.append((child, est))
                elif stat.S_ISREG(est.st_mode):
                    if name in SKIP_FILES:
                        continue
                    self.copy_file(child, est)
                # sockets, fifos, device nodes: never in sysfs; ignored

    def copy_cpus(self) -> None:
        """``/sys/devices/system/cpu``: the basics only -- which CPUs exist and
        are online (:data:`CPU_ROOT_FILES`), and of each ``cpuN`` its
        ``online`` attribute and its ``nodeN`` and ``subsystem`` links."""
        try:
            st = os.lstat(self.src(CPU_ROOT))
        except OSError:
            self.rec.missing.append(CPU_ROOT)
            return
        self.rec.roots.append(CPU_ROOT)
        self.make_dir(CPU_ROOT, st)
        for entry in sorted(os.scandir(self.src(CPU_ROOT)), key=lambda e: e.name):
            kp = f"{CPU_ROOT}/{entry.name}"
            est = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(est.st_mode) and entry.name in CPU_ROOT_FILES:
                self.copy_file(kp, est)
            elif stat.S_ISDIR(est.st_mode) and _CPU_DIR_RE.match(entry.name):
                self.make_dir(kp, est)
                for sub in os.scandir(entry.path):
                    sst = sub.stat(follow_symlinks=False)
                    skp = f"{kp}/{sub.name}"
                    if stat.S_ISLNK(sst.st_mode) and (sub.name == "subsystem" or _NODE_LINK_RE.match(sub.name)):
                        self.copy_link(skp)
                    elif stat.S_ISREG(sst.st_mode) and sub.name in CPU_FILES:
                        self.copy_file(skp, sst)

    def copy_shallow(self, kpath: str) -> None:
        """One directory's own attributes and links, not its subdirectories
        (the parent of an ndbus: the ACPI or platform device it hangs off)."""
        try:
            st = os.lstat(self.src(kpath))
        except OSError as err:
            self.rec.errors[kpath] = _errname(err)
            return
        if not stat.S_ISDIR(st.st_mode):
            return
        self.make_dir(kpath, st)
        for entry in sorted(os.scandir(self.src(kpath)), key=lambda e: e.name):
            kp = f"{kpath}/{entry.name}"
            est = entry.stat(follow_symlinks=False)
            if stat.S_ISLNK(est.st_mode):
                self.copy_link(kp)
            elif stat.S_ISREG(est.st_mode) and entry.name not in SKIP_FILES:
                self.copy_file(kp, est)

    def linked_trees(self) -> list[str]:
        """Device trees the bus ``devices/`` links point into, not yet copied."""
        out: list[str] = []
        for bus in LINKED_BUSES:
            base = f"/sys/bus/{bus}/devices"
            try:
                names = sorted(os.listdir(self.src(base)))
            except OSError:
                continue
            for name in names:
                target = self._link_target(f"{base}/{name}")
                if target is None:
                    continue
                if bus == "nd":
                    root = target if name.startswith("ndbus") else None
                elif bus == "dax":
                    root = posixpath.dirname(target)  # the dax region holder
                else:
                    root = target
                if root and root.startswith("/sys/devices/") and root not in out:
                    out.append(root)
        return out

    def _link_target(self, kpath: str) -> Optional[str]:
        try:
            target = os.readlink(self.src(kpath))
        except OSError:
            return None
        return posixpath.normpath(posixpath.join(posixpath.dirname(kpath), target))

    def copy_char_links(self) -> None:
        try:
            names = sorted(os.listdir(self.src(DEV_CHAR)))
        except OSError:
            self.rec.missing.append(DEV_CHAR)
            return
        for name in names:
            kp = f"{DEV_CHAR}/{name}"
            target = self._link_target(kp)
            if target is not None and self._inside_roots(target):
                self.copy_link(kp)

    def copy_proc(self) -> None:
        for kp in PROC_FILES:
            try:
                st = os.stat(self.src(kp))
            except OSError as err:
                if err.errno == _errno.ENOENT:
                    self.rec.missing.append(kp)
                else:
                    self.rec.errors[kp] = _errname(err)
                continue
            self._parents(kp)
            data = self._read(kp)
            d = self.dst(kp)
            with open(d, "wb") as fh:
                fh.write(data)
            os.chmod(d, stat.S_IMODE(st.st_mode))
            self.rec.files += 1

    def finish_modes(self) -> None:
        # deepest first, so a 0555 parent does not stop its children's chmod
        for d, mode in sorted(self._dir_modes, key=lambda dm: -dm[0].count("/")):
            os.chmod(d, mode)


def _kernel_release(source: str, simulated: bool) -> Optional[str]:
    if simulated:
        try:
            with open(os.path.join(source, MARKER_DIR, "scenario.json"), encoding="utf-8") as fh:
                return str(json.load(fh)["machine"]["kernel_release"])
        except (OSError, KeyError, ValueError):
            return None
    if source == "/":
        return os.uname().release
    return None


def record(dest: str | os.PathLike[str], sysroot: str | os.PathLike[str] = "/") -> Recording:
    """Record the machine at ``sysroot`` into ``dest`` (absent or empty).

    Returns a :class:`Recording`; raises ``FileExistsError`` when ``dest`` is
    not empty and ``FileNotFoundError`` when ``sysroot`` has no ``sys/devices``.
    """
    source = os.path.abspath(os.fspath(sysroot)).rstrip("/") or "/"
    target = os.path.abspath(os.fspath(dest))
    if not os.path.isdir(os.path.join(source, "sys", "devices")):
        raise FileNotFoundError(f"{source} has no sys/devices: not a machine or a sysfs tree")
    if os.path.exists(target) and (not os.path.isdir(target) or os.listdir(target)):
        raise FileExistsError(f"{target} is not an empty directory")
    real_src = os.path.realpath(source)
    real_dst = os.path.realpath(target)
    base = real_src.rstrip("/")
    if real_dst == real_src or real_dst.startswith((base + "/sys/", base + "/proc/")):
        raise ValueError(f"{target} lies inside the tree being recorded")
    start = time.monotonic()
    os.makedirs(target, exist_ok=True)
    r = _Recorder(source, target)
    try:
        for root in SYS_ROOTS:
            r.copy_tree(root)
        for root in r.linked_trees():
            if not r._inside_roots(root):
                r.copy_tree(root)
                if posixpath.basename(root).startswith("ndbus"):
                    r.copy_shallow(posixpath.dirname(root))
        r.copy_cpus()
        r.copy_char_links()
        r.copy_proc()
        r.finish_modes()
        if r.rec.simulated:
            shutil.copytree(os.path.join(source, MARKER_DIR), os.path.join(target, MARKER_DIR), symlinks=True)
        r.rec.seconds = time.monotonic() - start
        meta = {
            "format": RECORD_FORMAT,
            "tool": "pmemctl sim record",
            "kernel": _kernel_release(source, r.rec.simulated),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "read_only": not r.rec.simulated,
            "skip_rules": {
                "dirs": sorted(SKIP_DIRS),
                "files": sorted(SKIP_FILES),
                "module_dirs": sorted(SKIP_IN_MODULE),
                "block_device_dirs": sorted(SKIP_IN_BLOCKDEV),
                "max_file_bytes": MAX_FILE_BYTES,
            },
            **r.rec.to_dict(),
        }
        with open(os.path.join(target, RECORD_FILE), "w", encoding="utf-8") as fh:
            json.dump(meta, fh, indent=1)
            fh.write("\n")
    except BaseException:
        remove_recording(target)
        raise
    return r.rec


def remove_recording(path: str | os.PathLike[str]) -> None:
    """Remove a recorded tree, including its read-only directories."""
    path = os.fspath(path)
    if not os.path.lexists(path):
        return
    for root, dirs, _files in os.walk(path):
        for d in dirs:
            p = os.path.join(root, d)
            if not os.path.islink(p):
                try:
                    os.chmod(p, 0o755)
                except OSError:
                    pass
    try:
        os.chmod(path, 0o755)
    except OSError:
        pass
    shutil.rmtree(path, ignore_errors=True)


__all__ = ["RECORD_FILE", "Recording", "is_recording", "load_metadata", "record", "remove_recording"]
