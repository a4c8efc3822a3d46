"""A loaded layout, as immutable records: every entry knows the file and line
it came from, so a finding on the machine can point back at the text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Union


@dataclass(frozen=True)
class Where:
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Selector:
    """``kind`` is a key of the match table; ``value`` a string, an int, or
    (start, size or None) for a range."""

    kind: str
    value: Union[str, int, tuple[int, Optional[int]]]

    def text(self) -> str:
        if self.kind == "range":
            assert isinstance(self.value, tuple)
            start, size = self.value
            return f"range={start:#x}" + (f"/{size:#x}" if size is not None else "")
        return f"{self.kind}={self.value}"

    def to_toml(self) -> dict[str, Any]:
        if self.kind == "range":
            assert isinstance(self.value, tuple)
            start, size = self.value
            return {"range": {"start": start, **({"size": size} if size is not None else {})}}
        return {self.kind: self.value}


@dataclass(frozen=True)
class DeviceEntry:
    name: str
    selector: Selector
    mode: str
    expect: int = 1
    optional: bool = False
    online: Union[str, int] = "all"
    zone: Optional[str] = None  # None: movable unless ``normal`` splits
    normal: Optional[Union[str, int]] = None
    memmap_on_memory: Optional[bool] = None
    where: Where = Where("-", 0)

    def desired(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mode": self.mode}
        if self.mode == "system-ram":
            out["online"] = self.online
            if self.normal is not None:
                out["normal"] = self.normal
            else:
                out["zone"] = self.zone or "movable"
        if self.memmap_on_memory is not None:
            out["memmap_on_memory"] = self.memmap_on_memory
        return out


@dataclass(frozen=True)
class NamespaceSpec:
    name: str
    size: Union[str, int]
    mode: str = "devdax"


@dataclass(frozen=True)
class RegionEntry:
    name: str
    selector: Selector
    allow_destroy: bool = False
    namespaces: tuple[NamespaceSpec, ...] = ()
    where: Where = Where("-", 0)


@dataclass(frozen=True)
class PolicySetting:
    key: str
    value: Any
    where: Where


@dataclass(frozen=True)
class Layout:
    files: tuple[str, ...]
    policy: tuple[PolicySetting, ...] = ()
    devices: tuple[DeviceEntry, ...] = ()
    regions: tuple[RegionEntry, ...] = ()
    warnings: tuple[str, ...] = ()

    def to_toml_data(self) -> dict[str, Any]:
        """The merged layout as the data of one TOML file (``config show``)."""
        data: dict[str, Any] = {"version": 1}
        if self.policy:
            data["policy"] = {p.key: p.value for p in self.policy}
        if self.devices:
            data["device"] = [_device_data(d) for d in self.devices]
        if self.regions:
            data["region"] = [
                {"name": r.name, "match": r.selector.to_toml(), "allow_destroy": r.allow_destroy,
                 "namespaces": [{"name": n.name, "size": n.size, "mode": n.mode} for n in r.namespaces]}
                for r in self.regions
            ]
        return data


def _device_data(d: DeviceEntry) -> dict[str, Any]:
    out: dict[str, Any] = {"name": d.name, "match": d.selector.to_toml()}
    if d.expect != 1:
        out["expect"] = d.expect
    if d.optional:
        out["optional"] = True
    out["mode"] = d.mode
    if d.mode == "system-ram":
        out["online"] = d.online
        if d.normal is not None:
            out["normal"] = d.normal
        else:
            out["zone"] = d.zone or "movable"
    if d.memmap_on_memory is not None:
        out["memmap_on_memory"] = d.memmap_on_memory
    return out
