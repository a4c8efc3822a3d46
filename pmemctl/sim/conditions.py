"""Conditions: what goes wrong on real machines, put into a simulated tree
(``pmemctl sim create --condition NAME[=VALUE]``), one per doctor finding.

A condition runs after the scenario is materialised.  Where the simulated
kernel models the change (a policy write, offlining a block, unbinding kmem
with memory online) it is made through the simulated kernel, so the tree
stays what Linux would show; the rest (firmware tables, kernel
configuration, udev rules, a block stuck going offline) is written as files,
as a machine would have them.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import re
from dataclasses import dataclass
from typing import Callable, Optional

from pmemctl.sim.kernel import SimulatedKernel
from pmemctl.sim.machine import DaxDeviceSpec
from pmemctl.sim.tree import MODE_ROOT_RO, MODE_RW, TreeWriter
from pmemctl.sysfs import paths
from pmemctl.sysfs import system_paths as sp
from pmemctl.units import format_cpulist, parse_cpulist

Apply = Callable[[SimulatedKernel, Optional[str]], None]


class ConditionError(ValueError):
    """A condition that is unknown or does not fit the scenario."""


@dataclass(frozen=True)
class Condition:
    name: str
    help: str
    apply: Apply
    value: Optional[str] = None  # what VALUE means, when it takes one


CONDITIONS: dict[str, Condition] = {}


def condition(name: str, help: str, value: Optional[str] = None) -> Callable[[Apply], Apply]:
    def register(func: Apply) -> Apply:
        CONDITIONS[name] = Condition(name, help, func, value)
        return func
    return register


# ----------------------------------------------------------------------------- helpers


def _tree(k: SimulatedKernel) -> TreeWriter:
    return k.tree


def _release(k: SimulatedKernel) -> str:
    return k.spec.kernel_release


def _devices(k: SimulatedKernel, driver: Optional[str]) -> list[DaxDeviceSpec]:
    """The scenario's dax devices now bound to ``driver`` (read from the tree)."""
    out = []
    for dev in k.spec.dax_devices:
        link = k.link_basename(f"{paths.DAX_DEVICES}/{dev.name}/driver")
        if link == driver:
            out.append(dev)
    return out


def _one(k: SimulatedKernel, driver: Optional[str], cond: str) -> DaxDeviceSpec:
    devs = _devices(k, driver)
    if not devs:
        raise ConditionError(f"condition {cond} needs a dax device bound to {driver or 'no driver'}; "
                             "this scenario has none (try qemu-nvdimm --set stage=devdax or system-ram)")
    return devs[0]


def _online_blocks(k: SimulatedKernel, dev: DaxDeviceSpec) -> list[int]:
    bs = k.block_size
    out = []
    for lo, hi in dev.hotplug_ranges:
        for i in range(lo // bs, hi // bs):
            if k.read_optional(f"{paths.memory_block(i)}/state") == "online":
                out.append(i)
    return out


def _kmem_online(k: SimulatedKernel, cond: str) -> tuple[DaxDeviceSpec, list[int]]:
    for dev in _devices(k, "kmem"):
        blocks = _online_blocks(k, dev)
        if len(blocks) >= 2:
            return dev, blocks
    raise ConditionError(f"condition {cond} needs a system-ram dax device with online memory; this scenario has "
                         "none (try qemu-nvdimm --set stage=system-ram)")


# ----------------------------------------------------------------------------- firmware


def _tables(k: SimulatedKernel) -> list[str]:
    names = ["APIC", "DSDT", "FACP", "SRAT", "SLIT", "HMAT"]
    if k.spec.buses:
        names.append("NFIT")
    if k.exists(sp.CXL_DEVICES) or any(d.source == "cxl" for d in k.spec.dax_devices):
        names.append("CEDT")
    return names


def _write_tables(k: SimulatedKernel, names: list[str]) -> None:
    tree = _tree(k)
    tree.remove(sp.ACPI_TABLES)  # the firmware's whole set, replaced
    tree.mkdir(sp.ACPI_TABLES)
    for name in names:
        # the tables are 0400 (root only); listing the directory is what doctor needs
        tree.write_bytes(f"{sp.ACPI_TABLES}/{name}", name.encode() + b"\0" * 32, MODE_ROOT_RO)


@condition("acpi-tables", "write /sys/firmware/acpi/tables as the machine's firmware would (SRAT, SLIT, HMAT, "
           "NFIT with NVDIMMs, CEDT with CXL)")
def _acpi(k: SimulatedKernel, value: Optional[str]) -> None:
    _write_tables(k, _tables(k))


def _without(table: str) -> Apply:
    def apply(k: SimulatedKernel, value: Optional[str]) -> None:
        names = [n for n in _tables(k) if n != table]
        if table == "CEDT" and not k.exists(sp.CXL_DEVICES):
            _cxl_memdev(k, None)
        _write_tables(k, names)
        if table == "SRAT":  # without SRAT the kernel knows no proximity domain
            for dev in k.spec.dax_devices:
                _tree(k).attr(f"{dev.kpath}/target_node", "-1")
    return apply


for _table in ("SRAT", "HMAT", "NFIT", "CEDT"):
    condition(f"no-{_table.lower()}", f"the ACPI tables without {_table}")(_without(_table))


@condition("cxl-memdev", "a CXL memory device mem0 with volatile capacity (/sys/bus/cxl/devices/mem0/ram/size)",
           value="its ram size in bytes (default 16 GiB)")
def _cxl_memdev(k: SimulatedKernel, value: Optional[str]) -> None:
    tree = _tree(k)
    size = int(value, 0) if value else 16 << 30
    base = "/sys/devices/platform/ACPI0017:00/root0/port1/endpoint2/mem0"
    tree.mkdir(base + "/ram")
    tree.mkdir(base + "/pmem")
    tree.attr(base + "/ram/size", hex(size))
    tree.attr(base + "/pmem/size", "0x0")
    tree.attr(base + "/serial", "0x0")
    tree.mkdir(sp.CXL_DEVICES)
    tree.symlink(f"{sp.CXL_DEVICES}/mem0", base)


@condition("cxl-as-system-ram", "a CXL memory device whose capacity the firmware mapped as ordinary System RAM: "
           "no Soft Reserved range in /proc/iomem")
def _cxl_system_ram(k: SimulatedKernel, value: Optional[str]) -> None:
    _cxl_memdev(k, value)
    text = k.read_all(paths.PROC_IOMEM) or ""
    _tree(k).attr(paths.PROC_IOMEM, text.replace("Soft Reserved", "System RAM"))


@condition("iomem-as-user", "/proc/iomem as a user without root reads it: every address 0")
def _iomem_user(k: SimulatedKernel, value: Optional[str]) -> None:
    text = k.read_all(paths.PROC_IOMEM) or ""
    zeroed = re.sub(r"^(\s*)[0-9a-f]+-[0-9a-f]+ :", r"\g<1>00000000-00000000 :", text, flags=re.MULTILINE)
    _tree(k).attr(paths.PROC_IOMEM, zeroed)


# ----------------------------------------------------------------------------- kernel


#: what a distribution kernel (Debian 12's 6.1) sets for memory hotplug and dax
HEALTHY_CONFIG = {
    "CONFIG_MEMORY_HOTPLUG": "y", "CONFIG_MEMORY_HOTREMOVE": "y", "CONFIG_MHP_MEMMAP_ON_MEMORY": "y",
    "CONFIG_DEV_DAX": "m", "CONFIG_DEV_DAX_PMEM": "m", "CONFIG_DEV_DAX_HMEM": "m", "CONFIG_DEV_DAX_CXL": "m",
    "CONFIG_DEV_DAX_KMEM": "m", "CONFIG_EFI_SOFT_RESERVE": "y", "CONFIG_ACPI_HMAT": "y",
    "CONFIG_NUMA_BALANCING": "y", "CONFIG_LIBNVDIMM": "m", "CONFIG_ACPI_NFIT": "m",
    "CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE": "n",
}


def _write_config(k: SimulatedKernel, overrides: dict[str, str], *, gz: bool = False) -> None:
    tree = _tree(k)
    release = _release(k)
    current = dict(HEALTHY_CONFIG)
    path = sp.kernel_config(release)
    if k.exists(path):
        for line in (k.read_all(path) or "").splitlines():
            if line.startswith("CONFIG_") and "=" in line:
                key, _, v = line.partition("=")
                current[key] = v
            elif line.startswith("# CONFIG_"):
                current[line[2:].split()[0]] = "n"
    current.update(overrides)
    text = "".join(f"# {key} is not set\n" if v == "n" else f"{key}={v}\n" for key, v in sorted(current.items()))
    tree.mkdir("/proc/sys/kernel")
    tree.attr(sp.OSRELEASE, release)
    if gz:
        tree.write_bytes(sp.PROC_CONFIG_GZ, gzip.compress(text.encode()), 0o444)
        return
    tree.mkdir(sp.BOOT)
    tree.attr(path, text.rstrip("\n"), 0o644)
    tree.mkdir(f"{sp.MODULES}/{release}")
    tree.attr(sp.modules_builtin(release), "kernel/drivers/acpi/numa/hmat.ko", 0o644)


@condition("kconfig", "write /boot/config-RELEASE as a distribution kernel has it, with VALUE overriding",
           value="CONFIG_X=y|m|n[,CONFIG_Y=...]")
def _kconfig(k: SimulatedKernel, value: Optional[str]) -> None:
    overrides = {}
    for item in (value or "").split(","):
        if item.strip():
            key, sep, v = item.strip().partition("=")
            if not sep or not key.startswith("CONFIG_"):
                raise ConditionError(f"kconfig={value}: expected CONFIG_X=y|m|n")
            overrides[key] = v
    _write_config(k, overrides)


@condition("kconfig-gz", "the kernel configuration only as /proc/config.gz (CONFIG_IKCONFIG_PROC)")
def _kconfig_gz(k: SimulatedKernel, value: Optional[str]) -> None:
    _write_config(k, {}, gz=True)


for _name, _over in (("no-hotremove", {"CONFIG_MEMORY_HOTREMOVE": "n"}),
                     ("no-kmem", {"CONFIG_DEV_DAX_KMEM": "n"}),
                     ("no-hotplug", {"CONFIG_MEMORY_HOTPLUG": "n", "CONFIG_MEMORY_HOTREMOVE": "n"}),
                     ("default-online", {"CONFIG_MHP_DEFAULT_ONLINE_TYPE_ONLINE_MOVABLE": "y",
                                         "CONFIG_MHP_DEFAULT_ONLINE_TYPE_OFFLINE": "n"}),
                     ("default-online-old", {"CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE": "y"})):
    condition(_name, "a kernel configuration with " + ", ".join(f"{a}={b}" for a, b in _over.items()))(
        (lambda over: lambda k, v: _write_config(k, over))(_over))


@condition("kmem-not-loaded", "the kmem module not loaded: no /sys/bus/dax/drivers/kmem (files)")
def _kmem_unloaded(k: SimulatedKernel, value: Optional[str]) -> None:
    if _devices(k, "kmem"):
        raise ConditionError("kmem-not-loaded needs no device bound to kmem (try qemu-nvdimm --set stage=devdax)")
    _tree(k).remove(paths.dax_driver("kmem"))
    _tree(k).remove("/sys/module/kmem")


@condition("cmdline", "add an argument to /proc/cmdline", value="the argument, e.g. efi=nosoftreserve")
def _cmdline(k: SimulatedKernel, value: Optional[str]) -> None:
    if not value:
        raise ConditionError("cmdline needs a value: --condition cmdline=efi=nosoftreserve")
    text = (k.read_optional(paths.PROC_CMDLINE) or "").strip()
    _tree(k).attr(paths.PROC_CMDLINE, f"{text} {value}".strip())


# ----------------------------------------------------------------------------- policy and agents


@condition("auto-online", "write auto_online_blocks (through the simulated kernel)",
           value="offline|online|online_kernel|online_movable (default online)")
def _auto_online(k: SimulatedKernel, value: Optional[str]) -> None:
    k.write(paths.AUTO_ONLINE_BLOCKS, value or "online")


@condition("online-policy", "set memory_hotplug.online_policy", value="contig-zones|auto-movable")
def _online_policy(k: SimulatedKernel, value: Optional[str]) -> None:
    _tree(k).attr(paths.MEMORY_HOTPLUG_PARAMS + "/online_policy", value or "auto-movable", MODE_RW)


RHEL_RULE = ('# Memory hotadd request\n'
             'SUBSYSTEM=="memory", ACTION=="add", PROGRAM="/bin/uname -p", RESULT!="s390*", '
             'ATTR{state}=="offline", ATTR{state}="online_movable"\n')


@condition("udev-rule", "a distribution udev rule that onlines every hot-added memory block (RHEL's 40-redhat.rules)",
           value="the rules directory (default /usr/lib/udev/rules.d)")
def _udev(k: SimulatedKernel, value: Optional[str]) -> None:
    directory = value or "/usr/lib/udev/rules.d"
    if directory not in sp.UDEV_RULES_DIRS:
        raise ConditionError(f"udev-rule={directory}: not a udev rules directory ({', '.join(sp.UDEV_RULES_DIRS)})")
    tree = _tree(k)
    tree.mkdir(directory)
    tree.attr(f"{directory}/40-redhat.rules", RHEL_RULE, 0o644)


@condition("daxctl-config", "daxctl's boot-time configuration: /etc/daxctl.conf.d/pmem.conf, its udev rule and unit")
def _daxctl(k: SimulatedKernel, value: Optional[str]) -> None:
    tree = _tree(k)
    tree.mkdir(sp.DAXCTL_CONF_DIR)
    tree.attr(f"{sp.DAXCTL_CONF_DIR}/pmem.conf",
              "[reconfigure-device pmem0]\nnvdimm.uuid = 9e3bc3b4-6cb8-4d0b-9b2a-2d6f4e4d0a11\n"
              "mode = system-ram\nonline = true\nmovable = true\n", 0o644)
    tree.mkdir("/usr/lib/udev/rules.d")
    tree.attr("/usr/lib/udev/rules.d/90-daxctl-device.rules",
              'ACTION=="add", SUBSYSTEM=="dax", TAG+="systemd",\\\n'
              '  PROGRAM="/usr/bin/systemd-escape -p --template=daxdev-reconfigure@.service $env{DEVNAME}",\\\n'
              '  ENV{SYSTEMD_WANTS}="%c"\n', 0o644)
    tree.mkdir("/usr/lib/systemd/system")
    tree.attr(f"/usr/lib/systemd/system/{sp.DAXCTL_UNIT}",
              "[Unit]\nDescription=Automatic daxctl device reconfiguration\n"
              "Documentation=man:daxctl-reconfigure-device(1)\n\n"
              "[Service]\nType=forking\nGuessMainPID=false\nExecStart=/bin/sh -c \"exec daxctl reconfigure-device "
              "--check-config \\\"%I\\\"\"\n", 0o644)


# ----------------------------------------------------------------------------- devices and blocks


@condition("unaligned", "shrink a devdax device's range by 1.5 memory blocks, so it ends inside a block and "
           "kmem would lose whole blocks")
def _unaligned(k: SimulatedKernel, value: Optional[str]) -> None:
    dev = _one(k, "device_dax", "unaligned")
    cut = k.block_size + k.block_size // 2
    last = len(dev.mappings) - 1
    base = f"{dev.kpath}/mapping{last}"
    end = int(k.read(base + "/end"), 0)
    tree = _tree(k)
    tree.attr(base + "/end", hex(end - cut), MODE_ROOT_RO)
    tree.attr(f"{dev.kpath}/size", str(int(k.read(f"{dev.kpath}/size")) - cut))


@condition("no-target-node", "a dax device whose target_node is -1 (no SRAT entry for its range)")
def _no_target(k: SimulatedKernel, value: Optional[str]) -> None:
    dev = k.spec.dax_devices[0] if k.spec.dax_devices else None
    if dev is None:
        raise ConditionError("no-target-node needs a dax device")
    _tree(k).attr(f"{dev.kpath}/target_node", "-1")


@condition("unbound", "unbind a devdax device from device_dax (through the simulated kernel)")
def _unbound(k: SimulatedKernel, value: Optional[str]) -> None:
    dev = _one(k, "device_dax", "unbound")
    k.write(paths.dax_driver("device_dax") + "/unbind", dev.name)


@condition("in-use", "a process (pid 4242, 'postgres') has a devdax device open")
def _in_use(k: SimulatedKernel, value: Optional[str]) -> None:
    dev = _one(k, "device_dax", "in-use")
    path = os.path.join(k.root, ".pmemctl-sim", "holders.json")
    declared = []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            declared = json.load(fh)
    declared.append({"pid": 4242, "name": "postgres", "path": f"/dev/{dev.name}"})
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(declared, fh)


@condition("partial-online", "offline the second half of a system-ram device's online blocks (simulated kernel)")
def _partial(k: SimulatedKernel, value: Optional[str]) -> None:
    _dev, blocks = _kmem_online(k, "partial-online")
    for i in blocks[len(blocks) // 2:]:
        k.write(f"{paths.memory_block(i)}/state", "offline")


@condition("mixed-zones", "re-online the second half of a system-ram device's blocks into ZONE_NORMAL "
           "(simulated kernel)")
def _mixed(k: SimulatedKernel, value: Optional[str]) -> None:
    _dev, blocks = _kmem_online(k, "mixed-zones")
    half = blocks[len(blocks) // 2:]
    for i in reversed(half):
        k.write(f"{paths.memory_block(i)}/state", "offline")
    for i in half:
        k.write(f"{paths.memory_block(i)}/state", "online_kernel")


@condition("going-offline", "a system-ram device's last online block stuck in 'going-offline'")
def _going(k: SimulatedKernel, value: Optional[str]) -> None:
    _dev, blocks = _kmem_online(k, "going-offline")
    _tree(k).attr(f"{paths.memory_block(blocks[-1])}/state", "going-offline", MODE_RW)


@condition("not-removable", "a kernel without memory hot-remove (CONFIG_MEMORY_HOTREMOVE=n): every block reads "
           "removable 0, a system-ram device's online blocks among them")
def _not_removable(k: SimulatedKernel, value: Optional[str]) -> None:
    # since Linux 5.7 removable_show() prints IS_ENABLED(CONFIG_MEMORY_HOTREMOVE),
    # the same for every block (commit 53cdc1cb29e8)
    _kmem_online(k, "not-removable")
    tree = _tree(k)
    for name in k.listdir(paths.MEMORY):
        if name.startswith("memory") and name[6:].isdigit():
            tree.attr(f"{paths.MEMORY}/{name}/removable", "0")


@condition("stranded", "unbind kmem from a system-ram device with its memory online (simulated kernel): the "
           "range stays claimed until reboot")
def _stranded(k: SimulatedKernel, value: Optional[str]) -> None:
    dev, _blocks = _kmem_online(k, "stranded")
    k.write(paths.dax_driver("kmem") + "/unbind", dev.name)


# ----------------------------------------------------------------------------- nodes


@condition("zone-ratio", "offline boot memory blocks (files) until ZONE_MOVABLE is VALUE times the kernel zones",
           value="the ratio (default 4)")
def _zone_ratio(k: SimulatedKernel, value: Optional[str]) -> None:
    ratio = float(value or 4)
    zones: dict[int, str] = {}
    for name in k.listdir(paths.MEMORY):
        m = re.fullmatch(r"memory(\d+)", name)
        if m and k.read_optional(f"{paths.MEMORY}/{name}/state") == "online":
            zones[int(m.group(1))] = (k.read_optional(f"{paths.MEMORY}/{name}/valid_zones") or "").split(" ")[0]
    movable = sum(1 for z in zones.values() if z == "Movable")
    kernel = sorted(i for i, z in zones.items() if z != "Movable")
    if not movable:
        raise ConditionError("zone-ratio needs memory online in ZONE_MOVABLE (try qemu-nvdimm --set stage=system-ram)")
    keep = max(1, math.ceil(movable / ratio) - 1)  # kernel blocks left: movable > ratio * kernel
    for i in kernel[keep:]:
        _tree(k).attr(f"{paths.memory_block(i)}/state", "offline", MODE_RW)


@condition("kmem-in-dram-tier", "put the nodes of hot-added memory into the DRAM nodes' memory tier (files)")
def _dram_tier(k: SimulatedKernel, value: Optional[str]) -> None:
    tree = _tree(k)
    tiers = {}
    for name in k.listdir(paths.MEMORY_TIERING):
        m = re.fullmatch(r"memory_tier(\d+)", name)
        if m:
            tiers[int(m.group(1))] = k.read(f"{paths.MEMORY_TIERING}/{name}/nodelist")
    if len(tiers) < 2:
        raise ConditionError("kmem-in-dram-tier needs memory online on a second tier (try --set stage=system-ram)")
    first = min(tiers)
    merged = format_cpulist(sorted({n for text in tiers.values() for n in parse_cpulist(text)}))
    for t in sorted(tiers)[1:]:
        tree.remove(f"{paths.MEMORY_TIERING}/memory_tier{t}")
    tree.attr(f"{paths.MEMORY_TIERING}/memory_tier{first}/nodelist", merged)


@condition("demotion", "write demotion_enabled (simulated kernel)", value="true|false (default false)")
def _demotion(k: SimulatedKernel, value: Optional[str]) -> None:
    k.write(paths.DEMOTION_ENABLED, value or "false")


@condition("dmesg", "kernel log lines in the tree's captured log (/.pmemctl-bundle/dmesg.txt)",
           value="one line")
def _dmesg(k: SimulatedKernel, value: Optional[str]) -> None:
    tree = _tree(k)
    tree.mkdir(sp.BUNDLE_DIR)
    old = k.read_all(sp.DMESG_CAPTURE) or ""
    tree.attr(sp.DMESG_CAPTURE, old + (value or "") + "\n", 0o644)


# ----------------------------------------------------------------------------- entry point


def parse_conditions(items: tuple[str, ...] | list[str]) -> list[tuple[str, Optional[str]]]:
    out: list[tuple[str, Optional[str]]] = []
    for item in items:
        name, sep, value = item.partition("=")
        if name not in CONDITIONS:
            raise ConditionError(f"unknown condition {name!r}; conditions: {', '.join(sorted(CONDITIONS))}")
        out.append((name, value if sep else None))
    return out


def apply_conditions(root: str | os.PathLike[str], items: tuple[str, ...] | list[str]) -> None:
    """Apply ``NAME[=VALUE]`` conditions, in order, to the simulated tree at ``root``."""
    parsed = parse_conditions(items)
    kernel = SimulatedKernel(root)
    for name, value in parsed:
        CONDITIONS[name].apply(kernel, value)


@condition("layout", "a provisioning layout /etc/pmemctl/pmemctl.toml for the first dax device (files)",
           value="the mode it asks for: system-ram|devdax (default system-ram), or 'invalid' for a broken file")
def _layout(k: SimulatedKernel, value: Optional[str]) -> None:
    tree = _tree(k)
    tree.mkdir("/etc/pmemctl")
    if value == "invalid":
        tree.attr(sp.LAYOUT_FILE, "version = 1\n[[device]]\nname = \"pmem\"\nmode = \"sideways\"\n", 0o644)
        return
    if not k.spec.dax_devices:
        raise ConditionError("layout needs a dax device")
    dev = k.spec.dax_devices[0]
    tree.attr(sp.LAYOUT_FILE, f'version = 1\n\n[[device]]\nname = "pmem"\nmatch = {{ device = "{dev.name}" }}\n'
              f'mode = "{value or "system-ram"}"\n', 0o644)
