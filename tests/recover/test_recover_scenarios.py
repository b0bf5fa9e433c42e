"""Every field scenario on the virtual bench, as a user meets it: ``stflash probe`` says what is
wrong, ``stflash recover`` without --yes changes nothing and names the command that goes on, with
--yes it ends with a board a plain probe identifies, having erased or changed only what it said,
and ``stflash doctor --json`` names the cause. Firmware scenarios end when their firmware is erased
and come back when it is written again."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from stflash.sim.bench import Bench, scenario_firmware


def bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, board: str, *scenarios: str) -> Path:
    directory = tmp_path / "bench"
    Bench.create(directory, board, scenarios=scenarios)
    monkeypatch.setenv("STFLASH_SIM", str(directory))
    return directory


def state(directory: Path) -> tuple[str, dict[str, int]]:
    """A digest of every flash byte, and the option bytes."""
    with Bench.open(directory) as b:
        digest = hashlib.sha256(b"".join(bytes(bank.read(bank.base, bank.size)) for bank in b.chip.banks))
        return digest.hexdigest(), dict(b.chip.option_values())


def flash_blank(directory: Path) -> bool:
    with Bench.open(directory) as b:
        return all(bank.is_erased(bank.base, bank.size) for bank in b.chip.banks)


def target_cause(run_cli) -> str | None:  # type: ignore[no-untyped-def]
    r = run_cli("--json", "doctor")
    assert r.code == 0, r.err
    causes = [f.get("cause") for f in r.json["findings"] if f["check"] == "target" and f.get("cause")]
    return causes[-1] if causes else None


def recover_without_consent(directory: Path, run_cli, *args: str) -> str:  # type: ignore[no-untyped-def]
    """``recover`` without --yes: exit 17, nothing changed; returns the command it prints."""
    before = state(directory)
    r = run_cli("recover", *args)
    assert r.code == 17, r.err
    assert "not done without --yes" in r.err
    assert state(directory) == before
    hint = [line for line in r.err.splitlines() if "hint: to go ahead:" in line]
    assert hint, r.err
    command = hint[0].split("to go ahead: ")[1]
    assert command.startswith("stflash recover") and command.endswith("--yes")
    return command


def recover_with(run_cli, command: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    args = command.split()[1:]
    r = run_cli("--json", *args)
    assert r.code == 0, r.err
    report: dict[str, object] = r.json
    assert report["recovered"] is True
    return report


def plain_probe(run_cli) -> dict[str, object]:  # type: ignore[no-untyped-def]
    r = run_cli("--json", "probe", "-c", "stlink")
    assert r.code == 0, r.err
    data: dict[str, object] = r.json
    return data


# -- firmware that shuts debug out ---------------------------------------------------------------------
@pytest.mark.parametrize("board", ["nucleo-f401re", "nucleo-h743zi"])
def test_swd_disabled(board: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli) -> None:  # type: ignore[no-untyped-def]
    d = bench(tmp_path, monkeypatch, board, "swd-disabled")
    r = run_cli("--json", "probe")
    assert r.code == 6
    diagnosis = r.json["error"]["diagnosis"]
    assert diagnosis["cause"] == "firmware-blocks-debug"
    assert "--connect-under-reset" in diagnosis["causes"][0]["command"]
    assert {lv["level"] for lv in diagnosis["levels"]} >= {"probe", "target voltage", "debug port"}
    text = run_cli("probe")
    assert "likely causes" in text.err and "no answer" in text.err
    assert target_cause(run_cli) == "firmware-blocks-debug"

    command = recover_without_consent(d, run_cli)
    assert "--connect-under-reset" in command
    report = recover_with(run_cli, command)
    assert report["changed"] == [] and len(report["erased"]) == 1 and "whole flash" in str(report["erased"][0])
    assert flash_blank(d)
    assert str(plain_probe(run_cli)["chip"]).startswith("STM32" + board.split("-")[1][:4].upper())
    assert target_cause(run_cli) in ("ok", "flash-empty")

    # the same firmware written again brings the scenario back
    image = tmp_path / "fw.bin"
    with Bench.open(d) as b:
        image.write_bytes(scenario_firmware(b.chip.chip, "swd-disabled"))
    assert run_cli("write", str(image), "-c", "stlink").code == 0
    assert run_cli("probe", "-c", "stlink").code == 6


def test_recover_says_each_rung(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli) -> None:  # type: ignore[no-untyped-def]
    bench(tmp_path, monkeypatch, "nucleo-f401re", "swd-disabled")
    r = run_cli("recover", "--yes")
    assert r.code == 0, r.err
    said = r.err
    assert said.index("normal connect") < said.index("connect under reset") < said.index("mass erase")
    assert "a plain connect identifies STM32F401" in r.out


# -- read protection ------------------------------------------------------------------------------------
def test_rdp1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli) -> None:  # type: ignore[no-untyped-def]
    d = bench(tmp_path, monkeypatch, "stm32f4-discovery", "rdp1")
    r = run_cli("--json", "probe")
    assert r.code == 0 and r.json["rdp_level"] == 1
    assert r.json["diagnosis"]["cause"] == "read-protected"
    assert target_cause(run_cli) == "read-protected"

    command = recover_without_consent(d, run_cli)
    report = recover_with(run_cli, command)
    assert any("RDP level 1 -> 0" in c for c in report["changed"])  # type: ignore[union-attr]
    assert "1024 KiB" in str(report["erased"])
    assert plain_probe(run_cli)["rdp_level"] == 0
    assert state(d)[1]["RDP"] == 0xAA and flash_blank(d)


# -- the M7 of a dual-core H7 switched off -----------------------------------------------------------------
def test_m7_boot_disabled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli) -> None:  # type: ignore[no-untyped-def]
    d = bench(tmp_path, monkeypatch, "nucleo-h755zi-q", "m7-boot-disabled")
    r = run_cli("--json", "probe")
    assert r.code == 6
    assert r.json["error"]["diagnosis"]["cause"] == "core-gated"
    assert "--ap 3" in r.json["error"]["diagnosis"]["causes"][0]["command"]
    assert target_cause(run_cli) == "core-gated"

    flash_before = state(d)[0]
    command = recover_without_consent(d, run_cli)
    assert "--ap 3" in command
    r = run_cli("recover", *command.split()[2:-1])  # still without --yes: shows the bits, stops
    assert "BCM7=0" in r.err and "BCM7: 0 -> 1" in r.err and r.code == 17
    report = recover_with(run_cli, command)
    assert report["erased"] == [] and report["changed"] == ["BCM7: 0 -> 1  (M7 boots)"]
    digest, options = state(d)
    assert digest == flash_before and options["BCM7"] == 1 and options["BCM4"] == 1
    assert plain_probe(run_cli)["chip"] == "STM32H745xI"


def test_both_cores_off_is_never_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli) -> None:  # type: ignore[no-untyped-def]
    bench(tmp_path, monkeypatch, "nucleo-h755zi-q", "m7-boot-disabled")
    r = run_cli("ob", "set", "BCM4=0", "--ap", "3", "--yes")
    assert r.code == 12 and "BCM4" in r.err


# -- no supply -------------------------------------------------------------------------------------------
def test_no_target_power(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli) -> None:  # type: ignore[no-untyped-def]
    d = bench(tmp_path, monkeypatch, "nucleo-f401re", "no-target-power")
    r = run_cli("--json", "probe")
    assert r.code == 6 and r.json["error"]["diagnosis"]["cause"] == "not-powered"
    assert target_cause(run_cli) == "not-powered"
    before = state(d)
    r = run_cli("recover")
    assert r.code == 6 and "not powered" in r.err and "recover --wait" in r.err
    assert state(d) == before


def test_recover_waits_for_the_power(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from stflash.recover import RecoverOptions, recover
    from stflash.session import host_sleep

    d = bench(tmp_path, monkeypatch, "nucleo-f401re", "no-target-power")
    sleep, looks = host_sleep(), []

    def user_plugs_it_in(seconds: float) -> None:
        sleep(seconds)
        looks.append(seconds)
        if len(looks) == 3:
            with Bench.open(d) as b:
                b.set("scenario", "-no-target-power")

    report = recover(RecoverOptions(wait=30, sleep=user_plugs_it_in), consent=lambda _t: False)
    assert report.recovered and report.erased == [] and report.changed == []
    assert [s.rung for s in report.steps][:2] == ["target power", "target power"]


# -- a chip in its bootloader -----------------------------------------------------------------------------
def test_bootloader_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli) -> None:  # type: ignore[no-untyped-def]
    d = bench(tmp_path, monkeypatch, "nucleo-f401re", "bootloader-only")
    assert plain_probe(run_cli)["rdp_level"] == 0
    assert target_cause(run_cli) == "flash-empty"
    r = run_cli("--json", "recover", "-c", "stlink")
    assert r.code == 0 and r.json["erased"] == [] and r.json["changed"] == []
    # through the DFU bootloader: asks first, then erases
    command = recover_without_consent(d, run_cli, "--via", "dfu")
    assert "--via dfu" in command
    report = recover_with(run_cli, command)
    assert report["link"] == "dfu" and "512 KiB" in str(report["erased"])


def test_recover_through_dfu_waits_for_the_bootloader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      run_cli) -> None:  # type: ignore[no-untyped-def]
    d = bench(tmp_path, monkeypatch, "nucleo-f401re", "swd-disabled")
    r = run_cli("recover", "--via", "dfu", "--yes")
    assert r.code == 3 and "BOOT0" in r.err and "machine.bootloader()" in r.err
    with Bench.open(d) as b:  # the user sets the jumper and resets
        b.set("boot0", "1")
        b.press_reset()
    r = run_cli("--json", "recover", "--via", "dfu", "--yes")
    assert r.code == 0, r.err
    assert flash_blank(d)
    assert json.loads(r.out)["final"].startswith("the dfu bootloader identifies")


# -- a chip that sleeps with debug off ---------------------------------------------------------------------
@pytest.mark.parametrize("board", ["nucleo-f401re", "nucleo-h743zi"])
def test_low_power(board: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli) -> None:  # type: ignore[no-untyped-def]
    d = bench(tmp_path, monkeypatch, board, "low-power")
    r = run_cli("--json", "probe")
    assert r.code == 6
    diagnosis = r.json["error"]["diagnosis"]
    assert diagnosis["cause"] == "low-power" and "--connect-under-reset" in diagnosis["causes"][0]["command"]
    assert any(lv["level"] == "debug port" and "DPIDR" in lv["seen"] for lv in diagnosis["levels"])
    assert target_cause(run_cli) == "low-power"

    command = recover_without_consent(d, run_cli)
    assert "--connect-under-reset" in command
    report = recover_with(run_cli, command)
    assert report["changed"] == [] and "whole flash" in str(report["erased"])
    assert flash_blank(d) and plain_probe(run_cli)["rdp_level"] == 0


# -- an STM32H7 locked up by the wrong supply setting ------------------------------------------------------------
def test_h7_supply_lockup_diagnosis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli) -> None:  # type: ignore[no-untyped-def]
    d = bench(tmp_path, monkeypatch, "nucleo-h743zi", "h7-smps-lockup")
    r = run_cli("--json", "probe")
    assert r.code == 6 and "h7-supply-lockup" in [c["code"] for c in r.json["error"]["diagnosis"]["causes"]]
    r = run_cli("--json", "probe", "--connect-under-reset")  # the command that tells the causes apart
    assert r.code == 6 and r.json["error"]["diagnosis"]["cause"] == "h7-supply-lockup"
    assert target_cause(run_cli) == "h7-supply-lockup"
    before = state(d)
    r = run_cli("recover")
    assert r.code == 6 and "recover --wait" in r.err and "RESET" in r.err and "BOOT0" in r.err
    assert state(d) == before


def test_h7_supply_lockup_recovered_while_stflash_holds_reset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              run_cli) -> None:  # type: ignore[no-untyped-def]
    from stflash.recover import RecoverOptions, recover
    from stflash.session import host_sleep

    d = bench(tmp_path, monkeypatch, "nucleo-h743zi", "h7-smps-lockup")
    sleep, looks = host_sleep(), []

    def user_power_cycles(seconds: float) -> None:
        sleep(seconds)
        looks.append(seconds)
        with Bench.open(d) as b:
            if len(looks) == 4:
                b.set("power", "0")
            elif len(looks) == 6:
                b.set("power", "1")

    report = recover(RecoverOptions(wait=60, sleep=user_power_cycles), consent=lambda _t: True)
    assert report.recovered and report.cause == "h7-supply-lockup"
    assert "power cycle under reset" in [s.rung for s in report.steps]
    assert report.changed == [] and len(report.erased) == 1 and flash_blank(d)
    assert plain_probe(run_cli)["chip"] == "STM32H743xI"


def test_h7_supply_lockup_recovered_after_a_power_up_in_reset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               run_cli) -> None:  # type: ignore[no-untyped-def]
    d = bench(tmp_path, monkeypatch, "nucleo-h743zi", "h7-smps-lockup")
    with Bench.open(d) as b:  # ST's solution 1: reset held while the board is powered up
        b.set("power", "0")
        b.set("nrst", "0")
        b.set("power", "1")
    command = recover_without_consent(d, run_cli)
    report = recover_with(run_cli, command)
    assert len(report["erased"]) == 1 and flash_blank(d)
    assert plain_probe(run_cli)["chip"] == "STM32H743xI"
    with Bench.open(d) as b:
        assert not b.describe()["supply_lockup"]
