"""DFU 1.1 class requests and ST's DfuSe extensions (AN3156), from the host's side.

Every DNLOAD runs in two steps on the ROM: the request only hands the block over, the first
GETSTATUS answers dfuDNBUSY with bwPollTimeout and the work starts after that answer; a later
GETSTATUS gives the result (dfuDNLOAD-IDLE, or dfuERROR and a status code). After any error the
device stays in dfuERROR until CLRSTATUS, so every failure here clears it before raising.

Addresses: a Set Address Pointer command, then DNLOAD/UPLOAD blocks 2, 3, ... each
wTransferSize bytes further (AN3156 §4: address = pointer + (wBlockNum - 2) * wTransferSize).
The host keeps track of the pointer and of the state the ROM is in after each exchange, so that
it sends a Set Address Pointer only where the block numbers cannot reach the address, an ABORT
only where the next request is not taken in the state the last one left (see
:meth:`DfuSe._ready`), and no GETSTATUS beyond the two each DNLOAD needs. A failed request
forgets the state; getting back to dfuIDLE from there is the caller's (:meth:`DfuSe.to_idle`).
"""

from __future__ import annotations

import contextlib
import enum
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ...errors import (
    LinkError,
    OperationTimeoutError,
    ProtectedError,
    StflashError,
    TargetNotRespondingError,
)
from ..usb import is_gone, is_stall

# class requests (DFU 1.1 table 3.2): bmRequestType 0x21 host->device, 0xA1 device->host
DETACH, DNLOAD, UPLOAD, GETSTATUS, CLRSTATUS, GETSTATE, ABORT = range(7)
REQUEST_OUT, REQUEST_IN = 0x21, 0xA1
DT_DFU_FUNCTIONAL = 0x21

# DfuSe commands: the first byte of a DNLOAD with wBlockNum 0 (AN3156 §5)
CMD_GET_COMMANDS = 0x00
CMD_SET_ADDRESS = 0x21
CMD_ERASE = 0x41
CMD_READ_UNPROTECT = 0x92
COMMAND_NAMES = {CMD_GET_COMMANDS: "Get Commands", CMD_SET_ADDRESS: "Set Address Pointer",
                 CMD_ERASE: "Erase", CMD_READ_UNPROTECT: "Read Unprotect"}
BCD_DFUSE = 0x011A
MAX_BLOCK = 0xFFFF  # wBlockNum is 16 bits

# Every control transfer waits this long (fwupd forces 5 s for 0483:df11 after an F745 took
# more than 1.5 s to answer a GETSTATUS during an erase; dfu.md Q4).
CONTROL_TIMEOUT_MS = 5000
# How many STALLs of a GETSTATUS count as "still busy" (an L433 ROM stalls one sent during an
# erase whose poll timeout it under-reports; dfu-util allows 3: dfu.md Q3).
BUSY_STALLS = 3
# How many GETSTATUS/CLRSTATUS/ABORT rounds it may take to get back to dfuIDLE (pydfu tries 4).
IDLE_ROUNDS = 6
# A page erase still answered dfuDNBUSY this many times after the first answer, with the poll timeout
# waited between, is the H743 rev V ROM's bank-2 erase (dfu.md Q5): it never leaves dfuDNBUSY, and
# STM32CubeProgrammer sends CLRSTATUS (-> dfuERROR/errUNKNOWN) and CLRSTATUS (-> dfuIDLE). Other
# ROMs hold a GETSTATUS until the work is done (or stall it, Q3), so they never get here.
STUCK_BUSY_ANSWERS = 2
# Poll policy. "honour": wait bwPollTimeout before the GETSTATUS that follows a dfuDNBUSY, as
# DFU 1.1 §6.1.2 asks. "eager": ask at once; the ROM does not answer that request until the flash
# operation is over (ST's USB library runs it before loading EP0 again; pydfu and pyfu-usb never
# wait and work on F4), so a dfuDNBUSY answer is only waited out when it comes.
# Eager is the default: 4x faster on an F407 (9.0 s vs 36.5 s virtual for 512 KiB) and what the
# tools that work on real F4/F7/H7 ROMs do; honour stays available (Session.open(dfu_poll="honour")).
POLL_HONOUR, POLL_EAGER = "honour", "eager"
POLL_POLICY = POLL_EAGER
# AN3156 leaves open whether "wTransferSize" in the block address is the descriptor's size or the
# length of the request; only a short block tells them apart. ST's USB device library (the ROM's
# lineage) multiplies by its fixed transfer size, and hosts that number a short final block on from
# the full ones work on real ROMs: fwupd and Betaflight for downloads, dfu-util for uploads
# (dfu.md §2.4). So a short block continues the numbering; True gives it its own pointer instead.
SHORT_BLOCK_OWN_POINTER = False


class State(enum.IntEnum):
    appIDLE = 0
    appDETACH = 1
    dfuIDLE = 2
    dfuDNLOAD_SYNC = 3
    dfuDNBUSY = 4
    dfuDNLOAD_IDLE = 5
    dfuMANIFEST_SYNC = 6
    dfuMANIFEST = 7
    dfuMANIFEST_WAIT_RESET = 8
    dfuUPLOAD_IDLE = 9
    dfuERROR = 10


# the states in which the ROM waits for the host's next request with nothing under way
RESTING = (State.dfuIDLE, State.dfuDNLOAD_IDLE, State.dfuUPLOAD_IDLE)


class Status(enum.IntEnum):
    OK = 0x00
    errTARGET = 0x01
    errFILE = 0x02
    errWRITE = 0x03
    errERASE = 0x04
    errCHECK_ERASED = 0x05
    errPROG = 0x06
    errVERIFY = 0x07
    errADDRESS = 0x08
    errNOTDONE = 0x09
    errFIRMWARE = 0x0A
    errVENDOR = 0x0B
    errUSBR = 0x0C
    errPOR = 0x0D
    errUNKNOWN = 0x0E
    errSTALLEDPKT = 0x0F


# what each status means on the STM32 ROM (AN3156 §5, dfu.md §1.6 and §2.5)
STATUS_MEANING = {
    Status.errTARGET: "address not allowed",
    Status.errWRITE: "cannot write the memory",
    Status.errERASE: "erase failed",
    Status.errCHECK_ERASED: "erase check failed",
    Status.errPROG: "program failed",
    Status.errVERIFY: "the memory does not hold what was written",
    Status.errADDRESS: "address out of range",
    Status.errVENDOR: "read-out protection is active",
    Status.errUNKNOWN: "the operation failed",
    Status.errSTALLEDPKT: "command not supported",
}


def _name(enum_type: type[enum.IntEnum], value: int) -> str:
    try:
        return enum_type(value).name.replace("_", "-")
    except ValueError:
        return f"{value:#04x}"


@dataclass(frozen=True)
class DfuStatus:
    """A GETSTATUS answer (DFU 1.1 §6.1.2)."""

    status: int
    poll_ms: int
    state: int
    string_index: int = 0

    @classmethod
    def parse(cls, raw: bytes) -> DfuStatus:
        if len(raw) != 6:
            raise LinkError(f"GETSTATUS answered {len(raw)} bytes instead of 6: {raw.hex()}")
        return cls(raw[0], int.from_bytes(raw[1:4], "little"), raw[4], raw[5])

    def __str__(self) -> str:
        return f"{_name(State, self.state)}/{_name(Status, self.status)}"


@dataclass(frozen=True)
class FunctionalDescriptor:
    """The DFU functional descriptor (DFU 1.1 table 4.2); 7 bytes on DFU 1.0 devices."""

    attributes: int
    detach_timeout_ms: int
    transfer_size: int
    dfu_version: int

    @classmethod
    def parse(cls, raw: bytes) -> FunctionalDescriptor:
        if len(raw) < 7 or raw[1] != DT_DFU_FUNCTIONAL:
            raise LinkError(f"not a DFU functional descriptor: {raw.hex()}")
        attributes, detach, transfer = struct.unpack_from("<BHH", raw, 2)
        version = struct.unpack_from("<H", raw, 7)[0] if len(raw) >= 9 and raw[0] >= 9 else 0x0100
        return cls(attributes, detach, transfer, version)

    @classmethod
    def find(cls, blobs: list[bytes]) -> FunctionalDescriptor | None:
        """The first functional descriptor among descriptor "extra" byte runs."""
        for blob in blobs:
            pos = 0
            while pos + 2 <= len(blob):
                length = blob[pos]
                if length < 2:
                    break
                if blob[pos + 1] == DT_DFU_FUNCTIONAL and length >= 7:
                    return cls.parse(bytes(blob[pos : pos + length]))
                pos += length
        return None


class UsbStall(LinkError):
    """The device STALLed the request (LIBUSB_ERROR_PIPE)."""


class UsbTimeout(LinkError):
    """The request got no answer in time."""


class DeviceGone(LinkError):
    """The device left the bus (reset, leave, unplugged)."""


class DfuStatusError(LinkError):
    """The bootloader ended an operation in dfuERROR with this status."""

    def __init__(self, message: str, status: int, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class DfuProtectedError(ProtectedError):
    """errVENDOR: the ROM refuses because read-out protection is active."""

    def __init__(self, message: str, status: int = Status.errVENDOR, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


UNPROTECT_HINT = "'stflash ob set RDP=0xAA --yes' lifts it (the bootloader mass-erases the flash)"


def _status(value: int) -> Status:
    try:
        return Status(value)
    except ValueError:
        return Status.errUNKNOWN


def status_error(status: int, what: str) -> LinkError | ProtectedError:
    """The error for an operation that ended in dfuERROR with ``status``."""
    meaning = STATUS_MEANING.get(_status(status), "the operation failed")
    text = f"the bootloader refused {what}: {_name(Status, status)} ({meaning})"
    if status == Status.errVENDOR:
        return DfuProtectedError(text, hint=UNPROTECT_HINT)
    hint = {
        Status.errTARGET: "the ROM only accepts addresses its memory map lists ('stflash probe' shows it)",
        Status.errWRITE: "write protection may cover it: 'stflash ob show'",
        Status.errPROG: "the range may not have been erased: write again without --erase none",
        Status.errVERIFY: "the range may not have been erased: write again without --erase none",
    }.get(_status(status))
    return DfuStatusError(text, status, hint=hint)


@dataclass
class DfuSe:
    """One DFU interface of an opened pyusb device, spoken to as the STM32 ROM expects."""

    device: Any  # usb.core.Device
    interface: int
    transfer_size: int
    sleep: Callable[[float], None]
    poll: str = POLL_POLICY
    timeout_ms: int = CONTROL_TIMEOUT_MS
    address_each_block: bool = False  # no usable wTransferSize: every block gets its own pointer
    trail: list[str] = field(default_factory=list)  # what recovery found, for the observations
    # What this host knows of the ROM: its state after the last exchange and its address pointer
    # (None: not known). Set Address Pointer sets the pointer; an erase may move it (ST's USB library
    # points it at the erased page), so every other command forgets it; ABORT, CLRSTATUS, UPLOAD and
    # data blocks leave it alone (AN3156 §4-§5, ST's usbd_dfu.c).
    state: int | None = None
    pointer: int | None = None

    # -- raw requests ---------------------------------------------------------------------------
    def _control(self, request_type: int, request: int, value: int, data: Any, timeout_ms: int | None,
                 what: str) -> Any:
        import usb.core

        try:
            return self.device.ctrl_transfer(request_type, request, value, self.interface, data,
                                             timeout_ms or self.timeout_ms)
        except usb.core.USBTimeoutError:
            self.state = None  # a request that failed may have left the ROM anywhere
            raise UsbTimeout(f"the DFU device did not answer {what} in time",
                             hint="unplug and replug the board's USB cable, then try again") from None
        except usb.core.USBError as exc:
            self.state = None
            if is_stall(exc):
                raise UsbStall(f"the DFU device stalled {what}") from None
            if is_gone(exc):
                raise DeviceGone(f"the DFU device left the bus during {what}") from None
            raise LinkError(f"USB error during {what}: {exc}",
                            hint="check the cable; a hub or another port can help") from None

    def dnload(self, block: int, data: bytes, what: str = "DNLOAD") -> None:
        self.state = None  # dfuDNLOAD-SYNC (or the leave): only GETSTATUS tells what follows
        self._control(REQUEST_OUT, DNLOAD, block, data, None, what)

    def upload(self, block: int, length: int, what: str = "UPLOAD") -> bytes:
        self.state = None
        data = bytes(self._control(REQUEST_IN, UPLOAD, block, length, None, what))
        # a full block leaves dfuUPLOAD-IDLE; after a short one DFU 1.1 says dfuIDLE, ST's library
        # stays in dfuUPLOAD-IDLE: not known
        self.state = State.dfuUPLOAD_IDLE if len(data) == length and block > 1 else None
        return data

    def get_status(self, timeout_ms: int | None = None) -> DfuStatus:
        st = DfuStatus.parse(bytes(self._control(REQUEST_IN, GETSTATUS, 0, 6, timeout_ms, "GETSTATUS")))
        # the state the ROM enters with this answer, where the next request can build on it
        self.state = st.state if st.state in RESTING and st.status == Status.OK else None
        return st

    def clear_status(self) -> None:
        self.state = None
        self._control(REQUEST_OUT, CLRSTATUS, 0, None, None, "CLRSTATUS")

    def abort(self) -> None:
        self.state = None
        self._control(REQUEST_OUT, ABORT, 0, None, None, "ABORT")
        self.state = State.dfuIDLE  # out of the idle and sync states, where it is sent (DFU 1.1 §6.1.4)

    def get_state(self) -> int:
        return bytes(self._control(REQUEST_IN, GETSTATE, 0, 1, None, "GETSTATE"))[0]

    # -- getting to dfuIDLE ------------------------------------------------------------------------
    def to_idle(self) -> DfuStatus:
        """GETSTATUS; CLRSTATUS out of dfuERROR, ABORT out of the other states, until dfuIDLE/OK
        (dfu.md §1.8). Each non-idle answer is kept in ``trail``."""
        last: DfuStatus | None = None
        for _ in range(IDLE_ROUNDS):
            try:
                st = self.get_status()
            except UsbStall:
                self.trail.append("GETSTATUS stalled")
                self.abort()
                continue
            last = st
            if st.state == State.dfuIDLE and st.status == Status.OK:
                return st
            self.trail.append(str(st))
            if st.state == State.dfuERROR or st.state == State.dfuIDLE:
                self.clear_status()  # from dfuIDLE with a status the ROM goes to dfuERROR first
            elif st.state == State.dfuDNBUSY:
                self.sleep(max(st.poll_ms, 1) / 1000)
            elif st.state in (State.appIDLE, State.appDETACH, State.dfuMANIFEST,
                              State.dfuMANIFEST_WAIT_RESET):
                break
            else:
                self.abort()
        self.state = None
        raise TargetNotRespondingError(
            f"the DFU bootloader does not return to dfuIDLE (last answer {last or 'none'})",
            hint="reset the board with BOOT0 held high and try again",
        )

    def _ready(self, *, upload: bool) -> None:
        """Bring the ROM where the next request is taken: a DNLOAD in dfuIDLE or dfuDNLOAD-IDLE, an
        UPLOAD in dfuIDLE or dfuUPLOAD-IDLE (AN3156 §5; ST's library stalls them elsewhere): one
        ABORT out of the other of the two, nothing otherwise. An unknown state is the caller's to
        settle (:meth:`to_idle`), as after opening the device."""
        other = State.dfuDNLOAD_IDLE if upload else State.dfuUPLOAD_IDLE
        if self.state == other:
            self.abort()

    def idle_if_unknown(self) -> None:
        """After a refused request: back to dfuIDLE unless the clean-up already got there."""
        if self.state != State.dfuIDLE:
            self.to_idle()

    # -- one DNLOAD operation ------------------------------------------------------------------------
    def _fail(self, st: DfuStatus, what: str) -> LinkError | ProtectedError:
        """Clear dfuERROR and return the error to raise for it."""
        with contextlib.suppress(LinkError):
            self.clear_status()
            self.state = State.dfuIDLE  # CLRSTATUS in dfuERROR: dfuIDLE, status OK (DFU 1.1 §6.1.3)
        return status_error(st.status, what)

    def _stalled(self, what: str) -> LinkError | ProtectedError:
        """The error for a stalled DNLOAD or UPLOAD: GETSTATUS tells why (the ROM may have put its
        reason there)."""
        st = self.get_status()
        if st.state == State.dfuERROR:
            return self._fail(st, what)
        return LinkError(f"the bootloader stalled {what} in state {st}")

    def send(self, block: int, data: bytes, what: str) -> None:
        self._ready(upload=False)
        try:
            self.dnload(block, data, what)
        except UsbStall:
            raise self._stalled(what) from None

    def finish(self, what: str, budget_s: float, *, will_reset: bool = False, stuck: bool = False) -> DfuStatus:
        """The GETSTATUS exchange after a DNLOAD, until dfuDNLOAD-IDLE (or dfuERROR -> raised).

        ``will_reset``: the ROM resets once the operation runs (Read Unprotect, option bytes), so
        only the first answer (dfuDNBUSY) is expected, as dfu-util's ``:will-reset``.
        ``stuck``: a page erase, where a ROM stuck in dfuDNBUSY is cleared back to dfuIDLE; the answer
        is then dfuIDLE (not dfuDNLOAD-IDLE): nothing confirmed the operation.
        """
        # an H7 ROM answers this one only once the erase is over (dfu.md §6.2)
        first = self.get_status(timeout_ms=max(self.timeout_ms, _ms(budget_s)))
        if first.state == State.dfuERROR:
            raise self._fail(first, what)
        if first.state == State.dfuDNLOAD_IDLE and first.status == Status.OK:
            return first
        if first.state != State.dfuDNBUSY:
            raise LinkError(f"{what}: the bootloader answered {first} instead of dfuDNBUSY",
                            hint="reset the board into its bootloader and try again")
        if will_reset:
            self.state = self.pointer = None  # the ROM resets the chip: a new bootloader follows
            return first
        poll_s = first.poll_ms / 1000
        waited = 0.0
        if self.poll == POLL_HONOUR:
            self.sleep(poll_s)
            waited += poll_s
        stalls = busy_answers = 0
        while True:
            answered = False
            try:
                st = self.get_status(timeout_ms=max(self.timeout_ms, _ms(budget_s - waited)))
                answered = True
            except UsbStall:
                stalls += 1
                if stalls > BUSY_STALLS:
                    raise LinkError(f"{what}: the bootloader stalls every GETSTATUS") from None
                st = DfuStatus(Status.OK, first.poll_ms, State.dfuDNBUSY)
            except UsbTimeout:
                waited += max(self.timeout_ms, _ms(budget_s - waited)) / 1000
                st = DfuStatus(Status.OK, 0, State.dfuDNBUSY)
            if st.state == State.dfuDNLOAD_IDLE and st.status == Status.OK:
                return st
            if st.state == State.dfuERROR:
                raise self._fail(st, what)
            if st.state != State.dfuDNBUSY:
                raise LinkError(f"{what}: the bootloader went to {st}", hint="reset the board into its bootloader")
            busy_answers += answered  # the ROM itself said dfuDNBUSY (a stall or timeout only counts as busy)
            if stuck and busy_answers >= STUCK_BUSY_ANSWERS:
                return self._clear_stuck(what)
            if waited > budget_s:
                raise OperationTimeoutError(f"{what} did not finish in {budget_s:.1f} s",
                                            hint="power-cycle the board into its bootloader and retry")
            step = max(st.poll_ms, 1) / 1000
            self.sleep(step)
            waited += step

    def _clear_stuck(self, what: str) -> DfuStatus:
        """CLRSTATUS twice, as STM32CubeProgrammer does with a ROM stuck in dfuDNBUSY (dfu.md Q5)."""
        self.trail.append(f"{what}: stuck in dfuDNBUSY, cleared")
        for _ in range(2):
            self.clear_status()
            st = self.get_status()
            if st.state == State.dfuIDLE and st.status == Status.OK:
                return st
            if st.state != State.dfuERROR:
                break
        raise LinkError(f"{what}: the bootloader stays in {st} after CLRSTATUS",
                        hint="reset the board with BOOT0 held high and try again")

    def command(self, payload: bytes, what: str, budget_s: float = 1.0, *, will_reset: bool = False,
                stuck: bool = False) -> DfuStatus:
        self.pointer = None  # set again below by a Set Address Pointer that went through
        self.send(0, payload, what)
        return self.finish(what, budget_s, will_reset=will_reset, stuck=stuck)

    # -- DfuSe commands ----------------------------------------------------------------------------
    def set_address(self, address: int) -> None:
        self.command(bytes([CMD_SET_ADDRESS]) + address.to_bytes(4, "little"),
                     f"Set Address Pointer {address:#010x}")
        self.pointer = address

    def erase_page(self, address: int, budget_s: float) -> bool:
        """Erase the page holding ``address``; True when the ROM never confirmed it (it stayed in
        dfuDNBUSY and was cleared), so the caller should check the page."""
        st = self.command(bytes([CMD_ERASE]) + address.to_bytes(4, "little"), f"the erase at {address:#010x}",
                          budget_s, stuck=True)
        return st.state == State.dfuIDLE

    def mass_erase(self, budget_s: float) -> None:
        self.command(bytes([CMD_ERASE]), "the mass erase", budget_s)

    def read_unprotect(self) -> None:
        """Read Unprotect: the ROM answers dfuDNBUSY, then erases everything and resets."""
        self.command(bytes([CMD_READ_UNPROTECT]), "Read Unprotect", will_reset=True)

    def get_commands(self) -> bytes:
        """UPLOAD block 0 from dfuIDLE: the command bytes the ROM supports."""
        self._ready(upload=True)
        data = self.upload(0, self.transfer_size, "Get Commands")
        if len(data) >= self.transfer_size:
            self.abort()
        else:
            self.state = State.dfuIDLE  # a short answer to block 0 ends the upload (ST's library too)
        return data

    # -- memory ------------------------------------------------------------------------------------
    def _block(self, address: int, size: int) -> int | None:
        """The wBlockNum that reaches ``address`` from the pointer in force for a block of ``size``
        bytes, or None when a Set Address Pointer has to come first."""
        if self.pointer is None:
            return None
        offset = address - self.pointer
        if offset == 0:
            return 2  # the same address on either reading of AN3156
        if self.address_each_block or offset < 0 or offset % self.transfer_size:
            return None
        if size < self.transfer_size and SHORT_BLOCK_OWN_POINTER:
            return None
        block = 2 + offset // self.transfer_size
        return block if block <= MAX_BLOCK else None

    def _address(self, address: int, size: int) -> int:
        """The block number for ``address``, setting the pointer there first if it must."""
        block = self._block(address, size)
        if block is None:
            self.set_address(address)
            block = 2
        return block

    def download(self, address: int, data: bytes, budget_per_block_s: float) -> None:
        """Write ``data`` from ``address``; on failure the error's ``written_upto`` says how many
        leading bytes the ROM confirmed."""
        done = 0
        try:
            for offset in range(0, len(data), self.transfer_size):
                chunk = data[offset : offset + self.transfer_size]
                at = address + offset
                block = self._address(at, len(chunk))
                what = f"the write of {at:#010x}-{at + len(chunk) - 1:#010x}"
                self.send(block, chunk, what)
                self.finish(what, budget_per_block_s)
                done = offset + len(chunk)
        except StflashError as exc:
            exc.written_upto = done
            raise

    def blocks(self, address: int, length: int) -> Iterator[bytes]:
        """UPLOAD ``length`` bytes from ``address`` one block at a time, so that a caller may stop
        early. The ROM is left in dfuUPLOAD-IDLE; the next DNLOAD sends the ABORT it needs."""
        for offset in range(0, length, self.transfer_size):
            n = min(self.transfer_size, length - offset)
            at = address + offset
            block = self._address(at, n)
            self._ready(upload=True)  # out of dfuDNLOAD-IDLE after a pointer
            what = f"the read of {at:#010x}-{at + n - 1:#010x}"
            try:
                chunk = self.upload(block, n, what)
            except UsbStall:
                raise self._stalled(what) from None
            if len(chunk) < n:
                raise LinkError(f"{what}: the bootloader sent {len(chunk)} of {n} bytes",
                                hint="the range may run past the end of the memory")
            yield chunk

    def read(self, address: int, length: int) -> bytes:
        """UPLOAD ``length`` bytes from ``address``."""
        return b"".join(self.blocks(address, length))

    def leave(self, address: int) -> str:
        """DfuSe leave: pointer to ``address``, zero-length DNLOAD, GETSTATUS (dfuMANIFEST), after
        which the ROM jumps and drops off the bus. Returns what the device answered; a device that
        is already gone is what a leave does, not an error (dfu.md Q8). A pointer already there
        is not set again (the ROM jumps to the pointer in force: AN3156 §5.5)."""
        self._ready(upload=False)  # the leave is taken in dfuIDLE or dfuDNLOAD-IDLE
        # F4/F7 ROMs refuse the pointer under RDP 1; the leave then uses the one in force
        if self.pointer != address:
            with contextlib.suppress(DfuProtectedError):
                self.set_address(address)
        try:
            self.dnload(2, b"", "the leave request")
            st = self.get_status()
        except LinkError:  # gone, stalled or silent: the ROM is on its way out
            return "left the bus"
        finally:
            self.state = self.pointer = None
        if st.state == State.dfuERROR:
            raise self._fail(st, f"the jump to {address:#010x}")
        return str(st)


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))
