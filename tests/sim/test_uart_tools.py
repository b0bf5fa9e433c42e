"""Programs we did not write, talking to the bench's UART bootloader over ``stflash sim serve``:
stm32flash (Debian package) and stm32loader (PyPI), on one part of each family with a UART ROM.

stm32flash runs with ``-m 8n1``: a pseudo-terminal carries no parity. stm32loader's command line
cannot be used on a pty (it toggles RTS/DTR, which a pty refuses with ENOTTY), so its Python API
drives a pyserial port opened on the pty; that is its documented use with a plain serial.Serial.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import serial

from stflash.sim.bench import TRACE_FILE, Bench

from tooling import require_tool

FLASH = 0x0800_0000
PARTS = [  # part, stm32loader family, PID
    ("stm32f103rb", "F1", 0x410),
    ("stm32f401re", "F4", 0x433),
    ("stm32f767zi", "F7", 0x451),
    ("stm32g071rb", "G0", 0x460),
    ("stm32l476rg", "L4", 0x415),
    ("stm32h743zi", "H7", 0x450),
]


@contextmanager
def serving(directory: Path, *extra: str, stop: signal.Signals = signal.SIGTERM) -> Iterator[str]:
    """``stflash sim serve DIR --uart`` in a subprocess; yields the pty named on its first line and
    checks that it exits with status 0 when signalled."""
    proc = subprocess.Popen([sys.executable, "-m", "stflash", "sim", "serve", str(directory), "--uart", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        path = proc.stdout.readline().strip()
        assert path.startswith("/dev/"), (path, proc.stderr.read() if proc.stderr else "")
        yield path
    finally:
        proc.send_signal(stop)
        code = proc.wait(timeout=20)
    assert code == 0, proc.stderr.read() if proc.stderr else ""


def stm32flash(*args: str) -> subprocess.CompletedProcess[str]:
    tool = require_tool("stm32flash")
    return subprocess.run([tool, "-m", "8n1", "-b", "115200", *args], capture_output=True, text=True,
                          timeout=120)


def new_bench(tmp_path: Path, part: str) -> Path:
    directory = tmp_path / "bench"
    Bench.create(directory, part, scenarios=("bootloader-only",))
    return directory


def bench_clock(directory: Path) -> int:
    with Bench.open(directory) as bench:  # waits for the lock: the server lets go when idle
        return bench.clock.now


def last_sync(directory: Path) -> int:
    """When the last 0x7F a client sent began (the bench's trace; saved once the server let go)."""
    records = [json.loads(line) for line in (directory / TRACE_FILE).read_text().splitlines()]
    return [r["start_ns"] for r in records if r["dir"] == "out" and r.get("what") == "0x7F"][-1]


@pytest.mark.parametrize(("part", "family", "pid"), PARTS, ids=[p[0] for p in PARTS])
def test_stm32flash_and_stm32loader_write_and_read_back(tmp_path: Path, part: str, family: str, pid: int) -> None:
    from stm32loader.bootloader import Stm32Bootloader

    require_tool("stm32flash")
    directory = new_bench(tmp_path, part)
    image = random.Random(pid).randbytes(64 * 1024)
    (tmp_path / "rand64k.bin").write_bytes(image)
    with serving(directory) as pty:
        ident = stm32flash(pty)
        assert ident.returncode == 0, ident.stdout + ident.stderr
        assert f"Device ID    : 0x{pid:04x}" in ident.stdout

        wrote = stm32flash("-w", str(tmp_path / "rand64k.bin"), "-v", pty)
        assert wrote.returncode == 0, wrote.stdout[-500:] + wrote.stderr
        read = stm32flash("-S", f"{FLASH:#x}:{len(image)}", "-r", str(tmp_path / "back.bin"), pty)
        assert read.returncode == 0, read.stdout[-500:] + read.stderr
        assert (tmp_path / "back.bin").read_bytes() == image
        with Bench.open(directory) as bench:  # while the server idles
            assert bench.chip.rom_read(FLASH, len(image)) == image
            bench.press_reset()  # a fresh, unsynchronised ROM run for the next client
        # no host_wait: the server moves the clock by the wall time its line was idle (at least its
        # IDLE_S, 75 ms, before it let go of the bench), longer than these ROMs' start-up times

        other = random.Random(-pid).randbytes(64 * 1024)
        with serial.Serial(pty, 115200, timeout=5) as port:
            loader = Stm32Bootloader(port, device_family=family, verbosity=0)
            loader.reset_from_system_memory()  # the 0x7F
            assert loader.get_id() == pid
            loader.get()
            loader.erase_memory(None)
            loader.write_memory_data(FLASH, other)
            assert loader.read_memory_data(FLASH, len(other)) == other
    with Bench.open(directory) as bench:
        assert bench.chip.rom_read(FLASH, len(other)) == other


def test_f401_write_takes_its_wire_and_flash_time(tmp_path: Path) -> None:
    """stm32flash -w 64 KiB -v at 115200 on the F401: 256 Write Memory (268 characters, 3
    turnarounds each) and 256 Read Memory of the same size, 64 KiB programmed a byte at a time
    (16 us each), four 16 KB sectors erased at x8 (0.4 s each). Counted from the 0x7F the ROM
    answers: the first finds it synchronised by the run before, and stm32flash waits its read
    timeout on the wall clock, which the server counts as idle time."""
    directory = new_bench(tmp_path, "stm32f401re")
    (tmp_path / "rand64k.bin").write_bytes(random.Random(1).randbytes(64 * 1024))
    with serving(directory) as pty:
        assert stm32flash(pty).returncode == 0
        assert stm32flash("-w", str(tmp_path / "rand64k.bin"), "-v", pty).returncode == 0
        spent = bench_clock(directory) - last_sync(directory)
    char, turn = 95_486, 1_000_000
    with Bench.open(directory) as bench:  # the rate the ROM measured (uart.md 1.2): a little off 115200
        rom_char = round(11e9 / bench.board.link_state["uart"]["baud"])
    # each frame's last host character is read, and every ROM character sent, at the ROM's rate
    slower = (256 * (3 + 3) + 256 * (3 + 3 + 256)) * (rom_char - char)
    floor = 2 * 256 * (268 * char + 3 * turn) + slower + 64 * 1024 * 16_000 + 4 * 400_000_000
    assert floor < spent < floor + 100_000_000, spent  # plus the connection and the erase command


def test_sim_set_from_another_process_while_serving(tmp_path: Path) -> None:
    directory = new_bench(tmp_path, "stm32f401re")
    with serving(directory) as pty:
        assert stm32flash(pty).returncode == 0
        out = subprocess.run([sys.executable, "-m", "stflash", "--json", "sim", "set", str(directory), "boot0=0",
                              "nrst=0", "nrst=1"], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert '"running": "flash"' in out.stdout
        gone = stm32flash(pty)  # the chip now runs its (empty) flash: nobody answers 0x7F
        assert gone.returncode != 0 and "Failed to init device" in gone.stderr + gone.stdout


@pytest.mark.parametrize("traffic_first", [False, True], ids=["fresh-server", "after-a-burst"])
def test_a_client_started_a_while_after_a_reset_finds_the_rom_listening(tmp_path: Path,
                                                                       traffic_first: bool) -> None:
    """``sim set DIR nrst=0 nrst=1``, then a client 0.2 s later (wall time): the F401's ROM has
    been up for 125 ms by then (74.5 ms start-up) and answers its first 0x7F, as on a board. The
    server moves the virtual clock by the wall time its line was idle."""
    directory = new_bench(tmp_path, "stm32f401re")
    with serving(directory) as pty, serial.Serial(pty, 115200, timeout=2) as port:
        if traffic_first:
            port.write(b"\x7f")
            assert port.read(1) == b"\x79"
        with Bench.open(directory) as bench:  # waits until the server has let go of the bench
            bench.set("nrst", "0")
            bench.set("nrst", "1")
            reset_ns = bench.chip.reset_ns
        time.sleep(0.2)
        port.write(b"\x7f")
        assert port.read(1) == b"\x79"
    with Bench.open(directory) as bench:
        assert bench.chip.reset_ns == reset_ns  # no other reset came in between
        assert bench.clock.now - reset_ns > 200_000_000


def test_ram_written_in_one_run_is_there_in_the_next(tmp_path: Path) -> None:
    """The RAM is not in the bench files; the server keeps it between bursts while nobody else
    touched the chip."""
    directory = new_bench(tmp_path, "stm32f401re")
    data = random.Random(7).randbytes(512)
    (tmp_path / "ram.bin").write_bytes(data)
    with serving(directory) as pty:
        assert stm32flash("-S", "0x20004000", "-w", str(tmp_path / "ram.bin"), pty).returncode == 0
        bench_clock(directory)  # the server has let go of the bench in between
        assert stm32flash("-S", "0x20004000:512", "-r", str(tmp_path / "ram-back.bin"), pty).returncode == 0
    assert (tmp_path / "ram-back.bin").read_bytes() == data


def test_stm32flash_reset_stub_in_ram_resets_the_chip(tmp_path: Path) -> None:
    """``-R`` loads a reset routine into RAM and jumps to it (uart.md 8.8): the chip resets, with
    BOOT0 low it runs the application."""
    directory = new_bench(tmp_path, "stm32f401re")
    with serving(directory, stop=signal.SIGINT) as pty:
        with Bench.open(directory) as bench:
            bench.set("boot0", "0")  # the ROM runs until the next reset
        assert stm32flash("-R", pty).returncode == 0
        with Bench.open(directory) as bench:
            assert bench.chip.boot_source == "flash"


def test_stm32flash_and_the_h72x(tmp_path: Path) -> None:
    """stm32flash cannot flash an H72x/H73x (PID 0x483): 0.7 has no entry for it, and the entry
    added in Dec 2022 gives fl_start = 0x80000000 (a typo for 0x08000000, uart.md 8.3), so a
    binary lands at 0x80000000, which the ROM NACKs."""
    directory = new_bench(tmp_path, "stm32h723zg")
    (tmp_path / "img.bin").write_bytes(bytes(256))
    with serving(directory) as pty:
        ident = stm32flash(pty)
        if "Unknown/unsupported device (Device ID: 0x483)" in ident.stdout + ident.stderr:
            assert ident.returncode != 0
            return
        assert ident.returncode == 0 and "0x0483" in ident.stdout
        wrote = stm32flash("-w", str(tmp_path / "img.bin"), pty)
        if "80000000" in wrote.stdout + wrote.stderr:
            assert wrote.returncode != 0
        else:  # a table with the typo fixed
            assert wrote.returncode == 0


def test_realtime_serving_keeps_pace(tmp_path: Path) -> None:
    """With --realtime the answer to an erase of one 16 KB F401 sector (0.4 s at x8) comes no
    sooner than that on the wall clock."""
    directory = new_bench(tmp_path, "stm32f401re")
    with serving(directory, "--realtime") as pty:
        start = time.monotonic()
        erased = stm32flash("-o", "-S", "0x08000000:16384", pty)
        wall = time.monotonic() - start
    assert erased.returncode == 0, erased.stdout + erased.stderr
    assert wall >= 0.4


def test_stm32loader_drives_boot0_and_reset_through_the_url_handler(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """stm32loader's own RTS/DTR sequence (BOOT0 up, reset pulse; at the end BOOT0 down, reset
    pulse) on its default wiring, through ``stflashsim://``: the chip enters and leaves its ROM."""
    from stm32loader import bootloader as stl
    from stm32loader.uart import SerialConnection

    monkeypatch.setattr(stl.time, "sleep", lambda _s: None)  # its reset pulse waits on the wall clock
    directory = tmp_path / "bench"
    Bench.create(directory, "stm32f401re", uart_wiring="dtr=!nrst,rts=!boot0")  # flash empty, BOOT0 low
    data = random.Random(3).randbytes(4096)
    conn = SerialConnection(f"stflashsim://{directory}", 115200, "E")
    conn.serial_connection = serial.serial_for_url(f"stflashsim://{directory}", baudrate=115200, parity="E",
                                                   timeout=5)
    loader = stl.Stm32Bootloader(conn, device_family="F4", verbosity=0)
    loader.reset_from_system_memory()
    assert loader.get_id() == 0x433
    loader.get()
    loader.write_memory_data(FLASH, data)
    loader.reset_from_flash()
    conn.disconnect()
    with Bench.open(directory) as bench:
        assert bench.chip.boot_source == "flash"
        # closing the port dropped both lines (HUPCL): BOOT0's pin is high again, NRST stays
        # released, so the application keeps running until the next reset
        assert bench.board.boot0 and not bench.board.nrst_held
        assert bench.chip.rom_read(FLASH, len(data)) == data


@pytest.mark.parametrize("part", ["stm32f103rb", "stm32l476rg"])
def test_across_tools_stm32flash_and_stflash_read_what_the_other_wrote(tmp_path: Path, part: str) -> None:
    require_tool("stm32flash")
    directory = new_bench(tmp_path, part)
    theirs, ours = random.Random(1).randbytes(24 * 1024), random.Random(2).randbytes(24 * 1024)
    (tmp_path / "theirs.bin").write_bytes(theirs)
    (tmp_path / "ours.bin").write_bytes(ours)
    env = {"STFLASH_SIM": str(directory)}

    def stflash(*args: str) -> subprocess.CompletedProcess[str]:
        import os

        return subprocess.run([sys.executable, "-m", "stflash", *args], capture_output=True, text=True,
                              timeout=120, env=os.environ | env)

    with serving(directory) as pty:
        wrote = stm32flash("-w", str(tmp_path / "theirs.bin"), pty)
        assert wrote.returncode == 0, wrote.stdout[-500:] + wrote.stderr
        # stm32flash leaves the ROM synchronised: stflash's 0x7F is half a command, as on a board
        got = stflash("read", str(tmp_path / "got.bin"), "0x08000000", str(len(theirs)), "-c", "uart:sim")
        assert got.returncode == 0, got.stderr
        assert (tmp_path / "got.bin").read_bytes() == theirs

        put = stflash("write", str(tmp_path / "ours.bin"), "-c", "uart:sim", "--no-reset")
        assert put.returncode == 0, put.stderr
        back = stm32flash("-S", f"{FLASH:#x}:{len(ours)}", "-r", str(tmp_path / "back.bin"), pty)
        assert back.returncode == 0, back.stdout[-500:] + back.stderr
        assert (tmp_path / "back.bin").read_bytes() == ours
