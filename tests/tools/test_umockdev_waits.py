"""dfu-util runs that mostly wait in wall-clock time, as on hardware: each corpus .dfu file
downloaded, and a detach from an application's DFU runtime interface into the bootloader.

They are started together at the beginning of the session (see ``long_runs`` in conftest) and
checked here, after the other tests have run meanwhile.
"""

from __future__ import annotations

from simrun import FLASH, LongRuns, flash_of

from stflash.image.io import load

from tooling import CORPUS, corpus_files


def test_corpus_dfu_files_download(umockdev: str, long_runs: LongRuns, stflash_on) -> None:  # type: ignore[no-untyped-def]
    """Each real .dfu file, as dfu-util writes it, lands byte for byte, and stflash verifies it."""
    corpus_files()  # a clone without the corpus beside it skips this test
    assert long_runs.corpus, f"no corpus in {CORPUS}"
    results = long_runs.results()[: len(long_runs.corpus)]
    for (directory, path), ran in zip(long_runs.corpus, results, strict=True):
        assert ran.code == 0, f"{path.name}: {ran.text[-2000:]}"
        assert "Done parsing DfuSe file" in ran.out
        for segment in load(path).image.segments:
            assert flash_of(directory, segment.address, len(segment.data)) == bytes(segment.data), path.name
        stflash_on(directory, "verify", str(path), "-c", "dfu")


def test_detach_from_a_runtime_dfu_application_to_the_bootloader(umockdev: str, long_runs: LongRuns) -> None:
    """dfu-util finds the application's DFU runtime interface, sends DFU_DETACH and a USB reset,
    and reopens the bootloader that the reset started: a device that appears while it runs."""
    directory, upload = long_runs.detach
    ran = long_runs.results()[-1]
    assert ran.code == 0, ran.text
    assert "Device really in Run-Time Mode, send DFU detach request" in ran.out
    assert "Upload done" in ran.out
    assert upload.read_bytes() == flash_of(directory, FLASH, 1024)  # the application's own bytes
