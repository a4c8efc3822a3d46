"""Real-kernel test tier: QEMU/TCG guests running a Debian 6.1 kernel with
emulated NVDIMMs (see README.md)."""
