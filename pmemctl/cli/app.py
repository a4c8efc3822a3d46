"""The App object every command receives in ``ctx.obj``.

It owns the output mode (rich tables on a terminal, plain aligned text when
piped, JSON), the sysroot and the door to it.  It holds no business rules.
Imports stay light: rich and the model are loaded only when first needed, so
``pmemctl --version`` costs little more than importing click.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:  # pragma: no cover
    from pmemctl.cli.render.doc import Document
    from pmemctl.sysfs.door import SysfsRoot

#: Environment variables pmemctl reads (documented in pmemctl(1)).
ENV_SYSROOT = "PMEMCTL_SYSROOT"
ENV_TRACEBACK = "PMEMCTL_TRACEBACK"
ENV_NO_COLOR = "NO_COLOR"


def env_flag(name: str) -> bool:
    """True when an on/off environment variable is set to a true value."""
    return os.environ.get(name, "").strip().lower() in ("1", "yes", "true", "on")


class App:
    """Output policy, sysroot and door for one pmemctl run."""

    def __init__(self) -> None:
        self.sysroot = "/"
        self.color: Optional[bool] = None  # None: decide from the terminal
        self.quiet = False
        self.traceback = env_flag(ENV_TRACEBACK)
        self.doors: list["SysfsRoot"] = []  # every door opened, for the root-only note
        #: the plan of the running change was printed before it ran (with the
        #: prompt, or before the first write): the result does not repeat it
        self.plan_shown = False

    def configure(
        self, *, sysroot: str, color: Optional[bool], quiet: bool, traceback: bool
    ) -> None:
        self.sysroot = sysroot or "/"
        self.color = color
        self.quiet = quiet
        self.traceback = traceback or env_flag(ENV_TRACEBACK)

    # -- output mode -------------------------------------------------------

    @staticmethod
    def _stdout_is_tty() -> bool:
        try:
            return sys.stdout.isatty()
        except (AttributeError, ValueError):
            return False

    @property
    def use_rich(self) -> bool:
        """Rich tables on a terminal (with or without colour), or when --color forces them."""
        return self.color is True or self._stdout_is_tty()

    @property
    def use_color(self) -> bool:
        """--color/--no-color win; otherwise colour only on a terminal without NO_COLOR."""
        if self.color is not None:
            return self.color
        return self._stdout_is_tty() and not os.environ.get(ENV_NO_COLOR)

    # -- the door ------------------------------------------------------------

    def open_door(self, *, writes: bool = True, dry_run: Optional[bool] = None) -> "SysfsRoot":
        """The door every command reads through.

        The single place that decides what kind of door a sysroot gets:
        trees carrying ``.pmemctl-sim`` get the simulated kernel when the
        command may write (read commands skip importing the simulator).
        It is also the one place that refuses a change to a recording (see
        :meth:`refuse_recording`).
        """
        from pmemctl.sysfs.door import SysfsRoot, is_simulated_tree

        if writes and is_simulated_tree(self.sysroot):
            # a simulator tree: writes go to the simulated kernel, which
            # reacts as Linux does (cli -> sim is the one allowed wiring edge)
            from pmemctl.sim.kernel import SimulatedKernel

            door: SysfsRoot = SimulatedKernel(self.sysroot)
        else:
            door = SysfsRoot(self.sysroot)
        if writes:
            self.refuse_recording(door, dry_run)
        self.doors.append(door)
        return door

    @staticmethod
    def refuse_recording(door: "SysfsRoot", dry_run: Optional[bool] = None) -> None:
        """Refuse (exit 5) a command that may write when its sysroot is a
        recording of a real machine (``pmemctl sim record``), unless it is a
        dry run.  No kernel reacts to writes into such a tree: a write would
        only change a file, and success would be a lie.  A recording of a
        simulated tree carries the simulator's marker, gets the simulated
        kernel (``door.kind == "simulated"``) and stays writable.

        ``dry_run`` None: read from the running command's ``--dry-run``
        option (every mutating command has one), so the namespace commands
        and rollback/resume are covered by this one check too.
        """
        if door.kind != "tree":
            return
        import os

        from pmemctl.sim.record import RECORD_FILE

        if not os.path.isfile(os.path.join(door.root, RECORD_FILE)):
            return
        if dry_run is None:
            import click

            ctx = click.get_current_context(silent=True)
            dry_run = bool(ctx is not None and ctx.params.get("dry_run"))
        if dry_run:
            return
        from pmemctl.errors import Refused

        raise Refused(
            f"{door.root} is a read-only recording made by 'pmemctl sim record': no kernel reacts to writes "
            "into it, so nothing was changed",
            hint="add --dry-run to see the plan, or rehearse on a simulated tree ('pmemctl sim create')",
        )

    def root_only_note(self) -> Optional[str]:
        """One line naming the attributes only root could have read, if any.

        Without root, the kernel refuses attributes of mode 0400 (the
        ``resource`` of regions, namespaces and dax devices, dax mapping
        ranges, a dax region's ``align``); they read as unknown.
        """
        denied = sorted({p for d in self.doors for p in getattr(d, "denied", ())})
        if not denied:
            return None
        names = sorted({p.rsplit("/", 1)[-1] for p in denied})
        return (f"note: {len(denied)} attribute(s) only root may read ({', '.join(names)}) show as unknown "
                "('-', null in JSON); run as root to see them")

    # -- writing -------------------------------------------------------------

    def show(self, doc: "Document") -> None:
        """Render a document: rich on a terminal, plain text otherwise."""
        if self.quiet:
            return
        if self.use_rich:
            from pmemctl.cli.render.tty import print_document

            print_document(doc, color=self.use_color)
        else:
            from pmemctl.cli.render.plain import render_document

            _write(render_document(doc))

    def say(self, text: str) -> None:
        """An informational line (suppressed by --quiet)."""
        if not self.quiet:
            _write(text + "\n")

    def emit_json(self, payload: dict[str, Any]) -> None:
        """Machine output: always written, even with --quiet."""
        import json

        _write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
