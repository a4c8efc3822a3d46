"""pmemctl: turn persistent memory (NVDIMM, CXL) into system RAM, safely."""

__version__ = "0.1.0"

# Version of the --json output schema (see README, "JSON schema").
SCHEMA_VERSION = 2

__all__ = ["__version__", "SCHEMA_VERSION"]
