"""One simulator condition per finding: each is detected with the right ID,
severity, subject and evidence, and sets the exit code."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

import pytest
from doctor_support import Build, finding, ids

SYSRAM = {"stage": "system-ram"}
DEVDAX = {"stage": "devdax"}
CXL = ("cxl-hmem", {"kind": "hmem", "mode": "system-ram"})
QEMU = "qemu-nvdimm"

# (conditions, scenario, params, ID, severity, subject, (evidence path, substring of its value))
CASES: list[tuple[tuple[str, ...], str, dict[str, str], str, str, Optional[str], tuple[str, str]]] = [
    (("no-srat",), QEMU, SYSRAM, "acpi-no-srat", "warning", None, ("/sys/firmware/acpi/tables", "HMAT")),
    (("no-hmat",), QEMU, SYSRAM, "acpi-no-hmat", "info", None, ("/sys/firmware/acpi/tables", "SRAT")),
    (("no-nfit",), QEMU, SYSRAM, "acpi-no-nfit", "warning", "ndbus0", ("/sys/firmware/acpi/tables", "SRAT")),
    (("no-cedt",), *CXL, "acpi-no-cedt", "warning", None, ("/sys/bus/cxl/devices", "mem0")),
    (("cxl-as-system-ram",), *CXL, "cxl-ram-not-soft-reserved", "warning", "mem0",
     ("/sys/bus/cxl/devices/mem0/ram/size", "0x400000000")),
    (("iomem-as-user",), QEMU, SYSRAM, "iomem-needs-root", "info", None, ("/proc/iomem", "00000000")),
    (("no-hotremove",), QEMU, SYSRAM, "kconfig-no-memory-hotremove", "warning", "CONFIG_MEMORY_HOTREMOVE",
     ("/boot/config-6.1.0-28-amd64", "CONFIG_MEMORY_HOTREMOVE=n")),
    (("no-kmem",), QEMU, SYSRAM, "kconfig-no-dev-dax-kmem", "error", "CONFIG_DEV_DAX_KMEM",
     ("/boot/config-6.1.0-28-amd64", "CONFIG_DEV_DAX_KMEM=n")),
    (("no-hotplug",), QEMU, SYSRAM, "kconfig-no-memory-hotplug", "error", "CONFIG_MEMORY_HOTPLUG",
     ("/boot/config-6.1.0-28-amd64", "CONFIG_MEMORY_HOTPLUG=n")),
    (("kconfig=CONFIG_DEV_DAX_PMEM=n",), QEMU, SYSRAM, "kconfig-missing-option", "info", "CONFIG_DEV_DAX_PMEM",
     ("/boot/config-6.1.0-28-amd64", "CONFIG_DEV_DAX_PMEM=n")),
    (("default-online",), QEMU, SYSRAM, "kconfig-default-online", "info",
     "CONFIG_MHP_DEFAULT_ONLINE_TYPE_ONLINE_MOVABLE", ("/boot/config-6.1.0-28-amd64", "ONLINE_MOVABLE=y")),
    (("default-online-old",), QEMU, SYSRAM, "kconfig-default-online", "info", "CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE",
     ("/boot/config-6.1.0-28-amd64", "CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE=y")),
    (("kmem-not-loaded",), QEMU, DEVDAX, "kmem-not-loaded", "warning", None,
     ("/sys/bus/dax/drivers/kmem", "absent")),
    (("cmdline=efi=nosoftreserve",), QEMU, SYSRAM, "cmdline-efi-nosoftreserve", "warning", None,
     ("/proc/cmdline", "efi=nosoftreserve")),
    (("cmdline=memhp_default_state=online",), QEMU, SYSRAM, "cmdline-memhp-online", "info", "online",
     ("/proc/cmdline", "memhp_default_state=online")),
    (("cmdline=movable_node",), QEMU, SYSRAM, "cmdline-memory-argument", "info", "movable_node",
     ("/proc/cmdline", "movable_node")),
    ((), QEMU, SYSRAM, "cmdline-memhp-offline", "info", None, ("/proc/cmdline", "memhp_default_state=offline")),
    (("auto-online=online",), QEMU, SYSRAM, "policy-auto-online-normal", "warning", "online",
     ("/sys/devices/system/memory/auto_online_blocks", "online")),
    (("auto-online=online_kernel",), QEMU, SYSRAM, "policy-auto-online-normal", "warning", "online_kernel",
     ("/sys/devices/system/memory/auto_online_blocks", "online_kernel")),
    (("auto-online=online_movable",), QEMU, SYSRAM, "policy-auto-online-movable", "info", "online_movable",
     ("/sys/devices/system/memory/auto_online_blocks", "online_movable")),
    (("online-policy=auto-movable",), QEMU, SYSRAM, "policy-auto-movable", "info", "301",
     ("/sys/module/memory_hotplug/parameters/online_policy", "auto-movable")),
    (("udev-rule",), QEMU, SYSRAM, "agent-udev-onlines-memory", "warning", "/usr/lib/udev/rules.d/40-redhat.rules",
     ("/usr/lib/udev/rules.d/40-redhat.rules", 'ATTR{state}="online_movable"')),
    (("udev-rule=/etc/udev/rules.d",), QEMU, SYSRAM, "agent-udev-onlines-memory", "warning",
     "/etc/udev/rules.d/40-redhat.rules", ("/etc/udev/rules.d/40-redhat.rules", "line 2")),
    (("daxctl-config",), QEMU, SYSRAM, "agent-daxctl-config", "info", "/etc/daxctl.conf.d/pmem.conf",
     ("/etc/daxctl.conf.d/pmem.conf", "mode = system-ram")),
    (("unaligned",), QEMU, DEVDAX, "align-loss", "warning", "dax0.0", ("computed", "outside whole 128M blocks")),
    ((), QEMU, DEVDAX, "align-trim", "info", "dax0.0", ("/sys/bus/dax/devices/dax0.0/size", "4093640704")),
    (("no-target-node",), QEMU, SYSRAM, "dax-no-target-node", "warning", "dax0.0",
     ("/sys/bus/dax/devices/dax0.0/target_node", "-1")),
    (("unbound",), QEMU, DEVDAX, "dax-unbound", "info", "dax0.0", ("/sys/bus/dax/devices/dax0.0/driver", "absent")),
    (("in-use",), QEMU, DEVDAX, "dax-in-use", "info", "dax0.0", ("/proc/4242", "postgres")),
    (("partial-online",), QEMU, SYSRAM, "blocks-partly-online", "info", "dax0.0", ("computed", "15 of 30 blocks")),
    (("mixed-zones",), QEMU, SYSRAM, "blocks-mixed-zones", "warning", "dax0.0", ("computed", "15 blocks Normal")),
    (("going-offline",), QEMU, SYSRAM, "blocks-going-offline", "error", "memory62",
     ("/sys/devices/system/memory/memory62/state", "going-offline")),
    (("not-removable",), QEMU, SYSRAM, "blocks-not-removable", "warning", "dax0.0",
     ("computed", "30 online blocks not removable")),
    (("stranded",), QEMU, SYSRAM, "stranded-memory", "warning", "dax0.0", ("/proc/iomem", "System RAM (kmem)")),
    (("zone-ratio",), QEMU, SYSRAM, "zone-ratio", "warning", "4.3", ("computed from memoryN/valid_zones", "Movable")),
    (("zone-ratio=40",), QEMU, SYSRAM, "memmap-cost", "error", "47%", ("computed from memoryN/valid_zones", "memmap")),
    (("kmem-in-dram-tier",), QEMU, SYSRAM, "tier-kmem-node-in-dram-tier", "warning", "1",
     ("/sys/devices/virtual/memory_tiering/memory_tier4/nodelist", "0-1")),
    (("layout=system-ram",), QEMU, DEVDAX, "layout-drift", "warning", "pmem",
     ("computed", "dax0.0 is devdax, the layout wants system-ram")),
    (("layout=invalid",), QEMU, DEVDAX, "layout-invalid", "error", None,
     ("/etc/pmemctl/pmemctl.toml", "line 4: device[0]: mode must be one of")),
    (("demotion=false",), QEMU, SYSRAM, "tier-demotion-off", "info", None,
     ("/sys/kernel/mm/numa/demotion_enabled", "false")),
]


@pytest.mark.parametrize("conditions,scenario,params,rule_id,severity,subject,evidence", CASES,
                         ids=[f"{c[3]}[{','.join(c[0]) or 'as built'}]" for c in CASES])
def test_condition_is_found(build: Build, doctor: Callable[..., Any], conditions: tuple[str, ...], scenario: str,
                            params: dict[str, str], rule_id: str, severity: str, subject: Optional[str],
                            evidence: tuple[str, str]) -> None:
    tree = build(scenario, params, "acpi-tables", "kconfig", *conditions)
    code, doc = doctor(tree)
    f = finding(doc, rule_id)
    assert f["severity"] == severity
    assert f["subject"] == subject
    path, value = evidence
    assert any(e["path"] == path and value in e["value"] for e in f["evidence"]), f["evidence"]
    worst = max(("info", "warning", "error").index(x["severity"]) for x in doc["findings"])
    assert code == (0, 12, 13)[worst]
    assert doc["exit_code"] == code


def test_baseline_has_no_finding_above_info(build: Build, doctor: Callable[..., Any]) -> None:
    """The trees every condition starts from are healthy: each finding above comes from its condition."""
    for scenario, params in ((QEMU, SYSRAM), (QEMU, DEVDAX), CXL):
        code, doc = doctor(build(scenario, params, "acpi-tables", "kconfig"))
        assert ids(doc, "warning") == [] and code == 0, doc["findings"]


def test_every_rule_has_a_condition() -> None:
    from pmemctl.ops.doctor import RULES

    covered = {c[3] for c in CASES} | {"acpi-tables-unknown", "kconfig-unknown", "align-needs-root",
                                       "agent-daxctl-and-layout", "no-persistent-memory", "layout-missing"}
    assert set(RULES) - covered == set()


def test_fixes_carry_the_sysroot(build: Build, doctor: Callable[..., Any]) -> None:
    tree = build(QEMU, SYSRAM, "partial-online", "stranded")
    _code, doc = doctor(tree)
    commands = [f["fix"]["text"] for f in doc["findings"] if f["fix"]["kind"] == "command" and
                (f["fix"]["text"] or "").startswith("pmemctl")]
    assert commands and all(c.startswith(f"pmemctl --sysroot {tree} ") for c in commands)


def test_kernel_config_from_proc_config_gz(build: Build, doctor: Callable[..., Any]) -> None:
    tree = build(QEMU, SYSRAM, "kconfig-gz")
    _code, doc = doctor(tree)
    assert "kconfig-unknown" not in ids(doc)
    assert (tree / "proc/config.gz").exists()


def test_without_config_or_tables_says_so(build: Build, doctor: Callable[..., Any]) -> None:
    _code, doc = doctor(build(QEMU, SYSRAM))
    assert {"acpi-tables-unknown", "kconfig-unknown"} <= set(ids(doc))


def test_non_root_iomem_marks_needs_root(build: Build, doctor: Callable[..., Any]) -> None:
    _code, doc = doctor(build(QEMU, SYSRAM, "stranded", "iomem-as-user"))
    f = finding(doc, "iomem-needs-root")
    assert f["needs_root"] is True
    assert "stranded-memory" not in ids(doc)  # zeros hide it: doctor does not guess


def test_masked_udev_rule_is_not_reported(build: Build, doctor: Callable[..., Any], tmp_path: Path) -> None:
    tree = build(QEMU, SYSRAM, "udev-rule")
    (tree / "etc/udev/rules.d").mkdir(parents=True)
    (tree / "etc/udev/rules.d/40-redhat.rules").write_text("")  # an empty same-named file masks it
    _code, doc = doctor(tree)
    assert "agent-udev-onlines-memory" not in ids(doc)


def test_only_runs_one_group(build: Build, doctor: Callable[..., Any]) -> None:
    _code, doc = doctor(build(QEMU, SYSRAM, "udev-rule", "no-srat"), "--only", "agents")
    assert doc["groups"] == ["agents"]
    assert ids(doc) == ["agent-udev-onlines-memory"]


def test_unknown_condition_is_a_usage_error(invoke: Callable[..., Any], tmp_path: Path) -> None:
    result = invoke("sim", "create", "-s", QEMU, "--condition", "no-such", tmp_path / "t")
    assert result.exit_code == 2
    assert "unknown condition" in result.stderr and not (tmp_path / "t").exists()
    result = invoke("sim", "create", "-s", QEMU, "--condition", "stranded", tmp_path / "u")
    assert result.exit_code == 2 and "system-ram" in result.stderr and not (tmp_path / "u").exists()


def test_layout_that_matches_is_quiet(build: Build, doctor: Callable[..., Any]) -> None:
    code, doc = doctor(build(QEMU, DEVDAX, "layout=devdax"))
    assert doc["layout_drift_checked"] is True and "layout" in doc["groups"]
    assert not [i for i in ids(doc) if i.startswith("layout-")] and code == 0


def test_daxctl_and_a_layout_together(build: Build, doctor: Callable[..., Any]) -> None:
    _code, doc = doctor(build(QEMU, DEVDAX, "layout=devdax", "daxctl-config"))
    assert "agent-daxctl-and-layout" in ids(doc, "warning")
