"""stflash's own flash loader: Thumb code (``loader.S``, built bytes in ``loader.bin``) that
erases (the driver's steps, sector by sector) and programs the flash from SRAM while the probe
fills its other buffers, sums flash ranges with CRC32 so verifying needs no read-back, and checks
ranges blank word by word. :class:`FlashLoader` is its host side."""

from __future__ import annotations

from .errors import FlashProgramError, FlashProtectedError, LoaderFault, LoaderUnavailable
from .runner import FlashLoader, loader_code

__all__ = ["FlashLoader", "FlashProgramError", "FlashProtectedError", "LoaderFault", "LoaderUnavailable",
           "loader_code"]
