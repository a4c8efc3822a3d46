"""Serve a simulated tree's ``sys/`` over FUSE so the REAL ndctl/daxctl drive it.

A materialised tree (``pmemctl.sim.build.materialise``) is a plain directory;
the real tools can read it once it is bound over ``/sys`` (see
tests/agreement/realtools.py), but a write to a plain file changes nothing
else.  Here a FUSE filesystem serves ``TREE/sys`` and hands every write to an
existing attribute to a :class:`pmemctl.sim.kernel.SimulatedKernel` for the
tree, which reacts the way the kernel does (creating and removing files and
links) and whose errno goes back to the writer.

What the FUSE layer does (kernel-abi.md §4.3, §8):

* reads, ``readdir``, ``readlink`` and ``getattr`` pass through to the tree,
  with the tree's modes (0444, 0644, 0200, 0400) and symlinks;
* opening an attribute for writing without a write bit, or for reading
  without a read bit, is EACCES even for root, as kernfs does;
* a write is one kernel store: the buffer is cut at the first NUL (ndctl and
  daxctl write ``"value\\0"``), one trailing newline is dropped, and the
  offset is ignored (the tools open ``O_WRONLY`` without ``O_TRUNC``);
  ``O_TRUNC`` (shell ``>``) is accepted and does nothing;
* nothing can be created, removed or renamed (EACCES / EPERM);
* no caching anywhere: attribute and entry timeouts are 0 and every file is
  ``direct_io``, because a write makes the kernel change other files.

Entry points: :func:`mount_sim_sys` (context manager mounting ``TREE/sys``
on a directory) and :func:`run_real_tool_on_sim` (run a command in a private
mount namespace with the FUSE mount over ``/sys`` and a ``nodev`` tmpfs
``/dev`` holding the tree's device nodes).

The server runs in its own process (``python -m pmemctl.sim.fuse serve TREE
MOUNTPOINT``), single-threaded: the simulated kernel handles one write at a
time, as the tools issue them.

Binding: ``mfusepy`` (PyPI; libfuse 3 or 2 through ctypes, Debian
``libfuse3-3``/``fuse3``) or, failing that, ``fusepy`` (libfuse 2, Debian
``libfuse2``).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

SERVER_READY_TIMEOUT = 30.0
SETUP_FAILED_RC = 198
SETUP_MARKER = "pmemctl-sim-fuse: setup failed:"

_WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
_READ_BITS = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
SYSFS_ATTR_SIZE = 4096  # what stat() reports for every sysfs attribute


class FuseUnavailable(RuntimeError):
    """No usable FUSE binding (mfusepy/fusepy) or libfuse here."""


# =============================================================================
# the binding
# =============================================================================


@functools.lru_cache(maxsize=None)
def _binding() -> Any:
    """The FUSE module: mfusepy (libfuse 3/2) or fusepy (libfuse 2)."""
    problems = []
    for name in ("mfusepy", "fuse"):
        try:
            module = __import__(name)
        except (ImportError, OSError, EnvironmentError) as err:  # OSError: libfuse not found
            problems.append(f"{name}: {err}")
            continue
        if hasattr(module, "FUSE") and hasattr(module, "Operations"):
            return module
        problems.append(f"{name}: not a fusepy-style binding")
    raise FuseUnavailable("; ".join(problems))


def fuse_skip_reason() -> Optional[str]:
    """Why a FUSE-backed simulation cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "needs root (FUSE mount, mount namespaces, mknod)"
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse does not exist"
    try:
        _binding()
    except FuseUnavailable as err:
        return f"no FUSE binding can load (pip install mfusepy; apt-get install fuse3): {err}"
    return None


# =============================================================================
# the filesystem
# =============================================================================


def _decode_write(data: bytes) -> str:
    """One kernel store: cut at the first NUL, then the door strips one
    trailing newline (SysfsRoot.write -> clean_value)."""
    nul = data.find(b"\0")
    if nul >= 0:
        data = data[:nul]
    return data.decode("utf-8", "surrogateescape")


DEV_TMPFS_SOURCE = "pmemctl-sim-dev"


def _private_dev_mounted(devdir: str) -> bool:
    """True when ``devdir`` is the simulator's own tmpfs (never the host /dev)."""
    target = os.path.realpath(devdir)
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return False
    found = False
    for line in lines:  # the last mount on a path is the visible one
        left, _, right = line.partition(" - ")
        fields, rfields = left.split(), right.split()
        if len(fields) > 4 and _unescape_mountinfo(fields[4]) == target:
            found = len(rfields) > 1 and rfields[0] == "tmpfs" and rfields[1] == DEV_TMPFS_SOURCE
    return found


#: size of the stand-in file for a pmem block device: ndctl reads (and may
#: zero) the 8 KiB info block at offset 0 (zero_info_block)
STAND_IN_DISK_SIZE = 8192


def _stand_in_disk(path: str) -> None:
    """A block device's /dev entry as a zero-filled regular file: ndctl opens
    ``/dev/pmemX`` O_RDWR|O_EXCL (disable_safe) and reads/writes its first
    8 KiB (destroy, reconfigure); a real node could reach a host disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.ftruncate(fd, STAND_IN_DISK_SIZE)
    finally:
        os.close(fd)


class DevSync:
    """Keep a private tmpfs /dev in step with the tree's device-node manifest,
    as devtmpfs/udev do when the kernel adds or removes a device."""

    #: what the kernel looks for at 4 KiB into a namespace (pfn_devs.c,
    #: btt.h): the stand-in disk of a namespace with an info block carries it
    SIGNATURES = {"pfn": b"NVDIMM_PFN_INFO\0", "dax": b"DAX_SIGNATURE\0\0", "btt": b"BTT_ARENA_INFO\0"}

    def __init__(self, tree: Path, devdir: str) -> None:
        self.tree = tree
        self.devdir = devdir
        self.known = {n.path: n for n in self._manifest()}
        self.signed: dict[str, str] = {}  # stand-in path -> namespace kpath
        self._stamp = self._manifest_stamp()

    def _manifest_stamp(self) -> tuple[int, int]:
        try:
            st = os.stat(os.path.join(self.tree, ".pmemctl-sim", "devnodes.json"))
        except OSError:
            return (0, 0)
        return (st.st_mtime_ns, st.st_ino)

    def _manifest(self) -> list[Any]:
        from pmemctl.sim.tree import load_devnodes

        return load_devnodes(self.tree)

    def sync(self) -> None:
        stamp = self._manifest_stamp()
        if stamp == self._stamp:
            return
        if not _private_dev_mounted(self.devdir):
            return  # refuse to touch anything but our own tmpfs
        self._stamp = stamp
        current = {n.path: n for n in self._manifest()}
        for path in self.known:
            if path not in current:
                host = self.devdir + path[len("/dev"):]
                self._check_zeroed(path, host)
                with contextlib.suppress(OSError):
                    st = os.lstat(host)
                    if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) or stat.S_ISREG(st.st_mode):
                        os.unlink(host)
        for path, node in current.items():
            host = self.devdir + path[len("/dev"):]
            if ".." in path.split("/") or os.path.lexists(host):
                continue
            with contextlib.suppress(OSError):
                os.makedirs(os.path.dirname(host), exist_ok=True)
                if node.type == "c":
                    os.mknod(host, stat.S_IFCHR | 0o600, os.makedev(node.major, node.minor))
                else:
                    _stand_in_disk(host)
                    self._sign(path, host)
        self.known = current

    def _raw_namespace_of(self, disk: str) -> Optional[str]:
        from pmemctl.sim.tree import TreeWriter

        target = TreeWriter(self.tree).resolve_link(f"/sys/class/block/{disk}")
        if target is None:
            return None
        parent = os.path.dirname(os.path.dirname(target))
        return parent if os.path.basename(parent).startswith("namespace") else None

    def _sign(self, path: str, host: str) -> None:
        """A raw namespace whose media has an info block: put its signature in
        the stand-in, so ndctl's zero_info_block finds something to zero."""
        from pmemctl.sim.kernel import state as media

        ns = self._raw_namespace_of(os.path.basename(path))
        info = media.info_block(self.tree, ns) if ns else None
        if ns is None or info is None:
            return
        with open(host, "r+b") as fh:
            fh.seek(4096)
            fh.write(self.SIGNATURES.get(str(info.get("kind")), b"\xff"))
        self.signed[path] = ns

    def _check_zeroed(self, path: str, host: str) -> None:
        """The disk went away: if its info block was zeroed meanwhile, the
        media no longer has one."""
        ns = self.signed.pop(path, None)
        if ns is None:
            return
        try:
            with open(host, "rb") as fh:
                head = fh.read(STAND_IN_DISK_SIZE)
        except OSError:
            return
        if not head.strip(b"\0"):
            from pmemctl.sim.kernel import state as media

            media.forget_info_block(self.tree, ns)


def make_operations(tree: Path, *, fresh_kernel: bool = True, devsync: Optional[DevSync] = None) -> Any:
    """The mfusepy/fusepy ``Operations`` object serving ``tree/sys``."""
    fuse = _binding()
    from pmemctl.errors import KernelError, OutsideSysroot
    from pmemctl.sim.kernel import SimulatedKernel

    root = os.path.abspath(os.fspath(tree))
    sys_root = os.path.join(root, "sys")

    class SimSysfs(fuse.Operations):  # type: ignore[misc,name-defined]
        use_ns = True

        def __init__(self) -> None:
            self._kernel: Optional[SimulatedKernel] = None
            self.writes = 0

        # -- helpers ----------------------------------------------------------

        def _host(self, path: str) -> str:
            return sys_root if path in ("", "/") else sys_root + path

        @staticmethod
        def _kpath(path: str) -> str:
            return "/sys" if path in ("", "/") else "/sys" + path

        def _lstat(self, path: str) -> os.stat_result:
            try:
                return os.lstat(self._host(path))
            except OSError as err:
                raise fuse.FuseOSError(err.errno or errno.EIO) from None

        def kernel(self) -> SimulatedKernel:
            # A fresh door per write: the tree may have been changed by another
            # door (a test, pmemctl itself) between two tool writes.
            if self._kernel is None or fresh_kernel:
                self._kernel = SimulatedKernel(root)
            return self._kernel

        # -- reads --------------------------------------------------------------

        def getattr(self, path: str, fh: Any = None) -> dict[str, Any]:
            st = self._lstat(path)
            size, nlink = st.st_size, st.st_nlink
            if stat.S_ISREG(st.st_mode):
                # a kernfs attribute is one file of one link; the simulator's
                # block attributes share one file per value (kernel.confined)
                size, nlink = SYSFS_ATTR_SIZE, 1
            elif stat.S_ISDIR(st.st_mode):
                size = 0
            return {
                "st_mode": st.st_mode,
                "st_nlink": nlink,
                "st_size": size,
                "st_uid": 0,
                "st_gid": 0,
                "st_atime": st.st_atime_ns,
                "st_mtime": st.st_mtime_ns,
                "st_ctime": st.st_ctime_ns,
            }

        def readlink(self, path: str) -> str:
            try:
                return os.readlink(self._host(path))
            except OSError as err:
                raise fuse.FuseOSError(err.errno or errno.EIO) from None

        def opendir(self, path: str) -> int:
            st = self._lstat(path)
            if not stat.S_ISDIR(st.st_mode):
                raise fuse.FuseOSError(errno.ENOTDIR)
            return 0

        def readdir(self, path: str, fh: Any) -> list[Any]:
            host = self._host(path)
            try:
                with os.scandir(host) as it:
                    entries = []
                    for e in it:
                        try:
                            mode = e.stat(follow_symlinks=False).st_mode
                        except OSError:
                            continue
                        entries.append((e.name, {"st_mode": stat.S_IFMT(mode)}, 0))
            except OSError as err:
                raise fuse.FuseOSError(err.errno or errno.EIO) from None
            return [".", ".."] + entries

        def access(self, path: str, amode: int) -> int:
            st = self._lstat(path)
            if amode & os.W_OK and stat.S_ISREG(st.st_mode) and not st.st_mode & _WRITE_BITS:
                raise fuse.FuseOSError(errno.EACCES)
            return 0

        def open(self, path: str, flags: int) -> int:
            st = self._lstat(path)
            if stat.S_ISDIR(st.st_mode):
                raise fuse.FuseOSError(errno.EISDIR)
            acc = flags & os.O_ACCMODE
            # kernfs_fop_open: no write bit -> EACCES for writers, no read bit
            # -> EACCES for readers, root included.
            if acc in (os.O_WRONLY, os.O_RDWR) and not st.st_mode & _WRITE_BITS:
                raise fuse.FuseOSError(errno.EACCES)
            if acc in (os.O_RDONLY, os.O_RDWR) and not st.st_mode & _READ_BITS:
                raise fuse.FuseOSError(errno.EACCES)
            return 0

        def read(self, path: str, size: int, offset: int, fh: Any) -> bytes:
            try:
                with open(self._host(path), "rb") as fh_:
                    fh_.seek(offset)
                    return fh_.read(size)
            except OSError as err:
                raise fuse.FuseOSError(err.errno or errno.EIO) from None

        def statfs(self, path: str) -> dict[str, int]:
            return {"f_bsize": 4096, "f_frsize": 4096, "f_namemax": 255}

        # -- writes ----------------------------------------------------------------

        def write(self, path: str, data: bytes, offset: int, fh: Any) -> int:
            text = _decode_write(bytes(data))
            kpath = self._kpath(path)
            try:
                self.kernel().write(kpath, text)
            except KernelError as err:
                raise fuse.FuseOSError(err.errno or errno.EIO) from None
            except OutsideSysroot:
                raise fuse.FuseOSError(errno.EACCES) from None
            except OSError as err:
                raise fuse.FuseOSError(err.errno or errno.EIO) from None
            finally:
                if devsync is not None:
                    devsync.sync()
            self.writes += 1
            return len(data)

        def truncate(self, path: str, length: int, fh: Any = None) -> int:
            # sysfs ignores O_TRUNC; the store happens on write().
            st = self._lstat(path)
            if not st.st_mode & _WRITE_BITS:
                raise fuse.FuseOSError(errno.EACCES)
            return 0

        def flush(self, path: str, fh: Any) -> int:
            return 0

        def release(self, path: str, fh: Any) -> int:
            return 0

        # -- nothing is created, removed or renamed in sysfs ---------------------

        def create(self, path: str, mode: int, fi: Any = None) -> int:
            raise fuse.FuseOSError(errno.EACCES)

        def mknod(self, path: str, mode: int, dev: int) -> int:
            raise fuse.FuseOSError(errno.EACCES)

        def mkdir(self, path: str, mode: int) -> int:
            raise fuse.FuseOSError(errno.EPERM)

        def rmdir(self, path: str) -> int:
            raise fuse.FuseOSError(errno.EPERM)

        def unlink(self, path: str) -> int:
            raise fuse.FuseOSError(errno.EPERM)

        def symlink(self, target: str, source: str) -> int:
            raise fuse.FuseOSError(errno.EPERM)

        def link(self, target: str, source: str) -> int:
            raise fuse.FuseOSError(errno.EPERM)

        def rename(self, old: str, new: str) -> int:
            raise fuse.FuseOSError(errno.EPERM)

        def chmod(self, path: str, mode: int) -> int:
            raise fuse.FuseOSError(errno.EPERM)

        def chown(self, path: str, uid: int, gid: int) -> int:
            raise fuse.FuseOSError(errno.EPERM)

        def utimens(self, path: str, times: Any = None) -> int:
            return 0

    return SimSysfs()


def serve(
    tree: Path, mountpoint: Path, *, ready: Optional[Path] = None, debug: bool = False, devdir: Optional[str] = None
) -> None:
    """Mount ``tree/sys`` on ``mountpoint`` and serve until unmounted (blocks).

    ``devdir``: a private tmpfs /dev (source ``pmemctl-sim-dev``) to keep in
    step with the device nodes the simulated kernel adds and removes."""
    fuse = _binding()
    ops = make_operations(tree, devsync=DevSync(tree, devdir) if devdir else None)
    if ready is not None:
        original_init = getattr(ops, "init", None)

        def init(path: str) -> None:  # called once the kernel has the mount
            if original_init is not None:
                original_init(path)
            Path(ready).write_text(str(os.getpid()))

        ops.init = init  # type: ignore[method-assign]
    options: dict[str, Any] = dict(
        foreground=True,
        nothreads=True,  # the simulated kernel handles one store at a time
        fsname="pmemctl-sim",
        subtype="pmemctl-sim",
        attr_timeout=0,
        entry_timeout=0,
        negative_timeout=0,
        direct_io=True,
        default_permissions=False,
        debug=debug,
    )
    if os.geteuid() == 0:
        options["allow_other"] = True
    options = {k: v for k, v in options.items() if v is not False}
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        fuse.FUSE(ops, os.fspath(mountpoint), **options)


# =============================================================================
# mounting
# =============================================================================


def _server_cmd(tree: Path, mountpoint: str, ready: str, devdir: Optional[str] = None) -> list[str]:
    cmd = [sys.executable, "-m", "pmemctl.sim.fuse", "serve", os.fspath(tree), mountpoint, "--ready", ready]
    return cmd + (["--devdir", devdir] if devdir else [])


def _server_env() -> dict[str, str]:
    env = dict(os.environ)
    pkg_parent = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = pkg_parent + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _is_mounted(mountpoint: Path) -> bool:
    target = os.path.realpath(mountpoint)
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                fields = line.split()
                if len(fields) > 4 and _unescape_mountinfo(fields[4]) == target:
                    return True
    except OSError:
        pass
    return False


def _unescape_mountinfo(text: str) -> str:
    return text.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def _unmount(mountpoint: Path) -> None:
    """Unmount, lazily if busy; never raises."""
    for cmd in (["fusermount3", "-u", "-z"], ["fusermount", "-u", "-z"], ["umount", "-l"]):
        if not _is_mounted(mountpoint):
            return
        if shutil.which(cmd[0]) is None:
            continue
        subprocess.run([*cmd, os.fspath(mountpoint)], capture_output=True, check=False, stdin=subprocess.DEVNULL)


@contextlib.contextmanager
def mount_sim_sys(tree: Path, mountpoint: Path, *, timeout: float = SERVER_READY_TIMEOUT) -> Iterator[Path]:
    """Mount ``tree/sys`` on ``mountpoint`` (FUSE, reacting to writes) for the
    duration of the ``with`` block; always unmounted afterwards."""
    reason = fuse_skip_reason()
    if reason is not None:
        raise FuseUnavailable(reason)
    tree = Path(tree).absolute()
    mountpoint = Path(mountpoint).absolute()
    if not (tree / "sys").is_dir():
        raise FileNotFoundError(f"{tree} has no sys/ directory")
    mountpoint.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="pmemctl-fuse-"))
    ready = scratch / "ready"
    log = open(scratch / "server.log", "wb")
    proc = subprocess.Popen(
        _server_cmd(tree, os.fspath(mountpoint), os.fspath(ready)),
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=_server_env(),
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if proc.poll() is not None:
                raise RuntimeError(
                    f"FUSE server exited with {proc.returncode}: {(scratch / 'server.log').read_text(errors='replace')}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError("FUSE server did not become ready in time")
            time.sleep(0.02)
        yield mountpoint
    finally:
        _unmount(mountpoint)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            _unmount(mountpoint)
        log.close()
        shutil.rmtree(scratch, ignore_errors=True)


# =============================================================================
# running the real tools
# =============================================================================


def _setup_script(tree: Path, ready: str, server_log: str, trace: Optional[str], stage: str,
                  served: str) -> str:
    """Shell run inside ``unshare -m --propagation private``: FUSE over /sys,
    a nodev tmpfs over /dev with the tree's device nodes, then the command.

    The server reaches the tree through a bind mount at ``served`` (outside
    /dev): a tree built under /dev/shm would otherwise vanish from its view
    once the private /dev is moved into place."""
    manifest = tree / ".pmemctl-sim" / "devnodes.json"
    nodes = json.loads(manifest.read_text()) if manifest.exists() else []
    q = shlex.quote
    server = " ".join(q(a) for a in _server_cmd(Path(served), "/sys", ready, "/dev"))
    lines = [
        f'fail() {{ echo "{SETUP_MARKER} $1" >&2; [ -n "$srv" ] && kill "$srv" 2>/dev/null; exit {SETUP_FAILED_RC}; }}',
        "srv=",
        f"mkdir -p {q(served)} && mount --bind {q(os.fspath(tree))} {q(served)} || fail 'bind the tree'",
        f"{server} >{q(server_log)} 2>&1 &",
        "srv=$!",
        "i=0",
        f"while [ ! -e {q(ready)} ]; do",
        '  kill -0 "$srv" 2>/dev/null || fail "FUSE server exited (see its log)"',
        "  i=$((i+1)); [ $i -gt 1500 ] && fail 'FUSE server not ready'",
        "  sleep 0.02",
        "done",
        # nodev: character nodes can be stat()ed (daxctl compares dev_t) but
        # never opened.  The simulator's majors are the verified fake tree's
        # (kernel-abi.md §8); on a host they may belong to real devices (249
        # was a watchdog and 259 a disk where this was written).  Block
        # devices are zero-filled regular files instead: ndctl opens
        # /dev/pmemX O_RDWR|O_EXCL to disable a namespace and reads/zeroes
        # its first 8 KiB on destroy.
        f"stage={q(stage)}",
        'mkdir -p "$stage" || fail mkdir',
        f"mount -t tmpfs -o mode=0755,size=4m,nodev {DEV_TMPFS_SOURCE} \"$stage\" || fail 'tmpfs /dev'",
        # the harmless host nodes a tool may open, bound in from the host /dev
        # (a bind mount keeps its source's flags, so these stay usable)
        "for n in null zero full random urandom tty; do",
        '  [ -e "/dev/$n" ] || continue',
        '  : > "$stage/$n" && mount --bind "/dev/$n" "$stage/$n" || fail "bind /dev/$n"',
        "done",
        'ln -s /proc/self/fd "$stage/fd"',
    ]
    for node in nodes:
        path = str(node["path"])
        if not path.startswith("/dev/") or ".." in path.split("/"):
            raise ValueError(f"device node outside /dev in {manifest}: {path}")
        parent = os.path.dirname(path)
        if parent != "/dev":
            lines.append(f"mkdir -p \"$stage\"{q(parent[4:])} || fail mkdir")
        if node["type"] == "c":
            lines.append(
                f"mknod -m 0600 \"$stage\"{q(path[4:])} c {int(node['major'])} {int(node['minor'])} || fail mknod"
            )
        else:
            f = f"\"$stage\"{q(path[4:])}"
            lines.append(f"(umask 077; : > {f}) && truncate -s {STAND_IN_DISK_SIZE} {f} || fail 'stand-in disk'")
    lines.append('mount --move "$stage" /dev || fail "move /dev"')
    if trace:
        lines.append(f'strace -f -qq -o {q(trace)} -e trace=openat,write,unlinkat "$@"; rc=$?')
    else:
        lines.append('"$@"; rc=$?')
    lines += [
        "umount -l /sys 2>/dev/null",
        'wait "$srv" 2>/dev/null',
        "exit $rc",
    ]
    return "\n".join(lines) + "\n"


def run_real_tool_on_sim(
    tree: Path,
    argv: Sequence[str],
    *,
    timeout: float = 300.0,
    trace: Optional[Path] = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` (e.g. ``["ndctl", "create-namespace", ...]``) with the
    simulated tree as the machine: a private mount namespace, the FUSE mount
    of ``tree/sys`` over /sys, a tmpfs /dev with the tree's device nodes.
    Writes the tool makes reach the simulated kernel; the tree changes.

    ``trace``: write ``strace -f -e openat,write`` output there.
    Raises :class:`FuseUnavailable` when this machine cannot do it and
    RuntimeError when the namespace could not be prepared.
    """
    reason = fuse_skip_reason()
    if reason is not None:
        raise FuseUnavailable(reason)
    if shutil.which("unshare") is None:
        raise RuntimeError("unshare (util-linux) is not installed")
    tree = Path(tree).absolute()
    if not (tree / "sys").is_dir():
        raise FileNotFoundError(f"{tree} has no sys/ directory")
    scratch = Path(tempfile.mkdtemp(prefix="pmemctl-fuse-"))
    ready = scratch / "ready"
    server_log = scratch / "server.log"
    script = _setup_script(
        tree, os.fspath(ready), os.fspath(server_log), os.fspath(trace) if trace else None, os.fspath(scratch / "dev"),
        os.fspath(scratch / "tree"),
    )
    cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "pmemctl-sim", *argv]
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=_server_env(), start_new_session=True,
    )
    try:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            # the whole session: the shell, the tool and the FUSE server; the
            # private mount namespace goes away with its last process
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            raise
        if proc.returncode == SETUP_FAILED_RC and SETUP_MARKER in err:
            log = server_log.read_text(errors="replace") if server_log.exists() else ""
            raise RuntimeError(f"{err.strip()}\n{log}")
        if server_log.exists():
            log = server_log.read_text(errors="replace").strip()
            if log:
                err = err + ("" if err.endswith("\n") or not err else "\n") + "[fuse server] " + log + "\n"
        return subprocess.CompletedProcess(argv, proc.returncode, out, err)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # stragglers (normally none)
        shutil.rmtree(scratch, ignore_errors=True)


def _main(argv: Optional[Sequence[str]] = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m pmemctl.sim.fuse")
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="serve TREE/sys on MOUNTPOINT until unmounted")
    s.add_argument("tree")
    s.add_argument("mountpoint")
    s.add_argument("--ready", help="file created once the mount is live")
    s.add_argument("--debug", action="store_true")
    s.add_argument("--devdir", help="private tmpfs /dev to keep in step with the tree's device nodes")
    r = sub.add_parser("run", help="run a command with TREE as the machine's /sys and /dev")
    r.add_argument("tree")
    r.add_argument("--trace")
    r.add_argument("argv", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.cmd == "serve":
        serve(Path(args.tree), Path(args.mountpoint), ready=Path(args.ready) if args.ready else None,
              debug=args.debug, devdir=args.devdir)
        return 0
    cmd = list(args.argv)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    res = run_real_tool_on_sim(Path(args.tree), cmd, trace=Path(args.trace) if args.trace else None)
    sys.stdout.write(res.stdout)
    sys.stderr.write(res.stderr)
    return res.returncode


if __name__ == "__main__":
    sys.exit(_main())


__all__ = [
    "FuseUnavailable",
    "fuse_skip_reason",
    "make_operations",
    "mount_sim_sys",
    "run_real_tool_on_sim",
    "serve",
]
