"""Guest scenarios: plain POSIX shell strings run by :func:`harness.run_guest`.

Every scenario is ``PRELUDE`` + its own body.  The prelude gives:

``run NAME CMD...``
    run CMD, saving ``$VMIO/out/NAME.out`` (stdout), ``NAME.err`` (stderr) and
    ``NAME.rc`` (exit status); never aborts the scenario.  Tests read them
    back from ``GuestResult.files["out/NAME.out"]`` etc.
``capture STAGE``
    copy the pmem-relevant /sys and /proc state, plus the reference tools'
    output (``tools/``), into ``$VMIO/capture/STAGE.tar`` (see guest_tools.py;
    unpack on the host with ``harness.unpack_capture``).
``facts NAME FILE...``
    ``$VMIO/out/NAME.facts``: one ``path=value`` line per sysfs file
    (``path=!ERRNO`` e.g. ``!EACCES`` if unreadable, ``path=!MISSING`` if
    absent; newlines inside a value become spaces).
``pmemctl ARGS...``
    (from run.sh) ``$PYTHON -m pmemctl ARGS`` from the checkout under test
    (``$PYTHON`` is the host interpreter running the tests).
    This is the seam for pmemctl's own commands: e.g.
    ``run pm-list pmemctl list --json``.

To add a scenario: write a body using those helpers, add a constant below
(``MY_SCENARIO = PRELUDE + r'''...'''``), and a test that calls
``run_guest(MY_SCENARIO, nvdimms=[...])`` (or reuse a session fixture in
conftest.py when the scenario can share a boot).
"""

from __future__ import annotations

PRELUDE = r"""
mkdir -p "$VMIO/out" "$VMIO/capture"
run() {
    _n=$1; shift
    "$@" > "$VMIO/out/$_n.out" 2> "$VMIO/out/$_n.err"
    _rc=$?
    echo $_rc > "$VMIO/out/$_n.rc"
    echo "== $_n rc=$_rc: $*"
    return 0
}
capture() {
    vmtools capture "$1" "$VMIO/capture/$1.tar"
    echo "== capture $1 rc=$?"
}
facts() {
    _n=$1; shift
    vmtools facts "$VMIO/out/$_n.facts" "$@"
}
uptime_mark() { echo "$1 $(cut -d' ' -f1 /proc/uptime)" >> "$VMIO/out/timeline"; }
"""

MEMORY_FACTS = r"""
M=/sys/devices/system/memory
N=/sys/devices/system/node
D=/sys/bus/dax/devices/dax0.0
facts {name} \
    $M/block_size_bytes $M/auto_online_blocks \
    $N/possible $N/online $N/has_cpu $N/has_memory $N/has_normal_memory \
    $N/node1/cpulist $N/node1/distance $N/node0/distance \
    $D/size $D/target_node $D/numa_node $D/resource $D/align \
    /sys/kernel/mm/numa/demotion_enabled \
    /sys/devices/virtual/memory_tiering/memory_tier*/nodelist \
    /sys/module/memory_hotplug/parameters/*
"""

# One 4 GiB NVDIMM on node 1: raw -> devdax -> system-ram, capture each stage,
# then the (destructive) write-semantics probe, which strands dax0.0 last.
SINGLE_CONVERSION = PRELUDE + r"""
uptime_mark start
run pmemctl-import "$PYTHON" -c 'import pmemctl; print(pmemctl.__file__)'
run modules sh -c 'ls /sys/module | grep -E "^(nfit|libnvdimm|nd_pmem|nd_btt|dax_pmem|device_dax|kmem|dax_hmem)$"'
capture raw
""" + MEMORY_FACTS.format(name="raw") + r"""
uptime_mark raw
run create-namespace ndctl create-namespace -f -e namespace0.0 -m devdax --align 2M
capture devdax
""" + MEMORY_FACTS.format(name="devdax") + r"""
uptime_mark devdax
run reconfigure daxctl reconfigure-device --mode=system-ram dax0.0
capture system-ram
""" + MEMORY_FACTS.format(name="system-ram") + r"""
run daxctl-list daxctl list
run lsmem lsmem -J -o RANGE,SIZE,STATE,REMOVABLE,BLOCK,NODE,ZONES
run numactl-H numactl -H
run node1-meminfo cat /sys/devices/system/node/node1/meminfo
run iomem cat /proc/iomem
run node1-ls ls /sys/devices/system/node/node1
run block-ls sh -c 'ls -l /sys/devices/system/memory/memory40/'
uptime_mark system-ram
run probe vmtools probe "$VMIO/out/probe.json" dax0.0
run daxctl-list-stranded daxctl list -i
run lsmem-stranded lsmem -J -o RANGE,SIZE,STATE,REMOVABLE,BLOCK,NODE,ZONES
uptime_mark end
exit 0
"""

# Two NVDIMMs on nodes 1 and 2 with different HMAT figures: convert both.
DUAL_NODE = PRELUDE + r"""
N=/sys/devices/system/node
run nodes-raw ls $N
run create-namespace-0 ndctl create-namespace -f -e namespace0.0 -m devdax --align 2M
run create-namespace-1 ndctl create-namespace -f -e namespace1.0 -m devdax --align 2M
run daxctl-list-devdax daxctl list
run access-devdax sh -c 'ls -d /sys/devices/system/node/node*/access* 2>&1'
run reconfigure daxctl reconfigure-device --mode=system-ram all
run daxctl-list daxctl list
run numactl-H numactl -H
facts hmat \
    $N/node0/access0/initiators/read_latency $N/node0/access0/initiators/write_latency \
    $N/node0/access0/initiators/read_bandwidth $N/node0/access0/initiators/write_bandwidth \
    $N/node1/access0/initiators/read_latency $N/node1/access0/initiators/write_latency \
    $N/node1/access0/initiators/read_bandwidth $N/node1/access0/initiators/write_bandwidth \
    $N/node2/access0/initiators/read_latency $N/node2/access0/initiators/write_latency \
    $N/node2/access0/initiators/read_bandwidth $N/node2/access0/initiators/write_bandwidth \
    $N/online $N/has_memory $N/has_cpu $N/node1/distance $N/node2/distance \
    $N/node1/cpulist $N/node2/cpulist \
    /sys/bus/dax/devices/dax0.0/target_node /sys/bus/dax/devices/dax1.0/target_node
run access-links sh -c 'cd /sys/devices/system/node && ls -l node*/access0/initiators/ node*/access0/targets/'
run node-blocks sh -c 'cd /sys/devices/system/node && for n in node1 node2; do echo $n $(ls $n | grep "^memory[0-9]"); done'
run iomem cat /proc/iomem
run tiers vmtools tiers
run tier-ls sh -c 'ls /sys/devices/virtual/memory_tiering/'
exit 0
"""
