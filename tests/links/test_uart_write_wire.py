"""What a UART write puts on the wire before the data: one erase command for all the pages, one
probe on a blank chip, short identification reads (each host wait costs the adapter's latency)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stflash.links.uart.an3155 import address_frame, xor

from linkbench import flash_bytes, random_file
from uartwire import commands, record_host_writes

FLASH = 0x0800_0000
EXTENDED_ERASE, READ_MEMORY = 0x44, 0x11


def page_list(pages: list[int]) -> bytes:
    body = (len(pages) - 1).to_bytes(2, "big") + b"".join(p.to_bytes(2, "big") for p in pages)
    return body + bytes([xor(body)])


@pytest.mark.parametrize(("part", "size", "pages"), [
    ("nucleo-g071rb", 5 * 2048, [0, 1, 2, 3, 4]),  # 2 KiB pages
    ("nucleo-f401re", 80 * 1024, [0, 1, 2, 3, 4]),  # 16 KiB x4, then the 64 KiB sector
])
def test_one_extended_erase_lists_every_page(part: str, size: int, pages: list[int], bench, run_cli,  # type: ignore[no-untyped-def]
                                             monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    directory = bench(part)
    writes = record_host_writes(monkeypatch)
    path, data = random_file(tmp_path, size)
    r = run_cli("write", str(path), "-c", "uart:sim", "--no-reset", "--no-stub")
    assert r.code == 0, r.err
    erases = [after for code, after in commands(writes) if code == EXTENDED_ERASE]
    assert erases == [page_list(pages)]  # two ACK turnarounds in all instead of two a page
    assert flash_bytes(directory, FLASH, size) == data


def flash_reads_before_erase(writes: list[bytes]) -> list[int]:
    out = []
    for code, after in commands(writes):
        if code == EXTENDED_ERASE:
            break
        address = int.from_bytes(after[:4], "big")
        if code == READ_MEMORY and FLASH <= address < 0x0900_0000:
            out.append(address)
    return out


def test_a_blank_chip_is_probed_once(bench, run_cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The image's first page reads erased: the other 31 pages are not probed (three turnarounds each)."""
    directory = bench("nucleo-g071rb")
    writes = record_host_writes(monkeypatch)
    path, data = random_file(tmp_path, 64 * 1024)
    r = run_cli("write", str(path), "-c", "uart:sim", "--no-reset", "--no-verify", "--no-stub")
    assert r.code == 0, r.err
    assert flash_reads_before_erase(writes) == [FLASH]
    assert flash_bytes(directory, FLASH, len(data)) == data


def test_a_chip_holding_other_code_is_probed_page_by_page(bench, run_cli, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                                                          tmp_path: Path) -> None:
    bench("nucleo-g071rb")
    old, _ = random_file(tmp_path, 5 * 2048, seed=2)
    assert run_cli("write", str(old), "-c", "uart:sim", "--no-reset", "--no-stub").code == 0
    writes = record_host_writes(monkeypatch)
    path, _ = random_file(tmp_path, 5 * 2048)
    r = run_cli("write", str(path), "-c", "uart:sim", "--no-reset", "--no-stub")
    assert r.code == 0, r.err
    assert flash_reads_before_erase(writes) == [FLASH + i * 2048 for i in range(5)]


def test_an_erased_first_page_before_an_unchanged_rest_is_rewritten_right(bench, run_cli,  # type: ignore[no-untyped-def]
                                                                          tmp_path: Path) -> None:
    """The price of probing once: pages that already held the image are erased and written again
    (slower, never wrong)."""
    directory = bench("nucleo-g071rb")
    path, data = random_file(tmp_path, 5 * 2048)
    assert run_cli("write", str(path), "-c", "uart:sim", "--no-reset", "--no-stub").code == 0
    assert run_cli("erase", "0x08000000", "2048", "-c", "uart:sim", "--no-stub").code == 0
    r = run_cli("--json", "write", str(path), "-c", "uart:sim", "--no-reset", "--no-stub")
    assert r.code == 0, r.err
    assert [s["address"] for s in r.json["result"]["erased"]] == [FLASH + i * 2048 for i in range(5)]
    assert r.json["result"]["verified"] == "read-back"
    assert flash_bytes(directory, FLASH, len(data)) == data


def test_flash_size_is_read_up_to_its_register_only(bench, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The F401 ROM refuses the address of its flash-size register (0x1FFF7A22) and reads from the
    start of that 256-byte block: 36 bytes reach it, not 256."""
    bench("nucleo-f401re")
    writes = record_host_writes(monkeypatch)
    r = run_cli("--json", "probe", "-c", "uart:sim", "--no-stub")
    assert r.code == 0, r.err
    assert r.json["flash_size"] == 512 * 1024
    i = writes.index(address_frame(0x1FFF_7A00))
    assert writes[i + 1] == bytes([35, 35 ^ 0xFF])
