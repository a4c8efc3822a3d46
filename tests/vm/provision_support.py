"""Provisioning at boot on a real kernel (issue 10): scenarios and helpers.

Two boots of the same two NVDIMMs (4 GiB on node 1, 2 GiB on node 2), their
backing files kept between the boots (``run_guest(backing_dir=...)``):

1. ``FIRST_BOOT`` (the harness's own init, a shell as PID 1's child): the
   namespaces are made devdax, the layout is written keyed by each dax
   device's info-block uuid, then the guest's "init" runs ``pmemctl apply``
   before a stand-in workload, which records what it finds; a second apply
   under strace must exit 3 and write nothing.
2. :func:`systemd_boot_scenario`: the same NVDIMMs, now devdax from the
   start (the kernel finds the info blocks), and real systemd as PID 1
   (:data:`SYSTEMD_HOOK`: overlayfs of the read-only host root and a tmpfs,
   ``/.dockerenv`` removed, ``switch_root``).  Before systemd starts, the
   scenario writes the same layout and runs ``pmemctl boot install --before
   demo-db.service``; systemd then runs ``pmemctl-apply.service`` from
   devdax, and the stand-in workload; a collector unit records systemd's
   own timestamps and powers off.

The host has no udev daemon (a container image): in the guest nothing runs
``systemd-udev-trigger.service``, so the ``After=`` on it is void there, and
device units do not exist; the boot target is ``pmemctl-vmtest.target``
(the stand-in workload and the collector), not ``multi-user.target``,
whose getty units wait for device units that never come.
"""

from __future__ import annotations

from pathlib import Path

from .harness import GiB, NvdimmSpec, Prepared
from .scenarios import PRELUDE

#: the two DIMMs, by node; what the layout asks of each
DIMMS = (
    NvdimmSpec(size=4 * GiB, node=1, latency_ns=150, bandwidth_mbs=8192),
    NvdimmSpec(size=2 * GiB, node=2, latency_ns=400, bandwidth_mbs=2048),
)
#: node -> (layout entry name, zone asked, online asked)
WANTED = {1: ("pmem-fast", "movable", "all"), 2: ("pmem-slow", "normal", "all")}

WORKLOAD = "demo-db.service"
BOOT_TARGET = "pmemctl-vmtest.target"


def overlay_module(prep: Prepared) -> Path:
    """The guest kernel's overlay module (not in the harness's initramfs)."""
    moddir = prep.vmlinuz.parent.parent / "lib" / "modules" / prep.kernel_version
    found = sorted(moddir.glob("kernel/fs/overlayfs/overlay.ko*"))
    if not found:
        raise FileNotFoundError(f"no overlay module under {moddir}")
    return found[0]


# Sourced by the harness's init (busybox sh, PID 1) with the host root on
# /newroot and the share on $IO.  Builds the systemd root and switches to it.
SYSTEMD_HOOK = r"""
log "provision hook: overlay root for systemd"
KO=/newroot{overlay_ko}
case "$KO" in *.xz) xz -dc "$KO" > /overlay.ko && KO=/overlay.ko ;; esac
insmod "$KO" || die "insmod overlay"
mkdir -p /upper /sysroot
# the lower layer is the host root the harness mounted on /newroot (a 9p tag
# mounts once); overlayfs sees that file system only, not the mounts on it
mount -t tmpfs -o mode=0755 tmpfs /upper || die "tmpfs upper"
mkdir -p /upper/u /upper/w
mount -t overlay overlay -o lowerdir=/newroot,upperdir=/upper/u,workdir=/upper/w /sysroot || die "overlay"
# systemd reads /.dockerenv as "docker" virtualisation and then ignores the
# kernel command line (systemd.unit=...): not in this root
rm -f /sysroot/.dockerenv
mount -t tmpfs -o mode=0755 tmpfs /sysroot/run || die "tmpfs run"
mount -t tmpfs -o mode=1777 tmpfs /sysroot/tmp || die "tmpfs tmp"
# the 9p shares the harness mounted under /newroot (vmio, a project or venv
# under /tmp or /run) move along, deepest last
for mp in $(awk '$3 == "9p" && $2 ~ "^/newroot/" {{ print $2 }}' /proc/mounts | sort); do
    sub="${{mp#/newroot}}"
    mkdir -p "/sysroot$sub"
    mount --move "$mp" "/sysroot$sub" || die "move $mp"
done
mount -t proc proc /sysroot/proc
mount -t sysfs sysfs /sysroot/sys
mount -t devtmpfs devtmpfs /sysroot/dev
IO=/sysroot/run/vmio
cut -d' ' -f1 /proc/uptime > $IO/prepare_uptime_start
log "provision hook: preparing the root (scenario)"
chroot /sysroot /bin/sh /run/vmio/run.sh > $IO/stdout 2> $IO/stderr < /dev/null
echo $? > $IO/prepare_rc
umount /sysroot/proc /sysroot/sys /sysroot/dev
log "provision hook: switch_root to systemd (prepare rc=$(cat $IO/prepare_rc))"
exec switch_root /sysroot /lib/systemd/systemd
"""

#: kernel command line for the systemd boot
SYSTEMD_CMDLINE = (f"systemd.unit={BOOT_TARGET} systemd.show_status=1 systemd.log_level=info "
                   "systemd.journald.forward_to_console=0")

#: what the stand-in workload records when it starts: every memory block of
#: the NVDIMM nodes (``nodeN memoryM STATE VALID_ZONES``), and the uptime
WORKLOAD_SH = r"""#!/bin/sh
out=/run/vmio/out/$1.txt
echo "uptime $(cut -d' ' -f1 /proc/uptime)" > $out
# shell builtins only: each process start costs ~0.5 s under TCG over 9p
for n in 1 2; do
    for b in /sys/devices/system/node/node$n/memory*; do
        [ -e "$b/state" ] || continue
        read -r state < "$b/state"
        read -r zones < "$b/valid_zones"
        echo "node$n ${b##*/} $state $zones" >> $out
    done
done
exit 0
"""

#: writes the layout for the devdax namespaces ``pmemctl list --json`` shows
#: (argv[1]), keyed by each one's dax info-block uuid (``dax_uuid``)
LAYOUT_PY = r"""
import json, sys
wanted = json.loads(sys.argv[2])
doc = json.load(open(sys.argv[1]))
out = ["version = 1", ""]
for bus in doc["buses"]:
    for region in bus["regions"]:
        for ns in region["namespaces"]:
            dax = ns["dax_device"]
            if ns["mode"] != "devdax" or dax is None:
                continue
            name, zone, online = wanted[str(dax["target_node"])]
            out += ["[[device]]", f'name = "{name}"', f'match = {{ dax_uuid = "{ns["holder_uuid"]}" }}',
                    'mode = "system-ram"', f'online = "{online}"', f'zone = "{zone}"', ""]
print("\n".join(out))
"""

# Boot 1: the harness's init runs this (a shell, chrooted into the host root).
FIRST_BOOT = PRELUDE + r"""
mount -t tmpfs -o mode=0755 tmpfs /var/lib     # pmemctl's journal; the host root is read-only
cat > $VMIO/workload.sh <<'WORKLOAD'
""" + WORKLOAD_SH + r"""WORKLOAD
run ns0 ndctl create-namespace -f -e namespace0.0 -m devdax --align 2M
run ns1 ndctl create-namespace -f -e namespace1.0 -m devdax --align 2M
run list-devdax pmemctl list --json
cat > /tmp/layout.py <<'PY'
""" + LAYOUT_PY + r"""PY
"$PYTHON" /tmp/layout.py "$VMIO/out/list-devdax.out" "$WANTED_JSON" > "$VMIO/out/layout.toml"
# the guest's init: apply the layout, then start the workload
uptime_mark apply-start
run apply1 pmemctl apply --config "$VMIO/out/layout.toml" --wait 30 --yes --json
uptime_mark apply-end
sh $VMIO/workload.sh workload-start
uptime_mark workload-start
# a second run: converged (exit 3), and not one write: every write(2) traced
# with its fd's file named (-y), file creation and removal too; openat is not
# traced (thousands of ptrace stops under TCG): the state directories are
# listed before and after instead
state_ls() { ls -la --time-style=full-iso /var/lib/pmemctl /run/lock /run/pmemctl 2>&1; }
state_ls > "$VMIO/out/state-before-apply2.txt"
run apply2 strace -f --seccomp-bpf -qq -y -s 256 -e signal=none \
    -e trace=write,pwrite64,pwritev,pwritev2,unlink,unlinkat,rename,renameat,renameat2,mkdir,mkdirat,ftruncate \
    -o /tmp/apply2.strace "$PYTHON" -m pmemctl apply --config "$VMIO/out/layout.toml" --wait 30 --yes --json
cp /tmp/apply2.strace "$VMIO/out/apply2.strace"
state_ls > "$VMIO/out/state-after-apply2.txt"
run check pmemctl apply --config "$VMIO/out/layout.toml" --check --json
run list-final pmemctl list --json
exit 0
"""

# Boot 2: units the scenario writes into the overlay's /etc before systemd starts.
_TEST_UNITS = r"""
U=/etc/systemd/system
cat > $U/{target} <<EOF
[Unit]
Description=pmemctl VM test: the stand-in workload, then the collector
Wants={workload} pmemctl-vmtest-collect.service
EOF
cat > $U/{workload} <<EOF
[Unit]
Description=stand-in database that needs the PMEM memory online
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh $VMIO/workload.sh workload-start
EOF
cat > $U/pmemctl-vmtest-collect.service <<EOF
[Unit]
Description=pmemctl VM test: record systemd's timestamps and power off
After={workload} pmemctl-memory.target pmemctl-apply.service
[Service]
Type=oneshot
ExecStart=/bin/sh $VMIO/collect.sh
EOF
# the checkout under test, not the installed pmemctl (test scaffolding, not
# part of what 'boot install' wrote: its own drop-in name)
mkdir -p $U/pmemctl-apply.service.d
cat > $U/pmemctl-apply.service.d/90-vmtest.conf <<EOF
[Service]
Environment=PYTHONPATH=$PMEMCTL_SRC PYTHONPYCACHEPREFIX=/tmp/pycache HOME=/tmp
EOF
cat > $VMIO/env.sh <<EOF
export PYTHON=$PYTHON PYTHONPATH=$PMEMCTL_SRC PYTHONPYCACHEPREFIX=/tmp/pycache HOME=/tmp LANG=C.UTF-8
EOF
cat > $VMIO/workload.sh <<'WORKLOAD'
{workload_sh}WORKLOAD
cat > $VMIO/collect.sh <<'EOF'
#!/bin/sh
VMIO=/run/vmio
. $VMIO/env.sh
O=$VMIO/out
for u in pmemctl-apply.service pmemctl-memory.target {workload}; do
    systemctl show -p ActiveState -p Result -p ExecMainStatus -p ExecMainStartTimestampMonotonic \
        -p ExecMainExitTimestampMonotonic -p ActiveEnterTimestampMonotonic \
        -p InactiveExitTimestampMonotonic -p After -p Wants -p FragmentPath -p DropInPaths $u > $O/show-$u.txt 2>&1
done
journalctl -b -o short-monotonic --no-pager > $O/journal.txt 2>&1
# after the boot: the layout holds, and a second run changes nothing
"$PYTHON" -m pmemctl apply --check --json > $O/sd-check.out 2> $O/sd-check.err; echo $? > $O/sd-check.rc
"$PYTHON" -m pmemctl apply --yes --json > $O/sd-apply2.out 2> $O/sd-apply2.err; echo $? > $O/sd-apply2.rc
"$PYTHON" -m pmemctl list --json > $O/sd-list.out 2> $O/sd-list.err; echo $? > $O/sd-list.rc
cut -d' ' -f1 /proc/uptime > $VMIO/guest_uptime_end
echo 0 > $VMIO/exit_code
sync
systemctl poweroff --force --force
EOF
"""


def systemd_boot_scenario(layout_toml: str) -> str:
    """Boot 2's scenario, run before systemd starts (chrooted into the overlay
    root): the layout in /etc/pmemctl, ``boot install``, the test units."""
    return PRELUDE + r"""
run list-before pmemctl list --json
mkdir -p /etc/pmemctl
cat > /etc/pmemctl/pmemctl.toml <<'TOML'
""" + layout_toml.rstrip("\n") + "\n" + r"""TOML
run boot-install pmemctl boot install --before """ + WORKLOAD + r""" --json
run boot-status pmemctl boot status --json
""" + _TEST_UNITS.format(target=BOOT_TARGET, workload=WORKLOAD, workload_sh=WORKLOAD_SH) + r"""
run verify sh -c 'cd /etc/systemd/system && systemd-analyze verify pmemctl-apply.service pmemctl-memory.target \
    """ + WORKLOAD + r""" 2>&1'
exit 0
"""


def show(text: str) -> dict[str, str]:
    """``systemctl show`` output as a dict."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key] = value
    return out


# ---------------------------------------------------------------------------
# Identity across boots (test_provision_identity_real.py): one labelled
# NVDIMM, three namespaces made so that their names move at the next boot.
#
# A (512M) and B (1G) are made, A destroyed, C (1G) made: C does not fit A's
# hole, so it lands after B in the DIMM's address space, and on Linux 6.1 it
# takes A's freed id (measured: A=namespace0.0, B=namespace0.1, C=namespace0.0
# at 0x160000000 after B at 0x120000000).  At the next boot the kernel numbers
# the namespaces its labels describe in address order (B=namespace0.0,
# C=namespace0.1): the two dax device names swap.

#: one 4 GiB NVDIMM with a label area (NvdimmSpec's default label_size)
IDENTITY_DIMMS = (NvdimmSpec(size=4 * GiB, node=1, latency_ns=150, bandwidth_mbs=8192),)
#: what the layout asks: C (by namespace uuid) all online movable; B (by its
#: physical range) two blocks online in ZONE_NORMAL
IDENTITY_NORMAL_BLOCKS = 2

# shell builtins only between the tool runs: each process start costs ~0.5 s
# under TCG.  ns_facts NAME: "name uuid resource" of a namespace from sysfs.
_IDENTITY_COMMON = PRELUDE + r"""
mount -t tmpfs -o mode=0755 tmpfs /var/lib     # pmemctl's journal; the host root is read-only
ns_facts() {
    read -r _u < /sys/bus/nd/devices/$1/uuid
    read -r _r < /sys/bus/nd/devices/$1/resource
    echo "$1 $_u $_r"
}
dev_of() { sed -n 's/^ *"dev":"\(namespace[0-9.]*\)".*/\1/p' "$VMIO/out/$1.out"; }
"""

IDENTITY_FIRST_BOOT = _IDENTITY_COMMON + r"""
# labels: the label-area ioctls are ndctl's provisioning step (pmemctl leaves it)
run lab-disable ndctl disable-region region0
run lab-init ndctl init-labels nmem0
run lab-enable ndctl enable-region region0
run ns-a ndctl create-namespace -r region0 -m devdax -a 2M -s 512M -n ident-a
run ns-b ndctl create-namespace -r region0 -m devdax -a 2M -s 1G -n ident-b
A=$(dev_of ns-a); B=$(dev_of ns-b)
run ns-a-destroy ndctl destroy-namespace -f "$A"
run ns-c ndctl create-namespace -r region0 -m devdax -a 2M -s 1G -n ident-c
C=$(dev_of ns-c)
{ echo "A $A"; echo "B $(ns_facts "$B")"; echo "C $(ns_facts "$C")"; } > "$VMIO/out/boot1-namespaces.txt"
set -- $(ns_facts "$C"); C_UUID=$2
set -- $(ns_facts "$B"); B_START=$3
cat > "$VMIO/out/layout.toml" <<TOML
version = 1

[[device]]
name = "by-uuid"
match = { namespace_uuid = "$C_UUID" }
mode = "system-ram"
online = "all"
zone = "movable"

[[device]]
name = "by-range"
match = { range = { start = $B_START } }
mode = "system-ram"
online = """ + str(IDENTITY_NORMAL_BLOCKS) + r"""
zone = "normal"
TOML
run apply1 pmemctl apply --config "$VMIO/out/layout.toml" --yes --json
exit 0
"""


def identity_second_boot(layout_toml: str) -> str:
    """Boot 2: the same DIMM (devdax again: the kernel reads the info blocks);
    which namespaces the labels describe, then apply the first boot's layout."""
    return _IDENTITY_COMMON + r"""
cat > /tmp/layout.toml <<'TOML'
""" + layout_toml.rstrip("\n") + "\n" + r"""TOML
for ns in /sys/bus/nd/devices/namespace0.*; do
    read -r _s < $ns/size
    [ "$_s" = 0 ] || ns_facts ${ns##*/}
done > "$VMIO/out/boot2-namespaces.txt"
run apply2 pmemctl apply --config /tmp/layout.toml --yes --json
run list2 pmemctl list --json
exit 0
"""
