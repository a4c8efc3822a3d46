"""A progress bar for long builds (``sim create``, ``demo``): rich, on a
terminal only.  Piped or with -q there is no bar and no output at all, so a
log or a script reading stdout sees only the result lines."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Optional

from pmemctl.cli.app import App

#: below this many steps a build is quick: no bar
MIN_STEPS = 64


def _stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


@contextmanager
def build_bar(app: App, description: str) -> Iterator[Optional[Callable[[int, int], None]]]:
    """Yield a ``progress(done, total)`` callback that drives a bar on stderr
    when it is a terminal (None otherwise).  The bar is stopped however the
    block ends, and its last frame is finished, so no text sticks to it."""
    if app.quiet or not _stderr_is_tty():
        yield None
        return
    from pmemctl.cli.quiet_imports import collector_paused

    with collector_paused("rich.console", "rich.progress"):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    state: dict[str, Any] = {}
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   console=Console(stderr=True, no_color=not app.use_color), transient=True)

    def update(done: int, total: int) -> None:
        if total < MIN_STEPS:
            return
        if "task" not in state:
            bar.start()
            state["task"] = bar.add_task(description, total=total)
        bar.update(state["task"], completed=done, total=total)

    try:
        yield update
    finally:
        if "task" in state:
            bar.stop()
