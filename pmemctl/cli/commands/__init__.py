"""One module per command; each imports ops, model and rich only when run.

Shared option helpers live here: they import nothing heavy at import time,
and their completion callbacks load the vocabulary from ops on demand.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

import click

from pmemctl import SCHEMA_VERSION

F = TypeVar("F", bound=Callable[..., Any])


def json_option(f: F) -> F:
    """``--json``: print the versioned JSON document instead of a table."""
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        help=f"Print one JSON object (schema version {SCHEMA_VERSION}; see pmemctl(1), JSON OUTPUT).",
    )(f)


#: The longest --timeout taken: a day (setitimer overflows near 1e10 s, and a
#: block that has not gone offline in a day will not).
MAX_SECONDS = 86400.0


class Seconds(click.ParamType):
    """A positive, finite number of seconds, at most :data:`MAX_SECONDS`.

    Checked while parsing, so a bad value is a usage error (exit 2) before
    anything is planned, locked or journalled.
    """

    name = "seconds"

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        import math

        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not math.isfinite(seconds) or seconds <= 0:
            self.fail(f"{value} is not a positive, finite number of seconds", param, ctx)
        if seconds > MAX_SECONDS:
            self.fail(f"{value} is more than {MAX_SECONDS:g} seconds (one day)", param, ctx)
        return seconds


class WholeNumber(click.ParamType):
    """An integer of at least ``minimum`` (1 for a count, 0 for a node number)."""

    name = "integer"

    def __init__(self, minimum: int, what: str) -> None:
        self.minimum = minimum
        self.what = what

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            try:
                number = int(str(value).strip(), 10)
            except ValueError:
                self.fail(f"{value!r} is not a whole number", param, ctx)
        if number < self.minimum:
            self.fail(f"{self.what} must be at least {self.minimum}, not {value}", param, ctx)
        return number


def _items(values: Any, incomplete: str) -> list[Any]:
    from click.shell_completion import CompletionItem

    return [CompletionItem(v) for v in values if str(v).startswith(incomplete)]


def complete_modes(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    from pmemctl.ops.read import DAX_MODES, NAMESPACE_MODES

    return _items(dict.fromkeys(NAMESPACE_MODES + DAX_MODES), incomplete)


def complete_states(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    return _items(("online", "offline"), incomplete)


def complete_columns(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Complete the last element of a comma-separated column list."""
    from pmemctl.ops.blocks import BLOCK_COLUMNS

    head, _, last = incomplete.rpartition(",")
    prefix = head + "," if head else ""
    return _items((prefix + c for c in BLOCK_COLUMNS if c.startswith(last)), incomplete)


def complete_scenarios(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    try:
        from pmemctl.sim.scenario import list_scenarios
    except ImportError:
        return []
    return _items((s.name for s in list_scenarios()), incomplete)


# -- completion of the machine's real names ------------------------------------
#
# Read straight from the directories the kernel lists them in, through the
# door of the sysroot the command line (or PMEMCTL_SYSROOT) names: a few
# directory listings, no attribute reads, so it stays fast on the largest
# machines (49,152 memory blocks).


def _completion_sysroot(ctx: click.Context) -> str:
    import os

    from pmemctl.cli.app import ENV_SYSROOT

    late = ctx.meta.get("pmemctl.sysroot")  # --sysroot given after the command
    given = late or ctx.find_root().params.get("sysroot") or os.environ.get(ENV_SYSROOT) or "/"
    return str(given)


def _listing(ctx: click.Context, kpath: str) -> list[str]:
    from pmemctl.sysfs.door import SysfsRoot

    try:
        return SysfsRoot(_completion_sysroot(ctx)).listdir(kpath)
    except Exception:  # noqa: BLE001 - a completion never fails loudly (half-typed sysroot, no permission)
        return []


def _numbered(names: list[str], prefix: str) -> list[str]:
    """``names`` of the form PREFIX<id>... sorted by their numbers."""
    import re

    def key(name: str) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", name))

    return sorted((n for n in names if n.startswith(prefix) and n[len(prefix):len(prefix) + 1].isdigit()), key=key)


def complete_dax_devices(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    return _items(_numbered(_listing(ctx, "/sys/bus/dax/devices"), "dax"), incomplete)


def complete_dax_or_all(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    return _items(["all", *_numbered(_listing(ctx, "/sys/bus/dax/devices"), "dax")], incomplete)


def complete_namespaces(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    return _items(_numbered(_listing(ctx, "/sys/bus/nd/devices"), "namespace"), incomplete)


def complete_regions(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    return _items(_numbered(_listing(ctx, "/sys/bus/nd/devices"), "region"), incomplete)


def complete_buses(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    return _items(_numbered(_listing(ctx, "/sys/bus/nd/devices"), "ndbus"), incomplete)


def complete_nodes(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    nodes = _numbered(_listing(ctx, "/sys/devices/system/node"), "node")
    return _items([n[len("node"):] for n in nodes], incomplete)


def complete_blocks(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """The machine's memory blocks as one list in --blocks syntax (``0-31,33-62``),
    and the last typed element completed to a block id."""
    from pmemctl.units import format_cpulist

    ids = _block_ids(ctx)
    if not ids:
        return []
    head, _, last = incomplete.rpartition(",")
    if not last:
        return _items([incomplete + format_cpulist(ids)], incomplete)
    prefix = head + "," if head else ""
    matches = [prefix + str(i) for i in ids if str(i).startswith(last)][:200]
    return _items(matches, incomplete)


def _block_ids(ctx: click.Context) -> list[int]:
    """Every memory block id: from the System RAM ranges of /proc/iomem and
    block_size_bytes (two small reads; hot-added memory keeps its iomem
    resource while offline), or, when those are unreadable (addresses read
    as zeros without root), by listing /sys/devices/system/memory."""
    import re

    from pmemctl.sysfs.door import SysfsRoot

    try:
        door = SysfsRoot(_completion_sysroot(ctx))
        size = int(door.read_optional("/sys/devices/system/memory/block_size_bytes") or "0", 16)
        iomem = door.read_optional("/proc/iomem") or ""
    except Exception:  # noqa: BLE001 - fall back to the listing
        size, iomem = 0, ""
    ranges = [(int(a, 16), int(b, 16)) for a, b in re.findall(r"^\s*([0-9a-f]+)-([0-9a-f]+) : System RAM", iomem, re.M)]
    if size > 0 and ranges and any(b for _, b in ranges):
        ids: set[int] = set()
        for start, end in ranges:
            ids.update(range(start // size, end // size + 1))
        return sorted(ids)
    text = "\n".join(_listing(ctx, "/sys/devices/system/memory"))
    return sorted(map(int, re.findall(r"^memory(\d+)$", text, re.M)))
