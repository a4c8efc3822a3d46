"""Firmware checks: the ACPI tables present and the physical address map
(provisioning.md §6 rows "ACPI tables" and "Soft Reserved")."""

from __future__ import annotations

from pmemctl.ops.doctor.findings import Context, Finding, Severity, check, rule
from pmemctl.sysfs import paths
from pmemctl.sysfs import system_paths as sp

ACPI_UNKNOWN = rule(
    "acpi-tables-unknown", "firmware", Severity.INFO, "the ACPI tables cannot be listed",
    """/sys/firmware/acpi/tables is absent: the machine has no ACPI (device tree platforms), or the tree
    was captured without it. The checks that need SRAT, HMAT, NFIT or CEDT are skipped.""",
    fix_kind="none")
NO_SRAT = rule(
    "acpi-no-srat", "firmware", Severity.WARNING, "no SRAT: persistent memory has no proximity domain",
    """Without a System Resource Affinity Table the kernel cannot tell which NUMA node memory belongs to:
    regions and dax devices report target_node -1 and kmem refuses to hot-add their memory (ndctl issue
    260), or everything lands on node 0. Only the firmware can provide the table.""",
    fix_kind="bios", needs_reboot=True)
NO_HMAT = rule(
    "acpi-no-hmat", "firmware", Severity.INFO, "no HMAT: memory tiers use the kernel's default distance",
    """Without a Heterogeneous Memory Attribute Table the kernel has no latency or bandwidth figures: kmem
    puts its nodes at the default abstract distance (memory_tier22 on 6.1), and numa/access0 is absent.
    Tiering still works but cannot rank several slow kinds of memory.""",
    fix_kind="bios", needs_reboot=True)
NO_NFIT = rule(
    "acpi-no-nfit", "firmware", Severity.WARNING, "an ACPI.NFIT nvdimm bus without an NFIT table",
    """The nd bus says its provider is ACPI.NFIT, but /sys/firmware/acpi/tables has no NFIT: the tree is
    inconsistent (a partial capture) or the firmware table was overridden.""",
    fix_kind="bios", needs_reboot=True)
NO_CEDT = rule(
    "acpi-no-cedt", "firmware", Severity.WARNING, "CXL memory devices but no CEDT",
    """CXL memory devices are present but the CXL Early Discovery Table is missing: the kernel cannot find
    the host bridges and windows, so no region and no dax device can be made from that memory.""",
    fix_kind="bios", needs_reboot=True)
IOMEM_HIDDEN = rule(
    "iomem-needs-root", "firmware", Severity.INFO, "/proc/iomem shows zero addresses: run as root to check it",
    """The kernel prints every /proc/iomem address as 0 to readers without CAP_SYS_ADMIN. Soft Reserved
    ranges, kmem claims and stranded memory cannot be checked from it; doctor says so instead of
    guessing.""",
    fix_kind="command")
NO_SOFT_RESERVED = rule(
    "cxl-ram-not-soft-reserved", "firmware", Severity.WARNING,
    "CXL memory with volatile capacity but no Soft Reserved range",
    """A CXL memory device reports ram capacity, yet /proc/iomem has no Soft Reserved range: the firmware
    (or efi=nosoftreserve) handed the memory to the kernel as ordinary System RAM at boot, so it can never
    become a dax device or be hot-removed (ndctl issue 279). Enable the EFI_MEMORY_SP attribute in the BIOS
    (often "CXL memory as special purpose") and drop efi=nosoftreserve.""",
    fix_kind="bios", needs_reboot=True)


@check("firmware")
def acpi_tables(ctx: Context) -> list[Finding]:
    tables = ctx.system.acpi_tables
    if tables is None:
        return [ctx.finding(ACPI_UNKNOWN, None, [(sp.ACPI_TABLES, "absent")], None)]
    listing = " ".join(tables)
    out: list[Finding] = []
    has_pmem = bool(ctx.topo.regions or ctx.topo.dax_devices)
    if has_pmem and "SRAT" not in tables:
        out.append(ctx.finding(NO_SRAT, None, [(sp.ACPI_TABLES, listing)],
                               "enable NUMA/SRAT in the BIOS (\"NUMA\", \"ACPI SRAT\"), or boot a firmware that "
                               "describes the memory's proximity domain"))
    if has_pmem and "HMAT" not in tables:
        out.append(ctx.finding(NO_HMAT, None, [(sp.ACPI_TABLES, listing)],
                               "enable HMAT in the BIOS (QEMU: -machine hmat=on with -numa hmat-lb)"))
    if any(b.provider == "ACPI.NFIT" for b in ctx.topo.buses) and "NFIT" not in tables:
        bus = next(b for b in ctx.topo.buses if b.provider == "ACPI.NFIT")
        out.append(ctx.finding(NO_NFIT, bus.name, [(f"{bus.path}/provider", "ACPI.NFIT"),
                                                   (sp.ACPI_TABLES, listing)],
                               "capture the machine again as root, or check the firmware's NFIT"))
    if ctx.system.cxl_memdevs and "CEDT" not in tables:
        out.append(ctx.finding(NO_CEDT, None, [(sp.CXL_DEVICES, " ".join(m.name for m in ctx.system.cxl_memdevs)),
                                               (sp.ACPI_TABLES, listing)],
                               "update the BIOS and enable CXL support (the CEDT comes from the firmware)"))
    return out


@check("firmware")
def address_map(ctx: Context) -> list[Finding]:
    text = ctx.system.iomem
    if text is None:
        return []
    if ctx.system.iomem_zeroed:
        return [ctx.finding(IOMEM_HIDDEN, None, [(paths.PROC_IOMEM, "all addresses 00000000")],
                            "sudo " + ctx.cmd("doctor"), needs_root=True)]
    ram = [m for m in ctx.system.cxl_memdevs if m.ram_size]
    if ram and "Soft Reserved" not in text:
        out = []
        for m in ram:
            out.append(ctx.finding(
                NO_SOFT_RESERVED, m.name,
                [(f"{sp.CXL_DEVICES}/{m.name}/ram/size", hex(m.ram_size or 0)),
                 (paths.PROC_IOMEM, "no 'Soft Reserved' line")],
                "BIOS: map CXL memory as EFI special purpose (EFI_MEMORY_SP); remove efi=nosoftreserve"))
        return out
    return []
