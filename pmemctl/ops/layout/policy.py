"""The layout's ``[policy]`` table against the running kernel: each key is
gated on its file existing (provisioning.md §2, §5) and reported as
``unsupported`` otherwise; a differing value becomes one SetPolicy step.

* ``auto_online_blocks``: /sys/devices/system/memory/auto_online_blocks
  (``online_kernel``/``online_movable`` since 5.7);
* ``demotion_enabled``: /sys/kernel/mm/numa/demotion_enabled (about 5.15),
  written ``true``/``false``, reads the same;
* ``numa_balancing``: /proc/sys/kernel/numa_balancing, a bitmask: 1 normal,
  2 memory tiering (5.18+);
* ``weighted_interleave``: /sys/kernel/mm/mempolicy/weighted_interleave/nodeN
  (6.9+, 1-255); ``"auto"`` writes ``true`` to its ``auto`` file (about 6.16).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from pmemctl.ops.actions.policy import SetPolicy
from pmemctl.ops.layout.records import PolicySetting
from pmemctl.sysfs.door import SysfsRoot

AUTO_ONLINE = "/sys/devices/system/memory/auto_online_blocks"
DEMOTION = "/sys/kernel/mm/numa/demotion_enabled"
NUMA_BALANCING = "/proc/sys/kernel/numa_balancing"
WEIGHTED = "/sys/kernel/mm/mempolicy/weighted_interleave"

BALANCING_BITS = {"disabled": 0, "normal": 1, "memory-tiering": 2, "normal+memory-tiering": 3}


@dataclass(frozen=True)
class PolicyState:
    setting: PolicySetting
    path: str
    desired: Any
    actual: Any  # None: the file is absent
    steps: tuple[SetPolicy, ...]
    supported: bool

    @property
    def converged(self) -> bool:
        return self.supported and not self.steps


def _step(door: SysfsRoot, path: str, value: str, reads_as: str) -> tuple[Optional[str], Optional[SetPolicy]]:
    """(what the file reads now or None, the step that changes it or None)."""
    now = door.read_optional(path)
    if now is None:
        return None, None
    now = now.strip()
    if now == reads_as:
        return now, None
    return now, SetPolicy(path, value, reads_as, now, now)


def balancing_name(text: Optional[str]) -> Any:
    if text is None:
        return None
    try:
        bits = int(text)
    except ValueError:
        return text
    return next((k for k, v in BALANCING_BITS.items() if v == bits), bits)


def assess_policy(door: SysfsRoot, setting: PolicySetting) -> PolicyState:
    key, value = setting.key, setting.value
    if key == "auto_online_blocks":
        now, step = _step(door, AUTO_ONLINE, value, value)
        return PolicyState(setting, AUTO_ONLINE, value, now, (step,) if step else (), now is not None)
    if key == "demotion_enabled":
        text = "true" if value else "false"
        now, step = _step(door, DEMOTION, text, text)
        actual = None if now is None else now in ("true", "1", "Y", "y")
        return PolicyState(setting, DEMOTION, value, actual, (step,) if step else (), now is not None)
    if key == "numa_balancing":
        bits = str(BALANCING_BITS[value])
        now, step = _step(door, NUMA_BALANCING, bits, bits)
        return PolicyState(setting, NUMA_BALANCING, value, balancing_name(now), (step,) if step else (),
                           now is not None)
    return _weighted(door, setting)


def _weighted(door: SysfsRoot, setting: PolicySetting) -> PolicyState:
    value = setting.value
    if value == "auto":
        now, step = _step(door, f"{WEIGHTED}/auto", "true", "true")
        return PolicyState(setting, f"{WEIGHTED}/auto", "auto", None if now is None else ("auto" if now == "true"
                           else "manual"), (step,) if step else (), now is not None)
    steps: list[SetPolicy] = []
    actual: dict[str, Any] = {}
    supported = door.is_dir(WEIGHTED)
    for node, weight in sorted(value.items()):
        nid = node.removeprefix("node")
        now, step = _step(door, f"{WEIGHTED}/node{nid}", str(weight), str(weight))
        actual[nid] = None if now is None else int(now) if now.isdigit() else now
        supported = supported and now is not None
        if step is not None:
            steps.append(step)
    return PolicyState(setting, WEIGHTED, dict(value), actual, tuple(steps) if supported else (), supported)
