"""pmemctl's own files under the sysroot: the run lock and the intent journal.

On a real system: ``/run/lock/pmemctl.lock`` and ``/var/lib/pmemctl/``;
under another sysroot the same paths below it, so rehearsals on a simulated
or captured tree never touch the host's lock or journal.

The journal is two files: ``journal.json`` (the plan, written atomically
before the first step) and ``journal.log`` (one JSON line appended per step
event).  Appending a line is cheap enough to do before every block of a
49,152-block walk; the header is fsync'ed, and so is the log before and after
every driver bind/unbind (the steps that matter after a crash).

Confinement: every file here is opened relative to a directory fd reached
from the sysroot one component at a time with ``O_NOFOLLOW``, so neither a
symlinked file nor a symlinked directory (``/run/lock`` is world-writable on
a real machine) can lead a write elsewhere.  Missing directories are created
0700; a sysroot that does not exist is an error, never created.  Only
regular files are opened (``O_NONBLOCK``: a FIFO cannot hang a run); on the
running machine they must belong to the user running pmemctl and have one
link.  A journal that cannot be read is a :class:`DamagedJournal` naming the
file, never a crash.

Space: a new journal reserves room for the rest of its run
(``journal.reserve``), given back when a journal write meets a full file
system, so a change never ends with a journal it could not finish writing;
no room at the start is :class:`JournalNoSpace`, before the first step.
Temporaries a killed run left are removed by the next run (under the lock).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import stat
import time
from dataclasses import dataclass
from typing import Any, Callable, NoReturn, Optional

from pmemctl.errors import DamagedJournal, KernelError, Locked, NotFound, PmemctlError, Refused, UnsafeStateFile
from pmemctl.sysfs import confined
from pmemctl.sysfs.door import SysfsRoot

LOCK_PATH = "/run/lock/pmemctl.lock"
STATE_DIR = "/var/lib/pmemctl"
#: where the journal goes when /var/lib is read-only (an initramfs, a
#: read-only root): /run is a tmpfs on every systemd machine
FALLBACK_STATE_DIR = "/run/pmemctl"
JOURNAL = STATE_DIR + "/journal.json"
JOURNAL_LOG = STATE_DIR + "/journal.log"
LAST_RUN = STATE_DIR + "/last-run.json"
#: changes with every boot: a journal records it, so one left by an earlier
#: boot (describing memory that no longer exists) can be told apart
BOOT_ID = "/proc/sys/kernel/random/boot_id"

_FILE_FLAGS = confined.FILE_FLAGS
#: a journal header larger than this is not one pmemctl wrote (49,152 blocks: ~6 MB)
_MAX_HEADER = 256 << 20
#: space kept for the rest of a run's journal (see Journal.begin): released
#: when a journal write meets a full file system
RESERVE = "journal.reserve"
#: bytes reserved per step for its events (a block step's "start"/"done" are
#: batched: well under this), and for the state rewrites and last-run summary
_RESERVE_PER_STEP = 64
_RESERVE_SLACK = 64 << 10
#: files of pmemctl's own that a killed run can leave behind
_TEMPORARY_PREFIXES = ("journal.json.tmp.", "last-run.json.tmp.")


class JournalNoSpace(Refused):
    """The journal of a change cannot be written: the run stops before its
    first step (nothing was changed)."""

    def __init__(self, state_dir: str, needed: int) -> None:
        super().__init__(
            f"there is no room for the journal of this change in {state_dir} (it needs about "
            f"{max(needed // 1024, 1)} KiB); nothing was changed",
            hint=f"free some space on the file system holding {state_dir} and run the command again",
        )
        self.state_dir = state_dir


def _root_fd(door: SysfsRoot) -> int:
    """The sysroot itself (followed if it is a link: the user named it)."""
    try:
        return os.open(door.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError) as err:
        raise NotFound(
            f"the sysroot {door.root} does not exist or is not a directory",
            hint="point --sysroot (or PMEMCTL_SYSROOT) at / or at a tree made by 'pmemctl sim create'",
        ) from err


def _open_dir(door: SysfsRoot, kdir: str, *, create: bool) -> Optional[int]:
    """A directory fd for kernel path ``kdir`` under the sysroot, reached one
    component at a time without following links (sysfs/confined.py).
    Missing components are created 0700 when ``create``; otherwise None when
    one is missing."""

    def on_refused(dir_fd: int, name: str, walked: str, err: OSError) -> Optional[int]:
        followed = _root_owned_link(door, dir_fd, name, err)
        if followed is None:
            _refuse_odd(door, dir_fd, name, walked, err)
        return followed

    return confined.walk(_root_fd(door), kdir.strip("/").split("/"), create_mode=0o700 if create else None,
                         on_refused=on_refused)


def _raise_cannot_write(door: SysfsRoot, kdir: str, err: OSError) -> NoReturn:
    """Raise the error for a run lock's or journal's directory that cannot be
    made or written: the user does not own the tree, or it is read-only
    (EACCES, EPERM, EROFS), is one sentence naming the directory and what to
    do; any other errno is re-raised as the OSError it is.  Callers that have
    somewhere else to go (the journal's fallback directory, a read-only status
    query) catch the OSError of ``_open_dir`` first and only call this at the end."""
    if err.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
        raise err
    meaning = "read-only file system" if err.errno == errno.EROFS else (
        "permission denied (this user may not create or write the directory)")
    raise KernelError(kdir, err.errno, op="open or create", meaning=meaning, hint=(
        f"run as a user who can write {door.host_path(kdir)} (root on the running machine)")) from err


def _root_owned_link(door: SysfsRoot, dir_fd: int, name: str, err: OSError) -> Optional[int]:
    """On the running machine a directory on the way may be a symlink that
    root made (``/var`` on some systems): followed, as no other user can make
    one.  Under another sysroot a link on the way is never followed."""
    if not door.is_host or err.errno not in (errno.ELOOP, errno.ENOTDIR):
        return None
    try:
        st = os.lstat(name, dir_fd=dir_fd)
        if not stat.S_ISLNK(st.st_mode) or st.st_uid != 0:
            return None
        return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return None


def _refuse_odd(door: SysfsRoot, dir_fd: int, name: str, kpath: str, err: OSError) -> None:
    """Turn an open that met a symlink or a non-directory into UnsafeStateFile."""
    if err.errno not in (errno.ELOOP, errno.ENOTDIR, errno.EISDIR, errno.ENXIO, errno.EMLINK):
        return
    try:
        st = os.lstat(name, dir_fd=dir_fd)
    except OSError:
        return
    host = door.host_path(kpath)
    if stat.S_ISLNK(st.st_mode):
        raise UnsafeStateFile(host, "is a symbolic link") from err
    if err.errno == errno.EISDIR:
        raise UnsafeStateFile(host, "is a directory") from err
    if not stat.S_ISDIR(st.st_mode) and err.errno == errno.ENOTDIR:
        return  # a plain file where a directory should be: the caller decides
    raise UnsafeStateFile(host, "is not a regular file") from err


def _check_regular(door: SysfsRoot, fd: int, kpath: str) -> None:
    st = os.fstat(fd)
    host = door.host_path(kpath)
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeStateFile(host, "is a directory" if stat.S_ISDIR(st.st_mode) else "is not a regular file")
    if door.is_host and (st.st_uid != os.geteuid() or st.st_nlink != 1):
        raise UnsafeStateFile(host, "belongs to another user or has other names (hard links)")


def _open_file(door: SysfsRoot, dir_fd: int, kdir: str, name: str, flags: int, mode: int = 0o600) -> Optional[int]:
    """Open ``name`` in ``dir_fd`` as a regular file (no link followed); None
    when it does not exist and ``flags`` has no O_CREAT."""
    kpath = f"{kdir}/{name}"
    try:
        # before opening: opening a device node can have side effects
        st = os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        what = ("is a symbolic link" if stat.S_ISLNK(st.st_mode)
                else "is a directory" if stat.S_ISDIR(st.st_mode) else "is not a regular file")
        raise UnsafeStateFile(door.host_path(kpath), what)
    try:
        fd = os.open(name, flags | _FILE_FLAGS | os.O_NOCTTY, mode, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as err:
        _refuse_odd(door, dir_fd, name, kpath, err)
        raise
    try:
        _check_regular(door, fd, kpath)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _read_file(door: SysfsRoot, dir_fd: int, kdir: str, name: str) -> Optional[bytes]:
    fd = _open_file(door, dir_fd, kdir, name, os.O_RDONLY)
    if fd is None:
        return None
    try:
        chunks = []
        total = 0
        while total <= _MAX_HEADER:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _json_payload(data: dict[str, Any]) -> bytes:
    """A state file's contents: compact, and dumps (C encoder) not dump
    (pure-Python streaming): a plan for 49,152 blocks is one action per block."""
    return (json.dumps(data, separators=(",", ":"), sort_keys=True) + "\n").encode()


def _atomic_write(door: SysfsRoot, dir_fd: int, kdir: str, name: str, data: dict[str, Any],
                  payload: Optional[bytes] = None) -> None:
    """Write ``name`` in ``dir_fd`` via a temporary file and a rename
    (``payload``: ``data`` encoded already)."""
    if payload is None:
        payload = _json_payload(data)
    try:
        confined.atomic_replace(dir_fd, name, payload, tmp=f"{name}.tmp.{os.getpid()}", mode=0o644)
    except IsADirectoryError as err:
        raise UnsafeStateFile(door.host_path(f"{kdir}/{name}"), "is a directory") from err


def _archive_suffix(dir_fd: int) -> str:
    """``abandoned-<UTC time>``, with ``-N`` added when an archive of that
    second exists already (a rename would replace it)."""
    base = "abandoned-" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for n in range(1, 1000):
        suffix = base if n == 1 else f"{base}-{n}"
        taken = False
        for name in ("journal.json", "journal.log"):
            try:
                os.lstat(f"{name}.{suffix}", dir_fd=dir_fd)
                taken = True
            except FileNotFoundError:
                pass
        if not taken:
            return suffix
    raise FileExistsError(errno.EEXIST, "too many archived journals in one second", base)


def _remove_temporaries(dir_fd: int) -> None:
    """Temporaries a killed run left (journal.json.tmp.PID, ...): the caller
    holds the run lock, so no other run is writing one."""
    try:
        names = os.listdir(dir_fd)
    except OSError:
        return
    for name in names:
        if name.startswith(_TEMPORARY_PREFIXES):
            try:
                os.unlink(name, dir_fd=dir_fd)
            except OSError:
                pass


def _reserve_space(dir_fd: int, nbytes: int) -> None:
    """Keep ``nbytes`` of the file system for the rest of the journal:
    allocated to ``journal.reserve``, given back by :func:`_release_space`."""
    fd = os.open(RESERVE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _FILE_FLAGS, 0o600, dir_fd=dir_fd)
    try:
        try:
            os.posix_fallocate(fd, 0, nbytes)
        except OSError as err:
            if err.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                raise
            zeros = bytes(min(nbytes, 1 << 20))  # a file system without fallocate
            left = nbytes
            while left > 0:
                left -= os.write(fd, zeros[:left])
    finally:
        os.close(fd)


def _release_space(dir_fd: int) -> bool:
    """Give the reserved space back; False when there was none."""
    try:
        os.unlink(RESERVE, dir_fd=dir_fd)
    except FileNotFoundError:
        return False
    return True


def _holder_text(raw: bytes) -> str:
    """The pid a lock holder wrote, shown only as digits (the file is not trusted)."""
    return "".join(c for c in raw.decode("ascii", "replace") if c.isdigit())[:12]


class RunLock:
    """An exclusive flock held for the whole apply (or rollback/resume)."""

    def __init__(self, door: SysfsRoot) -> None:
        self.door = door
        self.path = door.host_path(LOCK_PATH)
        self._fd: Optional[int] = None

    def acquire(self) -> None:
        kdir, name = LOCK_PATH.rsplit("/", 1)
        try:
            dir_fd = _open_dir(self.door, kdir, create=True)
            assert dir_fd is not None
            try:
                fd = _open_file(self.door, dir_fd, kdir, name, os.O_RDWR | os.O_CREAT)
            finally:
                os.close(dir_fd)
        except OSError as err:
            _raise_cannot_write(self.door, kdir, err)
        assert fd is not None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            holder = ""
            try:
                holder = _holder_text(os.pread(fd, 64, 0))
            except OSError:
                pass
            os.close(fd)
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise Locked(
                    f"another pmemctl run{f' (pid {holder})' if holder else ''} is changing this machine "
                    f"(lock {LOCK_PATH} is held)",
                    hint="wait for it to finish and run the command again",
                ) from err
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@dataclass(frozen=True)
class LockHolder:
    """The pmemctl run that holds the run lock; ``pid`` None when unknown."""

    pid: Optional[int]


#: the kernel's table of file locks (one line per lock)
PROC_LOCKS = "/proc/locks"


def _flock_pid(st: os.stat_result, proc_locks: str = PROC_LOCKS) -> Optional[int]:
    """The pid the kernel lists as holding a flock on the file ``st``
    describes; 0 when one is held by a process outside our pid namespace;
    None when none is held.  Raises OSError when the table cannot be read."""
    want = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    with open(proc_locks, encoding="ascii", errors="replace") as fh:
        for line in fh:
            fields = line.split()
            if len(fields) < 6 or fields[1] != "FLOCK":  # "->" marks a waiter, not a holder
                continue
            if fields[5] == want:
                return int(fields[4]) if fields[4].isdigit() else 0
    return None


def lock_holder(door: SysfsRoot, proc_locks: str = PROC_LOCKS) -> Optional[LockHolder]:
    """Which pmemctl run holds the run lock of ``door``'s sysroot, if one does.

    A read-only query: it creates, writes and locks nothing (taking the lock,
    even shared and briefly, could make a run that is starting give up).  The
    kernel's lock table says whether the lock file is held and by which pid;
    the pid the holder wrote into the file stands in when the kernel's is not
    visible (another pid namespace).  None when no run holds it, or when it
    cannot be told (no lock table).
    """
    kdir, name = LOCK_PATH.rsplit("/", 1)
    try:
        dir_fd = _open_dir(door, kdir, create=False)
    except PermissionError:
        return None
    if dir_fd is None:
        return None
    try:
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        try:
            pid = _flock_pid(st, proc_locks)
        except OSError:
            return None
        if pid is None:
            return None
        if pid > 0:
            return LockHolder(pid)
        written = ""
        try:
            fd = os.open(name, os.O_RDONLY | _FILE_FLAGS | os.O_NOCTTY, dir_fd=dir_fd)
            try:
                written = _holder_text(os.pread(fd, 64, 0))
            finally:
                os.close(fd)
        except OSError:
            pass
        return LockHolder(int(written) if written else None)
    finally:
        os.close(dir_fd)


@dataclass
class JournalRecord:
    header: dict[str, Any]
    events: list[dict[str, Any]]

    def statuses(self) -> dict[int, str]:
        """Last event per action index."""
        out: dict[int, str] = {}
        plan = self.header.get("plan")
        n = len(plan.get("actions", [])) if isinstance(plan, dict) else 0
        for ev in self.events:
            if "i" not in ev:
                continue
            first = int(ev["i"])
            last = int(ev.get("to", first + 1))  # range events: [i, to)
            if n:
                last = min(last, n)
            for k in range(first, last):
                out[k] = str(ev["e"])
        return out


def _parse_header(raw: bytes, path: str, sysroot: str) -> dict[str, Any]:
    if not raw.strip():
        raise DamagedJournal(path, "it is empty", sysroot=sysroot)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DamagedJournal(path, "it is not UTF-8 text", sysroot=sysroot) from None
    try:
        header = json.loads(text)
    except json.JSONDecodeError:
        raise DamagedJournal(path, "it is not valid JSON: truncated or overwritten", sysroot=sysroot) from None
    if not isinstance(header, dict):
        raise DamagedJournal(path, f"it holds a JSON {type(header).__name__}, not a journal", sysroot=sysroot)
    plan = header.get("plan")
    if not isinstance(plan, dict) or not isinstance(plan.get("actions"), list):
        raise DamagedJournal(path, "it holds no plan", sysroot=sysroot)
    return header


def _event_ok(ev: object) -> bool:
    if not isinstance(ev, dict) or not isinstance(ev.get("e"), str):
        return False
    first, last = ev.get("i", 0), ev.get("to", 0)
    return type(first) is int and type(last) is int and first >= 0 and last >= 0


def _parse_log(raw: bytes, path: str, sysroot: str) -> list[dict[str, Any]]:
    lines = [line for line in raw.split(b"\n") if line.strip()]
    events: list[dict[str, Any]] = []
    for n, line in enumerate(lines):
        try:
            ev = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            ev = None
        if not _event_ok(ev):
            if n == len(lines) - 1:
                break  # a torn last line after a crash: ignore it
            raise DamagedJournal(path, f"line {n + 1} is not a journal event", sysroot=sysroot)
        events.append(ev)
    return events


def boot_id(door: SysfsRoot) -> Optional[str]:
    """This boot's id (``/proc/sys/kernel/random/boot_id``), None when unknown."""
    try:
        value = door.read_optional(BOOT_ID)
    except (OSError, PmemctlError):  # a damaged tree: the id is only a label
        return None
    if value is None or not value.strip():
        return None
    return value.strip()


class Journal:
    def __init__(self, door: SysfsRoot) -> None:
        self.door = door
        self._kdir = STATE_DIR
        self._dir_fd: Optional[int] = None
        self._log_fd: Optional[int] = None
        self.header: dict[str, Any] = {}
        self._set_dir(STATE_DIR)

    def _set_dir(self, kdir: str) -> None:
        self._kdir = kdir
        self.state_dir = self.door.host_path(kdir)
        self.header_path = os.path.join(self.state_dir, "journal.json")
        self.log_path = os.path.join(self.state_dir, "journal.log")
        self.last_path = os.path.join(self.state_dir, "last-run.json")

    def _existing_dir(self) -> Optional[int]:
        """The directory fd of the state directory that holds a journal (or,
        when none does, of the first that exists); None when none exists.
        An existing journal wins wherever it is."""
        first: Optional[tuple[str, int]] = None
        for kdir in (STATE_DIR, FALLBACK_STATE_DIR):
            try:
                fd = _open_dir(self.door, kdir, create=False)
            except NotADirectoryError:
                continue  # a plain file where /var/lib is: a read-only stand-in
            if fd is None:
                continue
            try:
                os.lstat("journal.json", dir_fd=fd)
            except FileNotFoundError:
                if first is None:
                    first = (kdir, fd)
                else:
                    os.close(fd)
                continue
            if first is not None:
                os.close(first[1])
            self._set_dir(kdir)
            return fd
        if first is None:
            return None
        self._set_dir(first[0])
        return first[1]

    # -- reading --------------------------------------------------------------

    def load(self) -> Optional[JournalRecord]:
        try:
            dir_fd = self._existing_dir()
            if dir_fd is None:
                return None
            try:
                raw = _read_file(self.door, dir_fd, self._kdir, "journal.json")
                if raw is None:
                    return None
                header = _parse_header(raw, self.header_path, self.door.root)
                log = _read_file(self.door, dir_fd, self._kdir, "journal.log")
            finally:
                os.close(dir_fd)
        except UnsafeStateFile as err:
            raise DamagedJournal(err.path, f"it {err.why}", sysroot=self.door.root) from err
        except PermissionError as err:
            raise DamagedJournal(self.state_dir, "permission denied: run as root", sysroot=self.door.root) from err
        events = [] if log is None else _parse_log(log, self.log_path, self.door.root)
        return JournalRecord(header, events)

    def last_run(self) -> Optional[dict[str, Any]]:
        """The summary of the last finished run; None when there is none or it
        cannot be read (it is only a summary: a damaged one blocks nothing)."""
        try:
            dir_fd = self._existing_dir()
            if dir_fd is None:
                return None
            try:
                raw = _read_file(self.door, dir_fd, self._kdir, "last-run.json")
            finally:
                os.close(dir_fd)
            last = None if raw is None else json.loads(raw.decode("utf-8"))
        except (OSError, UnsafeStateFile, UnicodeDecodeError, json.JSONDecodeError):
            return None
        return last if isinstance(last, dict) else None

    # -- writing --------------------------------------------------------------

    def _writable_dir(self) -> int:
        """Open (creating it 0700 if need be) the directory a new journal goes
        to: the one holding a journal, else the first that can be written."""
        found = self._existing_dir()
        if found is not None:
            try:
                os.lstat("journal.json", dir_fd=found)
                return found
            except FileNotFoundError:
                os.close(found)
        last_err: Optional[OSError] = None
        for kdir in (STATE_DIR, FALLBACK_STATE_DIR):
            try:
                fd = _open_dir(self.door, kdir, create=True)
            except OSError as err:
                last_err = err
                continue
            assert fd is not None
            if os.access(f"/proc/self/fd/{fd}", os.W_OK):
                self._set_dir(kdir)
                return fd
            os.close(fd)
            last_err = PermissionError(errno.EROFS, "the state directory cannot be written", self.door.host_path(kdir))
        assert last_err is not None
        _raise_cannot_write(self.door, FALLBACK_STATE_DIR, last_err)

    def begin(self, header: dict[str, Any], *, append: bool = False) -> None:
        """Write the journal of a run (``append``: continue an earlier one's,
        for rollback and resume).  A new journal also reserves room for the
        run's events, state changes and summary, so a file system that fills
        up meanwhile cannot stop the journal half-way; no room for that is
        :class:`JournalNoSpace` before the first step.  Needs the run lock."""
        self.header = dict(header)
        self.header.setdefault("started", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        self.header.setdefault("boot_id", boot_id(self.door))
        self.header["pid"] = os.getpid()
        self._dir_fd = dir_fd = self._writable_dir()
        _remove_temporaries(dir_fd)
        if append:  # rollback/resume: the first run's reserve makes the room
            try:
                self._spaced(lambda: _atomic_write(self.door, dir_fd, self._kdir, "journal.json", self.header))
            except OSError as err:
                if err.errno not in (errno.ENOSPC, errno.EDQUOT):
                    raise
                raise JournalNoSpace(self.state_dir, len(json.dumps(self.header))) from err
        else:
            steps = len(self.header.get("plan", {}).get("actions", []))
            payload = _json_payload(self.header)  # encoded once: it holds one action per block
            needed = len(payload) + steps * _RESERVE_PER_STEP + _RESERVE_SLACK
            try:
                _atomic_write(self.door, dir_fd, self._kdir, "journal.json", self.header, payload)
                _reserve_space(dir_fd, needed)
            except OSError as err:
                if err.errno not in (errno.ENOSPC, errno.EDQUOT):
                    raise
                raise JournalNoSpace(self.state_dir, len(payload) + needed) from err
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (0 if append else os.O_TRUNC)
        self._log_fd = _open_file(self.door, dir_fd, self._kdir, "journal.log", flags, 0o644)

    def _spaced(self, write: Callable[[], None]) -> None:
        """A journal write; on a full file system the reserved space is
        given back and the write tried once more."""
        try:
            write()
        except OSError as err:
            if err.errno not in (errno.ENOSPC, errno.EDQUOT) or self._dir_fd is None:
                raise
            if not _release_space(self._dir_fd):
                raise
            write()

    def event(self, index: Optional[int], name: str, *, sync: bool = False, **extra: Any) -> None:
        if self._log_fd is None:
            return
        if index is not None and not extra:
            line = f'{{"e":"{name}","i":{index}}}\n'
        elif index is not None and len(extra) == 1 and "to" in extra:
            line = f'{{"e":"{name}","i":{index},"to":{extra["to"]}}}\n'  # block batches
        else:
            rec: dict[str, Any] = {"e": name}
            if index is not None:
                rec["i"] = index
            rec.update(extra)
            line = json.dumps(rec, separators=(",", ":")) + "\n"
        log_fd, view = self._log_fd, memoryview(line.encode())

        def write_rest() -> None:  # tried again after a short write: never a torn line
            nonlocal view
            while view:
                view = view[os.write(log_fd, view):]

        self._spaced(write_rest)
        if sync:
            os.fsync(log_fd)

    def set_state(self, state: str, **extra: Any) -> None:
        self.header["state"] = state
        self.header.update(extra)
        if self._dir_fd is None:
            self._dir_fd = self._writable_dir()
        dir_fd = self._dir_fd
        self._spaced(lambda: _atomic_write(self.door, dir_fd, self._kdir, "journal.json", self.header))

    def finish(self, summary: dict[str, Any]) -> None:
        """The run ended in a consistent state: drop the journal, keep a summary."""
        if self._log_fd is not None:
            os.close(self._log_fd)
            self._log_fd = None
        if self._dir_fd is None:
            self._dir_fd = self._writable_dir()
        last = {k: v for k, v in self.header.items() if k not in ("plan", "units")}
        last["title"] = self.header.get("plan", {}).get("title")
        last["steps"] = len(self.header.get("plan", {}).get("actions", []))
        dir_fd = self._dir_fd
        try:
            self._spaced(lambda: _atomic_write(self.door, dir_fd, self._kdir, "last-run.json", {**last, **summary}))
        except (UnsafeStateFile, OSError):
            pass  # a summary only (a full disk, a planted link): the change is finished and consistent
        for name in ("journal.json", "journal.log", RESERVE):
            try:
                os.unlink(name, dir_fd=self._dir_fd)
            except FileNotFoundError:
                pass
        self._close_dir()

    def discard(self) -> None:
        """Remove a journal this run began but never acted on (its first step
        was not taken): it must not block the next run.  Never raises."""
        try:
            if self._log_fd is not None:
                os.close(self._log_fd)
                self._log_fd = None
            if self._dir_fd is not None:
                for name in ("journal.json", "journal.log", RESERVE):
                    try:
                        os.unlink(name, dir_fd=self._dir_fd)
                    except FileNotFoundError:
                        pass
        except OSError:
            pass
        self._close_dir()

    def abandon(self) -> list[str]:
        """Archive an unfinished journal the user gives up on (``pmemctl
        journal abandon``): ``journal.log`` then ``journal.json`` are renamed
        in their state directory to ``NAME.abandoned-<UTC time>``, never
        deleted, and the directory is fsync'ed.  Works on a damaged journal
        too (a link or a directory is renamed, never followed).  Returns the
        archived files' host paths; [] when there is no journal.  The caller
        holds the run lock.

        The log goes first: a crash between the two renames leaves
        ``journal.json`` alone, which still blocks new changes and is
        archived by the next abandon; the other order could leave a stray log
        that the next change's journal would truncate.
        """
        dir_fd = self._existing_dir()
        if dir_fd is None:
            return []
        try:
            try:
                os.lstat("journal.json", dir_fd=dir_fd)
            except FileNotFoundError:
                return []
            suffix = _archive_suffix(dir_fd)
            archived: list[str] = []
            for name in ("journal.log", "journal.json"):
                try:
                    os.rename(name, f"{name}.{suffix}", src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
                except FileNotFoundError:
                    continue
                archived.append(os.path.join(self.state_dir, f"{name}.{suffix}"))
            _release_space(dir_fd)
            os.fsync(dir_fd)
            return archived
        finally:
            os.close(dir_fd)

    def close(self) -> None:
        """Leave the journal in place (interrupted or rollback incomplete)."""
        if self._log_fd is not None:
            os.fsync(self._log_fd)
            os.close(self._log_fd)
            self._log_fd = None
        self._close_dir()

    def _close_dir(self) -> None:
        if self._dir_fd is not None:
            os.close(self._dir_fd)
            self._dir_fd = None
