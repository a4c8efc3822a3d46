"""Imports without the cyclic garbage collector (issue 14: start-up).

Importing a package (click, rich) allocates thousands of objects and makes
no reference cycle worth collecting, yet the collector walks them over and
over meanwhile: 3 to 5 ms of click's import of about 35, 10 of rich's 30.
Inside :func:`collector_paused` it does not run; what was made is then frozen
(gc.freeze: left out of every later collection, the one at exit included)
and the collector is on again as before.  Once the modules are imported (a
second render in the same process: the tests) it does nothing, so a long
process does not freeze what it makes later.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused(*modules: str) -> Iterator[None]:
    """The imports of ``modules`` inside, without the collector (nothing
    changes when they are all imported already)."""
    if all(m in sys.modules for m in modules):
        yield
        return
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
