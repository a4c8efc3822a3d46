"""Load and validate layout files: every problem is a :class:`LayoutError`
``FILE:LINE: problem`` (exit 2), raised before anything is read from the
machine, so a bad file never changes anything.

Files: ``--config FILE`` (repeatable) when given, else ``etc/pmemctl/pmemctl.toml``
and ``etc/pmemctl/conf.d/*.toml`` (lexical order) under the sysroot.  TOML is
parsed by the standard library's tomllib (the ``tomli`` package on 3.10).

Line numbers: tomllib gives them for syntax errors; for a semantic error the
key's line is found by scanning the text (:func:`find_line`): the table
header (``[policy]``, the Nth ``[[device]]``), then the key inside it.
"""

from __future__ import annotations

import re
import sys
from typing import Any, Optional, Sequence, Union

from pmemctl.ops.layout.records import (
    DeviceEntry,
    Layout,
    NamespaceSpec,
    PolicySetting,
    RegionEntry,
    Selector,
    Where,
)
from pmemctl.ops.layout.schema import TABLES, LayoutError, Table, type_problem
from pmemctl.sysfs.door import SysfsRoot
from pmemctl.sysfs.layout_files import (
    CONF_D,
    MAIN_FILE,
    LayoutFileProblem,
    conf_d_files,
    read_named,
    read_under_sysroot,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

Path = tuple[Any, ...]

_HEADER_RE = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(#.*)?$")
_AT_LINE_RE = re.compile(r"\s*\(at line (\d+), column \d+\)\s*$")


# --------------------------------------------------------------------------
# lines


def find_line(text: str, path: Path) -> int:
    """The 1-based line of the key at ``path`` (e.g. ``("device", 1, "match",
    "node")``): inside the table that holds it, the last string of the path
    found as ``key =``; else the table's header; else 1."""
    lines = text.splitlines()
    start, end = _section(lines, path)
    names = [p for p in path[1:] if isinstance(p, str)] if path and path[0] in ("policy", "device", "region") \
        else [p for p in path if isinstance(p, str)]
    for name in reversed(names):
        pattern = re.compile(rf"(^|[{{,]\s*){re.escape(name)}\s*=")
        for i in range(start, end):
            if pattern.search(_code(lines[i])):
                return i + 1
    return start if start > 0 else 1


def _code(line: str) -> str:
    """The line without a trailing comment outside quotes (good enough for keys)."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            return line[:i]
    return line


def _section(lines: list[str], path: Path) -> tuple[int, int]:
    """(first line index after the header, end index) of the table ``path``
    lives in; the header's own 1-based number is the start index."""
    headers: list[tuple[int, str, bool]] = []
    for i, line in enumerate(lines):
        m = _HEADER_RE.match(line)
        if m:
            headers.append((i, m.group(2).strip(), m.group(1) == "[["))
    first_header = headers[0][0] if headers else len(lines)
    if not path or path[0] not in ("policy", "device", "region"):
        return 0, first_header
    name = path[0]
    index = path[1] if len(path) > 1 and isinstance(path[1], int) else 0
    seen = -1
    for n, (i, title, array) in enumerate(headers):
        if title == name and (array or name == "policy"):
            seen += 1
            if seen == index:
                end = next((j for j, t, _ in headers[n + 1:] if not t.startswith(name + ".")), len(lines))
                return i + 1, end
    return 0, first_header  # written inline (device = [...]): search the top


# --------------------------------------------------------------------------
# one file


class _FileCheck:
    def __init__(self, shown: str, text: str) -> None:
        self.shown = shown
        self.text = text

    def fail(self, path: Path, problem: str) -> LayoutError:
        return LayoutError(self.shown, find_line(self.text, path), problem)

    def where(self, path: Path) -> Where:
        return Where(self.shown, find_line(self.text, path))

    def table(self, table: Table, data: dict[str, Any], path: Path) -> None:
        """Unknown keys, missing keys, types, one-of and exclusive keys."""
        for name, value in data.items():
            key = table.key(name)
            if key is None:
                known = ", ".join(k.name for k in table.keys)
                raise self.fail(path + (name,), f"unknown key {_dotted(path + (name,))!r} (known here: {known})")
            problem = type_problem(key, value)
            if problem is not None:
                raise self.fail(path + (name,), f"{_prefix(path)}{problem}")
            if key.kind == "table" and key.table:
                self.table(TABLES[key.table], value, path + (name,))
            elif key.kind == "array" and key.table:
                for i, item in enumerate(value):
                    self.table(TABLES[key.table], item, path + (name, i))
        for key in table.keys:
            if key.required and key.name not in data:
                raise self.fail(path, f"{_prefix(path)}missing required key {key.name!r}")
        if table.one_of:
            given = [k for k in table.one_of if k in data]
            if len(given) != 1:
                what = "names nothing" if not given else f"names {len(given)} things ({', '.join(given)})"
                raise self.fail(path + (given[-1],) if given else path,
                                f"{_prefix(path)}the selector {what}: give exactly one of {', '.join(table.one_of)}")
        for a, b in table.exclusive:
            if a in data and b in data:
                raise self.fail(path + (b,), f"{_prefix(path)}{a!r} and {b!r} exclude each other: give one")


def _dotted(path: Path) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _prefix(path: Path) -> str:
    return f"{_dotted(path)}: " if path else ""


def _decode(shown: str, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise LayoutError(shown, line, f"not UTF-8 text (byte {raw[err.start]:#04x} at offset {err.start})") from None


def parse_file(shown: str, raw: bytes) -> tuple[_FileCheck, dict[str, Any]]:
    """Decode, parse and validate one file against the schema."""
    text = _decode(shown, raw)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        message = str(err)
        m = _AT_LINE_RE.search(message)
        line = int(m.group(1)) if m else 1
        raise LayoutError(shown, line, "not valid TOML: " + _AT_LINE_RE.sub("", message)) from None
    check = _FileCheck(shown, text)
    if "version" not in data:
        raise LayoutError(shown, 1, "missing 'version = 1' (the layout format version)")
    check.table(TABLES["layout"], data, ())
    return check, data


# --------------------------------------------------------------------------
# records


def _selector(match: dict[str, Any]) -> Selector:
    (kind, value), = match.items()
    if kind == "range":
        return Selector("range", (int(value["start"]), value.get("size")))
    if kind in ("namespace_uuid", "dax_uuid"):
        return Selector(kind, str(value).lower())
    return Selector(kind, value.strip() if isinstance(value, str) else value)


def _devices(check: _FileCheck, data: dict[str, Any]) -> list[DeviceEntry]:
    out = []
    for i, d in enumerate(data.get("device", [])):
        if d.get("mode") != "system-ram" and any(k in d for k in ("online", "zone", "normal")):
            key = next(k for k in ("online", "zone", "normal") if k in d)
            raise check.fail(("device", i, key), f"device[{i}]: {key!r} applies to mode = \"system-ram\" only")
        out.append(DeviceEntry(
            name=d["name"], selector=_selector(d["match"]), mode=d["mode"], expect=d.get("expect", 1),
            optional=d.get("optional", False), online=d.get("online", "all"), zone=d.get("zone"),
            normal=d.get("normal"), memmap_on_memory=d.get("memmap_on_memory"),
            where=check.where(("device", i, "name")),
        ))
    return out


def _regions(check: _FileCheck, data: dict[str, Any]) -> list[RegionEntry]:
    out = []
    for i, r in enumerate(data.get("region", [])):
        names: set[str] = set()
        specs = []
        for j, ns in enumerate(r.get("namespaces", [])):
            if ns["name"] in names:
                raise check.fail(("region", i, "namespaces", j, "name"),
                                 f"region[{i}]: namespace name {ns['name']!r} given twice")
            names.add(ns["name"])
            specs.append(NamespaceSpec(ns["name"], ns["size"], ns.get("mode", "devdax")))
        out.append(RegionEntry(r["name"], _selector(r["match"]), r.get("allow_destroy", False), tuple(specs),
                               check.where(("region", i, "name"))))
    return out


def _policy(check: _FileCheck, data: dict[str, Any]) -> list[PolicySetting]:
    return [PolicySetting(k, v, check.where(("policy", k))) for k, v in data.get("policy", {}).items()]


# --------------------------------------------------------------------------
# all files


def layout_files(door: SysfsRoot, files: Optional[Sequence[str]] = None) -> list[tuple[str, bytes]]:
    """(shown path, bytes) of each file, in order."""
    out: list[tuple[str, bytes]] = []
    try:
        if files:
            return [(f, read_named(f)) for f in files]
        main = read_under_sysroot(door, MAIN_FILE)
        if main is not None:
            out.append((door.host_path(MAIN_FILE), main))
        for kpath in conf_d_files(door, CONF_D):
            raw = read_under_sysroot(door, kpath)
            if raw is not None:
                out.append((door.host_path(kpath), raw))
    except LayoutFileProblem as err:
        raise LayoutError(err.path, 1, err.problem) from None
    return out


def load_layout(door: SysfsRoot, files: Optional[Sequence[str]] = None) -> Layout:
    """The merged layout of ``files`` (or the default files under the
    sysroot).  Raises LayoutError (a UsageError: exit 2) for a bad file, and
    for the same entry name, or the same selector, given twice.  No file at
    all is an empty layout (the caller says so)."""
    policy: dict[str, PolicySetting] = {}
    devices: list[DeviceEntry] = []
    regions: list[RegionEntry] = []
    warnings: list[str] = []
    names: dict[str, Where] = {}
    selectors: dict[tuple[str, str], Where] = {}
    read = layout_files(door, files)
    for shown, raw in read:
        check, data = parse_file(shown, raw)
        for p in _policy(check, data):
            if p.key in policy:
                warnings.append(f"{p.where}: policy.{p.key} overrides the value set at {policy[p.key].where}")
            policy[p.key] = p
        entries: list[Union[DeviceEntry, RegionEntry]] = [*_devices(check, data), *_regions(check, data)]
        for entry in entries:
            if entry.name in names:
                raise LayoutError(entry.where.file, entry.where.line,
                                  f"entry name {entry.name!r} is used already at {names[entry.name]}")
            names[entry.name] = entry.where
            kind = "region" if isinstance(entry, RegionEntry) else "device"
            key = (kind, entry.selector.text())
            if key in selectors:
                raise LayoutError(entry.where.file, entry.where.line,
                                  f"{entry.name!r} selects the same {kind} ({entry.selector.text()}) as the entry "
                                  f"at {selectors[key]}")
            selectors[key] = entry.where
            if isinstance(entry, RegionEntry):
                regions.append(entry)
            else:
                if entry.selector.kind == "device":
                    warnings.append(f"{entry.where}: {entry.name!r} matches by device name "
                                    f"({entry.selector.value}), which can change between boots: prefer "
                                    "namespace_uuid, dax_uuid, namespace or range")
                devices.append(entry)
    return Layout(tuple(s for s, _ in read), tuple(policy.values()), tuple(devices), tuple(regions),
                  tuple(warnings))
