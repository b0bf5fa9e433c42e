"""The UART system bootloader as a :class:`~stflash.target.TargetLink`.

What a failure means for the flash is decided here: a frame whose ACK was lost is never sent
again blindly — the range is read back first, and only an untouched (erased) range is rewritten.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ...chips import option_area
from ...chips.lookup import chips_for_dev_id, identify
from ...chips.model import Chip, FlashKind, Sector
from ...errors import (
    DeviceBusyError,
    LinkError,
    NoDeviceError,
    NotSupportedError,
    OperationTimeoutError,
    ProtectedError,
    StflashError,
    TargetNotRespondingError,
    UsageError,
)
from ...target import TargetInfo, erase_budget
from .an3155 import ACK, MAX_FRAME, REPLY_TIMEOUT_S, An3155, BadReply, BootloaderInfo, Nack, NoReply, Silent
from .autobaud import AUTO_RATES, IDENTIFY_RATE, MAX_DEVIATION, PATTERNS, family_of, verify_rate, worth_trying
from .lines import BOOT_SETTLE_S, EARLY_SYNC_S, LineDriver, LineSequence

T = TypeVar("T")
DEFAULT_BAUD = 115200
AUTO_BAUD = 0  # UartOptions.baud for "-c uart:PORT:auto": the link finds the rate (autobaud.py)
FRAME_RETRIES = 3
HANDSHAKE_RETRY_S = 0.2  # --wait: pause between handshake attempts
MAX_PAGES_PER_ERASE = 511  # L152 takes no more than 512, L082 no more than 511 per command
# The early 0x7F's answer: a ROM's ACK takes 0.1-0.2 ms (AN2606 Table 228), an FTDI adapter without
# low-latency mode holds it up to 16 ms; all of it inside BOOT_SETTLE_S, so a slower ROM loses nothing.
EARLY_REPLY_S = 0.03
# AN2606 "Bootloader startup timings": the slowest ROM start (an L47x without its LSE crystal, 2.56 s)
SLOWEST_START_S = 2.7

HANDSHAKE_HINT = (
    "check that BOOT0 is high when the chip resets (jumper, or --boot0-pin/--reset-pin/--entry to "
    "drive it from the adapter), that adapter TX goes to the chip's RX (PA10 on USART1) and RX to TX "
    "(swap them if unsure), that GND is shared, the baud rate (try :57600), and that no other "
    "program (a serial monitor, ModemManager) holds the port"
)


@dataclass
class UartOptions:
    baud: int = DEFAULT_BAUD  # AUTO_BAUD: the fastest rate that passes a handshake and a read-back
    lines: LineSequence = field(default_factory=LineSequence)
    wait: float = 0.0  # seconds to keep trying the handshake
    low_latency: bool = True
    # F2/F4/F7 only: the voltage range the ROM programs for (AN2606 "virtual byte" at 0xFFFF0000).
    # The ROM starts in range 0 (1.8-2.1 V: byte programming and x8 erase); range 3 (2.7-3.6 V, the
    # supply of every Nucleo and Discovery board) programs 32 bits at once, erases about 4x faster.
    # None leaves the ROM's choice; a board below 2.7 V needs a lower range (--vrange).
    voltage_range: int | None = 3
    # flash through stflash's stub (Write Memory + Go, then frames at the wire's speed) where the
    # part has a USART row (chips/usart.py); False keeps to the ROM's own commands (--no-stub)
    stub: bool = True


VOLTAGE_RANGE_BYTE = 0xFFFF_0000
VOLTAGE_RANGE_KINDS = (FlashKind.F2_F4, FlashKind.F7)


def open_serial(port_name: str, baud: int) -> Any:
    """Open a device path or pyserial URL at 8E1, no flow control."""
    import serial

    try:
        port = serial.serial_for_url(
            port_name, baudrate=baud, bytesize=serial.EIGHTBITS, parity=serial.PARITY_EVEN,
            stopbits=serial.STOPBITS_ONE, timeout=0.5, xonxoff=False, rtscts=False, dsrdtr=False,
            do_not_open=True,
        )
        port.open()
    except (ValueError, serial.SerialException) as exc:
        text = str(exc)
        if "busy" in text.lower() or "Errno 16" in text:
            raise DeviceBusyError(f"serial port {port_name} is busy: {text}",
                                  hint="another program holds it: close serial monitors and other flashers") from exc
        if "Errno 13" in text or "ermission" in text:
            raise DeviceBusyError(f"no permission to open {port_name}: {text}",
                                  hint="add yourself to the dialout (Debian/Ubuntu) or uucp (Arch) group, "
                                  "then log in again") from exc
        raise NoDeviceError(f"cannot open serial port {port_name}: {text}",
                            hint="'stflash list' shows the serial ports that are attached") from exc
    return port


class UartLink:
    """A chip in its USART bootloader, behind a serial port."""

    link = "uart"
    # Extended Erase takes a list of pages: one command, two ACK waits, whatever the count
    erases_in_one_command = True
    # every byte read crosses the wire at the baud rate, as a written one does: reading to find
    # what need not be rewritten saves little, and per-sector probes cost three ACK waits each
    reads_cost_like_writes = True

    def __init__(self, port: Any, name: str, options: UartOptions,
                 *, sleep: Callable[[float], None] | None = None) -> None:
        self.port = port
        self.name = name
        self.options = options
        self.sleep = sleep or time.sleep
        self.bl = An3155(port)
        self.lines = LineDriver(port, self.sleep)
        self.chip: Chip | None = None
        self.rdp_level: int | None = None
        self.info: BootloaderInfo | None = None
        self.low_latency = False
        self.range_set = False  # the ROM forgets the voltage range on each reset
        self.baud_note = ""  # how an automatic rate was chosen
        if options.low_latency:
            self.low_latency = _ask_low_latency(port)

    @classmethod
    def open(cls, port_name: str, options: UartOptions,
             *, sleep: Callable[[float], None] | None = None) -> UartLink:
        """``sleep``: how the host waits (line-sequence pauses, handshake retries); the virtual
        bench passes one that moves its clock instead of the wall clock."""
        port = open_serial(port_name, options.baud or DEFAULT_BAUD)
        return cls(port, port_name, options, sleep=sleep)

    @property
    def baud(self) -> int:
        return int(self.port.baudrate)

    @property
    def description(self) -> str:
        """One line for a person: where, how fast, and why that fast."""
        return f"UART bootloader on {self.name} at {self.baud} baud (8E1)" + (f"; {self.baud_note}" if self.baud_note else "")

    # -- connecting -----------------------------------------------------------------------------
    def _connect(self) -> str:
        if self.options.baud != AUTO_BAUD:
            return self._handshake()
        if self.options.lines.resets():
            return self._auto_with_reset()
        return self._auto_without_reset()

    def _set_baud(self, rate: int) -> bool:
        """False when the adapter (or its driver) refuses the rate."""
        try:
            self.port.baudrate = rate
        except (ValueError, OSError):
            return False
        return True

    def _try_rate(self, rate: int, *, reset: bool, patient: bool = False) -> tuple[str | None, str]:
        """(handshake state, "") when ``rate`` carries bytes both ways, else (None, why not). What
        answered Get and Get ID, even at a rate that then failed, is in ``self.bl.info``.
        ``patient``: a ROM silent after the reset may be a slow starter (``_enter_and_sync``)."""
        self.bl.info = None
        if not self._set_baud(rate):
            return None, "the adapter refuses it"
        try:
            # after a reset a fresh ROM measures this rate's 0x7F
            state = self._enter_and_sync(patient=patient) if reset else self._handshake()
            verify_rate(self.bl)
        except StflashError as exc:
            return None, exc.message
        return state, ""

    def _auto_with_reset(self, highest: int | None = None) -> str:
        """Fastest first, a reset before each rate; the first that passes is kept, in the ROM session
        that passed (no further reset). After a failure the part is learnt at 115200 if it is not
        known yet, and faster rates its ROM cannot measure within 2.5 % are left out (autobaud.py)."""
        rates = [r for r in AUTO_RATES if highest is None or r <= highest]
        family = self.chip.family if self.chip is not None else None
        failed: list[str] = []
        skipped: set[int] = set()
        fallback: int | None = None  # a rate that passed while faster ones were still worth a try
        while rates:
            skipped |= {r for r in rates if not worth_trying(family, r)}
            rates = [r for r in rates if r not in skipped]
            if not rates:
                break
            rate = rates[0]
            if failed and family is None and fallback is None and IDENTIFY_RATE in rates:
                rate = IDENTIFY_RATE  # a faster rate failed and the part is unknown: ask it at 115200
            rates.remove(rate)
            # only the search's first reset waits for a slow ROM: a silent one then is no rate's fault
            state, why = self._try_rate(rate, reset=True, patient=not failed and fallback is None)
            family = family or family_of(self.bl.info)
            skipped |= {r for r in rates if not worth_trying(family, r)}
            faster = [r for r in rates if r > rate and r not in skipped]
            if state is not None and not faster:
                self.baud_note = _auto_note(rate, failed, sorted(skipped, reverse=True), family)
                return state
            if state is not None:
                # 115200 works and names a part that may run faster: try those, then come back here
                fallback = rate
                rates = [*faster, rate, *(r for r in rates if r < rate)]
                continue
            failed.append(f"{rate} failed: {why}")
            if rate == IDENTIFY_RATE:
                rates = [r for r in rates if r < rate]  # the tested rate garbles: faster ones will too
        raise TargetNotRespondingError(
            f"no baud rate worked on {self.name} ({'; '.join(failed)})", hint=HANDSHAKE_HINT)

    def _auto_without_reset(self) -> str:
        """Without a reset line the ROM keeps the rate of the first 0x7F it got: 115200 if nobody
        spoke to it yet (the fastest rate AN3155 says was tested), else whatever a previous session
        locked, which the other rates find (a locked ROM NACKs a second 0x7F)."""
        failed: list[str] = []
        for rate in (DEFAULT_BAUD, *(r for r in AUTO_RATES if r != DEFAULT_BAUD)):
            state, why = self._try_rate(rate, reset=False)
            if state is not None:
                how = "it had locked that rate before" if state == "already" else "it locked it now"
                self.baud_note = (f"auto without reset wiring: the bootloader keeps the rate of its first 0x7F "
                                  f"until a reset ({how}); --wiring or --reset-pin lets auto try faster rates")
                return state
            failed.append(f"{rate} failed: {why}")
        raise TargetNotRespondingError(
            f"no baud rate worked on {self.name} ({'; '.join(failed)})", hint=HANDSHAKE_HINT)

    def _enter_and_sync(self, *, patient: bool) -> str:
        """The entry sequence, then the handshake. After our own NRST pulse a first 0x7F goes out
        EARLY_SYNC_S after the release: most ROMs listen by then, and one still starting loses that
        character whole and is greeted again once BOOT_SETTLE_S is over. ``patient``: a ROM silent
        after that gets one more reset and SLOWEST_START_S."""
        lines = self.options.lines
        self.lines.run(lines.entry)
        if not lines.settle:
            return self.bl.sync()
        self.sleep(EARLY_SYNC_S)
        early = self.bl.sync_once(EARLY_REPLY_S)
        if early == ACK:
            return "synced"
        self.sleep(max(0.0, lines.settle - EARLY_SYNC_S - EARLY_REPLY_S))
        try:
            return self.bl.sync()
        except Silent:
            if not patient or early is not None:  # an answer, even a garbled one: the ROM was up
                raise
        self.lines.run(lines.entry)
        self.sleep(SLOWEST_START_S)
        return self.bl.sync()

    def _handshake(self) -> str:
        waited = 0.0
        while True:
            try:
                if self.options.lines.entry:
                    return self._enter_and_sync(patient=waited == 0.0)
                return self.bl.sync()
            except TargetNotRespondingError as exc:
                if waited < self.options.wait:
                    self.sleep(HANDSHAKE_RETRY_S)
                    waited += HANDSHAKE_RETRY_S + 2 * REPLY_TIMEOUT_S  # the pause and the two 0x7F
                    continue
                raise TargetNotRespondingError(
                    f"{exc.message} on {self.name} at {self.baud} baud (8E1)", hint=HANDSHAKE_HINT
                ) from None

    def identify(self) -> TargetInfo:
        state = self._connect()
        try:
            # an automatic rate was checked with Get and Get ID in this very session: no need to ask again
            info = self.bl.info or self._retry(self.bl.identify)
        except NoReply as exc:
            raise TargetNotRespondingError(
                f"the bootloader on {self.name} answered the handshake but not Get ({exc.message})",
                hint="a wrong parity setting or an adapter without parity support (old CH341 drivers) "
                "does this; check the baud rate",
            ) from None
        self.info = info
        obs: dict[str, object] = {
            "port": self.name, "baud": self.baud, "handshake": state,
            "bootloader_version": info.version_text, "commands": info.command_names(),
            "product_id": f"{info.pid:#05x}", "low_latency": self.low_latency,
        }
        if self.baud_note:
            obs["baud_choice"] = self.baud_note
        rows = chips_for_dev_id(info.pid)
        if not rows:
            return TargetInfo("uart", None, dev_id=info.pid, observations=obs)
        flash_kib, self.rdp_level = self._flash_size_and_rdp(rows[0])
        chip = identify(info.pid, flash_kib)
        self.chip = chip
        return TargetInfo("uart", chip, dev_id=info.pid,
                          flash_size=flash_kib * 1024 if flash_kib else None,
                          rdp_level=self.rdp_level, observations=obs)

    def more_observations(self) -> dict[str, object]:
        """What costs another command and only a person reading ``probe`` needs: the ROM's
        bootloader ID byte (AN2606), one Read Memory that a write would pay for nothing."""
        chip = self.chip
        if chip is None or not chip.bootloader.id_address or self.rdp_level:
            return {}
        with contextlib.suppress(LinkError, OperationTimeoutError):
            return {"bootloader_id": f"{self._read_frame(chip.bootloader.id_address, 1)[0]:#04x}"}
        return {}

    def _flash_size_and_rdp(self, row: Chip) -> tuple[int | None, int]:
        reg = row.flash_size_register
        if not reg:
            return None, 0
        try:
            raw = self._read_frame(reg & ~3, 4)
        except ProtectedError:
            return None, 1
        except Nack:
            # some ROMs (F401) refuse that address but read on from the start of its 256-byte block;
            # only up to the register, not the whole block (each byte is 11 bit times)
            try:
                raw = self._read_frame(reg & ~0xFF, (reg & 0xFC) + 4)[(reg & 0xFC):][:4]
            except (Nack, ProtectedError):
                return None, 0
        value = int.from_bytes(raw[reg & 3 : (reg & 3) + 2], "little")
        return (value if value not in (0, 0xFFFF) else None), 0

    def _retry(self, operation: Callable[[], T]) -> T:
        """Run a command that is safe to repeat (Get, Get ID, Read Memory, erase), getting back in
        step and trying again after a NACK, a lost reply or a garbled one. Read protection and an
        address the ROM refuses are answers: retrying would not change them."""
        for attempt in range(FRAME_RETRIES):
            try:
                return operation()
            except (NoReply, Nack, BadReply) as exc:
                if attempt == FRAME_RETRIES - 1 or (isinstance(exc, Nack) and exc.stage == "address"):
                    raise
                self.bl.resync()
        raise AssertionError("unreachable")

    def _chip(self) -> Chip:
        if self.chip is None:
            raise LinkError("the chip behind the bootloader was not identified")
        return self.chip

    # -- memory ---------------------------------------------------------------------------------
    def _read_frame(self, address: int, length: int) -> bytes:
        return self._retry(lambda: self.bl.read_memory(address, length))

    def read(self, address: int, length: int) -> bytes:
        out = bytearray()
        pos, end = address, address + length
        while pos < end:
            n = min(MAX_FRAME, end - pos)
            try:
                out += self._read_frame(pos, n)
            except Nack as exc:
                raise LinkError(f"the bootloader refuses to read {pos:#010x}: not a readable address",
                                hint="the bootloader reads flash, RAM outside its own area, system memory and "
                                "option bytes only") from exc
            pos += n
        return bytes(out)

    def _set_voltage_range(self) -> None:
        """Tell an F2/F4/F7 ROM the supply range once, before its first erase or program."""
        wanted = self.options.voltage_range
        if self.range_set or wanted is None or self.chip is None or self.chip.flash_kind not in VOLTAGE_RANGE_KINDS:
            return
        with contextlib.suppress(Nack):  # a ROM without the virtual byte programs at x8: slower, still right
            self.bl.write_memory(VOLTAGE_RANGE_BYTE, bytes([wanted, 0xFF, 0xFF, 0xFF]))
        self.range_set = True

    def program(self, address: int, data: bytes) -> None:
        self._set_voltage_range()
        unit = max(4, self.chip.write_unit if self.chip else 4)
        erased = self.chip.erased_value if self.chip else 0xFF
        pos = 0
        while pos < len(data):
            chunk = data[pos : pos + MAX_FRAME]
            chunk += bytes([erased]) * (-len(chunk) % unit)  # the rest of a flash word stays as erased
            try:
                self._write_frame(address + pos, chunk)
            except StflashError as exc:
                exc.written_upto = pos
                raise
            pos += MAX_FRAME

    def _write_frame(self, address: int, chunk: bytes) -> None:
        for attempt in range(FRAME_RETRIES):
            try:
                self.bl.write_memory(address, chunk)
                return
            except ProtectedError:
                raise
            except (NoReply, Nack, LinkError) as exc:
                failure = exc
            # the chip may or may not have written the frame: look before sending it again
            self.bl.resync()
            now = self.read(address, len(chunk))
            if now == chunk:
                return  # written; only the ACK was lost
            erased = self.chip.erased_value if self.chip else 0xFF
            if any(b != erased for b in now) and self._in_flash(address):
                raise LinkError(
                    f"the write of {address:#010x}-{address + len(chunk) - 1:#010x} failed half-way "
                    f"({failure.message}); that range now holds other bytes and needs an erase",
                    hint="run the write again: the sector is erased and rewritten",
                )
            if attempt == FRAME_RETRIES - 1:
                raise LinkError(f"the write at {address:#010x} failed {FRAME_RETRIES} times: {failure.message}",
                                hint="a noisy line or a too high baud rate; try a lower baud") from failure

    def _in_flash(self, address: int) -> bool:
        chip = self.chip
        return chip is not None and any(b.base <= address < b.base + b.size for b in chip.banks)

    # -- erase ----------------------------------------------------------------------------------
    def erase_sectors(self, sectors: Sequence[Sector], *, skip_blank: bool = False) -> None:
        self._set_voltage_range()
        for i in range(0, len(sectors), MAX_PAGES_PER_ERASE):
            batch = list(sectors[i : i + MAX_PAGES_PER_ERASE])
            pages, timeout = [s.index for s in batch], erase_budget(sum(s.size for s in batch))
            try:
                self._retry(lambda p=pages, t=timeout: self.bl.erase_pages(p, t))  # type: ignore[misc]
            except NoReply as exc:
                raise OperationTimeoutError(
                    f"the erase of {len(batch)} sector(s) from {batch[0].address:#010x} did not finish "
                    f"in {timeout:.1f} s", hint="power-cycle the board into its bootloader and retry"
                ) from exc
            except Nack as exc:
                raise LinkError(f"the bootloader refused to erase the sector(s) at {batch[0].address:#010x}",
                                hint="write protection may cover them: 'stflash ob show'") from exc

    def mass_erase(self, *, skip_blank: bool = False) -> None:
        chip = self._chip()
        self._set_voltage_range()
        if not chip.bootloader.mass_erase:  # L0/L1 ROMs NACK a global erase: page by page
            self.erase_sectors(chip.sectors())
            return
        timeout = erase_budget(chip.flash_size, mass=True)
        try:
            self._retry(lambda: self.bl.mass_erase(timeout))
        except NoReply as exc:
            raise OperationTimeoutError(f"the mass erase did not finish in {timeout:.0f} s") from exc

    def sector_crcs(self, sectors: Sequence[Sector]) -> dict[int, int] | None:
        return None  # no current ROM has Get Checksum; the session reads back instead

    # -- running ----------------------------------------------------------------------------------
    def reset(self, run: bool = True) -> None:
        if not run:
            raise NotSupportedError("the UART bootloader cannot halt the core", hint="use an ST-LINK for --halt")
        if self.options.lines.exit:
            self.lines.run(self.options.lines.exit)
            return
        chip = self._chip()
        try:
            self.bl.go(chip.flash_base)
        except Nack as exc:
            raise LinkError(f"the bootloader refused Go {chip.flash_base:#010x}") from exc

    # -- option bytes -----------------------------------------------------------------------------
    def _option_chip(self) -> Chip:
        chip = self._chip()
        if not option_area.supported(chip):
            raise NotSupportedError(
                f"the {chip.name} bootloader has no memory-mapped option-byte area to rewrite",
                hint="change them through an ST-LINK: stflash ob set ... -c stlink",
            )
        return chip

    def _read_area(self, chip: Chip) -> dict[int, bytes]:
        return {a: self.read(a, n) for a, n in option_area.area_spans(chip)}

    def read_option_bytes(self) -> dict[str, int]:
        chip = self._option_chip()
        if self.rdp_level:
            # the ROM hides the option area under RDP level 1: only the level itself is known
            rdp = chip.option_field("RDP")
            return {rdp.name: rdp.rdp_value(1)} if rdp is not None else {}
        return option_area.decode(chip, self._read_area(chip))

    def write_option_bytes(self, values: dict[str, int]) -> None:
        """Rewrite the option area (the bootloader resets the chip afterwards), or use Readout
        Protect/Unprotect for an RDP-only change — the only way in or out of level 1 here."""
        chip = self._option_chip()
        rdp = chip.option_field("RDP")
        if rdp is not None and set(values) == {rdp.name}:
            target = rdp.rdp_level(values[rdp.name])
            if self.rdp_level == 1 and target == 0:
                self.bl.readout_unprotect(erase_budget(chip.flash_size, mass=True) + 1.0)
                self._reconnect()
                return
            if self.rdp_level == 0 and target == 1 and self.bl.info and self.bl.info.supports(0x82):
                self.bl.readout_protect()
                self._reconnect()
                return
        if self.rdp_level:
            raise ProtectedError(f"{chip.name} is read-protected: option bytes other than RDP cannot change",
                                 hint="first lower the protection: stflash ob set RDP=0xAA --yes (mass-erases)")
        before = self._read_area(chip)
        after = option_area.encode(chip, before, values)
        for address, data in after.items():
            if data == before[address]:
                continue
            with contextlib.suppress(NoReply):  # some ROMs reset before their last ACK leaves the wire
                self.bl.write_memory(address, data + b"\xff" * (-len(data) % 4), timeout=2.0)
            self._reconnect()
        got = option_area.decode(chip, self._read_area(chip)) if self.rdp_level == 0 else {}
        wrong = {k: v for k, v in values.items() if k in got and got[k] != v}
        if wrong:
            raise LinkError("option bytes did not take: " + ", ".join(f"{k}={got[k]:#x} (wanted {v:#x})"
                                                                    for k, v in wrong.items()))

    def _reconnect(self) -> None:
        """The bootloader reset the chip: wait for it to start again and shake hands."""
        self.range_set = False
        if not self.options.lines.resets():  # (an entry sequence resets it again and waits itself)
            self.sleep(self._start_time())
        self.bl.drain()
        try:
            self._handshake()
            self.bl.identify()
        except StflashError:
            # the restarted ROM measured a new 0x7F: at an automatic rate its error may now be too big
            if self.options.baud != AUTO_BAUD or not self.options.lines.resets():
                raise
            self._auto_with_reset(highest=self.baud)
            self.bl.identify()
        chip = self._chip()
        _, self.rdp_level = self._flash_size_and_rdp(chip)

    def _start_time(self) -> float:
        """How long the identified part's ROM takes to listen after a reset, with room: AN2606's
        figure (a minimum) plus a quarter and 1 ms; BOOT_SETTLE_S for a part without one."""
        startup = self.chip.bootloader.startup_ms if self.chip is not None else None
        return BOOT_SETTLE_S if startup is None else startup * 1.25e-3 + 0.001

    def close(self) -> None:
        with contextlib.suppress(Exception):  # a vanished adapter must not hide the real error
            self.port.close()


def _auto_note(rate: int, failed: list[str], skipped: list[int], family: str | None) -> str:
    """Why auto settled on ``rate``: what failed, and what was not worth a reset."""
    note = (f"auto: the fastest rate that passed a handshake and {len(PATTERNS)} checked "
            f"{len(PATTERNS[0])}-byte write/read-backs")
    details = list(failed)
    above = sorted((r for r in set(skipped) if r > rate), reverse=True)
    if above:
        details.append(f"{', '.join(map(str, above))} not tried: the {family} ROM times 0x7F in software, "
                       f"off by more than {MAX_DEVIATION:.1%} there (AN2606 Table 6, AN3155)")
    return note + (f" ({'; '.join(details)})" if details else "")


def _ask_low_latency(port: Any) -> bool:
    """Ask the driver to hand each received byte over at once (FTDI's 16 ms timer -> 1 ms)."""
    setter = getattr(port, "set_low_latency_mode", None)
    if setter is None:
        return False
    try:
        setter(True)
        return True
    except (OSError, ValueError, NotImplementedError):
        return False


def parse_baud(value: int | str) -> int:
    if isinstance(value, int):
        return value
    if value == "auto":
        return AUTO_BAUD
    raise UsageError(f"baud rate {value!r}")

