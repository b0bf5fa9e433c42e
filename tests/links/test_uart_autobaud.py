"""``-c uart:PORT:auto`` against the virtual bench: the fastest rate the ROM carries, found with a
reset, a handshake and two checked write/read-backs per rate, and no reset once a rate passed."""

from __future__ import annotations

from pathlib import Path

import pytest

from stflash.chips.lookup import find_chip
from stflash.links.uart.an3155 import BootloaderInfo, address_frame, xor
from stflash.links.uart.link import AUTO_BAUD, UartLink, UartOptions
from stflash.sim.bench import Bench

from linkbench import flash_bytes, random_file
from uartwire import record_host_writes

WIRING = "dtr=!nrst,rts=!boot0"  # the bench's adapter lines; stflash is told --wiring dtr-reset-rts-boot0
AUTO = ("-c", "uart:sim:auto", "--wiring", "dtr-reset-rts-boot0")


def wired_bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, part: str, wiring: str | None = WIRING) -> Path:
    directory = tmp_path / "bench"
    Bench.create(directory, part, scenarios=("bootloader-only",), uart_wiring=wiring, force=True)
    monkeypatch.setenv("STFLASH_SIM", str(directory))
    return directory


def resets(directory: Path) -> int:
    with Bench.open(directory) as b:
        return b.chip.reset_count


@pytest.mark.parametrize(("part", "expected", "resets_needed", "failed", "not_tried"), [
    # hardware auto-baud (AN2606 Table 6): the first rate passes, on the reset that enters the ROM
    ("nucleo-h743zi", 921600, 1, (), ()),
    ("nucleo-g071rb", 921600, 1, (), ()),
    # SysTick measurement, up to -6 % at 115200 and twice that at 230400: 921600 fails, 115200 names
    # the part, and the rates between are not worth a reset each
    ("nucleo-f401re", 115200, 2, (921600,), (460800, 230400)),
])
def test_auto_settles_on_the_fastest_rate_the_chip_carries(
        part: str, expected: int, resets_needed: int, failed: tuple[int, ...], not_tried: tuple[int, ...],
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli) -> None:  # type: ignore[no-untyped-def]
    directory = wired_bench(tmp_path, monkeypatch, part)
    before = resets(directory)
    r = run_cli("--json", "probe", *AUTO)
    assert r.code == 0, r.err
    obs = r.json["observations"]
    assert obs["baud"] == expected
    assert resets(directory) - before == resets_needed  # none after the rate passed
    assert "fastest rate that passed a handshake and 2 checked 256-byte write/read-backs" in obs["baud_choice"]
    assert all(f"{rate} failed" in obs["baud_choice"] for rate in failed)  # tried first, and refused
    if not_tried:
        assert f"{', '.join(map(str, not_tried))} not tried: the F4 ROM times 0x7F in software" in obs["baud_choice"]
    with Bench.open(directory) as b:  # the session it kept runs at that rate (the ROM's own measure)
        rom = b.board.link_state["uart"]["baud"]
    assert abs(rom / expected - 1) < 0.045

    path, data = random_file(tmp_path, 40 * 1024 + 4)
    r = run_cli("write", str(path), *AUTO, "--no-reset")
    assert r.code == 0, r.err
    assert flash_bytes(directory, 0x0800_0000, len(data)) == data


def test_auto_checks_twice_with_every_byte_value_and_asks_get_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli) -> None:  # type: ignore[no-untyped-def]
    """After the one reset: 0x7F, Get, Get ID, then two patterns of all 256 byte values (the second
    in another order) written to the ROM's RAM and read back; identifying the chip afterwards asks
    Get and Get ID no second time."""
    directory = wired_bench(tmp_path, monkeypatch, "nucleo-h743zi")
    host_writes = record_host_writes(monkeypatch)
    r = run_cli("probe", *AUTO)
    assert r.code == 0, r.err
    ram = address_frame(find_chip("nucleo-h743zi").bootloader.uart_ram[0])
    first, second = bytes(range(256)), bytes((i * 73) & 0xFF for i in range(256))

    def round_trip(pattern: bytes) -> list[bytes]:
        body = b"\xff" + pattern
        return [b"\x31\xce", ram, body + bytes([xor(body)]), b"\x11\xee", ram, b"\xff\x00"]

    # the first 0x7F goes out 2 ms after the reset and is lost (the H743's ROM starts in 54 ms)
    assert host_writes[:16] == [b"\x7f", b"\x7f", b"\x00\xff", b"\x02\xfd", *round_trip(first),
                                *round_trip(second)]
    assert sorted(second) == list(range(256))
    assert host_writes.count(b"\x02\xfd") == 1  # Get ID once (no read here is 3 bytes long)
    with Bench.open(directory) as b:
        assert b.chip.reset_count == 2  # the bench's power-on, and the reset that entered the ROM


def test_a_rate_whose_check_fails_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli) -> None:  # type: ignore[no-untyped-def]
    """At 921600 the H743 answers the handshake, Get and Get ID; a byte of the 256-byte pattern then
    arrives changed, the ROM's checksum refuses the write, and auto moves down a rate: the part is
    known by then, so straight to 460800 (one more reset)."""
    directory = wired_bench(tmp_path, monkeypatch, "nucleo-h743zi")
    with Bench.open(directory) as b:
        # the early 0x7F (lost), 0x7F, Get, Get ID, Write Memory, address, N: 14 host bytes; the 20th
        # is pattern[5]
        b.set("uart-corrupt-after", "20")
    before = resets(directory)
    r = run_cli("--json", "probe", *AUTO)
    assert r.code == 0, r.err
    obs = r.json["observations"]
    assert obs["baud"] == 460800
    assert "921600 failed: the bootloader refused the write at 0x" in obs["baud_choice"]
    assert resets(directory) - before == 2


def test_a_rate_failing_before_the_part_is_known_sends_the_search_to_115200(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli) -> None:  # type: ignore[no-untyped-def]
    """The Get at 921600 arrives damaged (NACK): nothing names the part yet, so 115200, the rate
    AN3155 says was tested, asks it; an H743 measures in hardware, so 460800 is worth its reset."""
    directory = wired_bench(tmp_path, monkeypatch, "nucleo-h743zi")
    with Bench.open(directory) as b:
        b.set("uart-corrupt-after", "3")  # the early 0x7F (lost), the 0x7F, then the Get command byte
    before = resets(directory)
    r = run_cli("--json", "probe", *AUTO)
    assert r.code == 0, r.err
    obs = r.json["observations"]
    assert obs["baud"] == 460800 and "921600 failed" in obs["baud_choice"]
    assert resets(directory) - before == 3  # 921600, 115200, 460800


class Port:
    """Enough of a pyserial port for a UartLink whose rate attempts are scripted."""

    baudrate = 115200
    timeout = 0.5


@pytest.mark.parametrize(("pid", "outcomes", "tried", "kept"), [
    # F401 (software, -6 %): 921600 garbles the handshake; 115200 names it; nothing faster is tried
    (0x433, {921600: None}, [921600, 115200], 115200),
    # F030 (software, -1 %): 230400 stays within 2.5 % (2 %), 460800 does not (4 %)
    (0x440, {921600: None}, [921600, 115200, 230400], 230400),
    # H743 (hardware): after 115200 each faster rate gets a try; all fail: back to 115200 (a reset)
    (0x450, {921600: None, 460800: None, 230400: None}, [921600, 115200, 460800, 230400, 115200], 115200),
    # even 115200 garbles: only slower rates are left
    (0x450, {921600: None, 115200: None}, [921600, 115200, 57600], 57600),
])
def test_search_order(pid: int, outcomes: dict[int, None], tried: list[int], kept: int) -> None:
    link = UartLink(Port(), "port", UartOptions(baud=AUTO_BAUD))
    seen: list[int] = []
    waits: list[bool] = []  # which tries may wait for a slow ROM start: the search's first only

    def attempt(rate: int, *, reset: bool, patient: bool = False) -> tuple[str | None, str]:
        assert reset
        seen.append(rate)
        waits.append(patient)
        link.port.baudrate = rate
        if rate in outcomes:
            return None, "garbled"
        link.bl.info = BootloaderInfo(0x31, (0x00, 0x02, 0x11), pid)
        return "synced", ""

    link._try_rate = attempt  # type: ignore[method-assign]
    assert link._auto_with_reset() == "synced"
    assert seen == tried and link.baud == kept
    assert waits == [True] + [False] * (len(tried) - 1)


def test_without_reset_wiring_auto_keeps_the_rate_the_rom_locked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  run_cli) -> None:  # type: ignore[no-untyped-def]
    wired_bench(tmp_path, monkeypatch, "nucleo-h743zi", wiring=None)
    # a first session at 57600 leaves the ROM synchronised at that rate (nothing resets it)
    assert run_cli("probe", "-c", "uart:sim:57600").code == 0
    r = run_cli("--json", "probe", "-c", "uart:sim:auto")
    assert r.code == 0, r.err
    obs = r.json["observations"]
    assert obs["baud"] == 57600 and obs["handshake"] == "already"
    assert "without reset wiring" in obs["baud_choice"] and "had locked that rate before" in obs["baud_choice"]


def test_without_reset_wiring_a_fresh_rom_is_locked_at_115200(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              run_cli) -> None:  # type: ignore[no-untyped-def]
    """The H743 would carry 921600, but without a reset line the first 0x7F decides for good:
    auto takes the rate AN3155 says was tested, and says why."""
    wired_bench(tmp_path, monkeypatch, "nucleo-h743zi", wiring=None)
    r = run_cli("--json", "probe", "-c", "uart:sim:auto")
    assert r.code == 0, r.err
    obs = r.json["observations"]
    assert obs["baud"] == 115200 and obs["handshake"] == "synced"
    assert "locked it now" in obs["baud_choice"] and "--wiring" in obs["baud_choice"]


def test_a_fixed_rate_the_rom_cannot_follow_fails_with_the_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                run_cli) -> None:  # type: ignore[no-untyped-def]
    """What auto avoids: the F401 measures a 921600-baud 0x7F 13 % slow and its ACK is garbage."""
    wired_bench(tmp_path, monkeypatch, "nucleo-f401re", wiring=None)
    r = run_cli("probe", "-c", "uart:sim:921600")
    assert r.code == 6
    assert "921600 baud" in r.err
