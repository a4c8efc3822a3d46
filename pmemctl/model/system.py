"""The system files around sysfs that decide whether memory becomes RAM
(provisioning.md §2, §6): the kernel's configuration and command line,
/proc/iomem, udev rules and daxctl's boot-time configuration, the ACPI tables
present, CXL memory devices and the relevant kernel log lines.

Everything is read through the door (kernel paths under the sysroot), so a
support bundle unpacked anywhere reads like the machine it came from.
"""

from __future__ import annotations

import gzip
import re
import zlib
from dataclasses import dataclass, field
from typing import Optional

from pmemctl.sysfs import paths
from pmemctl.sysfs import system_paths as sp
from pmemctl.sysfs.door import SysfsRoot

_RULE_STATE_WRITE = re.compile(r'ATTR\{state\}\s*=[^=]')
_RULE_MEMORY = re.compile(r'SUBSYSTEM\s*==\s*"memory"')
_RULE_DAX = re.compile(r'SUBSYSTEM\s*==\s*"dax"')
_SECTION_RE = re.compile(r"^\s*\[\s*reconfigure-device\s+([^\]]+?)\s*\]\s*$")


@dataclass(frozen=True, slots=True)
class RuleLine:
    path: str  # kernel path of the rules file
    line: int
    text: str
    kind: str  # "memory-state" (onlines memory blocks) or "dax" (acts on dax devices)


@dataclass(frozen=True, slots=True)
class DaxctlSection:
    path: str
    name: str
    keys: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class CxlMemdev:
    name: str
    ram_size: Optional[int]
    pmem_size: Optional[int]


@dataclass(frozen=True, slots=True)
class KernelConfig:
    source: str  # the file it came from
    options: dict[str, str]  # CONFIG_X -> y / m / "value"; "n" for "# CONFIG_X is not set"

    def value(self, name: str) -> str:
        """``y``, ``m``, a value, or ``n`` (not set, or absent from the file)."""
        return self.options.get(name, "n")


@dataclass(frozen=True, slots=True)
class SystemFiles:
    release: Optional[str]
    cmdline: tuple[str, ...]  # words of /proc/cmdline
    config: Optional[KernelConfig]
    config_paths_tried: tuple[str, ...]
    builtin_modules: Optional[frozenset[str]]  # module names built in (modules.builtin)
    iomem: Optional[str]
    iomem_zeroed: bool  # every address reads 0: not root (kernel/resource.c r_show)
    acpi_tables: Optional[tuple[str, ...]]  # None: /sys/firmware/acpi/tables absent
    cxl_memdevs: tuple[CxlMemdev, ...]
    udev_rules: tuple[RuleLine, ...]  # effective rules files only (an /etc name hides /usr/lib's)
    udev_files: tuple[str, ...]  # every effective rules file that matched (for the bundle)
    daxctl_sections: tuple[DaxctlSection, ...]
    daxctl_units: tuple[str, ...]
    dmesg: Optional[tuple[str, ...]]  # relevant kernel log lines; None: not readable
    dmesg_source: Optional[str]
    zone_pages: dict[str, int] = field(default_factory=dict)  # zone -> present bytes, all nodes

    def arg(self, name: str) -> Optional[str]:
        """Value of ``name=`` on the command line (the last one wins), ``""``
        for a bare flag, None when absent."""
        found: Optional[str] = None
        for word in self.cmdline:
            key, sep, value = word.partition("=")
            if key == name:
                found = value if sep else ""
        return found


def read_release(door: SysfsRoot) -> Optional[str]:
    text = door.read_optional(sp.OSRELEASE)
    if text:
        return text.strip()
    configs = [n for n in door.files_in(sp.BOOT) if n.startswith("config-")]
    return configs[0][len("config-"):] if len(configs) == 1 else None


def parse_config(text: str, source: str) -> KernelConfig:
    options: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("# CONFIG_") and line.endswith(" is not set"):
            options[line[2:-len(" is not set")]] = "n"
        elif line.startswith("CONFIG_") and "=" in line:
            key, _, value = line.partition("=")
            options[key] = value.strip('"')
    return KernelConfig(source, options)


def read_config(door: SysfsRoot, release: Optional[str]) -> tuple[Optional[KernelConfig], tuple[str, ...]]:
    """/boot/config-RELEASE, else /proc/config.gz (CONFIG_IKCONFIG_PROC)."""
    tried: list[str] = []
    if release:
        path = sp.kernel_config(release)
        tried.append(path)
        text = door.read_all(path)
        if text is not None:
            return parse_config(text, path), tuple(tried)
    tried.append(sp.PROC_CONFIG_GZ)
    raw = door.read_bytes(sp.PROC_CONFIG_GZ)
    if raw is not None:
        try:
            return parse_config(gzip.decompress(raw).decode("utf-8", "replace"), sp.PROC_CONFIG_GZ), tuple(tried)
        except (OSError, EOFError, zlib.error):
            return None, tuple(tried)
    return None, tuple(tried)


def read_builtin(door: SysfsRoot, release: Optional[str]) -> Optional[frozenset[str]]:
    if not release:
        return None
    text = door.read_all(sp.modules_builtin(release))
    if text is None:
        return None
    names = set()
    for line in text.splitlines():
        base = line.strip().rsplit("/", 1)[-1]
        if base.endswith(".ko"):
            names.add(base[:-3].replace("-", "_"))
    return frozenset(names)


def iomem_all_zero(text: str) -> bool:
    """True when /proc/iomem lists resources and every address is 0 (what
    a reader without CAP_SYS_ADMIN sees)."""
    seen = False
    for line in text.splitlines():
        rng, sep, _ = line.partition(" : ")
        if not sep:
            continue
        seen = True
        if rng.strip().replace("-", "").strip("0"):
            return False
    return seen


def effective_files(door: SysfsRoot, dirs: tuple[str, ...], suffix: str) -> list[str]:
    """Kernel paths of the files udev/systemd actually use: the same name in
    an earlier directory hides the later ones (udev(7), systemd.unit(5))."""
    seen: set[str] = set()
    done_dirs: set[str] = set()
    out: list[str] = []
    for d in dirs:
        if not door.is_dir(d):
            continue
        real = door.resolve(d)
        if real in done_dirs:
            continue  # /lib -> /usr/lib (merged /usr): the same directory twice
        done_dirs.add(real)
        for name in door.files_in(d):
            if name.endswith(suffix) and name not in seen:
                seen.add(name)
                out.append(f"{d}/{name}")
    return out


def read_udev_rules(door: SysfsRoot) -> tuple[list[RuleLine], list[str]]:
    lines: list[RuleLine] = []
    files: list[str] = []
    for path in effective_files(door, sp.UDEV_RULES_DIRS, ".rules"):
        text = door.read_all(path)
        if not text:
            continue  # an empty file (or a link to /dev/null) masks a rule
        hit = False
        for number, line in _logical_lines(text):
            if line.lstrip().startswith("#"):
                continue
            kind = None
            if _RULE_MEMORY.search(line) and _RULE_STATE_WRITE.search(line):
                kind = "memory-state"
            elif _RULE_DAX.search(line):
                kind = "dax"
            if kind:
                lines.append(RuleLine(path, number, line.strip(), kind))
                hit = True
        if hit:
            files.append(path)
    return lines, files


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, line) with backslash continuations joined (udev(7))."""
    out: list[tuple[int, str]] = []
    pending: Optional[tuple[int, str]] = None
    for number, line in enumerate(text.splitlines(), 1):
        if pending is not None:
            number, line = pending[0], pending[1] + " " + line.strip()
            pending = None
        if line.endswith("\\"):
            pending = (number, line[:-1])
            continue
        out.append((number, line))
    if pending is not None:
        out.append(pending)
    return out


def read_daxctl(door: SysfsRoot) -> tuple[list[DaxctlSection], list[str]]:
    """Sections of /etc/daxctl.conf.d/*.conf (regular files only, as daxctl
    reads them) and the daxdev-reconfigure unit files present."""
    sections: list[DaxctlSection] = []
    for name in door.files_in(sp.DAXCTL_CONF_DIR):
        path = f"{sp.DAXCTL_CONF_DIR}/{name}"
        if not name.endswith(".conf") or door.readlink(path) is not None:
            continue
        current: Optional[str] = None
        keys: list[tuple[str, str]] = []
        for line in (door.read_all(path) or "").splitlines() + ["[end]"]:
            m = _SECTION_RE.match(line)
            if m or line == "[end]":
                if current is not None:
                    sections.append(DaxctlSection(path, current, tuple(keys)))
                current, keys = (m.group(1) if m else None), []
            elif current is not None and "=" in line and not line.lstrip().startswith("#"):
                key, _, value = line.partition("=")
                keys.append((key.strip(), value.split("#", 1)[0].strip()))
    units = [f"{d}/{sp.DAXCTL_UNIT}" for d in sp.SYSTEMD_UNIT_DIRS if door.exists(f"{d}/{sp.DAXCTL_UNIT}")]
    return sections, units


def read_cxl(door: SysfsRoot) -> list[CxlMemdev]:
    out = []
    for name in sorted(door.listdir(sp.CXL_DEVICES)):
        if not re.fullmatch(r"mem\d+", name):
            continue
        base = f"{sp.CXL_DEVICES}/{name}"
        out.append(CxlMemdev(name, _hex_or_int(door.read_optional(base + "/ram/size")),
                             _hex_or_int(door.read_optional(base + "/pmem/size"))))
    return out


def _hex_or_int(text: Optional[str]) -> Optional[int]:
    if text is None:
        return None
    try:
        return int(text.strip(), 0)
    except ValueError:
        return None


def read_dmesg(door: SysfsRoot) -> tuple[Optional[tuple[str, ...]], Optional[str]]:
    """The relevant kernel log lines: a bundle's capture, else ``dmesg`` on
    the running machine (None when the log is restricted to root)."""
    text = door.read_all(sp.DMESG_CAPTURE)
    source: Optional[str] = sp.DMESG_CAPTURE
    if text is None:
        if door.tool_unavailable_reason("dmesg") is not None:
            return None, None
        try:
            result = door.run_tool(["dmesg"], timeout=10)
        except Exception:  # noqa: BLE001 - a log we cannot read is "unknown", never an error
            return None, None
        if result.status != 0:
            return None, None
        text, source = result.stdout, "dmesg"
    return tuple(line for line in text.splitlines() if sp.DMESG_PATTERNS.search(line)), source


def read_zone_bytes(door: SysfsRoot) -> dict[str, int]:
    """zone -> present bytes over all nodes, from /proc/zoneinfo ({} when absent)."""
    text = door.read_optional(sp.PROC_ZONEINFO)
    out: dict[str, int] = {}
    if not text:
        return out
    zone: Optional[str] = None
    for line in text.splitlines():
        m = re.match(r"^Node\s+\d+,\s+zone\s+(\S+)", line)
        if m:
            zone = m.group(1)
            continue
        words = line.split()
        if zone is not None and len(words) == 2 and words[0] == "present" and words[1].isdigit():
            out[zone] = out.get(zone, 0) + int(words[1]) * 4096
            zone = None
    return out


def read_system(door: SysfsRoot, *, with_dmesg: bool = True) -> SystemFiles:
    release = read_release(door)
    config, tried = read_config(door, release)
    iomem = door.read_all(paths.PROC_IOMEM)
    rules, rule_files = read_udev_rules(door)
    sections, units = read_daxctl(door)
    dmesg, dmesg_source = read_dmesg(door) if with_dmesg else (None, None)
    tables = tuple(sorted(door.listdir(sp.ACPI_TABLES))) if door.is_dir(sp.ACPI_TABLES) else None
    return SystemFiles(
        release=release,
        cmdline=tuple((door.read_optional(paths.PROC_CMDLINE) or "").split()),
        config=config,
        config_paths_tried=tried,
        builtin_modules=read_builtin(door, release),
        iomem=iomem,
        iomem_zeroed=bool(iomem) and iomem_all_zero(iomem or ""),
        acpi_tables=tables,
        cxl_memdevs=tuple(read_cxl(door)),
        udev_rules=tuple(rules),
        udev_files=tuple(rule_files),
        daxctl_sections=tuple(sections),
        daxctl_units=tuple(units),
        dmesg=dmesg,
        dmesg_source=dmesg_source,
        zone_pages=read_zone_bytes(door),
    )
