"""Flash-register sequences that st-flash (stlink-tools 1.7.0) performs and real chips accept.

* F2/F4/F7: st-flash programs with SER and the erased sector's SNB still set in FLASH_CR (it only
  adds PG and PSIZE after its sector erases). RM0090 §3.5 lets an erase and a program be requested
  together (the erase runs first), so a set SER does not make the write a sequence error.
* L0/L1: st-flash locks PECR with the page erase's ERASE|PROG still set, unlocks it again and adds
  FPRG|PROG for half-page programming. On an L072, PECR written 0x20F reads 0x006 after the PEKEYR
  sequence (st-flash debug trace in stlink-org #1138): locking returns PECR to its reset state.
"""

from __future__ import annotations

import pytest

from stflash.sim.chip import SimChip

from sim_helpers import busy_for, make

F4_FLASH = 0x4002_3C00
KEYR, SR, CR = F4_FLASH + 0x04, F4_FLASH + 0x0C, F4_FLASH + 0x10
PG, SER, STRT, BSY, PGSERR = 1, 2, 1 << 16, 1 << 16, 1 << 7
X32 = 2 << 8

L0_FLASH = 0x4002_2000
PECR, PEKEYR, PRGKEYR, L0_SR = L0_FLASH + 0x04, L0_FLASH + 0x0C, L0_FLASH + 0x10, L0_FLASH + 0x18
PELOCK, PRGLOCK, OPTLOCK, PROG, ERASE, FPRG = 1, 2, 4, 8, 1 << 9, 1 << 10


@pytest.mark.parametrize("part", ["stm32f401re", "stm32f746zg"])
def test_f4_f7_program_with_ser_left_set_after_an_erase(part: str) -> None:
    sim = make(part)
    sim.write32(KEYR, 0x4567_0123)
    sim.write32(KEYR, 0xCDEF_89AB)
    busy_for(sim, SR, BSY, lambda: sim.write32(CR, X32 | SER | (1 << 3) | STRT))  # erase sector 1
    sim.write32(CR, sim.read32(CR) | PG)  # what st-flash does: PG added, SER|SNB kept
    busy_for(sim, SR, BSY, lambda: sim.write32(0x0800_4000, 0x1234_5678))
    assert sim.read32(SR) & PGSERR == 0  # bit 7: PGSERR on F4, ERSERR on F7
    assert sim.read32(0x0800_4000) == 0x1234_5678


def test_f4_write_without_pg_is_still_a_sequence_error() -> None:
    sim = make("stm32f401re")
    sim.write32(KEYR, 0x4567_0123)
    sim.write32(KEYR, 0xCDEF_89AB)
    sim.write32(CR, X32 | SER)
    sim.write32(0x0800_4000, 0)
    assert sim.read32(SR) & PGSERR
    assert sim.read32(0x0800_4000) == 0xFFFF_FFFF


def _l0_unlock(sim: SimChip) -> None:
    sim.write32(PEKEYR, 0x89AB_CDEF)
    sim.write32(PEKEYR, 0x0203_0405)


def test_l0_locking_pecr_clears_the_erase_bits_before_a_half_page_write() -> None:
    sim = make("stm32l053r8")
    _l0_unlock(sim)
    sim.write32(PRGKEYR, 0x8C9D_AEBF)
    sim.write32(PRGKEYR, 0x1314_1516)
    sim.write32(PECR, ERASE | PROG)
    busy_for(sim, L0_SR, 1, lambda: sim.write32(0x0800_0000, 0))  # page erase
    sim.write32(PECR, sim.read32(PECR) | PELOCK | PRGLOCK | OPTLOCK)  # st-flash: 0x20F
    _l0_unlock(sim)
    assert sim.read32(PECR) == PRGLOCK | OPTLOCK  # 0x006, as the L072 in stlink-org #1138
    sim.write32(PRGKEYR, 0x8C9D_AEBF)
    sim.write32(PRGKEYR, 0x1314_1516)
    sim.write32(PECR, sim.read32(PECR) | FPRG)
    sim.write32(PECR, sim.read32(PECR) | PROG)
    words = [0x1111_0000 + i for i in range(16)]  # one 64-byte half page
    for i, word in enumerate(words[:-1]):
        sim.write32(0x0800_0000 + 4 * i, word)
    busy_for(sim, L0_SR, 1, lambda: sim.write32(0x0800_003C, words[-1]))
    assert [sim.read32(0x0800_0000 + 4 * i) for i in range(16)] == words
