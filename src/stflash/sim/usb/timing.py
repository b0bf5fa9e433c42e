"""What a USB transfer costs on the virtual clock (USB 2.0 §5.5, §5.8, §8.4).

A synchronous transfer from a host starts at the next (micro)frame boundary, because host
controllers schedule transactions per frame, and occupies as many (micro)frames as its
transactions need at the per-frame limits of the spec:

* full speed, 1 ms frames: 19 bulk transactions of 64 bytes per frame (Table 5-9), control
  transfers 13 transactions per frame (Table 5-5: setup + data + status stages each count);
* high speed, 125 µs microframes: 13 bulk transactions of 512 bytes per microframe (Table 5-10),
  control 31 transactions of 64 bytes per microframe (Table 5-6).

The device's own processing time is added by the device model (it is the chip's, not the bus's).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..clock import zero_costs
from .descriptors import SPEED_HIGH


@dataclass(frozen=True)
class UsbTiming:
    frame_ns: int
    bulk_per_frame: int
    bulk_packet: int
    control_per_frame: int
    control_packet: int = 64

    @classmethod
    def for_speed(cls, speed: int) -> UsbTiming:
        if speed >= SPEED_HIGH:
            return cls(frame_ns=125_000, bulk_per_frame=13, bulk_packet=512, control_per_frame=31)
        return cls(frame_ns=1_000_000, bulk_per_frame=19, bulk_packet=64, control_per_frame=13)

    def _start(self, now: int) -> int:
        return -(-now // self.frame_ns) * self.frame_ns

    def bulk_end(self, now: int, nbytes: int, max_packet: int | None = None) -> int:
        """End time of a bulk transfer of ``nbytes`` (a zero-length transfer is one transaction)."""
        if zero_costs():
            return now
        packet = max_packet or self.bulk_packet
        transactions = max(1, -(-nbytes // packet))
        scale = packet / self.bulk_packet
        frames = -(-transactions // max(1, int(self.bulk_per_frame / scale)))
        return self._start(now) + frames * self.frame_ns

    def control_end(self, now: int, nbytes: int) -> int:
        """End time of a control transfer: setup, data stage packets, status."""
        if zero_costs():
            return now
        transactions = 2 + -(-nbytes // self.control_packet)
        frames = -(-transactions // self.control_per_frame)
        return self._start(now) + frames * self.frame_ns


@dataclass(frozen=True)
class ProbeTiming:
    """What an ST-LINK's firmware adds to the USB transfers of a command (stlink.md §9).

    * ``command_ns``: parsing and dispatching one command block;
    * ``access_ns``: firmware time per SWD transaction, not overlapped with the wire (derived from
      ST's STLINK-V3MINIE measurement: ≈1.1 ms of probe time on a 256-word READMEM at 24 MHz, and
      the same ≈4.3 µs per word on 6 KiB transfers);
    * each SWD transaction takes ``swd_clocks`` clocks at the selected frequency (8-bit request,
      turnaround, 3-bit ACK, turnaround, 32 data bits and parity = 46).
    """

    command_ns: int
    access_ns: int
    swd_clocks: int = 46


# V2/V2-1 (STM32F103 at 72 MHz) and V3 (STM32F723 at 216 MHz). The command overheads and the V2
# per-access time are UNCONFIRMED estimates within the ≤0.15-0.25 ms per round trip that st-flash's
# published per-word speeds allow; the V3 per-access time is derived as above.
STLINK_TIMING = {
    "V2": ProbeTiming(command_ns=60_000, access_ns=6_000),
    "V2-1": ProbeTiming(command_ns=60_000, access_ns=6_000),
    "V3": ProbeTiming(command_ns=25_000, access_ns=4_300),
}
