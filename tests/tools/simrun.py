"""Helpers of the classic-tool tests: ``stflash sim run`` with the real programs, benches, images.

A plain module with its own name (the per-directory conftest modules share one).
"""

from __future__ import annotations

import random
import struct
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from stflash.sim.bench import Bench
from stflash.sim.umockdev.run import interpreters
from stflash.sim.usb.device import SimUsbDevice
from stflash.sim.usb_host import BenchUsbHost

FLASH = 0x0800_0000
RUN_TIMEOUT_S = 120
CORPUS_PARTS = {"dcfurs-badge.dfu": "nucleo-f411re", "mpy-f407-blavery.dfu": "stm32f407vg"}


def gi_interpreter() -> str | None:
    """An interpreter with umockdev's Python bindings, among those ``sim run`` tries."""
    for python in interpreters():
        probe = subprocess.run(
            [python, "-c", "import gi; gi.require_version('UMockdev', '1.0'); from gi.repository import UMockdev"],
            capture_output=True,
        )
        if probe.returncode == 0:
            return python
    return None


@dataclass
class Ran:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def start(directory: Path, *command: str) -> subprocess.Popen[str]:
    """``stflash sim run DIRECTORY -- COMMAND`` started in the background."""
    return subprocess.Popen(
        [sys.executable, "-m", "stflash", "sim", "run", str(directory), "--", *command],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def finish(proc: subprocess.Popen[str]) -> Ran:
    out, err = proc.communicate(timeout=RUN_TIMEOUT_S)
    return Ran(proc.returncode, out, err)


def run(directory: Path, *command: str) -> Ran:
    return finish(start(directory, *command))


def run_all(jobs: Sequence[tuple[Path, Sequence[str]]]) -> list[Ran]:
    """Several ``sim run`` at once (each on its own bench): the programs mostly wait in
    wall-clock time, as they would on hardware, so running them side by side saves the wait."""
    procs = [start(directory, *command) for directory, command in jobs]
    return [finish(p) for p in procs]


def app_image(size: int, seed: int) -> bytes:
    """Random bytes behind a vector table (stack in SRAM, reset handler in flash), so a ROM that
    checks for an application before jumping to it accepts the image."""
    return struct.pack("<II", 0x2000_2000, FLASH + 0x201) + random.Random(seed).randbytes(size - 8)


@contextmanager
def usb_bus(directory: Path) -> Iterator[list[SimUsbDevice]]:
    """The device models on the bench's USB bus, the ones the pyusb backend and ``sim run`` serve
    (the bench stays loaded while the block runs)."""
    host = BenchUsbHost(directory)
    host.begin()
    try:
        yield host.present()
    finally:
        host.end()


def flash_of(directory: Path, address: int, length: int) -> bytes:
    """What the bench's flash holds, straight from the chip model."""
    with Bench.open(directory) as bench:
        return bench.chip.rom_read(address, length)


@dataclass
class LongRuns:
    """Runs that mostly wait in wall-clock time, as on hardware (dfu-util sleeps the ROM's poll
    timeout after every block, and five seconds after a detach): started together as soon as the
    session knows it will check them, so they overlap the other tests; each check finishes them.

    * one ``dfu-util -a 0 -D FILE`` per corpus file, each on a bench with a chip it fits;
    * ``dfu-util -U`` on a board whose application has a DFU runtime interface (detach, reopen).
    """

    corpus: list[tuple[Path, Path]]  # (bench, .dfu file)
    detach: tuple[Path, Path]  # (bench, uploaded file)
    procs: list[subprocess.Popen[str]]
    done: list[Ran] | None = None

    @classmethod
    def start(cls, root: Path, corpus_files: Sequence[Path]) -> LongRuns:
        corpus: list[tuple[Path, Path]] = []
        procs: list[subprocess.Popen[str]] = []
        for n, path in enumerate(corpus_files):
            directory = root / f"corpus{n}"
            Bench.create(directory, CORPUS_PARTS.get(path.name, "stm32f407vg"), scenarios=("bootloader-only",))
            corpus.append((directory, path))
            procs.append(start(directory, "dfu-util", "-a", "0", "-D", str(path)))
        runtime, upload = root / "runtime", root / "runtime-up.bin"
        Bench.create(runtime, "nucleo-f401re", scenarios=("dfu-runtime",))
        procs.append(start(runtime, "dfu-util", "-a", "0", "-s", "0x08000000:1024", "-U", str(upload)))
        return cls(corpus, (runtime, upload), procs)

    def results(self) -> list[Ran]:
        """Every run's outcome, corpus files first, then the detach (waits for them once)."""
        if self.done is None:
            self.done = [finish(p) for p in self.procs]
        return self.done

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()  # sim run passes it on to the program, and saves the bench
                proc.communicate(timeout=RUN_TIMEOUT_S)
