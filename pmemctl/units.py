"""Pure parsers and formatters: sizes, hex, cpu/node lists, block lists, zones.

No I/O here; every function is tested in tests/unit/test_units.py.
"""

from __future__ import annotations

import re
from typing import Iterable, Optional

KiB = 1024
MiB = 1024**2
GiB = 1024**3
TiB = 1024**4

_SUFFIX = {"": 1, "K": KiB, "M": MiB, "G": GiB, "T": TiB, "P": 1024**5}
_SIZE_RE = re.compile(r"^\s*(0[xX][0-9a-fA-F]+|\d+(?:\.\d+)?)\s*([kKmMgGtTpP]?)(i?[bB])?\s*$")
#: decimal (SI) multiples, for ``GB``/``MB``/...: 10^9, as chmem and the SI read them
_DECIMAL = {"": 1, "K": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4, "P": 1000**5}


def parse_size(text: str) -> int:
    """Parse a user size: ``4G``, ``512MiB``, ``128m``, ``0x8000000``, ``1.5G``, ``4GB``.

    A bare letter or one with ``iB`` is binary (``G`` = ``GiB`` = 2^30), as in
    ndctl/daxctl; with a plain ``B`` it is decimal (``GB`` = 10^9), as chmem
    reads it, so ``1GB`` never silently means 1 GiB.  Raises ValueError.
    """
    m = _SIZE_RE.match(text)
    if not m:
        raise ValueError(f"not a size: {text!r} (use e.g. 4G, 512M, 0x8000000)")
    number, suffix, unit = m.group(1), m.group(2).upper(), (m.group(3) or "").lower()
    scale = _DECIMAL[suffix] if unit == "b" else _SUFFIX[suffix]
    if number.lower().startswith("0x"):
        return int(number, 16) * scale
    if "." in number:
        value = float(number) * scale
        if value != int(value):
            raise ValueError(f"not a whole number of bytes: {text!r}")
        return int(value)
    return int(number) * scale


def format_size(nbytes: int | None) -> str:
    """Human size with binary units, exactly as lsmem prints them: ``128M``, ``2.9G``.

    Follows util-linux lib/strutils.c size_to_human_string(): one decimal,
    the fraction truncated to thousandths then rounded half-up, ``.0``
    dropped (``1.96G`` prints ``2G``, ``1.25G`` prints ``1.3G``).
    """
    if nbytes is None:
        return "-"
    n = int(nbytes)
    if n < 0:
        return "-" + format_size(-n)
    exp = 60
    for shift in range(10, 70, 10):
        if n < (1 << shift):
            exp = shift - 10
            break
    if exp == 0:
        return f"{n}B"
    letter = "BKMGTPE"[exp // 10]
    dec, frac = divmod(n, 1 << exp)
    if frac:
        frac = (frac * 1000 >> exp) + 50  # thousandths, then round half-up
        frac //= 100
        if frac == 10:
            dec, frac = dec + 1, 0
    return f"{dec}.{frac}{letter}" if frac else f"{dec}{letter}"


def exact_size(nbytes: int) -> str:
    """A size the user can paste back: ``96G``, ``48M``, ``12K`` or plain bytes
    (``12345``).  Never rounds: for sizes the user chose or must type."""
    if nbytes < 0:
        return "-" + exact_size(-nbytes)
    for shift, letter in ((40, "T"), (30, "G"), (20, "M"), (10, "K")):
        if nbytes and nbytes % (1 << shift) == 0:
            return f"{nbytes >> shift}{letter}"
    return str(nbytes)


def format_sizes(*sizes: int) -> tuple[str, ...]:
    """Sizes shown side by side, each as :func:`format_size` prints it, except
    that two different sizes never read the same: those print exactly
    (:func:`exact_size`), so "3.9G does not fit: 3.9G free" never happens."""
    shown = [format_size(n) for n in sizes]
    for i, a in enumerate(sizes):
        for j, b in enumerate(sizes):
            if a != b and shown[i] == shown[j] and format_size(a) == format_size(b):
                shown[i], shown[j] = exact_size(a), exact_size(b)
    return tuple(shown)


def parse_hex(text: str) -> int:
    """Parse a sysfs hex value, with or without ``0x`` (block_size_bytes has none)."""
    t = text.strip()
    if not t:
        raise ValueError("empty hex value")
    return int(t, 16)


def parse_int(text: str) -> int:
    """Parse a decimal (or ``0x`` hex) integer attribute."""
    return int(text.strip(), 0) if text.strip().lower().startswith(("0x", "-0x")) else int(text.strip())


def parse_cpulist(text: str) -> tuple[int, ...]:
    """Parse a kernel cpu/node list (``0-3,8,10-11``); an empty line is empty.

    Format: Documentation/admin-guide/cputopology.rst, bitmap_parselist().
    """
    t = text.strip()
    if not t:
        return ()
    out: list[int] = []
    for part in t.split(","):
        part = part.strip()
        if not part:
            raise ValueError(f"empty element in list {text!r}")
        if "-" in part:
            lo_s, hi_s = part.split("-", 1)
            step = 1
            if ":" in hi_s:  # 0-7:2 stride form (bitmap_parselist supports it)
                hi_s, step_s = hi_s.split(":", 1)
                step = int(step_s.split("/")[0])
            lo, hi = int(lo_s), int(hi_s)
            if hi < lo:
                raise ValueError(f"descending range {part!r} in {text!r}")
            out.extend(range(lo, hi + 1, step))
        else:
            out.append(int(part))
    return tuple(sorted(set(out)))


def format_cpulist(values: Iterable[int]) -> str:
    """Format ints as a compact kernel-style list: ``0-3,8``."""
    vals = sorted(set(values))
    if not vals:
        return ""
    parts: list[str] = []
    start = prev = vals[0]
    for v in vals[1:]:
        if v == prev + 1:
            prev = v
            continue
        parts.append(f"{start}-{prev}" if prev != start else str(start))
        start = prev = v
    parts.append(f"{start}-{prev}" if prev != start else str(start))
    return ",".join(parts)


#: one element of a user block list: ``N``, ``A-B`` or ``A-B:STEP`` (ASCII digits)
_BLOCK_PART_RE = re.compile(r"(\d+)(?:-(\d+)(?::(\d+))?)?", re.ASCII)


def parse_block_list(text: str, highest: Optional[int] = None) -> tuple[int, ...]:
    """Parse a user block list like ``33-40,45`` (memory block indexes).

    Each range is checked before it is expanded: with ``highest`` (the
    highest block present; -1 for none), a range that reaches past it is
    refused, so ``0-99999999999`` costs nothing.  A single block past it is
    left to the caller, which names the missing block.
    """
    usage = f"not a block list: {text!r} (use e.g. 33-40,45)"
    spans: list[range] = []
    for part in text.split(","):
        m = _BLOCK_PART_RE.fullmatch(part.strip())
        if m is None:
            raise ValueError("empty block list" if not text.strip() else usage)
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) else lo
        step = int(m.group(3)) if m.group(3) else 1
        if hi < lo or step < 1:
            raise ValueError(f"{usage}: {part.strip()!r} is a {'descending' if hi < lo else 'zero-step'} range")
        if highest is not None and m.group(2) and hi > highest:
            there = f"memory{highest} is the highest block present" if highest >= 0 else "no block is present"
            raise ValueError(f"block range {part.strip()!r} reaches past the blocks present ({there})")
        spans.append(range(lo, hi + 1, step))
    return tuple(sorted({i for span in spans for i in span}))


# Zone names as the kernel prints them in valid_zones (mm/memory_hotplug.c,
# zone->name): DMA, DMA32, Normal, Movable, Device.  "none" means the block
# spans zones and cannot be offlined (drivers/base/memory.c).
KNOWN_ZONES = ("DMA", "DMA32", "Normal", "Movable", "Device", "HighMem")


def parse_zones(text: str) -> tuple[str, ...]:
    """Parse ``valid_zones``: ``Movable``, ``Normal Movable`` or ``none``."""
    t = text.strip()
    if not t or t == "none":
        return ()
    zones = tuple(t.split())
    for z in zones:
        if z not in KNOWN_ZONES:
            raise ValueError(f"unknown zone {z!r} in {text!r}")
    return zones


def parse_bool01(text: str) -> bool:
    t = text.strip()
    if t in ("1", "Y", "y", "true"):
        return True
    if t in ("0", "N", "n", "false"):
        return False
    raise ValueError(f"not a boolean: {text!r}")


def round_to_blocks(nbytes: int, block_size: int) -> tuple[int, int]:
    """Return (whole blocks, remainder bytes) for a requested size."""
    return nbytes // block_size, nbytes % block_size
