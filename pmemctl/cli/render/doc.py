"""A tiny, output-neutral document: what a command shows, not how.

View renderers (``render/list.py`` …) build a :class:`Document` from an ops
view; ``render/plain.py`` turns it into stable aligned text for pipes and
``render/tty.py`` into rich tables for a terminal.  Keeping one document for
both faces means the piped text and the terminal table never disagree.
"""

from __future__ import annotations

from typing import Literal, Sequence, Union

from pmemctl.immutable import Record

_set = object.__setattr__  # fills a record's read-only slots in __init__

Align = Literal["left", "right"]


class Column(Record):
    header: str
    align: Align
    #: libsmartcols' absolute width hint (lsmem gives SIZE 5): the column
    #: widens to it when its cells are at least as wide as the header.
    width_hint: int
    #: on a terminal too narrow for the table, columns with ``drop`` > 0 are
    #: left out, highest first (0: always shown); piped text keeps them all
    drop: int
    #: free text that may wrap between words on a narrow terminal; every
    #: other cell (identifiers above all) is printed whole or not at all
    wrap: bool

    __slots__ = ("header", "align", "width_hint", "drop", "wrap")
    _fields = __slots__

    def __init__(
        self,
        header: str,
        align: Align = "left",
        width_hint: int = 0,
        drop: int = 0,
        wrap: bool = False,
    ) -> None:
        _set(self, "header", header)
        _set(self, "align", align)
        _set(self, "width_hint", width_hint)
        _set(self, "drop", drop)
        _set(self, "wrap", wrap)


class Table(Record):
    columns: tuple[Column, ...]
    rows: tuple[tuple[str, ...], ...]
    title: str

    __slots__ = ("columns", "rows", "title")
    _fields = __slots__

    def __init__(self, columns: tuple[Column, ...], rows: tuple[tuple[str, ...], ...], title: str = "") -> None:
        _set(self, "columns", columns)
        _set(self, "rows", rows)
        _set(self, "title", title)


class KeyValues(Record):
    """``key: value`` lines.  ``key_width``/``value_width``/``value_align``
    let a view copy another tool's summary layout (lsmem's ``%-23s %5s``)."""

    pairs: tuple[tuple[str, str], ...]
    title: str
    key_width: int
    value_width: int
    value_align: Align

    __slots__ = ("pairs", "title", "key_width", "value_width", "value_align")
    _fields = __slots__

    def __init__(
        self,
        pairs: tuple[tuple[str, str], ...],
        title: str = "",
        key_width: int = 0,
        value_width: int = 0,
        value_align: Align = "left",
    ) -> None:
        _set(self, "pairs", pairs)
        _set(self, "title", title)
        _set(self, "key_width", key_width)
        _set(self, "value_width", value_width)
        _set(self, "value_align", value_align)


class Lines(Record):
    """Free text lines under an optional title (warnings, evidence, hints)."""

    lines: tuple[str, ...]
    title: str
    indent: int
    style: str  # a rich style for the terminal face ("" = none); plain ignores it

    __slots__ = ("lines", "title", "indent", "style")
    _fields = __slots__

    def __init__(self, lines: tuple[str, ...], title: str = "", indent: int = 0, style: str = "") -> None:
        _set(self, "lines", lines)
        _set(self, "title", title)
        _set(self, "indent", indent)
        _set(self, "style", style)


Block = Union[Table, KeyValues, Lines]


class Document(Record):
    blocks: tuple[Block, ...]

    __slots__ = ("blocks",)
    _fields = __slots__

    def __init__(self, blocks: tuple[Block, ...] = ()) -> None:
        _set(self, "blocks", blocks)

    @staticmethod
    def of(blocks: Sequence[Block]) -> "Document":
        return Document(tuple(blocks))


def table(columns: Sequence[Column], rows: Sequence[Sequence[str]], title: str = "") -> Table:
    return Table(tuple(columns), tuple(tuple(r) for r in rows), title)
