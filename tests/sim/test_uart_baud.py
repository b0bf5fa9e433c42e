"""The ROM's measurement of 0x7F (AN2606 Table 6) and what a host at a deviating rate gets."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import serial

from stflash.sim.bench import Bench
from stflash.sim.uart import bootloader
from stflash.sim.uart.baud import JITTER_SPAN, detection, measured_rate

from tooling import REPO, require_tool

RATES = (57600, 115200, 230400, 460800, 921600)


def rates_over_resets(directory: Path, resets: int = 40) -> dict[int, list[float]]:
    """Relative error of the measured rate, per host rate, over the first ``resets`` runs of the ROM."""
    out: dict[int, list[float]] = {rate: [] for rate in RATES}
    with Bench.open(directory) as b:
        for count in range(resets):
            b.chip.reset_count = count
            for rate in RATES:
                out[rate].append(measured_rate(b, rate) / rate - 1)
    return out


def test_software_detection_errs_slow_and_more_so_at_higher_rates(tmp_path: Path) -> None:
    Bench.create(tmp_path / "f4", "stm32f401re")
    errors = rates_over_resets(tmp_path / "f4")
    f4 = detection("F4")
    worst = -f4.jitter_115200 * JITTER_SPAN  # Table 6's 6 %, the bench's share of it
    for rate, seen in errors.items():
        bound = worst * rate / 115200
        brr = 0.5 * rate / f4.clock_hz * 1.01  # then rounded to a whole BRR
        assert all(-bound - brr <= e <= brr for e in seen), rate  # never faster, never past the bound
    assert max(-e for e in errors[115200]) < 0.045  # 115200 always within what 8E1 sampling tolerates
    assert min(errors[921600]) < -0.045  # 921600 often beyond it
    assert len({round(e, 4) for e in errors[115200]}) > 10  # each reset re-rolls the measurement


def test_hardware_detection_is_off_by_at_most_one_kernel_clock(tmp_path: Path) -> None:
    Bench.create(tmp_path / "h7", "stm32h743zi")
    clock = detection("H7").clock_hz
    for rate, seen in rates_over_resets(tmp_path / "h7").items():
        assert all(abs(e) <= rate / clock * 1.01 for e in seen), rate  # 921600 at 64 MHz: 1.4 % at most


def test_the_measurement_follows_the_seed(tmp_path: Path) -> None:
    def first_rates(name: str, seed: int) -> list[int]:
        Bench.create(tmp_path / name, "stm32f103rb", seed=seed)
        with Bench.open(tmp_path / name) as b:
            return [measured_rate(b, rate) for rate in RATES]

    same = first_rates("a", 0)
    assert same == first_rates("b", 0)  # a bench replays its runs
    assert same != first_rates("c", 7)


@pytest.mark.parametrize(("error", "works"), [(-0.04, True), (0.04, True), (-0.06, False), (0.06, False)])
def test_a_deviation_beyond_the_framing_tolerance_garbles(error: float, works: bool, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The ROM runs at what it measured; the host stays at its rate: within about 4.5 % every bit is
    sampled inside its own bit time (8E1, 11 bits), beyond it back-to-back characters break."""
    monkeypatch.setattr(bootloader, "measured_rate", lambda bench, baud: round(baud * (1 + error)))
    Bench.create(tmp_path / "b", "stm32f401re", scenarios=("bootloader-only",))
    port = serial.serial_for_url(f"stflashsim://{tmp_path / 'b'}", baudrate=115200, parity="E", timeout=0.5)
    try:
        port.write(b"\x7f")
        ack = port.read(1)
        port.write(b"\x02\xfd")  # Get ID
        answer = port.read(5)
    finally:
        port.close()
    assert (ack == b"\x79" and answer == bytes.fromhex("7901043379")) is works


def test_stm32flash_at_115200_and_at_921600_on_the_bench(tmp_path: Path) -> None:
    """bench/uart_write.py's peer run: 115200 works on every part; 921600 on the H743 (hardware
    detection), not on the F401, whose ROM measures that rate 10+ % slow on this bench."""
    require_tool("stm32flash")
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import uart_write
    finally:
        sys.path.remove(str(REPO / "bench"))
    data = bytes(range(256)) * 32  # 8 KiB
    assert uart_write.run_stm32flash("nucleo-f401re", data, tmp_path / "a", 115200) > 0
    assert uart_write.run_stm32flash("nucleo-h743zi", data, tmp_path / "b", 921600) > 0
    with pytest.raises(RuntimeError, match="Failed to init"):
        uart_write.run_stm32flash("nucleo-f401re", data, tmp_path / "c", 921600)
