"""The exception tree and the documented exit codes.

Every failure pmemctl reports is a :class:`PmemctlError`.  Each class knows
its exit code, so the CLI has one funnel (``cli.main``) that turns any of them
into one sentence on stderr and that code.  Kernel errors keep their errno,
the path written or read and the value, so a message can name the object, the
cause and the next step.
"""

from __future__ import annotations

import errno as _errno
import os
import stat as _stat
from enum import IntEnum
from typing import Optional

from pmemctl.commandline import command_line


class ExitCode(IntEnum):
    """Process exit codes; documented in the README and pmemctl(1)."""

    OK = 0  # read succeeded, or the change was made and verified
    FAILED = 1  # an error; nothing needed undoing, or nothing had been changed
    USAGE = 2  # bad options or arguments (also click's own usage errors)
    NO_CHANGE = 3  # already in the requested state; nothing written
    PARTIAL = 4  # some targets changed, some did not; the machine is consistent
    REFUSED = 5  # a pre-check refused before the first write
    ROLLED_BACK = 6  # a step failed and everything this run changed was undone
    ROLLBACK_INCOMPLETE = 7  # undoing a failed step failed too, or Ctrl-C stopped a change: the journal is kept
    NOT_FOUND = 8  # a named object, scenario or sysroot does not exist
    UNSUPPORTED = 9  # the kernel lacks the feature (attribute or driver absent)
    LOCKED = 10  # another pmemctl run holds the lock, or an unfinished journal exists
    DRIFT = 11  # apply --check: the machine differs from the provisioning layout
    DOCTOR_WARNINGS = 12  # doctor: findings of severity warning, none of severity error
    DOCTOR_ERRORS = 13  # doctor: at least one finding of severity error


class PmemctlError(Exception):
    """Base of every error pmemctl reports to a user."""

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, *, hint: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def sentence(self) -> str:
        """The one line shown to the user: what, why, and what to do next."""
        if self.hint:
            return f"{self.message}; {self.hint}"
        return self.message


class UsageError(PmemctlError):
    exit_code = ExitCode.USAGE


class NotFound(PmemctlError):
    """A named object (device, block, scenario, sysroot) does not exist."""

    exit_code = ExitCode.NOT_FOUND


class Unsupported(PmemctlError):
    exit_code = ExitCode.UNSUPPORTED


class Refused(PmemctlError):
    exit_code = ExitCode.REFUSED


class NoChange(PmemctlError):
    exit_code = ExitCode.NO_CHANGE


class Locked(PmemctlError):
    exit_code = ExitCode.LOCKED


class Interrupted(PmemctlError):
    """Ctrl-C (or SIGTERM) during apply: the journal is kept for rollback/resume."""

    exit_code = ExitCode.ROLLBACK_INCOMPLETE


class BadAttribute(PmemctlError):
    """An attribute held something its parser cannot read (garbage)."""

    def __init__(self, path: str, value: str, expected: str) -> None:
        shown = value if len(value) <= 40 else value[:37] + "..."
        super().__init__(
            f"{path}: unexpected content {shown!r} (expected {expected})",
            hint="the tree may be damaged or from an unsupported kernel",
        )
        self.path = path
        self.value = value


class NotASysfsTree(NotFound):
    def __init__(self, sysroot: str, missing: str) -> None:
        super().__init__(
            f"{sysroot} is not a sysfs tree: {missing} does not exist",
            hint="point --sysroot (or PMEMCTL_SYSROOT) at / or at a tree made by 'pmemctl sim create'",
        )
        self.sysroot = sysroot


# --- kernel errors ---------------------------------------------------------

_ERRNO_MEANING = {
    _errno.ENOENT: "no such attribute or object",
    _errno.EINVAL: "the kernel rejected the value as invalid",
    _errno.EBUSY: "the device or memory is busy",
    _errno.EACCES: "permission denied (read-only attribute or not root)",
    _errno.EPERM: "operation not permitted",
    _errno.ENXIO: "no such device or address (device disabled or gone)",
    _errno.ENODEV: "no such device (not bound, or no driver accepts it)",
    _errno.ENOSPC: "not enough space in the region",
    _errno.EINTR: "interrupted",
    _errno.ENOMEM: "out of memory",
    _errno.EAGAIN: "try again later",
    _errno.EOPNOTSUPP: "not supported by this kernel",
    _errno.ETIMEDOUT: "timed out",
}


#: Linux errno names Python's errno module lacks (asm-generic/errno.h)
_LINUX_ONLY_ERRNO_NAMES = {133: "EHWPOISON"}
_ERRNO_MEANING[133] = "the memory holds a page with a hardware error (poisoned), which the kernel will not move"


def errno_name(code: int) -> str:
    """The symbolic name of an errno (``EBUSY``), never a bare number for one
    Linux defines; ``errno N`` only for a number no kernel uses."""
    return _errno.errorcode.get(code) or _LINUX_ONLY_ERRNO_NAMES.get(code) or f"errno {code}"


def errno_meaning(code: int) -> str:
    return _ERRNO_MEANING.get(code) or os.strerror(code).lower()


def os_error_text(err: OSError) -> str:
    """An OSError on an ordinary file, as pmemctl prints every errno: its
    name and its meaning (``EACCES, permission denied``), never ``[Errno 13]``."""
    if not isinstance(err.errno, int):
        return str(err)
    meaning = (err.strerror or os.strerror(err.errno)).lower()
    if err.errno == 133 and meaning.startswith("unknown error"):
        meaning = _ERRNO_MEANING[133]
    return f"{errno_name(err.errno)}, {meaning}"


class KernelError(PmemctlError):
    """A read or write under the sysroot failed with an errno.

    Subclasses exist for the errnos callers branch on; ``errno``, ``path`` and
    ``value`` are always set.
    """

    errno_value: int = 0

    def __init__(
        self,
        path: str,
        err: int,
        *,
        value: Optional[str] = None,
        op: str = "write",
        hint: Optional[str] = None,
        meaning: Optional[str] = None,
    ) -> None:
        self.path = path
        self.errno = err
        self.value = value
        self.op = op
        name = errno_name(err)
        if op == "write" and value is not None:
            what = f"writing {value!r} to {path}"
        else:
            what = f"{op} {path}"
        # ``meaning``: what the errno says of this object when the sysfs-attribute
        # reading (``errno_meaning``) does not fit it, e.g. a directory
        super().__init__(f"{what} failed: {name}, {meaning or errno_meaning(err)}", hint=hint)


class AttributeMissing(KernelError):
    errno_value = _errno.ENOENT


class InvalidValue(KernelError):
    errno_value = _errno.EINVAL


class Busy(KernelError):
    errno_value = _errno.EBUSY


class AccessDenied(KernelError):
    errno_value = _errno.EACCES


class NoDevice(KernelError):
    errno_value = _errno.ENXIO


class OutsideSysroot(PmemctlError):
    """A path (after following symlinks) leaves the sysroot."""

    exit_code = ExitCode.REFUSED


_KERNEL_ERROR_BY_ERRNO: dict[int, type[KernelError]] = {
    _errno.ENOENT: AttributeMissing,
    _errno.ENOTDIR: AttributeMissing,
    _errno.EINVAL: InvalidValue,
    _errno.EBUSY: Busy,
    _errno.EACCES: AccessDenied,
    _errno.EPERM: AccessDenied,
    _errno.ENXIO: NoDevice,
    _errno.ENODEV: NoDevice,
}


def kernel_error(
    path: str, err: int, *, value: Optional[str] = None, op: str = "write"
) -> KernelError:
    """Build the typed exception for ``err`` (callers ``raise ... from oserror``)."""
    cls = _KERNEL_ERROR_BY_ERRNO.get(err, KernelError)
    return cls(path, err, value=value, op=op)


class UnsafeStateFile(Refused):
    """One of pmemctl's own files (lock, journal, last-run summary) or a
    directory on its way is a symlink, not a regular file, or not owned by
    the user running pmemctl: it is refused, never followed or written."""

    def __init__(self, path: str, why: str) -> None:
        super().__init__(
            f"{path} {why}; pmemctl keeps its lock and journal only in plain files it owns",
            hint=f"remove {path} (after checking what put it there) and run the command again",
        )
        self.path = path
        self.why = why


class DamagedJournal(Locked):
    """The intent journal cannot be read: it is not valid, or names steps
    this pmemctl does not know.  Nothing is changed while it is there."""

    def __init__(self, path: str, state: str, *, sysroot: str = "/") -> None:
        listing, blocks, abandon = (command_line(*words, sysroot=sysroot)
                                    for words in (("list",), ("blocks",), ("journal", "abandon")))
        super().__init__(
            f"the journal {path} cannot be read ({state}), so pmemctl cannot tell what an earlier change did",
            hint=f"check the machine with '{listing}' and '{blocks}', put it right by hand, then run "
            f"'{abandon}' to archive the journal and continue",
        )
        self.path = path
        self.state = state
        self.sysroot = sysroot


class NotAnAttribute(KernelError):
    """Where a kernel attribute should be there is a symlink, a FIFO, a
    device node or a directory: refused before anything is read or written
    (sysfs and procfs attributes are regular files)."""

    def __init__(self, path: str, what: str, *, op: str = "read", value: Optional[str] = None) -> None:
        super().__init__(path, _errno.ELOOP if what == "a symbolic link" else _errno.EOPNOTSUPP, value=value, op=op)
        self.message = f"{op} {path} refused: it is {what}, not a kernel attribute file"
        self.what = what


def file_kind(mode: int) -> str:
    """A few words for what a non-regular file is (for :class:`NotAnAttribute`)."""
    for test, words in ((_stat.S_ISLNK, "a symbolic link"), (_stat.S_ISDIR, "a directory"),
                        (_stat.S_ISFIFO, "a FIFO"), (_stat.S_ISCHR, "a character device"),
                        (_stat.S_ISBLK, "a block device"), (_stat.S_ISSOCK, "a socket")):
        if test(mode):
            return words
    return "not a regular file"
