"""openat2(2) with RESOLVE_BENEATH: one system call that opens a path below
a directory fd and refuses any way out of it (issue 14: the door's
confinement check of every write under a sysroot).

openat2 (Linux 5.6+, syscall 437 on every architecture that uses the
generic syscall table; Python 3.11 has no ``os.openat2``) resolves the
whole path in the kernel, atomically with respect to renames, and with

* ``RESOLVE_BENEATH``: no absolute path, no ``..`` above the directory
  (EXDEV);
* ``RESOLVE_NO_SYMLINKS``: no symbolic link on the way, last component
  included (ELOOP);
* ``RESOLVE_NO_MAGICLINKS``: no /proc magic link (implied by the above,
  said anyway).

So a path it opens lies, as written, inside the directory: its real path
is the directory's real path joined with it.  Anything else (a kernel
without openat2, a seccomp filter refusing it with EPERM or ENOSYS, a link
in the tree, a missing file) is the caller's cue to take its ordinary path,
which names the error.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Callable, Optional

#: include/uapi/linux/openat2.h
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
#: the generic syscall number (arch/*/entry/syscalls, include/uapi/asm-generic/unistd.h)
_SYS_OPENAT2 = 437
_MACHINES = frozenset({"x86_64", "amd64", "i686", "i386", "aarch64", "arm64", "ppc64le", "ppc64", "s390x",
                       "riscv64", "loongarch64"})
#: errnos that say openat2 itself cannot be used here (old kernel, seccomp, old flags)
_UNAVAILABLE = frozenset({errno.ENOSYS, errno.EPERM, errno.EINVAL, errno.E2BIG})

OpenBeneath = Callable[[int, str], Optional[int]]

_opener: Optional[OpenBeneath] = None
_probed = False


def _build() -> Optional[OpenBeneath]:
    """An ``O_PATH`` opener through openat2, or None where there is none."""
    if sys.platform != "linux" or os.uname().machine not in _MACHINES:
        return None
    import ctypes  # loaded only by the first confined write (start-up time, issue 14)

    class OpenHow(ctypes.Structure):
        _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]

    try:
        syscall = ctypes.CDLL(None, use_errno=True).syscall
    except (OSError, AttributeError):
        return None
    syscall.restype = ctypes.c_long
    # no argtypes (their conversions cost more than the system call here): the
    # ints go as C ints, which libffi widens to the registers' width, and the
    # struct by reference
    # O_PATH opens nothing for I/O: no FIFO or device side effect
    how = OpenHow(os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, 0,
                  RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
    how_ref, how_size = ctypes.byref(how), ctypes.sizeof(how)
    get_errno = ctypes.get_errno
    state = {"usable": True}

    def open_beneath(dir_fd: int, rel: str) -> Optional[int]:
        if not state["usable"]:
            return None
        fd: int = syscall(_SYS_OPENAT2, dir_fd, rel.encode("utf-8", "surrogateescape"), how_ref, how_size)
        if fd >= 0:
            return fd
        if get_errno() in _UNAVAILABLE:
            state["usable"] = False  # not on this kernel (or not allowed): never asked again
        return None

    open_beneath.how = how  # type: ignore[attr-defined]  # keeps the struct alive with the function
    return open_beneath


def opener() -> Optional[OpenBeneath]:
    """``open_beneath(dir_fd, rel)``: an ``O_PATH | O_NOFOLLOW | O_CLOEXEC``
    fd of ``rel`` resolved beneath ``dir_fd`` with no symbolic link on the
    way, or None when it cannot be opened that way (the caller then takes
    its ordinary path).  None itself where openat2 is not available."""
    global _opener, _probed
    if not _probed:
        _opener = _build()
        _probed = True
    return _opener
