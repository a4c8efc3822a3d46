"""The provisioning layout's files: ``/etc/pmemctl/pmemctl.toml`` and
``/etc/pmemctl/conf.d/*.toml`` under the sysroot, or files named with
``--config``; and daxctl's ``/etc/daxctl.conf.d/*.conf`` for the importer.

Only bytes come out of here; decoding, parsing and validation are the
layout's (pmemctl/ops/layout).  A file that cannot be read is a
:class:`LayoutFileProblem` naming it, never a traceback: a symlink loop
(ELOOP), a link leading out of the sysroot, a directory or FIFO where a file
should be, or a file larger than :data:`MAX_LAYOUT_BYTES`.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import Optional

from pmemctl.errors import OutsideSysroot, os_error_text
from pmemctl.sysfs.door import SysfsRoot

MAIN_FILE = "/etc/pmemctl/pmemctl.toml"
CONF_D = "/etc/pmemctl/conf.d"
DAXCTL_CONF_D = "/etc/daxctl.conf.d"
#: a layout describes a few dozen devices; anything this large is not one
MAX_LAYOUT_BYTES = 1 << 20

_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY


class LayoutFileProblem(Exception):
    """A layout file that cannot be read; ``path`` is what to show the user."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def _read_host(host: str, shown: str, limit: int) -> bytes:
    try:
        fd = os.open(host, _READ_FLAGS)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise LayoutFileProblem(shown, "symlink loop: the link never reaches a file") from None
        if err.errno == errno.ENOENT:
            raise LayoutFileProblem(shown, "no such file" + (" (a dangling symlink)" if os.path.islink(host)
                                                             else "")) from None
        raise LayoutFileProblem(shown, f"cannot be read: {os_error_text(err)}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise LayoutFileProblem(shown, "is not a regular file")
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = os.read(fd, min(65536, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise LayoutFileProblem(shown, f"is larger than {limit // 1024} KiB: not a layout file")
        return b"".join(chunks)
    except OSError as err:
        raise LayoutFileProblem(shown, f"cannot be read: {os_error_text(err)}") from None
    finally:
        os.close(fd)


def read_under_sysroot(door: SysfsRoot, kpath: str, limit: int = MAX_LAYOUT_BYTES) -> Optional[bytes]:
    """A file at kernel path ``kpath`` under the sysroot; None when it does not
    exist at all (neither file nor link).  Links may point anywhere inside
    the sysroot, not out of it."""
    host = door.host_path(kpath)
    if not os.path.lexists(host):
        return None
    try:
        real = door._confined_realpath(kpath)
    except OutsideSysroot:
        raise LayoutFileProblem(host, f"is a link leading out of the sysroot {door.root}") from None
    except OSError as err:  # a loop makes realpath fail on some Pythons
        raise LayoutFileProblem(host, f"cannot be resolved: {os_error_text(err)}") from None
    return _read_host(real if os.path.exists(real) else host, host, limit)


def read_named(path: str, limit: int = MAX_LAYOUT_BYTES) -> bytes:
    """A file the user named (``--config FILE``), as given."""
    return _read_host(path, path, limit)


def conf_d_files(door: SysfsRoot, kdir: str = CONF_D, suffix: str = ".toml", *,
                 follow_links: bool = True) -> list[str]:
    """Kernel paths of the ``*suffix`` entries of ``kdir`` in lexical (byte)
    order; [] when the directory is absent.  Entries that are directories are
    skipped; with ``follow_links`` False (daxctl's rule) so are symlinks."""
    host = door.host_path(kdir)
    return [f"{kdir}/{os.path.basename(p)}" for p in list_dir(host, suffix, follow_links=follow_links)]


def list_dir(host: str, suffix: str, *, follow_links: bool = True) -> list[str]:
    """Host paths of the ``*suffix`` files of directory ``host``, lexical order."""
    try:
        names = os.listdir(host)
    except FileNotFoundError:
        return []
    except NotADirectoryError:
        raise LayoutFileProblem(host, "is not a directory") from None
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise LayoutFileProblem(host, "symlink loop: the link never reaches a directory") from None
        raise LayoutFileProblem(host, f"cannot be listed: {os_error_text(err)}") from None
    out: list[str] = []
    for name in sorted(names, key=os.fsencode):
        if not name.endswith(suffix) or name.startswith("."):
            continue
        entry = os.path.join(host, name)
        if os.path.islink(entry) and not follow_links:
            continue
        if os.path.isdir(entry) or not follow_links and not os.path.isfile(entry):
            continue
        out.append(entry)
    return out


def is_link(door: SysfsRoot, kpath: str) -> bool:
    return os.path.islink(door.host_path(kpath))


def write_text(path: str, text: str, *, force: bool) -> None:
    """Write a generated layout to ``path`` (a file the user named); refuse
    to replace an existing file unless ``force``.  Raises LayoutFileProblem."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o644)
    except FileExistsError:
        raise LayoutFileProblem(path, "exists already (add --force to replace it)") from None
    except OSError as err:
        raise LayoutFileProblem(path, f"cannot be written: {os_error_text(err)}") from None
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
