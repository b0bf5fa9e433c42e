"""Every documented exit code is reachable from the command line, with one clear line on stderr."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stflash import discovery, session
from stflash.chips.lookup import find_chip
from stflash.discovery import DeviceInfo
from stflash.errors import (
    ALL_ERRORS,
    DeviceBusyError,
    LinkError,
    OperationTimeoutError,
    PartialWriteError,
    ProtectedError,
    TargetNotRespondingError,
)
from stflash.image.model import Image
from stflash.session import Session
from stflash.target import TargetInfo

from fake_link import FakeLink

DOC = Path(__file__).resolve().parents[1] / "docs" / "exit-codes.md"
PROBE = DeviceInfo("stlink", "ST-LINK/V2-1", "0670FF48", 0x0483, 0x374B, location="1-2")


def documented() -> dict[str, int]:
    table = {}
    for line in DOC.read_text().splitlines():
        m = re.match(r"\|\s*(\d+)\s*\|([^|]*)\|", line)
        if m:
            for code in re.findall(r"`([a-z-]+)`", m.group(2)):
                table[code] = int(m.group(1))
    return table


def test_doc_lists_every_error_class_with_its_code() -> None:
    table = documented()
    for cls in ALL_ERRORS:
        assert table.get(cls.code) == cls.exit_code, cls.__name__
    codes = [cls.exit_code for cls in ALL_ERRORS]
    assert len(codes) == len(set(codes)), "exit codes must be distinct"


@pytest.fixture
def one_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(discovery, "list_usb_devices", lambda: [PROBE])


@pytest.fixture
def fake_f401(monkeypatch: pytest.MonkeyPatch, one_probe: None) -> dict[str, FakeLink]:
    """A session whose link is an in-memory F401 (for the bookkeeping of writes)."""
    holder: dict[str, FakeLink] = {"link": FakeLink(find_chip("stm32f401re"))}
    monkeypatch.setattr(session, "_open_link", lambda kind, dev, opts: holder["link"])
    return holder


def assert_one_line_error(run, code: int, *needles: str):  # type: ignore[no-untyped-def]
    assert run.code == code, (run.code, run.err)
    first = run.err.strip().splitlines()[0]
    assert first.startswith("stflash: error: ")
    assert "Traceback" not in run.err
    for n in needles:
        assert n.lower() in run.err.lower(), (n, run.err)


def test_usage(run_cli) -> None:  # type: ignore[no-untyped-def]
    assert_one_line_error(run_cli("write"), 2, "missing argument", "stflash write --help")
    assert_one_line_error(run_cli("-c", "jlink", "probe"), 2, "unknown link 'jlink'")
    assert_one_line_error(run_cli("read", "x.bin", "0x08000000", "lots"), 2, "not a number")


def test_no_device(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(discovery, "list_usb_devices", lambda: [])
    assert_one_line_error(run_cli("probe"), 3, "no ST-LINK probe or DFU bootloader found", "stflash doctor")


def test_multiple_devices_lists_them(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    other = DeviceInfo("dfu", "STM32 BOOTLOADER", "3654386E3131", 0x0483, 0xDF11)
    monkeypatch.setattr(discovery, "list_usb_devices", lambda: [PROBE, other])
    r = run_cli("probe")
    assert_one_line_error(r, 4, "-c stlink:0670FF48", "-c dfu:3654386E3131")
    # choosing one with -c gets past selection, to the ST-LINK link, which finds no such probe on the bus
    r = run_cli("probe", "-c", "stlink")
    assert_one_line_error(r, 3, "0670FF48", "no ST-LINK is attached")


def test_device_busy_names_the_fix(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    locked = DeviceInfo("stlink", "ST-LINK/V2-1", None, 0x0483, 0x374B, problem="permission denied")
    monkeypatch.setattr(discovery, "list_usb_devices", lambda: [locked])
    assert_one_line_error(run_cli("probe"), 5, "permission denied", "udev-rules --install")


@pytest.mark.parametrize(
    "error, code",
    [
        (TargetNotRespondingError("target did not answer"), 6),
        (ProtectedError("flash is read-protected (RDP level 1)"), 9),
        (OperationTimeoutError("erase did not finish"), 11),
        (DeviceBusyError("claimed by another process"), 5),
    ],
)
def test_link_errors_during_identify(run_cli, monkeypatch: pytest.MonkeyPatch, one_probe: None,  # type: ignore[no-untyped-def]
                                     error: Exception, code: int) -> None:
    class Failing(FakeLink):
        def identify(self):  # type: ignore[no-untyped-def]
            raise error

    monkeypatch.setattr(session, "_open_link", lambda kind, dev, opts: Failing(find_chip("stm32f401re")))
    assert_one_line_error(run_cli("probe"), code, str(error))


def test_image_invalid(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.hex"
    bad.write_text(":10000000FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF01\n")  # checksum must be 0x00
    assert_one_line_error(run_cli("info", str(bad)), 7, str(bad))


def test_image_does_not_fit(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app = tmp_path / "app.bin"
    app.write_bytes(b"\x01" * 4096)
    r = run_cli("write", str(app), "--address", "0x0807F800", "--dry-run", "--chip", "stm32f401re")
    assert_one_line_error(r, 8, "0x08080000", "outside")


def test_verify_mismatch(run_cli, fake_f401: dict[str, FakeLink], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fake_f401["link"].corrupt = True
    app = tmp_path / "app.bin"
    app.write_bytes(bytes(range(256)) * 16)
    assert_one_line_error(run_cli("write", str(app)), 10, "verify failed at 0x08000000")


def test_partial_write_names_written_ranges(run_cli, fake_f401: dict[str, FakeLink], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fake_f401["link"].fail_after_programs = 1
    app = tmp_path / "app.bin"
    app.write_bytes(b"\x5a" * (20 * 1024))  # sector 0 (16 KiB) and part of sector 1
    r = run_cli("--json", "write", str(app))
    assert_one_line_error(r, 16, "disconnected", "0x08000000-0x08003fff written")
    err = r.json["error"]  # type: ignore[index]
    assert err["code"] == "partial-write"
    assert err["written"] == [{"address": 0x08000000, "length": 16384}]


def test_refused_unsafe(run_cli) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("ob", "set", "RDP=0xCC", "--dry-run", "--chip", "stm32f401re")
    assert_one_line_error(r, 12, "RDP", "--allow-permanent")
    ok = run_cli("ob", "set", "RDP=0xCC", "--dry-run", "--chip", "stm32f401re", "--allow-permanent")
    assert ok.code == 0 and "0xaa -> 0xcc" in ok.out.lower()


def test_refused_both_h7_cores_off(run_cli) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("ob", "set", "BCM7=0", "BCM4=0", "--dry-run", "--chip", "stm32h755zi")
    assert_one_line_error(r, 12, "BCM")
    assert run_cli("ob", "set", "BCM7=0", "--dry-run", "--chip", "stm32h755zi").code == 0


def test_not_supported(run_cli, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from stflash.sim.bench import Bench

    Bench.create(tmp_path / "b", "nucleo-f401re", scenarios=("bootloader-only",))
    monkeypatch.setenv("STFLASH_SIM", str(tmp_path / "b"))
    assert_one_line_error(run_cli("reset", "--halt", "-c", "uart:sim"), 13, "cannot halt")


def test_link_error(run_cli, monkeypatch: pytest.MonkeyPatch, one_probe: None) -> None:  # type: ignore[no-untyped-def]
    class Gone(FakeLink):
        def identify(self):  # type: ignore[no-untyped-def]
            raise LinkError("the probe stopped answering (USB reset)")

    monkeypatch.setattr(session, "_open_link", lambda kind, dev, opts: Gone(find_chip("stm32f401re")))
    assert_one_line_error(run_cli("probe"), 14, "stopped answering")


def test_unknown_chip_suggests(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app = tmp_path / "app.bin"
    app.write_bytes(b"\0" * 16)
    r = run_cli("write", str(app), "--dry-run", "--chip", "stm32f40lre")
    assert_one_line_error(r, 15, "stm32f40lre")


def test_internal_error_is_one_line_without_traceback(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    def boom() -> list[DeviceInfo]:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(discovery, "list_usb_devices", boom)
    r = run_cli("list")
    assert_one_line_error(r, 1, "internal error", "kaboom")
    r = run_cli("-vv", "list")
    assert "Traceback" in r.err


def test_json_error_document(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(discovery, "list_usb_devices", lambda: [])
    r = run_cli("--json", "probe")
    assert r.code == 3
    err = r.json["error"]  # type: ignore[index]
    assert set(err) == {"code", "message", "hint"}
    assert err["code"] == "no-device" and err["message"] == "no ST-LINK probe or DFU bootloader found"
    assert "stflash doctor" in err["hint"]


def test_a_command_that_exits_with_a_code_keeps_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """``ctx.exit(n)`` (how ``sim run`` hands back its program's status) reaches the shell."""
    import click

    from stflash.cli import main as cli_main

    @click.command("exit-with")
    @click.pass_context
    def exit_with(ctx: click.Context) -> None:
        ctx.exit(7)

    monkeypatch.setitem(cli_main.cli.commands, "exit-with", exit_with)  # type: ignore[attr-defined]
    assert cli_main.main(["exit-with"]) == 7



# -- the write bookkeeping behind exit 16, through the library -------------------------------------------
IMAGE_20K = Image.from_bytes(b"\x5a" * (20 * 1024), 0x0800_0000)  # sector 0 (16 KiB) and 4 KiB of sector 1


class Streaming(FakeLink):
    """A link that streams every range in one call, as the ST-LINK's loader does."""

    fail = False
    reports = True

    def program_segments(self, segments, progress=None):  # type: ignore[no-untyped-def]
        done = 0
        for address, data in segments:
            if self.fail and done:
                exc = LinkError("USB device disconnected")
                exc.written = [(segments[0][0], done), (address, 256)]  # type: ignore[attr-defined]
                raise exc
            self.program(address, data)
            done += len(data)
            if progress is not None and self.reports:
                progress(done, sum(len(d) for _, d in segments))


def session_on(link: FakeLink) -> Session:
    return Session(link, TargetInfo("fake", link.chip))


def test_partial_write_through_a_streaming_link_keeps_what_it_reports() -> None:
    link = Streaming(find_chip("stm32f401re"))
    link.fail = True
    with pytest.raises(PartialWriteError) as info:
        session_on(link).write(IMAGE_20K)
    assert info.value.written == [(0x0800_0000, 16384), (0x0800_4000, 256)]
    assert "0x08004100-0x08004fff erased or old" in info.value.message


@pytest.mark.parametrize("kind, reports", [("one call per range", True), ("streaming", True),
                                           ("streaming", False)])
def test_write_progress_ends_once_at_the_total(kind: str, reports: bool) -> None:
    chip = find_chip("stm32f401re")
    link = FakeLink(chip) if kind == "one call per range" else Streaming(chip)
    link.reports = reports  # type: ignore[attr-defined]
    seen: list[tuple[str, int, int]] = []
    session_on(link).write(IMAGE_20K, progress=lambda *p: seen.append(p))
    writes = [p for p in seen if p[0] == "write"]
    assert writes[-1] == ("write", 20480, 20480) and writes.count(writes[-1]) == 1
    assert writes == ([("write", 16384, 20480)] if reports else []) + [("write", 20480, 20480)]
