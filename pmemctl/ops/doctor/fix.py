"""``pmemctl doctor --fix``: the findings whose fix is safe at runtime (one
policy write that only changes what happens to the next hot-added memory)
become a Plan of :class:`~pmemctl.ops.actions.policy.SetPolicy` steps, applied
by the executor like any change (verify, journal, rollback)."""

from __future__ import annotations

from pmemctl.ops.actions.policy import SetPolicy
from pmemctl.ops.doctor.findings import Finding, Severity
from pmemctl.ops.plan import Plan


def fixable(findings: list[Finding]) -> list[Finding]:
    """Warnings and errors with a runtime fix (info findings are advice only)."""
    return [f for f in findings if f.runtime_fix is not None and f.severity.rank >= Severity.WARNING.rank]


def plan_fixes(findings: list[Finding]) -> Plan:
    chosen = fixable(findings)
    actions = []
    seen: set[str] = set()
    for f in chosen:
        fx = f.runtime_fix
        assert fx is not None
        if fx.path in seen:
            continue
        seen.add(fx.path)
        actions.append(SetPolicy(fx.path, fx.value, fx.value, fx.previous, fx.previous))
    others = [f for f in findings if f not in chosen and f.severity.rank >= Severity.WARNING.rank]
    notes = tuple(f"{f.id}: {f.title}" for f in chosen)
    if others:
        notes += (f"{len(others)} other warning(s)/error(s) need a reboot, the firmware or a decision: "
                  + ", ".join(sorted({f.id for f in others})),)
    return Plan(
        title="apply the runtime-safe fixes pmemctl doctor found",
        actions=tuple(actions),
        notes=notes,
        targets=tuple(a.path for a in actions),
    )
