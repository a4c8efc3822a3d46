"""Simulated machines and a layout for each that makes pmemctl apply change
something (the four scenarios of issue 11)."""

from __future__ import annotations

from typing import Any

#: scenario name -> (sim create --set values, layout document, devices it converts)
MACHINES: dict[str, tuple[tuple[str, ...], dict[str, Any], tuple[str, ...]]] = {
    # one dax device partly online as system-ram, one devdax: both all online, movable
    "optane-2s": ((), {"version": 1, "device": [
        {"name": "fast", "match": {"namespace": "namespace0.1"}, "mode": "system-ram", "online": "all",
         "zone": "movable"},
        {"name": "slow", "match": {"namespace": "namespace1.1"}, "mode": "system-ram", "online": "all",
         "zone": "movable"},
    ]}, ("dax0.1", "dax1.1")),
    # the QEMU NVDIMM as devdax: to system RAM
    "qemu-nvdimm": (("stage=devdax",), {"version": 1, "device": [
        {"name": "nvdimm", "match": {"namespace": "namespace0.0"}, "mode": "system-ram", "online": "all",
         "zone": "movable"},
    ]}, ("dax0.0",)),
    # CXL memory behind hmem, devdax: to system RAM, found by its node
    "cxl-hmem": ((), {"version": 1, "policy": {"auto_online_blocks": "offline"}, "device": [
        {"name": "cxl", "match": {"node": 1}, "mode": "system-ram", "online": "all", "zone": "movable"},
    ]}, ("dax0.0",)),
    # two kmem devices found by physical range; the second has offline blocks and 16G normal
    # (MOVABLE:KERNEL then 7:1: the zone-ratio check refuses above 8:1 without force)
    "big": (("blocks=2048",), {"version": 1, "device": [
        {"name": "hmem0", "match": {"range": {"start": 0x1000000000}}, "mode": "system-ram", "online": "all",
         "zone": "movable"},
        {"name": "hmem1", "match": {"range": {"start": 0x2E00000000}}, "mode": "system-ram", "online": "all",
         "normal": "16G"},
    ]}, ("dax1.0",)),
}
