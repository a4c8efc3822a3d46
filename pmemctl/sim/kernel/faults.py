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
import json
import os
import time
from typing import Any, Callable, Optional

from pmemctl.sim.kernel.confined import save_json
from pmemctl.sim.kernel.errors import WriteRefused
from pmemctl.sim.tree import MARKER_DIR

FAULTS_FILE = "faults.json"
KINDS = ("offline-busy", "offline-hang", "online-fail", "bind-fail", "vanish", "udev-race")

#: the longest an injected "never finishes" offline sleeps when no signal comes
HANG_CAP_SECONDS = 600.0


def _path(root: str | os.PathLike[str]) -> str:
    return os.path.join(os.fspath(root), MARKER_DIR, FAULTS_FILE)


def load(root: str | os.PathLike[str]) -> list[dict[str, Any]]:
    try:
        with open(_path(root)) as fh:
            return list(json.load(fh))
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
    :meth:`done_writing`, and at every call outside a write."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.fspath(root)
        self._mtime: Optional[float] = None
        self._faults: list[dict[str, Any]] = []
        self._pinned = False
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

    def _current(self) -> list[dict[str, Any]]:
        if self._pinned:
            return self._faults
        try:
            mtime = os.stat(_path(self.root)).st_mtime_ns
        except FileNotFoundError:
            self._faults, self._mtime = [], None
            return self._faults
        if mtime != self._mtime:
            self._faults = load(self.root)
            self._mtime = mtime
        return self._faults

    def _matching(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self._current() if f.get("kind") == kind]

    def check_offline(self, index: int) -> None:
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
            self._mtime = os.stat(_path(self.root)).st_mtime_ns  # (our own change: not re-read)
