"""Walking to a directory below a root without following links, and
replacing a file in it atomically: the one piece pmemctl's own files
(:mod:`pmemctl.sysfs.state`: lock and journal) and the files it installs
(:mod:`pmemctl.sysfs.etcfiles`: boot units) share.

Each directory on the way is opened relative to its parent with
``O_NOFOLLOW | O_DIRECTORY``, so no symbolic link and no non-directory below
the root is ever passed through unless the caller's policy (``on_refused``)
decides otherwise and hands back a directory fd itself.  The callers differ
only in policy: which links they accept (state: a root-owned link on the
running machine), the mode of directories they create (0700 / 0755) and how
a refusal reads; the walk and the write are here.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from typing import Optional

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
#: files: never a link, never blocking on a FIFO, never a controlling tty
FILE_FLAGS = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY

#: ``on_refused(dir_fd, name, walked, err)``: the open of directory ``name``
#: (target path ``walked``) failed with ``err`` other than ENOENT.  Return a
#: directory fd to go on with (a link the policy accepts), raise a refusal,
#: or return None to let ``err`` propagate.
OnRefused = Callable[[int, str, str, OSError], Optional[int]]


def open_root(root: str) -> int:
    """The root itself: followed if it is a link (the user named it)."""
    return os.open(root, DIR_FLAGS & ~os.O_NOFOLLOW)


def walk(root_fd: int, parts: Sequence[str], *, create_mode: Optional[int], on_refused: OnRefused,
         created: Optional[list[str]] = None) -> Optional[int]:
    """A directory fd for ``/parts...`` below ``root_fd`` (which is consumed:
    closed on every path).  A missing component is made with ``create_mode``
    (its target path appended to ``created``), or the answer is None when
    ``create_mode`` is None."""
    fd = root_fd
    walked = ""
    try:
        for part in parts:
            walked += "/" + part
            try:
                nxt = os.open(part, DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if create_mode is None:
                    return None
                try:
                    os.mkdir(part, create_mode, dir_fd=fd)
                    if created is not None:
                        created.append(walked)
                except FileExistsError:
                    pass  # made by a concurrent run between the two calls
                nxt = os.open(part, DIR_FLAGS, dir_fd=fd)
            except OSError as err:
                accepted = on_refused(fd, part, walked, err)
                if accepted is None:
                    raise
                nxt = accepted
            os.close(fd)
            fd = nxt
        out, fd = fd, -1
        return out
    finally:
        if fd >= 0:
            os.close(fd)


def write_all(fd: int, payload: bytes) -> None:
    """Write every byte (a short write is continued, never left torn)."""
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view):]


def atomic_replace(dir_fd: int, name: str, payload: bytes, *, tmp: str, mode: int, exact_mode: bool = False) -> None:
    """Replace ``name`` in ``dir_fd`` with ``payload``: a temporary ``tmp``
    (created exclusively, fsync'ed) renamed over it, so a reader sees the old
    file or the new one; a rename replaces a link itself, never its target.
    ``exact_mode``: the mode is set as given, not narrowed by the umask."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp, dir_fd=dir_fd)  # left by a crashed run with this pid
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | FILE_FLAGS, mode, dir_fd=dir_fd)
    try:
        try:
            if exact_mode:
                os.fchmod(fd, mode)
            write_all(fd, payload)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise


__all__ = ["DIR_FLAGS", "FILE_FLAGS", "OnRefused", "atomic_replace", "open_root", "walk", "write_all"]
