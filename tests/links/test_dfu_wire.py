"""The DfuSe host side without a bench: the memory-map grammar, the functional descriptor, chip
matching, and the exact requests the link sends to a scripted device."""

from __future__ import annotations

import struct

import pytest
import usb.core

from stflash.chips.lookup import find_chip
from stflash.errors import LinkError, OperationTimeoutError, ProtectedError
from stflash.links.dfu.dfuse import DfuSe, DfuStatus, FunctionalDescriptor, State, Status
from stflash.links.dfu.identify import RomFacts, match_chips
from stflash.links.dfu.layout import ERASABLE, READABLE, WRITABLE, LayoutError, parse_layout

from linkbench import ScriptedDfu

F4_FLASH = "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg"


# -- memory-map strings -----------------------------------------------------------------------
def test_f4_internal_flash_gives_the_twelve_sectors() -> None:
    lay = parse_layout(F4_FLASH)
    assert lay.name == "Internal Flash"
    pages = lay.pages()
    assert len(pages) == 12
    assert [(p.address, p.size) for p in pages[:6]] == [
        (0x0800_0000, 0x4000), (0x0800_4000, 0x4000), (0x0800_8000, 0x4000), (0x0800_C000, 0x4000),
        (0x0801_0000, 0x1_0000), (0x0802_0000, 0x2_0000)]
    assert pages[-1].end == 0x0810_0000 and lay.size == 1024 * 1024
    assert all(p.rights == READABLE | ERASABLE | WRITABLE for p in pages)
    assert lay.page_at(0x0802_1234) == pages[5]


@pytest.mark.parametrize("text, start, sizes, rights", [
    ("@Option Bytes  /0x1FFFC000/01*016 e", 0x1FFF_C000, [16], READABLE | WRITABLE),
    ("@Option Bytes   /0x1FFF7800/01*40Be", 0x1FFF_7800, [40], READABLE | WRITABLE),
    ("@OTP Memory /0x1FF07800/01*528e", 0x1FF0_7800, [528], READABLE | WRITABLE),  # no multiplier
    ("@OTP Memory /0x1FFF7000/01*0001Ke", 0x1FFF_7000, [1024], READABLE | WRITABLE),
    ("@Internal Flash  /0x08000000/0256*0002Kg", 0x0800_0000, [2048] * 256, 7),  # zero-padded
    ("@Device Feature/0xFFFF0000/01*004 g", 0xFFFF_0000, [4], 7),
    ("@Internal Flash   /0x08000000/16*128Kg\x00", 0x0800_0000, [128 * 1024] * 16, 7),
    ("@X/0x20000000/01*001Ma", 0x2000_0000, [1 << 20], READABLE),
    ("@X/0x20000000/02*008Kc,01*4Kf", 0x2000_0000, [8192, 8192, 4096], None),
])
def test_segment_forms(text: str, start: int, sizes: list[int], rights: int | None) -> None:
    lay = parse_layout(text)
    assert lay.start == start
    assert [p.size for p in lay.pages()] == sizes
    if rights is not None:
        assert {p.rights for p in lay.pages()} == {rights}


def test_type_letters_map_to_rights() -> None:
    lay = parse_layout("@X/0x0/1*1Ka,1*1Kb,1*1Kc,1*1Kd,1*1Ke,1*1Kf,1*1Kg")
    assert [s.rights for s in lay.segments] == [1, 2, 3, 4, 5, 6, 7]
    assert [s.readable for s in lay.segments] == [True, False, True, False, True, False, True]
    assert [s.erasable for s in lay.segments] == [False, True, True, False, False, True, True]


def test_several_address_groups_are_all_kept() -> None:
    lay = parse_layout("@Option Bytes   /0x1FFF7800/01*048 e/0x1FFFF800/01*048 e")
    assert lay.groups == ((0x1FFF_7800, 48), (0x1FFF_F800, 48))
    assert lay.covers(0x1FFF_F800, 48) and not lay.covers(0x1FFF_7830, 0x10)
    assert lay.covers(0x1FFF_7800, 48)


@pytest.mark.parametrize("bad", ["Internal Flash/0x08000000/04*016Kg", "@Flash", "@Flash/0x08000000",
                                 "@Flash/0xZZ/01*016Kg", "@Flash/0x08000000/04*016Kx", "@Flash/0x08000000/04*016",
                                 "@Flash/0x08000000/four*016Kg"])
def test_malformed_strings_say_what_is_wrong(bad: str) -> None:
    with pytest.raises(LayoutError):
        parse_layout(bad)


# -- descriptors and chip matching --------------------------------------------------------------
def test_functional_descriptor_found_among_extra_bytes() -> None:
    extra = bytes([5, 0x24, 1, 2, 3]) + struct.pack("<BBBHHH", 9, 0x21, 0x0B, 255, 2048, 0x011A)
    func = FunctionalDescriptor.find([b"", extra])
    assert func == FunctionalDescriptor(0x0B, 255, 2048, 0x011A)
    dfu10 = struct.pack("<BBBHH", 7, 0x21, 0x03, 100, 1024)
    assert FunctionalDescriptor.find([dfu10]) == FunctionalDescriptor(0x03, 100, 1024, 0x0100)
    assert FunctionalDescriptor.find([bytes([9, 4, 0, 0, 0, 0xFE, 1, 2, 4])]) is None


def _facts(bcd: int, flash: str, options: str | None) -> RomFacts:
    return RomFacts(bcd, parse_layout(flash), parse_layout(options, 1) if options else None)


def test_matching_uses_sectors_option_address_and_rom_version() -> None:
    f407 = _facts(0x2100, F4_FLASH, "@Option Bytes  /0x1FFFC000/01*016 g")
    assert [c.name for c in match_chips(f407)][0] == "STM32F407xG"
    same_map = [c.name for c in match_chips(_facts(0x2200, F4_FLASH, "@Option Bytes  /0x1FFFC000/01*016 e"))]
    assert "STM32F407xG" not in same_map and {"STM32F412xG", "STM32F429xG"} <= set(same_map)
    h7 = match_chips(_facts(0x0200, "@Internal Flash   /0x08000000/16*128Kg",
                            "@Option Bytes   /0x5200201C/01*128 e"))
    assert h7[0].name == "STM32H743xI"  # single core before the dual-core row with the same map
    l4 = match_chips(_facts(0x2200, "@Internal Flash  /0x08000000/0512*0002Kg",
                            "@Option Bytes  /0x1FFF7800/01*040 e"))
    assert [c.name for c in l4] == ["STM32L476xG"]
    assert match_chips(_facts(0x2200, "@Internal Flash  /0x08000000/03*016Kg", None)) == []


def test_a_dual_bank_layout_gives_the_chip_in_that_layout() -> None:
    f767 = find_chip("stm32f767zi")
    geometry = f767.alt_geometries[0]
    banked = f767.with_options({geometry.option: geometry.value})
    text = "@Internal Flash  /0x08000000/" + ",".join(
        f"{1:02d}*{s.size // 1024:03d}Kg" for s in banked.sectors())
    found = match_chips(_facts(0x2200, text, "@Option Bytes  /0x1FFF0000/01*032 e"))
    assert found and [s.address for s in found[0].sectors()] == [s.address for s in banked.sectors()]


# -- the requests on the wire, against a scripted device -----------------------------------------
BUSY = DfuStatus(Status.OK, 104, State.dfuDNBUSY)
DONE = DfuStatus(Status.OK, 0, State.dfuDNLOAD_IDLE)
IDLE = DfuStatus(Status.OK, 0, State.dfuIDLE)


def _dfu(dev: ScriptedDfu, poll: str = "honour", size: int = 2048) -> tuple[DfuSe, list[float]]:
    slept: list[float] = []
    return DfuSe(dev, 0, size, slept.append, poll=poll), slept


def test_download_sets_the_pointer_once_and_numbers_blocks_from_2() -> None:
    dev = ScriptedDfu([BUSY, DONE] * 4)
    dfu, slept = _dfu(dev)
    dfu.download(0x0800_4000, bytes(2048 * 2 + 100), 2.0)
    sent = [(n, v, length) for n, v, length in dev.log if n == "DNLOAD"]
    # pointer, blocks 2 and 3, and the short tail as block 4 (ST's library: fixed wTransferSize steps)
    assert sent == [("DNLOAD", 0, 5), ("DNLOAD", 2, 2048), ("DNLOAD", 3, 2048), ("DNLOAD", 4, 100)]
    assert slept == [0.104] * 4, "bwPollTimeout is waited before each second GETSTATUS"


def test_a_short_block_can_get_its_own_pointer(monkeypatch: pytest.MonkeyPatch) -> None:
    """The other reading of AN3156 (the request's length as the step) stays one switch away."""
    from stflash.links.dfu import dfuse

    monkeypatch.setattr(dfuse, "SHORT_BLOCK_OWN_POINTER", True)
    dev = ScriptedDfu([BUSY, DONE] * 5)
    _dfu(dev)[0].download(0x0800_4000, bytes(2048 * 2 + 100), 2.0)
    sent = [(n, v, length) for n, v, length in dev.log if n == "DNLOAD"]
    assert sent == [("DNLOAD", 0, 5), ("DNLOAD", 2, 2048), ("DNLOAD", 3, 2048), ("DNLOAD", 0, 5), ("DNLOAD", 2, 100)]


def test_eager_polling_asks_again_at_once_and_waits_only_when_still_busy() -> None:
    dev = ScriptedDfu([BUSY, BUSY, DONE])
    dfu, slept = _dfu(dev, poll="eager")
    dfu.command(b"\x41\x00\x00\x00\x08", "erase", 5.0)
    assert slept == [0.104]


def test_a_stalled_status_while_busy_counts_as_busy() -> None:
    stall = usb.core.USBError("Pipe error", -9, 32)
    dev = ScriptedDfu([BUSY, stall, stall, DONE])
    dfu, slept = _dfu(dev)
    dfu.command(b"\x41\x00\x00\x00\x08", "erase", 5.0)
    assert len(slept) == 3
    dev = ScriptedDfu([BUSY] + [stall] * 4)
    with pytest.raises(LinkError, match="stalls every GETSTATUS"):
        _dfu(dev)[0].command(b"\x41\x00\x00\x00\x08", "erase", 5.0)


def test_an_operation_that_stays_busy_times_out() -> None:
    dev = ScriptedDfu([BUSY] * 60)
    with pytest.raises(OperationTimeoutError, match="did not finish in 1.0 s"):
        _dfu(dev)[0].command(b"\x41", "the mass erase", 1.0)


def test_dfu_error_is_cleared_and_named() -> None:
    dev = ScriptedDfu([BUSY, DfuStatus(Status.errTARGET, 0, State.dfuERROR)])
    with pytest.raises(LinkError, match=r"Set Address Pointer 0x00000000: errTARGET \(address not allowed\)"):
        _dfu(dev)[0].set_address(0)
    assert dev.log[-1][0] == "CLRSTATUS"
    dev = ScriptedDfu([BUSY, DfuStatus(Status.errVENDOR, 0, State.dfuERROR)])
    with pytest.raises(ProtectedError, match="read-out protection"):
        _dfu(dev)[0].erase_page(0x0800_0000, 1.0)


def test_a_stalled_upload_reports_the_status_the_rom_left() -> None:
    stall = usb.core.USBError("Pipe error", -9, 32)

    def refuse(block: int, n: int) -> bytes:
        raise stall

    dev = ScriptedDfu([BUSY, DONE, DfuStatus(Status.errVENDOR, 0, State.dfuERROR)], uploads=refuse)
    with pytest.raises(ProtectedError):
        _dfu(dev)[0].read(0x0800_0000, 16)
    assert dev.names == ["DNLOAD", "GETSTATUS", "GETSTATUS", "ABORT", "UPLOAD", "GETSTATUS", "CLRSTATUS"]


def test_upload_aborts_after_the_pointer_and_reads_consecutive_blocks() -> None:
    dev = ScriptedDfu([BUSY, DONE], uploads=lambda block, n: bytes([block]) * n)
    dfu = _dfu(dev, size=1024)[0]
    data = dfu.read(0x0800_0000, 1024 * 2 + 10)
    assert data == b"\x02" * 1024 + b"\x03" * 1024 + b"\x04" * 10
    names = [(n, v) for n, v, _ in dev.log if n != "GETSTATUS"]
    # no ABORT at the end: the ROM stays in dfuUPLOAD-IDLE until a DNLOAD needs dfuIDLE
    assert names == [("DNLOAD", 0), ("ABORT", 0), ("UPLOAD", 2), ("UPLOAD", 3), ("UPLOAD", 4)]
    assert dfu.state == State.dfuUPLOAD_IDLE and dfu.pointer == 0x0800_0000


def test_recovery_clears_errors_and_aborts_until_idle() -> None:
    dev = ScriptedDfu([DfuStatus(Status.errFIRMWARE, 0, State.dfuERROR), DfuStatus(Status.OK, 0, State.dfuUPLOAD_IDLE),
                    IDLE])
    dfu, _ = _dfu(dev)
    dfu.to_idle()
    assert dev.names == ["GETSTATUS", "CLRSTATUS", "GETSTATUS", "ABORT", "GETSTATUS"]
    assert dfu.trail == ["dfuERROR/errFIRMWARE", "dfuUPLOAD-IDLE/OK"]


def test_leave_tolerates_a_device_that_is_already_gone() -> None:
    gone = usb.core.USBError("No such device", -4, 19)
    dev = ScriptedDfu([BUSY, DONE, gone])
    assert _dfu(dev)[0].leave(0x0800_0000) == "left the bus"
    assert ("DNLOAD", 2, 0) in dev.log
