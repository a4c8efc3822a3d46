"""Output modes: rich on a terminal, plain when piped, NO_COLOR, --color/--no-color."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from cli_support import Invoke

from pmemctl.cli.app import App
from pmemctl.cli.render.doc import Column, Document, KeyValues, Lines, table
from pmemctl.cli.render.plain import column_width, render_document


@pytest.fixture
def tty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(App, "_stdout_is_tty", staticmethod(lambda: True))


@pytest.mark.parametrize(
    "is_tty,color,no_color_env,rich,colored",
    [
        (False, None, False, False, False),  # piped: plain text
        (True, None, False, True, True),  # terminal: rich, coloured
        (True, None, True, True, False),  # terminal with NO_COLOR: rich, no colour
        (True, False, False, True, False),  # --no-color on a terminal
        (False, True, True, True, True),  # --color wins over a pipe and NO_COLOR
        (False, False, False, False, False),
    ],
)
def test_mode_decision(
    monkeypatch: pytest.MonkeyPatch, is_tty: bool, color: object, no_color_env: bool, rich: bool, colored: bool
) -> None:
    monkeypatch.setattr(App, "_stdout_is_tty", staticmethod(lambda: is_tty))
    if no_color_env:
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    app = App()
    app.configure(sysroot="/", color=color, quiet=False, traceback=False)  # type: ignore[arg-type]
    assert (app.use_rich, app.use_color) == (rich, colored)


def test_terminal_with_no_color_has_tables_but_no_escapes(
    invoke: Invoke, scenario_tree: Callable[..., Path], tty: None
) -> None:
    result = invoke("--sysroot", scenario_tree("optane-2s"), "list")  # the runner sets NO_COLOR=1
    assert result.exit_code == 0
    assert "─" in result.stdout
    assert "\x1b[" not in result.stdout


def test_terminal_colours_without_no_color(invoke: Invoke, scenario_tree: Callable[..., Path], tty: None) -> None:
    result = invoke(
        "--sysroot", scenario_tree("optane-2s"), "topology", env={"NO_COLOR": None, "TERM": "xterm-256color"}
    )
    assert result.exit_code == 0
    assert "\x1b[" in result.stdout
    assert "numactl --membind=0-1" in result.stdout


def test_json_is_never_rich(invoke: Invoke, scenario_tree: Callable[..., Path], tty: None) -> None:
    result = invoke("--color", "--sysroot", scenario_tree("optane-2s"), "blocks", "--json")
    assert result.stdout.startswith('{\n  "schema_version": 2,')
    assert "\x1b[" not in result.stdout


def test_plain_renderer_layout() -> None:
    doc = Document.of(
        [
            table([Column("NAME"), Column("SIZE", "right", width_hint=5)], [["a", "1G"], ["bb", "128M"]], "Things"),
            KeyValues((("key", "v"), ("longer key", "value")), "Pairs"),
            Lines(("one", "two"), "Notes", indent=2),
        ]
    )
    assert render_document(doc) == (
        "Things:\nNAME  SIZE\na       1G\nbb    128M\n\n"
        "Pairs:\nkey:        v\nlonger key: value\n\n"
        "Notes:\n  one\n  two\n"
    )
    assert render_document(Document()) == ""


@pytest.mark.parametrize(
    "cells,hint,width",
    [
        (["2G", "12G"], 5, 4),  # narrower than the header: header width (lsmem)
        (["128M"], 5, 5),  # as wide as the header: the hint
        (["72.5G"], 5, 5),
        (["437.5G"], 5, 6),
        ([], 5, 4),
        (["x"], 0, 4),
    ],
)
def test_libsmartcols_width_rule(cells: list[str], hint: int, width: int) -> None:
    assert column_width("SIZE", cells, hint) == width
