"""Device and block checks: alignment losses, driver and node of each dax
device, its users, the state of its memory blocks and stranded memory
(provisioning.md §5, §6; kernel-abi.md §7)."""

from __future__ import annotations

from typing import Optional

from pmemctl.model.records import BlockState, DaxDevice
from pmemctl.ops.doctor.findings import Context, Finding, Severity, check, rule
from pmemctl.sysfs import paths
from pmemctl.units import format_size

ALIGN_LOSS = rule(
    "align-loss", "devices", Severity.WARNING, "{subject} loses whole memory blocks to alignment",
    """kmem hot-adds only whole memory blocks: it trims each range of a dax device to block_size_bytes
    alignment, and the rest is never usable as RAM (ndctl issues 243, 294; dmesg may say "truncated ... due
    to alignment"). Losing one block or more means the namespace's size or offset does not fit the block
    size: recreate it with a size that 'pmemctl namespace plan' computes.""",
    fix_kind="command")
ALIGN_TRIM = rule(
    "align-trim", "devices", Severity.INFO, "{subject} is not block-aligned: part of a block is unusable as RAM",
    """The device's range starts or ends inside a memory block (the devdax info block and memmap reserve
    push the data start past the namespace start). kmem trims it: less than one block of capacity never
    becomes RAM. Usually unavoidable; shown so the numbers add up.""", fix_kind="command")
ALIGN_NEEDS_ROOT = rule(
    "align-needs-root", "devices", Severity.INFO, "{subject}: its address range needs root to read",
    """The dax device's resource and mapping ranges are readable by root only (mode 0400), and /proc/iomem
    shows zeros to other users: the alignment of its range cannot be checked.""", fix_kind="command")
NO_TARGET_NODE = rule(
    "dax-no-target-node", "devices", Severity.WARNING, "{subject} has no target node",
    """target_node is -1: the firmware gave the range no proximity domain (no SRAT entry). kmem refuses to
    hot-add memory without a node (ndctl issue 260), or the memory would land on node 0 among DRAM.""",
    fix_kind="bios", needs_reboot=True)
DAX_UNBOUND = rule(
    "dax-unbound", "devices", Severity.INFO, "{subject} is bound to no driver",
    """The dax device has neither device_dax nor kmem: it is neither usable as /dev/daxX.Y nor as RAM.""",
    fix_kind="command")
DAX_IN_USE = rule(
    "dax-in-use", "devices", Severity.INFO, "{subject} is open or mapped by a process",
    """A process has the character device open or mapped: reconfiguring it to system-ram would fail (EBUSY)
    or pull memory from under an application. Stop the users first.""", fix_kind="command")
PARTIAL_ONLINE = rule(
    "blocks-partly-online", "blocks", Severity.INFO, "{subject}: only part of its memory is online",
    """Some of the device's memory blocks are online and some offline. That is intended when a layout asks
    for part of a device (online = \"16G\"); otherwise something onlined or offlined blocks behind your
    back.""", fix_kind="command")
MIXED_ZONES = rule(
    "blocks-mixed-zones", "blocks", Severity.WARNING, "{subject}: its online memory is in several zones",
    """The device's online blocks are split between ZONE_NORMAL and ZONE_MOVABLE. Unless a layout asked for
    a normal/movable split, an agent (auto_online_blocks=online, a udev rule) onlined part of it first; the
    ZONE_NORMAL part cannot be reliably offlined.""", fix_kind="command")
GOING_OFFLINE = rule(
    "blocks-going-offline", "blocks", Severity.ERROR, "memory block {subject} is stuck going offline",
    """A block reads 'going-offline': an offline is in progress or was interrupted. The kernel retries
    migrating pages until a signal arrives; pages that cannot move (pinned, kernel allocations) keep it
    there.""", fix_kind="command")
NOT_REMOVABLE = rule(
    "blocks-not-removable", "blocks", Severity.WARNING, "{subject}: online memory the kernel cannot offline",
    """removable reads 0 for online blocks of the device: without CONFIG_MEMORY_HOTREMOVE, or with the
    blocks in ZONE_NORMAL holding unmovable pages, offlining fails (EINVAL/EBUSY) and the device cannot go
    back to devdax until a reboot.""", fix_kind="kernel", needs_reboot=True)
NOTHING = rule(
    "no-persistent-memory", "devices", Severity.INFO, "no NVDIMM, dax device or CXL memory found",
    """The machine shows no nd bus region, no dax device and no CXL memory device: there is nothing that could
    become RAM. If there should be, check the firmware (NFIT, Soft Reserved) and that the drivers are loaded
    (nd_pmem, dax_pmem, dax_hmem, cxl_acpi).""", fix_kind="none")
STRANDED = rule(
    "stranded-memory", "blocks", Severity.WARNING, "memory stranded from {subject} until the next reboot",
    """kmem was unbound (or the device removed) while its memory was online: remove_memory() failed, the
    range stays claimed as 'System RAM (kmem)' in /proc/iomem, and dmesg says it "cannot be hotremoved until
    the next reboot". The memory stays in use as RAM; the device cannot be reconfigured until a reboot.""",
    fix_kind="none", needs_reboot=True)


def _dax_path(name: str) -> str:
    return f"{paths.DAX_DEVICES}/{name}"


def _ranges(dev: DaxDevice) -> Optional[list[tuple[int, int]]]:
    if dev.mappings:
        return [(m.start, m.end + 1) for m in dev.mappings]
    if dev.resource is not None:
        return [(dev.resource, dev.resource + dev.size)]
    return None


def _usable(ranges: list[tuple[int, int]], bs: int) -> int:
    return sum(max(0, (hi // bs) * bs - (-(-lo // bs)) * bs) for lo, hi in ranges)


def _alignment(ctx: Context, dev: DaxDevice, bs: int) -> Optional[Finding]:
    if dev.size <= 0:
        return None
    ranges = _ranges(dev)
    if ranges is None:
        return ctx.finding(ALIGN_NEEDS_ROOT, dev.name, [(_dax_path(dev.name) + "/resource", "unreadable")],
                           "sudo " + ctx.cmd("doctor", "--only", "devices"), needs_root=True)
    lost = dev.size - _usable(ranges, bs)
    if lost <= 0:
        return None
    evidence = [(_dax_path(dev.name) + "/size", str(dev.size)), (paths.BLOCK_SIZE_BYTES, f"{bs:x}")]
    evidence += [(_dax_path(dev.name) + ("/mapping0" if dev.mappings else "/resource"),
                  " ".join(f"{lo:#x}-{hi - 1:#x}" for lo, hi in ranges))]
    evidence += [("dmesg", line) for line in ctx.system.dmesg or () if dev.name in line and "align" in line]
    lost_text = f"{format_size(lost)} ({lost} bytes) of {format_size(dev.size)}"
    evidence.append(("computed", f"{lost_text} outside whole {format_size(bs)} blocks"))
    region = f"region{dev.region_id}" if dev.namespace and dev.region_id is not None else None
    if region:
        fix = ctx.cmd("namespace", "plan", "--region", region, "--system-ram", "SIZE") + \
            f"  (then recreate {dev.namespace} with the size it gives)"
    else:
        fix = "ask the firmware (or cxl create-region) for a block-aligned range"
    return ctx.finding(ALIGN_LOSS if lost >= bs else ALIGN_TRIM, dev.name, evidence, fix)


@check("devices")
def dax_devices(ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    bs = ctx.topo.policy.block_size
    if not (ctx.topo.regions or ctx.topo.dax_devices or ctx.system.cxl_memdevs):
        out.append(ctx.finding(NOTHING, None, [(paths.ND_DEVICES, "no region"), (paths.DAX_DEVICES, "empty")],
                               None))
    for dev in ctx.topo.dax_devices:
        if bs:
            found = _alignment(ctx, dev, bs)
            if found is not None:
                out.append(found)
        # the model reads -1 (NUMA_NO_NODE) as "no node": look at the raw value
        if dev.target_node is None and (ctx.door.read_optional(f"{dev.path}/target_node") or "").strip() == "-1":
            out.append(ctx.finding(NO_TARGET_NODE, dev.name, [(_dax_path(dev.name) + "/target_node", "-1")],
                                   "firmware: describe the range in the SRAT (BIOS NUMA settings)"))
        if dev.driver is None and dev.name not in {s.device for s in ctx.topo.stranded}:  # stranded: said below
            out.append(ctx.finding(DAX_UNBOUND, dev.name, [(_dax_path(dev.name) + "/driver", "absent")],
                                   ctx.cmd("reconfigure", dev.name, "--mode", "devdax")))
        if dev.driver == "device_dax":
            users = ctx.door.processes_using(f"/dev/{dev.name}")
            if users:
                out.append(ctx.finding(DAX_IN_USE, dev.name, [(f"/proc/{pid}", name) for pid, name in users],
                                       "stop " + ", ".join(f"{name} (pid {pid})" for pid, name in users)
                                       + f" before reconfiguring {dev.name}"))
    return out


@check("blocks")
def device_blocks(ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    for dev in ctx.topo.dax_devices:
        if dev.driver != "kmem":
            continue
        blocks = ctx.topo.blocks_of(dev.name)
        online = [b for b in blocks if b.online]
        if online and len(online) < len(blocks):
            out.append(ctx.finding(PARTIAL_ONLINE, dev.name,
                                   [(f"{paths.MEMORY}/memory{b.index}/state", b.state.value) for b in
                                    (online[0], next(b for b in blocks if not b.online))]
                                   + [("computed", f"{len(online)} of {len(blocks)} blocks online")],
                                   ctx.cmd("online", dev.name)))
        zones: dict[str, list[int]] = {}
        for b in online:
            if b.zone:
                zones.setdefault(b.zone, []).append(b.index)
        if len(zones) > 1:
            split = sorted(zones.items())
            out.append(ctx.finding(MIXED_ZONES, dev.name,
                                   [(f"{paths.MEMORY}/memory{idx[0]}/valid_zones", z) for z, idx in split]
                                   + [("computed", ", ".join(f"{len(i)} blocks {z}" for z, i in split))],
                                   ctx.cmd("offline", dev.name) + " && " + ctx.cmd("online", dev.name,
                                                                                   "--zone", "movable")))
        stuck = [b for b in online if b.removable is False]
        if stuck:
            out.append(ctx.finding(NOT_REMOVABLE, dev.name,
                                   [(f"{paths.MEMORY}/memory{stuck[0].index}/removable", "0"),
                                    ("computed", f"{len(stuck)} online blocks not removable")],
                                   "boot a kernel with CONFIG_MEMORY_HOTREMOVE=y and online the memory movable"))
    for b in ctx.topo.blocks:
        if b.state == BlockState.GOING_OFFLINE:
            out.append(ctx.finding(GOING_OFFLINE, f"memory{b.index}",
                                   [(f"{paths.MEMORY}/memory{b.index}/state", b.state.value)],
                                   ctx.cmd("status") + "; if no pmemctl run holds it: "
                                   + ctx.cmd("online", "--blocks", str(b.index))))
    for s in ctx.topo.stranded:
        out.append(ctx.finding(STRANDED, s.device,
                               [(paths.PROC_IOMEM, f"{s.start:08x}-{s.end:08x} : System RAM (kmem) (under {s.device})")]
                               + [("dmesg", line) for line in ctx.system.dmesg or ()
                                  if "hotremove" in line or "hot-remove" in line][:3],
                               "reboot to release it (pmemctl offlines blocks before unbinding kmem, so this "
                               "does not happen through pmemctl)"))
    return out
