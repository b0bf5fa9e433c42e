"""L4 / G0 / G4 / WB controllers, driven as RM0351 / RM0444 / RM0440 / RM0434 describe."""

from __future__ import annotations

import dataclasses

import pytest

from stflash.chips.model import Bank, SectorRun
from stflash.sim.chip import SimChip
from stflash.sim.faults import BusFault

from sim_helpers import busy_for, key_unlock, make, part, poll_clear

L4_FLASH = 0x4002_2000
ACR, KEYR, OPTKEYR, SR, CR, OPTR, WRP1AR = 0x00, 0x08, 0x0C, 0x10, 0x14, 0x20, 0x2C
EOP, PROGERR, WRPERR, PGAERR, SIZERR, PGSERR, BSY, PEMPTY, CFGBSY = (
    1,
    1 << 3,
    1 << 4,
    1 << 5,
    1 << 6,
    1 << 7,
    1 << 16,
    1 << 17,
    1 << 18,
)
PG, PER, MER1, MER2, STRT, OPTSTRT, EOPIE, OBL_LAUNCH, OPTLOCK, LOCK = (
    1,
    2,
    4,
    1 << 15,
    1 << 16,
    1 << 17,
    1 << 24,
    1 << 27,
    1 << 30,
    1 << 31,
)
KEY1, KEY2, OPTKEY1, OPTKEY2 = 0x4567_0123, 0xCDEF_89AB, 0x0819_2A3B, 0x4C5D_6E7F
PROGRAM_NS, PAGE_NS, MASS_NS = 81_700, 22_000_000, 22_100_000


class Regs:
    def __init__(self, sim: SimChip, base: int = L4_FLASH) -> None:
        self.sim, self.base = sim, base

    def __getattr__(self, name: str) -> int:
        return self.base + globals()[name]

    def unlock(self, *, options: bool = False) -> None:
        key_unlock(self.sim, self.KEYR, (KEY1, KEY2), self.CR, LOCK)
        if options:
            key_unlock(self.sim, self.OPTKEYR, (OPTKEY1, OPTKEY2), self.CR, OPTLOCK)

    def program64(self, address: int, value: int) -> None:
        self.sim.write32(address, value & 0xFFFF_FFFF)
        self.sim.write32(address + 4, value >> 32)


# -- L4 -----------------------------------------------------------------------------------------


@pytest.fixture
def l4():
    sim = make("stm32l476rg")
    return sim, Regs(sim)


def test_l4_reset_values(l4) -> None:
    sim, r = l4
    assert sim.read32(r.CR) == 0xC000_0000
    assert sim.read32(r.OPTR) == 0xFFEF_F8AA
    assert [b.base for b in sim.banks] == [0x0800_0000, 0x0808_0000]


def test_l4_double_word_starts_on_the_second_word(l4) -> None:
    sim, r = l4
    r.unlock()
    sim.write32(r.CR, PG)
    sim.write32(0x0808_0000, 0x1111_1111)
    assert not sim.read32(r.SR) & BSY
    assert sim.read32(0x0808_0000) == 0xFFFF_FFFF
    took = busy_for(sim, r.SR, BSY, lambda: sim.write32(0x0808_0004, 0x2222_2222))
    assert took == PROGRAM_NS
    assert sim.read_block(0x0808_0000, 8) == bytes.fromhex("1111111122222222")
    assert sim.read32(r.SR) == 0  # EOP only with EOPIE
    sim.write32(r.CR, PG | EOPIE)
    r.program64(0x0800_0008, 0x0123_4567_89AB_CDEF)
    poll_clear(sim, r.SR, BSY)
    assert sim.read32(r.SR) == EOP
    sim.write32(r.SR, EOP)
    assert sim.read32(r.SR) == 0


def test_l4_reprogramming_rules(l4) -> None:
    sim, r = l4
    r.unlock()
    sim.write32(r.CR, PG)
    r.program64(0x0800_0000, 0x0000_0000_FFFF_FF00)
    sim.wait_idle()
    r.program64(0x0800_0000, 0x0000_0000_0000_0000)  # all zeros over a programmed double word: allowed
    sim.wait_idle()
    assert sim.read32(r.SR) & PROGERR == 0
    assert sim.read_block(0x0800_0000, 8) == bytes(8)
    r.program64(0x0800_0010, 0xFFFF_FFFF_FFFF_FFFF)  # all ones still counts as programmed
    sim.wait_idle()
    r.program64(0x0800_0010, 0x1234)
    assert sim.read32(r.SR) & PROGERR
    assert sim.read_block(0x0800_0010, 8) == b"\xff" * 8
    # while PROGERR is pending, the next programming is refused with PGSERR
    r.program64(0x0800_0020, 0x1234)
    assert sim.read32(r.SR) & PGSERR
    assert sim.read32(0x0800_0020) == 0xFFFF_FFFF
    sim.write32(r.SR, PROGERR | PGSERR)
    r.program64(0x0800_0020, 0x1234)
    sim.wait_idle()
    assert sim.read32(0x0800_0020) == 0x1234


def test_l4_size_alignment_and_sequence_errors(l4) -> None:
    sim, r = l4
    r.unlock()
    sim.write32(0x0800_0000, 0)  # PG not set
    assert sim.read32(r.SR) & PGSERR
    sim.write32(r.SR, PGSERR)
    sim.write32(r.CR, PG)
    sim.write16(0x0800_0000, 0)
    assert sim.read32(r.SR) & SIZERR
    sim.write32(r.SR, SIZERR)
    sim.write32(0x0800_0004, 0)  # a double word starts 8-byte aligned
    assert sim.read32(r.SR) & PGAERR
    sim.write32(r.SR, PGAERR)
    sim.write32(0x0800_0008, 0)
    sim.write32(0x0800_0010, 0)  # second word outside the double word
    assert sim.read32(r.SR) & PGAERR
    assert sim.read32(0x0800_0008) == 0xFFFF_FFFF


def test_l4_page_erase_in_bank2_with_bker(l4) -> None:
    sim, r = l4
    r.unlock()
    sim.write32(r.CR, PG)
    page5_bank2 = 0x0808_0000 + 5 * 2048
    r.program64(page5_bank2, 0)
    r.program64(0x0800_0000 + 5 * 2048, 0)
    sim.wait_idle()
    sim.write32(r.CR, 0)
    took = busy_for(sim, r.SR, BSY, lambda: sim.write32(r.CR, PER | (5 << 3) | (1 << 11) | STRT))
    assert took == PAGE_NS
    assert sim.read32(page5_bank2) == 0xFFFF_FFFF
    assert sim.read32(0x0800_0000 + 5 * 2048) == 0  # same page number in bank 1 untouched
    sim.write32(r.CR, PER | PG | STRT)  # PG together with PER
    assert sim.read32(r.SR) & PGSERR


def test_l4_mass_erase_per_bank(l4) -> None:
    sim, r = l4
    r.unlock()
    sim.write32(r.CR, PG)
    r.program64(0x0800_0000, 0)
    r.program64(0x0808_0000, 0)
    sim.wait_idle()
    sim.write32(r.CR, MER2)
    took = busy_for(sim, r.SR, BSY, lambda: sim.write32(r.CR, MER2 | STRT))
    assert took == MASS_NS
    assert sim.read32(0x0808_0000) == 0xFFFF_FFFF
    assert sim.read32(0x0800_0000) == 0
    sim.write32(r.CR, MER1 | MER2 | STRT)
    sim.wait_idle()
    assert sim.read32(0x0800_0000) == 0xFFFF_FFFF


def test_l4_option_change_needs_obl_launch(l4) -> None:
    sim, r = l4
    r.unlock(options=True)
    sim.write32(r.WRP1AR, (1 << 16) | 0)  # pages 0..1 of bank 1
    opt_ns = 22_000_000 + 9 * PROGRAM_NS  # option page erase + its nine double words
    took = busy_for(sim, r.SR, BSY, lambda: sim.write32(r.CR, OPTSTRT))
    assert took == opt_ns
    # stored, not applied: the registers read the loaded values again
    assert sim.read32(r.WRP1AR) == 0xFF00_FFFF
    sim.write32(r.CR, PG)
    r.program64(0x0800_0000, 0)
    sim.wait_idle()
    assert sim.read32(r.SR) & WRPERR == 0
    sim.reset("system")  # a plain reset does not load options on this family
    assert sim.read32(r.WRP1AR) == 0xFF00_FFFF
    r.unlock(options=True)
    sim.write32(r.CR, OBL_LAUNCH)
    assert sim.read32(r.WRP1AR) == 0x0001_0000
    assert sim.read32(r.CR) == 0xC000_0000
    r.unlock()
    sim.write32(r.CR, PER | (1 << 3) | STRT)
    assert sim.read32(r.SR) & WRPERR
    sim.write32(r.SR, WRPERR)
    sim.write32(r.CR, PER | (2 << 3) | STRT)
    sim.wait_idle()
    assert sim.read32(r.SR) & WRPERR == 0


def test_l4_lock_sets_optlock_and_wrong_option_key_faults(l4) -> None:
    sim, r = l4
    r.unlock(options=True)
    assert not sim.read32(r.CR) & (LOCK | OPTLOCK)
    sim.write32(r.CR, LOCK)
    assert sim.read32(r.CR) & (LOCK | OPTLOCK) == LOCK | OPTLOCK
    r.unlock()
    sim.write32(r.OPTKEYR, OPTKEY1)
    with pytest.raises(BusFault):
        sim.write32(r.OPTKEYR, KEY2)
    with pytest.raises(BusFault):
        sim.write32(r.OPTKEYR, OPTKEY1)
    assert sim.read32(r.CR) & OPTLOCK


def test_l4_rdp_regression(l4) -> None:
    sim, r = l4
    r.unlock(options=True)
    sim.write32(r.OPTR, 0xFFEF_F8BB)
    sim.write32(r.CR, OPTSTRT)
    sim.wait_idle()
    sim.write32(r.CR, OBL_LAUNCH)
    assert sim.rdp_level == 1
    with pytest.raises(BusFault):
        sim.read32(0x0800_0000)
    with pytest.raises(BusFault):
        sim.read32(0x0800_0000, master="cpu")  # code loses flash too once a debugger was attached
    sim.reset("power")
    assert sim.read32(0x0800_0000, master="cpu") == 0xFFFF_FFFF  # booted from flash, no debugger
    with pytest.raises(BusFault):
        sim.read32(0x0800_0000, master="bootloader")
    r.unlock(options=True)
    sim.write32(r.OPTR, 0xFFEF_F8AA)
    took = busy_for(sim, r.SR, BSY, lambda: sim.write32(r.CR, OPTSTRT))
    assert took == 22_000_000 + 9 * PROGRAM_NS + MASS_NS
    sim.write32(r.CR, OBL_LAUNCH)
    assert sim.rdp_level == 0


# -- G0 -----------------------------------------------------------------------------------------


@pytest.fixture
def g0():
    sim = make("stm32g071rb")
    return sim, Regs(sim)


def test_g0_cfgbsy_freezes_the_control_register(g0) -> None:
    sim, r = g0
    r.unlock()
    sim.write32(r.CR, PG)
    sim.write32(0x0800_0800, 0xAAAA_AAAA)
    sr = sim.read32(r.SR)
    assert sr & CFGBSY and not sr & BSY
    sim.write32(r.CR, 0)  # ignored while CFGBSY=1
    assert sim.read32(r.CR) & PG
    sim.write32(0x0800_0804, 0x5555_5555)
    assert sim.read32(r.SR) & (BSY | CFGBSY) == BSY | CFGBSY
    sim.clock.advance(85_000 - 1)
    assert sim.read32(r.SR) & CFGBSY
    sim.clock.advance(1)
    assert sim.read32(r.SR) & (BSY | CFGBSY) == 0
    assert sim.read_block(0x0800_0800, 8) == bytes.fromhex("aaaaaaaa55555555")
    sim.write32(r.CR, 0)
    assert not sim.read32(r.CR) & PG


def test_g0_page_erase_sets_cfgbsy(g0) -> None:
    sim, r = g0
    r.unlock()
    took = busy_for(sim, r.SR, CFGBSY, lambda: sim.write32(r.CR, PER | (3 << 3) | STRT))
    assert took == 22_000_000


def test_g0_boot_selection_and_empty_check(g0) -> None:
    sim, r = g0
    assert sim.option("nBOOT_SEL") == 1
    assert sim.boots_bootloader(False)  # flash is empty: the empty check starts the bootloader
    r.unlock()
    sim.write32(r.CR, PG)
    r.program64(0x0800_0000, 0x2000_1000)
    sim.wait_idle()
    sim.reset("system")
    assert sim.boots_bootloader(False)  # the empty flag is only re-evaluated at power-on / OBL
    sim.reset("power")
    assert not sim.boots_bootloader(False)
    assert not sim.boots_bootloader(True)  # nBOOT_SEL=1: the BOOT0 pin is ignored
    sim.set_option("nBOOT0", 0)
    assert sim.boots_bootloader(False)
    sim.set_option("nBOOT_SEL", 0)
    assert not sim.boots_bootloader(False) and sim.boots_bootloader(True)


def test_g0_dbg_swen_disables_debug_until_reset(g0) -> None:
    sim, r = g0
    acr = sim.read32(r.ACR)
    assert acr & (1 << 18)
    sim.write32(r.ACR, acr & ~(1 << 18), master="cpu")
    assert not sim.debug_enabled
    with pytest.raises(BusFault):
        sim.read32(0x2000_0000)
    sim.reset("system")
    assert sim.debug_enabled


# -- G4 -----------------------------------------------------------------------------------------


def g4(name: str) -> SimChip:
    """The G47x part; bank 2 always starts at 0x08040000 (RM0440, DBANK=1)."""
    chip = part(name)
    half = chip.flash_size // 2
    banks = (
        Bank(0x0800_0000, (SectorRun(2048, half // 2048),)),
        Bank(0x0804_0000, (SectorRun(2048, half // 2048),)),
    )
    if [b.base for b in chip.banks] != [0x0800_0000, 0x0804_0000]:
        chip = dataclasses.replace(chip, banks=banks)
    return SimChip(chip)


def test_g4_dbank_hole_and_bker_bit_11() -> None:
    sim = g4("stm32g474rb")  # 128 KB: two 64 KB banks, hole at 0x08010000-0x0803FFFF
    r = Regs(sim)
    with pytest.raises(BusFault):
        sim.read32(0x0801_C000)
    r.unlock()
    sim.write32(r.CR, PG)
    r.program64(0x0804_0000 + 3 * 2048, 0)
    r.program64(0x0800_0000 + 3 * 2048, 0)
    sim.wait_idle()
    sim.write32(r.CR, PER | (3 << 3) | (1 << 13) | STRT)  # bit 13 is BKER on G0, not on G4
    sim.wait_idle()
    assert sim.read32(0x0804_0000 + 3 * 2048) == 0
    assert sim.read32(0x0800_0000 + 3 * 2048) == 0xFFFF_FFFF
    sim.write32(r.CR, PER | (3 << 3) | (1 << 11) | STRT)
    sim.wait_idle()
    assert sim.read32(0x0804_0000 + 3 * 2048) == 0xFFFF_FFFF
    sim.write32(r.CR, PG)
    r.program64(0x0800_0000, 0)
    sim.wait_idle()
    sim.write32(r.CR, PER | (0x38 << 3) | STRT)  # page 0x38 of bank 1 does not exist on this size
    sim.wait_idle()
    assert sim.read32(0x0800_0000) == 0


def test_g4_512k_two_banks() -> None:
    sim = g4("stm32g474re")
    assert [(b.base, b.size) for b in sim.banks] == [(0x0800_0000, 0x4_0000), (0x0804_0000, 0x4_0000)]
    assert sim.read32(L4_FLASH + OPTR) == 0xFFEF_F8AA
    assert sim.read16(0x1FFF_75E0) == 512


# -- WB -----------------------------------------------------------------------------------------


@pytest.fixture
def wb():
    sim = make("stm32wb55rg")
    return sim, Regs(sim, 0x5800_4000)


def test_wb_registers_live_at_0x58004000(wb) -> None:
    sim, r = wb
    assert sim.read32(r.CR) == 0xC000_0000
    r.unlock()
    sim.write32(r.CR, PG)
    sim.write32(0x0800_0000, 1)
    assert sim.read32(r.SR) & CFGBSY
    sim.write32(0x0800_0004, 2)
    took = sim.busy_until - sim.clock.now
    assert took == PROGRAM_NS
    sim.wait_idle()
    assert sim.read_block(0x0800_0000, 8) == bytes.fromhex("0100000002000000")


def test_wb_cpu2_secure_area_is_refused(wb) -> None:
    sim, r = wb
    r.unlock()
    sfsa = sim.read32(r.base + 0x80) & 0xFF
    assert sfsa == 244
    sim.write32(r.CR, PER | (250 << 3) | STRT)
    assert sim.read32(r.SR) & WRPERR
    sim.write32(r.SR, WRPERR)
    sim.write32(r.CR, MER1 | STRT)  # a mass erase would hit the secure area
    assert sim.read32(r.SR) & WRPERR
    sim.write32(r.SR, WRPERR)
    took = busy_for(sim, r.SR, BSY, lambda: sim.write32(r.CR, PER | (10 << 3) | STRT))
    assert took == PAGE_NS
