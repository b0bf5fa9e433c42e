"""Memory and core control of one MEM-AP through an ST-LINK, in the shape the flash drivers use
(``stflash.flash.debug.DebugAccess``, satisfied structurally: links never import flash/)."""

from __future__ import annotations

import struct
from collections.abc import Callable

from ...errors import ProtectedError
from .commands import Commands
from .core import Core, describe_dhcsr
from .errors import MemoryFault

RDP_HINT = "lowering read-out protection to level 0 mass-erases the flash: stflash ob set RDP=0xAA --yes"


class StlinkAccess:
    """The selected access port's bus and core. ``sleep`` is the host's clock: on the virtual bench
    it advances the bench's clock, so nothing here ever sleeps for real in tests."""

    def __init__(self, cmds: Commands, ap: int, sleep: Callable[[float], None]) -> None:
        self.cmds = cmds
        self.ap = ap
        self.sleep = sleep
        self.core = Core(cmds, ap, sleep)
        # set by identification when read-out protection is active: (start, end, level) of the
        # flash, so a fault there is reported as protection, not as a bus error
        self.protected: tuple[int, int, int] | None = None

    def _protected(self, exc: MemoryFault, what: str) -> ProtectedError | MemoryFault:
        if self.protected is None or exc.address is None:
            return exc
        start, end, level = self.protected
        if not start <= exc.address < end:
            return exc
        return ProtectedError(f"{what} at {exc.address:#010x} refused: read-out protection level {level} is active "
                              "(the flash cannot be read or written through the debug port)", hint=RDP_HINT)

    # -- memory --------------------------------------------------------------------------------------
    def read32(self, address: int) -> int:
        try:
            return self.core.read32(address)
        except MemoryFault as exc:
            raise self._protected(exc, "reading") from None

    def write32(self, address: int, value: int) -> None:
        try:
            self.core.write32(address, value)
        except MemoryFault as exc:
            raise self._protected(exc, "writing") from None

    def write16(self, address: int, value: int) -> None:
        """One 16-bit bus write (FPEC half-word programming needs exactly this width)."""
        if address % 2:
            raise ValueError(f"a 16-bit access needs an even address, not {address:#010x}")
        try:
            self.cmds.write_block16(address, struct.pack("<H", value & 0xFFFF), self.ap)
        except MemoryFault as exc:
            raise self._protected(exc, "writing") from None

    def read_block(self, address: int, length: int) -> bytes:
        """Any address and length; split and aligned as the firmware requires."""
        _check_range(address, length)
        try:
            return self.cmds.read_block(address, length, self.ap)
        except MemoryFault as exc:
            raise self._protected(exc, "reading") from None

    def write_block(self, address: int, data: bytes) -> None:
        """Any address and length: 32-bit accesses where aligned, 8-bit at the edges."""
        _check_range(address, len(data))
        try:
            self.cmds.write_block(address, bytes(data), self.ap)
        except MemoryFault as exc:
            raise self._protected(exc, "writing") from None

    # -- the core -----------------------------------------------------------------------------------
    def halt(self) -> None:
        self.core.halt()

    def run(self, *, mask_interrupts: bool = False) -> None:
        self.core.run(mask_interrupts=mask_interrupts)

    def step(self) -> None:
        self.core.step()

    def is_halted(self) -> bool:
        return self.core.is_halted()

    def read_core_register(self, regsel: int) -> int:
        return self.core.read_register(regsel)

    def write_core_register(self, regsel: int, value: int) -> None:
        self.core.write_register(regsel, value)

    def reset_and_halt(self, *, nrst: bool = False) -> None:
        """System reset with the reset vector caught: the core stops before its first instruction.
        SYSRESETREQ by default; ``nrst`` pulses the reset pin instead."""
        self.core.reset_and_halt(nrst=nrst)

    def reset_and_run(self, *, nrst: bool = False) -> None:
        self.core.reset_and_run(nrst=nrst)

    def core_state(self) -> str:
        """"halted", "running", "sleeping" or "locked-up", from DHCSR."""
        return describe_dhcsr(self.core.dhcsr())

    def wait(self, seconds: float) -> None:
        if seconds > 0:
            self.sleep(seconds)


def _check_range(address: int, length: int) -> None:
    if length < 0 or address < 0 or address + length > 1 << 32:
        raise ValueError(f"{length} bytes at {address:#x} do not fit the 32-bit address space")


__all__ = ["StlinkAccess"]
