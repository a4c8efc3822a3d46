"""Generate ``completions/`` and ``man/`` from the click command tree.

    python -m pmemctl.cli.gendocs            # rewrite the committed files
    python -m pmemctl.cli.gendocs --check    # exit 1 when they are stale
    python -m pmemctl.cli.gendocs --markdown # README sections (JSON schema, exit codes)

Everything is derived: options and help from the click commands, exit codes
from :class:`pmemctl.errors.ExitCode` (the meaning is the comment on each
member), the JSON schema from :data:`pmemctl.cli.render.json.OBJECTS`.  The
output is deterministic (no dates), so tests can regenerate it into a
temporary directory and compare byte for byte.  The roff writer is small and
local, to keep the project free of a documentation dependency.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Sequence

import click

from pmemctl import SCHEMA_VERSION, __version__

REPO_ROOT = Path(__file__).resolve().parents[2]
MANUAL = "pmemctl manual"

#: Environment variables, as documented in pmemctl(1).
ENVIRONMENT = (
    ("PMEMCTL_SYSROOT", "Default for --sysroot: read the machine under this directory instead of /."),
    ("PMEMCTL_TRACEBACK", "When 1, an error also prints its Python traceback (like --traceback)."),
    ("NO_COLOR", "When set and not empty, never colour the output (https://no-color.org)."),
    ("COLUMNS", "Width of the terminal for rich tables."),
)

SEE_ALSO = ("lsmem(1)", "daxctl(1)", "ndctl(1)", "numactl(8)")


# --------------------------------------------------------------------------
# roff


def _roff_char(ch: str) -> str:
    if ch == "\\":
        return "\\e"
    if ord(ch) > 127:
        return f"\\[u{ord(ch):04X}]"
    return ch


def roff_text(text: str) -> str:
    """Escape running text: backslashes, non-ASCII, option dashes, `code`."""
    out = "".join(_roff_char(c) for c in text)
    # A dash that starts a word is an option or a minus: make it a real \-.
    out = re.sub(r"(?<![\w\\])-", r"\\-", out)
    out = re.sub(r"`([^`]+)`", r"\\fB\1\\fR", out)
    return out


def roff_line(text: str) -> str:
    """A text line that cannot be mistaken for a request (leading . or ')."""
    line = roff_text(text)
    return "\\&" + line if line[:1] in (".", "'") else line


def _paragraphs(help_text: str) -> list[tuple[bool, list[str]]]:
    """Split click help into (preformatted, lines) paragraphs (``\\b`` = keep lines)."""
    out: list[tuple[bool, list[str]]] = []
    for para in re.split(r"\n\s*\n", inspect.cleandoc(help_text or "")):
        lines = para.splitlines()
        if not lines:
            continue
        if lines[0].strip() == "\b":
            out.append((True, lines[1:]))
        else:
            out.append((False, [" ".join(line.strip() for line in lines)]))
    return out


def _roff_help(help_text: str) -> list[str]:
    out: list[str] = []
    for n, (pre, lines) in enumerate(_paragraphs(help_text)):
        if n:
            out.append(".PP")
        if pre:
            out += [".nf", *(roff_line(line) for line in lines), ".fi"]
        else:
            out += [roff_line(line) for line in lines]
    return out


# --------------------------------------------------------------------------
# the command tree


@dataclass(frozen=True)
class Page:
    path: tuple[str, ...]  # ("pmemctl", "sim", "create")
    command: click.Command
    ctx: click.Context

    @property
    def name(self) -> str:
        return "-".join(self.path)

    @property
    def invocation(self) -> str:
        return " ".join(self.path)


def walk(
    cli: click.Command, path: tuple[str, ...] = ("pmemctl",), parent: Optional[click.Context] = None
) -> Iterator[Page]:
    ctx = click.Context(cli, info_name=path[-1], parent=parent, **cli.context_settings)
    yield Page(path, cli, ctx)
    if isinstance(cli, click.Group):
        for name in cli.list_commands(ctx):
            sub = cli.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from walk(sub, path + (name,), ctx)


def _option_entry(param: click.Option, ctx: click.Context) -> list[str]:
    # Short options first; click builds the help option's names from a set,
    # so without sorting their order would change with the hash seed.
    opts = sorted(param.opts, key=lambda o: o.startswith("--")) + list(param.secondary_opts)
    names = [f"\\fB{roff_text(o)}\\fR" for o in opts]
    head = ", ".join(names)
    if not param.is_flag and not param.count:
        try:
            metavar = param.make_metavar(ctx)  # click >= 8.2
        except TypeError:  # pragma: no cover - click < 8.2
            metavar = param.make_metavar()  # type: ignore[call-arg]
        head += f" \\fI{roff_text(metavar)}\\fR"
    record = param.get_help_record(ctx)
    help_text = record[1] if record else ""
    return [".TP", head, roff_line(help_text) if help_text else ""]


def _synopsis(page: Page) -> list[str]:
    pieces = page.command.collect_usage_pieces(page.ctx)
    return [".B " + _name(page.invocation), roff_line(" ".join(pieces))]


def _name(text: str) -> str:
    """A command or page name: every hyphen a real minus, as man(7) wants."""
    return "".join(_roff_char(c) for c in text).replace("-", "\\-")


def _exit_codes() -> list[tuple[int, str, str]]:
    """(code, NAME, meaning) from ExitCode; the meaning is each member's comment."""
    from pmemctl.errors import ExitCode

    meanings: dict[str, str] = {}
    for line in inspect.getsource(ExitCode).splitlines():
        m = re.match(r"\s+([A-Z_]+)\s*=\s*\d+\s*#\s*(.+)$", line)
        if m:
            meanings[m.group(1)] = m.group(2).strip()
    missing = [c.name for c in ExitCode if c.name not in meanings]
    if missing:
        raise SystemExit(f"gendocs: ExitCode members without a comment: {', '.join(missing)}")
    from pmemctl.cli.main import EXIT_INTERRUPTED

    rows = [(int(c), c.name, meanings[c.name]) for c in ExitCode]
    rows.append((EXIT_INTERRUPTED, "INTERRUPTED", "interrupted by Ctrl-C (SIGINT) before any change began"))
    return rows


def _json_section() -> list[str]:
    from pmemctl.cli.render.json import CHANGELOG, OBJECTS

    out = [
        ".SH JSON OUTPUT",
        roff_line(
            "Every read command and every command that changes the machine takes --json and prints one JSON "
            f"object, schema version {SCHEMA_VERSION}. "
            "It starts with schema_version, command and sysroot. Every object of a kind has exactly the keys "
            "listed below, every time: unknown or absent values are null and empty collections are [] or {}, "
            "never a missing key. Sizes, addresses and offsets are integers in bytes; an end address is the "
            "last byte (inclusive). Latencies are in ns, bandwidths in MiB/s. Enumerations are lower-case "
            "strings; where a key lists its values (one of ...), the set is closed. "
            "Maps keyed by a node id use the id as a string. Adding a key is a compatible change; "
            "renaming or removing one, or changing a type, bumps schema_version. A command given --json "
            "that fails prints an error_document instead of its own: the same first three keys, then error; "
            "stdout always holds exactly one JSON object."
        ),
    ]
    for spec in OBJECTS.values():
        out += [".SS " + roff_text(spec.kind), roff_line(f"Found at {spec.where}.")]
        for key, typ, meaning in spec.rows():
            out += [".TP", f"\\fB{roff_text(key)}\\fR (\\fI{roff_text(typ)}\\fR)", roff_line(meaning)]
    out += [".SH JSON SCHEMA CHANGELOG",
            roff_line("Every change of a key, a value's type or a value's spelling, newest version first; keys "
                      "added within a version are not listed.")]
    for version, changes in reversed(CHANGELOG):
        out.append(".SS " + roff_text(f"Version {version} (from {version - 1})"))
        for where, before, after in changes:
            out += [".TP", f"\\fB{roff_text(where.replace('`', ''))}\\fR",
                    roff_line(f"Before: {before.replace('`', '')}. Now: {after.replace('`', '')}.")]
    return out


def _examples_section(page: Page) -> list[str]:
    from pmemctl.cli.examples import examples_for

    rows = examples_for(" ".join(page.path[1:]))
    out = [".SH EXAMPLES"] if rows else []
    for line, what in rows:
        out += [".TP", f"\\fB{roff_text(line)}\\fR", roff_line(what[:1].upper() + what[1:] + ".")]
    return out


def _command_exit_section(page: Page) -> list[str]:
    from pmemctl.cli.examples import EXIT_STATUSES

    codes = set(EXIT_STATUSES.get(" ".join(page.path[1:]), (0,))) | {1, 2}
    out = [".SH EXIT STATUS"]
    for code, name, meaning in _exit_codes():
        if code in codes:
            out += [".TP", f"\\fB{code}\\fR ({name})", roff_line(meaning[:1].upper() + meaning[1:] + ".")]
    return out + [".PP", roff_line("Every code is listed in pmemctl(1).")]


#: pmemctl's own files (under --sysroot for a tree): pmemctl/sysfs/state.py
FILES = (
    ("/run/lock/pmemctl.lock", "the run lock: one change at a time; 'pmemctl status' names the pid holding it"),
    ("/var/lib/pmemctl/journal.json, /var/lib/pmemctl/journal.log",
     "the intent journal of the change in progress or unfinished (directory mode 0700, root's); "
     "'pmemctl resume', 'pmemctl rollback' and 'pmemctl journal abandon' act on it"),
    ("/var/lib/pmemctl/last-run.json", "the summary of the last finished change, shown by 'pmemctl status'"),
    ("/run/pmemctl/", "where the journal goes when /var/lib cannot be written"),
)

SAFETY = (
    "Every change is planned first and shown with --dry-run, in words and as the exact writes. Pre-checks refuse "
    "before the first write what the kernel may never give back (ZONE_NORMAL blocks, unremovable blocks, media "
    "errors, a device in use); --force lifts the refusals that can be lifted and they then read OVERRIDDEN. A "
    "destructive change needs --yes or an answer on a terminal. Every write is read back; when a step fails, "
    "the steps this run made are undone newest first (exit 6), and the journal lets 'pmemctl rollback' or "
    "'pmemctl resume' finish the job after Ctrl-C or a crash (exit 7)."
)


def _files_and_safety() -> list[str]:
    out = [".SH FILES"]
    for path, meaning in FILES:
        out += [".TP", f"\\fI{roff_text(path)}\\fR", roff_line(meaning[:1].upper() + meaning[1:] + ".")]
    out += [".PP", roff_line("For a tree given with --sysroot DIR, these paths are under DIR."),
            ".SH SAFETY MODEL", roff_line(SAFETY)]
    return out


def man_page(page: Page, pages: Sequence[Page]) -> str:
    cmd = page.command
    is_root = len(page.path) == 1
    short = cmd.get_short_help_str(limit=200).rstrip(".")
    out = [
        f'.TH "{page.name.upper()}" 1 "" "pmemctl {__version__}" "{MANUAL}"',
        ".\\\" Generated by 'python -m pmemctl.cli.gendocs'; do not edit.",
        ".SH NAME",
        f"{_name(page.name)} \\- {roff_text(short)}",
        ".SH SYNOPSIS",
        *_synopsis(page),
        ".SH DESCRIPTION",
        *_roff_help(cmd.help or ""),
    ]
    params = [p for p in cmd.get_params(page.ctx) if isinstance(p, click.Option) and not p.hidden]
    if params:
        out.append(".SH OPTIONS")
        for p in params:
            out += _option_entry(p, page.ctx)
    if not is_root:
        out += [".PP", roff_line("Global options (--sysroot, --color, --quiet) go before or after the command "
                                 "name; see pmemctl(1).")]
    children = [p for p in pages if p.path[:-1] == page.path]
    if children:
        out.append(".SH COMMANDS")
        for child in children:
            out += [
                ".TP",
                f"\\fB{_name(child.invocation)}\\fR",
                roff_line(child.command.get_short_help_str(limit=200) + f" See {child.name}(1)."),
            ]
    out += _examples_section(page)
    if not is_root:
        out += _command_exit_section(page)
    if is_root:
        out.append(".SH EXIT STATUS")
        for code, name, meaning in _exit_codes():
            out += [".TP", f"\\fB{code}\\fR ({name})", roff_line(meaning[:1].upper() + meaning[1:] + ".")]
        out += _files_and_safety()
        out.append(".SH ENVIRONMENT")
        for var, meaning in ENVIRONMENT:
            out += [".TP", f"\\fB{var}\\fR", roff_line(meaning)]
        out += _json_section()
    related = [
        p.name for p in pages
        if p is not page and (is_root or p.path[:-1] == page.path or p.path == page.path[:-1])
    ]
    see = [f"{n}(1)" for n in related] + list(SEE_ALSO)
    out += [".SH SEE ALSO", ",\n".join(f".BR {_name(s).replace('(', ' (', 1)}" for s in see)]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------
# outputs


def outputs() -> dict[str, str]:
    """Relative path -> content of every generated file."""
    from pmemctl.cli import completion
    from pmemctl.cli.main import cli

    files: dict[str, str] = {}
    for shell, name in completion.FILES.items():
        files[f"completions/{name}"] = completion.source(cli, shell)
    pages = list(walk(cli))
    for page in pages:
        files[f"man/{page.name}.1"] = man_page(page, pages)
    from pmemctl.cli.render.layout import layout_man_page  # the layout file's format (section 5)

    files["man/pmemctl-layout.5"] = layout_man_page()
    return files


def generate(root: Path) -> list[Path]:
    """Write every generated file under ``root``; return their paths."""
    written = []
    for rel, text in outputs().items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def stale(root: Path) -> list[str]:
    """Generated files under ``root`` that are missing or differ."""
    bad = []
    for rel, text in outputs().items():
        path = root / rel
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            bad.append(rel)
    return bad


def markdown() -> str:
    """README sections: exit codes and the JSON schema."""
    from pmemctl.cli.render.json import changelog_markdown, schema_markdown

    lines = ["### Exit codes", "", "| code | name | meaning |", "|---:|---|---|"]
    lines += [f"| {code} | `{name}` | {meaning} |" for code, name, meaning in _exit_codes()]
    lines += ["", "### JSON schema", "", schema_markdown()]
    lines += ["", "### JSON schema changelog", "", changelog_markdown()]
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pmemctl.cli.gendocs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=REPO_ROOT,
                        help="write under this directory (default: the checkout)")
    parser.add_argument("--check", action="store_true", help="only report stale files (exit 1 if any)")
    parser.add_argument("--markdown", action="store_true", help="print the README's exit-code and JSON sections")
    parser.add_argument("--doctor-checks", action="store_true",
                        help="print the README's table of pmemctl doctor checks")
    args = parser.parse_args(argv)
    if args.doctor_checks:
        from pmemctl.cli.render.doctor import checks_markdown

        sys.stdout.write(checks_markdown())
        return 0
    if args.markdown:
        sys.stdout.write(markdown())
        return 0
    if args.check:
        bad = stale(args.root)
        for rel in bad:
            print(f"stale: {rel}", file=sys.stderr)
        if bad:
            print("run python -m pmemctl.cli.gendocs", file=sys.stderr)
        return 1 if bad else 0
    for path in generate(args.root):
        print(path.relative_to(args.root))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
