"""Kernel paths of the system files ``pmemctl doctor`` reads besides sysfs
(provisioning.md §6), shared by the model (which reads them through the door)
and the simulator's bundle writer (which copies them)."""

from __future__ import annotations

import re

OSRELEASE = "/proc/sys/kernel/osrelease"
PROC_CONFIG_GZ = "/proc/config.gz"
PROC_ZONEINFO = "/proc/zoneinfo"
BOOT = "/boot"
MODULES = "/lib/modules"
ACPI_TABLES = "/sys/firmware/acpi/tables"
CXL_DEVICES = "/sys/bus/cxl/devices"
#: every directory udev reads rules from; a file name in an earlier one hides
#: the same name in a later one (udev(7))
UDEV_RULES_DIRS: tuple[str, ...] = ("/etc/udev/rules.d", "/run/udev/rules.d", "/usr/lib/udev/rules.d",
                                    "/lib/udev/rules.d")
DAXCTL_CONF_DIR = "/etc/daxctl.conf.d"
#: where systemd units live, earliest wins (daxctl ships daxdev-reconfigure@.service)
SYSTEMD_UNIT_DIRS: tuple[str, ...] = ("/etc/systemd/system", "/run/systemd/system", "/usr/lib/systemd/system",
                                      "/lib/systemd/system")
DAXCTL_UNIT = "daxdev-reconfigure@.service"
#: a support bundle's own directory: the dmesg lines and the capture's metadata
BUNDLE_DIR = "/.pmemctl-bundle"
BUNDLE_FILE = BUNDLE_DIR + "/bundle.json"
DMESG_CAPTURE = BUNDLE_DIR + "/dmesg.txt"
#: pmemctl's layout files (CONTRACT-10)
LAYOUT_FILE = "/etc/pmemctl/pmemctl.toml"
LAYOUT_DIR = "/etc/pmemctl/conf.d"


def kernel_config(release: str) -> str:
    return f"{BOOT}/config-{release}"


def modules_builtin(release: str) -> str:
    return f"{MODULES}/{release}/modules.builtin"


#: kernel log lines worth keeping (kmem trimming, stranded memory, hotplug refusals)
DMESG_PATTERNS = re.compile(
    r"kmem|dax|memory hotplug|hotremove|hot-remove|Soft Reserved|soft reserved|nvdimm|nd_pmem|"
    r"alignment|memory_tier|HMAT|SRAT|CEDT|cxl|offlin", re.IGNORECASE)
