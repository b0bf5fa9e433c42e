"""The simulated USB DFU (DfuSe) system bootloader of the STM32 ROM (AN3156), served on the bench's
USB bus while the chip runs its bootloader."""

from .device import DfuBootloaderDevice, dfu_present, dfu_running

__all__ = ["DfuBootloaderDevice", "dfu_present", "dfu_running"]
