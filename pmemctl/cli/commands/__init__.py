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
