"""F0/F1/F3 FPEC, driven as PM0075 / RM0008 / RM0091 describe."""

from __future__ import annotations

import pytest

from stflash.sim.faults import BusFault

from sim_helpers import busy_for, key_unlock, make, poll_clear

FLASH = 0x4002_2000
KEYR, OPTKEYR, SR, CR, AR, OBR, WRPR = (FLASH + o for o in (0x04, 0x08, 0x0C, 0x10, 0x14, 0x1C, 0x20))
BSY, PGERR, WRPRTERR, EOP = 1, 1 << 2, 1 << 4, 1 << 5
PG, PER, MER, OPTPG, OPTER, STRT, LOCK, OPTWRE, OBL_LAUNCH = 1, 2, 4, 16, 32, 64, 128, 1 << 9, 1 << 13
KEY1, KEY2 = 0x4567_0123, 0xCDEF_89AB
OB = 0x1FFF_F800


def unlock(sim) -> None:
    key_unlock(sim, KEYR, (KEY1, KEY2), CR, LOCK)


def unlock_options(sim) -> None:
    unlock(sim)
    sim.write32(OPTKEYR, KEY1)
    sim.write32(OPTKEYR, KEY2)
    assert sim.read32(CR) & OPTWRE


@pytest.fixture(params=["stm32f103c8", "stm32f103rc", "stm32f072rb"])
def fpec(request: pytest.FixtureRequest):
    return make(request.param)


def test_reset_state(fpec) -> None:
    assert fpec.read32(CR) == LOCK  # reset value 0x80
    assert fpec.read32(SR) == 0
    assert fpec.read32(WRPR) == 0xFFFF_FFFF
    assert fpec.read32(0x0800_0000) == 0xFFFF_FFFF


def test_halfword_program_sequence(fpec) -> None:
    unlock(fpec)
    fpec.write32(CR, PG)
    t0 = fpec.clock.now
    fpec.write16(0x0800_0400, 0x1234)
    assert fpec.read32(SR) & BSY
    poll_clear(fpec, SR, BSY)
    assert fpec.read32(SR) == EOP  # EOP is set after every operation on this family
    assert fpec.read16(0x0800_0400) == 0x1234
    assert fpec.read32(0x0800_0400) == 0xFFFF_1234
    fpec.write32(SR, EOP)  # write 1 to clear
    assert fpec.read32(SR) == 0
    program_ns = 52_500 if fpec.chip.family == "F1" else 53_500
    t0 = fpec.clock.now
    assert busy_for(fpec, SR, BSY, lambda: fpec.write16(0x0800_0402, 0xBEEF)) == program_ns
    assert fpec.clock.now - t0 == program_ns
    fpec.write32(CR, LOCK)
    assert fpec.read32(CR) & LOCK
    fpec.write16(0x0800_0404, 0)  # PG cleared by the locking write: ignored
    assert fpec.read16(0x0800_0404) == 0xFFFF


def test_programming_a_non_erased_halfword_sets_pgerr(fpec) -> None:
    unlock(fpec)
    fpec.write32(CR, PG)
    fpec.write16(0x0800_0000, 0x5555)
    fpec.wait_idle()
    fpec.write16(0x0800_0000, 0x1111)
    assert fpec.read32(SR) & PGERR
    assert not fpec.read32(SR) & BSY
    assert fpec.read16(0x0800_0000) == 0x5555  # not programmed
    fpec.write32(SR, PGERR)
    assert not fpec.read32(SR) & PGERR
    # PM0075: 0x0000 may be written over anything
    fpec.write16(0x0800_0000, 0x0000)
    fpec.wait_idle()
    assert fpec.read32(SR) & PGERR == 0
    assert fpec.read16(0x0800_0000) == 0x0000


def test_non_halfword_program_access_is_a_bus_error(fpec) -> None:
    unlock(fpec)
    fpec.write32(CR, PG)
    with pytest.raises(BusFault):
        fpec.write32(0x0800_0000, 0x1234_5678)
    with pytest.raises(BusFault):
        fpec.write8(0x0800_0000, 0x12)
    assert fpec.read32(0x0800_0000) == 0xFFFF_FFFF


def test_page_erase_takes_the_datasheet_time(fpec) -> None:
    unlock(fpec)
    fpec.write32(CR, PG)
    page = fpec.sectors()[3]
    fpec.write16(page.address + 2, 0x0001)
    fpec.write16(fpec.sectors()[4].address, 0x0002)
    fpec.wait_idle()
    fpec.write32(CR, PER)
    fpec.write32(AR, page.address + 0x10)
    took = busy_for(fpec, SR, BSY, lambda: fpec.write32(CR, PER | STRT))
    assert took == 30_000_000  # 30 ms: middle of the 20..40 ms datasheet range
    assert fpec.read32(CR) & STRT == 0
    assert fpec.read_block(page.address, page.size) == b"\xff" * page.size
    assert fpec.read16(fpec.sectors()[4].address) == 0x0002  # the next page is untouched


def test_mass_erase(fpec) -> None:
    unlock(fpec)
    fpec.write32(CR, PG)
    fpec.write16(0x0800_0000, 0)
    fpec.write16(fpec.chip.flash_end - 2, 0)
    fpec.write32(CR, MER)
    took = busy_for(fpec, SR, BSY, lambda: fpec.write32(CR, MER | STRT))
    assert took == 30_000_000
    assert fpec.read16(0x0800_0000) == 0xFFFF
    assert fpec.read16(fpec.chip.flash_end - 2) == 0xFFFF


def test_wrong_key_locks_until_reset(fpec) -> None:
    fpec.write32(KEYR, KEY1)
    with pytest.raises(BusFault):
        fpec.write32(KEYR, 0x1111_1111)
    with pytest.raises(BusFault):
        fpec.write32(KEYR, KEY1)  # the right key again: still locked until reset
    assert fpec.read32(CR) & LOCK
    fpec.reset("system")
    unlock(fpec)


def test_keying_an_unlocked_register_locks_it(fpec) -> None:
    unlock(fpec)
    with pytest.raises(BusFault):
        fpec.write32(KEYR, KEY1)
    assert fpec.read32(CR) & LOCK


def test_write_protected_page(fpec) -> None:
    # WRP0 bit 0 cleared protects the first page group
    fpec.set_option("WRP0", 0xFE)
    fpec.reset("system")
    assert fpec.read32(WRPR) == 0xFFFF_FFFE
    unlock(fpec)
    fpec.write32(CR, PG)
    fpec.write16(0x0800_0000, 0x1234)
    assert fpec.read32(SR) & WRPRTERR
    assert fpec.read16(0x0800_0000) == 0xFFFF
    fpec.write32(SR, WRPRTERR)
    per_bit = fpec.chip.extra_value("wrp_pages_per_bit")
    free = fpec.sectors()[per_bit].address
    fpec.write16(free, 0x1234)
    fpec.wait_idle()
    assert fpec.read16(free) == 0x1234
    fpec.write32(CR, PER)
    fpec.write32(AR, 0x0800_0000)
    fpec.write32(CR, PER | STRT)
    assert fpec.read32(SR) & WRPRTERR
    fpec.write32(CR, MER)
    fpec.write32(CR, MER | STRT)
    assert fpec.read16(free) == 0x1234  # mass erase refused while a page is protected


def test_option_bytes_program_and_load(fpec) -> None:
    f1 = fpec.chip.family == "F1"
    unlock_options(fpec)
    fpec.write32(CR, OPTER | OPTWRE)
    t = busy_for(fpec, SR, BSY, lambda: fpec.write32(CR, OPTER | STRT | OPTWRE))
    assert t == 30_000_000
    assert fpec.read_block(OB, 16) == b"\xff" * 16
    fpec.write32(CR, OPTPG | OPTWRE)
    rdp = 0xA5 if f1 else 0xAA
    fpec.write16(OB, rdp)  # the hardware writes the complement itself
    fpec.wait_idle()
    fpec.write16(OB + 8, 0xFC)  # WRP0: first two page groups protected
    fpec.wait_idle()
    assert fpec.read32(OB) == 0xFFFF_0000 | (rdp ^ 0xFF) << 8 | rdp
    assert fpec.read32(OB + 8) & 0xFFFF == 0x03FC
    assert fpec.read32(WRPR) == 0xFFFF_FFFF  # not loaded yet
    fpec.write16(OB + 8, 0x00)  # not erased any more: PGERR
    assert fpec.read32(SR) & PGERR
    if f1:
        fpec.reset("system")  # F1 loads options at reset only
    else:
        fpec.write32(CR, OPTWRE | OBL_LAUNCH)  # reloads and resets the chip
        assert fpec.read32(CR) == LOCK
    assert fpec.read32(WRPR) == 0xFFFF_FFFC
    assert fpec.rdp_level == 0
    assert fpec.read32(OBR) & 1 == 0  # no OPTERR


def test_erased_options_mean_read_protection_and_erasing_them_again_mass_erases(fpec) -> None:
    unlock(fpec)
    fpec.write32(CR, PG)
    fpec.write16(0x0800_0000, 0xC0DE)
    fpec.wait_idle()
    unlock_options(fpec)
    fpec.write32(CR, OPTER | OPTWRE)
    fpec.write32(CR, OPTER | STRT | OPTWRE)
    fpec.wait_idle()
    fpec.reset("system")  # RDP=0xFF loads as level 1
    assert fpec.rdp_level == 1
    assert fpec.read32(OBR) & 0b10
    with pytest.raises(BusFault):
        fpec.read32(0x0800_0000)  # debug read of protected flash
    assert fpec.read32(0x2000_0000) == 0  # RAM stays readable
    # unprotect: erase the options again (mass-erases the flash), then write RDP back
    unlock_options(fpec)
    fpec.write32(CR, OPTER | OPTWRE)
    t = busy_for(fpec, SR, BSY, lambda: fpec.write32(CR, OPTER | STRT | OPTWRE))
    assert t == 30_000_000 + 30_000_000  # option-page erase + mass erase
    fpec.write32(CR, OPTPG | OPTWRE)
    fpec.write16(OB, 0xA5 if fpec.chip.family == "F1" else 0xAA)
    fpec.wait_idle()
    fpec.reset("power")
    assert fpec.rdp_level == 0
    assert fpec.read16(0x0800_0000) == 0xFFFF


def test_option_bytes_the_hardware_writes_with_their_complement_load_without_opterr() -> None:
    """Erased pairs (0xFF/0xFF) next to programmed ones are not a complement mismatch."""
    sim = make("stm32f072rb")
    unlock_options(sim)
    sim.write32(CR, OPTER | OPTWRE)
    sim.write32(CR, OPTER | STRT | OPTWRE)
    sim.wait_idle()
    sim.write32(CR, OPTPG | OPTWRE)
    sim.write16(OB, 0xAA)
    sim.wait_idle()
    sim.write16(OB + 2, 0xFF)  # USER = 0xFF, nUSER = 0x00
    sim.wait_idle()
    sim.write32(CR, OPTWRE | OBL_LAUNCH)
    assert sim.read32(OBR) & 1 == 0
    assert sim.rdp_level == 0


def test_f0_obl_launch_resets_and_f1_has_none() -> None:
    f0 = make("stm32f072rb")
    unlock(f0)
    before = f0.reset_count
    f0.write32(CR, OBL_LAUNCH)
    assert f0.reset_count == before + 1
    assert f0.read32(CR) & LOCK
    f1 = make("stm32f103c8")
    unlock(f1)
    f1.write32(CR, OBL_LAUNCH)
    assert f1.reset_count == 1
    assert not f1.read32(CR) & LOCK


def test_boot_pins_and_nboot1() -> None:
    f0 = make("stm32f072rb")
    assert f0.boots_bootloader(True) and not f0.boots_bootloader(False)
    f0.set_option("nBOOT1", 0)  # BOOT0=1 then boots SRAM
    assert not f0.boots_bootloader(True)
    f1 = make("stm32f103c8")
    assert f1.boots_bootloader(True) and not f1.boots_bootloader(False)
