"""Room 1: the only code that touches files under the sysroot."""

from pmemctl.sysfs.door import SysfsRoot, clean_value

__all__ = ["SysfsRoot", "clean_value"]
