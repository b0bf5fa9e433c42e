"""The STM32 USART bootloader protocol (ST AN3155), host side.

Only the protocol lives here: frames, checksums, ACK/NACK, timeouts and getting back in step
after a lost byte. What to erase or write, and what a failure means for the flash, is the link's
business (:mod:`.link`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ...errors import LinkError, OperationTimeoutError, ProtectedError, TargetNotRespondingError

ACK = 0x79
NACK = 0x1F
SYNC = 0x7F

GET, GET_VERSION, GET_ID = 0x00, 0x01, 0x02
READ_MEMORY, GO, WRITE_MEMORY = 0x11, 0x21, 0x31
ERASE, EXTENDED_ERASE = 0x43, 0x44
WRITE_PROTECT, WRITE_UNPROTECT = 0x63, 0x73
READOUT_PROTECT, READOUT_UNPROTECT = 0x82, 0x92
GET_CHECKSUM = 0xA1

COMMAND_NAMES = {
    GET: "Get", GET_VERSION: "Get Version", GET_ID: "Get ID", READ_MEMORY: "Read Memory", GO: "Go",
    WRITE_MEMORY: "Write Memory", ERASE: "Erase", EXTENDED_ERASE: "Extended Erase",
    WRITE_PROTECT: "Write Protect", WRITE_UNPROTECT: "Write Unprotect", READOUT_PROTECT: "Readout Protect",
    READOUT_UNPROTECT: "Readout Unprotect", GET_CHECKSUM: "Get Checksum", 0x50: "Special",
    0x51: "Extended Special",
}

MAX_FRAME = 256
REPLY_TIMEOUT_S = 0.5  # one reply byte; stm32flash and most adapters are well inside this
PROGRAM_TIMEOUT_S = 1.0  # a 256-byte Write Memory: at most ~9 ms on F1 (x16), 256 x 100 us on F4 (x8)
OPTION_TIMEOUT_S = 2.0  # option-byte programming, then the reset
RESYNC_BYTES = 600  # more than the longest frame the chip can be waiting to complete


class Nack(LinkError):
    """The bootloader answered NACK; ``stage`` says to what ("command", "address", "data")."""

    stage = "command"


class Silent(TargetNotRespondingError):
    """Not a byte came back to the handshake: nothing listens (yet) on the other end."""


class NoReply(OperationTimeoutError):
    """Nothing (or not enough) came back before the timeout."""


class BadReply(LinkError):
    """A byte that is neither ACK nor NACK came back (a wrong baud rate, a noisy line)."""


def xor(data: bytes | Sequence[int]) -> int:
    out = 0
    for b in data:
        out ^= b
    return out


def address_frame(address: int) -> bytes:
    raw = address.to_bytes(4, "big")
    return raw + bytes([xor(raw)])


@dataclass(frozen=True)
class BootloaderInfo:
    version: int  # 0x31 = V3.1
    commands: tuple[int, ...]
    pid: int
    pid_extra: bytes = b""

    @property
    def version_text(self) -> str:
        return f"{self.version >> 4}.{self.version & 0xF}"

    @property
    def erase_command(self) -> int | None:
        if EXTENDED_ERASE in self.commands:
            return EXTENDED_ERASE
        return ERASE if ERASE in self.commands else None

    def supports(self, command: int) -> bool:
        return command in self.commands

    def command_names(self) -> list[str]:
        return [COMMAND_NAMES.get(c, f"0x{c:02x}") for c in self.commands]


class An3155:
    """One bootloader session on an open pyserial port (8E1)."""

    def __init__(self, port: Any, *, now: Callable[[], float] = time.monotonic) -> None:
        self.port = port
        self.now = now
        self.info: BootloaderInfo | None = None
        self.bytes_out = 0
        self.bytes_in = 0

    # -- bytes ---------------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        self.port.write(data)
        self.bytes_out += len(data)

    def receive(self, count: int, timeout: float, what: str) -> bytes:
        """Exactly ``count`` bytes, or NoReply naming what was awaited."""
        self.port.timeout = timeout
        got = bytearray()
        deadline = self.now() + timeout
        while len(got) < count and self.now() <= deadline:
            chunk = self.port.read(count - len(got))
            if not chunk:
                break  # the port waited its whole timeout
            got += chunk
        self.bytes_in += len(got)
        if len(got) < count:
            raise NoReply(f"no answer from the bootloader to {what}"
                          + (f" ({len(got)} of {count} bytes)" if got else ""))
        return bytes(got)

    def expect_ack(self, what: str, timeout: float = REPLY_TIMEOUT_S, stage: str = "command") -> None:
        reply = self.receive(1, timeout, what)[0]
        if reply == ACK:
            return
        if reply == NACK:
            nack = Nack(f"the bootloader refused {what} (NACK)")
            nack.stage = stage
            raise nack
        raise BadReply(f"the bootloader answered {reply:#04x} to {what}, not ACK/NACK",
                       hint="a wrong baud rate or a noisy line garbles replies; try a lower baud")

    def command(self, code: int) -> None:
        self.send(bytes([code, code ^ 0xFF]))
        self.expect_ack(COMMAND_NAMES.get(code, f"command {code:#04x}"))

    # -- getting in step ------------------------------------------------------------------------
    def _byte(self, what: str, timeout: float = REPLY_TIMEOUT_S) -> int | None:
        """One reply byte, or None when none came."""
        try:
            return self.receive(1, timeout, what)[0]
        except NoReply:
            return None

    def sync(self, attempts: int = 2) -> str:
        """The 0x7F auto-baud handshake. Returns "synced", or "already" when the bootloader was
        already synchronised (a previous session did not end with a reset)."""
        reply = self.sync_once(REPLY_TIMEOUT_S)
        if reply is None and attempts > 1:
            # a synchronised bootloader took the first 0x7F as half a command: a second one completes
            # an invalid command and is NACKed (an ACK: the first 0x7F was lost while the ROM started)
            self.send(bytes([SYNC]))
            reply = self._byte("the second 0x7F")
        if reply == ACK:
            return "synced"
        if reply == NACK:
            return "already"
        if reply is None:
            raise Silent("no answer to the 0x7F handshake")
        raise TargetNotRespondingError(f"the 0x7F handshake got {reply:#04x}, not ACK (0x79)")

    def sync_once(self, timeout: float) -> int | None:
        """One 0x7F, for a ROM that may still be starting: the answer within ``timeout`` (ACK: in
        step), or None. Anything but ACK is for :meth:`sync` to sort out."""
        self.port.reset_input_buffer()
        self.send(bytes([SYNC]))
        return self._byte("the 0x7F handshake", timeout)

    def resync(self) -> None:
        """Get back to a command boundary after a lost or extra byte: send single 0xFF bytes, each
        answered before the next, until one is NACKed. A NACKed 0xFF either closed the frame the
        bootloader was waiting to complete or was the bad complement of a lone 0xFF command byte;
        either way the bootloader waits for a command right after it (0xFF 0xFF is never valid)."""
        self.drain()
        for _ in range(RESYNC_BYTES):
            self.send(b"\xff")
            if self._byte("a resync byte", REPLY_TIMEOUT_S / 5) == NACK:
                self.drain()
                return
        raise LinkError("lost step with the bootloader and could not get it back",
                        hint="reset the board into its bootloader and run the command again")

    def drain(self) -> bytes:
        self.port.timeout = REPLY_TIMEOUT_S / 10
        junk = bytearray()
        while True:
            chunk = self.port.read(64)
            if not chunk:
                return bytes(junk)
            junk += chunk

    # -- identification -------------------------------------------------------------------------
    def get(self) -> tuple[int, tuple[int, ...]]:
        self.command(GET)
        n = self.receive(1, REPLY_TIMEOUT_S, "Get")[0]
        body = self.receive(n + 1, REPLY_TIMEOUT_S, "Get")
        self.expect_ack("the end of Get")
        return body[0], tuple(body[1:])

    def get_id(self) -> tuple[int, bytes]:
        self.command(GET_ID)
        n = self.receive(1, REPLY_TIMEOUT_S, "Get ID")[0]
        body = self.receive(n + 1, REPLY_TIMEOUT_S, "Get ID")
        self.expect_ack("the end of Get ID")
        return int.from_bytes(body[:2], "big"), bytes(body[2:])

    def identify(self) -> BootloaderInfo:
        version, commands = self.get()
        pid, extra = self.get_id()
        self.info = BootloaderInfo(version, commands, pid, extra)
        return self.info

    def _require(self, code: int) -> None:
        if self.info is not None and code not in self.info.commands:
            raise LinkError(f"this bootloader (V{self.info.version_text}) has no "
                            f"{COMMAND_NAMES.get(code, hex(code))} command")

    # -- memory ---------------------------------------------------------------------------------
    def read_memory(self, address: int, length: int) -> bytes:
        if not 0 < length <= MAX_FRAME:
            raise ValueError(f"Read Memory length {length}")
        try:
            self.command(READ_MEMORY)
        except Nack as exc:
            raise ProtectedError(
                "the bootloader refuses to read memory: read-out protection (RDP level 1) is active",
                hint="'stflash ob set RDP=0xAA --yes' (or 'stflash recover') removes it and mass-erases the flash",
            ) from exc
        self.send(address_frame(address))
        self.expect_ack(f"the address {address:#010x}", stage="address")
        n = length - 1
        self.send(bytes([n, n ^ 0xFF]))
        self.expect_ack(f"the length of a read at {address:#010x}")
        return self.receive(length, REPLY_TIMEOUT_S + length * 0.002, f"data from {address:#010x}")

    def write_memory(self, address: int, data: bytes, timeout: float = PROGRAM_TIMEOUT_S) -> None:
        """One Write Memory frame (<= 256 bytes, a multiple of 4; the caller pads)."""
        if not data or len(data) > MAX_FRAME or len(data) % 4:
            raise ValueError(f"Write Memory of {len(data)} bytes")
        try:
            self.command(WRITE_MEMORY)
        except Nack as exc:
            raise ProtectedError("the bootloader refuses to write: read-out protection is active",
                                 hint="remove it first with 'stflash ob set RDP=0xAA --yes' (mass-erases)") from exc
        self.send(address_frame(address))
        self.expect_ack(f"the address {address:#010x}", stage="address")
        frame = bytes([len(data) - 1]) + data
        self.send(frame + bytes([xor(frame)]))
        self.expect_ack(f"the write at {address:#010x}", timeout, stage="data")

    def go(self, address: int) -> None:
        self.command(GO)
        self.send(address_frame(address))
        self.expect_ack(f"Go {address:#010x}", stage="address")

    # -- erase ----------------------------------------------------------------------------------
    def erase_pages(self, pages: Sequence[int], timeout: float) -> None:
        """Erase pages/sectors by number with whichever erase command the bootloader has."""
        code = self._erase_code()
        self.command(code)
        if code == EXTENDED_ERASE:
            n = len(pages) - 1
            body = n.to_bytes(2, "big") + b"".join(p.to_bytes(2, "big") for p in pages)
        else:
            if any(p > 0xFF for p in pages) or len(pages) > 255:
                raise ValueError("the legacy Erase command addresses at most 255 pages numbered below 256")
            body = bytes([len(pages) - 1, *pages])
        self.send(body + bytes([xor(body)]))
        self.expect_ack(f"the erase of {len(pages)} page(s)", timeout)

    def mass_erase(self, timeout: float, bank: int | None = None) -> None:
        """Global erase (``bank`` None) or one bank (1 or 2, Extended Erase only)."""
        code = self._erase_code()
        self.command(code)
        if code == EXTENDED_ERASE:
            special = {None: 0xFFFF, 1: 0xFFFE, 2: 0xFFFD}[bank]
            body = special.to_bytes(2, "big")
            self.send(body + bytes([xor(body)]))
        else:
            if bank is not None:
                raise ValueError("bank erase needs Extended Erase")
            self.send(b"\xff\x00")
        self.expect_ack("the mass erase", timeout)

    def _erase_code(self) -> int:
        code = self.info.erase_command if self.info is not None else EXTENDED_ERASE
        if code is None:
            raise LinkError("this bootloader offers no erase command")
        return code

    # -- read protection (each ends with the chip resetting; write protection is option bytes) -----
    def readout_protect(self, timeout: float = OPTION_TIMEOUT_S) -> None:
        self._require(READOUT_PROTECT)
        self.command(READOUT_PROTECT)
        self.expect_ack("the end of Readout Protect", timeout)

    def readout_unprotect(self, timeout: float) -> None:
        self._require(READOUT_UNPROTECT)
        self.command(READOUT_UNPROTECT)
        self.expect_ack("the end of Readout Unprotect (mass erase)", timeout)
