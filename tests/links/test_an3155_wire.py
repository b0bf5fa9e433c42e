"""AN3155 frames as they go on the wire, against scripted replies (AN3155 §2-§3 byte for byte)."""

from __future__ import annotations

import pytest

from stflash.errors import ProtectedError, TargetNotRespondingError
from stflash.links.uart.an3155 import An3155, Nack, NoReply, address_frame


class ScriptPort:
    """Answers each write with the next scripted reply (None = silence)."""

    def __init__(self, replies: list[bytes | None]) -> None:
        self.replies = list(replies)
        self.sent = bytearray()
        self.pending = bytearray()
        self.timeout: float | None = 0.5

    def write(self, data: bytes) -> int:
        self.sent += data
        reply = self.replies.pop(0) if self.replies else None
        if reply:
            self.pending += reply
        return len(data)

    def read(self, n: int) -> bytes:
        out, self.pending = bytes(self.pending[:n]), self.pending[n:]
        return out

    def reset_input_buffer(self) -> None:
        self.pending.clear()


def test_address_frame_is_big_endian_with_xor() -> None:
    assert address_frame(0x08000000) == bytes([0x08, 0, 0, 0, 0x08])
    assert address_frame(0x1FFFF7E0) == bytes([0x1F, 0xFF, 0xF7, 0xE0, 0x1F ^ 0xFF ^ 0xF7 ^ 0xE0])


def test_handshake_ack() -> None:
    port = ScriptPort([b"\x79"])
    assert An3155(port).sync() == "synced"
    assert bytes(port.sent) == b"\x7f"


def test_handshake_on_an_already_synced_bootloader_takes_a_second_0x7f() -> None:
    # idle and synced: the first 0x7F is half a command (silence), the second completes it (NACK)
    port = ScriptPort([None, b"\x1f"])
    assert An3155(port).sync() == "already"
    assert bytes(port.sent) == b"\x7f\x7f"


def test_handshake_silence_is_target_not_responding() -> None:
    with pytest.raises(TargetNotRespondingError, match="0x7F"):
        An3155(ScriptPort([None, None])).sync()


def test_get_parses_version_and_commands() -> None:
    port = ScriptPort([bytes.fromhex("790b310001021121314463738292") + b"\x79"])
    bl = An3155(port)
    version, commands = bl.get()
    assert bytes(port.sent) == b"\x00\xff"
    assert version == 0x31 and commands == (0, 1, 2, 0x11, 0x21, 0x31, 0x44, 0x63, 0x73, 0x82, 0x92)


def test_read_memory_frames() -> None:
    port = ScriptPort([b"\x79", b"\x79", b"\x79" + bytes(range(16))])
    data = An3155(port).read_memory(0x08000000, 16)
    assert data == bytes(range(16))
    assert bytes(port.sent) == b"\x11\xee" + address_frame(0x08000000) + b"\x0f\xf0"


def test_write_memory_frame_checksum_covers_count_and_data() -> None:
    port = ScriptPort([b"\x79", b"\x79", b"\x79"])
    An3155(port).write_memory(0x20001000, b"\x01\x02\x03\x04")
    assert bytes(port.sent[-6:]) == bytes([3, 1, 2, 3, 4, 3 ^ 1 ^ 2 ^ 3 ^ 4])


def test_read_refused_at_the_command_is_read_protection() -> None:
    with pytest.raises(ProtectedError, match="RDP level 1"):
        An3155(ScriptPort([b"\x1f"])).read_memory(0x08000000, 4)


def test_nack_on_the_address_says_so() -> None:
    with pytest.raises(Nack) as info:
        An3155(ScriptPort([b"\x79", b"\x1f"])).read_memory(0x60000000, 4)
    assert info.value.stage == "address"


def test_missing_ack_after_a_write_is_a_timeout_not_a_success() -> None:
    with pytest.raises(NoReply):
        An3155(ScriptPort([b"\x79", b"\x79", None])).write_memory(0x08000000, b"\x00" * 4)


def test_extended_erase_frames_and_special_codes() -> None:
    port = ScriptPort([b"\x79", b"\x79", b"\x79", b"\x79"])
    bl = An3155(port)
    bl.erase_pages([0, 1], timeout=1)
    assert bytes(port.sent) == b"\x44\xbb" + bytes([0, 1, 0, 0, 0, 1, 0 ^ 1 ^ 1])
    port.sent.clear()
    bl.mass_erase(timeout=1, bank=2)
    assert bytes(port.sent) == b"\x44\xbb\xff\xfd\x02"


def test_resync_feeds_single_0xff_until_one_is_nacked() -> None:
    # the chip was waiting for 3 more bytes of a frame: two fillers are silent, the third closes
    # the frame with a bad checksum (NACK): the next byte starts a command
    port = ScriptPort([None, None, b"\x1f"])
    An3155(port).resync()
    assert bytes(port.sent) == b"\xff\xff\xff"
