"""One module per command; each imports ops, model and rich only when run.

Shared option helpers live here: they import nothing heavy at import time,
and their completion callbacks load the vocabulary from ops on demand.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def json_option(f: F) -> F:
    """``--json``: print the versioned JSON document instead of a table."""
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Print one JSON object (schema version 1; see pmemctl(1), JSON OUTPUT).",
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
    from pmemctl.ops.read import BLOCK_COLUMNS

    head, _, last = incomplete.rpartition(",")
    prefix = head + "," if head else ""
    return _items((prefix + c for c in BLOCK_COLUMNS if c.startswith(last)), incomplete)


def complete_scenarios(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    try:
        from pmemctl.sim.scenario import list_scenarios
    except ImportError:
        return []
    return _items((s.name for s in list_scenarios()), incomplete)
