"""An in-memory link for testing the session's plan execution (erase/write/verify bookkeeping).

It is deliberately dumb: the virtual bench models the silicon; this only lets a test make a
link fail at a chosen point to check what the user is told.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from stflash.chips.model import Chip, Sector
from stflash.errors import LinkError
from stflash.target import TargetInfo


class FakeLink:
    link = "fake"

    def __init__(self, chip: Chip, fail_after_programs: int | None = None, corrupt: bool = False,
                 crc: bool = False) -> None:
        self.chip = chip
        self.flash = bytearray([chip.erased_value]) * chip.flash_size
        self.fail_after_programs = fail_after_programs
        self.corrupt = corrupt
        self.crc = crc
        self.programs = 0
        self.erased: list[int] = []

    def _off(self, address: int) -> int:
        return address - self.chip.flash_base

    def identify(self) -> TargetInfo:
        return TargetInfo("fake", self.chip, dev_id=self.chip.dev_id)

    def read(self, address: int, length: int) -> bytes:
        data = bytes(self.flash[self._off(address) : self._off(address) + length])
        if self.corrupt and data:
            data = bytes([data[0] ^ 0x01]) + data[1:]
        return data

    def erase_sectors(self, sectors: Sequence[Sector], *, skip_blank: bool = False) -> None:
        for s in sectors:
            self.erased.append(s.address)
            o = self._off(s.address)
            self.flash[o : o + s.size] = bytes([self.chip.erased_value]) * s.size

    def mass_erase(self, *, skip_blank: bool = False) -> None:
        self.flash[:] = bytes([self.chip.erased_value]) * len(self.flash)

    def program(self, address: int, data: bytes) -> None:
        if self.fail_after_programs is not None and self.programs >= self.fail_after_programs:
            raise LinkError("USB device disconnected")
        self.programs += 1
        o = self._off(address)
        self.flash[o : o + len(data)] = data

    def sector_crcs(self, sectors: Sequence[Sector]) -> dict[int, int] | None:
        if not self.crc:
            return None
        return {s.index: zlib.crc32(self.read(s.address, s.size)) & 0xFFFFFFFF for s in sectors}

    def reset(self, run: bool = True) -> None:
        pass

    def read_option_bytes(self) -> dict[str, int]:
        return {f.name: f.default for f in self.chip.option_fields}

    def write_option_bytes(self, values: dict[str, int]) -> None:
        pass

    def close(self) -> None:
        pass
