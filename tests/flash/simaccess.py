"""A :class:`stflash.flash.debug.DebugAccess` straight onto a simulated chip, as a debug probe
would give it: every access costs a probe round trip on the virtual clock (so busy bits clear
while a driver polls), core control goes through DHCSR/DCRSR/DCRDR/DEMCR/AIRCR like any probe."""

from __future__ import annotations

from stflash.chips.lookup import find_chip
from stflash.sim.chip import SimChip

DHCSR, DCRSR, DCRDR, DEMCR, AIRCR = 0xE000_EDF0, 0xE000_EDF4, 0xE000_EDF8, 0xE000_EDFC, 0xE000_ED0C
DBGKEY = 0xA05F_0000
C_DEBUGEN, C_HALT, C_MASKINTS = 1, 2, 8
S_REGRDY, S_HALT = 1 << 16, 1 << 17
VC_CORERESET = 1
ROUND_TRIP_NS = 125_000  # one USB full-speed command/answer pair (docs/timing-model.md)


class SimAccess:
    def __init__(self, chip: SimChip, ap: int = 0, round_trip_ns: int = ROUND_TRIP_NS) -> None:
        self.chip = chip
        self.ap = ap
        self.round_trip_ns = round_trip_ns
        self.transactions = 0

    @classmethod
    def of(cls, part: str, **kwargs: object) -> SimAccess:
        return cls(SimChip(find_chip(part), **kwargs))  # type: ignore[arg-type]

    def _tick(self, nbytes: int = 4) -> None:
        self.transactions += 1
        # a round trip, plus 1 us per 64 bytes beyond the first packet (bulk data at ~64 MB/s is
        # far faster than the probe's SWD side; close enough for driver tests)
        self.chip.clock.advance(self.round_trip_ns + max(0, nbytes - 64) // 64 * 1_000)

    def read32(self, address: int) -> int:
        self._tick()
        return self.chip.read(address, 4, "debug", ap=self.ap)

    def write32(self, address: int, value: int) -> None:
        self._tick()
        self.chip.write(address, 4, value, "debug", ap=self.ap)

    def write16(self, address: int, value: int) -> None:
        self._tick()
        self.chip.write(address, 2, value, "debug", ap=self.ap)

    def read_block(self, address: int, length: int) -> bytes:
        self._tick(length)
        return self.chip.read_block(address, length, "debug", ap=self.ap)

    def write_block(self, address: int, data: bytes) -> None:
        self._tick(len(data))
        self.chip.write_block(address, data, "debug", ap=self.ap)

    def halt(self) -> None:
        self.write32(DHCSR, DBGKEY | C_HALT | C_DEBUGEN)

    def run(self, *, mask_interrupts: bool = False) -> None:
        self.write32(DHCSR, DBGKEY | C_DEBUGEN | (C_MASKINTS if mask_interrupts else 0))

    def is_halted(self) -> bool:
        return bool(self.read32(DHCSR) & S_HALT)

    def read_core_register(self, regsel: int) -> int:
        self.write32(DCRSR, regsel)
        assert self.read32(DHCSR) & S_REGRDY
        return self.read32(DCRDR)

    def write_core_register(self, regsel: int, value: int) -> None:
        self.write32(DCRDR, value)
        self.write32(DCRSR, regsel | 1 << 16)
        assert self.read32(DHCSR) & S_REGRDY

    def reset_and_halt(self) -> None:
        self.write32(DHCSR, DBGKEY | C_HALT | C_DEBUGEN)
        self.write32(DEMCR, self.read32(DEMCR) | VC_CORERESET)
        self.write32(AIRCR, 0x05FA_0004)  # SYSRESETREQ
        self.chip.clock.advance(1_000_000)
        assert self.is_halted()
        self.write32(DEMCR, self.read32(DEMCR) & ~VC_CORERESET)

    def wait(self, seconds: float) -> None:
        self.chip.clock.advance(max(1, int(seconds * 1e9)))
