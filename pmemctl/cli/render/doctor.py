"""``pmemctl doctor``: findings for people (a Document) and for scripts (JSON)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from pmemctl.cli.render.change import change_document, outcome_json, plan_json
from pmemctl.cli.render.doc import Block, Document, Lines
from pmemctl.cli.render.json import _obj, envelope
from pmemctl.commandline import command_line

if TYPE_CHECKING:  # pragma: no cover
    from pmemctl.ops.doctor import Finding, Report, Rule
    from pmemctl.ops.services import ChangeResult

_MARK = {"info": "info", "warning": "WARNING", "error": "ERROR"}


def finding_lines(f: "Finding") -> list[str]:
    lines = [f"{_MARK[f.severity.value]:<7} {f.id}: {f.title}"]
    for e in f.evidence:
        lines.append(f"          evidence: {e.path}: {e.value}")
    if f.fix:
        lines.append(f"          fix ({f.rule.fix_kind}{', needs reboot' if f.rule.needs_reboot else ''}): {f.fix}")
    if f.needs_root:
        lines.append("          needs root: run doctor as root to check this")
    return lines


def doctor_document(report: "Report", fix: Optional["ChangeResult"] = None, *, sysroot: str = "/") -> Document:
    from pmemctl.ops.doctor import GROUPS

    blocks: list[Block] = []
    for group, about in GROUPS:
        if group not in report.groups:
            if group == "layout" and not report.layout_checked and len(report.groups) > 1:
                blocks.append(Lines(("not checked: drift from a provisioning layout is not part of this build",),
                                    title=f"{group}: {about}"))
            continue
        found = [f for f in report.findings if f.rule.group == group]
        lines: list[str] = []
        for f in found:
            lines.extend(finding_lines(f))
        blocks.append(Lines(tuple(lines) or ("ok",), title=f"{group}: {about}"))
    counts = report.counts()
    summary = (f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} info; "
               + ("healthy" if report.worst is None or report.worst.value == "info"
                  else f"exit {int(report.exit_code)}"))
    explain = command_line("doctor", "--explain", "ID", sysroot=sysroot)
    blocks.append(Lines((summary, f"explain a finding: {explain}"), style="bold"))
    if fix is not None:
        blocks.extend(change_document(fix, sysroot=sysroot).blocks)
    return Document.of(blocks)


def finding_json(f: "Finding") -> dict[str, Any]:
    d = f.to_dict()
    return _obj(
        "finding", id=d["id"], severity=d["severity"], group=d["group"], title=d["title"], subject=d["subject"],
        evidence=[_obj("evidence", path=e["path"], value=e["value"]) for e in d["evidence"]],
        fix=_obj("finding_fix", kind=d["fix"]["kind"], text=d["fix"]["text"]),
        needs_reboot=d["needs_reboot"], needs_root=d["needs_root"],
        runtime_fix=None if d["runtime_fix"] is None else _obj("runtime_fix", **d["runtime_fix"]),
    )


def doctor_json(sysroot: str, report: "Report", fix: Optional["ChangeResult"] = None) -> dict[str, Any]:
    worst = report.worst
    return envelope(
        "doctor", "doctor", sysroot,
        read_as_root=report.root,
        groups=list(report.groups),
        counts=report.counts(),
        healthy=worst is None or worst.value == "info",
        exit_code=int(report.exit_code),
        findings=[finding_json(f) for f in report.findings],
        layout_drift_checked=report.layout_checked,
        fix=None if fix is None else _obj("doctor_fix", dry_run=fix.dry_run, plan=plan_json(fix.plan),
                                          outcome=outcome_json(fix.outcome)),
    )


def explain_document(rule: "Rule") -> Document:
    import textwrap

    head = f"{rule.id} ({rule.severity.value}, group {rule.group}): {rule.title.format(subject='<object>')}"
    body = textwrap.wrap(rule.explain, 96)
    tail = [f"fix: {rule.fix_kind}" + (" (needs a reboot)" if rule.needs_reboot else "")]
    return Document.of([Lines((head, "", *body, "", *tail))])


def explain_json(sysroot: str, rule: "Rule") -> dict[str, Any]:
    return envelope("doctor_explain", "doctor", sysroot, id=rule.id, group=rule.group, severity=rule.severity.value,
                    title=rule.title, explain=rule.explain, fix_kind=rule.fix_kind, needs_reboot=rule.needs_reboot)


def checks_markdown() -> str:
    """The README's table of every doctor check, generated from the rules."""
    from pmemctl.ops.doctor import GROUPS, RULES

    lines = ["| group | ID | severity | finding | fix | reboot | `--fix` |", "|---|---|---|---|---|---|---|"]
    for group, _about in GROUPS:
        for r in sorted((r for r in RULES.values() if r.group == group), key=lambda r: (-r.severity.rank, r.id)):
            title = r.title.format(subject="X").replace("|", "\\|")
            lines.append(f"| {group} | `{r.id}` | {r.severity.value} | {title} | {r.fix_kind} | "
                         f"{'yes' if r.needs_reboot else ''} | {'yes' if r.runtime_fix else ''} |")
    return "\n".join(lines) + "\n"
