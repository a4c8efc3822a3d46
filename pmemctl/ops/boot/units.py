"""The boot files as data: roles, settings, templates, the manifest.

See :mod:`pmemctl.ops.boot` for what is installed and why a file plan.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from dataclasses import dataclass
from importlib import resources
from typing import Any, Optional

from pmemctl import __version__
from pmemctl.errors import ExitCode, PmemctlError, Refused, UsageError
from pmemctl.ops.actions.base import TextEnum
from pmemctl.sysfs import etcfiles

UNIT_DIR = "/etc/systemd/system"
UDEV_RULE = "/etc/udev/rules.d/90-pmemctl.rules"
MANIFEST = "/etc/pmemctl/boot-units.json"
DROPIN = "50-pmemctl.conf"
APPLY_UNIT = "pmemctl-apply.service"
TARGET_UNIT = "pmemctl-memory.target"
HOTPLUG_UNIT = "pmemctl-apply-hotplug.service"
BOOT_TARGET = "multi-user.target"
MARKER = "Installed by 'pmemctl boot install'; 'pmemctl boot uninstall' removes it. Do not edit."
DEFAULT_WAIT = 60
DEFAULT_TIMEOUT = 900

_UNIT_NAME = re.compile(
    r"^[A-Za-z0-9:_.\\-]+(@[A-Za-z0-9:_.\\-]*)?\.(service|socket|target|mount|automount|swap|timer|path|slice|scope)$")


class Role(TextEnum):
    SERVICE = "service"
    TARGET = "target"
    HOTPLUG_SERVICE = "hotplug-service"
    BOOT_DROP_IN = "boot-drop-in"
    WORKLOAD_DROP_IN = "workload-drop-in"
    UDEV_RULE = "udev-rule"
    MANIFEST = "manifest"


class Change(TextEnum):
    CREATE = "create"
    UPDATE = "update"
    REMOVE = "remove"
    UNCHANGED = "unchanged"
    KEEP = "keep"  # ours once, edited since: left in place


class FileState(TextEnum):
    CURRENT = "current"  # as installed, and what the templates give today
    OUTDATED = "outdated"  # as installed, but the templates changed since
    MODIFIED = "modified"  # edited after install
    MISSING = "missing"  # installed, then removed


class BootFileError(PmemctlError):
    """Installing or removing the boot files failed (everything changed was put back)."""

    exit_code = ExitCode.ROLLED_BACK


class BootFileRollbackError(PmemctlError):
    exit_code = ExitCode.ROLLBACK_INCOMPLETE


@dataclass(frozen=True)
class BootSettings:
    """What an install was asked for (kept in the manifest)."""

    exec_start: tuple[str, ...]
    before: tuple[str, ...] = ()
    udev_rule: bool = False
    wait: int = DEFAULT_WAIT
    timeout: int = DEFAULT_TIMEOUT

    def to_dict(self) -> dict[str, Any]:
        return {"exec_start": list(self.exec_start), "before": list(self.before), "udev_rule": self.udev_rule,
                "wait": self.wait, "timeout": self.timeout}


@dataclass(frozen=True)
class FileChange:
    path: str  # the path on the target machine
    role: Role
    change: Change
    content: Optional[str]  # what is written (create/update/unchanged), None for a removal
    note: str = ""

    def describe(self) -> str:
        verb = {Change.CREATE: "create", Change.UPDATE: "rewrite", Change.REMOVE: "remove",
                Change.UNCHANGED: "keep (already as wanted)", Change.KEEP: "leave in place"}[self.change]
        return f"{verb} {self.path}" + (f" ({self.note})" if self.note else "")


@dataclass(frozen=True)
class FilePlan:
    title: str
    root: str
    changes: tuple[FileChange, ...]
    settings: Optional[BootSettings]
    #: directories install made (or makes): removed by uninstall when empty
    directories: tuple[str, ...] = ()
    #: directories to remove after the files, when they are empty
    remove_directories: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def writes(self) -> tuple[FileChange, ...]:
        return tuple(c for c in self.changes if c.change in (Change.CREATE, Change.UPDATE, Change.REMOVE))

    @property
    def is_noop(self) -> bool:
        return not self.writes

    def shell_lines(self) -> list[str]:
        """The plan as shell a user could run (relative to the root when it is not /)."""
        lines: list[str] = []
        for c in self.writes:
            target = shlex.quote(etcfiles.host_path(self.root, c.path))
            if c.change is Change.REMOVE:
                lines.append(f"rm {target}")
                continue
            parent = c.path.rsplit("/", 1)[0]
            if c.change is Change.CREATE and parent in self.directories:
                lines.append(f"mkdir -p {shlex.quote(etcfiles.host_path(self.root, parent))}")
            lines.append(f"cat > {target} <<'EOF'")
            lines.extend((c.content or "").rstrip("\n").split("\n"))
            lines.append("EOF")
        return lines


@dataclass(frozen=True)
class StatusFile:
    path: str
    role: Role
    state: FileState
    content: Optional[str]


@dataclass(frozen=True)
class BootStatus:
    root: str
    settings: Optional[BootSettings]
    files: tuple[StatusFile, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def installed(self) -> bool:
        return self.settings is not None

    @property
    def current(self) -> bool:
        return self.installed and all(f.state is FileState.CURRENT for f in self.files)


# --------------------------------------------------------------------------
# rendering the files


def _template(name: str) -> str:
    return resources.files("pmemctl").joinpath("data").joinpath("systemd").joinpath(name).read_text(encoding="utf-8")


def systemd_word(word: str) -> str:
    """One ExecStart word as systemd reads it: ``%`` and ``$`` escaped, quoted when needed."""
    text = word.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{text}"' if (not text or any(c.isspace() for c in text) or text != word) else text


def validate_unit_name(unit: str) -> str:
    if (not _UNIT_NAME.match(unit) or len(unit) > 255 or unit.startswith(".")
            or unit in (APPLY_UNIT, TARGET_UNIT, HOTPLUG_UNIT)):
        raise UsageError(f"--before {unit!r} is not a workload unit name pmemctl can order after its target",
                         hint="give a unit file name such as docker.service or postgresql@15-main.service")
    return unit


def dropin_path(unit: str) -> str:
    return f"{UNIT_DIR}/{unit}.d/{DROPIN}"


def desired_files(settings: BootSettings) -> list[tuple[str, Role, str]]:
    """(target path, role, content) of every file an install with ``settings`` writes."""
    fmt = {"marker": MARKER, "exec_start": " ".join(systemd_word(w) for w in settings.exec_start),
           "wait": settings.wait, "timeout": settings.timeout}
    files = [
        (f"{UNIT_DIR}/{APPLY_UNIT}", Role.SERVICE, _template(APPLY_UNIT).format(**fmt)),
        (f"{UNIT_DIR}/{TARGET_UNIT}", Role.TARGET, _template(TARGET_UNIT).format(**fmt)),
        (dropin_path(BOOT_TARGET), Role.BOOT_DROP_IN, _template("multi-user-dropin.conf").format(**fmt)),
    ]
    for unit in settings.before:
        files.append((dropin_path(unit), Role.WORKLOAD_DROP_IN,
                      _template("workload-dropin.conf").format(unit=unit, **fmt)))
    if settings.udev_rule:
        files.append((f"{UNIT_DIR}/{HOTPLUG_UNIT}", Role.HOTPLUG_SERVICE, _template(HOTPLUG_UNIT).format(**fmt)))
        files.append((UDEV_RULE, Role.UDEV_RULE, _template("90-pmemctl.rules").format(**fmt)))
    return files


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest_text(settings: BootSettings, files: list[tuple[str, Role, str]], directories: list[str]) -> str:
    doc = {"version": 1, "pmemctl": __version__, "settings": settings.to_dict(),
           "files": {p: {"role": str(r), "sha256": digest(c.encode())} for p, r, c in files},
           "directories": sorted(directories)}
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


@dataclass(frozen=True)
class Manifest:
    settings: BootSettings
    files: dict[str, tuple[Role, str]]  # path -> (role, sha256)
    directories: tuple[str, ...]


def read_manifest(root: str) -> Optional[Manifest]:
    raw = etcfiles.read_config(root, MANIFEST)
    if raw is None:
        return None
    try:
        doc = json.loads(raw.decode("utf-8"))
        s = doc["settings"]
        settings = BootSettings(exec_start=tuple(str(w) for w in s["exec_start"]),
                                before=tuple(str(u) for u in s["before"]), udev_rule=bool(s["udev_rule"]),
                                wait=int(s["wait"]), timeout=int(s["timeout"]))
        files = {str(p): (Role(v["role"]), str(v["sha256"])) for p, v in doc["files"].items()}
        return Manifest(settings, files, tuple(str(d) for d in doc["directories"]))
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise Refused(f"{etcfiles.host_path(root, MANIFEST)} is not a manifest pmemctl can read ({err})",
                      hint="restore it, or remove the pmemctl units and that file by hand") from err
