"""``pmemctl doctor``: every reason memory will not become RAM, or not the
RAM wanted, from firmware to NUMA node, each with evidence and a fix.

One module per group of checks registers its rules and checks
(:mod:`.findings`); :func:`diagnose` runs them in group order over one
snapshot (:func:`~pmemctl.model.discover.discover`) and the system files
(:func:`~pmemctl.model.system.read_system`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Optional

from pmemctl.errors import ExitCode, UsageError
from pmemctl.model.discover import discover
from pmemctl.model.system import read_system
from pmemctl.ops.doctor import devices, drift, firmware, kernel, nodes, policy
from pmemctl.ops.doctor.findings import (
    CHECKS,
    GROUP_NAMES,
    GROUPS,
    RULES,
    Context,
    Finding,
    Rule,
    Severity,
    ordered,
)
from pmemctl.ops.doctor.fix import fixable, plan_fixes
from pmemctl.ops.services import ChangeResult, RunOptions, run_plan
from pmemctl.sysfs import system_paths as sp
from pmemctl.sysfs.door import SysfsRoot

#: the modules whose import registers the checks, in group order
CHECK_MODULES = (firmware, kernel, policy, devices, nodes, drift)


@dataclass
class Report:
    sysroot: str
    groups: tuple[str, ...]  # the groups that ran
    findings: list[Finding]
    root: bool
    layout_checked: bool

    @property
    def worst(self) -> Optional[Severity]:
        return max((f.severity for f in self.findings), key=lambda s: s.rank, default=None)

    @property
    def exit_code(self) -> ExitCode:
        worst = self.worst
        if worst is Severity.ERROR:
            return ExitCode.DOCTOR_ERRORS
        if worst is Severity.WARNING:
            return ExitCode.DOCTOR_WARNINGS
        return ExitCode.OK

    def counts(self) -> dict[str, int]:
        return {s.value: sum(1 for f in self.findings if f.severity is s) for s in Severity}


def _can_see_root_only(door: SysfsRoot) -> bool:
    """On the running machine: are we root?  A tree was captured by whoever
    made it: what it holds is what can be seen (iomem zeros say otherwise)."""
    return not door.is_host or os.geteuid() == 0


def _layout_present(door: SysfsRoot) -> bool:
    return door.exists(sp.LAYOUT_FILE) or bool(door.files_in(sp.LAYOUT_DIR))


def diagnose(door: SysfsRoot, only: Optional[str] = None) -> Report:
    """Run every check (or those of group ``only``) and return the findings,
    ordered from firmware to node."""
    if only is not None and only not in GROUP_NAMES:
        raise UsageError(f"--only {only!r} is not a group of checks",
                         hint="groups: " + ", ".join(GROUP_NAMES))
    topo = discover(door)
    ctx = Context(door, topo, read_system(door), _can_see_root_only(door),
                  layout=sp.LAYOUT_FILE if _layout_present(door) else None)
    found: list[Finding] = []
    registered = {g for g, _ in CHECKS}
    groups = tuple(g for g in GROUP_NAMES if only in (None, g) and g in registered)
    for group, run in CHECKS:
        if group in groups:
            found.extend(run(ctx))
    return Report(door.root, groups, ordered(found), ctx.root, layout_checked="layout" in groups)


def explain(rule_id: str) -> Rule:
    found = RULES.get(rule_id)
    if found is None:
        close = [r for r in RULES if rule_id.lower() in r]
        raise UsageError(f"no doctor finding has the ID {rule_id!r}",
                         hint="IDs: " + ", ".join(close or sorted(RULES)))
    return found


def fix(door: SysfsRoot, report: Report, opts: RunOptions) -> ChangeResult:
    """Apply the runtime-safe fixes of ``report`` through the executor."""
    return run_plan(door, plan_fixes(report.findings), opts)


def rules_table() -> list[dict[str, Any]]:
    """Every rule, in group order: the README's table of checks."""
    return [{"id": r.id, "group": r.group, "severity": r.severity.value, "title": r.title,
             "fix_kind": r.fix_kind, "needs_reboot": r.needs_reboot}
            for r in sorted(RULES.values(), key=lambda r: (GROUP_NAMES.index(r.group), -r.severity.rank, r.id))]


__all__ = ["GROUPS", "GROUP_NAMES", "RULES", "Finding", "Report", "Rule", "Severity", "diagnose", "explain", "fix",
           "fixable", "rules_table"]
