"""The one door to the kernel: every file access under the sysroot goes here.

Paths given to the door are *kernel paths* (``/sys/devices/system/memory``,
``/proc/iomem``); the door maps them under its sysroot.  Keeping kernel paths
everywhere else means plans print the exact ``echo VALUE > PATH`` a user would
type on the machine, whatever the sysroot.

Semantics that matter (kernel-abi.md §1, §4.3, §8):

* Reads strip everything from the first NUL, then one trailing newline.
* Writes open ``O_WRONLY`` *without* ``O_CREAT`` and write the value in one
  ``write()``: a missing attribute fails with ENOENT on a fake tree exactly as
  on sysfs.  kernfs refuses to open an attribute without a write bit for
  writing even for root (fs/kernfs/file.c kernfs_fop_open → EACCES); on a plain
  directory tree root would succeed, so the door checks the mode bits itself.
* A write never follows a symlink out of the sysroot: its directory is
  checked before the attribute is opened.  Reads and writes never follow a
  link on the last component (attributes are regular files; ``driver`` and
  device links are read with readlink), never block on a FIFO, and refuse
  anything but a regular file (:class:`~pmemctl.errors.NotAnAttribute`).
* Errors become typed exceptions from :mod:`pmemctl.errors` carrying errno,
  path and value.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shlex
import stat
from itertools import repeat
from typing import Callable, ContextManager, Optional, Sequence, TypeVar

from pmemctl.errors import (
    BadAttribute,
    KernelError,
    NotAnAttribute,
    NotASysfsTree,
    OutsideSysroot,
    Unsupported,
    file_kind,
    kernel_error,
    os_error_text,
)
from pmemctl.immutable import Record
from pmemctl.sysfs.beneath import opener

T = TypeVar("T")

_WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
_READ_BITS = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
#: attributes are regular files: never follow a link on the last component,
#: never block on a FIFO (the regular-file check then refuses it)
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
_WRITE_FLAGS = os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
#: one read of an attribute (sysfs attributes are at most a page)
_READ_SIZE = 65536


def _require_regular(fd: int, kpath: str) -> None:
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        raise NotAnAttribute(kpath, file_kind(mode))


#: reopening a checked O_PATH fd through /proc/self/fd (a magic link: O_NOFOLLOW would refuse it)
_REOPEN_WRITE_FLAGS = os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY


def clean_value(raw: bytes) -> str:
    """Decode an attribute: cut at the first NUL, drop one trailing newline."""
    nul = raw.find(b"\0")
    if nul >= 0:
        raw = raw[:nul]
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    return raw.decode("utf-8", "replace")


def shown_name(text: str, limit: int = 64) -> str:
    """Text another user controls (a process name: prctl(PR_SET_NAME) takes
    any bytes), made safe to print: control characters, escape sequences
    included, become ``?``; at most ``limit`` characters."""
    return "".join(c if c.isprintable() else "?" for c in text[:limit]) or "?"


#: The directory that marks a tree as a simulated machine (pmemctl.sim writes
#: it; the CLI opens such trees with the simulated kernel).
SIM_MARKER_DIR = ".pmemctl-sim"


def is_simulated_tree(root: str | os.PathLike[str]) -> bool:
    """True for a tree built by ``pmemctl sim create`` (it carries the marker)."""
    return os.path.isdir(os.path.join(os.fspath(root), SIM_MARKER_DIR))


class ToolResult(Record):
    """What one run of an external tool (ndctl) said."""

    argv: tuple[str, ...]
    status: int
    stdout: str
    stderr: str

    __slots__ = ("argv", "status", "stdout", "stderr")
    _fields = __slots__

    def __init__(self, argv: tuple[str, ...], status: int, stdout: str, stderr: str) -> None:
        object.__setattr__(self, "argv", argv)
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "stdout", stdout)
        object.__setattr__(self, "stderr", stderr)


class ToolUnavailable(Unsupported):
    """The door could not run a tool on its machine (the message says why)."""


class SysfsRoot:
    """Reads and writes kernel attributes under one sysroot (default ``/``).

    Besides attributes, a door offers three capabilities that ops uses and
    the simulated kernel answers in its own way: :meth:`processes_using`,
    :meth:`wipe_info_block` and :meth:`run_tool`.  ``machine`` says what the
    door opens: ``host`` (the running machine), ``simulated`` (a tree the
    simulated kernel reacts to) or ``tree`` (a captured, inert tree).
    """

    machine = "tree"

    def __init__(self, root: str | os.PathLike[str] = "/") -> None:
        r = os.path.abspath(os.fspath(root))
        self.root = r.rstrip("/") or "/"
        # Prefix joined in front of kernel paths; "" for the real root.
        self._prefix = "" if self.root == "/" else self.root
        self._real_root = os.path.realpath(self.root)
        #: Kernel paths an optional read was refused (EACCES/EPERM): root-only
        #: attributes (mode 0400) read as None by an ordinary user.
        self.denied: set[str] = set()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.root!r})"

    @property
    def is_host(self) -> bool:
        """True when this door reads the running machine itself."""
        return self.root == "/"

    @property
    def kind(self) -> str:
        """``host``, ``simulated`` or ``tree`` (see the class docstring)."""
        return "host" if self.is_host else self.machine

    # -- path mapping ------------------------------------------------------

    def host_path(self, kpath: str) -> str:
        """Map a kernel path (``/sys/...``) to the file under the sysroot."""
        if not kpath.startswith("/"):
            raise ValueError(f"kernel paths are absolute: {kpath!r}")
        return self._prefix + kpath

    def kernel_path(self, host: str) -> str:
        """Inverse of :meth:`host_path` for a path already inside the sysroot."""
        real = host
        if self._real_root == "/":
            return real
        if real == self._real_root:
            return "/"
        if not real.startswith(self._real_root + "/"):
            raise OutsideSysroot(f"{host} is outside the sysroot {self.root}")
        return real[len(self._real_root):]

    def _confined_realpath(self, kpath: str) -> str:
        real = os.path.realpath(self.host_path(kpath))
        if self._real_root != "/" and real != self._real_root and not real.startswith(self._real_root + "/"):
            raise OutsideSysroot(
                f"{kpath} resolves to {real}, outside the sysroot {self.root}",
                hint="the tree has a symlink that escapes it; refusing to follow it",
            )
        return real

    # -- reads ---------------------------------------------------------------

    def read(self, kpath: str) -> str:
        """Read one attribute (NUL- and newline-stripped); typed errors."""
        fd = self._open_read(kpath, checked=False)
        try:
            raw = self._read_attr(fd, kpath)
        except OSError as err:
            raise kernel_error(kpath, err.errno or errno.EIO, op="read") from err
        finally:
            os.close(fd)
        return clean_value(raw)

    @staticmethod
    def _read_attr(fd: int, kpath: str) -> bytes:
        """One read of an attribute opened unchecked.  Only what a regular
        attribute never gives (nothing at all, a full buffer, an error) is
        checked with an fstat: a FIFO or a device planted in a tree is
        refused, and an ordinary attribute costs no extra system call (as in
        the block walks' fast path)."""
        try:
            raw = os.read(fd, _READ_SIZE)
        except OSError:
            _require_regular(fd, kpath)
            raise
        if not raw or len(raw) == _READ_SIZE:
            _require_regular(fd, kpath)
        return raw

    def read_optional(self, kpath: str) -> Optional[str]:
        """Like :meth:`read`, but None when the attribute does not exist.

        Older kernels lack attributes (e.g. dax ``align`` before 5.10, memory
        tiers before 6.1); that is not an error.  Also None on ENXIO, which
        several nd attributes return while their device is disabled
        (namespace ``resource`` with size 0, kernel-abi.md §7.7).  And None,
        noted in :attr:`denied`, for an attribute only root may read.
        """
        fd = self._open_read_optional(kpath, unknown_if_denied=True, checked=False)
        if fd is None:
            return None
        try:
            raw = self._read_attr(fd, kpath)
        except OSError as err:
            if err.errno in (errno.ENXIO, errno.ENODEV):
                return None
            raise kernel_error(kpath, err.errno or errno.EIO, op="read") from err
        finally:
            os.close(fd)
        return clean_value(raw)

    def _open_read_optional(self, kpath: str, *, unknown_if_denied: bool = False,
                            checked: bool = True) -> Optional[int]:
        """:meth:`_open_read`, but None for an absent file (and, with
        ``unknown_if_denied``, for one only root may read: noted in :attr:`denied`)."""
        try:
            return self._open_read(kpath, checked=checked)
        except NotAnAttribute:
            raise
        except KernelError as err:
            if err.errno in (errno.ENOENT, errno.ENOTDIR):
                return None
            if unknown_if_denied and err.errno in (errno.EACCES, errno.EPERM):  # root only (mode 0400)
                self.denied.add(kpath)
                return None
            raise

    def _open_read(self, kpath: str, *, checked: bool = True) -> int:
        """Open an attribute for reading: no link followed on its last
        component, never blocking (typed errors); a regular file (checked
        now, or with ``checked=False`` by :meth:`_read_attr`)."""
        try:
            fd = os.open(self._prefix + kpath, _READ_FLAGS)
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise NotAnAttribute(kpath, "a symbolic link") from err
            raise kernel_error(kpath, err.errno or errno.EIO, op="read") from err
        if checked:
            try:
                _require_regular(fd, kpath)
            except BaseException:
                os.close(fd)
                raise
        return fd

    def read_many(self, relpaths: list[str], base: str) -> list[Optional[str]]:
        """Read many optional attributes below directory ``base`` (block walks).

        Same semantics as :meth:`read_optional`.  A 6 TiB machine has 49,152
        memory blocks and three attributes each, so each file is opened
        relative to one directory fd (``openat``: two path components to walk
        instead of eight), in this process: a forked child reading half of a
        long list cost cpu and gained nothing measurable (issue 14).
        """
        try:
            dir_fd = os.open(self._prefix + base, os.O_RDONLY | os.O_DIRECTORY)
        except (FileNotFoundError, NotADirectoryError):
            return [None] * len(relpaths)
        except OSError as err:
            raise kernel_error(base, err.errno or errno.EIO, op="read") from err
        try:
            return _read_relative(dir_fd, base, relpaths)
        finally:
            os.close(dir_fd)

    def read_table(self, base: str, dirs: Sequence[str], attrs: Sequence[str]) -> list[list[Optional[str]]]:
        """Attributes ``attrs`` of every directory ``dirs`` below ``base``, one
        column per attribute: ``[[d0/a0, d1/a0, ...], [d0/a1, d1/a1, ...]]``.

        Same values and errors as :meth:`read_many` (None for an absent file).
        The bulk read of a block walk (``blocks`` on 196,608 blocks reads
        three attributes of each): one ``openat`` on one directory fd, one
        read and one close per file, no forked helper (it cost cpu and
        gained nothing measurable, issue 14), and each distinct text checked
        and decoded once: a machine has a handful of distinct values across
        all its blocks, so a repeated one is a dictionary hit.
        """
        columns: list[list[Optional[str]]] = [[] for _ in attrs]
        try:
            dir_fd = os.open(self._prefix + base, os.O_RDONLY | os.O_DIRECTORY)
        except (FileNotFoundError, NotADirectoryError):
            return [[None] * len(dirs) for _ in attrs]
        except OSError as err:
            raise kernel_error(base, err.errno or errno.EIO, op="read") from err
        try:
            _read_columns(dir_fd, base, dirs, attrs, columns)
        finally:
            os.close(dir_fd)
        return columns

    def read_parsed(
        self, kpath: str, parser: Callable[[str], T], expected: str
    ) -> Optional[T]:
        """Read an optional attribute through ``parser``; garbage → BadAttribute."""
        text = self.read_optional(kpath)
        if text is None:
            return None
        try:
            return parser(text)
        except (ValueError, KeyError) as err:
            raise BadAttribute(kpath, text, expected) from err

    # -- directory and link queries -----------------------------------------

    def exists(self, kpath: str) -> bool:
        return os.path.lexists(self._prefix + kpath)

    def is_dir(self, kpath: str) -> bool:
        return os.path.isdir(self._prefix + kpath)

    def subdir_count(self, kpath: str) -> Optional[int]:
        """How many subdirectories a directory has, from its link count and
        without listing it: kernfs (sysfs) and tmpfs count 2 + subdirectories
        (fs/kernfs/inode.c kernfs_refresh_inode).  None when it is absent or
        its file system does not count them (fewer than 2 links, as btrfs)."""
        try:
            links = os.stat(self._prefix + kpath).st_nlink
        except OSError:
            return None
        return links - 2 if links >= 2 else None

    def listdir(self, kpath: str) -> list[str]:
        """Entries of a directory; [] when it does not exist."""
        try:
            return os.listdir(self._prefix + kpath)
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as err:
            raise kernel_error(kpath, err.errno or errno.EIO, op="list") from err

    def scandir_links(self, kpath: str) -> list[tuple[str, bool]]:
        """(name, is_symlink) for each entry; [] when the directory is absent."""
        try:
            with os.scandir(self._prefix + kpath) as it:
                return [(e.name, e.is_symlink()) for e in it]
        except (FileNotFoundError, NotADirectoryError):
            return []

    def readlink(self, kpath: str) -> Optional[str]:
        """Raw target of a symlink, or None when ``kpath`` is not a link."""
        try:
            return os.readlink(self._prefix + kpath)
        except (FileNotFoundError, OSError):
            return None

    def link_basename(self, kpath: str) -> Optional[str]:
        """Basename of a symlink's target (``driver`` → ``kmem``), or None."""
        target = self.readlink(kpath)
        if target is None:
            return None
        return target.rstrip("/").rsplit("/", 1)[-1]

    def resolve(self, kpath: str) -> str:
        """Kernel path of ``kpath`` with every symlink followed, confined."""
        return self.kernel_path(self._confined_realpath(kpath))

    # -- writes --------------------------------------------------------------

    def write(self, kpath: str, value: str) -> None:
        """Write ``value`` to one attribute in a single ``write()`` call.

        Never creates a file, never follows a link out of the sysroot, and
        refuses attributes without a write bit (EACCES), as kernfs does.
        """
        fd, _real = self.open_for_write(kpath, value)
        try:
            self._write_fd(fd, kpath, value.encode(), value)
        finally:
            os.close(fd)

    def burst(self) -> ContextManager[None]:
        """A run of writes (one plan applied).  Nothing for a real kernel; the
        simulated one writes the files it derives from block states (meminfo,
        zoneinfo) once at the end instead of after every block."""
        return contextlib.nullcontext()

    def open_for_write(self, kpath: str, value: str, *, truncate: bool = True) -> tuple[int, str]:
        """Open an attribute for writing after the checks every write makes.

        Opens ``O_WRONLY`` without ``O_CREAT`` (a missing attribute is ENOENT),
        ``O_NOFOLLOW`` and ``O_NONBLOCK``.  Under another sysroot the
        attribute's directory is opened first (``O_PATH``) and its real path
        (read back from /proc/self/fd) must lie inside the sysroot, and the
        entry must be a regular file, before the attribute itself is opened.
        The opened file must be a regular file with a write bit.  Only then, on a
        directory tree, is it truncated: a shorter value must not leave the
        tail of the old one behind (sysfs itself ignores truncation, and the
        real root is opened exactly O_WRONLY, as ndctl/daxctl do).
        Returns (fd, real host path).
        """
        fd, real = self._open_confined_write(kpath, value)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise NotAnAttribute(kpath, file_kind(st.st_mode), op="write", value=value)
            if not st.st_mode & _WRITE_BITS:
                raise kernel_error(kpath, errno.EACCES, value=value)
            if truncate and not self.is_host:
                os.ftruncate(fd, 0)
        except BaseException:
            os.close(fd)
            raise
        return fd, real

    def _open_confined_write(self, kpath: str, value: str) -> tuple[int, str]:
        """Open ``kpath`` O_WRONLY (no O_CREAT, no link followed on the last
        component).  Under another sysroot the attribute is first opened
        ``O_PATH`` (which opens nothing for I/O: no device or FIFO side
        effect), its real path checked and it must be a regular file with a
        write bit; only then is that very inode reopened for writing."""
        if self._real_root == "/":
            return self._open_write_at(kpath, self._prefix + kpath, value, None), self._prefix + kpath
        pfd, real = self._confined_path_fd(kpath, value)
        try:
            # reopening through /proc/self/fd reaches the inode checked above,
            # whatever happens to the path meanwhile (so no O_NOFOLLOW here)
            fd = self._open_write_at(kpath, f"/proc/self/fd/{pfd}", value, None, flags=_REOPEN_WRITE_FLAGS)
        finally:
            os.close(pfd)
        return fd, real

    #: an ``O_PATH`` fd of the sysroot held for :meth:`_beneath_path_fd` (None: not
    #: opened yet or not usable); set per door on its first confined write
    _root_fd: Optional[int] = None
    _root_fd_tried = False

    def _sysroot_fd(self) -> Optional[int]:
        """The sysroot's ``O_PATH`` directory fd, opened once and closed with
        the door; None when its real path is not :attr:`_real_root` (the
        tree moved since the door was made) or it cannot be opened."""
        if self._root_fd_tried:
            return self._root_fd
        self._root_fd_tried = True
        if opener() is None:
            return None
        try:
            fd = os.open(self.root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            same = os.readlink(f"/proc/self/fd/{fd}") == self._real_root
        except OSError:
            same = False
        if not same:
            os.close(fd)
            return None
        import weakref  # here, not at the top: only a write needs it (start-up, issue 14)

        weakref.finalize(self, os.close, fd)
        self._root_fd = fd
        return fd

    def _beneath_path_fd(self, kpath: str) -> Optional[tuple[int, str]]:
        """The fast way to :meth:`_confined_path_fd`'s fd (issue 14): one
        openat2(2) below the held sysroot fd with RESOLVE_BENEATH and
        RESOLVE_NO_SYMLINKS (:mod:`pmemctl.sysfs.beneath`), so the file lies
        inside the sysroot exactly at ``kpath`` and no link was followed; its
        real path is the sysroot's joined with ``kpath``.  None, for the
        ordinary way to decide and name the error, on anything else: no
        openat2, a link on the way (one inside the tree is allowed there), a
        path not in normal form (``.``, ``..``, ``//``), a missing file."""
        if self._real_root == "/" or "//" in kpath or "/." in kpath or "\0" in kpath or kpath.endswith("/"):
            return None
        root_fd = self._sysroot_fd()
        open_beneath = opener()
        if root_fd is None or open_beneath is None:
            return None
        pfd = open_beneath(root_fd, kpath[1:])
        return None if pfd is None else (pfd, self._real_root + kpath)

    def _confined_path_fd(self, kpath: str, value: str) -> tuple[int, str]:
        """An ``O_PATH`` fd of the attribute under this sysroot and its real
        host path, after the checks a write makes: inside the sysroot, a
        regular file (not a link, FIFO or device), with a write bit."""
        fast = self._beneath_path_fd(kpath)
        if fast is not None:
            pfd, real = fast
        else:
            try:
                pfd = os.open(self._prefix + kpath, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
            except OSError as err:
                raise kernel_error(kpath, err.errno or errno.EIO, value=value) from err
        try:
            if fast is None:
                real = self._fd_path(pfd, kpath)
            mode = os.fstat(pfd).st_mode
            if stat.S_ISDIR(mode):
                raise kernel_error(kpath, errno.EISDIR, value=value)
            if not stat.S_ISREG(mode):
                raise NotAnAttribute(kpath, file_kind(mode), op="write", value=value)
            if not mode & _WRITE_BITS:
                # kernfs refuses to open it for writing, even for root
                raise kernel_error(kpath, errno.EACCES, value=value)
        except BaseException:
            os.close(pfd)
            raise
        return pfd, real

    @staticmethod
    def _open_write_at(kpath: str, path: str, value: str, dir_fd: Optional[int], flags: int = _WRITE_FLAGS) -> int:
        try:
            return os.open(path, flags, dir_fd=dir_fd)
        except IsADirectoryError as err:
            raise kernel_error(kpath, errno.EISDIR, value=value) from err
        except PermissionError:
            # root is refused only by the kernel itself (kernfs, EACCES):
            # fall through to the same typed error
            raise kernel_error(kpath, errno.EACCES, value=value) from None
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise NotAnAttribute(kpath, "a symbolic link", op="write", value=value) from err
            raise kernel_error(kpath, err.errno or errno.EIO, value=value) from err

    def _fd_path(self, fd: int, kpath: str) -> str:
        if self._real_root == "/":
            return self._prefix + kpath
        try:
            real = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            real = os.path.realpath(self._prefix + kpath)
        if real != self._real_root and not real.startswith(self._real_root + "/"):
            raise OutsideSysroot(
                f"{kpath} resolves to {real}, outside the sysroot {self.root}",
                hint="the tree has a symlink that escapes it; refusing to follow it",
            )
        return real

    def check_writable(self, kpath: str, value: str) -> str:
        """The checks of :meth:`open_for_write`, opening nothing for writing;
        returns the kernel path the write really lands on (links followed)."""
        if self.is_host:
            fd, _real = self.open_for_write(kpath, value, truncate=False)
            os.close(fd)
            return self.resolve(kpath)
        fast = self._beneath_path_fd(kpath)
        if fast is not None:  # the block walks' path (issue 14): nothing but the checks themselves
            try:
                mode = os.fstat(fast[0]).st_mode
            finally:
                os.close(fast[0])
            if stat.S_ISREG(mode) and mode & _WRITE_BITS:
                return kpath  # inside the sysroot at kpath itself, no link on the way
        pfd, real = self._confined_path_fd(kpath, value)  # anything else: these checks name it
        os.close(pfd)
        return self.kernel_path(real)

    def _write_fd(self, fd: int, kpath: str, data: bytes, value: str) -> None:
        try:
            written = os.write(fd, data)
        except OSError as err:
            raise kernel_error(kpath, err.errno or errno.EIO, value=value) from err
        if written != len(data):  # sysfs stores take one buffer; a short write is a failure
            raise kernel_error(kpath, errno.EIO, value=value)

    # -- processes ----------------------------------------------------------

    def processes_using(self, devnode: str) -> list[tuple[int, str]]:
        """(pid, name) of processes that have ``devnode`` open or mapped.

        Only meaningful on the running machine: a tree under another sysroot
        has no processes (the simulator overrides this with declared ones).
        """
        if not self.is_host:
            return []
        users: list[tuple[int, str]] = []
        rdev = _device_number(devnode)
        me = os.getpid()
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == me:
                continue
            try:
                if _proc_uses(int(entry), devnode, rdev):
                    users.append((int(entry), _process_name(int(entry))))
            except (PermissionError, FileNotFoundError, ProcessLookupError):
                continue  # gone meanwhile, or a kernel thread without fds
        return users

    # -- whole files and device contents (namespace safety, kernel-abi.md §5.3) --

    def read_all(self, kpath: str) -> Optional[str]:
        """A whole (possibly long) text file such as /proc/1/mountinfo, or
        None when it does not exist.  :meth:`read` stops at 64 KiB, which a
        machine with many mounts exceeds."""
        fd = self._open_read_optional(kpath)
        if fd is None:
            return None
        try:
            with os.fdopen(fd, "rb") as fh:
                return fh.read().decode("utf-8", "replace")
        except OSError as err:
            raise kernel_error(kpath, err.errno or errno.EIO, op="read") from err

    def read_bytes(self, kpath: str, limit: int = 16 << 20) -> Optional[bytes]:
        """A whole binary file (``/proc/config.gz``), at most ``limit`` bytes;
        None when it does not exist or only root may read it (noted in
        :attr:`denied`).  Same confinement as :meth:`read`."""
        fd = self._open_read_optional(kpath, unknown_if_denied=True)
        if fd is None:
            return None
        try:
            with os.fdopen(fd, "rb") as fh:
                return fh.read(limit)
        except OSError as err:
            raise kernel_error(kpath, err.errno or errno.EIO, op="read") from err

    def files_in(self, kpath: str) -> list[str]:
        """Names of the regular files (and links to them) in a directory,
        sorted; [] when it does not exist (udev rules directories, conf.d)."""
        out = []
        for name in self.listdir(kpath):
            host = self.host_path(f"{kpath.rstrip('/')}/{name}")
            if os.path.isfile(host):
                out.append(name)
        return sorted(out)

    def wipe_info_block(self, devnode: str, nbytes: int = 8192) -> Optional[bool]:
        """Zero the first ``nbytes`` of block device ``devnode`` (the old
        pfn/dax/btt info block), as libndctl does on destroy/reconfigure:
        open O_RDWR|O_EXCL|O_DIRECT, read, and write zeros only if not zero.

        True: zeros were written; False: already zero; None: a tree that has
        no such device node (a captured or simulated tree keeps no device
        contents).  O_EXCL fails with EBUSY while anything holds the device.

        Confined like every write: ``devnode`` must be a ``/dev`` path, is
        opened without following a link on its last component and must lie
        inside the sysroot.  On the running machine it must be a block
        device (checked before and after the open); on a tree, a regular
        file.  Anything else is refused before it is opened.
        """
        import mmap  # stdlib modules only the rare paths need load there (start-up, issue 14)

        fd = self._open_info_block(devnode)
        if fd is None:
            return None
        try:
            buf = mmap.mmap(-1, nbytes)  # page-aligned, as O_DIRECT needs
            try:
                got = os.preadv(fd, [buf], 0)
                if got >= nbytes and not any(buf[:nbytes]):
                    return False
                zero = mmap.mmap(-1, nbytes)
                try:
                    if os.pwritev(fd, [zero], 0) != nbytes:
                        raise kernel_error(devnode, errno.EIO, value=f"{nbytes} zero bytes")
                    os.fsync(fd)
                finally:
                    zero.close()
                return True
            finally:
                buf.close()
        except OSError as err:
            raise kernel_error(devnode, err.errno or errno.EIO, value=f"{nbytes} zero bytes") from err
        finally:
            os.close(fd)

    def _open_info_block(self, devnode: str) -> Optional[int]:
        """The checked fd :meth:`wipe_info_block` writes to (None: a tree without it)."""
        if not devnode.startswith("/dev/") or "/../" in devnode + "/":
            raise OutsideSysroot(f"{devnode} is not a device node under /dev", hint="refusing to wipe it")
        self._confined_realpath(os.path.dirname(devnode))
        host = self.host_path(devnode)
        try:
            before = os.lstat(host)
        except (FileNotFoundError, NotADirectoryError) as err:
            if self.is_host:
                raise kernel_error(devnode, errno.ENOENT, op="open") from err
            return None
        wanted = stat.S_ISBLK if self.is_host else stat.S_ISREG
        if stat.S_ISLNK(before.st_mode):
            self._confined_realpath(devnode)  # names an escape as such
        if not wanted(before.st_mode):
            raise kernel_error(devnode, errno.ENOTBLK if self.is_host else errno.EINVAL, op="wipe")
        flags = os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        if self.is_host:
            flags |= os.O_EXCL | getattr(os, "O_DIRECT", 0)
        try:
            fd = os.open(host, flags)
        except OSError as err:
            raise kernel_error(devnode, err.errno or errno.EIO, op="open") from err
        try:
            after = os.fstat(fd)
            if not wanted(after.st_mode) or (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino):
                raise kernel_error(devnode, errno.ENOTBLK if self.is_host else errno.EINVAL, op="wipe")
            self._fd_path(fd, devnode)
        except BaseException:
            os.close(fd)
            raise
        return fd

    # -- external tools (the ndctl backend) -----------------------------------

    def tool_unavailable_reason(self, tool: str) -> Optional[str]:
        """Why :meth:`run_tool` cannot run ``tool`` on this door's machine (None: it can)."""
        import shutil

        if not self.is_host:
            return f"{tool} only works on the running machine (sysroot /), not on {self.root}"
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
        return None

    def run_tool(self, argv: Sequence[str], *, timeout: float) -> ToolResult:
        """Run ``argv`` (an argument list, never a shell) against this door's
        machine: a subprocess on the running machine, with ``LC_ALL=C``.
        ToolUnavailable where it cannot run; a timeout is ETIMEDOUT."""
        import shutil
        import subprocess

        tool = argv[0]
        reason = self.tool_unavailable_reason(tool)
        if reason is not None:
            raise ToolUnavailable(reason)
        path = shutil.which(tool) or tool
        env = dict(os.environ, LC_ALL="C")
        try:
            proc = subprocess.run(
                [path, *argv[1:]], capture_output=True, text=True, timeout=timeout, env=env, check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as err:
            raise kernel_error(shlex.join(argv), errno.ETIMEDOUT, op="run") from err
        except OSError as err:
            raise ToolUnavailable(f"cannot run {path}: {os_error_text(err)}") from err
        return ToolResult(tuple(argv), proc.returncode, proc.stdout, proc.stderr)

    # -- sanity --------------------------------------------------------------

    def require_sysfs(self) -> None:
        """Raise NotASysfsTree unless the root looks like a machine's /sys."""
        if not os.path.isdir(self.host_path("/sys/devices")):
            raise NotASysfsTree(self.root, self.host_path("/sys/devices"))


def _read_relative(dir_fd: int, base: str, relpaths: list[str]) -> list[Optional[str]]:
    """The block-walk fast path: one openat + read + close per file.  Opened
    with :data:`_READ_FLAGS`; the regular-file check (an fstat) is made only
    when the read looks odd (empty, a NUL, an error), which a sysfs
    attribute never does, so the common path costs no extra syscall."""
    out: list[Optional[str]] = []
    append = out.append
    o_open, o_read, o_close = os.open, os.read, os.close
    flags = _READ_FLAGS
    for rel in relpaths:
        try:
            fd = o_open(rel, flags, dir_fd=dir_fd)
        except (FileNotFoundError, NotADirectoryError):
            append(None)
            continue
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise NotAnAttribute(f"{base}/{rel}", "a symbolic link") from err
            raise kernel_error(f"{base}/{rel}", err.errno or errno.EIO, op="read") from err
        try:
            raw = o_read(fd, 4096)
        except OSError as err:
            _require_regular(fd, f"{base}/{rel}")
            if err.errno in (errno.ENXIO, errno.ENODEV):
                append(None)
                continue
            raise kernel_error(f"{base}/{rel}", err.errno or errno.EIO, op="read") from err
        else:
            if not raw or b"\0" in raw:
                _require_regular(fd, f"{base}/{rel}")
        finally:
            o_close(fd)
        nul = raw.find(b"\0")
        if nul >= 0:
            raw = raw[:nul]
        if raw[-1:] == b"\n":
            raw = raw[:-1]
        append(raw.decode("utf-8", "replace"))
    return out


#: files a bulk read keeps open before giving them back with one close_range(2)
_CLOSE_BATCH = 64


def _close_fds(fds: list[int]) -> None:
    """Close ``fds`` (all open, ours): one close_range(2) (``os.closerange``)
    per run of consecutive numbers, which then holds ours alone.  Usually one
    run; a descriptor the process inherited or opened elsewhere (a shell's fd
    10, say) splits the batch in two."""
    if not fds:
        return
    if max(fds) - min(fds) + 1 == len(fds):
        os.closerange(min(fds), max(fds) + 1)
        return
    ordered = sorted(fds)
    start = prev = ordered[0]
    for fd in ordered[1:]:
        if fd != prev + 1:
            os.closerange(start, prev + 1)
            start = fd
        prev = fd
    os.closerange(start, prev + 1)


def _open_error(base: str, rel: str, err: OSError) -> KernelError:
    """The typed error for an attribute a bulk read could not open."""
    if err.errno == errno.ELOOP:
        return NotAnAttribute(f"{base}/{rel}", "a symbolic link")
    return kernel_error(f"{base}/{rel}", err.errno or errno.EIO, op="read")


def _read_columns(dir_fd: int, base: str, dirs: Sequence[str], attrs: Sequence[str],
                  columns: list[list[Optional[str]]]) -> None:
    """:meth:`SysfsRoot.read_table`'s loop, over the paths of every block's
    attributes in a row (the columns are then cut out of the row in C).

    The files are taken :data:`_CLOSE_BATCH` at a time: opened, then read
    with one ``read`` each and looked up in ``seen`` in C (``map``), then
    closed with one close_range (:func:`_close_fds`); the Python loop runs
    only for the opens (issue 14: 3 files a block).  A text seen before
    (never empty, never holding a NUL: those are checked with an fstat every
    time, as in :func:`_read_relative`) is not decoded again; a batch with an
    absent file or a read error is read file by file (:func:`_read_one`)."""
    seen: dict[bytes, str] = {}
    suffixes = ["/" + attr for attr in attrs]
    rels = [name + suffix for name in dirs for suffix in suffixes]
    row: list[Optional[str]] = []
    lo = 0
    while lo < len(rels):
        fds = _open_batch(dir_fd, base, rels, lo, min(lo + _CLOSE_BATCH, len(rels)))
        try:
            row += _read_batch(fds, base, rels, lo, seen)
        finally:
            _close_fds([fd for fd in fds if fd >= 0] if _NO_FILE in fds else fds)
        lo += len(fds)
    width = len(attrs)
    for k, column in enumerate(columns):
        column.extend(row[k::width])


#: in a batch of descriptors: the file does not exist
_NO_FILE = -1


def _open_batch(dir_fd: int, base: str, rels: list[str], lo: int, hi: int) -> list[int]:
    """Open ``rels[lo:hi]`` below ``dir_fd`` (:data:`_NO_FILE` for an absent
    one); fewer when the process runs out of descriptors (at least one)."""
    fds: list[int] = []
    keep = fds.append
    o_open, flags = os.open, _READ_FLAGS
    for rel in rels[lo:hi]:
        try:
            keep(o_open(rel, flags, dir_fd=dir_fd))
        except (FileNotFoundError, NotADirectoryError):
            keep(_NO_FILE)
        except OSError as err:
            if err.errno in (errno.EMFILE, errno.ENFILE) and any(fd >= 0 for fd in fds):
                break  # out of descriptors: this batch ends here, the next one starts with this file
            _close_fds([fd for fd in fds if fd >= 0])
            raise _open_error(base, rel, err) from err
    return fds


def _read_batch(fds: list[int], base: str, rels: list[str], lo: int, seen: dict[bytes, str]) -> list[Optional[str]]:
    """The texts of the files ``fds`` (``rels[lo:]``): read and looked up in C
    when every file is there and reads, else file by file."""
    if _NO_FILE not in fds:
        try:
            raws = list(map(os.read, fds, repeat(4096)))
        except OSError:
            pass  # read again file by file, which says what failed
        else:
            texts: list[Optional[str]] = list(map(seen.get, raws))
            for k in [k for k, text in enumerate(texts) if text is None]:
                texts[k] = _new_text(fds[k], raws[k], f"{base}/{rels[lo + k]}", seen)
            return texts
    return [None if fd == _NO_FILE else _read_one(fd, f"{base}/{rels[lo + k]}", seen) for k, fd in enumerate(fds)]


def _read_one(fd: int, kpath: str, seen: dict[bytes, str]) -> Optional[str]:
    """One attribute of a bulk read on its own: ``pread`` from the start (a
    batch read may have read it already); None on ENXIO/ENODEV (as
    :meth:`SysfsRoot.read_optional`)."""
    try:
        raw = os.pread(fd, 4096, 0)
    except OSError as err:
        _require_regular(fd, kpath)
        if err.errno in (errno.ENXIO, errno.ENODEV):
            return None
        raise kernel_error(kpath, err.errno or errno.EIO, op="read") from err
    text = seen.get(raw)
    return _new_text(fd, raw, kpath, seen) if text is None else text


def _new_text(fd: int, raw: bytes, kpath: str, seen: dict[bytes, str]) -> str:
    """A text not seen before: decoded and remembered; an empty one or one
    holding a NUL (never from a regular attribute) is checked with an fstat
    and never remembered, so each such file is checked."""
    if not raw or b"\0" in raw:
        _require_regular(fd, kpath)
        return clean_value(raw)
    text = seen[raw] = clean_value(raw)
    return text


def _device_number(devnode: str) -> Optional[int]:
    """st_rdev of a block or character device node, or None."""
    try:
        st = os.stat(devnode)
    except OSError:
        return None
    if stat.S_ISBLK(st.st_mode) or stat.S_ISCHR(st.st_mode):
        return st.st_rdev
    return None


def _process_name(pid: int) -> str:
    """The name of a process found using a device (psutil, as ``ps`` shows
    it; its owner chose it, so it is printed only through :func:`shown_name`).

    psutil is imported only here, when there is a user to name: the search
    itself walks /proc directly, which keeps the common no-user case cheap."""
    import psutil

    try:
        return shown_name(psutil.Process(pid).name())
    except psutil.Error:
        return "?"


def _proc_uses(pid: int, devnode: str, rdev: Optional[int] = None) -> bool:
    """True if /proc/PID has ``devnode`` among its fds or memory mappings.

    psutil's open_files() lists regular files only, so a character device such
    as /dev/dax0.0 (or a block device such as /dev/pmem0) is looked for in
    /proc/PID/fd and /proc/PID/maps directly: by path, and, when ``rdev`` is
    given, by device number (a process in another mount namespace, or one
    that opened a /dev/disk/by-* link, shows another path for the same device).
    """
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(f"{fd_dir}/{fd}")
            if target == devnode:
                return True
            # sockets, pipes and anon inodes ("socket:[123]") are no device
            if rdev is not None and target.startswith("/"):
                st = os.stat(f"{fd_dir}/{fd}")
                if (stat.S_ISBLK(st.st_mode) or stat.S_ISCHR(st.st_mode)) and st.st_rdev == rdev:
                    return True
        except OSError:
            continue
    with open(f"/proc/{pid}/maps", "rb") as fh:
        needle = devnode.encode()
        return any(line.rstrip().endswith(needle) for line in fh)
