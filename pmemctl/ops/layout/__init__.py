"""Provisioning layouts (issue 10): the layout file, ``pmemctl apply`` and
``pmemctl config``.  The Python API other features use (doctor's drift check):
:func:`load_layout` and :func:`check_drift`."""

from pmemctl.ops.layout.load import load_layout
from pmemctl.ops.layout.plan import ItemState
from pmemctl.ops.layout.records import Layout
from pmemctl.ops.layout.schema import LayoutError
from pmemctl.ops.layout.service import ApplyRequest, ApplyResult, apply_layout, check_drift

__all__ = ["ApplyRequest", "ApplyResult", "ItemState", "Layout", "LayoutError", "apply_layout", "check_drift",
           "load_layout"]
