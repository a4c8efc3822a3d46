"""Policy and agents: who decides whether and where hot-added memory comes
online (auto_online_blocks, the memory_hotplug parameters, udev rules,
daxctl's boot-time configuration; provisioning.md §1, §2)."""

from __future__ import annotations

import posixpath

from pmemctl.ops.doctor.findings import Context, Finding, RuntimeFix, Severity, check, rule
from pmemctl.sysfs import paths
from pmemctl.sysfs import system_paths as sp

AUTO_ONLINE_KERNEL = rule(
    "policy-auto-online-normal", "policy", Severity.WARNING,
    "auto_online_blocks={subject}: hot-added memory lands in ZONE_NORMAL",
    """With auto_online_blocks 'online_kernel', or 'online' under the default online_policy contig-zones and
    without movable_node, the kernel onlines every block kmem adds into ZONE_NORMAL: the memory then holds
    kernel allocations and refuses to go offline (ndctl issues 246, 256), and a later movable online by
    pmemctl finds the blocks taken. Setting auto_online_blocks to offline is safe at runtime: it only
    changes what happens to the next hot-added block (pmemctl doctor --fix does it).""",
    fix_kind="command", runtime_fix=True)
AUTO_ONLINE_MOVABLE = rule(
    "policy-auto-online-movable", "policy", Severity.INFO,
    "auto_online_blocks=online_movable: the kernel onlines hot-added memory itself",
    """Every block kmem adds is onlined by the kernel into ZONE_MOVABLE before pmemctl or daxctl see it.
    That is fine for system-ram devices; partial onlining and ZONE_NORMAL need auto_online_blocks=offline.""",
    fix_kind="command")
AUTO_MOVABLE = rule(
    "policy-auto-movable", "policy", Severity.INFO, "online_policy=auto-movable (ratio {subject}%)",
    """With online_policy auto-movable, 'online' picks ZONE_MOVABLE only while the MOVABLE:KERNEL ratio stays
    under auto_movable_ratio; past it, blocks go to ZONE_NORMAL.""", fix_kind="none")
UDEV_ONLINES = rule(
    "agent-udev-onlines-memory", "agents", Severity.WARNING, "a udev rule onlines memory blocks ({subject})",
    """A rule matching SUBSYSTEM=="memory" that assigns ATTR{state} onlines every hot-added block itself,
    ignoring auto_online_blocks (RHEL's 40-redhat.rules, SUSE's 80-hotplug-cpu-mem.rules): it races pmemctl
    and daxctl and picks the zone for them. A same-named file in /etc/udev/rules.d overrides a
    distribution's rule; a link to /dev/null masks it.""",
    fix_kind="file")
DAXCTL_CONFIG = rule(
    "agent-daxctl-config", "agents", Severity.INFO, "daxctl reconfigures dax devices at boot ({subject})",
    """daxctl's udev rule starts daxdev-reconfigure@ for every dax device, which applies
    /etc/daxctl.conf.d/*.conf sections matched by info-block uuid. Two tools managing the same device (daxctl
    and a pmemctl layout) undo each other; pmemctl config import-daxctl turns the sections into a layout.""",
    fix_kind="file")
DAXCTL_AND_LAYOUT = rule(
    "agent-daxctl-and-layout", "agents", Severity.WARNING, "both daxctl and a pmemctl layout manage dax devices",
    """daxctl's boot-time configuration and the pmemctl layout both exist: at boot each applies its own idea
    of the devices, in no defined order.""", fix_kind="file")

_KERNEL_ZONE_VALUES = ("online", "online_kernel")


@check("policy")
def hotplug_policy(ctx: Context) -> list[Finding]:
    pol = ctx.topo.policy
    out: list[Finding] = []
    value = pol.auto_online_blocks
    hotplug_memory = bool(ctx.topo.dax_devices or ctx.system.cxl_memdevs)
    evidence = [(paths.AUTO_ONLINE_BLOCKS, value or "")]
    if value in _KERNEL_ZONE_VALUES and hotplug_memory:
        kernel_zone = value == "online_kernel" or (pol.online_policy in (None, "contig-zones") and not pol.movable_node)
        if kernel_zone:
            if pol.online_policy is not None:
                evidence.append((paths.MEMORY_HOTPLUG_PARAMS + "/online_policy", pol.online_policy))
            out.append(ctx.finding(
                AUTO_ONLINE_KERNEL, value, evidence,
                f"echo offline > {paths.AUTO_ONLINE_BLOCKS}  (or: {ctx.cmd('doctor', '--fix')}); "
                "at boot: memhp_default_state=offline",
                runtime_fix=RuntimeFix(paths.AUTO_ONLINE_BLOCKS, "offline", value or "")))
    elif value == "online_movable" and hotplug_memory:
        out.append(ctx.finding(AUTO_ONLINE_MOVABLE, value, evidence,
                               f"echo offline > {paths.AUTO_ONLINE_BLOCKS} if pmemctl should choose"))
    if pol.online_policy == "auto-movable":
        ratio = str(pol.auto_movable_ratio) if pol.auto_movable_ratio is not None else "?"
        out.append(ctx.finding(AUTO_MOVABLE, ratio, [(paths.MEMORY_HOTPLUG_PARAMS + "/online_policy", "auto-movable"),
                                                     (paths.MEMORY_HOTPLUG_PARAMS + "/auto_movable_ratio", ratio)],
                               None))
    return out


@check("agents")
def onlining_agents(ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    by_file: dict[str, list[str]] = {}
    for line in ctx.system.udev_rules:
        if line.kind == "memory-state":
            by_file.setdefault(line.path, []).append(f"line {line.line}: {line.text}")
    for path, lines in by_file.items():
        name = posixpath.basename(path)
        if path.startswith("/etc/"):
            fix = f"remove or edit {path} (the ATTR{{state}}= assignment), then: udevadm control --reload"
        else:
            fix = f"ln -s /dev/null /etc/udev/rules.d/{name} && udevadm control --reload  (masks {path})"
        out.append(ctx.finding(UDEV_ONLINES, path, [(path, v) for v in lines], fix))
    sections = ctx.system.daxctl_sections
    if sections:
        files = sorted({s.path for s in sections})
        evidence = [(s.path, f"[reconfigure-device {s.name}] " + ", ".join(f"{k} = {v}" for k, v in s.keys))
                    for s in sections]
        evidence += [(u, "present") for u in ctx.system.daxctl_units]
        out.append(ctx.finding(DAXCTL_CONFIG, ", ".join(files), evidence,
                               ctx.cmd("config", "import-daxctl", sp.DAXCTL_CONF_DIR)))
        if ctx.layout is not None:
            out.append(ctx.finding(DAXCTL_AND_LAYOUT, None, evidence[:1] + [(sp.LAYOUT_FILE, "present")],
                                   f"keep one: move the sections into the layout and remove {', '.join(files)}"))
    return out
