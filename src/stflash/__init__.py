"""stflash: flash, inspect and recover STM32 microcontrollers over ST-LINK, USB DFU and UART.

The library is the product; the ``stflash`` command is a thin layer over it::

    import stflash
    image = stflash.load("firmware.hex").image
    with stflash.Session.open("stlink") as s:
        s.write(image)

Names are imported lazily so ``stflash --version`` starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from .errors import (  # noqa: E402  (errors are light and part of the API)
    DeviceBusyError,
    ImageDoesNotFitError,
    ImageError,
    LinkError,
    MultipleDevicesError,
    NoDeviceError,
    NotSupportedError,
    OperationTimeoutError,
    PartialWriteError,
    ProtectedError,
    StflashError,
    TargetNotRespondingError,
    UnknownChipError,
    UnsafeOperationError,
    UsageError,
    VerifyError,
)

_LAZY = {
    "Session": ("stflash.session", "Session"),
    "WriteResult": ("stflash.session", "WriteResult"),
    "Image": ("stflash.image.model", "Image"),
    "Segment": ("stflash.image.model", "Segment"),
    "ImageFile": ("stflash.image.file", "ImageFile"),
    "load": ("stflash.image.io", "load"),
    "save": ("stflash.image.io", "save"),
    "find_chip": ("stflash.chips.lookup", "find_chip"),
    "plan_write": ("stflash.flash.plan", "plan_write"),
    "FlashPlan": ("stflash.flash.plan", "FlashPlan"),
    "list_devices": ("stflash.discovery", "list_devices"),
    "parse_connect": ("stflash.connect", "parse_connect"),
}

if TYPE_CHECKING:
    from .chips.lookup import find_chip
    from .connect import parse_connect
    from .discovery import list_devices
    from .flash.plan import FlashPlan, plan_write
    from .image.file import ImageFile
    from .image.io import load, save
    from .image.model import Image, Segment
    from .session import Session, WriteResult

__all__ = [
    "__version__",
    "DeviceBusyError",
    "ImageDoesNotFitError",
    "ImageError",
    "LinkError",
    "MultipleDevicesError",
    "NoDeviceError",
    "NotSupportedError",
    "OperationTimeoutError",
    "PartialWriteError",
    "ProtectedError",
    "StflashError",
    "TargetNotRespondingError",
    "UnknownChipError",
    "UnsafeOperationError",
    "UsageError",
    "VerifyError",
    "FlashPlan",
    "Image",
    "ImageFile",
    "Segment",
    "Session",
    "WriteResult",
    "find_chip",
    "list_devices",
    "load",
    "parse_connect",
    "plan_write",
    "save",
]


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'stflash' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(target[0]), target[1])
    globals()[name] = value
    return value
