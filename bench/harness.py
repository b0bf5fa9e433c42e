"""What the bench scripts share: a checkout's ``src`` on the path, the image every tool writes,
the bench's virtual clock, a timed ``stflash write``, environment variables set for a block, and a peer tool's USB search pointed at a
bench (the peers pass no pyusb backend of their own)."""

from __future__ import annotations

import contextlib
import io
import os
import random
import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:
    import stflash  # noqa: F401
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

FLASH = 0x0800_0000


def app_image(size: int) -> bytes:
    """A vector table a ROM accepts as an application (stack in SRAM, Thumb reset handler in
    flash), then random bytes: the same image for every tool and run."""
    return struct.pack("<II", 0x2000_2000, FLASH + 0x201) + random.Random(0).randbytes(size - 8)


def virtual_ns(directory: Path) -> int:
    """The bench's clock now."""
    from stflash.sim.bench import Bench

    with Bench.open(directory) as bench:
        return bench.clock.now


def stflash_write_s(directory: Path, data: bytes, *options: str, verify: bool) -> float:
    """Virtual seconds ``stflash -q write`` of ``data`` with ``options`` takes on the bench in
    ``directory``; SystemExit when stflash fails."""
    from stflash.cli.main import main as stflash

    image = directory.with_suffix(".bin")
    image.write_bytes(data)
    with environ(STFLASH_SIM=str(directory)):
        start = virtual_ns(directory)
        with contextlib.redirect_stdout(io.StringIO()):
            code = stflash(["-q", "write", str(image), *options, *([] if verify else ["--no-verify"])])
        if code:
            raise SystemExit(f"stflash exited {code}")
        return (virtual_ns(directory) - start) / 1e9


@contextlib.contextmanager
def environ(**values: str) -> Iterator[None]:
    """These environment variables set while the block runs, as they were afterwards."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                del os.environ[name]
            else:
                os.environ[name] = value


@contextlib.contextmanager
def usb_find_on_bench(owner: Any, name: str, directory: Path) -> Iterator[None]:
    """While the block runs, ``owner.name`` (``usb.core.find``, or a tool's own reference to a
    find function) searches the bench's USB bus instead of the machine's."""
    import usb.core

    from stflash.sim import pyusb_backend

    backend = pyusb_backend(directory)
    find, saved = usb.core.find, getattr(owner, name)  # taken first: owner.name may be usb.core.find
    setattr(owner, name, lambda *a, **k: find(*a, **{**k, "backend": backend}))
    try:
        yield
    finally:
        setattr(owner, name, saved)
