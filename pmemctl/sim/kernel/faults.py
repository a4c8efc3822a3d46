"""Fault injection for the simulated kernel (``pmemctl.sim.kernel.faults``).

Faults are declared in ``DIR/.pmemctl-sim/faults.json`` (so a separate
process, such as the CLI, sees them) through :func:`inject`, or
``pmemctl sim fault``.  Kinds:

``offline-busy``   blocks whose offline fails with EBUSY (unmovable pages)
``offline-hang``   blocks whose offline never finishes (the kernel retries
                   until a signal arrives; pmemctl's per-block timeout is one)
``online-fail``    blocks whose online fails (``errno``, default EINVAL)
``bind-fail``      a driver's probe of a device fails (``errno``, default ENXIO)
``vanish``         a dax device disappears after ``after_writes`` more writes
``udev-race``      another agent onlines each new block into ``zone`` as soon
                   as kmem creates it (what a distro udev rule does)
"""

from __future__ import annotations

import errno as _errno
import os
import time
import weakref
from typing import Any, Callable, Optional, Sequence

from pmemctl.sim.kernel.confined import load_json, save_json
from pmemctl.sim.kernel.errors import WriteRefused
from pmemctl.sim.kernel.watch import DirectoryWatch, watch_directory
from pmemctl.sim.tree import MARKER_DIR

FAULTS_FILE = "faults.json"
KINDS = ("offline-busy", "offline-hang", "online-fail", "bind-fail", "vanish", "udev-race")

#: the longest an injected "never finishes" offline sleeps when no signal comes
HANG_CAP_SECONDS = 600.0


def _path(root: str | os.PathLike[str]) -> str:
    return os.path.join(os.fspath(root), MARKER_DIR, FAULTS_FILE)


def load(root: str | os.PathLike[str]) -> list[dict[str, Any]]:
    try:
        return list(load_json(_path(root)))
    except FileNotFoundError:
        return []


def _save(root: str | os.PathLike[str], faults: list[dict[str, Any]]) -> None:
    save_json(root, _path(root), faults)


def inject(root: str | os.PathLike[str], kind: str, **spec: Any) -> None:
    """Add one fault, e.g. ``inject(tree, "offline-busy", blocks=[42])``."""
    if kind not in KINDS:
        raise ValueError(f"unknown fault {kind!r}; known: {', '.join(KINDS)}")
    faults = load(root)
    faults.append({"kind": kind, **spec})
    _save(root, faults)


def clear(root: str | os.PathLike[str]) -> None:
    try:
        os.unlink(_path(root))
    except FileNotFoundError:
        pass


def _errno_of(spec: dict[str, Any], default: int) -> int:
    value = spec.get("errno", default)
    if isinstance(value, str):
        # EHWPOISON (133, asm-generic/errno.h) is missing from Python's errno
        return int(getattr(_errno, value, None) or {"EHWPOISON": 133}[value])
    return int(value)


class Faults:
    """The faults of one tree, re-read whenever faults.json changes: looked
    at (one stat) once per write answered, between :meth:`writing` and
    :meth:`done_writing`, and at every call outside a write; while
    :meth:`watch` holds, stat'ed only after the marker directory changed (:mod:`.watch`)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.fspath(root)
        self._file = _path(self.root)
        #: (inode, mtime, size) of the faults.json last read (a rename gives a new inode
        #: even within one tick of a coarse clock)
        self._stamp: Optional[tuple[int, int, int]] = None
        self._faults: list[dict[str, Any]] = []
        #: kind -> the faults of that kind (most writes look up a kind there is none of)
        self._by_kind: dict[str, list[dict[str, Any]]] = {}
        self._pinned = False
        #: the marker directory, held open (``O_PATH``): faults.json is looked
        #: up from there, one step, instead of from / (issue 14); [] until
        #: first needed, [None] where it cannot be opened
        self._marker_fd: list[Optional[int]] = []
        self._watch: Optional[DirectoryWatch] = None
        #: called before an injected offline hang starts (the simulated kernel
        #: brings its derived files up to date for readers in other processes)
        self.before_hang: Optional[Callable[[], None]] = None

    def writing(self) -> None:
        """A write is being answered: faults.json is looked at now, and not again until :meth:`done_writing`."""
        self._pinned = False
        self._current()
        self._pinned = True

    def done_writing(self) -> None:
        self._pinned = False

    def watch(self) -> None:
        """From now until :meth:`unwatch`, faults.json is stat'ed only after
        the marker directory changed (a burst of writes: SimulatedKernel.burst)."""
        if self._watch is None:
            self._watch = watch_directory(os.path.dirname(self._file))

    def unwatch(self) -> None:
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.close()

    def _stat(self) -> Optional[os.stat_result]:
        """faults.json's stat, None when there is none."""
        held = self._marker_fd
        if not held:
            try:
                held.append(os.open(os.path.dirname(self._file), os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC))
                weakref.finalize(self, _close_held, held)
            except OSError:
                held.append(None)
        try:
            if held[0] is None:
                return os.stat(self._file)
            return os.stat(FAULTS_FILE, dir_fd=held[0])
        except FileNotFoundError:
            return None

    def _current(self) -> list[dict[str, Any]]:
        if self._pinned or (self._watch is not None and not self._watch.changed()):
            return self._faults
        st = self._stat()
        if st is None:
            self._faults, self._by_kind, self._stamp = [], {}, None
            return self._faults
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            self._faults = load(self.root)
            self._by_kind = {}
            for f in self._faults:
                self._by_kind.setdefault(f.get("kind"), []).append(f)  # type: ignore[arg-type]
            self._stamp = stamp
        return self._faults

    def _matching(self, kind: str) -> Sequence[dict[str, Any]]:
        if not self._pinned:
            self._current()
        return self._by_kind.get(kind, ())

    def check_offline(self, index: int) -> None:
        if self._pinned and not self._by_kind:
            return  # (answering a write, faults.json looked at for it: none injected)
        for f in self._matching("offline-busy"):
            if index in f.get("blocks", []):
                raise WriteRefused(_errno_of(f, _errno.EBUSY))
        for f in self._matching("offline-hang"):
            if index in f.get("blocks", []):
                # The kernel keeps retrying; only a signal ends it (EINTR).
                if self.before_hang is not None:
                    self.before_hang()
                end = time.monotonic() + float(f.get("seconds", HANG_CAP_SECONDS))
                while time.monotonic() < end:
                    time.sleep(0.05)
                raise WriteRefused(_errno.EINTR)

    def check_online(self, index: int) -> None:
        if self._pinned and not self._by_kind:
            return  # (as check_offline)
        for f in self._matching("online-fail"):
            if index in f.get("blocks", []):
                raise WriteRefused(_errno_of(f, _errno.EINVAL))

    def check_bind(self, driver: str, device: str) -> None:
        for f in self._matching("bind-fail"):
            if f.get("driver", driver) == driver and f.get("device", device) == device:
                raise WriteRefused(_errno_of(f, _errno.ENXIO))

    def udev_race_zone(self) -> Optional[str]:
        for f in self._matching("udev-race"):
            return str(f.get("zone", "Normal"))
        return None

    def count_write(self, vanish: Callable[[str], None], target: str) -> None:
        """Count down ``vanish`` faults; when a count hits 0 the device goes
        (``vanish(name)``: the dax subsystem's surprise removal)."""
        if self._pinned and not self._by_kind:
            return  # (as check_offline)
        pending = self._matching("vanish")
        if not pending:
            return
        faults = self._current()
        changed = False
        for f in pending:
            left = int(f.get("after_writes", 0))
            if left < 0:  # already happened
                continue
            changed = True
            if left == 0:
                vanish(str(f["device"]))
                f["after_writes"] = -1
            else:
                f["after_writes"] = left - 1
        if changed:
            _save(self.root, faults)
            st = self._stat()  # (our own change: not re-read)
            self._stamp = (st.st_ino, st.st_mtime_ns, st.st_size) if st is not None else None


def _close_held(held: list[Optional[int]]) -> None:
    fd = held[0] if held else None
    if fd is not None:
        try:
            os.close(fd)
        except OSError:
            pass
