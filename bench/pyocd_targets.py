"""pyOCD targets for the bench's F401 and F407, which pyOCD has no built-in target for.

Without a CMSIS device pack (a download this bench does not make) pyOCD knows no STM32F401 or
F407. Both have the same flash controller and the same sector layout from 0x08000000 as the
STM32F412, whose built-in target carries pyOCD's own F4 flash algorithm (sector number from
the address, x32 programming). The targets registered here are that built-in target with the
part's flash size and RAM from stflash's chip table, so pyOCD runs its own algorithm with a
memory map that fits the simulated part. The G0 has no built-in pyOCD algorithm at all (its
nearest, the L4's, is Cortex-M4 code that an M0+ cannot run), so there is no pyOCD row for it.
"""

from __future__ import annotations

from typing import Any

# pyOCD target name -> stflash part whose memory map it takes
DERIVED = {"stm32f401re": "stm32f401re", "stm32f407vg": "stm32f407vg"}
BASE_TARGET = "stm32f412xg"


def ensure_target(name: str) -> bool:
    """Make ``name`` known to pyOCD (a no-op for its built-in targets); False when pyOCD cannot
    flash that part without a device pack."""
    from pyocd.target import TARGET

    if name in TARGET:
        return True
    part = DERIVED.get(name)
    if part is None:
        return False
    TARGET[name] = _derived(TARGET[BASE_TARGET], part)
    return True


def _derived(base: type, part: str) -> type:
    from pyocd.core.memory_map import FlashRegion, MemoryMap, RamRegion

    from stflash.chips.lookup import find_chip

    chip = find_chip(part)
    algo: Any = base.MEMORY_MAP.get_boot_memory().algo  # type: ignore[attr-defined]
    regions: list[Any] = []
    sectors = chip.sectors()
    start = 0
    while start < len(sectors):  # one FlashRegion per run of equal sectors, as pyOCD's targets do
        end = start
        while end + 1 < len(sectors) and sectors[end + 1].size == sectors[start].size:
            end += 1
        first = sectors[start]
        regions.append(FlashRegion(start=first.address, length=sectors[end].end - first.address,
                                   sector_size=first.size, page_size=0x1000, algo=algo,
                                   is_boot_memory=start == 0))
        start = end + 1
    ram = chip.ram[0]  # the SRAM at 0x20000000, where the algorithm is loaded
    regions.append(RamRegion(start=ram.start, length=ram.size))
    return type(f"{chip.name}_bench", (base,), {"MEMORY_MAP": MemoryMap(*regions)})
