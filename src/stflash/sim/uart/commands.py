"""The commands of the USART bootloader (AN3155 section 3), one handler each.

A handler gets the command's bytes received so far and returns the length at which it wants to
be called again, or 0 when the command is over (after its last ACK or a NACK). Decisions depend
only on those bytes and the chip as it is, so a command may be continued by another process.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce
from typing import TYPE_CHECKING, Any

from ...chips.model import FlashKind
from ..faults import BusFault
from ..flashctl.l0l1 import PE_PELOCK, PECR, PEKEY, PEKEYR
from . import options, ramcode
from .frames import ROM_FRAMING
from .memory import GO, LOWEST_RANGE, READ, VOLTAGE_RANGE_PSIZE, WRITE, Area, area_at, write_align
from .protocol import (
    ERASE,
    EXTENDED_ERASE,
    GET,
    GET_CHECKSUM,
    GET_ID,
    GET_VERSION,
    GO_CMD,
    READ_MEMORY,
    READOUT_PROTECT,
    READOUT_UNPROTECT,
    WRITE_MEMORY,
    WRITE_PROTECT,
    WRITE_UNPROTECT,
    command_set,
)

if TYPE_CHECKING:
    from ..chip import SimChip
    from .bootloader import Ctx

# Policy (uart.md 14, open question): Read Memory validates the start address only (as the F401
# report of uart.md 3.4 shows: 256 bytes from the OTP area run on into the UID), and NACKs the
# length if any byte of the range does not answer on the bus (a real ROM would fault there).
READ_CHECKS_START_ONLY = True
WRP_ERRORS = ("WRPERR", "WRPRTERR")  # AN3155 3.6/3.7: no error is returned for protected sectors


# -- helpers --------------------------------------------------------------------------------------
def _xor(data: bytes) -> int:
    return reduce(lambda a, b: a ^ b, data, 0)


def _address(frame: bytes) -> int | None:
    """Four address bytes (MSB first) and their XOR; None when the checksum is wrong."""
    if _xor(frame) != 0:
        return None
    return int.from_bytes(frame[:4], "big")


def _done(ctx: Ctx, ok: bool) -> int:
    """The last answer of a command that did its work: ACK, or NACK when it failed."""
    if not ok:
        return ctx.nack()
    ctx.ack()
    return 0


def _psize(ctx: Ctx) -> int | None:
    """F2/F4/F7: the program/erase width the voltage range selects (None on other families)."""
    if ctx.chip.chip.flash_kind not in (FlashKind.F2_F4, FlashKind.F7):
        return None
    return VOLTAGE_RANGE_PSIZE[int(ctx.st.get("vrange", LOWEST_RANGE))]


def _with_psize(ctx: Ctx, op: Callable[[], Any]) -> Any:
    ctl = ctx.chip.controller
    psize = _psize(ctx)
    if ctl is None or psize is None:
        return op()
    saved = ctl.rom_parallelism
    ctl.rom_parallelism = psize
    try:
        return op()
    finally:
        ctl.rom_parallelism = saved


# -- commands ---------------------------------------------------------------------------------------
def _get(ctx: Ctx, buf: bytes) -> int:
    version, codes = command_set(ctx.bench)
    if ctx.ack():
        ctx.emit(bytes([len(codes), version, *codes]))
        ctx.ack()
    return 0


def _get_version(ctx: Ctx, buf: bytes) -> int:
    version, _codes = command_set(ctx.bench)
    if ctx.ack():
        ctx.emit(bytes([version, 0x00, 0x00]))  # AN3155 3.2: two legacy bytes, 0 on all parts
        ctx.ack()
    return 0


def _get_id(ctx: Ctx, buf: bytes) -> int:
    pid = ctx.chip.chip.dev_id
    if ctx.ack():
        ctx.emit(bytes([1, pid >> 8, pid & 0xFF]))
        ctx.ack()
    return 0


def _start_area(ctx: Ctx, frame: bytes, what: str) -> tuple[int, Area] | None:
    address = _address(frame)
    if address is None:
        return None
    area = area_at(ctx.chip, address)
    if area is None or not area.allows(what):
        return None
    return address, area


def _read_memory(ctx: Ctx, buf: bytes) -> int:
    if len(buf) == 2:
        return 7 if ctx.ack() else 0
    if len(buf) == 7:
        if _start_area(ctx, buf[2:7], READ) is None:
            return ctx.nack()
        return 9 if ctx.ack() else 0
    count = buf[7]
    if buf[8] != count ^ 0xFF:
        return ctx.nack()
    address = int.from_bytes(buf[2:6], "big")
    area = area_at(ctx.chip, address)
    if not READ_CHECKS_START_ONLY and (area is None or not area.contains(address, count + 1)):
        return ctx.nack()
    try:
        data = ctx.chip.rom_read(address, count + 1)
    except BusFault:
        return ctx.nack()
    if ctx.ack():
        ctx.emit(data)
    return 0


def _go(ctx: Ctx, buf: bytes) -> int:
    if len(buf) == 2:
        return 7 if ctx.ack() else 0
    found = _start_area(ctx, buf[2:7], GO)
    if found is None:
        return ctx.nack()
    if not ctx.ack():
        return 0
    address, area = found
    chip = ctx.chip
    if area.kind == "ram":
        # the code runs on the core once the ACK has left the ROM's TX pin (ramcode.py)
        ramcode.start(ctx.bench, address, chip.clock.now + ROM_FRAMING.char_ns(int(ctx.st["baud"]) or 115200))
    else:
        # the ROM loads MSP and PC from the vector table at the address: the application runs
        chip.boot_source = "flash"
        chip.events.append((chip.clock.now, f"UART bootloader Go {address:#010x}: the application runs"))
    return 0


def _write_memory(ctx: Ctx, buf: bytes) -> int:
    if len(buf) == 2:
        return 7 if ctx.ack() else 0
    if len(buf) == 7:
        found = _start_area(ctx, buf[2:7], WRITE)
        if found is None or (found[1].kind == "options" and found[0] != found[1].start):
            return ctx.nack()  # option bytes are written from the area's base only (AN3155 3.6)
        return 8 if ctx.ack() else 0
    if len(buf) == 8:
        return 8 + buf[7] + 2
    count = buf[7] + 1
    data = buf[8 : 8 + count]
    if _xor(buf[7:]) != 0 or count % 4:
        return ctx.nack()
    address = int.from_bytes(buf[2:6], "big")
    area = area_at(ctx.chip, address)
    if area is None or not area.contains(address, count):
        return ctx.nack()
    if area.kind == "options":
        stages = options.image_stages(ctx.chip, data)
        return _options_change(ctx, stages, options.rdp_in(ctx.chip, stages),
                               "UART bootloader reset after an option-byte write")
    return _done(ctx, _store(ctx, address, area, data))


def _store(ctx: Ctx, address: int, area: Area, data: bytes) -> bool:
    chip = ctx.chip
    if area.kind == "vbyte":
        if address != area.start or len(data) != 4 or data[0] not in VOLTAGE_RANGE_PSIZE or data[1:] != b"\xff" * 3:
            return False
        ctx.st["vrange"] = data[0]
        return True
    if area.kind == "ram":
        chip.rom_program(address, data)
        return True
    if area.kind == "eeprom":
        return _eeprom_write(chip, address, data)
    if area.kind == "flash" and address % write_align(chip.chip):
        return False  # AN2606 Table 7: unaligned flash writes fail
    outcome = _with_psize(ctx, lambda: chip.rom_program(address, data))
    psize = _psize(ctx)
    ctl = chip.controller
    if outcome.ok and psize is not None and ctl is not None:
        # the controller model programs whole words; the ROM at x8/x16 needs one operation per
        # byte/halfword, each taking the datasheet program time
        unit = ctl.rom_unit()
        done = -(-len(data) // unit)
        needed = -(-len(data) // (psize // 8))
        if needed > done:
            chip.clock.advance((needed - done) * chip.timing.program_ns(psize))
    return outcome.ok or outcome.error in WRP_ERRORS


def _eeprom_write(chip: SimChip, address: int, data: bytes) -> bool:
    """L0/L1 data EEPROM: the ROM unlocks PECR, writes the words (each replaces the old one) and
    locks again."""
    regs = chip.chip.flash_registers
    try:
        for key in PEKEY:
            chip.write(regs + PEKEYR, 4, key, "bootloader")
        for off in range(0, len(data), 4):
            chip.write(address + off, 4, int.from_bytes(data[off : off + 4], "little"), "bootloader")
            chip.wait_idle()
        chip.write(regs + PECR, 4, PE_PELOCK, "bootloader")
    except BusFault:
        return False
    return chip.rom_read(address, len(data)) == data


def _erase_pages(ctx: Ctx, pages: list[int]) -> int:
    sectors = ctx.chip.sectors()
    if any(p >= len(sectors) for p in pages):
        return ctx.nack()
    outcome = _with_psize(ctx, lambda: ctx.chip.rom_erase(pages))
    return _done(ctx, outcome.ok or outcome.error in WRP_ERRORS)


def _mass_erase(ctx: Ctx, bank: int | None) -> int:
    """Global (``bank`` None) or bank mass erase; NACK on parts whose ROM has none (L0/L1)."""
    chip = ctx.chip
    ctl = chip.controller
    if not chip.chip.bootloader.mass_erase or ctl is None:
        return ctx.nack()
    if bank is None:
        outcome = _with_psize(ctx, chip.rom_mass_erase)
        ok = outcome.ok
    else:
        if bank >= len(chip.banks):
            return ctx.nack()
        ctl.wait_idle()
        error = _with_psize(ctx, lambda: ctl.erase_banks([chip.banks[bank]], "bootloader", ctl.rom_parallelism))
        chip.wait_idle()
        ok = error is None
    return _done(ctx, ok)


def _erase(ctx: Ctx, buf: bytes) -> int:
    """Erase (0x43), protocol V2.x: one-byte page numbers, 0xFF 0x00 = global erase."""
    if len(buf) == 2:
        return 3 if ctx.ack() else 0
    if len(buf) == 3:
        return 4 if buf[2] == 0xFF else 3 + buf[2] + 2
    if buf[2] == 0xFF:
        if buf[3] != 0x00:
            ctx.ack()  # AN3155 3.7 note: no mass erase, but an ACK
            return 0
        return _mass_erase(ctx, None)
    if _xor(buf[2:]) != 0:
        return ctx.nack()
    return _erase_pages(ctx, list(buf[3:-1]))


def _extended_erase(ctx: Ctx, buf: bytes) -> int:
    """Extended Erase (0x44), protocol V3.0+: two-byte page numbers and special codes."""
    if len(buf) == 2:
        return 4 if ctx.ack() else 0
    code = buf[2] << 8 | buf[3]
    if len(buf) == 4:
        return 5 if code >= 0xFFF0 else 4 + 2 * (code + 1) + 1
    if _xor(buf[2:]) != 0:
        return ctx.nack()
    if code >= 0xFFF0:
        special = {0xFFFF: None, 0xFFFE: 0, 0xFFFD: 1}
        if code not in special:
            return ctx.nack()  # 0xFFF0-0xFFFC are reserved (AN3155 3.8)
        return _mass_erase(ctx, special[code])
    pages = [buf[i] << 8 | buf[i + 1] for i in range(4, len(buf) - 1, 2)]
    return _erase_pages(ctx, pages)


def _options_change(ctx: Ctx, stages: list[options.Stage], rdp: int | None, cause: str) -> int:
    """Program option bytes and reset as the ROM does; the last answer goes out after the reset."""
    outcome = options.apply(ctx.chip, stages, rdp, ctx.bench.board.boot0, cause)
    return _done(ctx, outcome.ok)


def _write_protect(ctx: Ctx, buf: bytes) -> int:
    if len(buf) == 2:
        return 3 if ctx.ack() else 0
    if len(buf) == 3:
        return 3 + buf[2] + 2
    if _xor(buf[2:]) != 0:
        return ctx.nack()
    return _options_change(ctx, options.protect_stages(ctx.chip, list(buf[3:-1])), None,
                           "UART bootloader reset after Write Protect")


def _write_unprotect(ctx: Ctx, buf: bytes) -> int:
    if not ctx.ack():
        return 0
    return _options_change(ctx, options.protect_stages(ctx.chip, None), None,
                           "UART bootloader reset after Write Unprotect")


def _readout_protect(ctx: Ctx, buf: bytes) -> int:
    if not ctx.ack():
        return 0
    return _options_change(ctx, [], options.rdp_value(ctx.chip, 1), "UART bootloader reset after Readout Protect")


def _readout_unprotect(ctx: Ctx, buf: bytes) -> int:
    """Policy: at level 0 the ROM rewrites level 0 and nothing is erased; only a level 1 -> 0
    change erases the flash (what the option hardware does)."""
    if not ctx.ack():
        return 0
    for region in ctx.chip.ram_regions.values():  # since V2.2 the ROM clears all RAM first (AN3155 Table 3)
        region[:] = bytes(len(region))
    return _options_change(ctx, [], options.rdp_value(ctx.chip, 0), "UART bootloader reset after Readout Unprotect")


def stm32_crc(data: bytes, polynomial: int = 0x04C1_1DB7, initial: int = 0xFFFF_FFFF) -> int:
    """The STM32 CRC unit's default mode: 32-bit little-endian words fed MSB first, no reflection,
    no final XOR (uart.md 8.5)."""
    crc = initial
    for off in range(0, len(data) - len(data) % 4, 4):
        crc ^= int.from_bytes(data[off : off + 4], "little")
        for _ in range(32):
            crc = ((crc << 1) ^ polynomial) & 0xFFFF_FFFF if crc & 0x8000_0000 else (crc << 1) & 0xFFFF_FFFF
    return crc


def _get_checksum(ctx: Ctx, buf: bytes) -> int:
    """Get Checksum (0xA1), AN3155 3.13 form: address, size in words, polynomial, initial value,
    each four bytes and their XOR, each ACKed; then ACK, CRC and its XOR."""
    if len(buf) == 2:
        return 7 if ctx.ack() else 0
    if len(buf) == 7:
        if _start_area(ctx, buf[2:7], READ) is None:
            return ctx.nack()
        return 12 if ctx.ack() else 0
    if len(buf) == 12:
        words = _address(buf[7:12])
        address = int.from_bytes(buf[2:6], "big")
        area = area_at(ctx.chip, address)
        if not words or area is None or not area.contains(address, 4 * words):
            return ctx.nack()
        return 17 if ctx.ack() else 0
    if len(buf) == 17:
        if _address(buf[12:17]) is None:
            return ctx.nack()
        return 22 if ctx.ack() else 0
    initial = _address(buf[17:22])
    if initial is None:
        return ctx.nack()
    if not ctx.ack():
        return 0
    address, words = int.from_bytes(buf[2:6], "big"), int.from_bytes(buf[7:11], "big")
    polynomial = int.from_bytes(buf[12:16], "big")
    try:
        data = ctx.chip.rom_read(address, 4 * words)
    except BusFault:
        return ctx.nack()
    crc = stm32_crc(data, polynomial, initial).to_bytes(4, "big")
    if ctx.ack():
        ctx.emit(crc + bytes([_xor(crc)]))
    return 0


HANDLERS: dict[int, Callable[[Ctx, bytes], int]] = {
    GET: _get,
    GET_VERSION: _get_version,
    GET_ID: _get_id,
    READ_MEMORY: _read_memory,
    GO_CMD: _go,
    WRITE_MEMORY: _write_memory,
    ERASE: _erase,
    EXTENDED_ERASE: _extended_erase,
    WRITE_PROTECT: _write_protect,
    WRITE_UNPROTECT: _write_unprotect,
    READOUT_PROTECT: _readout_protect,
    READOUT_UNPROTECT: _readout_unprotect,
    GET_CHECKSUM: _get_checksum,
}
