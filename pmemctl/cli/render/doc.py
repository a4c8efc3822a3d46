"""A tiny, output-neutral document: what a command shows, not how.

View renderers (``render/list.py`` …) build a :class:`Document` from an ops
view; ``render/plain.py`` turns it into stable aligned text for pipes and
``render/tty.py`` into rich tables for a terminal.  Keeping one document for
both faces means the piped text and the terminal table never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Sequence, Union

Align = Literal["left", "right"]


@dataclass(frozen=True)
class Column:
    header: str
    align: Align = "left"
    #: libsmartcols' absolute width hint (lsmem gives SIZE 5): the column
    #: widens to it when its cells are at least as wide as the header.
    width_hint: int = 0
    #: on a terminal too narrow for the table, columns with ``drop`` > 0 are
    #: left out, highest first (0: always shown); piped text keeps them all
    drop: int = 0
    #: free text that may wrap between words on a narrow terminal; every
    #: other cell (identifiers above all) is printed whole or not at all
    wrap: bool = False


@dataclass(frozen=True)
class Table:
    columns: tuple[Column, ...]
    rows: tuple[tuple[str, ...], ...]
    title: str = ""


@dataclass(frozen=True)
class KeyValues:
    """``key: value`` lines.  ``key_width``/``value_width``/``value_align``
    let a view copy another tool's summary layout (lsmem's ``%-23s %5s``)."""

    pairs: tuple[tuple[str, str], ...]
    title: str = ""
    key_width: int = 0
    value_width: int = 0
    value_align: Align = "left"


@dataclass(frozen=True)
class Lines:
    """Free text lines under an optional title (warnings, evidence, hints)."""

    lines: tuple[str, ...]
    title: str = ""
    indent: int = 0
    style: str = ""  # a rich style for the terminal face ("" = none); plain ignores it


Block = Union[Table, KeyValues, Lines]


@dataclass(frozen=True)
class Document:
    blocks: tuple[Block, ...] = field(default_factory=tuple)

    @staticmethod
    def of(blocks: Sequence[Block]) -> "Document":
        return Document(tuple(blocks))


def table(columns: Sequence[Column], rows: Sequence[Sequence[str]], title: str = "") -> Table:
    return Table(tuple(columns), tuple(tuple(r) for r in rows), title)
