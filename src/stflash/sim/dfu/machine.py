"""The ROM's DFU state machine (DFU 1.1 §6 with ST's deviations, AN3156 §4-§5; dfu.md §1.7, §2).

ST semantics rather than the letter of DFU 1.1: a request in the wrong state is stalled without
changing state, CLRSTATUS outside dfuERROR moves *to* dfuERROR/errUNKNOWN, ABORT is ignored in
dfuERROR, and a zero-length DNLOAD from dfuIDLE or dfuDNLOAD-IDLE is the DfuSe "leave".

Every DNLOAD runs in two steps, as on the ROM: the request only stores the block; the first
GETSTATUS answers dfuDNBUSY with the poll timeout, and the work is done right after that answer.
The work is done on the next thing that reaches the device or looks at the bus (a host request is
not served while the ROM is busy in the flash operation, so it is answered when that ends: the
virtual clock has moved by the flash model's duration). The second GETSTATUS then answers
dfuDNLOAD-IDLE or dfuERROR with the status code.

Everything that must outlive one process (state, status, address pointer, the pending block) lives
in ``bench.board.link_state["dfu"]`` and belongs to the chip's current boot: a reset of the chip
starts the bootloader, and this state, afresh.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..faults import BusFault
from ..flashctl import RomOutcome
from ..uart.memory import ram_windows
from ..usb.device import Setup, Stall
from .options import decode_option_image
from .protocol import (
    CLRSTATUS,
    CMD_ERASE,
    CMD_READ_UNPROTECT,
    CMD_SET_ADDRESS,
    DNLOAD,
    GET_COMMANDS,
    GETSTATE,
    GETSTATUS,
    IN_REQUESTS,
    OUT_REQUESTS,
    UPLOAD,
    VALID_COMMANDS,
    State,
    Status,
    status_record,
)
from .rom import Alt, DfuRom, rom_for

if TYPE_CHECKING:
    from ..bench import Bench

KEY = "dfu"
RESET = -1  # an operation after which the ROM resets the chip (option write, read unprotect)
ABORTABLE = (State.IDLE, State.DNLOAD_SYNC, State.DNLOAD_IDLE, State.UPLOAD_IDLE, State.MANIFEST_SYNC)


# AN2662 4.4.1/4.5.2 (the DFU chapter AN3156 carries): Set Address Pointer and UPLOAD accept system
# memory as well as flash, RAM and option bytes; a peripheral such as DBGMCU_IDCODE is not in the
# list, and the UID area after the F4 OTP did not read back over DFU (ST community, 2013). Newer
# ROMs are taken to keep the same rule (UNCONFIRMED).
SYSTEM_MEMORY_READABLE = True


def rom_of(bench: Bench) -> DfuRom:
    chip = bench.chip
    return rom_for(chip.chip, [(b.base, b.size) for b in chip.banks], bench.board.dfu_rom)


def current_state(bench: Bench) -> dict[str, Any]:
    """The DFU state of this boot of the bootloader, created as the ROM starts it."""
    chip = bench.chip
    state = bench.board.link_state.get(KEY)
    if state is None or state.get("boot") != chip.reset_count:
        error = rom_of(bench).boots_in_error
        state = {
            "boot": chip.reset_count,
            "state": int(State.ERROR if error else State.IDLE),
            "status": int(Status.FIRMWARE if error else Status.OK),
            "pointer": chip.chip.flash_base,
            "alt": 0,
            "op": None,  # the DNLOAD block waiting for its GETSTATUS: {"block": n, "data": hex}
        }
        bench.board.link_state[KEY] = state
    return state


class DfuMachine:
    """The ROM's DFU side for one access to the bench (rebuilt at every access)."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.chip = bench.chip
        self.rom = rom_of(bench)
        self.s = current_state(bench)

    # -- the state record ----------------------------------------------------------------------
    @property
    def state(self) -> State:
        return State(self.s["state"])

    def _set(self, state: State, status: Status = Status.OK) -> None:
        self.s["state"] = int(state)
        self.s["status"] = int(status)

    def _fail(self, status: Status) -> None:
        self._set(State.ERROR, status)

    # -- requests ------------------------------------------------------------------------------
    def request(self, setup: Setup, data: bytes) -> bytes:
        """One class request on the DFU interface; raises ``Stall`` where the ROM stalls."""
        req = setup.bRequest
        if setup.kind != 1 or setup.recipient != 1 or setup.wIndex != 0:
            raise Stall("DFU requests go to interface 0")
        if req not in OUT_REQUESTS + IN_REQUESTS or setup.device_to_host != (req in IN_REQUESTS):
            raise Stall(f"DFU request {req} not supported")
        if req == DNLOAD:
            self._dnload(setup.wValue, data)
            return b""
        if req == UPLOAD:
            return self._upload(setup.wValue, setup.wLength)
        if req == GETSTATUS:
            return self._getstatus()[: setup.wLength]
        if req == GETSTATE:
            return bytes([self.state])[: setup.wLength]
        if req == CLRSTATUS and self.state is State.ERROR:
            self._set(State.IDLE)
        elif req == CLRSTATUS:
            self._fail(Status.UNKNOWN)  # ST: outside dfuERROR it *enters* dfuERROR, no stall
        elif self.state in ABORTABLE:
            # ABORT; and DETACH, "not meaningful" for the bootloader (AN3156): policy (UNCONFIRMED)
            # as ST's USB library, back to dfuIDLE without re-enumerating. Both are ignored in
            # dfuERROR (and in dfuDNBUSY, which a request never finds here).
            self.s["op"] = None
            self._set(State.IDLE)
        return b""

    def _dnload(self, block: int, data: bytes) -> None:
        if self.state not in (State.IDLE, State.DNLOAD_IDLE):
            raise Stall(f"DNLOAD in {self.state.name}")
        if not data:
            self._set(State.MANIFEST_SYNC)  # DfuSe leave, executed by the next GETSTATUS
            return
        if len(data) > self.rom.transfer_size:
            raise Stall(f"DNLOAD of {len(data)} bytes exceeds wTransferSize")
        if block == 1 or (block == 0 and (data[0], len(data)) not in VALID_COMMANDS):
            self._fail(Status.STALLEDPKT)  # AN2662 fig. 55: unknown command -> errSTALLEDPKT + stall
            raise Stall(f"bad DfuSe command block {block}: {data[:5].hex()}")
        self.s["op"] = {"block": block, "data": data.hex()}
        self._set(State.DNLOAD_SYNC)

    def _upload(self, block: int, length: int) -> bytes:
        if self.state not in (State.IDLE, State.UPLOAD_IDLE):
            raise Stall(f"UPLOAD in {self.state.name}")
        if length == 0:
            self._set(State.IDLE)
            return b""
        n = min(length, self.rom.transfer_size)
        if block == 0:
            out = GET_COMMANDS[:n]
        elif block == 1:
            self._fail(Status.STALLEDPKT)
            raise Stall("UPLOAD block 1 is not used")
        else:
            address = self._block_address(block)
            status, out = self._read(address, n)
            if status is not Status.OK:
                self._fail(status)  # AN2662 4.4.1: not performed, dfuERROR with the reason
                raise Stall(f"UPLOAD at {address:#010x}: {status.name}")
        self._set(State.IDLE if len(out) < length else State.UPLOAD_IDLE)
        return out

    def _block_address(self, block: int) -> int:
        """AN3156 §4: blocks 2, 3, ... follow the address pointer, wTransferSize bytes apart."""
        return int(self.s["pointer"]) + (block - 2) * self.rom.transfer_size

    def _getstatus(self) -> bytes:
        state = self.state
        if state is State.DNLOAD_SYNC and self.s["op"] is not None:
            kind = self._op_kind(self.s["op"])
            op = self.s["op"]
            self._set(State.DNBUSY)
            if self.rom.erase_before_status and kind in ("erase", "mass"):
                self.settle()  # H7: this answer waits for the erase; the next one gives the result
                if kind == "erase" and self.rom.bank2_erase_stays_busy and self._in_bank2(op) \
                        and self.state is State.DNLOAD_SYNC:
                    self._set(State.DNBUSY)  # rev V: done, but it never says so (ROM_VARIANTS)
            return status_record(Status.OK, self.rom.poll_ms[kind], State.DNBUSY)
        if state is State.DNLOAD_SYNC:
            self._set(State.DNLOAD_IDLE)
            return status_record(Status.OK, 0, State.DNLOAD_IDLE)
        if state is State.MANIFEST_SYNC:
            self._set(State.MANIFEST)
            answer = status_record(Status.OK, self.rom.poll_ms["manifest"], State.MANIFEST)
            self._leave()
            return answer
        # a ROM stuck in dfuDNBUSY (ROM_VARIANTS) keeps giving the erase poll timeout
        poll = self.rom.poll_ms["erase"] if state is State.DNBUSY else 0
        return status_record(self.s["status"], poll, state)

    def _in_bank2(self, op: dict[str, Any]) -> bool:
        data = bytes.fromhex(op["data"])
        banks = self.chip.banks
        return len(data) == 5 and len(banks) > 1 and int.from_bytes(data[1:5], "little") >= banks[1].base

    def usb_reset(self) -> None:
        """A bus reset in DFU mode: DFU 1.1 leaves for the application if the firmware is valid and
        otherwise reports dfuERROR/errFIRMWARE; the ROM stays in DFU mode. The ROMs that answer
        errFIRMWARE right after enumeration (which starts with a bus reset) are taken to do so
        after every bus reset; the others start over in dfuIDLE. The address pointer is kept
        (UNCONFIRMED policy)."""
        self.s["op"] = None
        self.s["alt"] = 0
        if self.rom.boots_in_error:
            self._fail(Status.FIRMWARE)
        else:
            self._set(State.IDLE)

    # -- the work behind dfuDNBUSY ---------------------------------------------------------------
    def settle(self) -> None:
        """Run the operation the last GETSTATUS announced, if it has not run yet."""
        if self.state is not State.DNBUSY or self.s["op"] is None:
            return
        op, self.s["op"] = self.s["op"], None
        self._set(State.DNLOAD_SYNC)
        data = bytes.fromhex(op["data"])
        try:
            if op["block"] == 0:
                status = self._command(data)
            else:
                status = self._write(self._block_address(op["block"]), data)
        except BusFault:
            status = Status.TARGET
        if status == RESET:
            return
        if status != Status.OK:
            self._fail(Status(status))

    def _op_kind(self, op: dict[str, Any]) -> str:
        data = bytes.fromhex(op["data"])
        if op["block"] == 0:
            if data[0] == CMD_SET_ADDRESS:
                return "address"
            if data[0] == CMD_ERASE:
                return "erase" if len(data) == 5 else "mass"
            return "unprotect"
        return "options" if self._in_kind("option", self._block_address(op["block"])) else "write"

    def _command(self, data: bytes) -> int:
        chip = self.chip
        address = int.from_bytes(data[1:5], "little") if len(data) == 5 else None
        if data[0] == CMD_READ_UNPROTECT:
            return self._read_unprotect()
        if data[0] == CMD_SET_ADDRESS and address is not None:
            if self.rom.rdp_blocks_set_address and chip.rdp_level >= 1:
                return Status.VENDOR
            if not self._known(address):
                return Status.TARGET
            self.s["pointer"] = address
            return Status.OK
        if chip.rdp_level >= 1:
            return Status.VENDOR
        if address is None:
            return Status.OK if self.rom.mass_erase_ignored else self._mass_erase()
        sector = next((s for s in chip.sectors() if s.address <= address < s.end), None)
        if sector is None:
            return Status.TARGET
        if chip.write_protected(sector):
            return Status.OK  # AN2662 4.5.3: no error on write-protected sectors; it stays as it was
        return Status.OK if chip.rom_erase([sector]).ok else Status.ERASE

    def _mass_erase(self) -> int:
        chip = self.chip
        protected = [s for s in chip.sectors() if chip.write_protected(s)]
        if not protected:
            return Status.OK if chip.rom_mass_erase().ok else Status.ERASE
        # as for page erase, protected sectors are skipped without an error (same AN2662 rule)
        free = [s for s in chip.sectors() if s not in protected]
        return Status.OK if chip.rom_erase(free).ok else Status.ERASE

    def _read_unprotect(self) -> int:
        chip = self.chip
        if chip.rdp_level == 0:
            chip.rom_mass_erase()  # policy: the ROM erases whatever the level (AN2662 4.5.4 wording)
        try:
            outcome = chip.rom_change_options({"RDP": 0xAA})
        except KeyError:
            return Status.UNKNOWN
        if not outcome.ok:
            return Status.UNKNOWN
        for ram in chip.ram_regions.values():
            ram[:] = bytes(len(ram))  # AN2662 4.5.4: flash and RAM are erased
        self._rebooted()
        return RESET

    # -- memory ---------------------------------------------------------------------------------
    def _alt_at(self, address: int) -> Alt | None:
        for alt in self.rom.alts:
            if any(s.start <= address < s.end for s in alt.segments):
                return alt
        return None

    def _in_kind(self, kind: str, address: int) -> bool:
        alt = self._alt_at(address)
        return alt is not None and alt.kind == kind

    def _system_memory(self) -> list[tuple[int, int]]:
        region = self.chip.chip.system_memory
        return [(region.start, region.end)] if SYSTEM_MEMORY_READABLE else []

    def _covered(self, address: int, length: int, right: str) -> bool:
        """Is every byte of the range in memory the ROM lists with this right (or host RAM, or for
        reading the system memory)?"""
        end = address + length
        spans = ram_windows(self.chip.chip)  # the ROM's memory rules are the same on every interface
        if right == "readable":
            spans += self._system_memory()
        for alt in self.rom.alts:
            spans += [(s.start, s.end) for s in alt.segments if getattr(s, right)]
        pos = address
        for a, b in sorted(spans):
            if a <= pos < b:
                pos = b
            if pos >= end:
                return True
        return pos >= end

    def _known(self, address: int) -> bool:
        windows = ram_windows(self.chip.chip) + self._system_memory()
        return self._alt_at(address) is not None or any(a <= address < b for a, b in windows)

    def _read(self, address: int, length: int) -> tuple[Status, bytes]:
        chip = self.chip
        if chip.rdp_level >= 1:
            return Status.VENDOR, b""
        if not self._covered(address, length, "readable"):
            return Status.TARGET, b""
        alt = self._alt_at(address)
        if alt is not None and alt.kind == "feature":
            return Status.OK, bytes(length)  # policy: reads as zeros (its meaning is undocumented)
        try:
            return Status.OK, chip.rom_read(address, length)
        except BusFault:
            if alt is None or alt.kind != "option":
                return Status.TARGET, b""
        # option areas the model does not map in full read as erased bytes there
        out = bytearray()
        for a in range(address, address + length):
            try:
                out += chip.rom_read(a, 1)
            except BusFault:
                out.append(0xFF)
        return Status.OK, bytes(out)

    def _write(self, address: int, data: bytes) -> int:
        chip = self.chip
        if chip.rdp_level >= 1:
            return Status.VENDOR
        alt = self._alt_at(address)
        if alt is not None and alt.kind == "option":
            return self._write_options(alt, address, data)
        if not self._covered(address, len(data), "writable"):
            return Status.TARGET
        if alt is not None and alt.kind == "feature":
            return Status.OK  # policy: accepted and ignored
        outcome = chip.rom_program(address, data)
        if not outcome.ok:
            return _program_status(outcome)
        try:
            written = chip.rom_read(address, len(data))
        except BusFault:  # an ECC double error: the word was programmed twice
            return Status.VERIFY
        # e.g. bits that were already 0 on a family without ECC
        return Status.OK if written == data else Status.VERIFY

    def _write_options(self, alt: Alt, address: int, data: bytes) -> int:
        """AN3156: the whole option area in one block, then the ROM resets the chip."""
        chip = self.chip
        group = next(((a, n) for a, n in alt.groups if a == address), None)
        if group is None or group[1] != len(data) or group != alt.groups[0]:
            return Status.TARGET
        values = decode_option_image(chip.chip, address, data)
        changed: dict[str, int] = {}
        for name, value in values.items():
            try:
                if chip.option(name) != value:
                    changed[name] = value
            except KeyError:
                continue
        try:
            outcome = chip.rom_change_options(changed)
        except KeyError:
            return Status.WRITE
        if not outcome.ok:
            return Status.WRITE
        self._rebooted()
        return RESET

    # -- leaving and resets -----------------------------------------------------------------------
    def _leave(self) -> None:
        """Jump to the code at the address pointer (MSP at +0, reset vector at +4); without valid
        code there the ROM resets the chip, and the pins decide what starts."""
        chip, board = self.chip, self.bench.board
        pointer = self.s["pointer"]
        if self._valid_vectors(pointer):
            chip.boot_source = "flash"  # the application runs; the bootloader's USB is gone
            return
        chip.reset("system", boot0=board.boot0, cause=f"DFU leave: no application at {pointer:#010x}")

    def _valid_vectors(self, address: int) -> bool:
        """Policy (the check is not documented): the initial MSP lies in (or at the top of) a RAM
        region and the reset vector is a Thumb address."""
        try:
            vectors = self.chip.rom_read(address, 8)
        except BusFault:
            return False
        sp = int.from_bytes(vectors[:4], "little")
        pc = int.from_bytes(vectors[4:], "little")
        in_ram = any(r.start < sp <= r.end for r in self.chip.chip.ram)
        return in_ram and bool(pc & 1)

    def _rebooted(self) -> None:
        """After the ROM's own reset: the BOOT0 pin is still what the board holds it at."""
        chip, board = self.chip, self.bench.board
        chip.boot_source = "bootloader" if chip.boots_bootloader(board.boot0) else "flash"
        if chip.boot_source == "bootloader":
            chip.intrusion = True
        self.s = current_state(self.bench)


def _program_status(outcome: RomOutcome) -> Status:
    error = (outcome.error or "").upper()
    if "WRP" in error:
        return Status.WRITE
    if error == "ADDRESS":
        return Status.TARGET
    return Status.PROG
