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
# pmemctl on the same machine (scenario 5): its topology after daxctl's
# conversion, then both devices back and forth with pmemctl itself
mount -t tmpfs -o mode=0755 tmpfs /var/lib
run pm-topology-daxctl pmemctl topology --json
run pm-devdax-all pmemctl reconfigure all --mode devdax --yes --json
run pm-topology-devdax pmemctl topology --json
run pm-sysram-all pmemctl reconfigure all --mode system-ram --yes --json
run pm-topology pmemctl topology --json
run pm-numactl-H numactl -H
run pm-tiers vmtools tiers
exit 0
"""


# --------------------------------------------------------------------------
# large memory blocks: 65 GiB of boot DRAM makes x86 pick 2 GiB blocks
# (test_large_blocks.py)

LARGE_BLOCKS = PRELUDE + r"""
M=/sys/devices/system/memory
facts boot $M/block_size_bytes /proc/iomem
run e820 sh -c 'dmesg | grep -E "BIOS-e820|Memory block size"'
mount -t tmpfs -o mode=0755 tmpfs /var/lib
run pm-plan pmemctl reconfigure namespace0.0 --mode system-ram --dry-run --json
run pm-sysram pmemctl reconfigure namespace0.0 --mode system-ram --yes --json
run pm-blocks pmemctl blocks --json
run lsmem lsmem -J -o RANGE,SIZE,STATE,BLOCK,NODE,ZONES
run daxctl-list daxctl list -M
run dax-resource cat /sys/bus/dax/devices/dax0.0/resource
run node1-blocks sh -c 'ls /sys/devices/system/node/node1 | grep "^memory[0-9]"'
run pm-devdax pmemctl reconfigure dax0.0 --mode devdax --yes --json
exit 0
"""


# --------------------------------------------------------------------------
# pmemctl itself on the real kernel (one boot; see test_pmemctl_real.py)

PM_PRELUDE = PRELUDE + r"""
# pmemctl keeps its journal in /var/lib/pmemctl; the host root is read-only here
mount -t tmpfs -o mode=0755 tmpfs /var/lib
mkdir -p "$VMIO/rec"
# record STAGE: 'pmemctl sim record' of the live machine, one tar in the share
record() {
    rm -rf "/tmp/rec-$1"
    run "record-$1" pmemctl sim record "/tmp/rec-$1"
    tar -C /tmp -cf "$VMIO/rec/$1.tar" "rec-$1"
}
# sysfs_blocks NAME: state and valid_zones of every memory block, from sysfs,
# and /proc/zoneinfo beside them (what pmemctl infers from the zones' spans)
sysfs_blocks() {
    grep -H . /sys/devices/system/memory/memory*/state \
        /sys/devices/system/memory/memory*/valid_zones > "$VMIO/out/$1.sysfs" 2>&1
    cat /proc/zoneinfo > "$VMIO/out/$1.zoneinfo"
}
# traced NAME ARGS...: pmemctl ARGS with every write(2)/pwrite(v) recorded,
# and the data of its preadv(2) reads (the info-block check before a wipe).
# -y names the file behind each fd (its real path, links resolved), so openat
# need not be traced: with --seccomp-bpf the tracee stops only on the traced
# calls, where tracing openat costs ~3000 ptrace stops per run (20-60 s each
# under TCG)
traced() {
    _t=$1; shift
    run "$_t" strace -f --seccomp-bpf -qq -y -s 256 -e signal=none -e read=all \
        -e trace=write,pwrite64,pwritev,pwritev2,preadv,preadv2 \
        -o "/tmp/$_t.strace" "$PYTHON" -m pmemctl "$@"
    cp "/tmp/$_t.strace" "$VMIO/out/$_t.strace"
}
# apply NAME ARGS...: the plan (NAME-dry: --dry-run --json), then the change
# itself (NAME: --yes --json, traced), then the blocks as sysfs shows them
apply() {
    _a=$1; shift
    run "$_a-dry" pmemctl "$@" --dry-run --json
    traced "$_a" "$@" --yes --json
    sysfs_blocks "$_a"
}
# views NAME: pmemctl's read commands and the reference tools, side by side
views() {
    run "$1-pm-blocks" pmemctl blocks --json
    run "$1-pm-list" pmemctl list --json
    run "$1-pm-topology" pmemctl topology --json
    run "$1-daxctl" daxctl list -M
    run "$1-lsmem" lsmem -J -o RANGE,SIZE,STATE,REMOVABLE,BLOCK,NODE,ZONES
    run "$1-numactl" numactl -H
    run "$1-ls" ls /sys/devices/system/memory /sys/devices/system/node
    facts "$1" /sys/devices/system/node/online /sys/devices/system/node/has_memory \
        /sys/devices/system/node/has_normal_memory /sys/bus/dax/devices/dax0.0/target_node \
        /sys/devices/system/node/node1/meminfo
    run "$1-driver" readlink /sys/bus/dax/devices/dax0.0/driver
}
"""

#: The pinning process of step 4: after start-up it binds itself to NODE
#: (set_mempolicy(MPOL_BIND), syscall 238 on x86-64) and maps and touches
#: SIZE MiB of anonymous memory.  The data pages may go to ZONE_MOVABLE; the
#: page tables (GFP_KERNEL, unmovable) can only come from a kernel zone of
#: NODE, so a single ZONE_NORMAL block there ends up holding them.
PINNER = r"""
import ctypes, mmap, os, sys, time
node, size_mib, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
libc = ctypes.CDLL(None, use_errno=True)
mask = ctypes.c_ulong(1 << node)
if libc.syscall(238, 2, ctypes.byref(mask), ctypes.c_ulong(64)) != 0:
    sys.exit(f"set_mempolicy failed: errno {ctypes.get_errno()}")
size = size_mib << 20
m = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
for off in range(0, size, 65536):
    m[off] = 1
with open(ready, "w") as fh:
    fh.write(str(os.getpid()))
time.sleep(3600)
"""

#: Block numbers of the single-NVDIMM boot (kmem adds memory33-memory62).
FLOW_MOVABLE_PIN = 33  # step 4: Movable neighbour offlined first, then rolled back
FLOW_NORMAL_PIN = 34  # step 4: the ZONE_NORMAL block the page tables land in

# One 4 GiB NVDIMM on node 1 (HMAT figures of the qemu-nvdimm scenario):
# scenarios 1-4 and 7 of the real-kernel tier, with pmemctl doing the work.
PMEMCTL_FLOW = PM_PRELUDE + r"""
uptime_mark start
run pm-version pmemctl --version
# ---- 1. raw -> devdax (ndctl) -> system-ram (pmemctl), recorded at each stage
record raw
run create-namespace ndctl create-namespace -f -e namespace0.0 -m devdax --align 2M
record devdax
apply s1-sysram reconfigure dax0.0 --mode system-ram --zone movable
record system-ram
views s1
uptime_mark s1
# ---- 2. partial online by --size and --count, offline --blocks, rest --zone normal
apply s2-offline-all offline dax0.0
apply s2-online-size online dax0.0 --size 512M
apply s2-online-count online dax0.0 --count 3
apply s2-offline-blocks offline --blocks 34,36-37
apply s2-online-normal online dax0.0 --zone normal
run s2-pm-blocks-all pmemctl blocks -a --json
run s2-lsmem-all lsmem -a -J -o RANGE,SIZE,STATE,REMOVABLE,BLOCK,NODE,ZONES
uptime_mark s2
# ---- 3. back to devdax: the zone guard refuses, offline the Normal blocks, retry
apply s3-devdax-refused reconfigure dax0.0 --mode devdax
apply s3-offline-normal offline --blocks 34,36-37,40-62 --force
apply s3-devdax reconfigure dax0.0 --mode devdax
views s3
uptime_mark s3
# ---- pmemctl's own namespace commands (sysfs backend): devdax -> raw -> devdax
if pmemctl namespace --help > /dev/null 2>&1; then
    apply ns-raw namespace reconfigure namespace0.0 --mode raw --backend sysfs
    run ns-raw-ndctl ndctl list -N
    apply ns-devdax namespace reconfigure namespace0.0 --mode devdax --align 2M --backend sysfs
    run ns-devdax-ndctl ndctl list -N
    run ns-devdax-daxctl daxctl list
fi
if ! daxctl list -d dax0.0 2>/dev/null | grep -q '"mode":"devdax"'; then
    run ns-fallback ndctl create-namespace -f -e namespace0.0 -m devdax --align 2M
fi
uptime_mark ns
# ---- 4. a refusal of the real kernel: a ZONE_NORMAL block holding page tables
run s4-sysram pmemctl reconfigure dax0.0 --mode system-ram --yes
run s4-offline-pin pmemctl offline --blocks 34 --yes
run s4-online-pin-normal pmemctl online --blocks 34 --zone normal --yes
sysfs_blocks s4-before
cat > /tmp/pin.py <<'PINEOF'
""" + PINNER + r"""PINEOF
"$PYTHON" -S /tmp/pin.py 1 256 /tmp/pin.ready > "$VMIO/out/pinner.log" 2>&1 &
PIN=$!
for _i in $(seq 1 240); do [ -s /tmp/pin.ready ] && break; sleep 0.5; done
run s4-pinner-ready cat /tmp/pin.ready
apply s4-offline-busy offline --blocks 33-34 --force
run s4-offline-busy-one pmemctl offline --blocks 34 --force --yes --json
sysfs_blocks s4-offline-busy-one
run s4-pm-blocks-all pmemctl blocks -a --json
kill $PIN
wait $PIN 2>/dev/null
dmesg | grep -B8 "page dumped because" > "$VMIO/out/s4-unmovable.txt"
uptime_mark s4
# ---- 7. the demo runs here too
run demo pmemctl demo
uptime_mark end
exit 0
"""

# One 4 GiB NVDIMM on node 1 (the qemu-nvdimm machine): scenario 6, namespaces
# of a given size created, planned, refused and destroyed by pmemctl with the
# native sysfs backend and with the ndctl backend (see test_namespace_real.py).
NAMESPACES = PM_PRELUDE + r"""
# traced_exec NAME ARGS...: pmemctl ARGS with every execve(2) recorded (the
# ndctl backend's command lines)
traced_exec() {
    _t=$1; shift
    run "$_t" strace -f --seccomp-bpf -qq -s 512 -e signal=none -e trace=execve \
        -o "/tmp/$_t.strace" "$PYTHON" -m pmemctl "$@"
    cp "/tmp/$_t.strace" "$VMIO/out/$_t.strace"
}
# field NAME EXPR: a value out of the JSON pmemctl printed for step NAME
field() { "$PYTHON" -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$VMIO/out/$1.out"; }
uptime_mark start
run n0-ndctl ndctl list -RN
# a label-less region holds one namespace spanning it: nothing can be carved
run n0-unlabelled pmemctl namespace create --region region0 --size 1G --mode devdax --backend sysfs --yes --json
# Labelling the DIMM goes through the label-area ioctls of /dev/nmem0, which
# pmemctl does not drive: ndctl does it, once, as a provisioning step.
run lab-disable ndctl disable-region region0
run lab-init ndctl init-labels nmem0
run lab-enable ndctl enable-region region0
run n1-ndctl ndctl list -RN
run n1-pm-list pmemctl list --json
record labelled
# ---- a 1 GiB devdax namespace with each backend
apply c-sysfs namespace create --region region0 --size 1G --mode devdax --backend sysfs
run c-sysfs-ndctl ndctl list -RN
run c-ndctl-dry pmemctl namespace create --region region0 --size 1G --mode devdax --backend ndctl --dry-run --json
traced_exec c-ndctl namespace create --region region0 --size 1G --mode devdax --backend ndctl --yes --json
run c-ndctl-ndctl ndctl list -RN
run c-pm-list pmemctl list --json
run c-daxctl daxctl list
# ---- each backend destroys the namespace the other one created
NS_SYSFS=$(field c-sysfs 'd["plan"]["targets"][0]')
NS_NDCTL=$(field c-ndctl 'd["plan"]["targets"][0]')
apply d-sysfs namespace destroy "$NS_NDCTL" --backend sysfs
run d-ndctl-dry pmemctl namespace destroy "$NS_SYSFS" --backend ndctl --dry-run --json
traced_exec d-ndctl namespace destroy "$NS_SYSFS" --backend ndctl --yes --json
run d-ndctl-ndctl ndctl list -RN
# ---- the size planner: the namespace that gives exactly 1 GiB of RAM
run plan pmemctl namespace plan --region region0 --system-ram 1G --json
PLAN_SIZE=$(field plan 'd["namespace_size"]')
apply p-create namespace create --region region0 --size "$PLAN_SIZE" --mode devdax --backend sysfs
NS_PLAN=$(field p-create 'd["plan"]["targets"][0]')
run p-resource cat "/sys/bus/nd/devices/$NS_PLAN/resource"
run p-sysram pmemctl reconfigure "$NS_PLAN" --mode system-ram --zone movable --yes --json
run p-blocks pmemctl blocks --json
run p-lsmem lsmem -J -o RANGE,SIZE,STATE,REMOVABLE,BLOCK,NODE,ZONES
run p-meminfo cat /sys/devices/system/node/node1/meminfo
run p-devdax pmemctl reconfigure "$NS_PLAN" --mode devdax --yes --json
# ---- sizes that do not fit: refused by both backends, nothing changed
run b-before ndctl list -RN
run b-sysfs pmemctl namespace create --region region0 --size 100G --mode devdax --backend sysfs --yes --json
run b-ndctl pmemctl namespace create --region region0 --size 100G --mode devdax --backend ndctl --yes --json
run b-odd pmemctl namespace create --region region0 --size 1000M --mode devdax --backend ndctl --yes --json
run b-after ndctl list -RN
# ---- fsdax of a given size; held open, it is not destroyed without --force
apply f-create namespace create --region region0 --size 512M --mode fsdax --backend sysfs
NS_FS=$(field f-create 'd["plan"]["targets"][0]')
run f-ndctl ndctl list -n "$NS_FS"
BLK=$(ndctl list -n "$NS_FS" | "$PYTHON" -c 'import json,sys; d=json.load(sys.stdin); d=d[0] if isinstance(d,list) else d; print(d["blockdev"])')
run f-blksize cat "/sys/block/$BLK/size"
sleep 600 < "/dev/$BLK" &
HOLDER=$!
sleep 1
run f-destroy-held pmemctl namespace destroy "$NS_FS" --backend ndctl --yes --json
kill $HOLDER; wait $HOLDER 2>/dev/null
run f-destroy pmemctl namespace destroy "$NS_FS" --backend ndctl --yes --json
run end-ndctl ndctl list -RN
# ---- last, destructive: dax_pmem unbind while kmem has the memory online, a
# write pmemctl never makes (it offlines first); the simulator must answer as
# the kernel does.  w-NAME steps are single sysfs writes the replay repeats.
run u-create pmemctl namespace create --region region0 --size 512M --mode devdax --backend sysfs --yes --json
NS_U=$(field u-create 'd["plan"]["targets"][0]')
run u-sysram pmemctl reconfigure "$NS_U" --mode system-ram --zone movable --yes --json
HOLDER_U=$(cat "/sys/bus/nd/devices/$NS_U/holder")
run w-unbind-dax-pmem sh -c "echo $HOLDER_U > /sys/bus/nd/drivers/dax_pmem/unbind"
run u-after-blocks pmemctl blocks --json
run u-after-list pmemctl list --json
run u-iomem cat /proc/iomem
run u-topology pmemctl topology --json
uptime_mark end
exit 0
"""
