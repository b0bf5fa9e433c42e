"""What a link must offer for stflash to flash through it.

ST-LINK, DFU and UART each implement :class:`TargetLink`; the session runs plans through it,
so erase/write/verify logic, progress and partial-write reporting exist once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .chips.model import Chip, Sector

ProgressCallback = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass
class TargetInfo:
    """What identification found; ``observations`` keeps every level's answer for diagnosis."""

    link: str
    chip: Chip | None
    dev_id: int | None = None
    rev_id: int | None = None
    flash_size: int | None = None
    rdp_level: int | None = None
    probe: str | None = None
    serial: str | None = None
    observations: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"link": self.link}
        if self.chip is not None:
            out["chip"] = self.chip.name
            out["description"] = self.chip.description
            out["flash_size"] = self.flash_size if self.flash_size is not None else self.chip.flash_size
            out["sram_size"] = self.chip.ram_size
        for key in ("dev_id", "rev_id", "rdp_level", "probe", "serial"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.observations:
            out["observations"] = self.observations
        return out


class TargetLink(Protocol):
    """Operations every link provides once connected to a chip."""

    link: str

    def identify(self) -> TargetInfo: ...

    def read(self, address: int, length: int) -> bytes: ...

    def erase_sectors(self, sectors: Sequence[Sector]) -> None: ...

    def mass_erase(self) -> None: ...

    def program(self, address: int, data: bytes) -> None: ...

    def sector_crcs(self, sectors: Sequence[Sector]) -> dict[int, int] | None:
        """CRC32 of each sector computed on the far side, or None when the link cannot."""
        ...

    def reset(self, run: bool = True) -> None: ...

    def read_option_bytes(self) -> dict[str, int]: ...

    def write_option_bytes(self, values: dict[str, int]) -> None: ...

    def close(self) -> None: ...
