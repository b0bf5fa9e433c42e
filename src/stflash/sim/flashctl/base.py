"""What every flash-controller model shares: the host interface, key locks, operation timers, the
register-access plumbing and the ROM-level helpers the bootloader simulators use."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from ...chips.model import Chip, Sector
from ..bus import Region, WindowRegion, lane_value, sub_word
from ..clock import VirtualClock
from ..faults import BusFault
from ..flash_array import FlashBank
from ..timing import FlashTiming

# FLASH_KEYR / FLASH_OPTKEYR keys of every family but L0/L1 (F0/F1/F3 key both with KEY1/KEY2)
KEY1, KEY2 = 0x4567_0123, 0xCDEF_89AB
OPTKEY1, OPTKEY2 = 0x0819_2A3B, 0x4C5D_6E7F


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


class DoubleWordLatch:
    """64-bit programming through 32-bit writes: the word written at a double-word boundary is
    held until the word at +4 completes it (F2/F4/F7 at x64, L4-class)."""

    def __init__(self) -> None:
        self.held: tuple[int, int] | None = None  # (address, value) of the first word

    def feed(self, address: int, value: int) -> tuple[bool, tuple[int, bytes] | None]:
        """One 32-bit write: (aligned, the completed double word as (address, 8 bytes) or None).
        A first word off a double-word boundary, or a second one not at +4, is misaligned."""
        if self.held is None:
            if address % 8:
                return False, None
            self.held = (address, value)
            return True, None
        first, low = self.held
        self.held = None
        if address != first + 4:
            return False, None
        return True, (first, (low | (value << 32)).to_bytes(8, "little"))

    def clear(self) -> None:
        self.held = None

    def state(self) -> list[int] | None:
        return list(self.held) if self.held else None

    def load(self, saved: list[int] | None) -> None:
        self.held = (int(saved[0]), int(saved[1])) if saved else None


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
        if not self.done_flags or self.clock.now < self.until:  # once per flash store: no property
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

    def boot_address(self, boot0_pin: bool, core: str = "") -> int:
        """Where ``core`` fetches its vector table after a reset with this BOOT0 level: 0 (the boot
        alias) unless the part wires a boot address option to the core (F7, H7)."""
        return 0

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


class SingleSetController(FlashController):
    """F2/F4/F7 and L4-class: one KEYR/OPTKEYR/SR/CR set for every bank, one operation timer, the
    first-word latch of 64-bit programming, and the option registers kept three ways: ``nv``
    (stored), ``loaded`` (applied by the last option load) and ``regs`` (what software sees).
    FLASH_SR and FLASH_CR share these bits on both designs."""

    SR_EOP, SR_WRPERR, SR_PGAERR = 1, 1 << 4, 1 << 5
    CR_EOPIE = 1 << 24
    latch_key: ClassVar[str] = "latch"  # the latch's name in the saved state

    def __init__(self, host: Host) -> None:
        super().__init__(host)
        self.lock = KeyLock(KEY1, KEY2)
        self.optlock = KeyLock(OPTKEY1, OPTKEY2)
        self.timer = OpTimer(self.clock)
        self.latch = DoubleWordLatch()
        self.sr = 0
        self.cr = 0
        self.acr = self.acr_reset()
        self.option_map = self.option_registers()  # register offset -> option register name
        self.nv = self.factory_options()
        self.loaded = dict(self.nv)
        self.regs = dict(self.nv)

    # -- family data ----------------------------------------------------------------------------
    def acr_reset(self) -> int:
        return 0

    def option_registers(self) -> dict[int, str]:
        return {}

    def factory_options(self) -> dict[str, int]:
        return {}

    def option_image(self, offset: int, size: int, master: str) -> int:
        """A read of the option bytes' memory image (built from ``nv``)."""
        return (1 << (8 * size)) - 1

    # -- options --------------------------------------------------------------------------------
    def option_region(self) -> Region | None:
        ob = self.chip.option_bytes
        if ob is None:
            return None
        # read-only: the options change through the option registers and their start bit
        return WindowRegion("option bytes", ob.start, ob.size, self.option_image, _ignore_write)

    def peek_option(self, address: int, shift: int, width: int) -> int | None:
        name = self.option_map.get(address - self.base)
        return None if name is None else field_get(self.loaded[name], shift, width)

    def poke_option(self, address: int, shift: int, width: int, value: int) -> bool:
        name = self.option_map.get(address - self.base)
        if name is None:
            return False
        for store in (self.nv, self.loaded, self.regs):
            store[name] = field_set(store[name], shift, width, value)
        return True

    def stage_option(self, address: int, shift: int, width: int, value: int) -> bool:
        name = self.option_map.get(address - self.base)
        if name is None:
            return False
        self.nv[name] = field_set(self.nv[name], shift, width, value)
        return True

    # -- operations -----------------------------------------------------------------------------
    def timers(self) -> list[OpTimer]:
        return [self.timer]

    def sync(self) -> None:
        self.sr |= self.timer.collect()

    def eop(self) -> int:
        """EOP is only raised while EOPIE=1 on these families."""
        return self.SR_EOP if self.cr & self.CR_EOPIE else 0

    def program_pair(self, address: int, size: int, value: int, master: str, size_error: int,
                     parallelism: int) -> None:
        """A program write in 64-bit mode: 32-bit words only (else ``size_error``), paired."""
        if size != 4:
            self.sr |= size_error
            self.latch.clear()
            return
        aligned, dword = self.latch.feed(address, value)
        if not aligned:
            self.sr |= self.SR_PGAERR
        elif dword is not None:
            self.program_unit(dword[0], dword[1], master, parallelism)

    def erase_unit(self, sector: Sector, master: str, parallelism: int) -> str | None:
        if self.write_protected(sector) or self.program_blocked(master):
            self.sr |= self.SR_WRPERR
            return "WRPERR"
        self.host.banks[sector.bank].erase_sector(sector)
        width = parallelism or self.rom_parallelism
        self.timer.start(self.timing.erase_ns(sector.size, width), self.eop(), "erase")
        return None

    def erase_banks(self, banks: list[FlashBank], master: str, parallelism: int) -> str | None:
        if self.program_blocked(master) or any(self.write_protected(s) for b in banks for s in b.sectors):
            self.sr |= self.SR_WRPERR
            return "WRPERR"
        for bank in banks:
            bank.erase_all()
        self.timer.start(self.timing.mass_erase_ns(parallelism or self.rom_parallelism), self.eop(), "mass")
        return None

    # -- reset / state --------------------------------------------------------------------------
    def reset(self, kind: str) -> None:
        """The register set's part of every reset; families add their option loading."""
        self.timer.finish()
        self.lock.reset()
        self.optlock.reset()
        self.sr = 0
        self.cr = 0
        self.acr = self.acr_reset()
        self.latch.clear()

    def state(self) -> dict[str, Any]:
        return {
            "lock": self.lock.state(),
            "optlock": self.optlock.state(),
            "timer": self.timer.state(),
            "sr": self.sr,
            "cr": self.cr,
            "acr": self.acr,
            self.latch_key: self.latch.state(),
            "nv": dict(self.nv),
            "regs": dict(self.regs),
            "loaded": dict(self.loaded),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.lock.load(state["lock"])
        self.optlock.load(state["optlock"])
        self.timer.load(state["timer"])
        self.sr, self.cr, self.acr = int(state["sr"]), int(state["cr"]), int(state["acr"])
        self.latch.load(state[self.latch_key])
        self.nv = {k: int(v) for k, v in state["nv"].items()}
        self.regs = {k: int(v) for k, v in state["regs"].items()}
        self.loaded = {k: int(v) for k, v in state["loaded"].items()}


def _ignore_write(offset: int, size: int, value: int, master: str) -> None:
    return None
