"""STM32H7 embedded flash, driven as RM0399 chapter 4 (and RM0455 for H7A3) describes."""

from __future__ import annotations

import pytest

from stflash.sim.faults import BusFault

from sim_helpers import busy_for, key_unlock, make, poll_clear

F = 0x5200_2000
KEYR, OPTKEYR, CR, SR, CCR, OPTCR, OPTSR_CUR, OPTSR_PRG, OPTCCR = (
    F + o for o in (0x04, 0x08, 0x0C, 0x10, 0x14, 0x18, 0x1C, 0x20, 0x24)
)
WPSN_CUR, WPSN_PRG, BOOT_CUR, BOOT_PRG = (F + o for o in (0x38, 0x3C, 0x40, 0x44))
B2 = 0x100
LOCK, PG, SER, BER = 1, 2, 4, 8
X8, X64 = 0 << 4, 3 << 4
FW, START = 1 << 6, 1 << 7
BSY, WBNE, QW = 1, 2, 4
EOP, WRPERR, PGSERR, STRBERR, INCERR, RDPERR, DBECCERR = (
    1 << 16,
    1 << 17,
    1 << 18,
    1 << 19,
    1 << 21,
    1 << 23,
    1 << 26,
)
OPTLOCK, OPTSTART, OPT_BUSY, OPTCHANGEERR = 1, 2, 1, 1 << 30
KEY1, KEY2, OPTKEY1, OPTKEY2 = 0x4567_0123, 0xCDEF_89AB, 0x0819_2A3B, 0x4C5D_6E7F
MS, S = 1_000_000, 1_000_000_000


def snb(n: int) -> int:
    return n << 8


def unlock(sim, bank: int = 0) -> None:
    key_unlock(sim, KEYR + B2 * bank, (KEY1, KEY2), CR + B2 * bank, LOCK)


def unlock_options(sim) -> None:
    key_unlock(sim, OPTKEYR, (OPTKEY1, OPTKEY2), OPTCR, OPTLOCK)


def write_word(sim, address: int, data: bytes) -> None:
    for i in range(0, len(data), 4):
        sim.write32(address + i, int.from_bytes(data[i : i + 4], "little"))


@pytest.fixture
def h743():
    return make("stm32h743zi")


def test_reset_values(h743) -> None:
    assert h743.read32(CR) == 0x31  # LOCK and PSIZE = x64
    assert h743.read32(CR + B2) == 0x31
    assert h743.read32(OPTCR) == OPTLOCK
    assert h743.read32(OPTSR_CUR) == 0x1006_AAF0
    assert h743.read32(OPTSR_PRG + B2) == 0x1006_AAF0  # shared registers are aliased at +0x100
    assert h743.read32(BOOT_CUR) == 0x1FF0_0800
    assert h743.read32(WPSN_CUR) == 0xFF


def test_flash_word_is_programmed_when_complete(h743) -> None:
    unlock(h743)
    h743.write32(CR, PG | X64)
    data = bytes(range(32))
    write_word(h743, 0x0800_0020, data[:28])
    assert h743.read32(SR) == WBNE  # waiting for the rest of the flash word
    assert h743.read_block(0x0800_0020, 32) == b"\xff" * 32  # nothing programmed yet
    took = busy_for(h743, SR, QW, lambda: h743.write32(0x0800_0020 + 28, int.from_bytes(data[28:], "little")))
    assert took == 100_000  # 100 us per flash word at x64
    assert h743.read_block(0x0800_0020, 32) == data
    assert h743.read32(SR) == EOP
    h743.write32(SR, EOP)  # SR is read-only
    assert h743.read32(SR) == EOP
    h743.write32(CCR, EOP)  # cleared through CCR
    assert h743.read32(SR) == 0


def test_program_time_follows_psize(h743) -> None:
    unlock(h743)
    h743.write32(CR, PG | X8)
    write_word(h743, 0x0800_0000, b"\x00" * 28)
    took = busy_for(h743, SR, QW, lambda: h743.write32(0x0800_001C, 0))
    assert took == 290_000


def test_force_write_programs_a_partial_word(h743) -> None:
    unlock(h743)
    h743.write32(CR, PG | X64)
    h743.write32(0x0800_0104, 0x1234_5678)
    assert h743.read32(SR) & WBNE
    h743.write32(CR, PG | X64 | FW)
    assert h743.read32(SR) & QW
    assert not h743.read32(CR) & FW  # self-clearing
    poll_clear(h743, SR, QW)
    assert h743.read_block(0x0800_0100, 12) == bytes.fromhex("ffffffff78563412ffffffff")


def test_second_bank_has_its_own_registers(h743) -> None:
    unlock(h743, bank=1)
    assert h743.read32(CR) & LOCK  # bank 1 still locked
    h743.write32(CR + B2, PG | X64)
    write_word(h743, 0x0810_0000, b"\x5a" * 32)
    assert h743.read32(SR + B2) & QW
    assert not h743.read32(SR) & QW
    h743.wait_idle()
    assert h743.read32(0x0810_0000) == 0x5A5A_5A5A
    assert h743.read32(SR + B2) == EOP


def test_write_without_pg_and_incerr(h743) -> None:
    unlock(h743)
    h743.write32(0x0800_0000, 0)  # PG=0: dropped, no bus error
    assert h743.read32(SR) & PGSERR
    h743.write32(CR, PG | X64)
    h743.write32(0x0800_0040, 0)
    assert h743.read32(SR) & PGSERR  # refused while PGSERR is pending
    h743.write32(CCR, PGSERR)
    h743.write32(0x0800_0040, 0)
    h743.write32(0x0800_0080, 0)  # another flash word before the first is complete
    assert h743.read32(SR) & INCERR
    assert not h743.read32(SR) & WBNE
    h743.write32(0x0800_0080, 0)
    assert h743.read32(SR) & PGSERR
    h743.write32(CCR, PGSERR | INCERR)
    write_word(h743, 0x0800_0080, bytes(32))
    h743.wait_idle()
    assert h743.read32(0x0800_0080) == 0
    assert h743.read32(0x0800_0040) == 0xFFFF_FFFF


def test_strberr_on_a_byte_written_twice(h743) -> None:
    unlock(h743)
    h743.write32(CR, PG | X64)
    h743.write32(0x0800_0000, 0x1111_1111)
    h743.write8(0x0800_0000, 0x22)
    assert h743.read32(SR) & STRBERR
    write_word(h743, 0x0800_0004, bytes(28))
    h743.wait_idle()
    assert h743.read32(0x0800_0000) == 0x1111_1122


def test_clearing_pg_discards_the_buffer(h743) -> None:
    unlock(h743)
    h743.write32(CR, PG | X64)
    h743.write32(0x0800_0000, 0)
    h743.write32(CR, X64)
    assert not h743.read32(SR) & WBNE
    assert h743.read32(0x0800_0000) == 0xFFFF_FFFF


@pytest.mark.parametrize(("psize", "expected"), [(X64, 1 * S), (X8, 2 * S)])
def test_sector_erase_time(h743, psize: int, expected: int) -> None:
    unlock(h743, bank=1)
    h743.write32(CR + B2, PG | X64)
    write_word(h743, 0x0816_0000, bytes(32))  # bank 2, sector 3
    h743.wait_idle()
    h743.write32(CR + B2, psize | SER | snb(3))
    took = busy_for(h743, SR + B2, QW, lambda: h743.write32(CR + B2, psize | SER | snb(3) | START))
    assert took == expected
    assert h743.read32(0x0816_0000) == 0xFFFF_FFFF
    assert h743.read32(SR + B2) & EOP


def test_bank_erase(h743) -> None:
    unlock(h743)
    h743.write32(CR, PG | X64)
    write_word(h743, 0x080E_0000, bytes(32))
    t0 = h743.clock.now
    h743.write32(CR, X64)  # FLASH_CR cannot be written while the word is being programmed
    assert h743.clock.now == t0 + 100_000
    took = busy_for(h743, SR, QW, lambda: h743.write32(CR, X64 | BER | START))
    assert took == 8 * S  # eight 128 K sectors at x64
    assert h743.read32(0x080E_0000) == 0xFFFF_FFFF


def test_key_errors(h743) -> None:
    h743.write32(KEYR, KEY1)
    h743.write32(CR, 0)  # another register of the bank between the keys
    with pytest.raises(BusFault):
        h743.write32(KEYR, KEY2)
    assert h743.read32(CR) & LOCK
    h743.reset("system")
    with pytest.raises(BusFault):
        h743.write16(KEYR, KEY1 & 0xFFFF)  # keys must be 32-bit writes
    h743.reset("system")
    unlock(h743)
    with pytest.raises(BusFault):
        h743.write32(KEYR, KEY1)  # already unlocked


def test_option_change_write_protection(h743) -> None:
    unlock_options(h743)
    h743.write32(WPSN_PRG, 0xFE)  # sector 0 of bank 1 protected
    took = busy_for(h743, OPTSR_CUR, OPT_BUSY, lambda: h743.write32(OPTCR, OPTSTART))
    assert took == 300 * MS
    assert h743.read32(WPSN_CUR) == 0xFE  # *_CUR updated right after the change
    h743.write32(OPTCR, OPTLOCK)
    h743.write32(WPSN_PRG, 0xFF)  # read-only while OPTLOCK=1
    assert h743.read32(WPSN_PRG) == 0xFE
    unlock(h743)
    h743.write32(CR, X64 | SER | snb(0) | START)
    assert h743.read32(SR) & WRPERR
    h743.write32(CR, PG | X64)
    h743.write32(CCR, WRPERR)
    write_word(h743, 0x0800_0000, bytes(32))
    assert h743.read32(SR) & WRPERR
    assert h743.read32(0x0800_0000) == 0xFFFF_FFFF
    h743.write32(CR, X64 | BER | START)  # a bank with a protected sector cannot be erased
    assert h743.read32(SR) & WRPERR


def test_cur_registers_reload_when_the_option_change_ends(h743) -> None:
    unlock_options(h743)
    h743.write32(WPSN_PRG, 0xFE)
    h743.write32(OPTCR, OPTSTART)
    assert h743.read32(OPTSR_CUR) & OPT_BUSY
    assert h743.read32(WPSN_CUR) == 0xFF  # the old value while the change runs
    h743.wait_idle()
    assert h743.read32(WPSN_CUR) == 0xFE


def test_rdp_level1_and_regression(h743) -> None:
    unlock(h743)
    h743.write32(CR, PG | X64)
    write_word(h743, 0x0800_0000, b"\xab" * 32)
    h743.wait_idle()
    unlock_options(h743)
    h743.write32(OPTSR_PRG, 0x1006_BBF0)
    h743.write32(OPTCR, OPTSTART)
    poll_clear(h743, OPTSR_CUR, OPT_BUSY, step_ns=1 * MS)
    assert h743.rdp_level == 1  # immediate on H7
    with pytest.raises(BusFault):
        h743.read32(0x0800_0000)
    assert h743.read32(SR) & RDPERR
    h743.write32(CCR, RDPERR)
    h743.write32(OPTSR_PRG, 0x1006_AAF0)
    took = busy_for(h743, OPTSR_CUR, OPT_BUSY, lambda: h743.write32(OPTCR, OPTSTART))
    assert took == 300 * MS + 8 * S  # option change + erase of the banks at x64
    assert h743.rdp_level == 0
    assert h743.read32(0x0800_0000) == 0xFFFF_FFFF


def test_level2_cannot_be_lowered(h743) -> None:
    h743.set_option("RDP", 0xCC)
    h743.reset("power")
    assert not h743.debug_enabled
    # firmware (the CPU) tries to go back to level 0: refused with OPTCHANGEERR
    h743.write32(OPTKEYR, OPTKEY1, master="cpu")
    h743.write32(OPTKEYR, OPTKEY2, master="cpu")
    h743.write32(OPTSR_PRG, 0x1006_AAF0, master="cpu")
    h743.write32(OPTCR, OPTSTART, master="cpu")
    assert h743.read32(OPTSR_CUR, master="cpu") & OPTCHANGEERR
    assert h743.rdp_level == 2
    h743.write32(OPTCCR, OPTCHANGEERR, master="cpu")
    assert not h743.read32(OPTSR_CUR, master="cpu") & OPTCHANGEERR


def test_overwriting_a_programmed_word_breaks_its_ecc(h743) -> None:
    unlock(h743)
    h743.write32(CR, PG | X64)
    write_word(h743, 0x0800_0200, b"\xf0" * 32)
    write_word(h743, 0x0800_0200, b"\x0f" * 32)
    h743.wait_idle()
    with pytest.raises(BusFault):
        h743.read32(0x0800_0204)
    assert h743.read32(SR) & DBECCERR
    h743.write32(CR, X64 | SER | snb(0) | START)
    h743.wait_idle()
    assert h743.read32(0x0800_0200) == 0xFFFF_FFFF  # erase clears the ECC error


def test_boot_addresses(h743) -> None:
    assert h743.boots_bootloader(True) and not h743.boots_bootloader(False)
    unlock_options(h743)
    h743.write32(BOOT_PRG, 0x1FF0_1FF0)
    h743.write32(OPTCR, OPTSTART)
    h743.wait_idle()
    assert not h743.boots_bootloader(False)  # boot addresses apply at the next reset
    h743.reset("system")
    assert h743.boots_bootloader(False)


def test_1mb_part_has_a_hole_and_four_sectors_per_bank() -> None:
    sim = make("stm32h743zg")
    with pytest.raises(BusFault):
        sim.read32(0x0808_0000)
    unlock(sim)
    sim.write32(CR, X64 | SER | snb(4) | START)  # sector 4 is in the reserved area
    assert sim.read32(SR) & WRPERR


# -- H7A3: 128-bit flash word, 8 KB sectors, FW bit 4, START bit 5, SNB bits 12:6 ----------------


def test_h7a3_flash_word_and_sector_erase() -> None:
    sim = make("stm32h7a3zi")
    assert sim.read32(CR) == LOCK
    unlock(sim)
    sim.write32(CR, PG)
    write_word(sim, 0x0800_2000, bytes(12))
    assert sim.read32(SR) & WBNE
    took = busy_for(sim, SR, QW, lambda: sim.write32(0x0800_200C, 0))
    assert took == 100_000
    sim.write32(CR, PG)
    sim.write32(0x0800_4000, 0)
    sim.write32(CR, PG | (1 << 4))  # FW
    sim.wait_idle()
    assert sim.read_block(0x0800_4000, 16) == bytes(4) + b"\xff" * 12
    sim.write32(CR, SER | (1 << 6))  # sector 1 = 0x08002000
    took = busy_for(sim, SR, QW, lambda: sim.write32(CR, SER | (1 << 6) | (1 << 5)))
    assert took == 62_500_000
    assert sim.read_block(0x0800_2000, 16) == b"\xff" * 16
    assert sim.read32(0x0800_4000) == 0  # sector 2 untouched


def test_h7a3_one_protection_bit_per_four_sectors() -> None:
    sim = make("stm32h7a3zi")
    assert sim.read32(WPSN_CUR) == 0xFFFF_FFFF
    unlock_options(sim)
    sim.write32(WPSN_PRG, 0xFFFF_FFFD)  # group 1 = sectors 4..7
    sim.write32(OPTCR, OPTSTART)
    sim.wait_idle()
    unlock(sim)
    for sector, protected in ((3, False), (4, True), (7, True), (8, False)):
        sim.write32(CCR, WRPERR)
        sim.write32(CR, SER | (sector << 6) | (1 << 5))
        sim.wait_idle()
        assert bool(sim.read32(SR) & WRPERR) == protected, sector


# -- dual core ----------------------------------------------------------------------------------


def test_h755_bcm7_gates_the_cortex_m7() -> None:
    sim = make("stm32h755zi")
    assert sim.read32(OPTSR_CUR) == 0x17C6_AAF0
    assert sim.access_port_available(0) and sim.access_port_available(3)
    unlock_options(sim)
    sim.write32(OPTSR_PRG, 0x17C6_AAF0 & ~(1 << 23))  # BCM7 = 0
    sim.write32(OPTCR, OPTSTART)
    sim.wait_idle()
    assert sim.core_running(0)  # takes effect at the next reset
    sim.reset("power")
    assert not sim.core_running(0) and sim.core_running(1)
    assert not sim.access_port_available(0)  # the M7's AP answers nothing
    assert sim.access_port_available(3)  # the M4 still reaches the flash controller
    assert sim.access_port_available(2)  # APB-D debug bus
    assert sim.read32(0xE00E_1000) & 0xFFF == 0x450
    # recovery through AP3: set BCM7 again
    unlock_options(sim)
    sim.write32(OPTSR_PRG, 0x17C6_AAF0)
    sim.write32(OPTCR, OPTSTART)
    sim.wait_idle()
    sim.reset("system")
    assert sim.core_running(0) and sim.access_port_available(0)
