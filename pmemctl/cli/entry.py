"""The ``pmemctl`` console entry (and ``python -m pmemctl``).

Importing click costs about 32 ms of cpu, more than the rest of a
``pmemctl blocks`` start-up put together: a fifth of lsmem's whole run on
8,192 memory blocks, which ``blocks`` is to beat by a fifth (issue 14).  So
the plain read command lines of ``blocks`` -- the options below, each given
once, with values that need no conversion -- are parsed here, without click,
and run by the very code the click command runs
(:func:`pmemctl.cli.show_blocks.show_blocks`), errors through the same
funnel (:func:`pmemctl.cli.main.quick_path_error`).  Every other command
line (help, completion, another command, an option or a value this parser
does not take, a sysroot click would refuse) goes to click unchanged, which
prints what it always does.  tests/cli/test_entry.py runs both paths on the
same command lines and compares every byte and the exit status.
"""

from __future__ import annotations

import gc
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from typing import Optional, Sequence

#: The root's options taken before the command and, as click's hidden copies
#: (main.accept_global_options), after it: name -> takes a value.
_GLOBAL = {"--sysroot": True, "--color": False, "--no-color": False, "-q": False, "--quiet": False,
           "--traceback": False}
#: ``blocks``' own options: name -> takes a value.
_BLOCKS = {"-a": False, "--all": False, "--device": True, "--node": True, "--state": True, "-o": True,
           "--output": True, "--json": False}
#: Spellings of one option (a second spelling counts as giving it twice).
_SAME = {"-q": "--quiet", "--no-color": "--color", "-a": "--all", "-o": "--output"}
#: The environment variables that send a run to click: completion (click's
#: protocol, main.PmemctlGroup.main).
_CLICK_ONLY_ENV = ("_PMEMCTL_COMPLETE",)


def main(args: Optional[Sequence[str]] = None) -> None:
    """Console entry point: the quick path for a plain ``blocks``, click for the rest."""
    argv = list(sys.argv[1:] if args is None else args)
    quick = None if any(os.environ.get(v) for v in _CLICK_ONLY_ENV) else _parse_blocks(argv)
    if quick is not None:
        # A read that exits when done, making no reference cycles worth
        # collecting: the cyclic collector would only walk the imported
        # modules and the block columns (2 ms at 8,192 blocks, more per block
        # with --all --json); memory is freed by reference counting as ever.
        gc.disable()
        try:
            code = _run_blocks(argv, *quick)
        finally:
            # on again for a caller that goes on after SystemExit, with what
            # exists now left out of its walks, the one at exit included
            gc.freeze()
            gc.enable()
        sys.exit(code)
    from pmemctl.cli.quiet_imports import collector_paused

    with collector_paused("pmemctl.cli.main"):  # click and the command group (about 13 ms of a 60 ms start-up)
        from pmemctl.cli.main import main as click_main
    click_main(args)


def _read_options(words: list[str], pos: int, known: dict[str, bool], stop: Optional[str]
                  ) -> Optional[tuple[dict[str, str], int]]:
    """Options from ``words[pos:]`` up to the word ``stop`` (None: to the end):
    (option -> its value, or for a flag the spelling given; the position of
    ``stop``), or None for anything else: an unknown word, an option given
    twice, a value click might read differently (empty, or starting with '-')."""
    seen: dict[str, str] = {}
    while pos < len(words):
        word = words[pos]
        if word == stop:
            return seen, pos
        name, eq, attached = word.partition("=") if word.startswith("--") else (word, "", "")
        if name not in known or _SAME.get(name, name) in seen:
            return None
        if not known[name]:
            if eq:
                return None
            value = name
        elif eq:
            value = attached
        elif pos + 1 < len(words):
            pos += 1
            value = words[pos]
        else:
            return None
        if known[name] and (not value or value.startswith("-")):
            return None
        seen[_SAME.get(name, name)] = value
        pos += 1
    return (seen, pos) if stop is None else None


def _valid_directory(value: str) -> bool:
    """What main._valid_sysroot accepts (anything else: click says why)."""
    return bool(value.strip()) and os.path.isdir(value)


def _parse_blocks(argv: list[str]) -> Optional[tuple[dict[str, str], dict[str, str]]]:
    """(root options, blocks options) of a plain ``blocks`` command line, or
    None to leave it to click."""
    front = _read_options(argv, 0, _GLOBAL, "blocks")
    if front is None:
        return None
    root, pos = front
    back = _read_options(argv, pos + 1, {**_BLOCKS, **_GLOBAL}, None)
    if back is None:
        return None
    opts = back[0]
    # the root's value, else the environment's (even empty: main._check_sysroot refuses it), else /
    root_sysroot = root.get("--sysroot", os.environ.get("PMEMCTL_SYSROOT", "/"))
    if not _valid_directory(root_sysroot) or not _valid_directory(opts.get("--sysroot", "/")):
        return None
    node = opts.get("--node")
    if node is not None and not (node.isascii() and node.isdigit()):
        return None  # click's WholeNumber converts (or refuses) it
    root["--sysroot"] = root_sysroot
    return root, opts


def _run_blocks(argv: list[str], root: dict[str, str], opts: dict[str, str]) -> int:
    """Run ``blocks`` as the click command would, from App set-up to the exit status."""
    from pmemctl.cli.app import App

    app = App()
    try:
        color = root.get("--color")
        app.configure(sysroot=root["--sysroot"], color=None if color is None else color == "--color",
                      quiet="--quiet" in root, traceback="--traceback" in root)
        # given after the command, the global options win (main._late_global_options)
        if "--sysroot" in opts:
            app.sysroot = opts["--sysroot"]
        if "--color" in opts:
            app.color = opts["--color"] == "--color"
        app.quiet = app.quiet or "--quiet" in opts
        app.traceback = app.traceback or "--traceback" in opts
        from pmemctl.cli.show_blocks import show_blocks

        node = opts.get("--node")
        show_blocks(app, per_block="--all" in opts, device=opts.get("--device"),
                    node=None if node is None else int(node), state=opts.get("--state"),
                    columns=opts.get("--output"), as_json="--json" in opts)
        code = 0
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - handed to the one funnel
        from pmemctl.cli.main import quick_path_error

        code = quick_path_error(exc, app, argv)
    note = app.root_only_note()
    if note is not None and not app.quiet:
        sys.stderr.write(f"pmemctl: {note}\n")
        sys.stderr.flush()
    return code
