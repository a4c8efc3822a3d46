"""Issue 15, item 17: every ``--help`` and every man page has EXAMPLES; every
man page has EXIT STATUS (per command); pmemctl(1) has FILES (lock, journal,
last run) and the safety model.  Examples name their own command."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import Invoke

from pmemctl.cli.examples import EXAMPLES, EXIT_STATUSES
from pmemctl.cli.gendocs import walk
from pmemctl.cli.main import cli

REPO = Path(__file__).resolve().parents[2]
PAGES = list(walk(cli))


@pytest.mark.parametrize("page", PAGES, ids=[p.invocation for p in PAGES])
def test_help_has_examples(invoke: Invoke, page) -> None:
    path = " ".join(page.path[1:])
    assert EXAMPLES.get(path), f"no examples for '{page.invocation}': add them to pmemctl/cli/examples.py"
    assert path in EXIT_STATUSES
    text = invoke(*page.path[1:], "--help").stdout
    assert "Examples:" in text
    for line, _what in EXAMPLES[path]:
        assert line in text
        assert f"pmemctl {path}".strip() in line or line.startswith("pmemctl --sysroot"), line


@pytest.mark.parametrize("page", PAGES, ids=[p.invocation for p in PAGES])
def test_man_page_has_examples_and_exit_status(page) -> None:
    text = (REPO / "man" / f"{page.name}.1").read_text()
    assert ".SH EXAMPLES" in text and ".SH EXIT STATUS" in text


def test_main_page_has_files_and_safety_model() -> None:
    text = (REPO / "man" / "pmemctl.1").read_text()
    assert ".SH FILES" in text and ".SH SAFETY MODEL" in text
    for path in ("/run/lock/pmemctl.lock", "/var/lib/pmemctl/journal.json", "/var/lib/pmemctl/last-run.json"):
        assert path in text.replace("\\-", "-")


def test_files_are_the_ones_pmemctl_uses() -> None:
    from pmemctl.cli.gendocs import FILES
    from pmemctl.sysfs.state import FALLBACK_STATE_DIR, LOCK_PATH, STATE_DIR

    paths = " ".join(p for p, _ in FILES)
    assert LOCK_PATH in paths and STATE_DIR in paths and FALLBACK_STATE_DIR in paths
