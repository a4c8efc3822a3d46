"""Memory-block uevents from the kernel, through pyudev (imported lazily).

After kmem binds, the kernel creates the device's memory blocks and sends
one ``add`` uevent per block on the ``memory`` subsystem (and ``remove``
after hot-remove).  Waiting on those events beats polling sysfs on a real
machine; trees under another sysroot (simulated or captured) send none, so
the executor polls there.
"""

from __future__ import annotations

from typing import Any, Optional

from pmemctl.sysfs.door import SysfsRoot


class BlockEvents:
    """A netlink monitor of kernel uevents on ``subsystems`` (``memory`` by
    default), started before the change that makes them."""

    def __init__(self, subsystems: tuple[str, ...] = ("memory",)) -> None:
        import pyudev

        self._monitor: Any = pyudev.Monitor.from_netlink(pyudev.Context(), source="kernel")
        for subsystem in subsystems:
            self._monitor.filter_by(subsystem)
        self._monitor.start()

    def wait(self, timeout: float) -> bool:
        """Block until a uevent arrives or ``timeout`` passes; True on an event."""
        return self._monitor.poll(timeout=timeout) is not None

    def close(self) -> None:
        try:
            self._monitor.stop()
        except Exception:  # pragma: no cover - best effort
            pass


def open_block_events(door: SysfsRoot, subsystems: tuple[str, ...] = ("memory",)) -> Optional[BlockEvents]:
    """Events on the running machine when pyudev and netlink are usable; else None."""
    if not door.is_host:
        return None
    try:
        return BlockEvents(subsystems)
    except Exception:  # no pyudev, no netlink socket (containers), not root: poll instead
        return None


#: the subsystems whose ``add`` uevents announce a device a layout may be
#: waiting for at boot: nd (regions, namespaces) and dax (daxX.Y)
DEVICE_SUBSYSTEMS = ("nd", "dax")
