"""The erase strategy: a mass or bank erase replaces the sector erases only where the chip's
timing model makes it quicker, and only when everything it wipes beyond the image is blank."""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from stflash.chips.erase_times import erase_times
from stflash.chips.lookup import find_chip
from stflash.chips.model import Chip
from stflash.flash.plan import EraseCaps, plan_write
from stflash.image.model import Image, Segment
from stflash.session import Session
from stflash.sim.bench import Bench

from fake_link import FakeLink

F401 = find_chip("STM32F401RE")
F407 = find_chip("STM32F407VG")
F429 = find_chip("STM32F429ZI")
H743 = find_chip("STM32H743ZI")
F103 = find_chip("STM32F103C8")
F030 = find_chip("STM32F030F4")  # 16 pages of 1 K: small enough for the bench to be quick


def _data(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def _image(chip: Chip, size: int | None = None, seed: int = 1) -> Image:
    return Image([Segment(chip.flash_base, _data(chip.flash_size if size is None else size, seed), "")])


def _sector_seconds(chip: Chip) -> float:
    times = erase_times(chip)
    return sum(times.sector_s(s.size) for s in chip.sectors())


# -- the decision ---------------------------------------------------------------------------------
@pytest.mark.parametrize("chip", [F401, F407, H743, F103], ids=lambda c: c.name)
def test_full_flash_takes_the_mass_erase_only_when_the_model_says_it_is_quicker(chip: Chip) -> None:
    plan = plan_write(_image(chip), chip)
    mass_s, sectors_s = erase_times(chip).mass_s(), _sector_seconds(chip)
    assert mass_s is not None
    assert [(e.whole_s, e.sectors, round(e.sectors_s, 6)) for e in plan.estimates][0] == (
        mass_s, len(chip.sectors()), round(sectors_s, 6))
    assert plan.mass_erase == (mass_s < sectors_s)
    assert plan.erase == ([] if plan.mass_erase else chip.sectors())


def test_f401_full_flash_keeps_sector_erases_h743_takes_the_mass_erase() -> None:
    f401 = plan_write(_image(F401), F401)
    assert f401.strategy == "sectors"
    assert "mass erase: 8.0 s vs 8 sector erases: 4.5 s -> sector erases" in f401.render()
    h743 = plan_write(_image(H743), H743)
    assert h743.strategy == "mass" and h743.erase == []
    assert "mass erase: 8.0 s vs 16 sector erases: 16.0 s -> mass erase" in h743.render()
    assert h743.as_dict()["erase_strategy"] == "mass"


def test_one_bank_of_an_h743_is_a_tie_and_keeps_its_sector_erases() -> None:
    bank2_blank = {s.index: True for s in H743.sectors() if s.bank == 1}
    plan = plan_write(_image(H743, 1024 * 1024), H743, blank=bank2_blank, caps=EraseCaps(mass=True, bank=True))
    assert plan.strategy == "sectors"  # 8 s bank erase against 8 x 1 s sectors: nothing to gain
    assert [e.chosen for e in plan.estimates] == [False, False]


def test_a_sector_beyond_the_image_that_is_not_blank_stops_the_mass_erase() -> None:
    last = H743.sectors()[-1]
    image = _image(H743, last.address - H743.flash_base)  # every sector but the last
    unknown = plan_write(image, H743)
    assert unknown.strategy == "sectors" and unknown.blank_checks == [last]
    assert "not known to be blank" in unknown.render()
    dirty = plan_write(image, H743, blank={last.index: False})
    assert dirty.strategy == "sectors" and dirty.blank_checks == []
    assert f"sector 7 at {last.address:#010x} is not blank" in dirty.render()
    assert dirty.erase == H743.sectors()[:-1]
    clean = plan_write(image, H743, blank={last.index: True})
    assert clean.strategy == "mass" and clean.lost_bytes == 0
    assert "mass erase: 8.0 s vs 15 sector erases: 15.0 s -> mass erase" in clean.render()


def test_a_sector_already_holding_image_bytes_is_not_wiped_for_a_mass_erase() -> None:
    image = _image(F407)
    first = F407.sectors()[0]
    plan = plan_write(image, F407, current_crc={first.index: zlib.crc32(image.read(first.address, first.size))})
    assert plan.skipped == [first]
    assert plan.strategy == "sectors"
    assert "already holds its part of the image" in plan.render()


def test_no_mass_erase_where_the_link_has_none_and_no_bank_erase_without_erase_bank() -> None:
    plan = plan_write(_image(H743), H743, caps=EraseCaps(mass=False))  # the H743 DFU ROM (AN2606)
    assert plan.strategy == "sectors"
    assert "this link erases the whole flash sector by sector" in plan.render()
    bank1 = _image(F429, 1024 * 1024)
    bank2_blank = {s.index: True for s in F429.sectors() if s.bank == 1}
    assert plan_write(bank1, F429, blank=bank2_blank).strategy == "mass"
    assert plan_write(bank1, F429, caps=EraseCaps(mass=False)).strategy == "sectors"
    banks = plan_write(bank1, F429, caps=EraseCaps(mass=False, bank=True))
    assert banks.strategy == "banks" and banks.erase_banks == (0,) and banks.erase == []


def test_sectors_mode_never_takes_a_mass_erase() -> None:
    plan = plan_write(_image(H743), H743, erase="sectors")
    assert plan.strategy == "sectors" and plan.estimates == [] and plan.erase == H743.sectors()


def test_dry_run_shows_the_choice(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "full.bin"
    path.write_bytes(_data(H743.flash_size))
    r = run_cli("write", str(path), "--dry-run", "--chip", "stm32h743zi")
    assert r.code == 0, r.err
    assert "erase: mass erase (the flash beyond the image is blank)" in r.out
    assert "estimate: mass erase: 8.0 s vs 16 sector erases: 16.0 s -> mass erase" in r.out
    r = run_cli("--json", "write", str(path), "--dry-run", "--chip", "stm32h743zi")
    plan = r.json["plan"]
    assert plan["erase_strategy"] == "mass" and plan["erase_sectors"] == []
    assert plan["erase_estimates"][0]["whole_s"] == 8.0 and plan["erase_estimates"][0]["chosen"]


# -- the session probes and executes ------------------------------------------------------------------
class BankLink(FakeLink):
    """A link that erases one bank at once."""

    def __init__(self, chip: Chip, **kwargs: bool) -> None:
        super().__init__(chip, **kwargs)
        self.banks: list[int] = []
        self.masses = 0

    def erase_bank(self, bank: int) -> None:
        self.banks.append(bank)
        b = self.chip.banks[bank]
        o = self._off(b.base)
        self.flash[o : o + b.size] = bytes([self.chip.erased_value]) * b.size

    def mass_erase(self, *, skip_blank: bool = False) -> None:
        self.masses += 1
        super().mass_erase()


def _session(link: FakeLink) -> Session:
    return Session(link, link.identify())  # type: ignore[arg-type]


def test_session_checks_the_sectors_beyond_the_image_and_keeps_data_there() -> None:
    link = BankLink(H743, crc=True)
    last = H743.sectors()[-1]
    o = last.address - H743.flash_base
    link.flash[o : o + 4] = b"keep"
    image = _image(H743, o)
    session = _session(link)
    plan = session.plan(image)
    assert plan.strategy == "sectors"
    session.execute(plan)
    assert link.masses == 0 and bytes(link.flash[o : o + 4]) == b"keep"
    assert bytes(link.flash[:o]) == image.segments[0].data
    link.flash[o : o + 4] = b"\xff" * 4  # now blank: the mass erase is quicker and wipes nothing
    plan = session.plan(_image(H743, o, seed=2))
    assert plan.strategy == "mass"
    result = session.execute(plan)
    assert link.masses == 1 and result.erased == H743.sectors()
    assert bytes(link.flash[:o]) == _data(o, 2)


def test_without_a_checksum_nothing_beyond_the_image_is_wiped() -> None:
    link = BankLink(H743, crc=False)  # proving a sector blank would mean reading all of it
    last = H743.sectors()[-1]
    plan = _session(link).plan(_image(H743, last.address - H743.flash_base))
    assert plan.strategy == "sectors" and link.masses == 0


def test_bank_erase_through_a_link_that_has_one() -> None:
    link = BankLink(F429, crc=True)
    o = F429.banks[1].base - F429.flash_base
    link.flash[o + 100 : o + 104] = b"bank"  # bank 2 holds data: no mass erase
    image = _image(F429, 1024 * 1024)
    session = _session(link)
    plan = session.plan(image)
    assert plan.strategy == "banks" and plan.erase_banks == (0,)
    assert "bank erase (bank 1): 8.0 s vs 12 sector erases: 8.6 s -> bank erase (bank 1)" in plan.render()
    session.execute(plan)
    assert link.banks == [0] and link.erased == [] and link.masses == 0
    assert bytes(link.flash[: 1024 * 1024]) == image.segments[0].data
    assert bytes(link.flash[o + 100 : o + 104]) == b"bank"


# -- on the bench ---------------------------------------------------------------------------------------
@pytest.fixture
def bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, str], Path]]:
    def make(part: str, link: str) -> Path:
        directory = tmp_path / f"bench-{link.replace(':', '-')}"
        scenarios = ("bootloader-only",) if link.startswith("uart") else ()
        Bench.create(directory, part, scenarios=scenarios, force=True)
        with Bench.open(directory) as b:  # one sector holds old data, the rest is blank
            b.chip.rom_program(find_chip(part).sectors()[5].address, b"old firmware")
        monkeypatch.setenv("STFLASH_SIM", str(directory))
        return directory

    yield make


def _now(directory: Path) -> int:
    with Bench.open(directory) as b:
        return b.clock.now


def _flash(directory: Path, chip: Chip) -> bytes:
    with Bench.open(directory) as b:
        return b.chip.rom_read(chip.flash_base, chip.flash_size)


def _timed_write(directory: Path, connect: str, image: Image, erase: str) -> tuple[str, float]:
    start = _now(directory)
    with Session.open(connect) as session:
        plan = session.plan(image, erase=erase, verify=False)
        session.execute(plan)
    return plan.strategy, (_now(directory) - start) / 1e9


@pytest.mark.parametrize("connect", ["stlink", "uart:sim"])
def test_bench_mass_erase_writes_the_image_in_less_time(connect: str, bench) -> None:  # type: ignore[no-untyped-def]
    image = _image(F030)  # 16 pages of 30 ms against one 30 ms mass erase
    times = {}
    for erase in ("sectors", "auto"):
        directory = bench("STM32F030F4", connect)
        strategy, times[erase] = _timed_write(directory, connect, image, erase)
        assert strategy == ("mass" if erase == "auto" else "sectors")
        assert _flash(directory, F030) == image.segments[0].data
    assert erase_times(F030).mass_s() == 0.030
    model_saving = 16 * 0.030 - 0.030
    assert times["auto"] < times["sectors"] - model_saving  # the link's per-erase cost comes on top


def test_bench_keeps_a_page_beyond_the_image_that_is_not_blank(bench, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = bench("STM32F030F4", "stlink")
    old = F030.sectors()[5]
    path = tmp_path / "low.bin"
    path.write_bytes(_data(old.address - F030.flash_base))  # pages 0-4; page 5 holds old data
    r = run_cli("--json", "write", str(path), "-c", "stlink", "--no-reset")
    assert r.code == 0, r.err
    assert r.json["plan"]["erase_strategy"] == "sectors"
    assert "not blank" in r.json["plan"]["erase_estimates"][0]["obstacle"]
    with Bench.open(directory) as b:
        assert b.chip.rom_read(old.address, 12) == b"old firmware"
    path.write_bytes(_data(old.address - F030.flash_base + 16, 3))  # now the image covers it
    r = run_cli("--json", "write", str(path), "-c", "stlink", "--no-reset")
    assert r.code == 0, r.err
    assert r.json["plan"]["erase_strategy"] == "mass"  # the pages beyond it were checked blank
    assert _flash(directory, F030)[: len(path.read_bytes())] == path.read_bytes()
