"""The UART bootloader with stflash's stub: the ROM identifies the chip, then the host writes the
stub into RAM and starts it with Go, and the stub erases, programs, compares and sums flash at
the wire's speed (``links/uart/stub.py`` has the protocol, ``flash/stub/stub.S`` the code).

The stub takes the same USART and pins the ROM used and speaks 8E1 at the host's rate, from the
HSI (``chips/usart.py``). It erases and programs with the very steps the ST-LINK loader runs,
from the flash drivers. Everything the ROM does and the stub does not (option bytes, a part
without a USART row, read protection) goes to the ROM, which a reset brings back.
"""

from __future__ import annotations

import contextlib
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import serial

from .chips.model import Chip, Sector
from .chips.usart import MODIFY, STORE, UNTIL, brr_for, usart_wiring
from .errors import LinkError, StflashError, VerifyError
from .flash.debug import FlashStep, ProgramSetup
from .flash.drivers import driver_for
from .flash.drivers.base import FlashDriver
from .flash.stub import stub_code
from .links.uart.link import VOLTAGE_RANGE_KINDS, UartLink
from .links.uart.stub import (
    ANS_FLASH,
    ANS_STEP,
    ANS_VERIFY,
    BLANK_FLAG,
    CMD_AFTER,
    CMD_CHECK,
    CMD_PROGRAM0,
    CMD_READ,
    CRC_SIZE,
    HEADER,
    P_ERASED,
    P_ERRS,
    P_INIT,
    P_KICK,
    P_MAXFRAME,
    P_NINIT,
    P_NPORTS,
    P_PORTS,
    P_RXNE,
    P_SETUPS,
    P_SLOT0,
    P_SLOTEND,
    P_SR,
    P_STRIDE,
    P_TABLE,
    P_TXE,
    P_WAKE,
    P_ZERO,
    PARAM_SIZE,
    PORT_SIZE,
    SETUP_SIZE,
    SLOT_STATE,
    STEP_MODIFY,
    STEP_SIZE,
    STEP_SKIP,
    STEP_STORE,
    STEP_UNTIL,
    STEP_WAIT,
    Answer,
    Frame,
    Step,
    StubError,
    StubWire,
    pack_steps,
)
from .target import crcs_by_sector, program_each

DATA_MAX = 2048  # data bytes per frame: 16 bytes of header and CRC cost 0.8 %
STEP_ROOM = 32  # steps a frame can carry besides its data
INIT_ROOM = 48  # steps that start the USARTs (the longest, the H7's three, take 42)
MAX_PORTS = 4
TX_ROOM = 4  # steps that give the chosen port its TX pin
MAX_SLOTS = 128  # 256 KiB of frames: a 2 s erase at 921600 baud
MIN_SLOTS = 2
STACK = 256
WRITE_MAX = 256  # Write Memory's limit (AN3155 3.6)
# below this the ROM is done before the stub would be running (some 2 KiB through Write Memory,
# Go, a reset back to the ROM afterwards)
STUB_MIN_BYTES = 4 * 1024
# After Go: the stub starts listening after its set-up and its CRC table (some 5 000 cycles, under
# 0.2 ms on the bench's 16 MHz core, twice that with the Cortex-M0+'s two-cycle loads and
# branches); the host's wake pair is sent 1 ms after Go's ACK, and again up to WAKE_TRIES times.
STUB_START_S = 0.001
WAKE_TRIES = 3
# A stub nobody wakes resets the chip after about this long, counted in rounds over its ports at
# the fewest cycles a round takes (per port three loads, a test and two taken branches; per round
# two loads, the watchdog kick's call and a branch: Cortex-M0+/M4 timings, peripheral wait states
# left out), so it may be a few times longer (the bench's F407: 64 ms after Go). Without a reset
# line the host waits GIVE_UP_S for that reset, then the ROM's own start-up (UartLink._reconnect);
# with one it resets the chip itself at once.
WAKE_GIVE_UP_S = 0.1
ROUND_CYCLES_PER_PORT, ROUND_CYCLES_FIXED = 12, 20
GIVE_UP_S = 0.5
CHECK_BYTES_S = 1e-6  # generous: a software CRC32 at 16 MHz takes about 0.5 us per byte
PROGRAM_S_PER_UNIT = 200e-6  # generous per program unit (datasheets: 16-100 us)
AIRCR, AIRCR_SYSRESET = 0xE000_ED0C, 0x05FA_0004  # VECTKEY | SYSRESETREQ (ARMv6-M/ARMv7-M)
VOLTAGE_PSIZE = {0: 8, 1: 16, 2: 16, 3: 32}  # RM0090 "program/erase parallelism" by supply range
_STEP_KINDS = {STORE: STEP_STORE, MODIFY: STEP_MODIFY, UNTIL: STEP_UNTIL}


class _NoAccess:
    """The drivers describe steps without touching the chip: there is no debug access over UART
    (an error message that would read an option register, the RDP level, does without it: the
    stub runs only at RDP level 0)."""

    def __getattr__(self, name: str) -> Any:
        def refuse(*_args: Any, **_kwargs: Any) -> Any:
            raise LinkError(f"no debug access over the UART ({name})")

        return refuse


@dataclass
class _Placement:
    base: int
    params: int
    init: int  # the steps that start the USARTs, the port table, each port's TX pin steps
    table: int
    slot0: int
    stride: int
    slots: int


@dataclass
class _Work:
    """What a program frame does besides its data: the sectors its steps erase, and the steps
    (as the driver described them, to name the one that fails)."""

    erases: list[Sector]
    steps: list[FlashStep | Step]


@dataclass
class _Landed:
    ranges: list[tuple[int, int]] = field(default_factory=list)

    def add(self, address: int, length: int) -> None:
        if self.ranges and self.ranges[-1][0] + self.ranges[-1][1] == address:
            self.ranges[-1] = (self.ranges[-1][0], self.ranges[-1][1] + length)
        else:
            self.ranges.append((address, length))


class UartStubTarget:
    """A :class:`UartLink` whose flash work the stub does once it is worth starting."""

    def __init__(self, link: UartLink) -> None:
        self.rom = link
        self.wire: StubWire | None = None
        self.refused = ""  # why the stub is not used (empty: it may be)
        self._driver: FlashDriver | None = None
        self._place: _Placement | None = None  # where the running stub sits
        self.stub_failed = ""  # why a stub that was started did not answer (for the user: the ROM did the work)

    def __getattr__(self, name: str) -> Any:
        """Everything else is the ROM's: calling one of its commands while the stub runs brings the
        ROM back first (looking an attribute up changes nothing)."""
        attr = getattr(self.rom, name)
        if not callable(attr):
            return attr

        def through_rom(*args: Any, **kwargs: Any) -> Any:
            self._rom_answering()
            return attr(*args, **kwargs)

        return through_rom

    # -- what the session asks for -------------------------------------------------------------
    @property
    def erase_and_program(self) -> Callable[..., None]:
        """Offered only where the stub can run: otherwise the session erases and programs through
        the ROM's own commands, as on a plain :class:`UartLink`."""
        if not self._usable():
            raise AttributeError("erase_and_program")
        return self._erase_and_program

    @property
    def program_segments(self) -> Callable[..., None]:
        if not self._usable():
            raise AttributeError("program_segments")
        return self._program_segments

    def _usable(self) -> bool:
        if self.wire is not None:
            return True
        if not self.refused:
            self.refused = self._refusal()
        return not self.refused

    def _erase_and_program(self, sectors: Sequence[Sector], segments: Sequence[tuple[int, bytes]], *,
                          mass: bool = False, banks: Sequence[int] = (),
                          progress: Callable[[int, int], None] | None = None,
                          erasing: Callable[[Sequence[Sector]], None] | None = None) -> None:
        """Erase ``sectors`` (or all, or ``banks``) and program ``segments``; each erase runs on the
        target right before the first frame that writes into it, while the next frames arrive.
        A failure carries ``written``: the ranges that landed."""
        total = sum(len(d) for _, d in segments)
        if self.wire is None and total < STUB_MIN_BYTES:
            self.refused = "a small write"  # (and its verify reads the few bytes back)
        if not self._stub_ready(total):  # too small, or it did not start: the ROM does it all
            self._rom_erase_and_program(sectors, segments, mass, banks, progress, erasing)
            return
        assert self.wire is not None
        frames = self._program_frames(sectors, segments, mass, banks)
        landed, done = _Landed(), 0
        told: set[int] = set()

        def answered(answer: Answer) -> None:
            nonlocal done
            frame = answer.frame
            if frame.data:
                landed.add(frame.address, len(frame.data))
                done += len(frame.data)
                if progress is not None:
                    progress(min(done, total), total)

        # the erases are announced before the frames go out (the stub may start any of them)
        for frame in frames:
            fresh = [s for s in frame.tag.erases if s.index not in told]
            told.update(s.index for s in fresh)
            if erasing is not None and fresh:
                erasing(fresh)
        try:
            self.wire.run(frames, answered)
        except StubError as exc:
            error = self._translate(exc)
            error.written = landed.ranges
            raise error from exc
        except StflashError as exc:
            exc.written = landed.ranges
            raise

    def _program_segments(self, segments: Sequence[tuple[int, bytes]],
                          progress: Callable[[int, int], None] | None = None) -> None:
        self._erase_and_program((), segments, progress=progress)

    def check_ranges(self, ranges: Sequence[tuple[int, int]],
                     blank: Sequence[Sector] = ()) -> tuple[list[int], dict[int, bool]] | None:
        """The CRC32 of each range and whether each sector of ``blank`` is erased, summed on the
        target; None where the stub cannot run or is not worth starting for so few bytes (the
        caller reads back through the ROM). Adjacent sectors are checked as one range (one entry
        and one answer on the wire for a blank flash); only a run that is not all erased is
        checked again sector by sector."""
        if not self._stub_ready(sum(n for _, n in ranges) + sum(s.size for s in blank)):
            return None
        runs = _adjacent_runs(blank)
        values = self._sums([*ranges, *((run[0].address, sum(s.size for s in run) | BLANK_FLAG) for run in runs)])
        erased: dict[int, bool] = {}
        again = []
        for run, value in zip(runs, values[len(ranges):], strict=True):
            if value or len(run) == 1:
                erased.update((s.index, bool(value)) for s in run)
            else:
                again += run
        if again:
            erased.update(zip((s.index for s in again),
                              map(bool, self._sums([(s.address, s.size | BLANK_FLAG) for s in again])), strict=True))
        return values[: len(ranges)], {s.index: erased[s.index] for s in blank}

    def _sums(self, entries: Sequence[tuple[int, int]]) -> list[int]:
        """The stub's answer to each {address, length} entry (length bit 31: a blank check)."""
        assert self.wire is not None
        values: list[int] = []
        per_frame = (DATA_MAX // 8)
        frames = []
        for i in range(0, len(entries), per_frame):
            part = entries[i : i + per_frame]
            data = b"".join(struct.pack("<II", a, n) for a, n in part)
            size = sum(n & ~BLANK_FLAG for _, n in part)
            frames.append(Frame(CMD_CHECK, len(part), data, answer_size=4 * len(part),
                                budget_s=size * CHECK_BYTES_S))
        self.wire.run(frames, lambda a: values.extend(struct.unpack(f"<{len(a.payload) // 4}I", a.payload)))
        return values

    def sector_crcs(self, sectors: Sequence[Sector]) -> dict[int, int] | None:
        return crcs_by_sector(self.check_ranges, sectors)

    def read(self, address: int, length: int) -> bytes:
        if self.wire is None and not self._stub_ready(length):
            return self.rom.read(address, length)
        assert self.wire is not None
        out = bytearray()
        frames = [Frame(CMD_READ, 0, struct.pack("<II", a, n), answer_size=n + CRC_SIZE, budget_s=n * CHECK_BYTES_S)
                  for a, n in _pieces(address, length, DATA_MAX * 2)]

        def take(answer: Answer) -> None:
            data, crc = answer.payload[:-CRC_SIZE], answer.payload[-CRC_SIZE:]
            if zlib.crc32(data) & 0xFFFF_FFFF != int.from_bytes(crc, "little"):
                at, n = struct.unpack("<II", answer.frame.data)
                raise LinkError(f"the read of {at:#010x}-{at + n - 1:#010x} came back damaged (CRC32)",
                                hint="a noisy line or a too high baud rate; try a lower baud")
            out.extend(data)

        self.wire.run(frames, take)
        return bytes(out)

    def reset(self, run: bool = True) -> None:
        """The ROM's Go, as without the stub (a running stub hands the chip back to the ROM first)."""
        self._rom_answering()
        self.rom.reset(run)

    def close(self) -> None:
        """A stub still running hands the chip back to its ROM (with BOOT0 high, as it came) so
        the next command finds the bootloader, as after a write through the ROM."""
        if self.wire is not None:
            with contextlib.suppress(StflashError, OSError):
                self._back_to_rom()
        self.rom.close()

    def _rom_answering(self) -> None:
        """A running stub hands the chip back to the ROM, and the host greets the ROM again."""
        if self.wire is not None:
            self._back_to_rom()
            self.rom._reconnect()

    def _back_to_rom(self) -> None:
        """A system reset from the stub (AIRCR.SYSRESETREQ): the chip starts again from what BOOT0
        selects; nothing answers the frame."""
        assert self.wire is not None
        wire, self.wire = self.wire, None
        wire.send_only(Frame(CMD_PROGRAM0, 0, b"", [(STEP_STORE, AIRCR, AIRCR_SYSRESET, 0)]))
        self.rom.port.parity = serial.PARITY_EVEN  # what the ROM speaks
        self.rom.port.flush()

    # -- starting the stub ----------------------------------------------------------------------
    def _stub_ready(self, size: int) -> bool:
        """Is the stub running (starting it when ``size`` bytes of work make it worth it)?"""
        if self.wire is not None:
            return True
        if self.refused or size < STUB_MIN_BYTES:
            return False
        why = self._refusal()
        if why:
            self.refused = why
            return False
        try:
            self._start()
        except StflashError as exc:  # a ROM that does not run code from RAM, other pins: back to the ROM
            self.refused = self.stub_failed = exc.message
            self.rom._reconnect()
            return False
        return True

    def _refusal(self) -> str:
        link = self.rom
        if not link.options.stub:
            return "--no-stub"
        chip = link.chip
        if chip is None:
            return "the chip is not identified"
        if link.rdp_level:
            return "read protection is on"
        if not chip.bootloader.uart_ram:
            return "the ROM gives no RAM"
        wiring = usart_wiring(chip.family)
        if wiring is None:
            return f"no USART row for the {chip.family} family"
        if brr_for(wiring.kernel_hz, link.baud) is None:
            return f"{link.baud} baud is not within 2 % of a rate the USART makes from the HSI"
        if not self._drv().has_steps:
            return "no flash steps for this controller"
        if self._placement(chip) is None:
            return "not enough RAM"
        return ""

    def _drv(self) -> FlashDriver:
        if self._driver is None:
            chip = self.rom._chip()
            ranged = chip.flash_kind in VOLTAGE_RANGE_KINDS  # F2/F4/F7: the width follows the supply
            psize = VOLTAGE_PSIZE[self.rom.options.voltage_range or 0] if ranged else None
            self._driver = driver_for(chip, _NoAccess(), psize=psize)
        return self._driver

    def _placement(self, chip: Chip) -> _Placement | None:
        """The stub, its parameters and as many slots as fit in the largest RAM window the ROM
        lets the host write (more slots: longer erases hidden behind the line)."""
        windows = []
        for start in chip.bootloader.uart_ram:
            base = (start + 7) & ~7
            region = next((r for r in chip.ram if r.start <= base < r.start + r.size), None)
            if region is not None:
                windows.append((region.start + region.size - base, base, region))
        if not windows:
            return None
        _, base, region = max(windows)
        code = (len(stub_code()) + 7) & ~7
        params = base + code + STACK
        init = params + PARAM_SIZE + 2 * SETUP_SIZE
        table = (init + STEP_SIZE * INIT_ROOM + (PORT_SIZE + STEP_SIZE * TX_ROOM) * MAX_PORTS + 7) & ~7
        slot0 = table + 1024
        stride = SLOT_STATE + HEADER + STEP_SIZE * STEP_ROOM + DATA_MAX + CRC_SIZE
        slots = min(MAX_SLOTS, (region.start + region.size - slot0) // stride)
        if slots < MIN_SLOTS:
            return None
        return _Placement(base, params, init, table, slot0, stride, slots)

    def _start(self) -> None:
        link, chip = self.rom, self.rom._chip()
        wiring = usart_wiring(chip.family)
        brr = brr_for(wiring.kernel_hz, link.baud) if wiring else None
        place = self._placement(chip)
        assert wiring is not None and brr is not None and place is not None
        ports = wiring.ports_for(chip.bootloader)[:MAX_PORTS]
        if not ports:
            raise LinkError(f"no USART of the {chip.family} row is one this ROM listens on ({chip.bootloader.uart_pins})")
        regs = wiring.regs
        init = [_stub_step(s) for s in wiring.steps(ports, brr[0], brr[1])]
        assert len(init) <= INIT_ROOM
        drv = self._drv()
        setups = [drv.setup_values(b.base) for b in chip.banks[:2]]
        setups += setups[:1] * (2 - len(setups))
        per_round = ROUND_CYCLES_PER_PORT * len(ports) + ROUND_CYCLES_FIXED
        port_table = place.init + STEP_SIZE * len(init)  # written right after the steps: no gap to send
        tx_steps = port_table + PORT_SIZE * len(ports)
        words = {
            P_SR: place.params + P_ZERO, P_RXNE: regs.rxne, P_TXE: regs.txe, P_ERRS: regs.errors,
            P_KICK: wiring.iwdg_kr, P_SLOTEND: place.slot0 + place.slots * place.stride, P_SLOT0: place.slot0,
            P_STRIDE: place.stride, P_TABLE: place.table, P_INIT: place.init, P_NINIT: len(init),
            P_ERASED: int.from_bytes(bytes([chip.erased_value]) * 4, "little"), P_MAXFRAME: place.stride - SLOT_STATE,
            P_SETUPS: place.params + PARAM_SIZE, P_PORTS: port_table, P_NPORTS: len(ports),
            P_WAKE: -(-int(WAKE_GIVE_UP_S * wiring.kernel_hz) // per_round),
        }
        block = bytearray(PARAM_SIZE)
        for offset, value in words.items():
            struct.pack_into("<I", block, offset, value & 0xFFFF_FFFF)
        block += b"".join(_setup_words(s) for s in setups)
        assert place.params + len(block) == place.init
        block += pack_steps(init)
        tx = [[_stub_step(s) for s in port.tx_pin] for port in ports]
        for i, port in enumerate(ports):
            usart = port.base
            icr = usart + regs.icr if regs.icr is not None else 0
            at = tx_steps + STEP_SIZE * sum(len(t) for t in tx[:i])
            block += struct.pack("<6I8x", usart + regs.sr, usart + regs.rdr, usart + regs.tdr, icr, at, len(tx[i]))
        block += pack_steps(s for t in tx for s in t)
        assert place.params + len(block) <= place.table
        code = bytearray(stub_code())
        struct.pack_into("<II", code, 0, place.params, place.base + struct.unpack_from("<I", code, 4)[0])
        for address, data in ((place.base, bytes(code)), (place.params, bytes(block))):
            data += b"\xff" * (-len(data) % 4)
            for off in range(0, len(data), WRITE_MAX):
                link.bl.write_memory(address + off, data[off : off + WRITE_MAX])
        link.bl.go(place.base)
        wire = StubWire(link.port, place.slots, place.stride - SLOT_STATE, 11 / link.baud)
        link.sleep(STUB_START_S)
        index = wire.wake(WAKE_TRIES)
        if index is None or index >= len(ports):
            if not link.options.lines.resets():  # (with a reset line _reconnect's NRST pulse ends it)
                link.sleep(GIVE_UP_S)  # the stub's own time to give up and reset to the ROM
            raise LinkError(f"the flashing stub did not answer on {', '.join(f'{p.name} {p.pins}' for p in ports)}",
                            hint="a board wired to other pins takes --no-stub")
        port = ports[index]
        self.wire = wire
        # both ends check a CRC32 per frame: the parity bit only costs time (10 bits a byte, not 11)
        wire.run([Frame(CMD_AFTER, steps=[_stub_step(s) for s in wiring.eight_n1_steps(port, brr[1])])])
        link.port.parity = serial.PARITY_NONE
        wire.char_s = 10 / link.baud
        self._place = place

    # -- frames -----------------------------------------------------------------------------------
    def _program_frames(self, sectors: Sequence[Sector], segments: Sequence[tuple[int, bytes]], mass: bool,
                        banks: Sequence[int]) -> list[Frame]:
        chip, drv = self.rom._chip(), self._drv()
        unit = drv.setup_values(chip.flash_base).unit
        erased = bytes([chip.erased_value])
        pending: list[tuple[int | None, list[FlashStep | Step], list[Sector]]] = []  # (address or None, steps, wiped)
        if mass:
            pending.append((None, [*self._unlock_all(), *(drv.loader_mass_erase_steps(None) or [])], list(chip.sectors())))
        for bank in banks:
            pending.append((None, [*self._unlock(bank), *(drv.loader_mass_erase_steps(bank) or [])],
                            [s for s in chip.sectors() if s.bank == bank]))
        for sector in sectors:
            pending.append((sector.address, list(drv.loader_erase_steps(sector) or []), [sector]))
        frames: list[Frame] = []
        opened: set[int] = set()
        for address, data in segments:
            for bank, start, piece in drv.split_banks(address, bytes(data)):
                head = start % unit
                piece = erased * head + piece
                start -= head
                piece += erased * (-len(piece) % unit)
                for off in range(0, len(piece), DATA_MAX):
                    chunk = piece[off : off + DATA_MAX]
                    at = start + off
                    steps: list[FlashStep | Step] = []
                    wiped: list[Sector] = []
                    if bank not in opened:
                        opened.add(bank)
                        steps += [*self._unlock(bank), *drv.prepare_steps(bank), *drv.program_steps(bank)]
                    for item in list(pending):
                        where, more, gone = item
                        if where is None or where < at + len(chunk):
                            steps += more
                            wiped += gone
                            pending.remove(item)
                    frames += self._frames_for(bank, at, chunk, steps, wiped, drv)
        for where, more, gone in pending:  # erases with no data after them
            bank = 0 if where is None else drv.bank_of(where)
            frames += self._frames_for(bank, chip.flash_base, b"", [*self._unlock(bank), *more], gone, drv)
        for bank in sorted(opened):
            frames += self._frames_for(bank, chip.flash_base, b"", list(drv.end_steps(bank)), [], drv)
        return frames

    def _frames_for(self, bank: int, address: int, data: bytes, steps: Sequence[FlashStep | Step],
                    wiped: list[Sector], drv: FlashDriver) -> list[Frame]:
        """The steps in frames of their own, then the data in one without steps: the stub starts an
        erase as soon as its short frame is in, while the data for the erased sector still crosses
        the wire (with the steps in front of the data the erase would wait for all of it)."""
        encoded = [s if isinstance(s, tuple) else _step(s) for s in steps]
        unit = drv.setup_values(drv.chip.banks[bank].base).unit
        command = CMD_PROGRAM0 + min(bank, 1)
        frames = []
        for i in range(0, len(encoded), STEP_ROOM):
            budget = sum(s.max_s for s in steps[i : i + STEP_ROOM] if isinstance(s, FlashStep) and s.wait)
            frames.append(Frame(command, address, b"", encoded[i : i + STEP_ROOM], budget_s=budget,
                                tag=_Work(wiped if i == 0 else [], list(steps[i : i + STEP_ROOM]))))
        if data or not frames:
            frames.append(Frame(command, address, data, (), budget_s=len(data) // max(unit, 1) * PROGRAM_S_PER_UNIT,
                                tag=_Work([] if frames else wiped, [])))
        return frames

    def _unlock(self, bank: int) -> list[Step]:
        out: list[Step] = []
        for u in self._drv().unlock_steps(bank):
            out += [(STEP_SKIP, u.control, u.lock_bit, 2), (STEP_STORE, u.keyr, u.keys[0], 0),
                    (STEP_STORE, u.keyr, u.keys[1], 0)]
        return out

    def _unlock_all(self) -> list[Step]:
        return [s for bank in range(len(self.rom._chip().banks)) for s in self._unlock(bank)]

    def _translate(self, exc: StubError) -> StflashError:
        drv, frame = self._drv(), exc.frame
        if exc.answer == ANS_STEP:
            place = self._place
            assert place is not None
            offset = (exc.address - place.slot0) % place.stride - SLOT_STATE - HEADER
            steps = frame.tag.steps if isinstance(frame.tag, _Work) else []
            index = offset // STEP_SIZE
            step = steps[index] if 0 <= index < len(steps) else None
            if isinstance(step, FlashStep):
                return drv.step_failure(step, exc.word)
            return LinkError(f"a flash step failed on the target (status {exc.word:#010x})")
        if exc.answer == ANS_FLASH:
            setup = drv.setup_values(exc.address)
            return drv.failure(exc.word, setup.error_mask, "programming", drv.where(exc.address), exc.address)
        if exc.answer == ANS_VERIFY:
            return VerifyError(f"verify failed at {exc.address:#010x}: read {exc.word & 0xFF:#04x} right after "
                               "programming", address=exc.address)
        return LinkError(exc.message)


    def _rom_erase_and_program(self, sectors: Sequence[Sector], segments: Sequence[tuple[int, bytes]], mass: bool,
                               banks: Sequence[int], progress: Callable[[int, int], None] | None,
                               erasing: Callable[[Sequence[Sector]], None] | None) -> None:
        """The ROM's way: every erase in one command first, then 256-byte frames."""
        rom, chip = self.rom, self.rom._chip()
        wiped = list(chip.sectors()) if mass else [s for s in chip.sectors() if s.bank in banks] + list(sectors)
        if erasing is not None and wiped:
            erasing(wiped)
        if mass:
            rom.mass_erase()
        elif wiped:
            rom.erase_sectors(wiped)
        program_each(rom.program, segments, progress)


def _stub_step(step: tuple[str, int, int, int]) -> Step:
    kind, address, value, extra = step
    return (_STEP_KINDS[kind], address, value, extra)


def _step(step: FlashStep) -> Step:
    if step.wait:
        return (STEP_WAIT, step.address, step.value, step.errors)
    return (STEP_STORE, step.address, step.value, 0)


def _setup_words(setup: ProgramSetup) -> bytes:
    return struct.pack("<5I", setup.sr, setup.busy_mask, setup.error_mask, setup.width, setup.unit)


def _adjacent_runs(sectors: Sequence[Sector]) -> list[list[Sector]]:
    """``sectors`` in runs of neighbours (each starting where the one before ends), in order."""
    runs: list[list[Sector]] = []
    size = 0  # of the last run: its length must stay below the blank-check flag bit
    for sector in sorted(sectors, key=lambda s: s.address):
        if runs and runs[-1][-1].end == sector.address and size + sector.size < BLANK_FLAG:
            runs[-1].append(sector)
            size += sector.size
        else:
            runs.append([sector])
            size = sector.size
    return runs


def _pieces(address: int, length: int, size: int) -> list[tuple[int, int]]:
    return [(a, min(size, address + length - a)) for a in range(address, address + length, size)]
