"""Examples and exit statuses of every command, for ``--help`` and the man pages.

One table, so ``pmemctl CMD --help`` (its epilog) and ``pmemctl-CMD(1)``
(EXAMPLES, EXIT STATUS) never disagree.  A new command adds its entry here;
tests/cli/test_examples.py fails for a command without one.
"""

from __future__ import annotations

from typing import Any

#: command path (without "pmemctl") -> (command line, what it does)
EXAMPLES: dict[str, tuple[tuple[str, str], ...]] = {
    "": (
        ("pmemctl list", "what NVDIMM and CXL memory this machine has"),
        ("pmemctl reconfigure dax0.0 --mode system-ram --dry-run", "the plan to turn dax0.0 into RAM"),
        ("pmemctl sim create --scenario optane-2s /tmp/m && pmemctl --sysroot /tmp/m list",
         "rehearse on a simulated machine"),
    ),
    "list": (
        ("pmemctl list", "buses, regions, namespaces and dax devices"),
        ("pmemctl list --mode system-ram", "only dax devices given to the kernel as RAM"),
        ("pmemctl list --json | jq '.buses[].regions[].name'", "region names, for a script"),
    ),
    "blocks": (
        ("pmemctl blocks", "memory blocks merged into ranges, as lsmem prints them"),
        ("pmemctl blocks --device dax0.0 --state offline", "the offline blocks of dax0.0"),
        ("pmemctl blocks -o range,size,state,zones,node", "lsmem's columns, to compare with lsmem"),
    ),
    "topology": (
        ("pmemctl topology", "NUMA nodes, which is DRAM, PMEM or CXL, distances and tiers"),
        ("numactl --membind=$(pmemctl topology --json | jq -r .node_lists.dram) app", "run app in DRAM only"),
    ),
    "reconfigure": (
        ("pmemctl reconfigure dax0.0 --mode system-ram --dry-run", "show the plan and the exact writes"),
        ("pmemctl reconfigure dax0.0 --mode system-ram --yes", "give /dev/dax0.0 to the kernel as movable RAM"),
        ("pmemctl reconfigure dax0.0 dax1.0 --mode system-ram --yes", "both devices: one plan, one question"),
        ("pmemctl reconfigure all --mode devdax --yes", "give every device back as /dev/daxX.Y"),
    ),
    "online": (
        ("pmemctl online dax0.0", "online every offline block of dax0.0 into ZONE_MOVABLE"),
        ("pmemctl online dax0.0 --size 16G --dry-run", "the plan for 16 GiB of it"),
        ("pmemctl online --blocks 33-40,45", "these blocks"),
    ),
    "offline": (
        ("pmemctl offline dax0.0 --count 8", "take 8 blocks of dax0.0 away from the kernel (a busy one swapped)"),
        ("pmemctl offline --blocks 40-47 --dry-run", "the plan, with the checks"),
    ),
    "status": (
        ("pmemctl status", "a change in progress, an unfinished one, and the last run"),
        ("pmemctl status --json | jq .in_progress", "the pid of a run changing the machine now"),
    ),
    "resume": (
        ("pmemctl resume --dry-run", "the steps an interrupted change has left"),
        ("pmemctl resume", "finish it"),
    ),
    "rollback": (
        ("pmemctl rollback --dry-run", "the undo steps, newest first, with their writes"),
        ("pmemctl rollback", "undo what an interrupted or failed change did"),
    ),
    "demo": (
        ("pmemctl demo", "the whole job on a simulated machine; nothing here changes"),
        ("pmemctl demo --keep /tmp/demo", "keep the simulated machine to explore it"),
    ),
    "namespace": (
        ("pmemctl namespace plan --region region1 --system-ram 64G", "the namespace size that gives 64 GiB of RAM"),
        ("pmemctl namespace create --region region1 --size 66G --mode devdax --yes", "create it"),
    ),
    "namespace create": (
        ("pmemctl namespace create -r region1 -s 66G -m devdax --dry-run", "the plan, with size checks"),
        ("pmemctl namespace create -r region1 -s 66G -m devdax -n cache --yes", "create a named devdax namespace"),
    ),
    "namespace reconfigure": (
        ("pmemctl namespace reconfigure namespace1.0 --mode devdax --dry-run", "what changing its mode destroys"),
    ),
    "namespace destroy": (
        ("pmemctl namespace destroy namespace1.2 --dry-run", "what would be lost"),
        ("pmemctl namespace destroy cache --yes", "destroy the namespace named cache"),
    ),
    "namespace plan": (
        ("pmemctl namespace plan -r region1 --system-ram 64G", "the devdax size that yields exactly 64 GiB of RAM"),
    ),
    "sim": (
        ("pmemctl sim list", "the built-in scenarios and their parameters"),
        ("pmemctl sim create -s qemu-nvdimm --set stage=devdax /tmp/m", "a simulated machine to rehearse on"),
    ),
    "sim list": (("pmemctl sim list --json", "the scenarios, for a script"),),
    "sim create": (
        ("pmemctl sim create -s optane-2s /tmp/m", "a two-socket Optane server in /tmp/m"),
        ("pmemctl sim create -s big --set blocks=4096 /tmp/big", "a large machine, smaller than the default"),
    ),
    "sim record": (
        ("sudo pmemctl sim record /tmp/capture", "capture this machine's memory sysfs, for support"),
        ("pmemctl --sysroot /tmp/capture blocks", "read the capture as if it were the machine"),
    ),
    "journal": (("pmemctl journal abandon --dry-run", "what giving up an unfinished change leaves"),),
    "journal abandon": (
        ("pmemctl journal abandon --dry-run", "where the machine is left"),
        ("pmemctl journal abandon --yes", "archive the journal; changes are allowed again"),
    ),
    "apply": (
        ("pmemctl apply --dry-run", "the plan that brings this machine to /etc/pmemctl's layout"),
        ("pmemctl apply --yes", "apply it (exit 3: already converged, nothing written)"),
        ("pmemctl apply --check", "compare only; exit 11 when the machine drifted from the layout"),
    ),
    "config": (("pmemctl config validate", "check the layout files (FILE:LINE on an error)"),),
    "config validate": (
        ("pmemctl config validate", "check /etc/pmemctl/pmemctl.toml and conf.d/*.toml"),
        ("pmemctl config validate --config new.toml", "check one file before installing it"),
    ),
    "config show": (("pmemctl config show --json", "the merged layout, for a script"),),
    "config init": (
        ("pmemctl config init --output /etc/pmemctl/pmemctl.toml", "describe this machine as it is now"),
    ),
    "config import-daxctl": (
        ("pmemctl config import-daxctl /etc/daxctl.conf.d", "daxctl's boot config as a pmemctl layout"),
    ),
    "boot": (("pmemctl boot status", "which boot units are installed, and whether they are current"),),
    "boot install": (
        ("pmemctl boot install --before postgresql.service --dry-run", "the units and drop-ins it would write"),
        ("pmemctl boot install --before docker.service --before kubelet.service", "order workloads after it"),
    ),
    "boot uninstall": (("pmemctl boot uninstall --dry-run", "the files it would remove"),),
    "boot status": (("pmemctl boot status --json", "the installed files and their state"),),
    "doctor": (
        ("pmemctl doctor", "every reason memory will not become the RAM wanted, with fixes"),
        ("pmemctl doctor --explain agent-udev-onlines-memory", "the reasoning behind one finding"),
        ("pmemctl doctor --bundle /tmp/pmem-support.tar.gz", "a support capture for another machine"),
        ("pmemctl doctor --fix --dry-run", "the runtime-safe fixes, as writes"),
    ),
    "sim conditions": (("pmemctl sim conditions", "the conditions 'sim create --condition' can plant"),),
    "sim unpack": (
        ("pmemctl sim unpack /tmp/pmem-support.tar.gz /tmp/m && pmemctl --sysroot /tmp/m doctor",
         "read a support bundle's machine"),
    ),
}

#: exit statuses a command can end with (besides 1 and 2, which any can)
_READ = (0, 8, 9)
_CHANGE = (0, 3, 4, 5, 6, 7, 8, 9, 10, 130)
EXIT_STATUSES: dict[str, tuple[int, ...]] = {
    "": (0,), "list": _READ, "blocks": _READ, "topology": _READ,
    "reconfigure": _CHANGE, "online": _CHANGE, "offline": _CHANGE,
    "status": (0, 10), "resume": (0, 3, 4, 5, 6, 7, 10, 130), "rollback": (0, 3, 7, 10, 130),
    "demo": (0, 4, 6, 8), "namespace": (0,), "namespace create": _CHANGE, "namespace reconfigure": _CHANGE,
    "namespace destroy": _CHANGE, "namespace plan": (0, 5, 8), "sim": (0,), "sim list": (0,),
    "sim create": (0, 5, 8), "sim record": (0, 5, 8), "journal": (0,), "journal abandon": (0, 3, 5, 10),
    "apply": (0, 3, 4, 5, 6, 7, 8, 9, 10, 11, 130), "config": (0,), "config validate": (0,),
    "config show": (0,), "config init": (0, 5), "config import-daxctl": (0, 5, 8),
    "boot": (0,), "boot install": (0, 3, 5, 6, 7), "boot uninstall": (0, 3, 5, 6, 7), "boot status": (0, 11),
    "doctor": (0, 5, 6, 8, 12, 13), "sim conditions": (0,), "sim unpack": (0, 5, 8),
}


def examples_for(path: str) -> tuple[tuple[str, str], ...]:
    return EXAMPLES.get(path, ())


def epilog(path: str) -> str:
    """The ``--help`` epilog: EXAMPLES, kept line by line (click's ``\\b``)."""
    rows = examples_for(path)
    if not rows:
        return ""
    lines = ["\b", "Examples:"]
    for line, what in rows:
        lines += [f"  {line}", f"      {what}"]
    return "\n".join(lines)


def attach(cmd: Any, path: str = "") -> None:
    """Give ``cmd`` (and its subcommands) their examples epilog.  Idempotent."""
    import click

    if not getattr(cmd, "epilog", None):
        cmd.epilog = epilog(path) or None
    if isinstance(cmd, click.Group):
        for name, sub in cmd.commands.items():
            attach(sub, f"{path} {name}".strip())
