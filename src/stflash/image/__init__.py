"""Memory images and the firmware file formats they are read from and written to.

``load``, ``save`` and ``detect_format`` are imported on first use, so code that only needs
:class:`Image` (the planner, the session, the links) does not load every format reader.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .file import DfuSuffix, ImageFile, Target
from .model import Image, Segment

if TYPE_CHECKING:
    from .io import detect_format, load, save

_LAZY = ("detect_format", "load", "save")


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import io

    return getattr(io, name)


__all__ = ["DfuSuffix", "Image", "ImageFile", "Segment", "Target", "detect_format", "load", "save"]
