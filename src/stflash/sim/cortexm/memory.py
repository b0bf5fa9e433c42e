"""Memory as one core sees it: the chip's bus with master "cpu", the boot aliases, and the core's
own private peripheral bus (its SCS, DWT and FPB answer instead of the chip-wide stubs).

Boot aliases: on most families the boot memory (flash or system memory) also appears at
0x0000_0000; the F7 reaches flash and system memory through its ITCM interface at 0x0020_0000 and
0x0010_0000; the H7 has ITCM RAM at 0 and no alias. The M4 of a dual-core H7 has no path to the
M7's tightly coupled memories (RM0399 bus matrix), so they are missing from its view.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...chips.model import FlashKind
from ..bus import RamRegion, Region
from ..faults import BusFault

if TYPE_CHECKING:
    from ..chip import SimChip
    from .debug import DebugRegisters

PPB_START, PPB_END = 0xE000_0000, 0xE010_0000
# pages of the private peripheral bus that belong to the core itself
OWN_PAGES = (0xE000_1000, 0xE000_2000, 0xE000_E000)
F7_ITCM_FLASH, F7_ITCM_SYSTEM = 0x0020_0000, 0x0010_0000


class CpuMemory:
    def __init__(self, sim: SimChip, core_index: int, debug: DebugRegisters) -> None:
        self.sim = sim
        self.index = core_index
        self.debug = debug
        name = sim.chip.cores[core_index] if core_index < len(sim.chip.cores) else ""
        self.tcm_less = sim.chip.flash_kind is FlashKind.H7 and name == "cortex-m4"
        self._aliases: tuple[tuple[Any, ...], list[tuple[int, int, int]]] | None = None
        self._regions: dict[tuple[int, int], Region] = {}

    def begin_run(self) -> None:
        """The bus map may have changed since the last run (a reset, a new flash layout)."""
        self._regions.clear()

    # -- layout ----------------------------------------------------------------------------------
    def ram_regions(self) -> list[RamRegion]:
        return [r for r in self.sim.ram if not (self.tcm_less and "TCM" in r.name.upper())]

    def flash_span(self) -> tuple[int, int] | None:
        banks = self.sim.banks
        if not banks:
            return None
        return banks[0].base, banks[-1].end - banks[0].base

    def aliases(self) -> list[tuple[int, int, int]]:
        """(alias start, size, real start) of every window onto flash or system memory."""
        key = (self.sim.boot_source, tuple(map(id, self.sim.banks)))
        if self._aliases is None or self._aliases[0] != key:
            self._aliases = (key, self._find_aliases())
        return self._aliases[1]

    def _find_aliases(self) -> list[tuple[int, int, int]]:
        chip = self.sim.chip
        span = self.flash_span()
        system = (chip.system_memory.start, chip.system_memory.size)
        if chip.flash_kind is FlashKind.H7 or chip.flash_kind is FlashKind.NONE:
            return []
        if chip.flash_kind is FlashKind.F7:
            out = [(F7_ITCM_SYSTEM, system[1], system[0])]
            if span is not None:
                out.append((F7_ITCM_FLASH, span[1], span[0]))
            return out
        if self.sim.boot_source in ("bootloader", "ram"):  # code the bootloader started keeps its remap
            return [(0, system[1], system[0])]
        return [] if span is None else [(0, span[1], span[0])]

    def resolve(self, address: int) -> int:
        """The real address behind an alias (other addresses unchanged)."""
        for start, size, real in self.aliases():
            if start <= address < start + size:
                return real + (address - start)
        return address

    def in_system_memory(self, address: int) -> bool:
        return self.sim.chip.system_memory.contains(self.resolve(address))

    def tcm_blocked(self, address: int) -> bool:
        return self.tcm_less and any(
            r.contains(address) for r in self.sim.ram if "TCM" in r.name.upper())

    # -- accesses (raise BusFault) --------------------------------------------------------------
    def own(self, address: int) -> bool:
        return (address & ~0xFFF) in OWN_PAGES

    def _region(self, real: int, size: int) -> Region | None:
        """The region answering a plain access (cached for the run: flash-busy polling reads
        the same register thousands of times); None for anything the bus composes or refuses."""
        key = (real, size)
        region = self._regions.get(key)
        if region is None:
            region = self.sim.bus.find(real, size)
            if region is None or (real % size and not region.unaligned_ok):
                return None
            self._regions[key] = region
        return region

    def plain(self, address: int, size: int) -> tuple[Region, int] | None:
        """The region and real address a plain access of ``size`` bytes at ``address`` goes to
        (what ``read``/``write`` do there, for as long as the bus map and the aliases stay put:
        one run); None for the core's own registers, a blocked TCM or anything the bus composes."""
        if self.own(address) or self.tcm_blocked(address):
            return None
        real = self.resolve(address)
        region = self._region(real, size)
        return None if region is None else (region, real)

    def read(self, address: int, size: int) -> int:
        if self.own(address):
            return self.debug.read(address, size, "cpu")
        if self.tcm_blocked(address):
            raise BusFault(address, "not on this core's bus")
        real = self.resolve(address)
        region = self._region(real, size)
        if region is None:
            return self.sim.bus.read(real, size, "cpu")
        return region.read(real, size, "cpu")

    def write(self, address: int, size: int, value: int) -> None:
        if self.own(address):
            self.debug.write(address, size, value, "cpu")
            return
        if self.tcm_blocked(address):
            raise BusFault(address, "not on this core's bus")
        real = self.resolve(address)
        region = self._region(real, size)
        if region is None:
            self.sim.bus.write(real, size, value, "cpu")
        else:
            region.write(real, size, value & ((1 << (8 * size)) - 1), "cpu")

    def answers(self, address: int) -> bool:
        """Is anything decoded in the 4 KiB page holding ``address``?"""
        page = address & ~0xFFF
        if PPB_START <= page < PPB_END:
            return True
        for start in range(page, page + 0x1000, 0x100):
            real = self.resolve(start)
            if self.sim.bus.find(real, 1) is not None and not self.tcm_blocked(real):
                return True
        return False
