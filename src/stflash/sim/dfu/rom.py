"""What the STM32 ROM's DFU device looks like per family: USB identity, the memory-map strings of
its alternate settings, and the timing it reports (dfu.md §2.11, §3.2).

Two ROM generations are in the field: the older one ("STM32  BOOTLOADER", bcdDevice 0x2x00,
USB 1.00, 2048-byte transfers, alternate names padded with two spaces) on F0/F3/F2/F4/F7/L1/L4,
and the newer one ("DFU in FS Mode", bcdDevice 0x0200, names padded with three spaces) on G0, G4,
WB and H7. Strings are built from the chip's sectors in the number format each ROM uses; where a
real ROM was seen to report something else for its DEV_ID (H74x/H75x always 16 sectors, the F72x
strings with their odd "01*64Kg"), that observation wins.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from ...chips.model import Chip, FlashKind, Sector, sectors_of
from ..identity import unique_id

LEGACY_PRODUCT = "STM32  BOOTLOADER"  # two spaces, verbatim
NEW_PRODUCT = "DFU in FS Mode"
MANUFACTURER = "STMicroelectronics"
FEATURE_ADDRESS = 0xFFFF_0000  # "Device Feature" pseudo memory of the older ROMs
H7_OPTION_REGISTERS = 0x5200_201C  # the H7 ROM's "option bytes" are FLASH_OPTSR_CUR onwards

# bwPollTimeout the ROM reports in the first GETSTATUS after each operation, in ms. Observed: set
# address 5 ms and a 2048-byte write 104 ms (F745, fwupd logs), mass erase 100 ms (F405, dfu-util
# comment: the real erase takes up to 32 s). Page erase, read unprotect and option writes are not
# documented: 100 ms like the mass erase (UNCONFIRMED policy). The manifest value is ST's USB
# library's 1 ms. The true durations come from the flash model; an early GETSTATUS waits for them.
POLL_MS: Mapping[str, int] = {
    "address": 5,
    "erase": 100,
    "mass": 100,
    "write": 104,
    "unprotect": 100,
    "options": 100,
    "manifest": 1,
}

# Families whose ROM answers the first GETSTATUS after enumeration with dfuERROR/errFIRMWARE
# (dfu.md Q1: F0 with ROM 0x2200, F405/F407, F745 logs); hosts clear it with CLRSTATUS.
BOOTS_IN_ERROR = (FlashKind.F0_F1_F3, FlashKind.F2_F4, FlashKind.F7)
# Families whose ROM refuses Set Address Pointer under RDP level 1 with errVENDOR (dfu.md §2.5:
# observed on F4/F7 by Betaflight, against AN3156 which allows it).
RDP_BLOCKS_SET_ADDRESS = (FlashKind.F2_F4, FlashKind.F7)
# H743: the first status answer after a sector erase arrives when the erase is over (dfu.md §6.2).
ERASE_BEFORE_STATUS = (FlashKind.H7,)

# Memory-map strings a real ROM reports for its DEV_ID, whatever the part's own flash size.
_FLASH_BY_DEV_ID = {
    0x450: "@Internal Flash   /0x08000000/16*128Kg",  # H74x/H75x (an H750 ROM reports 16 sectors)
    0x483: "@Internal Flash   /0x08000000/8*128Kg",  # H72x/H73x
}
_ALTS_BY_DEV_ID = {
    0x452: (  # F72x/F73x, Betaflight's dump of a real ROM
        "@Internal Flash  /0x08000000/04*016Kg,01*64Kg,03*128Kg",
        "@Option Bytes  /0x1FFF0000/01*048 e",
        "@OTP Memory /0x1FF07800/01*528e",
        "@Device Feature/0xFFFF0000/01*004 e",
    ),
}
_H7_OPTION_SIZE = {0x450: 128, 0x483: 88}  # bytes of FLASH option registers on the alt (observed)
_G0_OPTION_SIZE = 40  # the G0 ROM lists the first five option words (observed "01*40Be")


@dataclass(frozen=True)
class RomVariant:
    """A ROM version whose DFU side misbehaves in a known way (``sim set DIR dfu-rom=NAME``)."""

    name: str
    dev_ids: tuple[int, ...]
    summary: str
    bank2_erase_stays_busy: bool = False
    mass_erase_ignored: bool = False


ROM_VARIANTS: dict[str, RomVariant] = {
    v.name: v
    for v in (
        # dfu.md Q5/Q6: a Nucleo-H743ZI2 (rev V) under STM32CubeProgrammer answers dfuDNBUSY to the
        # second GETSTATUS of every sector erase from 0x08100000 on, after the poll timeout too;
        # CubeProgrammer sends CLRSTATUS (-> errUNKNOWN/dfuERROR), CLRSTATUS (-> OK/dfuIDLE) and
        # takes the erase as done (ST community thread, Betaflight's comment). dfu-util waits on
        # dfuDNBUSY for ever: "cannot erase bank 2" with rev V, bootloader 0x90. The erase itself is
        # done here (the log shows the first answer after the erase time); whether every rev V
        # erase completes is not known.
        RomVariant("h7-rev-v", (0x450,),
                   "H743/H753 rev V ROM (bootloader 0x90): a bank-2 sector erase never leaves dfuDNBUSY; "
                   "two CLRSTATUS get back to dfuIDLE",
                   bank2_erase_stays_busy=True),
        # dfu.md Q7 / AN2606 known limitation: "DFU bootloader mass-erase not working" on H74x/H75x
        # bootloader V13.3 (0xD3). How it fails is not said: modelled (UNCONFIRMED) as the worst case
        # for a host, the command answered OK with nothing erased.
        RomVariant("h7-v13.3", (0x450,),
                   "H74x/H75x bootloader V13.3 (0xD3): DFU mass erase answers OK and erases nothing",
                   mass_erase_ignored=True),
    )
}


def check_variant(chip: Chip, name: str) -> str | None:
    """None when ``name`` is a ROM variant of this part (or "" for the ordinary ROM), else why not."""
    if not name:
        return None
    variant = ROM_VARIANTS.get(name)
    if variant is None:
        return f"unknown DFU ROM variant {name!r}; known: {', '.join(ROM_VARIANTS)}"
    if chip.dev_id not in variant.dev_ids:
        return f"{name} is a ROM of DEV_ID {', '.join(f'{d:#05x}' for d in variant.dev_ids)}, not of {chip.name}"
    return None


@dataclass(frozen=True)
class Segment:
    """``count`` units of ``unit`` bytes from ``start``, with the DfuSe type letter's rights."""

    start: int
    unit: int
    count: int
    letter: str

    @property
    def end(self) -> int:
        return self.start + self.unit * self.count

    @property
    def readable(self) -> bool:
        return bool((ord(self.letter) - 0x60) & 1)

    @property
    def erasable(self) -> bool:
        return bool((ord(self.letter) - 0x60) & 2)

    @property
    def writable(self) -> bool:
        return bool((ord(self.letter) - 0x60) & 4)


@dataclass(frozen=True)
class Alt:
    """One alternate setting: its iInterface string and the memory it describes."""

    text: str
    kind: str  # "flash" | "option" | "otp" | "feature"
    segments: tuple[Segment, ...]
    groups: tuple[tuple[int, int], ...]  # (start, size) of each "/address/segments" group


@dataclass(frozen=True)
class DfuRom:
    product: str
    bcd_device: int
    bcd_usb: int
    transfer_size: int
    alts: tuple[Alt, ...]
    boots_in_error: bool
    rdp_blocks_set_address: bool
    erase_before_status: bool
    poll_ms: Mapping[str, int] = field(default_factory=lambda: POLL_MS)
    bank2_erase_stays_busy: bool = False  # ROM_VARIANTS
    mass_erase_ignored: bool = False


_SEGMENT = re.compile(r"(\d+)\*(\d+)([BKM ]?)([a-g])")
_KINDS = (("Internal Flash", "flash"), ("Option Bytes", "option"), ("OTP Memory", "otp"),
          ("Device Feature", "feature"))


def parse_alt(text: str) -> Alt:
    """Read back a memory-map string (UM0424 grammar, several address groups allowed)."""
    name, *rest = text[1:].split("/")
    kind = next(k for prefix, k in _KINDS if name.startswith(prefix))
    segments: list[Segment] = []
    groups: list[tuple[int, int]] = []
    for addr_text, segs in zip(rest[0::2], rest[1::2], strict=True):
        start = address = int(addr_text, 16)
        for seg in segs.split(","):
            m = _SEGMENT.fullmatch(seg)
            if m is None:
                raise ValueError(f"bad segment {seg!r} in {text!r}")
            unit = int(m[2]) * {"K": 1024, "M": 1 << 20}.get(m[3], 1)
            segments.append(Segment(address, unit, int(m[1]), m[4]))
            address += unit * int(m[1])
        groups.append((start, address - start))
    return Alt(text, kind, tuple(segments), tuple(groups))


def _flash_text(name: str, sectors: list[Sector], count_width: int, size_width: int) -> str:
    """``@<name>/0x<start>/<n>*<size>Kg,...`` with one address group per contiguous stretch."""
    groups: list[tuple[int, list[list[int]]]] = []  # (start, [[size, count], ...])
    end = None
    for s in sectors:
        if end != s.address:
            groups.append((s.address, []))
        runs = groups[-1][1]
        if runs and runs[-1][0] == s.size:
            runs[-1][1] += 1
        else:
            runs.append([s.size, 1])
        end = s.end
    out = "@" + name
    for start, runs in groups:
        segs = ",".join(_seg(count, size, count_width, size_width, "g") for size, count in runs)
        out += f"/0x{start:08X}/{segs}"
    return out


def _seg(count: int, size: int, count_width: int, size_width: int, letter: str) -> str:
    if size % 1024 == 0:
        return f"{count:0{count_width}d}*{size // 1024:0{size_width}d}K{letter}"
    return f"{count:0{count_width}d}*{size:0{size_width}d} {letter}"


def _legacy_alts(chip: Chip, sectors: list[Sector], bcd: int) -> list[str]:
    kind, ob, otp = chip.flash_kind, chip.option_bytes, chip.otp
    if chip.dev_id in _ALTS_BY_DEV_ID:
        return list(_ALTS_BY_DEV_ID[chip.dev_id])
    widths = {FlashKind.F2_F4: (2, 3), FlashKind.F7: (2, 3), FlashKind.L4: (4, 4)}.get(kind, (3, 4))
    alts = [_flash_text("Internal Flash  ", sectors, *widths)]
    # the F405/F407 ROM 0x2100 marks OB/OTP/feature 'g'; every later ROM seen says 'e'
    t = "g" if kind is FlashKind.F2_F4 and bcd == 0x2100 else "e"
    if ob is not None:
        alts.append(f"@Option Bytes  /0x{ob.start:08X}/01*{ob.size:03d} {t}")
    if otp is not None and kind is FlashKind.F2_F4:
        alts.append(f"@OTP Memory /0x{otp.start:08X}/01*{otp.size - 16:03d} {t},01*016 {t}")
    elif otp is not None and kind is FlashKind.F7:
        alts.append(f"@OTP Memory /0x{otp.start:08X}/01*{otp.size:03d}e")
    elif otp is not None and kind is FlashKind.L4:
        alts.append(f"@OTP Memory /0x{otp.start:08X}/01*{otp.size // 1024:04d}Ke")
    if kind in (FlashKind.F2_F4, FlashKind.F7, FlashKind.L4):
        alts.append(f"@Device Feature/0x{FEATURE_ADDRESS:08X}/01*004 {t}")
    return alts


def _new_alts(chip: Chip, sectors: list[Sector]) -> list[str]:
    kind, ob, otp = chip.flash_kind, chip.option_bytes, chip.otp
    alts = [_FLASH_BY_DEV_ID.get(chip.dev_id) or _flash_text("Internal Flash   ", sectors, 1, 2)]
    if kind is FlashKind.H7:
        size = _H7_OPTION_SIZE.get(chip.dev_id, 128)
        alts.append(f"@Option Bytes   /0x{H7_OPTION_REGISTERS:08X}/01*{size} e")
    elif kind is FlashKind.G0 and ob is not None:
        alts.append(f"@Option Bytes   /0x{ob.start:08X}/01*{_G0_OPTION_SIZE}Be")
    elif kind is FlashKind.G4 and ob is not None:  # bank 2's option words follow at 0x1FFFF800
        alts.append(f"@Option Bytes   /0x{ob.start:08X}/01*{ob.size:03d} e/0x1FFFF800/01*{ob.size:03d} e")
    elif ob is not None:
        alts.append(f"@Option Bytes   /0x{ob.start:08X}/01*{ob.size:03d} e")
    if otp is not None and kind is FlashKind.G0:
        alts.append(f"@OTP Memory   /0x{otp.start:08X}/01*{otp.size // 1024:02d}Ke")
    elif otp is not None and kind is FlashKind.G4:
        alts.append(f"@OTP Memory   /0x{otp.start:08X}/01*{otp.size} e")
    return alts


NEW_GENERATION = (FlashKind.G0, FlashKind.G4, FlashKind.WB, FlashKind.H7)


@lru_cache(maxsize=64)
def _rom(chip: Chip, layout: tuple[tuple[int, int], ...], variant: str = "") -> DfuRom:
    banks = [b for b in [chip.banks, *(g.banks for g in chip.alt_geometries)]
             if [(x.base, x.size) for x in b] == list(layout)]
    sectors = sectors_of(banks[0] if banks else chip.banks)
    kind = chip.flash_kind
    quirks = ROM_VARIANTS.get(variant)
    if kind in NEW_GENERATION:
        texts = _new_alts(chip, sectors)
        product, bcd, usb, xfer = NEW_PRODUCT, chip.bootloader.dfu_version or 0x0200, 0x0200, 1024
    else:
        bcd = chip.bootloader.dfu_version or 0x2200
        texts = _legacy_alts(chip, sectors, bcd)
        product, usb, xfer = LEGACY_PRODUCT, 0x0100, 2048
    return DfuRom(
        product=product,
        bcd_device=bcd,
        bcd_usb=usb,
        transfer_size=xfer,
        alts=tuple(parse_alt(t) for t in texts),
        boots_in_error=kind in BOOTS_IN_ERROR,
        rdp_blocks_set_address=kind in RDP_BLOCKS_SET_ADDRESS,
        erase_before_status=kind in ERASE_BEFORE_STATUS,
        bank2_erase_stays_busy=quirks is not None and quirks.bank2_erase_stays_busy,
        mass_erase_ignored=quirks is not None and quirks.mass_erase_ignored,
    )


def rom_for(chip: Chip, layout: list[tuple[int, int]], variant: str = "") -> DfuRom:
    """The ROM's DFU personality for this part in its current bank layout (and ROM variant)."""
    return _rom(chip, tuple(layout), variant if check_variant(chip, variant) is None else "")


def serial_number(chip: Chip, seed: int) -> str:
    """12 hex digits: UID word 0 + word 2 (32-bit sum), then the top half of word 1 — the ROM's
    formula (dfu.md §2.11; UID 00580027 3331500B 20333153 gives "208B317A3331")."""
    return serial_from_uid(unique_id(chip, seed))


def serial_from_uid(uid: bytes) -> str:
    w0, w1, w2 = (int.from_bytes(uid[i : i + 4], "little") for i in (0, 4, 8))
    return f"{(w0 + w2) & 0xFFFF_FFFF:08X}{w1 >> 16:04X}"
