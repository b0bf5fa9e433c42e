"""Clock, bus decoding, identification registers, and the simulator's import boundary."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from stflash.chips.lookup import all_chips
from stflash.sim.chip import SimChip
from stflash.sim.clock import VirtualClock
from stflash.sim.faults import BusFault

from sim_helpers import make, part

SIM = Path(__file__).resolve().parents[2] / "src" / "stflash" / "sim"


def test_clock_only_moves_forward() -> None:
    clock = VirtualClock()
    assert clock.advance(5) == 5
    assert clock.advance_to(3) == 5
    assert clock.advance_to(10) == 10
    with pytest.raises(ValueError):
        clock.advance(-1)


# The simulator models silicon from the reference manuals; it must not lean on the client side.
CLIENT_SIDE = {"links", "flash", "session", "cli", "recover", "discovery", "doctor", "connect", "target"}


def _stflash_imports(path: Path) -> set[str]:
    """Top-level stflash modules imported by ``path`` (relative imports resolved)."""
    package = list(path.relative_to(SIM.parent.parent).parts[:-1])  # e.g. ["stflash", "sim", "flashctl"]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = [*base, *(node.module.split(".") if node.module else [])]
                names = [target] if node.module else [[*target, a.name] for a in node.names]
            elif node.module:
                names = [node.module.split(".")]
            else:
                continue
        elif isinstance(node, ast.Import):
            names = [a.name.split(".") for a in node.names]
        else:
            continue
        out.update(n[1] for n in names if len(n) > 1 and n[0] == "stflash")
    return out


def test_simulator_never_imports_the_client_side() -> None:
    seen: set[str] = set()
    for path in SIM.rglob("*.py"):
        imported = _stflash_imports(path)
        seen |= imported
        assert not imported & CLIENT_SIDE, f"{path.relative_to(SIM)} imports {sorted(imported & CLIENT_SIDE)}"
    assert {"chips", "sim"} <= seen  # the scan does resolve imports


def test_unmapped_and_unaligned_accesses_fault() -> None:
    sim = make("stm32f401re")
    with pytest.raises(BusFault) as err:
        sim.read32(0x6000_0000)
    assert err.value.address == 0x6000_0000
    with pytest.raises(BusFault):
        sim.read32(0x4002_3C02)  # flash registers need aligned accesses
    with pytest.raises(BusFault):
        sim.write32(0x1FFF_0000, 0)  # system memory is ROM
    assert sim.read32(0x2000_0001) == 0  # SRAM takes unaligned accesses
    sim.write32(0x4000_0400, 0x1234)  # a peripheral without a model (TIM3): stored, read back
    assert sim.read32(0x4000_0400) == 0x1234
    assert sim.read32(0x4000_0000) == 0


def test_identification() -> None:
    sim = make("stm32f401re")
    assert sim.read32(0xE004_2000) & 0xFFF == 0x433
    assert sim.read16(0x1FFF_7A22) == 512
    assert sim.read32(0x1FFF_7A20) >> 16 == 512  # the way stlink reads it
    assert sim.read8(0x1FFF_76DE) == 0xD1  # bootloader id (AN2606)
    assert sim.read32(0xE000_ED00) == 0x410F_C241  # Cortex-M4 CPUID
    uid = sim.read_block(0x1FFF_7A10, 12)
    assert uid == SimChip(part("stm32f401re")).read_block(0x1FFF_7A10, 12)
    assert uid != SimChip(part("stm32f401re"), seed=1).read_block(0x1FFF_7A10, 12)
    assert uid[5:].isalnum() and uid[5:].isupper() or uid[5:].isdigit()
    h7 = make("stm32h743zi")
    assert h7.read32(0x5C00_1000) & 0xFFF == 0x450
    assert h7.read16(0x1FF1_E880) == 2048
    assert h7.read8(0x1FF1_E7FE) == 0x92
    g0 = make("stm32g071rb")
    assert g0.read32(0x4001_5800) & 0xFFF == 0x460
    assert g0.read16(0x1FFF_75E0) == 128


def test_aircr_sysresetreq_resets_the_chip() -> None:
    sim = make("stm32f401re")
    count = sim.reset_count
    sim.write32(0x4002_3C04, 0x4567_0123)
    sim.write32(0x4002_3C04, 0xCDEF_89AB)
    assert not sim.read32(0x4002_3C10) & (1 << 31)
    sim.write32(0xE000_ED0C, 0x0000_0004)  # no VECTKEY: ignored
    assert sim.reset_count == count
    sim.write32(0xE000_ED0C, 0x05FA_0004)
    assert sim.reset_count == count + 1
    assert sim.read32(0x4002_3C10) & (1 << 31)


def test_block_access_across_banks_and_into_flash() -> None:
    sim = make("stm32h743zi")
    assert sim.read_block(0x080F_FFF0, 32) == b"\xff" * 32
    f4 = make("stm32f401re")
    f4.write_block(0x2000_0000, bytes(range(10)))
    assert f4.read_block(0x2000_0000, 10) == bytes(range(10))
    f4.write32(0x4002_3C04, 0x4567_0123)
    f4.write32(0x4002_3C04, 0xCDEF_89AB)
    f4.write32(0x4002_3C10, 0x201)  # PG, PSIZE x32
    f4.write_block(0x0800_0000, bytes(range(16)))
    f4.wait_idle()
    assert f4.read_block(0x0800_0000, 16) == bytes(range(16))
    assert f4.clock.now >= 4 * 16_000


@pytest.mark.parametrize(
    "chip", [c for c in all_chips() if c.flash_kind.value != "none"], ids=lambda c: c.name
)
def test_every_chip_row_builds_and_answers(chip) -> None:
    sim = SimChip(chip)
    assert sim.read32(chip.idcode_address) & 0xFFF == chip.dev_id
    assert sim.read16(chip.flash_size_register) == chip.flash_size // 1024
    assert len(sim.read_block(chip.uid_address, 12)) == 12
    first = sim.sectors()[0]
    assert sim.read_block(first.address, 16) == bytes([chip.erased_value]) * 16
    if chip.bootloader.id_address:
        assert sim.read8(chip.bootloader.id_address) == chip.bootloader.id
    result = sim.rom_program(first.address, b"\x12\x34\x56\x78" * 8)
    assert result.ok, result
    assert sim.read_block(first.address, 32) == b"\x12\x34\x56\x78" * 8
    assert sim.rom_erase([0]).ok
    assert sim.read_block(first.address, 32) == bytes([chip.erased_value]) * 32
    assert sim.rdp_level == 0
    values = sim.option_values()
    for f in chip.option_fields:
        assert values.get(f.name) == f.default, (
            f"{chip.name} {f.name}: sim {values.get(f.name)} table {f.default}"
        )


def test_part_without_flash_builds() -> None:
    chip = next(c for c in all_chips() if c.flash_kind.value == "none")
    sim = SimChip(chip)
    assert sim.controller is None
    assert sim.read32(chip.idcode_address) & 0xFFF == chip.dev_id
