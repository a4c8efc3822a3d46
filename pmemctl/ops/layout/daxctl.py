"""``pmemctl config import-daxctl``: daxctl's ``/etc/daxctl.conf.d/*.conf``
as a layout, read with daxctl's own rules (provisioning.md §1):

* only regular ``*.conf`` files (symlinked files are ignored);
* files are read in reverse alphabetical order;
* the same key of the same section in several files is concatenated with a
  space (a uuid given twice with two modes gives ``"system-ram devdax"``);
* booleans look at the first character only (t/y/1 true, f/n/0 false);
* ``nvdimm.uuid`` (the dax info-block uuid) is the only match key; a section
  without it never matches anything.

Where daxctl's outcome is ambiguous the entry gets ``mode = "unmanaged"``
(apply never guesses) and a comment; each such place is also returned as a
note for the user.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from pmemctl.errors import UsageError
from pmemctl.ops.layout.schema import UUID_PATTERN
from pmemctl.ops.layout.tomlout import toml_text
from pmemctl.sysfs.door import SysfsRoot
from pmemctl.sysfs.layout_files import DAXCTL_CONF_D, LayoutFileProblem, list_dir, read_named

_SECTION_RE = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]\s*$")
_KEY_RE = re.compile(r"^\s*([^=]+?)\s*=\s*(.*?)\s*$")

Sections = dict[str, dict[str, list[str]]]


def parse_files(paths: list[tuple[str, str]]) -> tuple[Sections, list[str]]:
    """(section -> key -> values in read order, notes); ``paths`` are
    (shown name, text), already in daxctl's reading order."""
    sections: Sections = {}
    notes: list[str] = []
    for shown, text in paths:
        section: Optional[str] = None
        for number, line in enumerate(text.splitlines(), 1):
            stripped = line.strip()
            if not stripped or stripped[0] in "#;":
                continue
            m = _SECTION_RE.match(stripped)
            if m:
                section = m.group(1).lower()  # iniparser lower-cases names
                sections.setdefault(section, {})
                continue
            m = _KEY_RE.match(stripped)
            if m is None or section is None:
                notes.append(f"{shown}:{number}: ignored line {stripped!r} (not key = value inside a section)")
                continue
            value = m.group(2)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            sections[section].setdefault(m.group(1).lower(), []).append(value)
    return sections, notes


def _bool(text: str) -> Optional[bool]:
    first = text[:1].lower()
    return True if first in ("t", "y", "1") else False if first in ("f", "n", "0") else None


def _entry(section: str, keys: dict[str, list[str]], where: str) -> tuple[Optional[dict[str, Any]], list[str]]:
    name = section.split(None, 1)[1] if " " in section else section
    notes: list[str] = []
    if not section.startswith("reconfigure-device"):
        return None, [f"[{section}] ({where}): not a reconfigure-device section; daxctl ignores it"]
    uuids = keys.get("nvdimm.uuid", [])
    if not uuids:
        return None, [f"[{section}] ({where}): no nvdimm.uuid; daxctl never matches it: skipped"]
    uuid = " ".join(uuids)
    if len(uuids) > 1 or not re.match(UUID_PATTERN, uuid):
        return None, [f"[{section}] ({where}): nvdimm.uuid reads {uuid!r} to daxctl (given in several files, "
                      "concatenated): no device matches it: skipped"]
    entry: dict[str, Any] = {"name": name, "match": {"dax_uuid": uuid.lower()}}
    joined = {k: " ".join(v) for k, v in keys.items()}
    mode = joined.get("mode", "system-ram")
    online = _bool(joined.get("online", "true"))
    movable = _bool(joined.get("movable", "true"))
    unclear = [f"{k} = {joined[k]!r}" for k in ("mode", "online", "movable") if len(keys.get(k, [])) > 1]
    if mode not in ("system-ram", "devdax"):
        unclear.append(f"mode = {mode!r}")
    if online is None:
        unclear.append(f"online = {joined['online']!r} (neither t/y/1 nor f/n/0)")
    if movable is None:
        unclear.append(f"movable = {joined['movable']!r} (neither t/y/1 nor f/n/0)")
    for k in sorted(set(keys) - {"nvdimm.uuid", "mode", "online", "movable"}):
        notes.append(f"[{section}] ({where}): unknown key {k!r}, which daxctl ignores")
    if unclear:
        entry["mode"] = "unmanaged"
        notes.append(f"[{section}] ({where}): ambiguous in daxctl ({'; '.join(unclear)}): imported as "
                     "mode = \"unmanaged\"; set the mode you mean")
        return entry, notes
    entry["mode"] = mode
    if mode == "system-ram":
        entry["online"] = "all" if online else "none"
        if online:
            entry["zone"] = "movable" if movable else "normal"
    return entry, notes


def import_daxctl(door: SysfsRoot, directory: Optional[str] = None) -> tuple[str, list[str]]:
    """(layout TOML, notes).  ``directory``: a host path; default
    /etc/daxctl.conf.d under the sysroot."""
    host = directory if directory is not None else door.host_path(DAXCTL_CONF_D)
    try:
        files = list(reversed(list_dir(host, ".conf", follow_links=False)))
        texts = [(p, read_named(p).decode("utf-8", "replace")) for p in files]
    except LayoutFileProblem as err:
        raise UsageError(str(err)) from None
    sections, notes = parse_files(texts)
    where = ", ".join(files) or host
    entries: list[dict[str, Any]] = []
    comments: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for section, keys in sections.items():
        entry, more = _entry(section, keys, where)
        notes += more
        if entry is None:
            continue
        uuid = entry["match"]["dax_uuid"]
        if uuid in seen:
            notes.append(f"[{section}]: nvdimm.uuid {uuid} is the device of [{seen[uuid]}] too; kept the first")
            continue
        seen[uuid] = section
        comments[entry["name"]] = [f"from [{section}]"] + [n.split("): ", 1)[-1] for n in more]
        entries.append(entry)
    data: dict[str, Any] = {"version": 1}
    if entries:
        data["device"] = entries
    head = f"# converted from daxctl's configuration ({where}) by 'pmemctl config import-daxctl'\n"
    if not files:
        notes.append(f"no *.conf file in {host}")
    return head + toml_text(data, comments), notes
