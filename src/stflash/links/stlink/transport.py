"""The ST-LINK on USB: finding probes on a pyusb backend, and moving 16-byte command blocks with
their data phases (stlink.md §1).

The backend is handed in (the system's libusb or the virtual bench's), so the same code serves
real probes and simulated ones.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from ...errors import MultipleDevicesError, NoDeviceError, NotSupportedError
from ..usb_ids import ST_VID, STLINK_PIDS
from . import protocol as p
from .errors import REPLUG_HINT, usb_error

INTERFACE = 0  # the debug interface on every generation (MSD, VCP and bridge come after it)
BASE_TIMEOUT_MS = 1000  # pyOCD and probe-rs wait 1 s per transfer; long transfers get more (below)
FLUSH_TIMEOUT_MS = 1  # pyOCD drains stale replies of a crashed session this way on open
SWD_CLOCKS_PER_WORD = 46  # one 32-bit SWD transaction (stlink.md §9)


@dataclass(frozen=True)
class ProbeKind:
    """One ST-LINK generation as USB shows it (stlink.md §1.1, §1.2)."""

    name: str  # "V1", "V2", "V2-1", "V3", "V3-loader"
    out_ep: int
    in_ep: int
    trace_ep: int | None
    packet: int  # default wMaxPacketSize (the descriptor's value wins)


V1 = ProbeKind("V1", 0x02, 0x81, None, 64)
V2 = ProbeKind("V2", 0x02, 0x81, 0x83, 64)
V2_1 = ProbeKind("V2-1", 0x01, 0x81, 0x82, 64)
V3 = ProbeKind("V3", 0x01, 0x81, 0x82, 512)
V3_LOADER = ProbeKind("V3-loader", 0x01, 0x81, None, 512)
_BY_GENERATION = {"V1": V1, "V2": V2, "V2-1": V2_1, "V3": V3, "V3-loader": V3_LOADER}


def probe_kind(pid: int) -> ProbeKind | None:
    entry = STLINK_PIDS.get(pid)
    return _BY_GENERATION.get(entry[0]) if entry else None


def normalize_serial(text: str | None) -> str | None:
    """The serial as tools print it. Old ST-LINK/V2 firmware reports its 12 raw serial bytes, one
    per UTF-16 code unit (a 26-byte descriptor); every tool hex-encodes those in upper case
    (stlink.md §1.5). Proper serials are 24 hex characters and are only upper-cased."""
    if text is None:
        return None
    if len(text) == 12 or any(not (0x20 < ord(c) < 0x7F) for c in text):
        return "".join(f"{ord(c) & 0xFF:02X}" for c in text)
    return text.upper()


@dataclass(frozen=True)
class ProbeInfo:
    """One ST-LINK on the bus."""

    device: Any  # the pyusb device
    pid: int
    kind: ProbeKind
    label: str  # "ST-LINK/V2-1", "STLINK-V3E", ...
    serial: str | None  # normalised (see normalize_serial); None when unreadable
    serial_raw: str | None
    problem: str | None  # why its strings could not be read (permission, busy)
    bus: int | None = None
    address: int | None = None

    @property
    def supported(self) -> bool:
        return self.kind.name in ("V2", "V2-1", "V3")

    def matches(self, serial: str) -> bool:
        want = serial.strip()
        return (self.serial is not None and self.serial.lower() == want.lower()) or self.serial_raw == want


def find_probes(backend: Any) -> list[ProbeInfo]:
    """Every ST-LINK (any PID of stlink.md §1.1) on the backend's bus, several at once."""
    import usb.core
    import usb.util

    out: list[ProbeInfo] = []
    devices = usb.core.find(find_all=True, backend=backend, idVendor=ST_VID,
                            custom_match=lambda d: int(d.idProduct) in STLINK_PIDS) or []
    for dev in devices:
        pid = int(dev.idProduct)
        kind = probe_kind(pid)
        if kind is None:
            continue
        raw: str | None = None
        problem: str | None = None
        try:
            if dev.iSerialNumber:
                raw = str(usb.util.get_string(dev, dev.iSerialNumber))
        except usb.core.USBError as exc:
            problem = usb_error(exc, "the probe").message
        except (ValueError, NotImplementedError) as exc:  # no language id: usually no permission
            problem = f"cannot read its strings ({exc})"
        finally:
            with contextlib.suppress(Exception):
                usb.util.dispose_resources(dev)
        out.append(ProbeInfo(dev, pid, kind, STLINK_PIDS[pid][1], normalize_serial(raw), raw, problem,
                             getattr(dev, "bus", None), getattr(dev, "address", None)))
    return out


def select_probe(probes: list[ProbeInfo], serial: str | None) -> ProbeInfo:
    """The probe ``-c stlink[:SERIAL]`` names; errors list what is attached."""
    listing = ", ".join(f"{x.label} {x.serial or '(serial unreadable)'}" for x in probes)
    if serial:
        hits = [x for x in probes if x.matches(serial)]
        if not hits:
            there = f"attached: {listing}" if probes else "no ST-LINK is attached"
            raise NoDeviceError(f"no ST-LINK with serial {serial} ({there})",
                                hint="'stflash list' shows each probe's serial; copy it into -c stlink:SERIAL")
    else:
        hits = probes
        if not hits:
            raise NoDeviceError("no ST-LINK probe found",
                                hint="check the USB cable (a charge-only cable shows nothing); "
                                "'stflash list' shows what is attached")
    if len(hits) > 1:
        raise MultipleDevicesError(f"{len(hits)} ST-LINK probes attached: {listing}",
                                   hint="choose one with -c stlink:SERIAL")
    probe = hits[0]
    if probe.kind.name == "V1":
        raise NotSupportedError(f"{probe.label} ({probe.serial}) speaks the mass-storage wrapped V1 protocol, "
                                "which stflash does not support", hint="use an ST-LINK/V2, V2-1 or V3")
    if probe.kind.name == "V3-loader":
        raise NotSupportedError(f"{probe.label} is in its firmware-update loader, not in debug firmware",
                                hint=REPLUG_HINT + " (or finish the firmware update)")
    return probe


class UsbTransport:
    """Interface 0 of one probe, claimed; command blocks out, replies in."""

    def __init__(self, info: ProbeInfo) -> None:
        self.info = info
        self.dev = info.device
        self.out_ep = info.kind.out_ep
        self.in_ep = info.kind.in_ep
        self.packet = info.kind.packet
        self.name = f"the {info.label}" + (f" {info.serial}" if info.serial else "")
        self.claimed = False
        self.transfers = 0  # bulk transfers issued (tests and timing)

    def open(self) -> None:
        """Configure, claim interface 0, read the endpoints' packet size and drop stale replies."""
        import usb.core
        import usb.util

        dev = self.dev
        try:
            try:
                cfg = dev.get_active_configuration()
            except usb.core.USBError:
                dev.set_configuration()
                cfg = dev.get_active_configuration()
            with contextlib.suppress(NotImplementedError, usb.core.USBError):
                if dev.is_kernel_driver_active(INTERFACE):
                    dev.detach_kernel_driver(INTERFACE)
            usb.util.claim_interface(dev, INTERFACE)
        except usb.core.USBError as exc:
            raise usb_error(exc, self.name, opening=True) from None
        self.claimed = True
        intf = next((i for i in cfg if i.bInterfaceNumber == INTERFACE and i.bAlternateSetting == 0), None)
        if intf is not None:
            for ep in intf:
                if int(ep.bEndpointAddress) == self.in_ep:
                    self.packet = int(ep.wMaxPacketSize) or self.packet
        self.flush()

    def flush(self) -> None:
        """Read and drop whatever replies a previous session left in the probe."""
        import usb.core

        for _ in range(8):
            try:
                self.dev.read(self.in_ep, self.packet * 8, FLUSH_TIMEOUT_MS)
            except usb.core.USBTimeoutError:
                return
            except usb.core.USBError as exc:
                raise usb_error(exc, self.name, opening=True) from None

    def xfer(self, block: bytes, *, data: bytes | None = None, read: int = 0, timeout_ms: int = BASE_TIMEOUT_MS,
             what: str = "") -> bytes:
        """Send one command block (zero-padded to 16 bytes), then its data OUT phase, then read
        ``read`` reply bytes."""
        import usb.core

        label = what or f"command {block[:2].hex()}"
        try:
            self.dev.write(self.out_ep, bytes(block).ljust(p.CMD_SIZE, b"\x00"), timeout_ms)
            self.transfers += 1
            if data:
                self.dev.write(self.out_ep, data, timeout_ms)
                self.transfers += 1
            if not read:
                return b""
            return self._receive(read, timeout_ms)
        except usb.core.USBError as exc:  # timeouts included (USBTimeoutError is one)
            raise usb_error(exc, f"{self.name} ({label})") from None

    def _receive(self, n: int, timeout_ms: int) -> bytes:
        """Read an ``n``-byte reply. A request that is not a multiple of the packet size is
        rounded up, so a reply shorter than a packet ends the transfer instead of overflowing it
        (the probe sends 2 bytes for a 1-byte 8-bit read, for instance)."""
        from ...errors import LinkError

        out = bytearray()
        while len(out) < n:
            want = n - len(out)
            want = want if want % self.packet == 0 else want + self.packet - want % self.packet
            chunk = bytes(self.dev.read(self.in_ep, want, timeout_ms))
            self.transfers += 1
            out += chunk
            if not chunk or len(chunk) % self.packet:
                break  # a short packet ends the reply
        if len(out) < n:
            raise LinkError(f"{self.name} answered {len(out)} bytes where {n} were expected", hint=REPLUG_HINT)
        return bytes(out[:n])

    def close(self) -> None:
        import usb.util

        if self.claimed:
            with contextlib.suppress(Exception):
                usb.util.release_interface(self.dev, INTERFACE)
            self.claimed = False
        with contextlib.suppress(Exception):
            usb.util.dispose_resources(self.dev)


def transfer_timeout_ms(nbytes: int, khz: float | None) -> int:
    """A transfer's timeout: the base, plus twice the SWD wire time of the bytes it moves at the
    slowest clock it could run at (a 6 KiB read at 5 kHz takes 14 s)."""
    rate = khz or 5.0
    wire_ms = (nbytes + 3) // 4 * SWD_CLOCKS_PER_WORD / rate
    return int(BASE_TIMEOUT_MS + 2 * wire_ms)
