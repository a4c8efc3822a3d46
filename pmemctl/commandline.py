"""Command lines pmemctl prints for the user to run.

A hint such as ``run 'pmemctl rollback'`` is meant to be pasted into a shell,
so it must act on the same machine as the run that printed it: under a
sysroot it carries ``--sysroot DIR``.  Every such line is made here.  Pure
(no I/O, no room imported): ops pass the door's root, the CLI its own.
"""

from __future__ import annotations

import os
import shlex


def root_option(sysroot: str | None) -> list[str]:
    """``["--sysroot", DIR]`` (absolute) for a tree; ``[]`` for the live machine."""
    if not sysroot:
        return []
    root = os.path.abspath(sysroot).rstrip("/") or "/"
    return [] if root == "/" else ["--sysroot", root]


def command_line(*words: str, sysroot: str | None = "/") -> str:
    """``pmemctl [--sysroot DIR] WORDS...``, each word quoted for a POSIX shell.

    Placeholders the user fills in (``SIZE``, ``NS``) pass through unchanged.
    """
    return " ".join(shlex.quote(w) for w in ("pmemctl", *root_option(sysroot), *words))


__all__ = ["command_line", "root_option"]
