"""Kernel checks: its configuration (/boot/config-*, /proc/config.gz,
modules.builtin) and its command line (provisioning.md §2, §5, §6)."""

from __future__ import annotations

from typing import Optional

from pmemctl.ops.doctor.findings import Context, Finding, Rule, Severity, check, rule
from pmemctl.sysfs import paths

CONFIG_UNKNOWN = rule(
    "kconfig-unknown", "kernel", Severity.INFO, "the kernel configuration cannot be read",
    """Neither /boot/config-$(uname -r) nor /proc/config.gz is readable, so the configuration checks are
    skipped; what sysfs shows (valid_zones, the kmem driver) is still checked.""",
    fix_kind="none")
NO_HOTPLUG = rule(
    "kconfig-no-memory-hotplug", "kernel", Severity.ERROR, "the kernel has no CONFIG_MEMORY_HOTPLUG",
    """Without memory hotplug no memory block can be added at runtime: kmem cannot turn a dax device into
    RAM.""", fix_kind="kernel", needs_reboot=True)
NO_HOTREMOVE = rule(
    "kconfig-no-memory-hotremove", "kernel", Severity.WARNING, "the kernel has no CONFIG_MEMORY_HOTREMOVE",
    """Without hot-remove, memory once onlined can never be offlined (the write fails with EINVAL,
    valid_zones and removable say so): a dax device in system-ram mode cannot go back to devdax until a
    reboot.""", fix_kind="kernel", needs_reboot=True)
NO_KMEM = rule(
    "kconfig-no-dev-dax-kmem", "kernel", Severity.ERROR, "the kernel has no CONFIG_DEV_DAX_KMEM",
    """kmem is the driver that hot-adds a dax device's range as System RAM; without it no dax device can
    become RAM.""", fix_kind="kernel", needs_reboot=True)
MISSING_OPTION = rule(
    "kconfig-missing-option", "kernel", Severity.INFO, "{subject} is not set",
    """An optional kernel feature is off: DEV_DAX_PMEM (NVDIMM namespaces as dax), DEV_DAX_HMEM (Soft
    Reserved memory), DEV_DAX_CXL (CXL RAM regions), EFI_SOFT_RESERVE (keep Soft Reserved memory away from
    the page allocator), MHP_MEMMAP_ON_MEMORY, ACPI_HMAT, NUMA_BALANCING. It matters only when the machine
    needs it.""", fix_kind="kernel", needs_reboot=True)
DEFAULT_ONLINE = rule(
    "kconfig-default-online", "kernel", Severity.INFO, "the kernel onlines hot-added memory by default ({subject})",
    """CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE=y (before 6.14) or CONFIG_MHP_DEFAULT_ONLINE_TYPE_ONLINE* (6.14,
    backported to 6.12.110) set the boot default of auto_online_blocks; memhp_default_state= overrides it,
    and auto_online_blocks itself overrides both at runtime (checked under policy).""",
    fix_kind="boot-argument")
KMEM_NOT_LOADED = rule(
    "kmem-not-loaded", "kernel", Severity.WARNING, "the kmem driver is not loaded",
    """There are dax devices but /sys/bus/dax/drivers/kmem is absent: the kernel has kmem as a module
    (CONFIG_DEV_DAX_KMEM=m, not in modules.builtin) that nobody loaded, so no device can become system-ram
    until it is. Loading it is harmless; distributions load it on demand (daxctl does).""",
    fix_kind="command")
NOSOFTRESERVE = rule(
    "cmdline-efi-nosoftreserve", "boot", Severity.WARNING, "efi=nosoftreserve is on the kernel command line",
    """efi=nosoftreserve tells the kernel to ignore the firmware's EFI_MEMORY_SP attribute: Soft Reserved
    memory (CXL, HBM) becomes ordinary boot RAM and never a dax device.""",
    fix_kind="boot-argument", needs_reboot=True)
MEMHP_ONLINE = rule(
    "cmdline-memhp-online", "boot", Severity.INFO, "memhp_default_state={subject} on the kernel command line",
    """memhp_default_state sets the boot value of auto_online_blocks: with an online value the kernel
    onlines every hot-added block itself, in the zone its online_policy picks; pmemctl (or daxctl) then
    finds them already online.""", fix_kind="boot-argument", needs_reboot=True)
MEMHP_OFFLINE = rule(
    "cmdline-memhp-offline", "boot", Severity.INFO, "memhp_default_state=offline on the kernel command line",
    """Hot-added memory stays offline until something onlines it (pmemctl, daxctl, a udev rule): the
    upstream advice for keeping control of the zone.""", fix_kind="none")
OTHER_ARGS = rule(
    "cmdline-memory-argument", "boot", Severity.INFO, "{subject} on the kernel command line",
    """Arguments that change how memory is laid out or onlined: movable_node (hot-added nodes go to
    ZONE_MOVABLE), memory_hotplug.memmap_on_memory and memory_hotplug.online_policy, memmap= (legacy
    emulated pmem), kernelcore=/movablecore= (boot memory in ZONE_MOVABLE), dax_hmem.region_idle (hmem
    stays idle), numa_balancing=.""", fix_kind="boot-argument", needs_reboot=True)

_BOOT_ARGS = ("movable_node", "memory_hotplug.memmap_on_memory", "memory_hotplug.online_policy",
              "memory_hotplug.auto_movable_ratio", "memmap", "kernelcore", "movablecore", "dax_hmem.region_idle",
              "numa_balancing")
_OPTIONAL = ("CONFIG_DEV_DAX_PMEM", "CONFIG_DEV_DAX_HMEM", "CONFIG_DEV_DAX_CXL", "CONFIG_EFI_SOFT_RESERVE",
             "CONFIG_MHP_MEMMAP_ON_MEMORY", "CONFIG_ACPI_HMAT", "CONFIG_NUMA_BALANCING")
_DEFAULT_ONLINE_TYPES = ("CONFIG_MHP_DEFAULT_ONLINE_TYPE_ONLINE_AUTO", "CONFIG_MHP_DEFAULT_ONLINE_TYPE_ONLINE_KERNEL",
                         "CONFIG_MHP_DEFAULT_ONLINE_TYPE_ONLINE_MOVABLE")


def _needed(ctx: Context, option: str) -> bool:
    """Whether the machine has what an optional option serves."""
    sources = {d.source for d in ctx.topo.dax_devices}
    return {
        "CONFIG_DEV_DAX_PMEM": bool(ctx.topo.regions),
        "CONFIG_DEV_DAX_HMEM": "hmem" in sources,
        "CONFIG_DEV_DAX_CXL": bool(ctx.system.cxl_memdevs) or "cxl" in sources,
        "CONFIG_EFI_SOFT_RESERVE": bool(ctx.system.cxl_memdevs) or "hmem" in sources,
    }.get(option, False)


def _has_hotplug_memory(ctx: Context) -> bool:
    """NVDIMM regions, dax devices or CXL memory: something that could become RAM."""
    return bool(ctx.topo.regions or ctx.topo.dax_devices or ctx.system.cxl_memdevs)


def _set(value: str) -> bool:
    return value in ("y", "m")


@check("kernel")
def kernel_config(ctx: Context) -> list[Finding]:
    cfg = ctx.system.config
    if cfg is None:
        return [ctx.finding(CONFIG_UNKNOWN, None, [(p, "absent") for p in ctx.system.config_paths_tried], None)]
    out: list[Finding] = []
    release = ctx.system.release or "$(uname -r)"

    def missing(r: Rule, option: str, subject: Optional[str] = None) -> None:
        out.append(ctx.finding(r, subject or option, [(cfg.source, f"{option}={cfg.value(option)}")],
                               f"boot a kernel built with {option}=y (this one: {release})"))

    if not _has_hotplug_memory(ctx):
        return out  # nothing to turn into RAM: the options do not matter here
    if not _set(cfg.value("CONFIG_MEMORY_HOTPLUG")):
        missing(NO_HOTPLUG, "CONFIG_MEMORY_HOTPLUG")
    elif not _set(cfg.value("CONFIG_MEMORY_HOTREMOVE")):
        missing(NO_HOTREMOVE, "CONFIG_MEMORY_HOTREMOVE")
    if not _set(cfg.value("CONFIG_DEV_DAX_KMEM")):
        missing(NO_KMEM, "CONFIG_DEV_DAX_KMEM")
    for option in _OPTIONAL:
        if not _set(cfg.value(option)) and (_needed(ctx, option) or option in ("CONFIG_ACPI_HMAT",)
                                            and bool(ctx.topo.dax_devices)):
            missing(MISSING_OPTION, option)
    online_form = next((o for o in _DEFAULT_ONLINE_TYPES if cfg.value(o) == "y"), None)
    if online_form is None and cfg.value("CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE") == "y":
        online_form = "CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE"
    if online_form is not None:
        out.append(ctx.finding(DEFAULT_ONLINE, online_form, [(cfg.source, f"{online_form}=y")],
                               "memhp_default_state=offline (or set auto_online_blocks at boot)"))
    return out


@check("kernel")
def kmem_module(ctx: Context) -> list[Finding]:
    """kmem built in (modules.builtin), a module not loaded, or absent (kernel_config says so)."""
    if not ctx.topo.dax_devices or ctx.topo.policy.kmem_driver:
        return []
    cfg, builtin = ctx.system.config, ctx.system.builtin_modules
    if cfg is not None and not _set(cfg.value("CONFIG_DEV_DAX_KMEM")):
        return []  # kconfig-no-dev-dax-kmem says it
    evidence = [(paths.dax_driver("kmem"), "absent")]
    if cfg is not None:
        evidence.append((cfg.source, f"CONFIG_DEV_DAX_KMEM={cfg.value('CONFIG_DEV_DAX_KMEM')}"))
    if builtin is not None and ctx.system.release:
        evidence.append((f"/lib/modules/{ctx.system.release}/modules.builtin",
                         "kmem built in" if "kmem" in builtin else "kmem not built in"))
    return [ctx.finding(KMEM_NOT_LOADED, None, evidence, "modprobe kmem")]


@check("boot")
def command_line(ctx: Context) -> list[Finding]:
    sysf = ctx.system
    out: list[Finding] = []
    cmdline = " ".join(sysf.cmdline)
    efi = sysf.arg("efi")
    if efi is not None and "nosoftreserve" in efi.split(","):
        out.append(ctx.finding(NOSOFTRESERVE, None, [(paths.PROC_CMDLINE, cmdline)],
                               "remove efi=nosoftreserve from the kernel command line (e.g. GRUB_CMDLINE_LINUX in "
                               "/etc/default/grub, then update-grub) and reboot"))
    memhp = sysf.arg("memhp_default_state")
    if memhp == "offline":
        out.append(ctx.finding(MEMHP_OFFLINE, None, [(paths.PROC_CMDLINE, f"memhp_default_state={memhp}")], None))
    elif memhp:
        out.append(ctx.finding(MEMHP_ONLINE, memhp, [(paths.PROC_CMDLINE, f"memhp_default_state={memhp}")],
                               "boot with memhp_default_state=offline to online hot-added memory yourself"))
    for name in _BOOT_ARGS:
        value = sysf.arg(name)
        if value is None:
            continue
        word = name if value == "" else f"{name}={value}"
        out.append(ctx.finding(OTHER_ARGS, word, [(paths.PROC_CMDLINE, word)],
                               f"keep it if intended; otherwise remove {word} from the kernel command line"))
    return out
