"""What a host writes to the bench's serial port, byte for byte, and the AN3155 commands in it."""

from __future__ import annotations

import pytest


def record_host_writes(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """A log that fills as the host writes (one entry per ``write`` call, as it made it)."""
    from stflash.sim.uart import protocol_stflashsim

    log: list[bytes] = []
    write = protocol_stflashsim.Serial.write

    def logged(self: protocol_stflashsim.Serial, data: bytes) -> int:
        log.append(bytes(data))
        return write(self, data)

    monkeypatch.setattr(protocol_stflashsim.Serial, "write", logged)
    return log


def commands(writes: list[bytes]) -> list[tuple[int, bytes]]:
    """(command code, the write after it) for each AN3155 command among ``writes``: a two-byte
    write whose bytes complement each other and that does not end a Read Memory (its length)."""
    out: list[tuple[int, bytes]] = []
    i = 0
    while i < len(writes):
        w = writes[i]
        if len(w) == 2 and w[0] ^ w[1] == 0xFF:
            nxt = writes[i + 1] if i + 1 < len(writes) else b""
            out.append((w[0], nxt))
            i += 3 if w[0] == 0x11 else 1  # Read Memory: address, then the length pair
            continue
        i += 1
    return out
