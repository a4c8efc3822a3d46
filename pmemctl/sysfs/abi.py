"""The kernel's vocabulary: names, patterns and value formats of the nd and dax ABI.

One home for facts the model reads by, the planners write by and the
simulator answers by (kernel-abi.md §3, §5, §7.7):

* the namespace personalities: mode ↔ holder prefix ↔ region seed attribute
  ↔ nd driver;
* kernel object name patterns (``namespaceR.N``, ``daxR.N``, uuids);
* the null uuid a namespace without a label reports;
* the ``[512] 4096`` "selected value" format of ``sector_size``;
* the kernel's string parsers (lib/kstrtox.c ``kstrtoull`` base 0 and
  ``kstrtobool``), as pure functions raising :class:`KstrError` with the
  errno the kernel would return.

Pure: no file access, no imports from the rest of pmemctl but the
:class:`~pmemctl.immutable.Record` base.
"""

from __future__ import annotations

import errno
import re
from typing import Optional

from pmemctl.immutable import Record

# --------------------------------------------------------------------------
# personalities


class Personality(Record):
    """One namespace personality (drivers/nvdimm: pfn_devs.c, dax_devs.c, btt_devs.c)."""

    mode: str  # pmemctl's / ndctl's mode name
    holder_prefix: str  # the nd device that claims the namespace: dax0.1, pfn0.1, btt0.1
    seed_attr: str  # the region attribute naming the next idle device of that kind
    driver: str  # the nd driver that enables the claimed namespace

    __slots__ = ("mode", "holder_prefix", "seed_attr", "driver")
    _fields = __slots__

    def __init__(self, mode: str, holder_prefix: str, seed_attr: str, driver: str) -> None:
        object.__setattr__(self, "mode", mode)
        object.__setattr__(self, "holder_prefix", holder_prefix)
        object.__setattr__(self, "seed_attr", seed_attr)
        object.__setattr__(self, "driver", driver)


#: mode -> personality, for the modes that claim a namespace through a holder
PERSONALITIES: dict[str, Personality] = {
    "devdax": Personality("devdax", "dax", "dax_seed", "dax_pmem"),
    "fsdax": Personality("fsdax", "pfn", "pfn_seed", "nd_pmem"),
    "sector": Personality("sector", "btt", "btt_seed", "nd_pmem"),
}
_BY_PREFIX = {p.holder_prefix: p for p in PERSONALITIES.values()}

#: the nd driver of a namespace without a holder (raw), and of pfn/btt holders
ND_PMEM = "nd_pmem"
#: namespace modes pmemctl creates and reconfigures between
NAMESPACE_MODES = ("devdax", "fsdax", "sector", "raw")
#: the modes that carry a pfn-style info block with a memmap reservation
PFN_MODES = ("devdax", "fsdax")

_HOLDER_RE = re.compile(r"^(dax|pfn|btt)\d+\.\d+$")


def personality_of_holder(holder: str) -> Optional[Personality]:
    """The personality of a holder device name (``dax0.1`` -> devdax); None for ""."""
    m = _HOLDER_RE.match(holder)
    return _BY_PREFIX[m.group(1)] if m else None


def mode_of_holder(holder: str) -> str:
    """The namespace mode its holder gives it: devdax, fsdax, sector, or raw (no holder)."""
    p = personality_of_holder(holder)
    return p.mode if p else "raw"


def driver_of_holder(holder: str) -> str:
    """The nd driver a holder (or, for "", the raw namespace itself) binds to."""
    p = personality_of_holder(holder)
    return p.driver if p else ND_PMEM


# --------------------------------------------------------------------------
# names

NAMESPACE_RE = re.compile(r"^namespace(\d+)\.(\d+)$")
DAX_DEVICE_RE = re.compile(r"^dax(\d+)\.(\d+)$")
REGION_RE = re.compile(r"^region(\d+)$")
#: the canonical 36-character uuid form (lib/uuid.c uuid_is_valid), any case
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
#: what ``uuid`` shows for a namespace that has no label (drivers/nvdimm/namespace_devs.c)
NULL_UUID = "00000000-0000-0000-0000-000000000000"


def namespace_ids(name: str) -> tuple[int, int]:
    """(region id, namespace index) of ``namespaceR.N``; ValueError otherwise."""
    m = NAMESPACE_RE.match(name)
    if m is None:
        raise ValueError(f"not a namespace name: {name!r}")
    return int(m.group(1)), int(m.group(2))


def raw_blockdev(namespace: str) -> str:
    """The block device a namespace gets when enabled raw: ``pmemR`` for
    namespaceR.0, else ``pmemR.N`` (drivers/nvdimm nvdimm_namespace_disk_name)."""
    r, n = namespace_ids(namespace)
    return f"pmem{r}" if n == 0 else f"pmem{r}.{n}"


def dax_name(namespace: str) -> str:
    """The dax bus device dax_pmem makes is named after the namespace (§7.7):
    namespace1.2 -> dax1.2, whichever nd dax device holds it."""
    r, n = namespace_ids(namespace)
    return f"dax{r}.{n}"


def is_uuid(text: str) -> bool:
    return UUID_RE.match(text) is not None


def label_uuid(text: Optional[str]) -> Optional[str]:
    """A namespace's uuid attribute as a value: None for empty or the null uuid."""
    if not text:
        return None
    text = text.strip()
    return None if not text or text == NULL_UUID else text


# --------------------------------------------------------------------------
# value formats


def parse_selected(text: str) -> Optional[int]:
    """The bracketed choice of a "selected value" list: ``512 [4096] 4104`` -> 4096
    (drivers/nvdimm/namespace_devs.c and btt_devs.c, nd_size_select_show)."""
    for token in text.split():
        if token.startswith("[") and token.endswith("]"):
            return int(token[1:-1])
    return None


class KstrError(ValueError):
    """A value the kernel's string parsers reject, with the errno they return."""

    def __init__(self, err: int, text: str) -> None:
        super().__init__(f"{errno.errorcode.get(err, err)}: {text!r}")
        self.errno = err


def kstrtoull(text: str) -> int:
    """lib/kstrtox.c with base 0: ``0x`` hex, leading ``0`` octal, else
    decimal; one leading ``+``; nothing else (sysfs already dropped one
    trailing newline).  EINVAL on garbage, ERANGE above 2**64-1."""
    s = text[1:] if text.startswith("+") else text
    if s[:2] in ("0x", "0X"):
        digits, base = s[2:], 16
    elif s.startswith("0") and len(s) > 1:
        digits, base = s[1:], 8
    else:
        digits, base = s, 10
    allowed = {16: "0123456789abcdefABCDEF", 8: "01234567", 10: "0123456789"}[base]
    if not digits or any(c not in allowed for c in digits):
        raise KstrError(errno.EINVAL, text)
    value = int(digits, base)
    if value >= 1 << 64:
        raise KstrError(errno.ERANGE, text)
    return value


def kstrtobool(text: str) -> bool:
    """lib/kstrtox.c kstrtobool: the first character decides (y/t/1, n/f/0),
    ``on``/``of`` by the first two; anything else is EINVAL.  So ``yup`` is
    true and ``of`` false, as on the kernel."""
    t = text.lower()
    if t[:1] in ("y", "1", "t"):
        return True
    if t[:1] in ("n", "0", "f"):
        return False
    if t[:2] == "on":
        return True
    if t[:2] == "of":
        return False
    raise KstrError(errno.EINVAL, text)
