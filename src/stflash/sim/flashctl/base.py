"""What every flash-controller model shares: the host interface, key locks, operation timers, the
register-access plumbing and the ROM-level helpers the bootloader simulators use."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from ...chips.model import Chip, Sector
from ..bus import Region, lane_value, sub_word
from ..clock import VirtualClock
from ..faults import BusFault
from ..flash_array import FlashBank
from ..timing import FlashTiming


class Host(Protocol):
    """The parts of the simulated chip a controller works on."""

    clock: VirtualClock
    chip: Chip
    timing: FlashTiming
    banks: list[FlashBank]
    otp: bytearray | None
    intrusion: bool  # a debugger has been attached since power-on, or the core booted from RAM/ROM

    def bank_at(self, address: int) -> FlashBank | None: ...

    def request_reset(self, cause: str) -> None: ...


@dataclass(frozen=True)
class RomOutcome:
    """Result of a ROM-level operation: ``error`` names the status flag the hardware raised."""

    ok: bool
    error: str | None = None
    address: int | None = None
    duration_ns: int = 0


class KeyLock:
    """A register unlocked by writing two keys in order.

    A wrong key, a third key, keying an already unlocked register or a key write narrower than
    32 bits locks it until the next reset and answers the write with a bus error.
    """

    def __init__(self, key1: int, key2: int) -> None:
        self.keys = (key1, key2)
        self.locked = True
        self.frozen = False
        self.stage = 0

    def feed(self, value: int, size: int) -> bool:
        """Take one key write; True when the write must fault."""
        if self.frozen:
            return True
        if not self.locked or size != 4 or value != self.keys[self.stage]:
            self.freeze()
            return True
        self.stage += 1
        if self.stage == 2:
            self.locked = False
            self.stage = 0
        return False

    def freeze(self) -> None:
        self.locked = True
        self.frozen = True
        self.stage = 0

    def lock(self) -> None:
        self.locked = True
        self.stage = 0

    def interrupted(self) -> None:
        """Another register of the same block was written between the two keys."""
        if self.stage:
            self.freeze()

    def reset(self) -> None:
        self.locked = True
        self.frozen = False
        self.stage = 0

    def state(self) -> dict[str, Any]:
        return {"locked": self.locked, "frozen": self.frozen, "stage": self.stage}

    def load(self, state: dict[str, Any]) -> None:
        self.locked = bool(state["locked"])
        self.frozen = bool(state["frozen"])
        self.stage = int(state["stage"])


class OpTimer:
    """One flash operation in flight on the virtual clock."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.until = 0
        self.done_flags = 0
        self.kind = ""

    @property
    def busy(self) -> bool:
        return self.clock.now < self.until

    def start(self, duration: int, done_flags: int = 0, kind: str = "") -> None:
        begin = max(self.clock.now, self.until)
        self.until = begin + duration
        self.done_flags |= done_flags
        self.kind = kind

    def stall(self) -> None:
        """The bus waits until the operation ends (the access completes afterwards)."""
        self.clock.advance_to(self.until)

    def collect(self) -> int:
        """Flags to raise now that the operation has ended (0 while it runs)."""
        if self.busy or not self.done_flags:
            return 0
        flags, self.done_flags = self.done_flags, 0
        return flags

    def finish(self) -> None:
        """A reset ends the operation at once (its effect on the cells is already applied)."""
        self.until = min(self.until, self.clock.now)

    def state(self) -> dict[str, Any]:
        return {"until": self.until, "done_flags": self.done_flags, "kind": self.kind}

    def load(self, state: dict[str, Any]) -> None:
        self.until = int(state["until"])
        self.done_flags = int(state["done_flags"])
        self.kind = str(state["kind"])


def merge(old: int, value: int, mask: int) -> int:
    return (old & ~mask) | (value & mask)


def field_get(word: int, shift: int, width: int) -> int:
    return (word >> shift) & ((1 << width) - 1)


def field_set(word: int, shift: int, width: int, value: int) -> int:
    mask = ((1 << width) - 1) << shift
    return (word & ~mask) | ((value << shift) & mask)


def rdp_level_of(byte: int) -> int:
    """RDP byte -> level, for every family but F1: 0xAA = 0, 0xCC = 2, anything else = 1."""
    return 0 if byte == 0xAA else 2 if byte == 0xCC else 1


class FlashController:
    """Base of the register-level controller models."""

    kind: ClassVar[str] = "base"
    window: ClassVar[int] = 0x400  # size of the register block
    rom_parallelism: int = 0  # PSIZE the ROM bootloader uses, in bits (0: no PSIZE)

    def __init__(self, host: Host) -> None:
        self.host = host
        self.clock = host.clock
        self.chip = host.chip
        self.timing = host.timing
        self.base = host.chip.flash_registers

    # -- bus interface --------------------------------------------------------------------------
    def read_register(self, offset: int, size: int, master: str) -> int:
        self.sync()
        return sub_word(self.reg_read(offset & ~3, master), offset & 3, size)

    def write_register(self, offset: int, size: int, value: int, master: str) -> None:
        lane, mask = lane_value(value, offset & 3, size)
        self.sync()
        self.reg_write(offset & ~3, lane, mask, size, master)
        self.sync()

    def fault(self, offset: int, reason: str) -> BusFault:
        return BusFault(self.base + offset, reason)

    # -- to implement ---------------------------------------------------------------------------
    def reg_read(self, offset: int, master: str) -> int:
        return 0

    def reg_write(self, offset: int, value: int, mask: int, size: int, master: str) -> None:
        return None

    def flash_write(self, address: int, size: int, value: int, master: str) -> None:
        raise BusFault(address, "flash is not writable on this part")

    def sync(self) -> None:
        """Raise end-of-operation flags whose time has come."""

    def timers(self) -> list[OpTimer]:
        return []

    def timer_for(self, address: int) -> OpTimer | None:
        timers = self.timers()
        return timers[0] if timers else None

    @property
    def rdp_level(self) -> int:
        return 0

    def write_protected(self, sector: Sector) -> bool:
        return False

    def boots_bootloader(self, boot0_pin: bool, flash_empty: bool) -> bool:
        return boot0_pin

    def core_boots(self, core_index: int) -> bool:
        return True

    def debug_allowed(self) -> bool:
        return True

    def reset(self, kind: str) -> None:
        """``kind``: "system", "power" or "obl" (an option-byte load that resets the chip)."""

    def option_region(self) -> Region | None:
        """The memory-mapped option-byte area, where the family has one."""
        return None

    def extra_regions(self) -> list[tuple[Region, int]]:
        return []

    def option_values(self) -> dict[str, int]:
        """Current (loaded) value of every option field of the chip that this model can place."""
        out: dict[str, int] = {}
        for f in self.chip.option_fields:
            v = self.peek_option(f.current_address or f.address, f.shift, f.width)
            if v is not None:
                out[f.name] = v
        return out

    def peek_option(self, address: int, shift: int, width: int) -> int | None:
        return None

    def poke_option(self, address: int, shift: int, width: int, value: int) -> bool:
        """Set an option field in the non-volatile store *and* as loaded (bench set-up, no timing)."""
        return False

    def stage_option(self, address: int, shift: int, width: int, value: int) -> bool:
        """Set an option field in the non-volatile store only; it applies at the next option load."""
        return False

    def erase_for_regression(self) -> None:
        """What an RDP level 1 -> 0 change erases (main flash; families add their extras)."""
        for bank in self.host.banks:
            bank.erase_all()

    def state(self) -> dict[str, Any]:
        return {}

    def load_state(self, state: dict[str, Any]) -> None:
        return None

    # -- protection helpers ---------------------------------------------------------------------
    def read_blocked(self, master: str) -> bool:
        """RDP level 1 (or 2) while a debugger is or was attached, or for the ROM bootloader."""
        return self.rdp_level >= 1 and (master != "cpu" or self.host.intrusion)

    def program_blocked(self, master: str) -> bool:
        return self.read_blocked(master)

    def check_read(self, address: int, length: int, master: str) -> None:
        """Called before main-flash reads: stalls on a busy bank and refuses protected reads."""
        timer = self.timer_for(address)
        if timer is not None and timer.busy:
            timer.stall()
            self.sync()
        if self.read_blocked(master):
            raise BusFault(address, f"flash read-out protection (RDP level {self.rdp_level})")

    def sector_of(self, address: int) -> tuple[FlashBank, Sector] | None:
        bank = self.host.bank_at(address)
        if bank is None:
            return None
        sector = bank.sector_at(address)
        return None if sector is None else (bank, sector)

    def in_otp(self, address: int, length: int = 1) -> bool:
        otp = self.chip.otp
        return otp is not None and otp.contains(address, length)

    # -- ROM-level helpers (what the system bootloader does internally) -------------------------
    def rom_erase(self, sectors: Iterable[Sector], master: str = "bootloader") -> RomOutcome:
        start = self.clock.now
        for sector in sectors:
            self.wait_idle()
            error = self.erase_unit(sector, master, self.rom_parallelism)
            self.wait_idle()
            if error:
                return RomOutcome(False, error, sector.address, self.clock.now - start)
        return RomOutcome(True, None, None, self.clock.now - start)

    def rom_mass_erase(self, master: str = "bootloader") -> RomOutcome:
        start = self.clock.now
        self.wait_idle()
        error = self.erase_banks(list(self.host.banks), master, self.rom_parallelism)
        self.wait_idle()
        return RomOutcome(error is None, error, None, self.clock.now - start)

    def rom_program(self, address: int, data: bytes, master: str = "bootloader") -> RomOutcome:
        start = self.clock.now
        unit = self.rom_unit()
        pad = bytes([self.chip.erased_value if not self.in_otp(address) else 0xFF])
        head = address % unit
        blob = pad * head + bytes(data)
        blob += pad * (-len(blob) % unit)
        first = address - head
        for off in range(0, len(blob), unit):
            self.wait_idle()
            error = self.program_unit(first + off, blob[off : off + unit], master, self.rom_parallelism)
            self.wait_idle()
            if error:
                return RomOutcome(False, error, first + off, self.clock.now - start)
        return RomOutcome(True, None, None, self.clock.now - start)

    def wait_idle(self) -> None:
        for t in self.timers():
            t.stall()
        self.sync()

    def rom_unit(self) -> int:
        return self.chip.write_unit

    # primitives shared by the register paths and the ROM helpers; return an error flag name
    def erase_unit(self, sector: Sector, master: str, parallelism: int) -> str | None:
        return "unsupported"

    def erase_banks(self, banks: list[FlashBank], master: str, parallelism: int) -> str | None:
        return "unsupported"

    def program_unit(self, address: int, data: bytes, master: str, parallelism: int) -> str | None:
        return "unsupported"
