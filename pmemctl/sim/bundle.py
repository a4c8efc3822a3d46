"""Support bundles: ``pmemctl doctor --bundle FILE.tar.gz`` and
``pmemctl sim unpack FILE DIR``.

A bundle is a gzip'd tar whose members all live under ``pmemctl-bundle/``:
a ``pmemctl sim record`` of the machine (sysfs and /proc/{iomem,cmdline,
meminfo}) plus the system files ``pmemctl doctor`` reads -- the kernel
release and configuration, modules.builtin, /proc/zoneinfo, the udev rules
that touch memory or dax devices, daxctl's configuration and unit, the
names of the ACPI tables, CXL memory devices, the pmemctl layout -- and
``.pmemctl-bundle/`` with the relevant kernel log lines (``dmesg.txt``) and
``bundle.json`` (time, source, tool versions).  Addresses and serials are
kept: the bundle is for the people debugging the machine.

Unpacked into DIR, ``pmemctl --sysroot DIR doctor`` reads it like the
machine and gives the same findings.  Unpacking is confined: only regular
files, directories and symlinks, no absolute names, no ``..``, no link that
leaves the bundle, and the bundle's metadata must be there.  Plain ``tar``
works too (``tar -xzf FILE -C DIR --strip-components=1``) for bundles you
made yourself.

Like :mod:`.record`, this is a recorder: it reads the source with plain
``os`` calls and never writes under it.
"""

from __future__ import annotations

import json
import os
import posixpath
import shutil
import stat
import subprocess
import tarfile
import tempfile
import time
import zlib
from typing import Any, Optional

from pmemctl.sim.record import record, remove_recording
from pmemctl.sysfs import system_paths as sp

PREFIX = "pmemctl-bundle"
BUNDLE_FORMAT = 1
#: the most a bundle may unpack to (a 6 TiB machine records ~150 MB of sysfs)
MAX_UNPACKED = 2 << 30
_TOOLS = (("ndctl", "--version"), ("daxctl", "--version"), ("cxl", "--version"), ("uname", "-a"))


class BadBundle(ValueError):
    """A file that is not a pmemctl support bundle, or not a whole one."""


# ----------------------------------------------------------------------------- writing


class _Copier:
    def __init__(self, source: str, dest: str) -> None:
        self.prefix = "" if source == "/" else source
        self.dest = dest
        self.files: list[str] = []

    def src(self, kpath: str) -> str:
        return self.prefix + kpath

    def copy(self, kpath: str, data: Optional[bytes] = None, mode: Optional[int] = None) -> None:
        if data is None:
            try:
                st = os.stat(self.src(kpath))
                if not stat.S_ISREG(st.st_mode):
                    return
                with open(self.src(kpath), "rb") as fh:
                    data = fh.read(16 << 20)
                mode = stat.S_IMODE(st.st_mode)
            except OSError:
                return
        target = self.dest + kpath
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.lexists(target):
            return
        with open(target, "wb") as fh:
            fh.write(data)
        os.chmod(target, mode if mode is not None else 0o644)
        self.files.append(kpath)

    def listdir(self, kpath: str) -> list[str]:
        try:
            return sorted(os.listdir(self.src(kpath)))
        except OSError:
            return []


def _release(c: _Copier) -> Optional[str]:
    try:
        with open(c.src(sp.OSRELEASE), encoding="utf-8") as fh:
            return fh.read().strip() or None
    except OSError:
        pass
    configs = [n for n in c.listdir(sp.BOOT) if n.startswith("config-")]
    return configs[0][len("config-"):] if len(configs) == 1 else None


def _copy_system_files(c: _Copier) -> None:
    release = _release(c)
    c.copy(sp.OSRELEASE)
    if release:
        c.copy(sp.kernel_config(release))
        c.copy(sp.modules_builtin(release))
    c.copy(sp.PROC_CONFIG_GZ)
    c.copy(sp.PROC_ZONEINFO)
    for d in sp.UDEV_RULES_DIRS:
        for name in c.listdir(d):
            path = f"{d}/{name}"
            try:
                with open(c.src(path), "rb") as fh:
                    text = fh.read(1 << 20)
            except OSError:
                continue
            if name.endswith(".rules") and (b"memory" in text or b"dax" in text or not text):
                c.copy(path, text, 0o644)  # an empty file masks a rule of that name: keep it
    for name in c.listdir(sp.DAXCTL_CONF_DIR):
        c.copy(f"{sp.DAXCTL_CONF_DIR}/{name}")
    for d in sp.SYSTEMD_UNIT_DIRS:
        c.copy(f"{d}/{sp.DAXCTL_UNIT}")
    for name in c.listdir(sp.ACPI_TABLES):  # names only: the tables are the firmware's, root-only
        if not os.path.isdir(c.src(f"{sp.ACPI_TABLES}/{name}")):
            c.copy(f"{sp.ACPI_TABLES}/{name}", b"", 0o400)
    for name in c.listdir(sp.CXL_DEVICES):
        for attr in ("ram/size", "pmem/size", "serial", "numa_node"):
            c.copy(f"{sp.CXL_DEVICES}/{name}/{attr}")
    c.copy(sp.LAYOUT_FILE)
    for name in c.listdir(sp.LAYOUT_DIR):
        c.copy(f"{sp.LAYOUT_DIR}/{name}")


def _dmesg(source: str, c: _Copier) -> Optional[str]:
    """The relevant kernel log lines: of the running machine, or a tree's own capture."""
    if source != "/":
        try:
            with open(c.src(sp.DMESG_CAPTURE), encoding="utf-8", errors="replace") as fh:
                return fh.read()
        except OSError:
            return None
    try:
        out = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=10, check=False,
                             stdin=subprocess.DEVNULL, env=dict(os.environ, LC_ALL="C"))
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return "".join(line + "\n" for line in out.stdout.splitlines() if sp.DMESG_PATTERNS.search(line))


def _tool_versions(source: str, pmemctl_version: str) -> dict[str, Optional[str]]:
    versions: dict[str, Optional[str]] = {"pmemctl": pmemctl_version}
    for tool, flag in _TOOLS:
        versions[tool] = None
        if source != "/" or shutil.which(tool) is None:
            continue
        try:
            out = subprocess.run([tool, flag], capture_output=True, text=True, timeout=10, check=False,
                                 stdin=subprocess.DEVNULL)
            versions[tool] = out.stdout.strip() or None
        except (OSError, subprocess.TimeoutExpired):
            pass
    return versions


def write_bundle(out_file: str, sysroot: str = "/", *, pmemctl_version: str = "unknown") -> str:
    """Capture the machine at ``sysroot`` into ``out_file`` (a .tar.gz);
    returns its absolute path.  Written to a temporary name first, so a
    failed capture leaves no partial bundle behind."""
    source = os.path.abspath(sysroot).rstrip("/") or "/"
    target = os.path.abspath(out_file)
    work = tempfile.mkdtemp(prefix="pmemctl-bundle-")
    tree = os.path.join(work, PREFIX)
    try:
        rec = record(tree, source)
        c = _Copier(source, tree)
        _copy_system_files(c)
        log = _dmesg(source, c)
        if log is not None:
            c.copy(sp.DMESG_CAPTURE, log.encode(), 0o644)
        meta: dict[str, Any] = {
            "format": BUNDLE_FORMAT,
            "tool": "pmemctl doctor --bundle",
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "source": source,
            "versions": _tool_versions(source, pmemctl_version),
            "dmesg": log is not None,
            "files": sorted(c.files),
            "recording": {"files": rec.files, "links": rec.links, "unreadable": sorted(rec.errors)},
        }
        c.copy(sp.BUNDLE_FILE, (json.dumps(meta, indent=1) + "\n").encode(), 0o644)
        partial = target + ".partial"
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(tree, arcname=PREFIX)
        os.replace(partial, target)
    finally:
        remove_recording(work)
    return target


# ----------------------------------------------------------------------------- reading


def _inside(name: str) -> bool:
    norm = posixpath.normpath(name)
    return not name.startswith("/") and (norm == PREFIX or norm.startswith(PREFIX + "/")) and \
        ".." not in norm.split("/")


def _check_member(m: tarfile.TarInfo) -> None:
    if not _inside(m.name):
        raise BadBundle(f"member {m.name!r} lies outside {PREFIX}/ (an absolute name or '..'): refusing to unpack")
    if m.issym():
        target = posixpath.normpath(posixpath.join(posixpath.dirname(m.name), m.linkname))
        if m.linkname.startswith("/") or not _inside(target):
            raise BadBundle(f"link {m.name!r} -> {m.linkname!r} points outside the bundle: refusing to unpack")
    elif not (m.isfile() or m.isdir()):
        raise BadBundle(f"member {m.name!r} is not a file, directory or symbolic link: refusing to unpack")


def read_members(path: str) -> list[tarfile.TarInfo]:
    """Every member of bundle ``path``, checked (BadBundle says what is wrong)."""
    try:
        with tarfile.open(path, "r:gz") as tar:
            members = tar.getmembers()
    except FileNotFoundError:
        raise
    except (tarfile.ReadError, tarfile.CompressionError, EOFError, zlib.error, OSError) as err:
        what = "truncated" if isinstance(err, EOFError) or "unexpected end" in str(err).lower() else \
            "not a gzip-compressed tar file"
        raise BadBundle(f"{path} is {what} ({err})") from None
    total = 0
    for m in members:
        _check_member(m)
        total += m.size
    if total > MAX_UNPACKED:
        raise BadBundle(f"{path} would unpack to {total} bytes, more than a bundle holds")
    names = {posixpath.normpath(m.name) for m in members}
    if f"{PREFIX}{sp.BUNDLE_FILE}" not in names or f"{PREFIX}/sys/devices" not in names:
        raise BadBundle(f"{path} is a tar file but not a pmemctl support bundle (no {PREFIX}{sp.BUNDLE_FILE})")
    return members


def unpack_bundle(path: str, dest: str) -> dict[str, Any]:
    """Unpack bundle ``path`` into ``dest`` (absent or empty) and return its
    metadata.  On any failure ``dest`` is removed again."""
    members = read_members(path)
    target = os.path.abspath(dest)
    if os.path.exists(target) and (not os.path.isdir(target) or os.listdir(target)):
        raise FileExistsError(f"{target} is not an empty directory")
    created = not os.path.exists(target)
    os.makedirs(target, exist_ok=True)
    try:
        with tarfile.open(path, "r:gz") as tar:
            for m in members:
                m.name = posixpath.relpath(posixpath.normpath(m.name), PREFIX)
            members = [m for m in members if m.name != "."]
            tar.extractall(target, members=members, filter="tar")  # checked above; modes kept as captured
        with open(os.path.join(target, sp.BUNDLE_FILE.lstrip("/")), encoding="utf-8") as fh:
            meta: dict[str, Any] = json.load(fh)
    except (EOFError, zlib.error, tarfile.TarError, OSError, ValueError) as err:
        remove_recording(target)
        if not created:
            os.makedirs(target, exist_ok=True)
        raise BadBundle(f"{path} could not be unpacked: it is truncated or damaged ({err})") from None
    return meta


__all__ = ["BadBundle", "PREFIX", "read_members", "unpack_bundle", "write_bundle"]
