"""``SimChip``: one simulated STM32 — memory map, flash controller, option bytes, protection and
reset behaviour — driven on a virtual clock.

Link simulators talk to it through ``read*/write*`` and the block helpers with the master they
stand for: an ST-LINK simulator uses ``master="debug"`` (and checks ``debug_enabled`` /
``access_port_available``), a UART or DFU bootloader simulator uses the ``rom_*`` helpers, which
do what the ROM bootloader does inside the chip.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..chips.model import Bank, Chip, FlashKind, Sector, sectors_of
from .bus import (
    Bus,
    HandlerRegion,
    RamRegion,
    Region,
    RegisterFile,
    RomRegion,
    WindowRegion,
    check_master,
    lane_value,
    sub_word,
)
from .clock import VirtualClock
from .cortexm import CortexM, make_cores
from .faults import BusFault, SimStateError
from .flash_array import FlashBank, PowerGuard
from .flashctl import FlashController, RomOutcome, controller_for
from .identity import idcode, system_memory_image, unique_id
from .periph import Peripherals
from .timing import FlashTiming, timing_for

STATE_FORMAT = 1
RESET_KINDS = ("system", "power", "obl")
LONG_AGO_NS = -(10**15)  # a reset so long before the bench's first moment that nothing is still starting

H7_DBGMCU_APB_D = 0xE00E_1000  # DBGMCU seen through the APB-D access port (AP2)

# controller kinds whose option loader runs at every system reset (the others: power-on and OBL_LAUNCH)
_LOADS_AT_SYSTEM_RESET = (FlashKind.F0_F1_F3, FlashKind.F2_F4, FlashKind.F7)


class FlashWindow(Region):
    """A flash bank on the bus: reads checked by the controller, writes go to its program logic."""

    composable = True
    unaligned_ok = True
    bulk = True

    def __init__(self, bank: FlashBank, controller: FlashController) -> None:
        super().__init__(f"flash bank {bank.index + 1}", bank.base, bank.size)
        self.bank = bank
        self.controller = controller

    def read(self, address: int, size: int, master: str) -> int:
        self.controller.check_read(address, size, master)
        return int.from_bytes(self.bank.read(address, size), "little")

    def read_bytes(self, address: int, length: int, master: str) -> bytes:
        self.controller.check_read(address, length, master)
        return self.bank.read(address, length)

    def write(self, address: int, size: int, value: int, master: str) -> None:
        self.controller.flash_write(address, size, value, master)

    def write_bytes(self, address: int, data: bytes, master: str) -> None:
        raise BusFault(address, "flash is written through the controller, one access at a time")


def _ecc_unit(chip: Chip) -> int:
    if chip.flash_kind in (FlashKind.L4, FlashKind.G0, FlashKind.G4, FlashKind.WB):
        return 8
    if chip.flash_kind is FlashKind.H7:
        return chip.write_unit
    return 0


class SimChip:
    """A simulated STM32 built from its chip-table row.

    ``flash_banks`` (one ``bytearray`` per bank, e.g. memory-mapped files) seeds the flash;
    otherwise it starts erased. ``options`` sets option fields by name before power-on, as if the
    part had been programmed that way (e.g. ``{"RDP": 0xBB}``).
    """

    def __init__(
        self,
        chip: Chip,
        seed: int = 0,
        *,
        clock: VirtualClock | None = None,
        flash_banks: list[bytearray] | None = None,
        options: Mapping[str, int] | None = None,
        power_on: bool = True,
    ) -> None:
        self.chip = chip
        self.seed = seed
        self.clock = clock if clock is not None else VirtualClock()
        self.timing: FlashTiming = timing_for(chip)
        self.intrusion = False
        self.boot_source = "flash"
        self.reset_count = 0
        self.reset_ns = LONG_AGO_NS  # when the last reset ended (NRST released, power came up)
        self.events: list[tuple[int, str]] = []
        self._pending_reset: tuple[str, str] | None = None
        # asked before every flash program/erase (the bench arms supply failures through it)
        self.power_guard: PowerGuard | None = None
        self.otp: bytearray | None = bytearray(b"\xff" * chip.otp.size) if chip.otp is not None else None
        self.banks: list[FlashBank] = []
        if chip.flash_kind is not FlashKind.NONE:
            self.banks = self._make_banks(chip.banks, flash_banks)
        self.ram = [RamRegion(r.name, r.start, r.size) for r in chip.ram]
        self.controller = controller_for(self)
        self.bus = Bus()
        self._dbgmcu: dict[int, int] = {}
        self.access_ap = 0  # the MEM-AP of the debug access in progress
        self.boot0 = False  # the BOOT0 level the last reset sampled
        self.held_in_reset = False  # NRST held low: the cores stay in reset (set by the board/probe)
        self._map()
        self.peripherals = Peripherals(self)  # USART1 and what it depends on (mapped over the stub)
        self.cores: list[CortexM | None] = make_cores(self)  # per core, in access-port order
        for name, value in (options or {}).items():
            self.set_option(name, value)
        if power_on:
            self.reset("power")

    # -- construction ---------------------------------------------------------------------------
    def _make_banks(self, banks: tuple[Bank, ...], data: list[bytearray] | None) -> list[FlashBank]:
        if data is not None and len(data) != len(banks):
            raise SimStateError(f"{len(data)} flash images given for {len(banks)} banks of {self.chip.name}")
        sectors = sectors_of(list(banks))
        return [
            FlashBank(
                i,
                bank,
                [s for s in sectors if s.bank == i],
                self.chip.erased_value,
                ecc_unit=_ecc_unit(self.chip),
                data=None if data is None else data[i],
                power_guard=self._power_guard,
            )
            for i, bank in enumerate(banks)
        ]

    def _power_guard(self, kind: str, address: int, length: int) -> float | None:
        return self.power_guard(kind, address, length) if self.power_guard is not None else None

    def _map(self) -> None:
        chip, bus = self.chip, self.bus
        for ram in self.ram:
            bus.map(ram)
        bus.map(RomRegion(chip.system_memory.name, chip.system_memory.start, system_memory_image(chip)))
        self._map_flash()
        if self.otp is not None and chip.otp is not None:
            bus.map(WindowRegion("OTP", chip.otp.start, chip.otp.size, self._otp_read, self._otp_write), 1)
        ctl = self.controller
        if ctl is not None:
            ob = ctl.option_region()
            if ob is not None:
                bus.map(ob, 1)
            for region, prio in ctl.extra_regions():
                bus.map(region, prio)
            bus.map(
                HandlerRegion(
                    "FLASH registers",
                    chip.flash_registers,
                    ctl.window,
                    self._flash_reg_read,
                    self._flash_reg_write,
                ),
                5,
            )
        # identification: unique ID and flash size over whatever ROM holds them, 0xFF fill around
        uid = unique_id(chip, self.seed)
        size_kib = (chip.flash_size // 1024) & 0xFFFF
        for name, start, data in (
            ("unique ID", chip.uid_address, uid),
            ("flash size", chip.flash_size_register, size_kib.to_bytes(2, "little")),
        ):
            if start:
                bus.map(RomRegion(name, start, data), 10)
                bus.map(RomRegion(f"{name} area", start & ~0xFF, b"\xff" * 0x100), -10)
        if chip.idcode_address:
            bus.map(HandlerRegion("DBGMCU", chip.idcode_address, 0x100, self._dbg_read, self._dbg_write), 6)
            if chip.flash_kind is FlashKind.H7:
                bus.map(
                    HandlerRegion("DBGMCU (APB-D)", H7_DBGMCU_APB_D, 0x100, self._dbg_read, self._dbg_write),
                    6,
                )
        # each core's own debug components (see _ppb_core)
        for name, base in (("system control space", 0xE000_E000), ("DWT", 0xE000_1000), ("FPB", 0xE000_2000)):
            bus.map(HandlerRegion(name, base, 0x1000, self._ppb_reader(base), self._ppb_writer(base)), 4)
        bus.map(RegisterFile("private peripheral bus", 0xE000_0000, 0x10_0000), -5)
        bus.map(RegisterFile("peripherals", 0x4000_0000, 0x2000_0000), -5)

    def _map_flash(self) -> None:
        for region in list(self.bus.regions()):
            if isinstance(region, FlashWindow):
                self.bus.unmap(region.name)
        if self.controller is not None:
            for bank in self.banks:
                self.bus.map(FlashWindow(bank, self.controller))

    # -- host interface for the controller -------------------------------------------------------
    def bank_at(self, address: int) -> FlashBank | None:
        for bank in self.banks:  # once per flash store: inline, not bank.contains
            if bank.base <= address < bank.base + bank.size:
                return bank
        return None

    def request_reset(self, cause: str, kind: str = "obl") -> None:
        """Reset the chip once the current bus access has completed."""
        self._pending_reset = (kind, cause)

    def take_pending_reset(self) -> tuple[str, str] | None:
        """The reset a core or the flash controller requested and nobody applied yet (kind, cause),
        for a caller that knows the BOOT0 pin's level now; it is then no longer pending."""
        pending, self._pending_reset = self._pending_reset, None
        return pending

    # -- register callbacks ---------------------------------------------------------------------
    def _flash_reg_read(self, offset: int, size: int, master: str) -> int:
        assert self.controller is not None
        return self.controller.read_register(offset, size, master)

    def _flash_reg_write(self, offset: int, size: int, value: int, master: str) -> None:
        assert self.controller is not None
        self.controller.write_register(offset, size, value, master)

    def _otp_read(self, offset: int, size: int, master: str) -> int:
        assert self.otp is not None
        return int.from_bytes(self.otp[offset : offset + size], "little")

    def _otp_write(self, offset: int, size: int, value: int, master: str) -> None:
        assert self.controller is not None and self.chip.otp is not None
        self.controller.flash_write(self.chip.otp.start + offset, size, value, master)

    def _dbg_read(self, offset: int, size: int, master: str) -> int:
        word = idcode(self.chip) if offset & ~3 == 0 else self._dbgmcu.get(offset & ~3, 0)
        return sub_word(word, offset & 3, size)

    def _dbg_write(self, offset: int, size: int, value: int, master: str) -> None:
        if offset & ~3 == 0:
            return  # IDCODE is read-only
        lane, mask = lane_value(value, offset & 3, size)
        self._dbgmcu[offset & ~3] = (self._dbgmcu.get(offset & ~3, 0) & ~mask) | lane

    def _ppb_core(self, master: str) -> CortexM | None:
        """Whose private peripheral bus answers: the core behind the access port of a debug
        access (AP3 reaches the M4 of a dual-core H7), else the first core."""
        index = 0
        if master == "debug" and self.access_ap in self.chip.access_ports:
            index = self.chip.access_ports.index(self.access_ap)
        core = self.cores[index] if index < len(self.cores) else None
        return core if core is not None else next((c for c in self.cores if c is not None), None)

    def _ppb_reader(self, base: int) -> Callable[[int, int, str], int]:
        def read(offset: int, size: int, master: str) -> int:
            core = self._ppb_core(master)
            return 0 if core is None else core.debug.read(base + offset, size, master)

        return read

    def _ppb_writer(self, base: int) -> Callable[[int, int, int, str], None]:
        def write(offset: int, size: int, value: int, master: str) -> None:
            core = self._ppb_core(master)
            if core is not None:
                core.debug.write(base + offset, size, value, master)

        return write

    def sync_cores(self) -> None:
        """Let every running core execute up to the current time (it never falls behind where a
        debugger or a test could tell), then apply a reset one of them requested on the way."""
        for core in self.cores:
            if core is not None:
                core.catch_up()
        self._after()

    # -- bus access -----------------------------------------------------------------------------
    def _gate(self, master: str) -> None:
        check_master(master)
        if master == "debug":
            # what the cores did until now (a reset, DBG_SWEN cleared) happened before this access
            self.sync_cores()
            if not self.debug_enabled:
                raise BusFault(0, "the debug port is disabled")
            self.intrusion = True
        elif master == "bootloader" and not self.bootloader_available:
            raise BusFault(0, "the system bootloader is not available")

    def _after(self) -> None:
        if self._pending_reset is not None:
            kind, cause = self._pending_reset
            self._pending_reset = None
            self.reset(kind, boot0=self.boot0, cause=cause)  # the BOOT0 pin has not moved

    def read(self, address: int, size: int, master: str = "debug", ap: int = 0) -> int:
        """``ap``: for debug accesses, the MEM-AP used (selects whose private peripheral bus,
        e.g. which core's SCS, answers on a dual-core part)."""
        self._gate(master)
        self.access_ap = ap
        try:
            return self.bus.read(address, size, master)
        finally:
            self._after()

    def write(self, address: int, size: int, value: int, master: str = "debug", ap: int = 0) -> None:
        self._gate(master)
        self.access_ap = ap
        try:
            self.bus.write(address, size, value, master)
        finally:
            self._after()

    def read8(self, address: int, master: str = "debug") -> int:
        return self.read(address, 1, master)

    def read16(self, address: int, master: str = "debug") -> int:
        return self.read(address, 2, master)

    def read32(self, address: int, master: str = "debug") -> int:
        return self.read(address, 4, master)

    def write8(self, address: int, value: int, master: str = "debug") -> None:
        self.write(address, 1, value, master)

    def write16(self, address: int, value: int, master: str = "debug") -> None:
        self.write(address, 2, value, master)

    def write32(self, address: int, value: int, master: str = "debug") -> None:
        self.write(address, 4, value, master)

    def read_block(self, address: int, length: int, master: str = "debug", ap: int = 0) -> bytes:
        self._gate(master)
        self.access_ap = ap
        try:
            return self.bus.read_block(address, length, master)
        finally:
            self._after()

    def write_block(self, address: int, data: bytes, master: str = "debug", width: int = 4, ap: int = 0) -> None:
        """Write ``data`` with naturally aligned accesses of at most ``width`` bytes (a probe's
        8/16/32-bit memory write); flash goes through the controller one access at a time."""
        self._gate(master)
        self.access_ap = ap
        try:
            self.bus.write_block(address, data, master, width)
        finally:
            self._after()

    # -- time -----------------------------------------------------------------------------------
    @property
    def busy_until(self) -> int:
        if self.controller is None:
            return self.clock.now
        return max([self.clock.now] + [t.until for t in self.controller.timers()])

    def wait_idle(self) -> int:
        """Advance the clock to the end of every running flash operation; returns the new time."""
        self.clock.advance_to(self.busy_until)
        if self.controller is not None:
            self.controller.sync()
        return self.clock.now

    # -- protection, boot, cores ----------------------------------------------------------------
    @property
    def rdp_level(self) -> int:
        return self.controller.rdp_level if self.controller is not None else 0

    @property
    def debug_enabled(self) -> bool:
        if self.rdp_level == 2:
            return False
        return self.controller is None or self.controller.debug_allowed()

    @property
    def bootloader_available(self) -> bool:
        return self.rdp_level != 2

    def flash_empty(self) -> bool:
        if not self.banks:
            return True
        first = self.banks[0]
        return first.is_erased(first.base, 4)

    def boots_bootloader(self, boot0_pin: bool) -> bool:
        """Would a reset with this BOOT0 pin level start the system bootloader?"""
        if self.rdp_level == 2 or self.controller is None:
            return False
        return self.controller.boots_bootloader(boot0_pin, self.flash_empty())

    def core_running(self, index: int) -> bool:
        if index >= len(self.chip.cores):
            return False
        return self.controller is None or self.controller.core_boots(index)

    def access_port_available(self, ap: int) -> bool:
        """Does memory access port ``ap`` answer? A gated core's AP answers nothing; the H7 APB-D
        port (AP2) stays reachable."""
        if not self.debug_enabled:
            return False
        if ap in self.chip.access_ports:
            return self.core_running(self.chip.access_ports.index(ap))
        return ap == 2 and self.chip.flash_kind is FlashKind.H7

    def write_protected(self, sector: Sector) -> bool:
        return self.controller is not None and self.controller.write_protected(sector)

    def sectors(self) -> list[Sector]:
        return [s for bank in self.banks for s in bank.sectors]

    # -- option fields --------------------------------------------------------------------------
    def option_values(self) -> dict[str, int]:
        return self.controller.option_values() if self.controller is not None else {}

    def option(self, name: str) -> int:
        f = self.chip.option_field(name)
        if f is None or self.controller is None:
            raise KeyError(f"{self.chip.name} has no option field {name!r}")
        value = self.controller.peek_option(f.current_address or f.address, f.shift, f.width)
        if value is None:
            raise KeyError(f"option field {name!r} is not placed in the {self.controller.kind} model")
        return value

    def set_option(self, name: str, value: int) -> None:
        """Set an option field as programmed and loaded, without timing (bench set-up)."""
        f = self.chip.option_field(name)
        if f is None or self.controller is None:
            raise KeyError(f"{self.chip.name} has no option field {name!r}")
        if value >> f.width:
            raise ValueError(f"{name}={value:#x} does not fit in {f.width} bit(s)")
        if not self.controller.poke_option(f.address, f.shift, f.width, value):
            raise KeyError(f"option field {name!r} is not placed in the {self.controller.kind} model")
        self._apply_geometry()

    def _apply_geometry(self) -> None:
        if not self.chip.alt_geometries or not self.banks:
            return
        wanted = self.chip.banks_for(self.option_values())
        if [(b.base, b.size) for b in wanted] == [(b.base, b.size) for b in self.banks]:
            return
        cells = bytearray().join(bytes(b.data) for b in self.banks)
        total = sum(b.size for b in wanted)
        cells = (cells + bytes([self.chip.erased_value]) * total)[:total]
        data, pos = [], 0
        for bank in wanted:
            data.append(bytearray(cells[pos : pos + bank.size]))
            pos += bank.size
        self.banks[:] = self._make_banks(wanted, data)
        self._map_flash()

    # -- reset ----------------------------------------------------------------------------------
    def reset(self, kind: str = "system", *, boot0: bool = False, cause: str = "") -> None:
        """``"system"`` (NRST, SYSRESETREQ), ``"power"`` (power-on) or ``"obl"`` (option-byte load,
        which also resets the chip). ``boot0`` is the BOOT0 pin level sampled by this reset."""
        if kind not in RESET_KINDS:
            raise ValueError(f"reset kind {kind!r} not in {RESET_KINDS}")
        self._pending_reset = None
        self.peripherals.advance(self.clock.now)  # what they did until the reset happened first
        if kind == "power":
            self.intrusion = False
            self._dbgmcu.clear()
            for ram in self.ram:
                ram.data[:] = bytes(ram.size)
        # the debug domain (DHCSR..DEMCR, the PPB components, DBGMCU) only resets at power-on:
        # each core's reset (below) keeps its debug registers unless kind == "power"
        self.boot0 = boot0
        for region in self.bus.regions():
            if isinstance(region, RegisterFile) and (kind == "power" or region.name == "peripherals"):
                region.words.clear()
        if self.controller is not None:
            self.controller.reset(kind)
            if kind != "system" or self.chip.flash_kind in _LOADS_AT_SYSTEM_RESET:
                self._apply_geometry()
        self.boot_source = "bootloader" if self.boots_bootloader(boot0) else "flash"
        if self.boot_source == "bootloader":
            self.intrusion = True  # booted from system memory: RDP treats it like a debugger
        self.reset_count += 1
        self.reset_ns = self.clock.now
        self.events.append((self.clock.now, f"{kind} reset" + (f": {cause}" if cause else "")))
        self.peripherals.reset(kind)
        for core in self.cores:
            if core is not None:
                core.reset(kind)

    # -- ROM-level helpers (for the bootloader simulators) ----------------------------------------
    def _rom_controller(self) -> FlashController:
        if self.controller is None:
            raise BusFault(0, "this part has no internal flash")
        if not self.bootloader_available:
            raise BusFault(0, "the system bootloader is not available")
        return self.controller

    def rom_erase(self, sectors: Iterable[int | Sector]) -> RomOutcome:
        """Erase sectors/pages (indices into ``sectors()`` or ``Sector`` objects) one by one, as the
        ROM does: controller checks apply, the clock advances by the datasheet erase time."""
        ctl = self._rom_controller()
        table = self.sectors()
        chosen = [table[s] if isinstance(s, int) else s for s in sectors]
        return ctl.rom_erase(chosen)

    def rom_mass_erase(self) -> RomOutcome:
        return self._rom_controller().rom_mass_erase()

    def rom_program(self, address: int, data: bytes) -> RomOutcome:
        """Program flash/OTP (padded to the program unit with the erased value) or write RAM."""
        ctl = self._rom_controller()
        in_flash = self.bank_at(address) is not None or ctl.in_otp(address)
        if not in_flash:
            self.write_block(address, data, "bootloader")
            return RomOutcome(True)
        return ctl.rom_program(address, data)

    def rom_read(self, address: int, length: int) -> bytes:
        return self.read_block(address, length, "bootloader")

    def rom_change_options(self, values: Mapping[str, int]) -> RomOutcome:
        """What the bootloader's Readout Protect/Unprotect and Write Protect/Unprotect commands do:
        program option fields (an RDP 1 -> 0 change mass-erases the flash first), then reset the
        chip so the new options load."""
        ctl = self._rom_controller()
        start = self.clock.now
        old_level = self.rdp_level
        fields = []
        for name, value in values.items():
            f = self.chip.option_field(name)
            if f is None:
                raise KeyError(f"{self.chip.name} has no option field {name!r}")
            fields.append((f, value))
        regression = old_level == 1 and any(  # RDP back to its default: 0xAA; 0xA5 on F1
            f.name.upper() == "RDP" and v == f.default for f, v in fields)
        if old_level == 2:
            return RomOutcome(False, "RDP level 2", None, 0)
        ctl.wait_idle()
        duration = self.timing.option
        if regression:
            ctl.erase_for_regression()
            duration += self.timing.mass_erase_ns(ctl.rom_parallelism)
        for f, value in fields:
            if not ctl.stage_option(f.address, f.shift, f.width, value):
                raise KeyError(f"option field {f.name!r} is not placed in the {ctl.kind} model")
        self.clock.advance(duration)
        self.reset("obl", boot0=self.boot0, cause="option bytes changed by the bootloader")  # BOOT0 unmoved
        return RomOutcome(True, None, None, self.clock.now - start)

    # -- state ----------------------------------------------------------------------------------
    @property
    def flash_banks(self) -> list[bytearray]:
        """The flash content, one ``bytearray`` per bank (the persistence layer stores these)."""
        return [bank.data for bank in self.banks]

    @property
    def ram_regions(self) -> dict[str, bytearray]:
        return {region.name: region.data for region in self.ram}

    def to_state(self) -> dict[str, Any]:
        """Everything but the flash bytes, as JSON-compatible data."""
        return {
            "format": STATE_FORMAT,
            "chip": self.chip.name,
            "seed": self.seed,
            "clock_ns": self.clock.now,
            "intrusion": self.intrusion,
            "boot_source": self.boot_source,
            "reset_count": self.reset_count,
            "reset_ns": self.reset_ns,
            "layout": [[b.base, b.size] for b in self.banks],
            "ecc": [_pack(bytes(b.written)) for b in self.banks],
            "corrupt": [sorted(b.corrupt) for b in self.banks],
            "otp": None if self.otp is None else self.otp.hex(),
            "dbgmcu": {str(k): v for k, v in self._dbgmcu.items()},
            "boot0": self.boot0,
            "cores": [None if c is None else c.to_state() for c in self.cores],
            "ram": {r.name: _pack(bytes(r.data)) for r in self.ram},
            # peripheral registers firmware wrote (GPIO modes, PWR, ...): what a reload must still see
            "registers": {r.name: {str(k): v for k, v in r.words.items()}
                          for r in self.bus.regions() if isinstance(r, RegisterFile) and r.words},
            "controller": self.controller.state() if self.controller is not None else {},
            "peripherals": self.peripherals.state(),
        }

    @classmethod
    def from_state(
        cls,
        chip: Chip,
        state: Mapping[str, Any],
        flash_banks: list[bytearray],
        *,
        clock: VirtualClock | None = None,
    ) -> SimChip:
        """Rebuild a chip saved with ``to_state`` (and its ``flash_banks``) without resetting it."""
        if state.get("format") != STATE_FORMAT:
            raise SimStateError(f"unknown bench state format {state.get('format')!r}")
        if state.get("chip") != chip.name:
            raise SimStateError(f"state saved for {state.get('chip')!r}, not {chip.name}")
        clk = clock if clock is not None else VirtualClock(int(state["clock_ns"]))
        sim = cls(chip, int(state["seed"]), clock=clk, power_on=False)
        layout = [tuple(x) for x in state["layout"]]
        geometries = [chip.banks] + [g.banks for g in chip.alt_geometries]
        banks = next((g for g in geometries if [(b.base, b.size) for b in g] == layout), None)
        if banks is None:
            raise SimStateError(f"saved flash layout {layout} is not a layout of {chip.name}")
        sim.banks[:] = sim._make_banks(banks, flash_banks)
        sim._map_flash()
        for bank, packed, corrupt in zip(sim.banks, state["ecc"], state["corrupt"], strict=True):
            if bank.ecc_unit:
                bank.written[:] = _unpack(packed)
            bank.corrupt = {int(u) for u in corrupt}
        if sim.otp is not None and state["otp"] is not None:
            sim.otp[:] = bytes.fromhex(state["otp"])
        sim.intrusion = bool(state["intrusion"])
        sim.boot_source = str(state["boot_source"])
        sim.reset_count = int(state["reset_count"])
        sim.reset_ns = int(state.get("reset_ns", LONG_AGO_NS))
        sim._dbgmcu = {int(k): int(v) for k, v in state["dbgmcu"].items()}
        sim.boot0 = bool(state.get("boot0", False))
        for region in sim.ram:  # RAM keeps its content while the board stays powered
            packed = state.get("ram", {}).get(region.name)
            if packed is not None and len(data := _unpack(packed)) == region.size:
                region.data[:] = data
        registers = state.get("registers", {})
        for mapped in sim.bus.regions():
            if isinstance(mapped, RegisterFile) and mapped.name in registers:
                mapped.words = {int(k): int(v) for k, v in registers[mapped.name].items()}
        sim.peripherals.load(dict(state.get("peripherals", {})))
        if sim.controller is not None:
            sim.controller.load_state(dict(state["controller"]))
        saved = state.get("cores") or []
        for i, core in enumerate(sim.cores):
            if core is not None:
                if i < len(saved) and saved[i] is not None:
                    core.load_state(saved[i])
                else:
                    core.reset("power")  # a state saved before the core model: as after power-on
        return sim


def _pack(data: bytes) -> str:
    return base64.b64encode(zlib.compress(data)).decode("ascii")


def _unpack(text: str) -> bytes:
    return zlib.decompress(base64.b64decode(text))
