"""A bench is a directory: one simulated board whose state survives between processes.

Layout of DIR:

* ``bench.json``  board facts (chip, probe, scenarios, jumpers and buttons) and the chip's state;
* ``flash.bin``   the flash banks, one after the other (erased value where never written);
* ``trace.jsonl`` one line per link transaction (link, direction, bytes, virtual start/end);
* ``.lock``       taken with ``flock`` while a process works on the bench, so two processes are
  serialised and never see (or write) half a state.
"""

from __future__ import annotations

import fcntl
import json
import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..chips.lookup import find_chip, resolve_part
from ..chips.model import Chip
from ..errors import UsageError
from .chip import LONG_AGO_NS, SimChip
from .clock import VirtualClock
from .firmware import EFFECTS as FIRMWARE_EFFECTS
from .firmware import scenario_image
from .periph.wiring import choose_port, default_port, rom_ports
from .scenarios import (
    DFU_RUNTIME,
    FTDI_LATENCY_US,
    LOW_LATENCY_US,
    SCENARIOS,
    SUPPLY_LOCKUP,
    Scenario,
    get_scenario,
)

BENCH_FILE = "bench.json"
FLASH_FILE = "flash.bin"
TRACE_FILE = "trace.jsonl"
LOCK_FILE = ".lock"
FORMAT = 1
PROBES = ("V2", "V2-1", "V3")
FAULTS = {
    "usb-unplug-after": "the USB cable is pulled after N more transfers (the device leaves the bus)",
    "uart-drop-after": "the Nth host byte on the UART from now is lost",
    "uart-corrupt-after": "the Nth host byte on the UART from now arrives with a bit flipped",
    "uart-nack-after": "the UART bootloader answers NACK instead of its Nth ACK from now",
    "power-loss-during": "the supply fails during a flash operation: erase[@F] (the next erase, fraction F "
                         "done, default 0.5) or program[@N] (the N-th program operation from now, default 1); "
                         "the flash is left part-done and the board off",
}
_OPEN: dict[Path, list[Any]] = {}  # benches this process holds: path -> [bench, depth]


@dataclass
class UartWiring:
    """Which adapter line drives which pin; ``invert`` means asserted line = pin low."""

    rts: str | None = None  # "nrst" | "boot0" | None
    dtr: str | None = None
    rts_invert: bool = False
    dtr_invert: bool = False

    @classmethod
    def parse(cls, text: str) -> UartWiring:
        """``rts=nrst,dtr=boot0`` (prefix a pin with ``!`` for the other polarity: ``dtr=!boot0``)."""
        wiring = cls()
        for part in filter(None, (p.strip() for p in text.split(","))):
            line, sep, pin = part.partition("=")
            line, pin = line.strip().lower(), pin.strip().lower()
            invert = pin.startswith("!")
            pin = pin.lstrip("!")
            if not sep or line not in ("rts", "dtr") or pin not in ("nrst", "boot0"):
                raise UsageError(f"--uart-wiring {text!r}: write e.g. rts=nrst,dtr=boot0 (or dtr=!boot0)")
            setattr(wiring, line, pin)
            setattr(wiring, f"{line}_invert", invert)
        return wiring


@dataclass
class Board:
    """What a person could change on the desk: jumpers, buttons, supply, what is plugged in."""

    part: str
    probe: str = "V2-1"
    scenarios: list[str] = field(default_factory=list)
    boot0: bool = False
    nrst_held: bool = False
    powered: bool = True
    seed: int = 0
    uart_wiring: UartWiring = field(default_factory=UartWiring)
    # the USART and pins the host's UART adapter is wired to, one the ROM lists ("USART2 PA2/PA3");
    # "" only in bench files older than the field: they load with the ROM's first (USART1 PA9/PA10)
    uart_port: str = ""
    uart_latency_us: int = LOW_LATENCY_US
    firmware: dict[str, dict[str, Any]] = field(default_factory=dict)  # scenario -> {address, crc32, length}
    faults: dict[str, int] = field(default_factory=dict)  # injected faults still to fire (see FAULTS)
    usb_transfers: int = 0  # USB transfers served since the bench was created
    usb_unplugged: bool = False  # the probe's cable was pulled (by a fault, or 'sim set usb=0')
    # what each device model keeps between processes (UART bootloader sync, DFU state, probe mode):
    # device name ("uart", "dfu", "stlink") -> JSON-compatible dict owned by that model
    link_state: dict[str, dict[str, Any]] = field(default_factory=dict)
    uart_host_bytes: int = 0  # bytes hosts have put on the UART line since the bench was created
    uart_acks: int = 0  # ACKs the UART bootloader has sent since the bench was created
    uart_get_checksum: bool = False  # the UART ROM speaks protocol V3.3 (Get Checksum); no current part does
    power_loss: str = ""  # armed supply failure: "erase@0.5" / "program@0.5" (kind @ fraction done)
    target_usb: bool = True  # the target's own USB port is cabled to the host (DFU bootloader)
    # the host may not open the devices on the target's USB port: "" (it may), "access" (no udev
    # rule), "not-supported" (a Windows driver libusb cannot use), "busy" (see usb.backend.OPEN_REFUSALS)
    target_usb_open: str = ""
    dfu_rom: str = ""  # a DFU ROM variant with known misbehaviour (sim.dfu.rom.ROM_VARIANTS), "" = none
    dfu_runtime_will_detach: bool = False  # the dfu-runtime application sets bitWillDetach
    # an STM32H7 supply lock-up (h7-smps-lockup firmware wrote the wrong PWR_CR3): VCORE is not
    # regulated, so nothing in the chip works until a power-on reset clears it (ST-KB-H7PWR)
    supply_lockup: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Board:
        data = dict(data)
        data.pop("last_reset_ns", None)  # older bench files: the chip's own reset_ns says it now
        data["uart_wiring"] = UartWiring(**data.get("uart_wiring", {}))
        return cls(**data)


class Bench:
    """One board on disk. Use :meth:`open` (locks, loads, saves) to work on it."""

    def __init__(self, directory: str | os.PathLike[str], board: Board, chip: SimChip) -> None:
        self.directory = Path(directory)
        self.board = board
        self.chip = chip
        self._trace: list[dict[str, Any]] = []
        chip.power_guard = self._power_guard
        chip.peripherals.wire(board.uart_port)
        self._sync_pins()

    # -- creation -------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        directory: str | os.PathLike[str],
        part: str,
        *,
        scenarios: tuple[str, ...] | list[str] = (),
        probe: str = "V2-1",
        uart_wiring: str | None = None,
        uart_port: str | None = None,
        seed: int = 0,
        force: bool = False,
    ) -> Bench:
        path = Path(directory)
        if (path / BENCH_FILE).exists() and not force:
            raise UsageError(f"{path} already holds a bench", hint="choose another directory or remove it")
        if probe not in PROBES:
            raise UsageError(f"--probe {probe!r}: choose one of {', '.join(PROBES)}")
        chip_row, normalised = resolve_part(part)
        for name in scenarios:
            reason = _scenario(name).applies_to(chip_row)
            if reason:
                raise UsageError(f"--scenario {name}: {reason}")
        firmware = [name for name in scenarios if get_scenario(name).cause == "firmware"]
        if len(firmware) > 1:
            raise UsageError(f"--scenario {' and '.join(firmware)}: the flash holds one firmware at a time")
        board = Board(part=normalised, probe=probe, scenarios=list(scenarios), seed=seed)
        board.uart_port = _uart_port(chip_row, uart_port)
        if uart_wiring:
            board.uart_wiring = UartWiring.parse(uart_wiring)
        chip = SimChip(chip_row, seed, power_on=False)
        bench = cls(path, board, chip)
        # as the board was prepared: firmware flashed first, then the option bytes programmed
        for name in firmware:
            bench._install_firmware(name, erase=False)  # the flash is still erased
        for name in scenarios:
            for option, value in get_scenario(name).options:
                chip.set_option(option, value)
            bench._board_scenario(name, True)
        chip.reset("power", boot0=board.boot0, cause="bench created")
        chip.reset_ns = LONG_AGO_NS  # the board has been powered for a while: its ROM is up
        path.mkdir(parents=True, exist_ok=True)
        with bench._locked():
            bench.save()
        return bench

    def _install_firmware(self, name: str, *, erase: bool) -> None:
        """Flash a firmware scenario's program (after a mass erase), as a person would."""
        image = scenario_firmware(self.chip.chip, name)
        base = self.chip.chip.flash_base
        if self.chip.rdp_level:
            raise UsageError(f"scenario {name}: the flash is read-out protected (level {self.chip.rdp_level})",
                             hint="remove the protection first")
        outcome = self.chip.rom_mass_erase() if erase else None
        if outcome is None or outcome.ok:
            outcome = self.chip.rom_program(base, image)
        if not outcome.ok:
            raise UsageError(f"scenario {name}: its firmware cannot be written ({outcome.error})",
                             hint="remove the write protection first")
        self.board.firmware[name] = {"address": base, "length": len(image),
                                     "crc32": zlib.crc32(image) & 0xFFFFFFFF}

    # -- opening --------------------------------------------------------------------------
    @classmethod
    @contextmanager
    def open(cls, directory: str | os.PathLike[str]) -> Iterator[Bench]:
        """Lock the bench, load it, yield it, save it (also when the body fails: what happened
        to the chip happened), unlock.

        Re-entrant within a process: a nested ``open`` of the same directory (say, a pyusb handle
        still open while the CLI shows the bench) gets the same object, and only the outermost
        one saves and unlocks. Other processes wait for the lock.
        """
        path = Path(directory)
        key = path.resolve()
        held = _OPEN.get(key)
        if held is not None:
            held[1] += 1
            try:
                yield held[0]
            finally:
                held[1] -= 1
            return
        if not (path / BENCH_FILE).exists():
            raise UsageError(f"{path} is not a bench", hint=f"create one: stflash sim new {path} --chip nucleo-f401re")
        with _flock(path / LOCK_FILE):
            bench = cls.load(path)
            _OPEN[key] = [bench, 1]
            try:
                yield bench
            finally:
                del _OPEN[key]
                bench.save()

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> Bench:
        path = Path(directory)
        data = json.loads((path / BENCH_FILE).read_text())
        if data.get("format") != FORMAT:
            raise UsageError(f"{path}: bench format {data.get('format')!r} is not supported by this version")
        board = Board.from_dict(data["board"])
        row = find_chip(data["chip"])
        if not board.uart_port:
            board.uart_port = default_port(row.bootloader)
        state = data["state"]
        blob = (path / FLASH_FILE).read_bytes()
        banks: list[bytearray] = []
        pos = 0
        for _base, size in state["layout"]:
            banks.append(bytearray(blob[pos : pos + size]))
            pos += size
        chip = SimChip.from_state(row, state, banks, clock=VirtualClock(int(state["clock_ns"])))
        return cls(path, board, chip)

    def save(self) -> None:
        data = {"format": FORMAT, "chip": self.chip.chip.name, "board": self.board.as_dict(),
                "state": self.chip.to_state()}
        _atomic_write(self.directory / FLASH_FILE, b"".join(bytes(b) for b in self.chip.flash_banks))
        _atomic_write(self.directory / BENCH_FILE, json.dumps(data, indent=1).encode())
        if self._trace:
            with open(self.directory / TRACE_FILE, "a", encoding="utf-8") as f:
                for record in self._trace:
                    f.write(json.dumps(record, separators=(",", ":")) + "\n")
            self._trace.clear()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with _flock(self.directory / LOCK_FILE):
            yield

    # -- time and trace ---------------------------------------------------------------------
    @property
    def clock(self) -> VirtualClock:
        return self.chip.clock

    def record(self, link: str, direction: str, nbytes: int, start_ns: int, end_ns: int, what: str = "") -> None:
        """Append one link transaction to the trace (written to trace.jsonl on save)."""
        entry: dict[str, Any] = {"link": link, "dir": direction, "bytes": nbytes, "start_ns": start_ns,
                                 "end_ns": end_ns}
        if what:
            entry["what"] = what
        self._trace.append(entry)

    # -- the board as a person changes it ------------------------------------------------------
    def host_wait(self, ns: int) -> None:
        """A host program waits ``ns`` without talking to the board. What the board started goes on
        meanwhile (the DFU ROM runs the flash operation it announced with dfuDNBUSY right after that
        answer), so the wait and that work overlap instead of adding up."""
        start = self.clock.now
        from .dfu.device import dfu_present

        dfu_present(self)  # lets a pending ROM operation run from now
        self.clock.advance_to(start + ns)

    def _sync_pins(self) -> None:
        """The chip sees NRST low, no supply or a latched supply lock-up as its cores held still."""
        board = self.board
        self.chip.held_in_reset = board.nrst_held or not board.powered or board.supply_lockup

    def supply_locked(self) -> bool:
        """Is an STM32H7 supply lock-up latched? Asking first lets the firmware run up to now, so
        the PWR_CR3 write it made meanwhile latches the lock-up before anything else changes
        (NRST, a reset that clears the register). Only a power-on reset clears it."""
        board = self.board
        if not board.supply_lockup and SUPPLY_LOCKUP in board.scenarios and self.firmware_effect(SUPPLY_LOCKUP):
            board.supply_lockup = True
            self.chip.events.append((self.clock.now, "supply lock-up: PWR_CR3 selects the LDO on an SMPS board"))
            self._sync_pins()
        return board.supply_lockup

    def power_cycle(self) -> None:
        """Supply off and on: the power-on reset. NRST and BOOT0 keep whatever holds them (the
        probe, a button, a jumper), so a chip powered up in reset runs no firmware."""
        self.board.powered = True
        self.board.supply_lockup = False
        self._sync_pins()
        self.chip.reset("power", boot0=self.board.boot0, cause="power cycle")

    def press_reset(self) -> None:
        self.supply_locked()  # what the firmware did before the reset clears its registers
        self.chip.reset("system", boot0=self.board.boot0, cause="reset button")

    def set(self, name: str, value: str) -> None:
        """``boot0=1``, ``nrst=0`` (held low) / ``nrst=1`` (released: the chip resets),
        ``power=0/1``, ``scenario=+NAME`` / ``-NAME`` (board and firmware scenarios; option
        scenarios are option bytes, changed like any other)."""
        self.supply_locked()  # the firmware ran until this moment, before the board changes
        key = name.strip().lower()
        if key == "boot0":
            self.board.boot0 = _bool(name, value)
        elif key == "nrst":
            low = not _bool(name, value)
            if self.board.nrst_held and not low:
                self.board.nrst_held = False
                self.press_reset()
            self.board.nrst_held = low
        elif key == "power":
            on = _bool(name, value)
            if on and not self.board.powered:
                self.power_cycle()
            self.board.powered = on
        elif key == "scenario":
            self._toggle_scenario(value)
        elif key == "usb":
            self.board.usb_unplugged = not _bool(name, value)
        elif key in ("target-usb", "target_usb"):
            self.board.target_usb = _bool(name, value)
        elif key in ("target-usb-open", "dfu-rom", "dfu-runtime-will-detach"):
            self._set_dfu(key, value)
        elif key == "power-loss-during":
            self._arm_power_loss(value)
        elif key in FAULTS:
            self.inject(key, value)
        else:
            raise UsageError(f"sim set {name}={value}: settable are boot0, nrst, power, usb, target-usb, "
                             "target-usb-open, dfu-rom, dfu-runtime-will-detach, scenario, " + ", ".join(FAULTS))
        self._sync_pins()

    def _set_dfu(self, key: str, value: str) -> None:
        """``target-usb-open=ok|access|not-supported|busy``, ``dfu-rom=NAME|none``,
        ``dfu-runtime-will-detach=0|1``."""
        from .dfu.rom import check_variant
        from .usb.backend import OPEN_REFUSALS

        v = value.strip().lower()
        if key == "target-usb-open":
            if v not in ("ok", "", *OPEN_REFUSALS):
                raise UsageError(f"sim set {key}={value}: use ok, " + ", ".join(OPEN_REFUSALS))
            self.board.target_usb_open = "" if v == "ok" else v
        elif key == "dfu-rom":
            v = "" if v in ("none", "default") else v
            reason = check_variant(self.chip.chip, v)
            if reason:
                raise UsageError(f"sim set {key}={value}: {reason}")
            self.board.dfu_rom = v
        else:
            self.board.dfu_runtime_will_detach = _bool(key, value)

    def inject(self, fault: str, value: str) -> None:
        """Arm a fault; ``usb-unplug-after=N`` counts USB transfers from now, ``uart-*-after=N`` host
        bytes on the UART (drop, corrupt) or the bootloader's ACKs (nack)."""
        try:
            count = int(value, 0)
        except ValueError:
            raise UsageError(f"sim set {fault}={value}: needs a number") from None
        if count < 0:
            raise UsageError(f"sim set {fault}={value}: must be 0 or more")
        self.board.faults[fault] = self.fault_counter(fault) + count

    def fault_counter(self, fault: str) -> int:
        """The running count a fault's trigger is measured against."""
        if fault in ("uart-drop-after", "uart-corrupt-after"):
            return self.board.uart_host_bytes
        if fault == "uart-nack-after":
            return self.board.uart_acks
        return self.board.usb_transfers

    def _arm_power_loss(self, value: str) -> None:
        """``erase[@F]``: the next erase stops with fraction F (default 0.5) of its range erased;
        ``program[@N]``: the N-th program operation from now (default 1: the next flash word or
        unit the controller writes) is caught half-way."""
        kind, _, at = value.strip().lower().partition("@")
        if kind in ("", "none", "0", "off"):
            self.board.power_loss = ""
            return
        try:
            amount = float(at) if at else (0.5 if kind == "erase" else 1.0)
        except ValueError:
            amount = -1.0
        ok = (kind == "erase" and 0.0 <= amount < 1.0) or (kind == "program" and amount >= 1 and amount.is_integer())
        if not ok:
            raise UsageError(f"sim set power-loss-during={value}: write erase[@FRACTION] (0 <= FRACTION < 1), "
                             "program[@N] (N >= 1: the N-th program operation from now), or none")
        self.board.power_loss = f"{kind}@{amount:g}"

    def _power_guard(self, kind: str, address: int, length: int) -> float | None:
        """Fire an armed supply failure on its flash operation; returns the fraction done."""
        armed, _, at = self.board.power_loss.partition("@")
        if armed != kind:
            return None
        if kind == "program" and int(float(at or 1)) > 1:
            self.board.power_loss = f"program@{int(float(at)) - 1}"
            return None
        self.board.power_loss = ""
        self.board.powered = False
        self._sync_pins()
        self.chip.events.append((self.clock.now, f"power lost during {kind} at {address:#010x}"))
        return float(at or 0.5) if kind == "erase" else 0.5

    def usb_transfer_done(self) -> None:
        """Count a USB transfer and fire an armed unplug when its count is reached."""
        self.board.usb_transfers += 1
        limit = self.board.faults.get("usb-unplug-after")
        if limit is not None and self.board.usb_transfers >= limit:
            del self.board.faults["usb-unplug-after"]
            self.board.usb_unplugged = True

    def _toggle_scenario(self, value: str) -> None:
        add = not value.startswith("-")
        name = value.lstrip("+-")
        scenario = _scenario(name)
        if scenario.cause == "options":
            raise UsageError(f"{name} is an option-byte state: change it with 'stflash ob set' on the bench")
        if add:
            reason = scenario.applies_to(self.chip.chip)
            if reason:
                raise UsageError(f"scenario {name}: {reason}")
            if scenario.cause == "firmware":
                self._install_firmware(name, erase=True)
                self.power_cycle()
            if name not in self.board.scenarios:
                self.board.scenarios.append(name)
        elif name in self.board.scenarios:
            self.board.scenarios.remove(name)
        self._board_scenario(name, add)
        if name == "no-target-power" and not add:
            self.power_cycle()
        elif name == "bootloader-only":
            self.press_reset()  # BOOT0 moved: the next reset starts the other boot memory

    def _board_scenario(self, name: str, on: bool) -> None:
        """The board facts a board scenario stands for (jumper, supply, adapter)."""
        if name == "bootloader-only":
            self.board.boot0 = on
        elif name == "no-target-power":
            self.board.powered = not on
        elif name == "ftdi-latency":
            self.board.uart_latency_us = FTDI_LATENCY_US if on else LOW_LATENCY_US

    # -- what holds now --------------------------------------------------------------------------
    def scenario_active(self, name: str) -> bool:
        """Is the scenario in force now? Firmware scenarios only while their bytes are in flash."""
        scenario = get_scenario(name)
        if scenario.cause == "options":
            row = self.chip.chip
            return all(row.option_field(f) is not None and self.chip.option(f) == v for f, v in scenario.options)
        if name == "no-target-power":
            return not self.board.powered
        if name == "bootloader-only":
            return self.chip.boot_source == "bootloader"
        if name == "ftdi-latency":
            return name in self.board.scenarios and self.board.uart_latency_us >= FTDI_LATENCY_US
        fw = self.board.firmware.get(name)
        if fw is None or self.chip.boot_source != "flash":
            return False
        # the cells themselves (read protection hides them from masters, not from the firmware)
        address, length = int(fw["address"]), int(fw["length"])
        bank = self.chip.bank_at(address)
        if bank is None or not bank.contains(address, length):
            return False
        return (zlib.crc32(bank.read(address, length)) & 0xFFFFFFFF) == int(fw["crc32"])

    def active_scenarios(self) -> list[str]:
        names = set(self.board.scenarios) | {n for n, s in SCENARIOS.items() if s.cause == "options"}
        return [n for n in SCENARIOS if n in names and self.scenario_active(n)]

    def firmware_effect(self, name: str) -> bool:
        """A firmware scenario's effect is on: its firmware is in flash and the core has run it
        far enough to do what it does (pins taken, Stop entered, supply switched: see
        ``sim.firmware``), read back from the chip's registers. A core halted by the debugger (say
        by vector catch at the reset vector), held in reset (NRST low) or gated off runs nothing.
        Scenarios without a register-level check need a core to have executed for their delay."""
        if self.board.nrst_held or not self.board.powered or not self.scenario_active(name):
            return False
        self.chip.sync_cores()
        effect = FIRMWARE_EFFECTS.get(name)
        if effect is not None:
            return effect(self.chip)
        after = get_scenario(name).effect_after_ns
        return any(core is not None and core.executed_ns >= after for core in self.chip.cores)

    def describe(self) -> dict[str, Any]:
        chip = self.chip
        return {
            "directory": str(self.directory),
            "chip": chip.chip.name,
            "part": self.board.part,
            "description": chip.chip.description,
            "probe": f"ST-LINK/{self.board.probe}",
            "boot0": self.board.boot0,
            "nrst_held": self.board.nrst_held,
            "powered": self.board.powered,
            "supply_lockup": self.supply_locked(),
            "running": chip.boot_source,
            "rdp_level": chip.rdp_level,
            "scenarios": self.board.scenarios,
            "active_scenarios": self.active_scenarios(),
            "flash_empty": chip.flash_empty(),
            "clock_s": chip.clock.now / 1e9,
            "uart_wiring": asdict(self.board.uart_wiring),
            "uart_port": self.board.uart_port,
            "usb_connected": not self.board.usb_unplugged,
            "target_usb": self.board.target_usb,
            "target_usb_open": self.board.target_usb_open or "ok",
            "dfu_rom": self.board.dfu_rom or "default",
            "uart_latency_us": self.board.uart_latency_us,
            "faults": {k: v - self.fault_counter(k) for k, v in self.board.faults.items()}
            | ({"power-loss-during": self.board.power_loss} if self.board.power_loss else {}),
        }


def scenario_firmware(chip: Chip, name: str) -> bytes:
    """The image a firmware scenario leaves in flash: a program the simulated core runs after
    reset, which does, after the scenario's delay, what makes the board misbehave (see
    ``sim.firmware``); tagged with the scenario name. The bytes are what a user would find and
    erase."""
    if name == DFU_RUNTIME:
        from .dfu.runtime import application_image

        return application_image(chip)
    return scenario_image(chip, name, get_scenario(name).effect_after_ns)


def _uart_port(chip: Chip, text: str | None) -> str:
    """The port ``--uart-port`` names among those the chip's ROM lists (default: its first)."""
    rom = chip.bootloader
    if text is None:
        return default_port(rom)
    port = choose_port(rom, text)
    if port is None:
        listed = ", ".join(rom_ports(rom))
        raise UsageError(f"--uart-port {text!r}: the {chip.name} ROM "
                         + (f"listens on {listed}" if listed else "has no UART bootloader"))
    return port


def _scenario(name: str) -> Scenario:
    try:
        return get_scenario(name)
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None


def _bool(name: str, value: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "high", "on", "true", "yes"):
        return True
    if v in ("0", "low", "off", "false", "no"):
        return False
    raise UsageError(f"sim set {name}={value}: use 1 or 0")


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@contextmanager
def _flock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
