"""What ``pmemctl doctor`` reports: rules (stable IDs with their reasoning),
findings (a rule seen on this machine, with evidence and a fix) and the
registry of checks, one module per group, run from firmware to node.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from pmemctl.commandline import command_line
from pmemctl.model.records import Topology
from pmemctl.model.system import SystemFiles
from pmemctl.sysfs.door import SysfsRoot


class Severity(str, enum.Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return ("info", "warning", "error").index(self.value)


#: the groups, in the order findings are shown: from firmware to NUMA node
GROUPS: tuple[tuple[str, str], ...] = (
    ("firmware", "ACPI tables and the physical address map (/proc/iomem)"),
    ("kernel", "kernel configuration"),
    ("boot", "kernel command line"),
    ("policy", "hotplug policy: auto_online_blocks and the memory_hotplug parameters"),
    ("agents", "other agents that online memory or reconfigure dax devices (udev, daxctl)"),
    ("devices", "dax devices: alignment, driver, target node, users"),
    ("blocks", "memory blocks: partial online, zones, stuck offlining, stranded memory"),
    ("nodes", "NUMA nodes: zone ratio, memmap cost, memory tiers, demotion"),
    ("layout", "drift from the provisioning layout"),
)
GROUP_NAMES = tuple(g for g, _ in GROUPS)

#: what kind of thing a fix is
FIX_KINDS = ("command", "boot-argument", "bios", "kernel", "layout", "file", "none")


@dataclass(frozen=True)
class Rule:
    id: str
    group: str
    severity: Severity
    title: str  # one line; may hold {subject}
    explain: str  # the reasoning behind it (--explain ID)
    fix_kind: str
    needs_reboot: bool = False
    runtime_fix: bool = False  # ``--fix`` can apply its fix (a policy write safe at runtime)


RULES: dict[str, Rule] = {}


def rule(id: str, group: str, severity: Severity, title: str, explain: str, *, fix_kind: str,
         needs_reboot: bool = False, runtime_fix: bool = False) -> Rule:
    """Register a rule; IDs are stable (scripts and --explain use them)."""
    if id in RULES:
        raise ValueError(f"rule {id} registered twice")
    if group not in GROUP_NAMES or fix_kind not in FIX_KINDS:
        raise ValueError(f"rule {id}: unknown group {group!r} or fix kind {fix_kind!r}")
    made = Rule(id, group, severity, title, " ".join(explain.split()), fix_kind, needs_reboot, runtime_fix)
    RULES[id] = made
    return made


@dataclass(frozen=True)
class Evidence:
    path: str  # the file (kernel path) the value was read from
    value: str


@dataclass(frozen=True)
class RuntimeFix:
    """A fix that is safe at runtime: one policy write ``--fix`` can apply."""

    path: str
    value: str
    previous: str


@dataclass(frozen=True)
class Finding:
    rule: Rule
    subject: Optional[str]  # the object it is about (dax0.0, node1, a rules file), or None
    evidence: tuple[Evidence, ...]
    fix: Optional[str]
    runtime_fix: Optional[RuntimeFix] = None
    needs_root: bool = False  # what it says could not be seen without root

    @property
    def id(self) -> str:
        return self.rule.id

    @property
    def severity(self) -> Severity:
        return self.rule.severity

    @property
    def title(self) -> str:
        return self.rule.title.format(subject=self.subject or "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "severity": self.severity.value,
            "group": self.rule.group,
            "title": self.title,
            "subject": self.subject,
            "evidence": [{"path": e.path, "value": e.value} for e in self.evidence],
            "fix": {"kind": self.rule.fix_kind, "text": self.fix},
            "needs_reboot": self.rule.needs_reboot,
            "needs_root": self.needs_root,
            "runtime_fix": None if self.runtime_fix is None else {
                "path": self.runtime_fix.path, "value": self.runtime_fix.value,
                "previous": self.runtime_fix.previous},
        }


@dataclass
class Context:
    """What every check reads: the door, the snapshot and the system files."""

    door: SysfsRoot
    topo: Topology
    system: SystemFiles
    root: bool  # the reader can see what only root sees
    layout: Any = None  # the provisioning layout, when one exists
    extra: dict[str, Any] = field(default_factory=dict)

    def cmd(self, *words: str) -> str:
        """A pmemctl command line carrying this machine's --sysroot."""
        return command_line(*words, sysroot=self.door.root)

    def finding(self, rule: Rule, subject: Optional[str], evidence: list[tuple[str, str]],
                fix: Optional[str], **kw: Any) -> Finding:
        return Finding(rule, subject, tuple(Evidence(p, v) for p, v in evidence), fix, **kw)


Check = Callable[[Context], list[Finding]]
CHECKS: list[tuple[str, Check]] = []


def check(group: str) -> Callable[[Check], Check]:
    """Register a check of ``group`` (checks run in group order, then in
    registration order)."""
    if group not in GROUP_NAMES:
        raise ValueError(f"unknown group {group!r}")

    def register(func: Check) -> Check:
        CHECKS.append((group, func))
        return func
    return register


def ordered(findings: list[Finding]) -> list[Finding]:
    """Group order (firmware → node), then most severe first, then ID and subject."""
    return sorted(findings, key=lambda f: (GROUP_NAMES.index(f.rule.group), -f.severity.rank, f.id,
                                           f.subject or ""))
