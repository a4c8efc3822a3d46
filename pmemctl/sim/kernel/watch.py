"""Has anything changed in a directory since last asked?  (inotify(7))

The simulated kernel looks at ``faults.json`` once per write it answers, so
that a fault injected by another process between two writes takes effect at
the next one.  A ``stat`` per write is a path lookup (and an exception when
there is no such file) on every block; inside a burst the marker directory is
watched instead, and ``faults.json`` is stat'ed again only after an entry of
that directory was created, removed, renamed, written or changed (what
:func:`faults.inject`, :func:`faults.clear` or an editor does to it).  The
kernel queues the event before the other process's call returns, so one
``poll`` with no timeout per write tells it.

Held only while a burst runs (one inotify instance; the per-user limit,
``fs.inotify.max_user_instances``, is 128 by default); where inotify is not
to be had, :func:`watch_directory` returns None and every write stats.
"""

from __future__ import annotations

import os
import select
import struct
from typing import Any, Optional

_IN_MODIFY = 0x2
_IN_ATTRIB = 0x4
_IN_CLOSE_WRITE = 0x8
_IN_MOVED_FROM = 0x40
_IN_MOVED_TO = 0x80
_IN_CREATE = 0x100
_IN_DELETE = 0x200
_IN_DELETE_SELF = 0x400
_IN_MOVE_SELF = 0x800
_IN_Q_OVERFLOW = 0x4000
_IN_IGNORED = 0x8000
_IN_ONLYDIR = 0x01000000
_IN_DONT_FOLLOW = 0x02000000
_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC
_MASK = (_IN_MODIFY | _IN_ATTRIB | _IN_CLOSE_WRITE | _IN_MOVED_FROM | _IN_MOVED_TO | _IN_CREATE | _IN_DELETE
         | _IN_DELETE_SELF | _IN_MOVE_SELF | _IN_ONLYDIR | _IN_DONT_FOLLOW)
_EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len (then the name)

_libc: list[Any] = []


def _load_libc() -> Any:
    if not _libc:
        import ctypes  # (only when a simulated burst first watches)

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.inotify_init1.argtypes = (ctypes.c_int,)
            libc.inotify_add_watch.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32)
        except (OSError, AttributeError):
            libc = None
        _libc.append(libc)
    return _libc[0]


class DirectoryWatch:
    """An inotify watch on one directory's entries (see the module docstring)."""

    def __init__(self, fd: int) -> None:
        self._fd: Optional[int] = fd
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN)
        self._unseen = True  # nothing looked at since the watch began

    def changed(self) -> bool:
        """True when the directory may have changed since the last call
        (always the first time, and from the moment the watch is lost:
        the directory went, or the event queue overflowed)."""
        if self._fd is None:
            return True
        if self._poll.poll(0):
            self._unseen = False
            self._drain()
            return True
        unseen, self._unseen = self._unseen, False
        return unseen

    def _drain(self) -> None:
        assert self._fd is not None
        while True:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                return
            offset = 0
            while offset + _EVENT.size <= len(data):
                _wd, mask, _cookie, size = _EVENT.unpack_from(data, offset)
                offset += _EVENT.size + size
                if mask & (_IN_IGNORED | _IN_Q_OVERFLOW | _IN_DELETE_SELF | _IN_MOVE_SELF):
                    self.close()  # no more (reliable) events: every call says "changed" from now
                    return

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            self._poll.unregister(fd)
            os.close(fd)


def watch_directory(path: str) -> Optional[DirectoryWatch]:
    """A watch on the entries of directory ``path`` (never through a link), or None."""
    libc = _load_libc()
    if libc is None:
        return None
    fd = libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
    if fd < 0:
        return None  # (EMFILE: the user's inotify instances are all taken)
    if libc.inotify_add_watch(fd, os.fsencode(path), _MASK) < 0:
        os.close(fd)
        return None
    return DirectoryWatch(fd)


__all__ = ["DirectoryWatch", "watch_directory"]
