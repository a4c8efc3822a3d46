"""What each mutating command asks for, as data (the CLI fills these in)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

ZONES = ("movable", "normal")
MODES = ("system-ram", "devdax")


@dataclass(frozen=True)
class ReconfigureRequest:
    selector: str
    mode: str  # system-ram / devdax
    zone: str = "movable"
    online: bool = True
    force: bool = False
    #: daxX.Y/memmap_on_memory to set before kmem binds (6.8+; None: leave it)
    memmap_on_memory: Optional[bool] = None
    #: more devices, as daxctl takes several (``reconfigure dax0.0 dax1.0 ...``): one plan
    more_selectors: tuple[str, ...] = ()

    @property
    def selectors(self) -> tuple[str, ...]:
        return (self.selector, *self.more_selectors)


@dataclass(frozen=True)
class BlockRequest:
    device: Optional[str] = None
    count: Optional[int] = None
    size: Optional[str] = None
    blocks: Optional[str] = None
    zone: str = "movable"
    force: bool = False



MAX_NAME = 63


@dataclass(frozen=True)
class CreateRequest:
    region: str
    size: str
    mode: str
    align: Optional[str] = None
    name: Optional[str] = None
    backend: str = "auto"


@dataclass(frozen=True)
class NsReconfigureRequest:
    selector: str
    mode: str
    align: Optional[str] = None
    backend: str = "auto"


@dataclass(frozen=True)
class DestroyRequest:
    selector: str
    backend: str = "auto"


@dataclass(frozen=True)
class SizePlanRequest:
    region: str
    system_ram: str
    align: Optional[str] = None
