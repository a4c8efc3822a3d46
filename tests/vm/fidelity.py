"""Compare two recorded trees attribute by attribute (host side, no pytest).

Both sides are trees written by ``pmemctl sim record`` (the real guest at a
stage, and a simulated ``qemu-nvdimm`` tree at the same stage recorded the
same way), so the same skip rules apply to both.

An *attribute* is a regular file or a symlink in the tree; its *object* is
the directory holding it, and the object's *kind* is that directory's path
with instance numbers replaced by ``N`` (``memory33`` -> ``memoryN``,
``dax0.0`` -> ``daxN.N``), so ``memory33/state`` and ``memory62/state`` are
the same attribute of the kind ``sys/devices/system/memory/memoryN``.

An attribute *agrees* when it exists on both sides with the same type
(file/link), the same mode bits (files) and the same value after the
normalisations of :data:`LEGITIMATE` (each with its reason).  The agreement
figure is agreeing attributes / attributes in either tree.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Optional

RECORD_FILE = ".pmemctl-record.json"

#: Things that legitimately differ between two boots of the same machine, or
#: between any real boot and a tree built from a description.  Each entry:
#: (name, reason).  The normalisation code below refers to these names.
LEGITIMATE: dict[str, str] = {
    "uuid": "namespace/pfn/dax/btt uuids are drawn at random when ndctl creates the namespace "
    "(and ndctl writes a new one on every reconfiguration); only their presence is compared",
    "runtime-counters": "/proc/meminfo, nodeN/meminfo, vmstat and numastat count pages that the "
    "workload of the moment uses (page cache, slab, free): only MemTotal is a property of the "
    "machine, the rest is compared by line names",
    "dynamic-major": "character device majors of ndctl/nmem/dax are allocated dynamically at "
    "module load (register_chrdev with major 0, top down from 254): they depend on how many "
    "modules registered one before, i.e. on the boot's module list and order, not on the "
    "machine; 'dev' is compared as '<major>:MINOR' and /sys/dev/char links by their target",
    "kaslr": "crash_notes holds the per-cpu crash-note address: KASLR makes it different on "
    "every boot, even on the same machine",
    "iomem-boot": "/proc/iomem lines of boot resources the firmware and kernel lay out "
    "(kernel code/data/bss move with KASLR, ACPI tables, PCI BARs, ROMs): only the lines about "
    "System RAM, Persistent Memory, namespaces, dax devices and kmem are compared",
    "capture-time": "pmemctl sim record metadata (time, source path, counts) describes the "
    "recording, not the machine: it is not an attribute",
    "harness-cmdline": "the test harness appends pmemctl.project=<checkout path> to the guest's "
    "kernel command line, and pmemctl.share.envN=<dir> for a test interpreter (venv) under /tmp or "
    "/run (harness.py: the guest's init script reads them to mount those shares); the paths are "
    "the host's, not properties of the machine, and no kernel code reads them, so those "
    "parameters are dropped from the real /proc/cmdline before comparing",
    "unreadable": "an attribute the real kernel refuses to read (ENXIO: size/resource of a "
    "disabled seed) cannot be reproduced by a plain file: an empty file would read as '' and "
    "be parsed, so the simulator leaves it out; both read as 'no value' (read_optional -> "
    "None), so an unreadable real file and an absent simulated one agree",
}

_NUM_RE = re.compile(r"\d+")
#: Kernel parameters the VM harness adds for itself (harness-cmdline).
_HARNESS_PARAMS = ("pmemctl.project=", "pmemctl.share.")
_IOMEM_KEEP = re.compile(r"System RAM|Persistent Memory|namespace\d|dax\d|kmem|Soft Reserved|CXL")


def kind_of(rel_dir: str) -> str:
    """``sys/devices/system/memory/memory33`` -> ``sys/devices/system/memory/memoryN``."""
    return _NUM_RE.sub("N", rel_dir)


@dataclass
class Entry:
    kind: str  # "f" file, "l" link, "d" directory
    mode: int
    value: str  # file content (or "!ERRNO" when it could not be read), link target


def load_tree(root: str) -> dict[str, Entry]:
    """Relative path -> Entry for every file and link (directories are
    implied by their contents; empty ones are kept as "d")."""
    errors: dict[str, str] = {}
    modes: dict[str, str] = {}
    meta_path = os.path.join(root, RECORD_FILE)
    if os.path.exists(meta_path):
        with open(meta_path) as fh:
            meta = json.load(fh)
        errors = {k.lstrip("/"): v for k, v in meta.get("errors", {}).items()}
        modes = {k.lstrip("/"): v for k, v in meta.get("error_modes", {}).items()}
    out: dict[str, Entry] = {}
    for rel, err in errors.items():  # unreadable files are left out of the tree
        if rel in modes:
            out[rel] = Entry("f", int(modes[rel], 8), "!" + err)
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir == ".":
            dirnames[:] = [d for d in dirnames if d in ("sys", "proc")]
            filenames = []
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = Entry("l", 0, os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                if rel in errors:
                    value = "!" + errors[rel]
                else:
                    with open(p, "rb") as fh:
                        value = fh.read().decode(errors="replace")
                out[rel] = Entry("f", stat.S_IMODE(st.st_mode), value)
            elif stat.S_ISDIR(st.st_mode) and not os.listdir(p):
                out[rel] = Entry("d", stat.S_IMODE(st.st_mode), "")
    return out


# --------------------------------------------------------------------------
# normalisation


def _meminfo(text: str) -> str:
    """Line names, plus the MemTotal value (runtime-counters)."""
    names = []
    total = ""
    for line in text.splitlines():
        key = line.split(":", 1)[0].strip()
        if not key:
            continue
        names.append(key)
        if key.endswith("MemTotal"):
            total = line.split(":", 1)[1].strip()
    return f"MemTotal={total}; lines={','.join(names)}"


def _counter_names(text: str) -> str:
    return ",".join(line.split()[0] for line in text.splitlines() if line.split())


def _cmdline(text: str) -> str:
    """/proc/cmdline without the harness's own parameters (harness-cmdline)."""
    words = [w for w in text.split() if not w.startswith(_HARNESS_PARAMS)]
    return " ".join(words) + "\n"


def _iomem(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.splitlines() if _IOMEM_KEEP.search(line))


def normalise(rel: str, entry: Entry) -> tuple[str, Optional[str]]:
    """(value to compare, name of the LEGITIMATE rule applied or None)."""
    base = os.path.basename(rel)
    v = entry.value
    if entry.kind != "f" or v.startswith("!"):
        return v, None
    if base == "uuid":
        return ("<uuid>" if v.strip() else ""), "uuid"
    if rel in ("proc/meminfo",) or (base == "meminfo" and "/node/node" in rel):
        return _meminfo(v), "runtime-counters"
    if base in ("vmstat", "numastat") and "/node/node" in rel:
        return _counter_names(v), "runtime-counters"
    if base == "dev" and re.fullmatch(r"\d+:\d+\n?", v):
        return "<major>:" + v.strip().split(":")[1], "dynamic-major"
    if base == "crash_notes":
        return "<address>", "kaslr"
    if rel == "proc/iomem":
        return _iomem(v), "iomem-boot"
    if rel == "proc/cmdline" and any(w.startswith(_HARNESS_PARAMS) for w in v.split()):
        return _cmdline(v), "harness-cmdline"
    return v, None


def _rekey_char_links(tree: dict[str, Entry]) -> dict[str, Entry]:
    """/sys/dev/char/MAJ:MIN -> keyed by the link target (dynamic-major)."""
    out = {}
    for rel, e in tree.items():
        if rel.startswith("sys/dev/char/") and e.kind == "l":
            out["sys/dev/char/<" + e.value.rsplit("/", 1)[-1] + ">"] = e
        else:
            out[rel] = e
    return out


# --------------------------------------------------------------------------
# comparison


@dataclass
class Difference:
    path: str
    kind: str  # object kind
    what: str  # "only-real", "only-sim", "type", "mode", "value"
    real: Optional[str] = None
    sim: Optional[str] = None


@dataclass
class Comparison:
    stage: str
    total: int = 0
    agree: int = 0
    normalised: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    differences: list[Difference] = field(default_factory=list)
    kind_names: dict[str, tuple[set[str], set[str]]] = field(default_factory=dict)
    objects_only_real: list[str] = field(default_factory=list)
    objects_only_sim: list[str] = field(default_factory=list)

    @property
    def percent(self) -> float:
        return 100.0 * self.agree / self.total if self.total else 100.0

    def by_kind(self) -> dict[str, list[Difference]]:
        out: dict[str, list[Difference]] = defaultdict(list)
        for d in self.differences:
            out[d.kind].append(d)
        return dict(sorted(out.items()))

    def name_mismatches(self) -> dict[str, tuple[list[str], list[str]]]:
        """Object kind -> (attribute names only the real kernel has, only the simulator has)."""
        out = {}
        for kind, (real, sim) in sorted(self.kind_names.items()):
            if real != sim:
                out[kind] = (sorted(real - sim), sorted(sim - real))
        return out

    def report(self, limit: int = 400) -> str:
        lines = [f"stage {self.stage}: {self.agree}/{self.total} attributes agree ({self.percent:.1f} %)"]
        if self.normalised:
            lines.append("  normalised (legitimate differences): " + ", ".join(
                f"{k} x{n}" for k, n in sorted(self.normalised.items())))
        names = self.name_mismatches()
        if names:
            lines.append("  attribute names per object kind that differ:")
            for kind, (r, s) in names.items():
                if r:
                    lines.append(f"    {kind}: only real: {' '.join(r)}")
                if s:
                    lines.append(f"    {kind}: only sim: {' '.join(s)}")
        for side, objs in (("real", self.objects_only_real), ("sim", self.objects_only_sim)):
            if objs:
                lines.append(f"  objects only in {side}: {' '.join(objs)}")
        vals = [d for d in self.differences if d.what in ("value", "mode", "type")]
        if vals:
            lines.append("  values/modes that differ:")
            for d in vals[:limit]:
                if d.what == "value" and d.real and d.sim and (d.real.count("\n") > 2 or d.sim.count("\n") > 2
                                                              or "lines=" in d.real
                                                              or os.path.basename(d.path) in ("vmstat", "numastat")):
                    lines.append(f"    {d.path} [value]: {_line_diff(d.real, d.sim)}")
                else:
                    lines.append(f"    {d.path} [{d.what}]: real={_short(d.real)} sim={_short(d.sim)}")
        return "\n".join(lines)

    def __repr__(self) -> str:  # keeps pytest's failure output readable
        return f"Comparison({self.stage}: {self.agree}/{self.total} = {self.percent:.1f} %)"


def _line_diff(real: str, sim: str) -> str:
    """Lines (or comma-separated items) only on one side, for long values."""
    def split(v: str) -> list[str]:
        if "\n" in v:
            return v.splitlines()
        return v.replace("; ", "\n").replace(",", "\n").splitlines()

    a, b = split(real), split(sim)
    only_r = [x for x in a if x not in b]
    only_s = [x for x in b if x not in a]
    return f"only real: {only_r}; only sim: {only_s}"


def _short(v: Optional[str], n: int = 160) -> str:
    if v is None:
        return "-"
    v = v.replace("\n", "\\n")
    return repr(v if len(v) <= n else v[: n - 3] + "...")


def compare(real_root: str, sim_root: str, stage: str,
            ignore: Callable[[str], bool] = lambda rel: False) -> Comparison:
    real = _rekey_char_links(load_tree(real_root))
    sim = _rekey_char_links(load_tree(sim_root))
    cmp = Comparison(stage)
    for rel in sorted(set(real) | set(sim)):
        if ignore(rel):
            continue
        r, s = real.get(rel), sim.get(rel)
        if s is None and r is not None and r.value in ("!ENXIO", "!ENODEV"):
            cmp.normalised["unreadable"] += 1
            cmp.total += 1
            cmp.agree += 1
            continue
        kind = kind_of(os.path.dirname(rel))
        names = cmp.kind_names.setdefault(kind, (set(), set()))
        base = os.path.basename(rel)
        if r is not None:
            names[0].add(base)
        if s is not None:
            names[1].add(base)
        cmp.total += 1
        if r is None or s is None:
            cmp.differences.append(Difference(rel, kind, "only-sim" if r is None else "only-real",
                                              None if r is None else r.value, None if s is None else s.value))
            continue
        if r.kind != s.kind:
            cmp.differences.append(Difference(rel, kind, "type", r.kind, s.kind))
            continue
        if r.kind == "f" and r.mode != s.mode:
            cmp.differences.append(Difference(rel, kind, "mode", f"{r.mode:04o}", f"{s.mode:04o}"))
            continue
        rv, rule = normalise(rel, r)
        sv, _ = normalise(rel, s)
        if rule:
            cmp.normalised[rule] += 1
        if rv != sv:
            if rule:  # show what still differs after the normalisation
                cmp.differences.append(Difference(rel, kind, "value", rv, sv))
            else:
                cmp.differences.append(Difference(rel, kind, "value", r.value, s.value))
            continue
        cmp.agree += 1
    real_objs = {os.path.dirname(p) for p in real}
    sim_objs = {os.path.dirname(p) for p in sim}
    cmp.objects_only_real = sorted(o for o in real_objs - sim_objs if os.path.dirname(o) in real_objs | sim_objs
                                   or o.count("/") <= 3)
    cmp.objects_only_sim = sorted(o for o in sim_objs - real_objs if os.path.dirname(o) in real_objs | sim_objs
                                  or o.count("/") <= 3)
    return cmp
