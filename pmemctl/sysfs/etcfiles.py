"""Configuration files under a root directory: read, write atomically, remove.

The door (:mod:`pmemctl.sysfs.door`) is for kernel attributes; this is its
counterpart for the few plain files pmemctl installs into a system's ``/etc``
(``pmemctl boot install``: systemd units, drop-ins, a udev rule).  It lives in
the sysfs room because that room alone touches files under the sysroot.

Confinement: every path is a *target path* (``/etc/systemd/system/x``) mapped
under ``root``.  Each directory on the way is opened relative to its parent
with ``O_NOFOLLOW``, so a symbolic link anywhere below ``root`` (even one
pointing back inside it) is refused, never followed: a file is written
exactly where its path says, on the target's own file system.  Writes go to a
temporary file in the same directory, are fsync'ed, and renamed over the
name (atomic: a reader sees the old file or the new one, never half of one).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from typing import Optional

from pmemctl.errors import OutsideSysroot, PmemctlError
from pmemctl.sysfs import confined

#: refuse to read files larger than this (units are a few hundred bytes)
MAX_CONFIG_BYTES = 1 << 20

_FILE_FLAGS = confined.FILE_FLAGS


class ConfigFileError(PmemctlError):
    """A configuration file could not be read, written or removed."""


def host_path(root: str, path: str) -> str:
    """Where target ``path`` lives on this host (under ``root``)."""
    return os.path.join(root, *_parts(path))


def _parts(path: str) -> list[str]:
    if not path.startswith("/"):
        raise ValueError(f"not an absolute target path: {path!r}")
    parts = [p for p in path.split("/") if p]
    if any(p in (".", "..") for p in parts) or not parts:
        raise ValueError(f"not a plain target path: {path!r}")
    return parts


@contextlib.contextmanager
def _directory(root: str, parts: list[str], *, create: bool, created: Optional[list[str]] = None) -> Iterator[int]:
    """An fd of the directory ``/parts...`` under ``root``, each component
    opened without following links (sysfs/confined.py); missing ones are
    made 0755 when ``create`` (their target paths appended to ``created``).
    Yields -1 when a component is missing and not ``create``."""

    def on_refused(dir_fd: int, name: str, walked: str, err: OSError) -> Optional[int]:
        if err.errno in (errno.ELOOP, errno.ENOTDIR):
            raise OutsideSysroot(
                f"{os.path.join(root, walked.lstrip('/'))} is a symbolic link or not a directory: "
                f"pmemctl writes only into real directories under {root}",
                hint="replace it with a directory, or install with --root elsewhere") from err
        return None

    fd = confined.walk(confined.open_root(root), parts, create_mode=0o755 if create else None,
                       on_refused=on_refused, created=created)
    try:
        yield -1 if fd is None else fd
    finally:
        if fd is not None:
            os.close(fd)


def _refuse_odd(root: str, path: str, st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        what = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a regular file"
        raise OutsideSysroot(f"{host_path(root, path)} is {what}; pmemctl neither follows nor replaces it",
                             hint="move it away and run the command again")


def read_config(root: str, path: str) -> Optional[bytes]:
    """The bytes of target ``path`` under ``root``; None when it (or a
    directory above it) does not exist."""
    parts = _parts(path)
    with _directory(root, parts[:-1], create=False) as dfd:
        if dfd < 0:
            return None
        try:
            fd = os.open(parts[-1], os.O_RDONLY | _FILE_FLAGS, dir_fd=dfd)
        except FileNotFoundError:
            return None
        except OSError as err:
            if err.errno == errno.ELOOP:
                _refuse_odd(root, path, os.lstat(parts[-1], dir_fd=dfd))
            raise
        try:
            _refuse_odd(root, path, os.fstat(fd))
            data = b""
            while len(data) <= MAX_CONFIG_BYTES:
                chunk = os.read(fd, 65536)
                if not chunk:
                    return data
                data += chunk
            raise ConfigFileError(f"{host_path(root, path)} is larger than {MAX_CONFIG_BYTES} bytes: not a file "
                                  "pmemctl wrote", hint="move it away and run the command again")
        finally:
            os.close(fd)


def write_config(root: str, path: str, content: bytes, mode: int = 0o644) -> list[str]:
    """Write target ``path`` under ``root`` atomically (temporary file, fsync,
    rename, fsync of the directory).  Returns the directories it had to make
    (target paths, outermost first)."""
    parts = _parts(path)
    created: list[str] = []
    with _directory(root, parts[:-1], create=True, created=created) as dfd:
        name = parts[-1]
        with contextlib.suppress(FileNotFoundError):
            _refuse_odd(root, path, os.lstat(name, dir_fd=dfd))
        confined.atomic_replace(dfd, name, content, tmp=f".{name}.pmemctl-tmp.{os.getpid()}", mode=mode,
                                exact_mode=True)
        os.fsync(dfd)
    return created


def is_directory(root: str, path: str) -> bool:
    """True when target ``path`` under ``root`` is a real directory (links not followed)."""
    parts = _parts(path)
    with _directory(root, parts[:-1], create=False) as dfd:
        if dfd < 0:
            return False
        try:
            return stat.S_ISDIR(os.lstat(parts[-1], dir_fd=dfd).st_mode)
        except FileNotFoundError:
            return False


def remove_config(root: str, path: str) -> bool:
    """Remove target ``path`` under ``root``; False when it was not there."""
    parts = _parts(path)
    with _directory(root, parts[:-1], create=False) as dfd:
        if dfd < 0:
            return False
        try:
            _refuse_odd(root, path, os.lstat(parts[-1], dir_fd=dfd))
            os.unlink(parts[-1], dir_fd=dfd)
        except FileNotFoundError:
            return False
        os.fsync(dfd)
        return True


def remove_empty_directory(root: str, path: str) -> bool:
    """Remove directory ``path`` under ``root`` if it exists and is empty."""
    parts = _parts(path)
    with _directory(root, parts[:-1], create=False) as dfd:
        if dfd < 0:
            return False
        try:
            os.rmdir(parts[-1], dir_fd=dfd)
        except OSError as err:
            if err.errno in (errno.ENOENT, errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                return False
            raise
        return True
