"""Drift from the provisioning layout (issue 10's ``pmemctl.ops.layout``): what
``pmemctl apply`` would change, missing or ambiguous entries, and a layout
file that cannot be read."""

from __future__ import annotations

from pmemctl.ops.doctor.findings import Context, Finding, Severity, check, rule
from pmemctl.ops.layout import LayoutError, check_drift, load_layout

LAYOUT_INVALID = rule(
    "layout-invalid", "layout", Severity.ERROR, "the provisioning layout cannot be read",
    """A layout file under /etc/pmemctl has an error: pmemctl apply (and the boot unit) refuse it and change
    nothing, so the machine is not provisioned at boot.""", fix_kind="layout")
LAYOUT_DRIFT = rule(
    "layout-drift", "layout", Severity.WARNING, "{subject} differs from the provisioning layout",
    """The machine is not what the layout says: pmemctl apply would change it (a device in another mode, blocks
    offline or in another zone, a policy value). Something changed it after boot, or apply did not run.""",
    fix_kind="command")
LAYOUT_MISSING = rule(
    "layout-missing", "layout", Severity.WARNING, "layout entry {subject} matches no device, or too many",
    """A layout entry that is not optional matched fewer or more devices than it expects: the hardware
    changed, a namespace was re-created (new uuid), or the selector is too wide.""", fix_kind="layout")

_MISSING = ("missing", "ambiguous")


def _kernel_path(ctx: Context, path: str) -> str:
    """The layout API names files under the sysroot; evidence names them as on the machine."""
    root = ctx.door.root.rstrip("/")
    return path[len(root):] if root and path.startswith(root + "/") else path


@check("layout")
def layout_drift(ctx: Context) -> list[Finding]:
    try:
        layout = load_layout(ctx.door)
    except LayoutError as err:
        return [ctx.finding(LAYOUT_INVALID, None, [(_kernel_path(ctx, err.file), f"line {err.line}: {err.problem}")],
                            ctx.cmd("config", "validate"))]
    if not layout.files:
        return []
    out: list[Finding] = []
    for item in check_drift(ctx.door, layout):
        evidence = [(_kernel_path(ctx, layout.files[0]), f"{item.name}: {item.selector}")]
        if item.status == "drift":
            evidence.append(("computed", item.difference or f"desired {item.desired}, actual {item.actual}"))
            out.append(ctx.finding(LAYOUT_DRIFT, item.name, evidence, ctx.cmd("apply", "--dry-run") + " then "
                                   + ctx.cmd("apply")))
        elif item.status in _MISSING:
            evidence.append(("computed", f"{item.status}: matched {', '.join(item.matched) or 'nothing'}"
                             + (f"; {item.difference}" if item.difference else "")))
            out.append(ctx.finding(LAYOUT_MISSING, item.name, evidence, ctx.cmd("config", "validate")))
    return out
