"""Where each option register sits in the memory-mapped option-byte area a bootloader reads
and rewrites (UART Write Memory at the area base, DfuSe "Option Bytes" alternate), per flash
controller design.

Option fields in the chip table are defined on the registers a debugger programs (FLASH_OPTCR,
FLASH_OPTR...) or, for F0/F1/F3 and L0/L1, directly on the area's words. This module maps the
former onto the area (the value half-word or word, followed by its complement) so the bootloader
links can show and change fields by name. The H7 has no such area: its DFU ROM shows the FLASH
option registers themselves (``register_window``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .model import Chip, FlashKind, OptionField


@dataclass(frozen=True)
class AreaSlot:
    """Register bits [shift, shift+bits) are stored at ``address`` (little-endian), and their
    bitwise complement right after them."""

    register: int
    shift: int
    bits: int
    address: int


def slots(chip: Chip) -> list[AreaSlot]:
    """Slots for register-based fields; empty when fields already address the area itself."""
    ob = chip.option_bytes
    if ob is None:
        return []
    kind = chip.flash_kind
    regs = sorted({f.address for f in chip.option_fields})
    if kind is FlashKind.F2_F4:
        optcr = chip.flash_registers + 0x14
        out = [AreaSlot(optcr, 0, 16, ob.start), AreaSlot(optcr, 16, 16, ob.start + 8)]
        if optcr + 4 in regs:  # F42x/F43x: bank-2 write protection in the bank-2 area (RM0090 3.6)
            out.append(AreaSlot(optcr + 4, 16, 16, ob.start - 0x1_0000 + 8))
        return out
    if kind is FlashKind.F7:
        optcr = chip.flash_registers + 0x14
        return [AreaSlot(optcr, 0, 16, ob.start), AreaSlot(optcr, 16, 16, ob.start + 8),
                AreaSlot(optcr + 4, 0, 16, ob.start + 0x10), AreaSlot(optcr + 4, 16, 16, ob.start + 0x18)]
    if kind in (FlashKind.L4, FlashKind.G0, FlashKind.G4, FlashKind.WB):
        optr = chip.flash_registers + 0x20
        # each option register as a 64-bit pair (value, complement), in register order from OPTR
        return [AreaSlot(reg, 0, 32, ob.start + (reg - optr) * 2) for reg in regs]
    return []


def _in_area(chip: Chip, f: OptionField) -> bool:
    ob = chip.option_bytes
    return ob is not None and ob.contains(f.address)


def supported(chip: Chip) -> bool:
    if chip.option_bytes is None or chip.flash_kind is FlashKind.H7:
        return False
    return all(_in_area(chip, f) or _slot_for(chip, f) is not None for f in chip.option_fields)


def _slot_for(chip: Chip, f: OptionField) -> AreaSlot | None:
    for s in slots(chip):
        if s.register == f.address and s.shift <= f.shift and f.shift + f.width <= s.shift + s.bits:
            return s
    return None


def area_spans(chip: Chip) -> list[tuple[int, int]]:
    """(address, length) ranges to read: the area, plus any slot outside it."""
    ob = chip.option_bytes
    assert ob is not None
    spans = [(ob.start, ob.size)]
    for s in slots(chip):
        if not ob.contains(s.address):
            spans.append((s.address, 8))
    return spans


def _locate(spans: Mapping[int, bytes | bytearray], address: int, size: int) -> tuple[int, int]:
    """(span base, offset in it) of ``size`` bytes at ``address``; KeyError if no span holds them."""
    for base, data in spans.items():
        if base <= address and address + size <= base + len(data):
            return base, address - base
    raise KeyError(address)


def _get(spans: Mapping[int, bytes | bytearray], address: int, size: int) -> int:
    base, off = _locate(spans, address, size)
    return int.from_bytes(spans[base][off : off + size], "little")


def _put(spans: dict[int, bytearray], address: int, value: int, size: int) -> None:
    base, off = _locate(spans, address, size)
    spans[base][off : off + size] = value.to_bytes(size, "little")


def decode(chip: Chip, memory: dict[int, bytes]) -> dict[str, int]:
    """Field values from raw spans (address -> bytes, as read); fields outside them are left out."""
    out: dict[str, int] = {}
    for f in chip.option_fields:
        try:
            if _in_area(chip, f):
                out[f.name] = f.extract(_get(memory, f.address, 4))
                continue
            s = _slot_for(chip, f)
            if s is None:
                continue
            out[f.name] = f.extract(_get(memory, s.address, s.bits // 8) << s.shift)
        except KeyError:
            continue  # not in what the bootloader let us read
    return out


def encode(chip: Chip, memory: dict[int, bytes], values: dict[str, int]) -> dict[int, bytes]:
    """New raw spans with ``values`` applied and every complement recomputed."""
    spans = {a: bytearray(d) for a, d in memory.items()}
    for name, value in values.items():
        f = chip.option_field(name)
        if f is None:
            raise KeyError(name)
        if _in_area(chip, f):
            _put(spans, f.address, f.insert(_get(spans, f.address, 4), value), 4)
            continue
        s = _slot_for(chip, f)
        if s is None:
            raise KeyError(name)
        size = s.bits // 8
        reg = _get(spans, s.address, size) << s.shift
        _put(spans, s.address, (f.insert(reg, value) >> s.shift) & ((1 << s.bits) - 1), size)
    _fix_complements(chip, spans)
    return {a: bytes(d) for a, d in spans.items()}


def _fix_complements(chip: Chip, spans: dict[int, bytearray]) -> None:
    kind = chip.flash_kind
    for base, data in spans.items():
        if kind is FlashKind.F0_F1_F3:
            for i in range(0, len(data) - 1, 2):  # value byte, complement byte
                data[i + 1] = data[i] ^ 0xFF
        elif kind is FlashKind.L0_L1:
            for i in range(0, len(data) - 3, 4):  # value half-word, complement half-word
                value = int.from_bytes(data[i : i + 2], "little")
                data[i + 2 : i + 4] = (value ^ 0xFFFF).to_bytes(2, "little")
        else:
            for s in slots(chip):
                if base <= s.address < base + len(data):
                    off, size = s.address - base, s.bits // 8
                    value = int.from_bytes(data[off : off + size], "little")
                    data[off + size : off + 2 * size] = (value ^ ((1 << s.bits) - 1)).to_bytes(size, "little")


# -- the H7: option registers instead of an area ---------------------------------------------------
def register_window(chip: Chip) -> bool:
    """Does the chip keep its options in FLASH registers only (no memory-mapped area)?"""
    return chip.option_bytes is None and chip.flash_kind is FlashKind.H7 and bool(chip.option_fields)


def decode_registers(chip: Chip, start: int, data: bytes) -> dict[str, int]:
    """Field values from a copy of the option registers from ``start``: each field from the
    register holding its value in force (``*_CUR``), else from its own register."""
    out: dict[str, int] = {}
    for f in chip.option_fields:
        offset = (f.current_address or f.address) - start
        if offset >= 0 and offset + 4 <= len(data):
            out[f.name] = f.extract(int.from_bytes(data[offset : offset + 4], "little"))
    return out


def encode_registers(chip: Chip, start: int, data: bytes, values: dict[str, int]) -> bytes:
    """The register copy with ``values`` put into the registers a change is programmed through
    (``*_PRG``); KeyError names a field outside the copy."""
    out = bytearray(data)
    for name, value in values.items():
        f = chip.option_field(name)
        if f is None:
            raise KeyError(name)
        offset = f.address - start
        if offset < 0 or offset + 4 > len(out):
            raise KeyError(name)
        word = int.from_bytes(out[offset : offset + 4], "little")
        out[offset : offset + 4] = f.insert(word, value).to_bytes(4, "little")
    return bytes(out)
