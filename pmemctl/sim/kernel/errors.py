"""How a handler of the simulated kernel refuses a write.

A handler raises :class:`WriteRefused` with the errno the kernel's store
function would return; :meth:`SimulatedKernel.write
<pmemctl.sim.kernel.door.SimulatedKernel.write>` turns it into the door's
typed error (:func:`pmemctl.errors.kernel_error`), as the real door does for
a failed ``write(2)``.

The kernel's string parsers are the product's (:mod:`pmemctl.sysfs.abi`:
one set for the model, the planners and the simulator); the helpers here
only map their :class:`~pmemctl.sysfs.abi.KstrError` to a refusal.
"""

from __future__ import annotations

import errno

from pmemctl.sysfs import abi


class WriteRefused(Exception):
    """The simulated kernel refuses a write with ``errno``."""

    def __init__(self, err: int) -> None:
        super().__init__(err)
        self.errno = err


def kstrtoull(text: str) -> int:
    """:func:`pmemctl.sysfs.abi.kstrtoull` (base 0), refusing what it rejects."""
    try:
        return abi.kstrtoull(text)
    except abi.KstrError as err:
        raise WriteRefused(err.errno) from None


def kstrtobool(text: str) -> bool:
    """:func:`pmemctl.sysfs.abi.kstrtobool`, refusing what it rejects (EINVAL)."""
    try:
        return abi.kstrtobool(text)
    except abi.KstrError as err:
        raise WriteRefused(err.errno) from None


def parse_uuid(text: str) -> str:
    """uuid_parse (5.16+): the canonical 36-character form (:data:`abi.UUID_RE`),
    lowercased on show; anything after the 36 characters is ignored
    (uuid_is_valid only looks at those).  EINVAL otherwise."""
    head = text.strip()[:36]
    if abi.UUID_RE.match(head) is None:
        raise WriteRefused(errno.EINVAL)
    return head.lower()


__all__ = ["WriteRefused", "kstrtobool", "kstrtoull", "parse_uuid"]
