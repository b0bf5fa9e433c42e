"""Option-byte images as a DfuSe host writes them to the "Option Bytes" alternate setting, turned
back into option-field values for ``SimChip.rom_change_options``.

The image has the layout the chip shows when the same area is read (the memory-mapped option
bytes, or on H7 the FLASH option registers from OPTSR_CUR on), so a host can read the area,
change some bits and write it back, as STM32CubeProgrammer does.
"""

from __future__ import annotations

from ...chips.model import Chip, FlashKind, OptionField

_L4_CLASS = (FlashKind.L4, FlashKind.G0, FlashKind.G4, FlashKind.WB)


def _word(image: bytes, offset: int, size: int = 4) -> int | None:
    if offset < 0 or offset + size > len(image):
        return None
    return int.from_bytes(image[offset : offset + size], "little")


def _register_word(chip: Chip, f: OptionField, image: bytes, start: int) -> int | None:
    """The option register (or option word) holding ``f``, as the image at ``start`` gives it."""
    kind = chip.flash_kind
    if kind in (FlashKind.F0_F1_F3, FlashKind.L0_L1, FlashKind.H7):
        return _word(image, f.address - start)  # fields are addressed inside the area itself
    if kind in _L4_CLASS:  # each register as a 64-bit (value, complement) pair, in register order
        return _word(image, (f.address - chip.flash_registers - 0x20) * 2)
    if kind in (FlashKind.F2_F4, FlashKind.F7):  # 16-bit halves of OPTCR/OPTCR1, one per 64-bit slot
        slot = 2 * ((f.address - chip.flash_registers - 0x14) // 4)
        low, high = _word(image, 8 * slot, 2), _word(image, 8 * slot + 8, 2)
        if low is None or high is None:
            return None
        return low | high << 16
    return None


def decode_option_image(chip: Chip, start: int, image: bytes) -> dict[str, int]:
    """Every option field the image covers, by name."""
    out: dict[str, int] = {}
    for f in chip.option_fields:
        word = _register_word(chip, f, image, start)
        if word is not None:
            out[f.name] = f.extract(word)
    return out
