"""What the loader tests share: a simulated probe whose time the target's core shares, and each
part's controller put in program mode with raw register writes (families.md), as a driver would.

``ConcurrentSimAccess`` is ``SimAccess`` with one change: while the probe's round trips and the
host's pauses take time, a running core executes through that time (ahead of the clock, which
moves with it), and it can charge a slower wire. Plain ``SimAccess`` moves the clock first and
lets the core catch up afterwards; a catching-up core times what it starts from its own moment
(``VirtualClock.behind``), so both keep the flash busy while the probe waits."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from stflash.chips.lookup import find_chip
from stflash.flash.debug import ProgramSetup
from stflash.flash.loader import FlashLoader
from stflash.sim.chip import SimChip

from simaccess import ROUND_TRIP_NS, SimAccess

KEY1, KEY2 = 0x4567_0123, 0xCDEF_89AB
PEKEY = (0x89AB_CDEF, 0x0203_0405)  # L0/L1 PECR
PRGKEY = (0x8C9D_AEBF, 0x1314_1516)  # L0/L1 program memory
DHCSR, S_LOCKUP, S_HALT = 0xE000_EDF0, 1 << 19, 1 << 17


class ConcurrentSimAccess(SimAccess):
    """Probe time that the target's running cores spend executing (see the module text)."""

    def __init__(self, chip: SimChip, ap: int = 0, round_trip_ns: int = ROUND_TRIP_NS,
                 ns_per_byte: float = 0.0) -> None:
        super().__init__(chip, ap, round_trip_ns)
        self.ns_per_byte = ns_per_byte  # a slower wire than SimAccess's ~64 MB/s, when asked

    @classmethod
    def of(cls, part: str, **kwargs: object) -> ConcurrentSimAccess:
        """``ns_per_byte`` for the wire; anything else goes to SimChip (``options=``...)."""
        ns_per_byte = float(kwargs.pop("ns_per_byte", 0.0))  # type: ignore[arg-type]
        return cls(SimChip(find_chip(part), **kwargs), ns_per_byte=ns_per_byte)  # type: ignore[arg-type]

    def cost_ns(self, nbytes: int) -> int:
        """What one transfer of ``nbytes`` costs on this probe."""
        bulk = max(0, nbytes - 64) // 64 * 1_000
        return self.round_trip_ns + bulk + int(nbytes * self.ns_per_byte)

    def _advance(self, ns: int) -> None:
        target = self.chip.clock.now + ns
        for core in self.chip.cores:
            if core is None:
                continue
            core.catch_up()
            while core.running and core.time < target:  # a run stops after MAX_WORK_CYCLES
                before = core.time
                core.run_until(target, ahead=True)
                if core.time == before:
                    break  # waiting for nothing that can happen before the target
        self.chip.clock.advance_to(target)

    def _tick(self, nbytes: int = 4) -> None:
        self.transactions += 1
        self._advance(self.cost_ns(nbytes))

    def wait(self, seconds: float) -> None:
        self._advance(max(1, int(seconds * 1e9)))


@dataclass(frozen=True)
class Part:
    """A part, how to put its controller in program mode, and the resulting ProgramSetup."""

    name: str
    enter: Callable[[SimAccess], None]
    setup: ProgramSetup
    parallelism: int = 0  # for the simulated chip's program time (PSIZE bits, 0 where none)


def _f1(acc: SimAccess) -> None:  # families.md 3.1/3.2: KEYR, CR.PG
    acc.write32(0x4002_2004, KEY1)
    acc.write32(0x4002_2004, KEY2)
    acc.write32(0x4002_2010, 1)


def _f4(acc: SimAccess, cr: int = 0x201) -> None:  # 4.1/4.2: KEYR, CR = PSIZE x32 | PG
    acc.write32(0x4002_3C04, KEY1)
    acc.write32(0x4002_3C04, KEY2)
    acc.write32(0x4002_3C10, cr)


def _f4_x8(acc: SimAccess) -> None:  # PSIZE x8 (supply below 2.1 V): byte stores
    _f4(acc, 0x001)


def _l4(acc: SimAccess) -> None:  # 7.1/7.2 (and G0, 9.2): KEYR +0x08, CR.PG at +0x14
    acc.write32(0x4002_2008, KEY1)
    acc.write32(0x4002_2008, KEY2)
    acc.write32(0x4002_2014, 1)


def _h7(bank: int) -> Callable[[SimAccess], None]:
    def enter(acc: SimAccess) -> None:  # 12.4/12.5: KEYRx, CRx = PSIZE x64 | PG; bank 2 at +0x100
        regs = 0x5200_2000 + 0x100 * bank
        acc.write32(regs + 0x04, KEY1)
        acc.write32(regs + 0x04, KEY2)
        acc.write32(regs + 0x0C, 0x32)

    return enter


def _l0(pecr: int) -> Callable[[SimAccess], None]:
    def enter(acc: SimAccess) -> None:  # 6.1/6.2: PEKEYR, PRGKEYR, then PECR (FPRG|PROG: half page)
        for key in PEKEY:
            acc.write32(0x4002_200C, key)
        for key in PRGKEY:
            acc.write32(0x4002_2010, key)
        acc.write32(0x4002_2004, pecr)

    return enter


def _both_h7_banks(acc: SimAccess) -> None:
    _h7(0)(acc)
    _h7(1)(acc)


F4_SETUP = ProgramSetup(sr=0x4002_3C0C, busy_mask=1 << 16, error_mask=0x1F2, width=4, unit=4)
L4_ERRORS = 0x3FA  # OPERR, PROGERR, WRPERR, PGAERR, SIZERR, PGSERR, MISERR, FASTERR
L0_ERRORS = 0x3_0700  # WRPERR, PGAERR, SIZERR, NOTZEROERR, FWWERR
H7_ERRORS = 0x07EE_0000  # WRPERR ... DBECCERR


def h7_setup(bank: int) -> ProgramSetup:
    return ProgramSetup(sr=0x5200_2010 + 0x100 * bank, busy_mask=1 << 2, error_mask=H7_ERRORS, width=4, unit=32)


PARTS = {
    "stm32f103rc": Part("stm32f103rc", _f1, ProgramSetup(0x4002_200C, 1, 0x14, 2, 2)),
    "stm32f401re": Part("stm32f401re", _f4, F4_SETUP, 32),
    "stm32f429zi": Part("stm32f429zi", _f4, F4_SETUP, 32),
    "stm32f401re/x8": Part("stm32f401re", _f4_x8, ProgramSetup(0x4002_3C0C, 1 << 16, 0x1F2, 1, 1), 8),
    "stm32l476rg": Part("stm32l476rg", _l4, ProgramSetup(0x4002_2010, 1 << 16, L4_ERRORS, 4, 8)),
    "stm32g071rb": Part("stm32g071rb", _l4, ProgramSetup(0x4002_2010, 1 << 16 | 1 << 18, L4_ERRORS, 4, 8)),
    "stm32h743zi": Part("stm32h743zi", _both_h7_banks, h7_setup(0), 64),
    "stm32l053r8": Part("stm32l053r8", _l0(0x408), ProgramSetup(0x4002_2018, 1, L0_ERRORS, 4, 64, erased=0)),
    "stm32l053r8/words": Part("stm32l053r8", _l0(0), ProgramSetup(0x4002_2018, 1, L0_ERRORS, 4, 4, erased=0)),
}


def ready(key: str, **kwargs: object) -> tuple[ConcurrentSimAccess, Part]:
    """A fresh simulated part with its controller in program mode."""
    part = PARTS[key]
    acc = ConcurrentSimAccess.of(part.name, **kwargs)
    part.enter(acc)
    return acc, part


def unit_ns(acc: SimAccess, part: Part) -> int:
    return acc.chip.timing.program_ns(part.parallelism)


def test_the_core_keeps_programming_while_the_probe_waits() -> None:
    acc, part = ready("stm32f401re")
    loader = FlashLoader(acc, acc.chip.chip)
    data = random.Random(3).randbytes(8192)
    start = acc.chip.clock.now
    loader.program(0x0800_4000, data, part.setup)
    elapsed = acc.chip.clock.now - start
    assert acc.chip.read_block(0x0800_4000, len(data)) == data
    assert elapsed < 2048 * unit_ns(acc, part) * 1.2 + 5_000_000  # two buffers' worth of words, no idling


def test_plain_simaccess_lets_a_programming_core_use_a_pause() -> None:
    acc = SimAccess.of("stm32f401re")
    _f4(acc)
    loader = FlashLoader(acc, acc.chip.chip)
    data = random.Random(4).randbytes(4096)  # 16 ms of words: more than the 10 ms a resumed core runs at once
    start = acc.chip.clock.now
    loader.program(0x0800_8000, data, F4_SETUP)
    assert acc.chip.read_block(0x0800_8000, len(data)) == data
    assert acc.chip.clock.now - start < 3 * 1024 * 16_000  # 1024 words of 16 us, give or take the probe
