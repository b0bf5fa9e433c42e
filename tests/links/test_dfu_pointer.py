"""The requests DfuSe sends once it knows the ROM's address pointer and state, against a scripted
device: which Set Address Pointer, ABORT and GETSTATUS it can leave out, and which it cannot."""

from __future__ import annotations

import pytest

from stflash.errors import LinkError
from stflash.links.dfu.dfuse import DfuSe, DfuStatus, State, Status

from linkbench import ScriptedDfu

BUSY = DfuStatus(Status.OK, 5, State.dfuDNBUSY)
DONE = DfuStatus(Status.OK, 0, State.dfuDNLOAD_IDLE)
MANIFEST = DfuStatus(Status.OK, 1, State.dfuMANIFEST)
BASE = 0x0800_0000


def _dfu(dev: ScriptedDfu, size: int = 2048) -> DfuSe:
    return DfuSe(dev, 0, size, lambda s: None, poll="eager")


def _requests(dev: ScriptedDfu) -> list[tuple[str, int, int]]:
    return [r for r in dev.log if r[0] != "GETSTATUS"]


def test_contiguous_downloads_share_one_pointer() -> None:
    dev = ScriptedDfu([BUSY, DONE] * 4)
    dfu = _dfu(dev)
    dfu.download(BASE, bytes(2048), 1.0)
    dfu.download(BASE + 2048, bytes(4096), 1.0)  # the next sector's range, in a second call
    assert _requests(dev) == [("DNLOAD", 0, 5), ("DNLOAD", 2, 2048), ("DNLOAD", 3, 2048), ("DNLOAD", 4, 2048)]


def test_an_address_the_blocks_cannot_reach_gets_its_pointer() -> None:
    dev = ScriptedDfu([BUSY, DONE] * 4)
    dfu = _dfu(dev)
    dfu.download(BASE + 4096, bytes(16), 1.0)
    dfu.download(BASE + 100, bytes(16), 1.0)  # below the pointer, and off the 2 KiB grid
    assert _requests(dev) == [("DNLOAD", 0, 5), ("DNLOAD", 2, 16), ("DNLOAD", 0, 5), ("DNLOAD", 2, 16)]
    assert dfu.pointer == BASE + 100


def test_an_erase_forgets_the_pointer() -> None:
    """ST's USB library points the pointer at the erased page; the ROMs' own rule is not written
    down, so the next block gets a pointer of its own."""
    dev = ScriptedDfu([BUSY, DONE] * 4)
    dfu = _dfu(dev)
    dfu.set_address(BASE)
    dfu.erase_page(BASE + 0x4000, 1.0)
    dfu.download(BASE, bytes(16), 1.0)
    # pointer, erase, pointer again (5 bytes each), then the block
    assert _requests(dev) == [("DNLOAD", 0, 5)] * 3 + [("DNLOAD", 2, 16)]
    assert dfu.pointer == BASE


def test_a_refused_pointer_is_not_kept() -> None:
    dev = ScriptedDfu([BUSY, DONE, BUSY, DfuStatus(Status.errTARGET, 0, State.dfuERROR)])
    dfu = _dfu(dev)
    dfu.set_address(BASE)
    with pytest.raises(LinkError, match="errTARGET"):
        dfu.set_address(0xE004_2000)
    assert dfu.pointer is None and dfu.state == State.dfuIDLE  # CLRSTATUS took it back to dfuIDLE


def test_reads_and_writes_switch_with_one_abort_each_way() -> None:
    dev = ScriptedDfu([BUSY, DONE] * 3, uploads=lambda block, n: bytes([block]) * n)
    dfu = _dfu(dev)
    dfu.download(BASE, bytes(2048), 1.0)
    assert dfu.read(BASE + 2048, 32) == b"\x03" * 32  # block 3 of the same pointer, after an ABORT
    assert dfu.read(BASE + 0x4000, 32) == b"\x0a" * 32  # straight on from dfuUPLOAD-IDLE
    dfu.download(BASE + 4096, bytes(2048), 1.0)
    assert _requests(dev) == [("DNLOAD", 0, 5), ("DNLOAD", 2, 2048), ("ABORT", 0, 0), ("UPLOAD", 3, 32),
                              ("UPLOAD", 10, 32), ("ABORT", 0, 0), ("DNLOAD", 4, 2048)]


def test_a_stop_after_the_first_block_reads_no_more() -> None:
    dev = ScriptedDfu([BUSY, DONE], uploads=lambda block, n: bytes([block]) * n)
    blocks = _dfu(dev).blocks(BASE, 8 * 2048)
    assert next(blocks) == b"\x02" * 2048
    assert [n for n, _, _ in dev.log].count("UPLOAD") == 1


def test_leave_from_dfudnload_idle_with_the_pointer_in_place() -> None:
    dev = ScriptedDfu([BUSY, DONE, BUSY, DONE, MANIFEST])
    dfu = _dfu(dev)
    dfu.download(BASE, bytes(64), 1.0)
    assert dfu.leave(BASE) == "dfuMANIFEST/OK"
    assert dev.names[-2:] == ["DNLOAD", "GETSTATUS"] and dev.log[-2] == ("DNLOAD", 2, 0)
    assert dev.names.count("ABORT") == 0 and dfu.state is None and dfu.pointer is None


def test_leave_after_a_read_aborts_and_points() -> None:
    dev = ScriptedDfu([BUSY, DONE, BUSY, DONE, MANIFEST])
    dfu = _dfu(dev)
    dfu.read(BASE + 0x4000, 16)
    dfu.leave(BASE)
    assert [(n, v) for n, v, _ in _requests(dev)] == [("DNLOAD", 0), ("ABORT", 0), ("UPLOAD", 2), ("ABORT", 0),
                                                      ("DNLOAD", 0), ("DNLOAD", 2)]
