"""L0 NVM controller, driven as RM0367 / RM0377 describe (erased flash reads 0x00)."""

from __future__ import annotations

import pytest

from stflash.sim.faults import BusFault

from sim_helpers import busy_for, key_unlock, make, poll_clear

FLASH = 0x4002_2000
PECR, PEKEYR, PRGKEYR, OPTKEYR, SR, OPTR, WRPR = (
    FLASH + o for o in (0x04, 0x0C, 0x10, 0x14, 0x18, 0x1C, 0x20)
)
PELOCK, PRGLOCK, OPTLOCK, PROG, ERASE, FPRG, OBL_LAUNCH = 1, 2, 4, 8, 1 << 9, 1 << 10, 1 << 18
BSY, EOP, WRPERR, PGAERR, SIZERR, NOTZEROERR = 1, 2, 1 << 8, 1 << 9, 1 << 10, 1 << 16
PEKEY = (0x89AB_CDEF, 0x0203_0405)
PRGKEY = (0x8C9D_AEBF, 0x1314_1516)
OPTKEY = (0xFBEA_D9C8, 0x2425_2627)
OB = 0x1FF8_0000
T = 3_200_000  # 3.2 ms per word, half page or page


def unlock(sim, *, options: bool = False) -> None:
    """Key each lock only while it is set: keying an unlocked register locks it until reset."""
    for bit, register, keys in (
        (PELOCK, PEKEYR, PEKEY),
        (PRGLOCK, PRGKEYR, PRGKEY),
        (OPTLOCK, OPTKEYR, OPTKEY),
    ):
        if bit == OPTLOCK and not options:
            continue
        key_unlock(sim, register, keys, PECR, bit)
    assert sim.read32(PECR) & (PELOCK | PRGLOCK) == 0


@pytest.fixture
def l0():
    return make("stm32l053r8")


def test_erased_flash_reads_zero(l0) -> None:
    assert l0.read_block(0x0800_0000, 64) == bytes(64)
    assert l0.read32(PECR) == PELOCK | PRGLOCK | OPTLOCK
    assert l0.read32(OPTR) == 0x8070_00AA


def test_word_program(l0) -> None:
    unlock(l0)
    took = busy_for(l0, SR, BSY, lambda: l0.write32(0x0800_0100, 0x1234_5678))
    assert took == T
    assert l0.read32(0x0800_0100) == 0x1234_5678
    assert l0.read32(SR) & EOP
    l0.write32(SR, EOP)
    assert not l0.read32(SR) & EOP
    l0.write32(0x0800_0100, 0x1)  # not zero any more
    assert l0.read32(SR) & NOTZEROERR
    assert l0.read32(0x0800_0100) == 0x1234_5678
    l0.write32(PECR, PELOCK)
    assert l0.read32(PECR) & 0x7 == 0x7


def test_wrong_size_and_locked_writes(l0) -> None:
    l0.write32(0x0800_0000, 1)  # still locked
    assert l0.read32(SR) & WRPERR
    assert l0.read32(0x0800_0000) == 0
    l0.write32(SR, WRPERR)
    unlock(l0)
    l0.write16(0x0800_0000, 1)
    assert l0.read32(SR) & SIZERR
    assert l0.read32(0x0800_0000) == 0


def test_keying_an_unlocked_pecr_locks_it_until_reset(l0) -> None:
    unlock(l0)
    with pytest.raises(BusFault):
        l0.write32(PEKEYR, PEKEY[0])
    assert l0.read32(PECR) & PELOCK
    l0.reset("system")
    unlock(l0)


def test_prgkeyr_before_pekeyr_is_a_bus_error(l0) -> None:
    with pytest.raises(BusFault):
        l0.write32(PRGKEYR, PRGKEY[0])
    for k in PEKEY:
        l0.write32(PEKEYR, k)
    with pytest.raises(BusFault):
        l0.write32(PRGKEYR, PRGKEY[0])  # locked until reset
    l0.reset("system")
    unlock(l0)


def test_half_page_program(l0) -> None:
    unlock(l0)
    l0.write32(PECR, FPRG)
    l0.write32(PECR, FPRG | PROG)
    base = 0x0800_0040
    for i in range(15):
        l0.write32(base + 4 * i, 0x1000 + i)
        assert not l0.read32(SR) & BSY  # nothing happens before the 16th word
    assert l0.read32(base) == 0
    took = busy_for(l0, SR, BSY, lambda: l0.write32(base + 60, 0x100F))
    assert took == T
    assert [l0.read32(base + 4 * i) for i in range(16)] == [0x1000 + i for i in range(16)]


def test_half_page_must_start_aligned(l0) -> None:
    unlock(l0)
    l0.write32(PECR, FPRG)
    l0.write32(PECR, FPRG | PROG)
    l0.write32(0x0800_0044, 1)
    assert l0.read32(SR) & PGAERR


def test_page_erase(l0) -> None:
    unlock(l0)
    l0.write32(0x0800_0080, 0xFFFF_FFFF)
    l0.write32(0x0800_00FC, 0x1)
    l0.write32(0x0800_0100, 0x2)
    l0.wait_idle()
    l0.write32(PECR, ERASE)
    l0.write32(PECR, ERASE | PROG)
    took = busy_for(l0, SR, BSY, lambda: l0.write32(0x0800_0080, 0))
    assert took == T
    assert l0.read_block(0x0800_0080, 128) == bytes(128)
    assert l0.read32(0x0800_0100) == 2


def test_write_protection_bit_set_protects(l0) -> None:
    unlock(l0, options=True)
    l0.write32(OB + 8, 0xFFFE_0001)  # WRPROT1 bit 0: first 4 KB sector
    poll_clear(l0, SR, BSY)
    assert l0.read32(WRPR) == 0  # loaded only by OBL_LAUNCH or power-on
    l0.write32(PECR, OBL_LAUNCH)
    assert l0.read32(WRPR) == 1
    unlock(l0)
    l0.write32(0x0800_0000, 5)
    assert l0.read32(SR) & WRPERR
    l0.write32(0x0800_1000, 5)
    l0.wait_idle()
    assert l0.read32(0x0800_1000) == 5


def test_rdp_regression_erases_flash_and_eeprom(l0) -> None:
    unlock(l0)
    l0.write32(0x0800_0000, 0xAB)
    l0.write32(0x0808_0000, 0x42)  # data EEPROM word
    l0.wait_idle()
    assert l0.read32(0x0808_0000) == 0x42
    unlock(l0, options=True)
    l0.write32(OB, 0xFF00_00FF)  # RDP 0xFF: level 1
    l0.wait_idle()
    l0.write32(PECR, OBL_LAUNCH)
    assert l0.rdp_level == 1
    with pytest.raises(BusFault):
        l0.read32(0x0800_0000)
    with pytest.raises(BusFault):
        l0.read32(0x0808_0000)
    unlock(l0, options=True)
    took = busy_for(l0, SR, BSY, lambda: l0.write32(OB, 0xFF55_00AA))
    assert took == T + T  # option write + erase of the memories
    l0.write32(PECR, OBL_LAUNCH)
    assert l0.rdp_level == 0
    assert l0.read32(0x0800_0000) == 0
    assert l0.read32(0x0808_0000) == 0


def test_boot(l0) -> None:
    assert l0.boots_bootloader(True)
    assert not l0.boots_bootloader(False)
    l0.set_option("nBOOT1", 0)
    assert not l0.boots_bootloader(True)
