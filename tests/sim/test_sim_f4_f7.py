"""F2/F4 and F7 sector flash, driven as RM0090 / RM0368 / RM0410 describe."""

from __future__ import annotations

import pytest

from stflash.sim.faults import BusFault

from sim_helpers import busy_for, key_unlock, make, poll_clear

FLASH = 0x4002_3C00
KEYR, OPTKEYR, SR, CR, OPTCR, OPTCR1 = (FLASH + o for o in (0x04, 0x08, 0x0C, 0x10, 0x14, 0x18))
EOP, OPERR, WRPERR, PGAERR, PGPERR, PGSERR, BSY = 1, 2, 1 << 4, 1 << 5, 1 << 6, 1 << 7, 1 << 16
ERSERR = PGSERR
PG, SER, MER, MER1, STRT, EOPIE, LOCK = 1, 2, 4, 1 << 15, 1 << 16, 1 << 24, 1 << 31
X8, X16, X32, X64 = 0 << 8, 1 << 8, 2 << 8, 3 << 8
OPTLOCK, OPTSTRT = 1, 2
KEY1, KEY2, OPTKEY1, OPTKEY2 = 0x4567_0123, 0xCDEF_89AB, 0x0819_2A3B, 0x4C5D_6E7F
MS, S = 1_000_000, 1_000_000_000


def snb(n: int) -> int:
    return n << 3


def unlock(sim) -> None:
    key_unlock(sim, KEYR, (KEY1, KEY2), CR, LOCK)


def unlock_options(sim) -> None:
    key_unlock(sim, OPTKEYR, (OPTKEY1, OPTKEY2), OPTCR, OPTLOCK)


@pytest.fixture
def f401():
    return make("stm32f401re")


def test_reset_values(f401) -> None:
    assert f401.read32(CR) == 0x8000_0000
    assert f401.read32(SR) == 0
    assert f401.read32(OPTCR) == 0x0FFF_AAED  # factory OPTCR with OPTLOCK set


def test_word_program_at_x32(f401) -> None:
    unlock(f401)
    f401.write32(SR, 0xF3)  # clear stale errors
    f401.write32(CR, PG | X32)
    took = busy_for(f401, SR, BSY, lambda: f401.write32(0x0800_4000, 0x1234_5678))
    assert took == 16_000  # 16 us typical word programming time
    assert f401.read32(0x0800_4000) == 0x1234_5678
    assert f401.read32(SR) == 0  # EOP needs EOPIE on this family
    f401.write32(CR, PG | X32 | EOPIE)
    f401.write32(0x0800_4004, 0xCAFE_F00D)
    poll_clear(f401, SR, BSY)
    assert f401.read32(SR) == EOP
    f401.write32(SR, EOP)
    # bits only go from 1 to 0, no ECC: programming again ANDs the data
    f401.write32(0x0800_4000, 0xFFFF_0000)
    f401.wait_idle()
    assert f401.read32(0x0800_4000) == 0x1234_0000
    f401.write32(CR, LOCK)
    assert f401.read32(CR) & LOCK


def test_access_size_must_match_psize(f401) -> None:
    unlock(f401)
    f401.write32(CR, PG | X32)
    f401.write16(0x0800_0000, 0x1234)
    assert f401.read32(SR) & PGPERR
    assert f401.read32(0x0800_0000) == 0xFFFF_FFFF
    f401.write32(SR, PGPERR)
    f401.write32(CR, PG | X8)
    f401.write8(0x0800_0001, 0x42)
    f401.wait_idle()
    assert f401.read32(0x0800_0000) == 0xFFFF_42FF
    f401.write32(CR, PG | X16)
    f401.write32(0x0800_0008, 0)
    assert f401.read32(SR) & PGPERR


def test_misaligned_word_sets_pgaerr(f401) -> None:
    unlock(f401)
    f401.write32(CR, PG | X32)
    f401.write32(0x0800_0002, 0)
    assert f401.read32(SR) & PGAERR
    assert f401.read32(0x0800_0000) == 0xFFFF_FFFF


def test_write_without_pg_sets_pgserr(f401) -> None:
    unlock(f401)
    f401.write32(0x0800_0000, 0)
    assert f401.read32(SR) & PGSERR
    assert f401.read32(0x0800_0000) == 0xFFFF_FFFF


def test_x64_takes_two_word_writes(f401) -> None:
    unlock(f401)
    f401.write32(CR, PG | X64)
    f401.write32(0x0800_0010, 0x1111_1111)
    assert not f401.read32(SR) & BSY  # waiting for the second word
    f401.write32(0x0800_0014, 0x2222_2222)
    assert f401.read32(SR) & BSY
    f401.wait_idle()
    assert f401.read_block(0x0800_0010, 8) == bytes.fromhex("1111111122222222")


@pytest.mark.parametrize(
    ("psize", "sector", "expected"),
    [
        (X32, 5, 1_000 * MS),  # 128 K at x32
        (X8, 5, 2_000 * MS),  # 128 K at x8
        (X32, 0, 250 * MS),  # 16 K at x32
        (X16, 4, 700 * MS),  # 64 K at x16
    ],
)
def test_sector_erase_time(f401, psize: int, sector: int, expected: int) -> None:
    unlock(f401)
    f401.write32(CR, PG | X32)
    base = f401.sectors()[sector].address
    f401.write32(base, 0)
    f401.wait_idle()
    f401.write32(CR, psize)
    took = busy_for(f401, SR, BSY, lambda: f401.write32(CR, psize | SER | snb(sector) | STRT))
    assert took == expected
    assert f401.read32(base) == 0xFFFF_FFFF


def test_cr_write_stalls_while_busy(f401) -> None:
    unlock(f401)
    f401.write32(CR, X32 | SER | snb(1) | STRT)
    t0 = f401.clock.now
    assert f401.read32(CR) & STRT
    f401.write32(CR, X32)  # the bus waits for the erase
    assert f401.clock.now == t0 + 250 * MS
    assert not f401.read32(SR) & BSY


def test_write_protected_sector(f401) -> None:
    unlock_options(f401)
    f401.write32(OPTCR, 0x0FFE_AAEC)  # nWRP bit 0 = 0
    took = busy_for(f401, SR, BSY, lambda: f401.write32(OPTCR, 0x0FFE_AAEC | OPTSTRT))
    assert took == 250 * MS
    f401.write32(OPTCR, 0x0FFE_AAEC | OPTLOCK)
    unlock(f401)
    f401.write32(CR, PG | X32)
    f401.write32(0x0800_0000, 0)
    f401.wait_idle()
    assert f401.read32(0x0800_0000) == 0  # not protected before the reset
    f401.reset("system")
    assert f401.read32(OPTCR) == 0x0FFE_AAED
    unlock(f401)
    f401.write32(CR, X32 | SER | snb(0) | STRT)
    assert f401.read32(SR) & WRPERR
    assert f401.read32(0x0800_0000) == 0
    f401.write32(SR, WRPERR)
    f401.write32(CR, X32 | MER | STRT)
    assert f401.read32(SR) & WRPERR


def test_rdp1_blocks_debug_and_regression_mass_erases(f401) -> None:
    unlock(f401)
    f401.write32(CR, PG | X32)
    f401.write32(0x0800_0000, 0xDEAD_BEEF)
    f401.wait_idle()
    unlock_options(f401)
    f401.write8(OPTCR + 1, 0xBB)  # HAL style: byte write of the RDP field
    f401.write8(OPTCR, 0xEC | OPTSTRT)
    f401.wait_idle()
    assert f401.rdp_level == 0  # applies at the next reset
    f401.reset("system")
    assert f401.rdp_level == 1
    with pytest.raises(BusFault):
        f401.read32(0x0800_0000)
    assert f401.read32(OPTCR) >> 8 & 0xFF == 0xBB  # option register stays readable
    unlock(f401)
    f401.write32(CR, PG | X32)
    f401.write32(0x0800_8000, 0)
    assert f401.read32(SR) & WRPERR  # no programming with the debugger attached
    unlock_options(f401)
    f401.write32(OPTCR, 0x0FFF_AAEC)
    took = busy_for(f401, SR, BSY, lambda: f401.write32(OPTCR, 0x0FFF_AAEC | OPTSTRT))
    assert took == 250 * MS + 8 * S  # option change + mass erase at x32 (PSIZE from FLASH_CR)
    f401.reset("power")
    assert f401.rdp_level == 0
    assert f401.read32(0x0800_0000) == 0xFFFF_FFFF


def test_level2_disables_debug_and_bootloader(f401) -> None:
    f401.set_option("RDP", 0xCC)
    f401.reset("power")
    assert not f401.debug_enabled
    assert not f401.bootloader_available
    assert not f401.boots_bootloader(True)
    with pytest.raises(BusFault):
        f401.read32(0x2000_0000)
    assert f401.read32(0x0800_0000, master="cpu") == 0xFFFF_FFFF


def test_f429_bank2_sector_erase_uses_snb_0x10_plus_k() -> None:
    sim = make("stm32f429zi")
    assert [b.base for b in sim.banks] == [0x0800_0000, 0x0810_0000]
    unlock(sim)
    sim.write32(CR, PG | X32)
    sim.write32(0x0810_0000, 0)  # bank 2, sector 12 (SNB 0x10)
    sim.write32(0x0810_4000, 0)  # bank 2, sector 13 (SNB 0x11)
    sim.write32(0x0800_0000, 0)
    sim.wait_idle()
    took = busy_for(sim, SR, BSY, lambda: sim.write32(CR, X32 | SER | snb(0x11) | STRT))
    assert took == 250 * MS
    assert sim.read32(0x0810_4000) == 0xFFFF_FFFF
    assert sim.read32(0x0810_0000) == 0
    sim.write32(CR, X32 | SER | snb(12) | STRT)  # 12 is not a sector number on a dual-bank part
    sim.wait_idle()
    assert sim.read32(0x0810_0000) == 0
    sim.write32(CR, X32 | MER1 | STRT)  # bank 2 only
    sim.wait_idle()
    assert sim.read32(0x0810_0000) == 0xFFFF_FFFF
    assert sim.read32(0x0800_0000) == 0


def test_f429_bank2_write_protection_is_in_optcr1() -> None:
    sim = make("stm32f429zi")
    assert sim.read32(OPTCR1) == 0x0FFF_0000
    sim.set_option("nWRP_BANK2", 0xFFE)
    unlock(sim)
    sim.write32(CR, PG | X32)
    sim.write32(0x0810_0000, 0)
    assert sim.read32(SR) & WRPERR
    sim.write32(SR, WRPERR)
    sim.write32(0x0810_4000, 0)
    assert not sim.read32(SR) & WRPERR


# -- F7 ------------------------------------------------------------------------------------------


@pytest.fixture
def f767():
    return make("stm32f767zi")


def test_f7_factory_options(f767) -> None:
    assert f767.read32(OPTCR) == 0xFFFF_AAFD
    assert f767.read32(OPTCR1) == 0x0040_0080


def test_f7_erserr_replaces_pgserr(f767) -> None:
    unlock(f767)
    f767.write32(0x0800_0000, 0)
    assert f767.read32(SR) & ERSERR
    f767.write32(SR, ERSERR)
    f767.write32(CR, X32 | SER | MER | STRT)  # SER and MER together: nothing erased
    assert f767.read32(SR) & ERSERR
    assert not f767.read32(SR) & BSY


def test_f7_sector_erase_times(f767) -> None:
    unlock(f767)
    took = busy_for(f767, SR, BSY, lambda: f767.write32(CR, X32 | SER | snb(7) | STRT))
    assert f767.sectors()[7].size == 256 * 1024
    assert took == 1_000 * MS  # 256 K at x32
    took = busy_for(f767, SR, BSY, lambda: f767.write32(CR, X8 | SER | snb(0) | STRT))
    assert took == 400 * MS  # 32 K at x8


def test_f7_boot_address_decides_the_bootloader(f767) -> None:
    assert f767.boots_bootloader(True)  # BOOT_ADD1 = 0x0040 -> 0x00100000
    assert not f767.boots_bootloader(False)  # BOOT_ADD0 = 0x0080 -> 0x00200000
    unlock_options(f767)
    f767.write32(OPTCR1, 0x0040_0040)
    f767.write32(OPTCR, 0xFFFF_AAFC | OPTSTRT)
    f767.wait_idle()
    assert not f767.boots_bootloader(False)  # not before the reset
    f767.reset("system")
    assert f767.boots_bootloader(False)
    assert f767.option("BOOT_ADD0") == 0x0040


def test_f7_dual_bank_geometry_follows_ndbank(f767) -> None:
    assert len(f767.banks) == 1
    unlock_options(f767)
    f767.write32(OPTCR, 0xDFFF_AAFC | OPTSTRT)  # nDBANK = 0
    f767.wait_idle()
    f767.reset("system")
    assert [b.base for b in f767.banks] == [0x0800_0000, 0x0810_0000]
    assert f767.sectors()[12].number == 0x10
