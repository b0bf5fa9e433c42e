"""The bench's ST-LINK as USB shows it: command blocks on the OUT endpoint, optional data phases,
replies on the IN endpoint (stlink.md §1.3).

Each reply waits in the probe until the host reads it (replies the host does not read stay
queued, each ending with its own short packet, as on the bus); a write command's data phase is
collected until its length is complete. Both survive between host processes, like the probe's
own buffers, in ``bench.board.link_state["stlink"]``.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from ..usb.device import NoData, SimUsbDevice, Stall
from ..usb.stlink_identity import KINDS, stlink_descriptors
from .engine import StlinkFirmware

if TYPE_CHECKING:
    from ..bench import Bench
    from ..usb_host import BenchUsbHost


def probe_serial(bench: Bench) -> bytes:
    """The probe's 12-byte serial (its own STM32's unique id), stable for a bench."""
    return hashlib.sha256(f"stflash-probe:{bench.board.part}:{bench.board.seed}".encode()).digest()[:12]


class StlinkUsbDevice(SimUsbDevice):
    """The ST-LINK's debug interface; the bench is reached through ``host.bench`` on every call
    (it is reloaded per access), never kept from construction."""

    def __init__(self, host: BenchUsbHost) -> None:
        bench = host.bench
        assert bench is not None
        raw = bool(bench.board.link_state.get("stlink", {}).get("raw_serial", False))
        device, config, strings, speed = stlink_descriptors(bench.board.probe, probe_serial(bench), raw)
        super().__init__(device, config, strings, speed=speed, bus=1, address=2)
        self.host = host
        self.kind = KINDS[bench.board.probe]

    def _state(self) -> tuple[Bench, dict[str, Any]]:
        bench = self.host.bench
        assert bench is not None
        return bench, bench.board.link_state.setdefault("stlink", {})

    def bulk_out(self, endpoint: int, data: bytes) -> None:
        if endpoint != self.kind.out_ep:
            raise Stall(f"no bulk OUT endpoint {endpoint:#04x}")
        bench, s = self._state()
        pending = s.get("expect")
        if pending:  # the data phase of a write command
            got = bytes.fromhex(pending["data"]) + bytes(data)
            need = int(pending["need"])
            if len(got) < need:
                pending["data"] = got.hex()
                return
            del s["expect"]
            outcome = StlinkFirmware(bench, self.kind).data(bytes.fromhex(pending["block"]), got[:need])
        else:
            block = bytes(data)
            outcome = StlinkFirmware(bench, self.kind).command(block)
            if outcome.expect > 0:
                s["expect"] = {"block": block[:16].ljust(16, b"\x00").hex(), "need": outcome.expect, "data": ""}
        if outcome.reply is not None:
            s["pending_in"] = [*s.get("pending_in", []), outcome.reply.hex()]

    def bulk_in(self, endpoint: int, length: int) -> bytes:
        if endpoint == self.kind.trace_ep:
            raise NoData("no SWO data")
        if endpoint != self.kind.in_ep:
            raise Stall(f"no bulk IN endpoint {endpoint:#04x}")
        _, s = self._state()
        queue: list[str] = s.get("pending_in", [])
        if not queue:
            raise NoData("no reply pending")
        # a transfer ends with the reply's last (short) packet or when the host's buffer is full;
        # what the host did not take stays queued
        head = bytes.fromhex(queue[0])
        out, rest = head[:length], head[length:]
        s["pending_in"] = ([rest.hex()] if rest else []) + queue[1:]
        return out

    def on_reset(self) -> None:
        """A USB bus reset empties the endpoint buffers; the firmware state (mode, clocks) stays."""
        _, s = self._state()
        s.pop("pending_in", None)
        s.pop("expect", None)
