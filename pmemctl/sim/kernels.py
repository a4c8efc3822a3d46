"""Kernel profiles: what one kernel release computes, shows and accepts.

The simulator builds a machine for a chosen kernel (``pmemctl sim create
--kernel 6.1|6.12``); the real-kernel tier (tests/vm) takes its expectations
for a guest kernel from the same profile, so a fact of one kernel is written
down once, here, and checked against that kernel booted under QEMU.

Facts (reference/provisioning.md §5, reference/real-kernel-lab.md, and the
6.1 and 6.12 guests of tests/vm):

* memory tiers: ``memory_tierN`` with N = abstract distance >> 7
  (mm/memory-tiers.c, MEMTIER_CHUNK_BITS); DRAM is 576 (tier 4).  kmem's
  default is 5 x DRAM = 2880 (tier 22).  Since 6.7 kmem asks HMAT: the
  distance scales DRAM's with the node's latency and inverse bandwidth
  (read + write of the CPU access class), in integer arithmetic, left to
  right.  Without HMAT figures for the node (or for DRAM) the default stays.
* ``daxX.Y/memmap_on_memory`` exists since 6.8 (reads 0 by default).
* dax devices of hmem (Soft Reserved) and CXL RAM regions bind to kmem by
  themselves since 6.3.
* weighted interleave ``/sys/kernel/mm/mempolicy/weighted_interleave/nodeN``
  since 6.9 (weight 1 each by default).
* the default online type is chosen by ``CONFIG_MHP_DEFAULT_ONLINE_TYPE_*``
  since 6.14 (backported to Debian's 6.12.110), by
  ``CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE`` before: either way it is what
  ``auto_online_blocks`` reads, which pmemctl reads.
* ``dump_page`` in dmesg: 6.1 prints the page pointer (``page:<hash>
  refcount:``), later kernels dropped it (``page: refcount:``).
* ``daxX.Y/state`` (whole-device hotplug, reference/provisioning.md §5) is
  a proposed ABI no released kernel has (the 2026 dax/kmem series; its
  earlier revisions called the file ``hotplug``).  The ``6.12+dax-state``
  profile is Debian's 6.12 with that series applied: a simulator-only
  kernel (no real-kernel tier, no distribution ships it), the one profile
  whose dax devices carry the file (:mod:`pmemctl.sim.kernel.dax_state`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Optional

#: mm/memory-tiers.c: a tier spans 2**7 abstract-distance units.
MEMTIER_CHUNK_BITS = 7
#: Abstract distance of DRAM (4 chunks and a half): memory_tier4.
ADISTANCE_DRAM = (4 << MEMTIER_CHUNK_BITS) + ((1 << MEMTIER_CHUNK_BITS) >> 1)
#: kmem's default for memory it knows nothing about (5 x DRAM): memory_tier22.
ADISTANCE_DAX_DEFAULT = ADISTANCE_DRAM * 5


@dataclass(frozen=True)
class Perf:
    """HMAT figures of one node from the CPU initiators (access1, else access0)."""

    read_latency: int
    write_latency: int
    read_bandwidth: int
    write_bandwidth: int


def release_version(release: str) -> Optional[tuple[int, int]]:
    """(major, minor) of a ``uname -r`` string, None if it does not parse."""
    m = re.match(r"^(\d+)\.(\d+)", release)
    return (int(m.group(1)), int(m.group(2))) if m else None


#: The release each behaviour first shipped in (mainline numbering).
SINCE: dict[str, tuple[int, int]] = {
    "auto_kmem_hmem_cxl": (6, 3),
    "memory_failure_stats": (6, 4),  # nodeN/memory_failure/
    "crash_hotplug": (6, 6),  # memory/crash_hotplug
    "hmat_tiering": (6, 7),
    "dump_page_without_pointer": (6, 7),
    "dax_memmap_on_memory": (6, 8),
    "weighted_interleave": (6, 9),
    "disk_partscan": (6, 10),  # block/DISK/partscan
    "mhp_default_online_type": (6, 14),
}

#: What pmemctl does with each behaviour (the README's kernel table).
FEATURE_NOTES: dict[str, str] = {
    "auto_kmem_hmem_cxl": "hmem/CXL RAM dax devices come up bound to kmem",
    "hmat_tiering": "kmem nodes tiered from HMAT (topology reports each tier's abstract distance)",
    "dax_memmap_on_memory": "`reconfigure --memmap-on-memory` (daxX.Y/memmap_on_memory)",
    "weighted_interleave": "topology reports weighted-interleave weights",
}

#: The proposed whole-device hotplug file's row of the README's kernel table.
DAX_STATE_NOTE = ("whole-device online/offline with one write to `daxX.Y/state` "
                  "(proposed ABI, in no released kernel; pmemctl uses it where the file exists)")


@dataclass(frozen=True)
class KernelProfile:
    """One kernel's behaviour as far as pmemctl can tell."""

    name: str  # short name: "6.1", "6.12"
    release: str  # a uname -r of it (Debian 12's), the simulator's default
    summary: str = ""
    #: Debian backports that move a behaviour earlier: feature -> True
    backports: tuple[str, ...] = ()
    #: modules the Debian build compiles in (the tier's initramfs skips them)
    builtin_guest_modules: tuple[str, ...] = ()
    module_suffix: str = ".ko"
    #: /sys/module/M/coresize of this build's modules where not 6.1's
    module_coresize: tuple[tuple[str, int], ...] = ()
    #: the proposed daxX.Y/state file (no released kernel: simulator only)
    dax_state_file: bool = False
    #: no real kernel behind it: the simulator alone runs it (no tests/vm tier)
    simulator_only: bool = False

    @property
    def version(self) -> tuple[int, int]:
        return release_version(self.release) or (0, 0)

    def has(self, feature: str) -> bool:
        """The kernel behaves the newer way for ``feature`` (a key of SINCE)."""
        return self.version >= SINCE[feature] or feature in self.backports

    @property
    def hmat_tiering(self) -> bool:
        return self.has("hmat_tiering")

    @property
    def dax_memmap_on_memory(self) -> bool:
        return self.has("dax_memmap_on_memory")

    @property
    def auto_kmem_hmem_cxl(self) -> bool:
        return self.has("auto_kmem_hmem_cxl")

    @property
    def weighted_interleave(self) -> bool:
        return self.has("weighted_interleave")

    @property
    def default_online_kconfig(self) -> str:
        if self.has("mhp_default_online_type"):
            return "CONFIG_MHP_DEFAULT_ONLINE_TYPE_*"
        return "CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE"

    @property
    def dump_page_header(self) -> str:
        """Regex of dump_page's first line in dmesg."""
        if self.has("dump_page_without_pointer"):
            return r"page: refcount:\d+ mapcount:"
        return r"page:[0-9a-f]+ refcount:\d+ mapcount:"

    def features(self) -> list[str]:
        return [f for f in FEATURE_NOTES if self.has(f)]

    def abstract_distance(self, node: Optional[Perf], dram: Optional[Perf]) -> int:
        """kmem's abstract distance for a memory-only node with HMAT figures
        ``node`` (DRAM's ``dram``); the default without them or before 6.7."""
        if not self.hmat_tiering or node is None or dram is None:
            return ADISTANCE_DAX_DEFAULT
        node_lat = node.read_latency + node.write_latency
        node_bw = node.read_bandwidth + node.write_bandwidth
        dram_lat = dram.read_latency + dram.write_latency
        dram_bw = dram.read_bandwidth + dram.write_bandwidth
        if not (node_lat and node_bw and dram_lat and dram_bw):
            return ADISTANCE_DAX_DEFAULT
        # mt_perf_to_adistance(): the order of operations is the kernel's
        return ADISTANCE_DRAM * node_lat // dram_lat * dram_bw // node_bw

    def kmem_tier(self, node: Optional[Perf], dram: Optional[Perf]) -> int:
        """The memory_tierN a kmem node joins."""
        return tier_of(self.abstract_distance(node, dram))

    def dump_page_seen(self, dmesg: str) -> bool:
        return re.search(self.dump_page_header, dmesg, re.M) is not None


def tier_of(adistance: int) -> int:
    return adistance >> MEMTIER_CHUNK_BITS


def tier_adistance_range(tier: int) -> tuple[int, int]:
    """The abstract distances (first, last) memory_tier``tier`` spans."""
    return tier << MEMTIER_CHUNK_BITS, ((tier + 1) << MEMTIER_CHUNK_BITS) - 1


TIER_DRAM = tier_of(ADISTANCE_DRAM)
TIER_DAX_DEFAULT = tier_of(ADISTANCE_DAX_DEFAULT)


_SIX_TWELVE = KernelProfile(
    name="6.12",
    release="6.12.118+deb12-amd64",
    summary="Debian 12 (`linux-image-6.12.*+deb12-amd64-unsigned`), Debian 13",
    # CONFIG_MHP_DEFAULT_ONLINE_TYPE_* reached Debian's 6.12 in 6.12.110
    backports=("mhp_default_online_type",),
    # fscache is part of netfs since 6.9: no module of its own
    builtin_guest_modules=("virtio", "virtio_ring", "virtio_pci"),
    module_suffix=".ko.xz",
    module_coresize=(("dax_pmem", 12288), ("kmem", 12288)),
)

#: Debian's 6.12 with the proposed dax/kmem whole-device hotplug series
#: applied (a local build: its own release suffix).  No such kernel was
#: booted here: the simulator's answers follow the proposal's text.
_SIX_TWELVE_DAX_STATE = replace(
    _SIX_TWELVE,
    name="6.12+dax-state",
    release="6.12.118+deb12-amd64+daxstate",
    summary="none: 6.12 with the proposed `daxX.Y/state` series (simulator only)",
    dax_state_file=True,
    simulator_only=True,
)

PROFILES: dict[str, KernelProfile] = {
    p.name: p
    for p in (
        KernelProfile(name="6.1", release="6.1.0-28-amd64", summary="Debian 12 (`linux-image-amd64`)"),
        _SIX_TWELVE,
        _SIX_TWELVE_DAX_STATE,
    )
}

#: The profile the simulator uses when not told: the newest released one.
DEFAULT_KERNEL = max((p for p in PROFILES.values() if not p.simulator_only), key=lambda p: p.version).name


def get_profile(name: str) -> KernelProfile:
    """The profile called ``name`` (``6.1``, ``6.12``); KeyError otherwise."""
    return PROFILES[name]


def profile_for_release(release: str) -> KernelProfile:
    """The profile of a ``uname -r``: the named one of the same major.minor,
    else one made from the release (its behaviours follow SINCE)."""
    for p in PROFILES.values():
        if p.release == release:
            return p
    version = release_version(release)
    for p in PROFILES.values():
        if p.simulator_only:
            continue
        if p.version == version:
            return p if p.release == release else KernelProfile(
                name=p.name, release=release, summary=p.summary, backports=p.backports,
                builtin_guest_modules=p.builtin_guest_modules, module_suffix=p.module_suffix,
                module_coresize=p.module_coresize)
    name = ".".join(map(str, version)) if version else release
    return KernelProfile(name=name, release=release)


def kernel_names() -> list[str]:
    return sorted(PROFILES, key=lambda n: PROFILES[n].version)


#: Where the README keeps the table :func:`markdown_table` makes.
README_BEGIN = "<!-- BEGIN KERNEL TABLE -->"
README_END = "<!-- END KERNEL TABLE -->"


def markdown_table() -> str:
    """The README's table of the kernels pmemctl is tested on and what each
    enables (``python3 -m pmemctl.sim.kernels``; a test keeps it current)."""
    names = kernel_names()
    lines = [
        "| | " + " | ".join(f"Linux {n}" for n in names) + " |",
        "|---|" + "---|" * len(names),
        "| release the simulator reports | " + " | ".join(f"`{PROFILES[n].release}`" for n in names) + " |",
        "| real-kernel tier (tests/vm, QEMU) | " + " | ".join(
            "none (no such kernel)" if PROFILES[n].simulator_only else f"`PMEMCTL_VM_KERNELS={n}`"
            for n in names) + " |",
        "| distributions | " + " | ".join(PROFILES[n].summary for n in names) + " |",
        "| simulator | " + " | ".join(f"`pmemctl sim create DIR -s NAME --kernel {n}`" for n in names) + " |",
    ]
    for feature, note in FEATURE_NOTES.items():
        since = ".".join(map(str, SINCE[feature]))
        cells = ["yes" if PROFILES[n].has(feature) else "no" for n in names]
        lines.append(f"| {note} (Linux {since}+) | " + " | ".join(cells) + " |")
    lines.append(f"| {DAX_STATE_NOTE} | " + " | ".join(
        "yes" if PROFILES[n].dax_state_file else "no (per-block writes)" for n in names) + " |")
    lines.append("| kmem tier of a node with HMAT figures | " + " | ".join(
        "from HMAT (abstract distance)" if PROFILES[n].hmat_tiering else f"always memory_tier{TIER_DAX_DEFAULT}"
        for n in names) + " |")
    lines.append("| `auto_online_blocks` boot default set by | " + " | ".join(
        f"`{PROFILES[n].default_online_kconfig}`" for n in names) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - prints the README block
    print(README_BEGIN)
    print(markdown_table(), end="")
    print(README_END)


__all__ = [
    "ADISTANCE_DAX_DEFAULT",
    "ADISTANCE_DRAM",
    "DAX_STATE_NOTE",
    "DEFAULT_KERNEL",
    "FEATURE_NOTES",
    "README_BEGIN",
    "README_END",
    "markdown_table",
    "SINCE",
    "KernelProfile",
    "MEMTIER_CHUNK_BITS",
    "PROFILES",
    "Perf",
    "TIER_DAX_DEFAULT",
    "TIER_DRAM",
    "get_profile",
    "kernel_names",
    "profile_for_release",
    "release_version",
    "tier_adistance_range",
    "tier_of",
]
