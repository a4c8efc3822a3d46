"""Memory blocks of 2 GiB on a real kernel: x86 picks the block size at boot
(arch/x86/mm/init_64.c, probe_memory_block_size: below 64 GiB of RAM 128 MiB;
above, on a hypervisor, the largest power of two up to 2 GiB that aligns the
end of boot RAM).  There is no ``memory_block_size=`` kernel parameter on
x86 (only SGI UV platform code sets the size), so the boot gets 65 GiB of
DRAM (mapped with reserve=off, never touched).  pmemctl must read
block_size_bytes, trim the device to whole 2 GiB blocks as kmem does, and
predict exactly the blocks the kernel adds."""

from __future__ import annotations

import json
import re

import pytest

from .harness import GiB, MiB

pytestmark = pytest.mark.vm


def expected_block_size(boot_mem_end: int) -> int:
    """probe_memory_block_size() for a guest (X86_FEATURE_HYPERVISOR)."""
    if boot_mem_end < 64 * GiB:
        return 128 * MiB
    size = 2 * GiB
    while size > 128 * MiB and boot_mem_end % size:
        size >>= 1
    return size


def boot_mem_end(e820: str) -> int:
    """End of the last usable e820 range (max_pfn << PAGE_SHIFT)."""
    return max(int(m.group(1), 16) + 1 for m in re.finditer(r"BIOS-e820: \[mem 0x[0-9a-f]+-0x([0-9a-f]+)\] usable",
                                                             e820))


def test_rule_of_the_block_size() -> None:
    assert expected_block_size(2 * GiB) == 128 * MiB
    assert expected_block_size(66 * GiB) == 2 * GiB
    assert expected_block_size(67 * GiB) == 1 * GiB


def test_block_size_is_what_the_kernel_computed(large_blocks):
    e820 = large_blocks.ok("e820")
    size = int(large_blocks.facts("boot")["/sys/devices/system/memory/block_size_bytes"], 16)
    assert size == expected_block_size(boot_mem_end(e820)) == 2 * GiB, e820
    assert "Memory block size: 2048MB" in e820


def test_pmemctl_predicts_the_blocks_kmem_adds(large_blocks):
    plan = json.loads(large_blocks.ok("pm-plan"))
    done = json.loads(large_blocks.ok("pm-sysram"))
    assert done["outcome"]["status"] == "changed"
    real = sorted(int(n[len("memory"):]) for n in large_blocks.ok("node1-blocks").split())
    assert real, "kmem added no block"
    planned = [int(re.search(r"memory(\d+)/state", s["writes"][0]["path"]).group(1))
               for s in plan["plan"]["steps"] if s["kind"] == "online-block"]
    assert planned == real  # the plan named exactly the blocks the kernel added
    assert any("lost to block alignment" in n for n in plan["plan"]["notes"]), plan["plan"]["notes"]
    start = int(large_blocks.ok("dax-resource").strip(), 16)
    assert all(i * 2 * GiB >= start for i in real)  # kmem trimmed to whole 2 GiB blocks
    blocks = json.loads(large_blocks.ok("pm-blocks"))
    assert blocks["block_size"] == 2 * GiB
    lsmem = json.loads(large_blocks.ok("lsmem"))["memory"]
    assert sum(1 for m in lsmem if m["node"] == 1 and m["state"] == "online") >= 1
    back = json.loads(large_blocks.ok("pm-devdax"))
    assert back["outcome"]["status"] == "changed"
