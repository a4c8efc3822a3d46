"""Ways to carry out namespace steps: pmemctl's own sysfs writes, or ndctl.

``auto`` picks ndctl when it is installed and the sysroot is ``/``; sysfs
otherwise (so pmemctl works where ndctl is absent, and on the simulator).
"""

from __future__ import annotations

from pmemctl.errors import Unsupported, UsageError
from pmemctl.ops.backends import ndctl
from pmemctl.sysfs.door import SysfsRoot

BACKENDS = ("auto", "ndctl", "sysfs")


def choose_backend(door: SysfsRoot, requested: str = "auto") -> str:
    """auto: ndctl when it is installed and the sysroot is ``/``; sysfs otherwise."""
    if requested not in BACKENDS:
        raise UsageError(f"unknown backend {requested!r}", hint="use auto, ndctl or sysfs")
    if requested == "sysfs":
        return "sysfs"
    if requested == "auto":
        return "ndctl" if door.is_host and ndctl.find_ndctl() else "sysfs"
    reason = ndctl.unavailable_reason(door)
    if reason is None:
        return "ndctl"
    if door.kind == "host":
        raise Unsupported(f"--backend ndctl: {reason}", hint="use --backend sysfs or auto")
    if door.kind == "simulated":
        raise Unsupported(f"--backend ndctl cannot run on the simulated tree {door.root}: {reason}",
                          hint="use --backend sysfs or auto")
    raise Unsupported(f"--backend ndctl only works on the running machine (sysroot /), not {door.root}",
                      hint="use --backend sysfs or auto")
