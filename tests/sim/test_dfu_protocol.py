"""The ROM's DFU state machine as a host meets it through pyusb: the two-GETSTATUS execution,
DfuSe commands and block addressing, status codes and stalls on misuse, read-out protection,
leaving, resets that re-enumerate, and state that outlives the process."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import usb.core
import usb.util

from stflash.sim import pyusb_backend
from stflash.sim.bench import Bench

VID, PID = 0x0483, 0xDF11
IDLE, DNLOAD_SYNC, DNBUSY, DNLOAD_IDLE, MANIFEST_SYNC, MANIFEST, UPLOAD_IDLE, ERROR = 2, 3, 4, 5, 6, 7, 9, 10
OK, ERR_TARGET, ERR_WRITE, ERR_PROG, ERR_VERIFY = 0x00, 0x01, 0x03, 0x06, 0x07
ERR_FIRMWARE, ERR_VENDOR, ERR_UNKNOWN, ERR_STALLEDPKT = 0x0A, 0x0B, 0x0E, 0x0F
PIPE, NO_DEVICE = -9, -4
FLASH = 0x0800_0000


class Dfu:
    """A bare DfuSe host: one method per class request, nothing hidden."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        dev = usb.core.find(idVendor=VID, idProduct=PID, backend=pyusb_backend(directory))
        assert dev is not None, "no DFU device on the bus"
        self.dev = dev

    def close(self) -> None:
        usb.util.dispose_resources(self.dev)

    def status(self) -> tuple[int, int, int]:
        """(bStatus, bwPollTimeout, bState)"""
        r = bytes(self.dev.ctrl_transfer(0xA1, 3, 0, 0, 6))
        assert len(r) == 6 and r[5] == 0
        return r[0], int.from_bytes(r[1:4], "little"), r[4]

    def state(self) -> int:
        return bytes(self.dev.ctrl_transfer(0xA1, 5, 0, 0, 1))[0]

    def dnload(self, block: int, data: bytes) -> None:
        self.dev.ctrl_transfer(0x21, 1, block, 0, data)

    def upload(self, block: int, length: int) -> bytes:
        return bytes(self.dev.ctrl_transfer(0xA1, 2, block, 0, length))

    def clrstatus(self) -> None:
        self.dev.ctrl_transfer(0x21, 4, 0, 0, None)

    def abort(self) -> None:
        self.dev.ctrl_transfer(0x21, 6, 0, 0, None)

    def to_idle(self) -> None:
        if self.status()[2] == ERROR:
            self.clrstatus()
        assert self.status() == (OK, 0, IDLE)

    def run(self, block: int, data: bytes) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        """DNLOAD then the two GETSTATUS that make the ROM do it."""
        self.dnload(block, data)
        first = self.status()
        return first, self.status()

    def set_address(self, address: int) -> tuple[int, int, int]:
        first, second = self.run(0, struct.pack("<BI", 0x21, address))
        assert first[2] == DNBUSY
        return second

    def erase(self, address: int) -> tuple[int, int, int]:
        return self.run(0, struct.pack("<BI", 0x41, address))[1]

    def now(self) -> int:
        with Bench.open(self.directory) as bench:
            return bench.clock.now


def usb_error(call: object, *args: object) -> int:
    with pytest.raises(usb.core.USBError) as exc:
        call(*args)  # type: ignore[operator]
    return int(exc.value.backend_error_code)


def bench(tmp_path: Path, part: str, *scenarios: str) -> Path:
    d = tmp_path / part
    Bench.create(d, part, scenarios=["bootloader-only", *scenarios])
    return d


def vectors(size: int = 64) -> bytes:
    """A vector table an application could start from: MSP in SRAM, Thumb reset handler."""
    return struct.pack("<II", 0x2000_1000, FLASH + 0x41) + os.urandom(size - 8)


# -- state machine ----------------------------------------------------------------------------------

def test_first_status_get_commands_and_the_two_getstatus_rule(tmp_path: Path) -> None:
    d = bench(tmp_path, "stm32f401re")
    dfu = Dfu(d)
    try:
        assert dfu.status() == (ERR_FIRMWARE, 0, ERROR)  # F4 ROM: errFIRMWARE before the first CLRSTATUS
        dfu.clrstatus()
        assert dfu.status() == (OK, 0, IDLE)
        assert dfu.upload(0, 4) == bytes([0x00, 0x21, 0x41, 0x92])
        assert dfu.state() == UPLOAD_IDLE
        assert dfu.upload(0, 64) == bytes([0x00, 0x21, 0x41, 0x92])  # short answer ends the upload
        assert dfu.state() == IDLE
        dfu.dnload(0, struct.pack("<BI", 0x21, FLASH + 0x4000))
        assert dfu.state() == DNLOAD_SYNC  # nothing done yet
        assert dfu.status() == (OK, 5, DNBUSY)
        assert dfu.status() == (OK, 0, DNLOAD_IDLE)
        # erase: the ROM reports 100 ms, the 16 K sector takes the datasheet's 250 ms (x32)
        dfu.dnload(0, struct.pack("<BI", 0x41, FLASH + 0x4123))  # any address inside the sector
        t0 = dfu.now()
        assert dfu.status() == (OK, 100, DNBUSY)
        assert dfu.status() == (OK, 0, DNLOAD_IDLE)
        assert dfu.now() - t0 >= 250_000_000
        data = os.urandom(2048)
        first, second = dfu.run(2, data)
        assert first == (OK, 104, DNBUSY) and second == (OK, 0, DNLOAD_IDLE)
        more = os.urandom(100)
        assert dfu.run(3, more)[1] == (OK, 0, DNLOAD_IDLE)  # block 3: pointer + 1 x wTransferSize
        dfu.abort()
        assert dfu.status() == (OK, 0, IDLE)
        assert dfu.upload(2, 2048) == data
        assert dfu.upload(3, 100) == more
        assert dfu.state() == UPLOAD_IDLE
    finally:
        dfu.close()
    with Bench.open(d) as b:
        assert b.chip.rom_read(FLASH + 0x4000, 2148) == data + more


def test_h7_uses_1024_byte_blocks_and_answers_after_the_erase(tmp_path: Path) -> None:
    d = bench(tmp_path, "stm32h743zi")
    dfu = Dfu(d)
    try:
        assert dfu.status() == (OK, 0, IDLE)
        assert dfu.set_address(FLASH + 0x2_0000) == (OK, 0, DNLOAD_IDLE)
        dfu.dnload(0, struct.pack("<BI", 0x41, FLASH + 0x2_0000))
        t0 = dfu.now()
        assert dfu.status()[2] == DNBUSY
        assert dfu.now() - t0 >= 1_000_000_000  # 128 K sector at x64: the first answer waits for it
        assert dfu.status() == (OK, 0, DNLOAD_IDLE)
        blocks = [os.urandom(1024) for _ in range(3)]
        for n, block in enumerate(blocks):
            assert dfu.run(2 + n, block)[1] == (OK, 0, DNLOAD_IDLE)
        with pytest.raises(usb.core.USBError):
            dfu.dnload(5, bytes(2048))  # more than wTransferSize: stalled
        # programming the same flash words again breaks their ECC: the read-back fails, errVERIFY
        assert dfu.run(2, os.urandom(1024))[1] == (ERR_VERIFY, 0, ERROR)
    finally:
        dfu.close()
    with Bench.open(d) as b:
        assert b.chip.rom_read(FLASH + 0x2_0400, 2048) == b"".join(blocks[1:])


def test_errors_and_stalls_on_misuse(tmp_path: Path) -> None:
    dfu = Dfu(bench(tmp_path, "stm32f407vg"))
    try:
        dfu.to_idle()
        # CubeProgrammer's pointer 0x00000000 on an F407: dfuDNBUSY, then dfuERROR/errTARGET
        assert dfu.set_address(0) == (ERR_TARGET, 0, ERROR)
        assert usb_error(dfu.dnload, 0, struct.pack("<BI", 0x21, FLASH)) == PIPE  # DNLOAD in dfuERROR
        dfu.abort()  # ignored in dfuERROR
        assert dfu.status() == (ERR_TARGET, 0, ERROR)
        dfu.clrstatus()
        # an unknown command byte is stalled at once with errSTALLEDPKT
        assert usb_error(dfu.dnload, 0, bytes([0x55])) == PIPE
        assert dfu.status() == (ERR_STALLEDPKT, 0, ERROR)
        dfu.clrstatus()
        assert usb_error(dfu.dnload, 0, struct.pack("<BI", 0x92, 0)) == PIPE  # wrong length
        dfu.clrstatus()
        assert usb_error(dfu.dnload, 1, bytes(16)) == PIPE  # wBlockNum 1 is not used
        assert dfu.status()[::2] == (ERR_STALLEDPKT, ERROR)
        dfu.clrstatus()
        # CLRSTATUS outside dfuERROR enters it (errUNKNOWN): the H7 "double CLRSTATUS"
        dfu.clrstatus()
        assert dfu.status() == (ERR_UNKNOWN, 0, ERROR)
        dfu.clrstatus()
        assert dfu.status() == (OK, 0, IDLE)
        # UPLOAD in dfuDNLOAD-IDLE is stalled and changes nothing
        assert dfu.set_address(FLASH) == (OK, 0, DNLOAD_IDLE)
        assert usb_error(dfu.upload, 2, 16) == PIPE
        assert dfu.state() == DNLOAD_IDLE
        dfu.abort()
        dfu.upload(2, 16)
        assert usb_error(dfu.dnload, 2, bytes(16)) == PIPE  # DNLOAD in dfuUPLOAD-IDLE
        assert dfu.state() == UPLOAD_IDLE
        dfu.abort()
        # erase outside the flash, write past its end, read from nowhere: errTARGET
        assert dfu.erase(0x0810_0000) == (ERR_TARGET, 0, ERROR)
        dfu.clrstatus()
        assert dfu.set_address(0x080F_FF00) == (OK, 0, DNLOAD_IDLE)
        assert dfu.run(2, bytes(0x200))[1] == (ERR_TARGET, 0, ERROR)
        dfu.clrstatus()
        assert dfu.set_address(0x1FFF_C000) == (OK, 0, DNLOAD_IDLE)
        dfu.abort()
        assert usb_error(dfu.upload, 2, 64) == PIPE  # 64 bytes from a 16-byte option area
        assert dfu.status() == (ERR_TARGET, 0, ERROR)
        dfu.clrstatus()
        # a write over programmed bits (no ECC on F4): the read-back differs, errVERIFY
        assert dfu.set_address(FLASH) == (OK, 0, DNLOAD_IDLE)
        assert dfu.run(2, b"\x0f" * 64)[1] == (OK, 0, DNLOAD_IDLE)
        assert dfu.run(2, b"\xf0" * 64)[1] == (ERR_VERIFY, 0, ERROR)
        # a bad request type is stalled (vendor request, wrong interface)
        assert usb_error(dfu.dev.ctrl_transfer, 0xC1, 3, 0, 0, 6) == PIPE
        assert usb_error(dfu.dev.ctrl_transfer, 0xA1, 3, 0, 1, 6) == PIPE
    finally:
        dfu.close()


def test_write_protected_sector_erase_is_silent_and_write_fails(tmp_path: Path) -> None:
    d = bench(tmp_path, "stm32f407vg")
    with Bench.open(d) as b:
        b.chip.rom_program(FLASH + 0x8000, b"\x00" * 16)  # sector 2
        b.chip.set_option("nWRP", 0xFFF & ~(1 << 2))
    dfu = Dfu(d)
    try:
        dfu.to_idle()
        assert dfu.erase(FLASH + 0x8000) == (OK, 0, DNLOAD_IDLE)  # AN2662: no error ...
        assert dfu.set_address(FLASH + 0x8100) == (OK, 0, DNLOAD_IDLE)
        assert dfu.run(2, bytes(16))[1] == (ERR_WRITE, 0, ERROR)
    finally:
        dfu.close()
    with Bench.open(d) as b:
        assert b.chip.rom_read(FLASH + 0x8000, 16) == bytes(16)  # ... and nothing erased


# -- read-out protection -----------------------------------------------------------------------------

def test_rdp1_refuses_reads_and_read_unprotect_erases_and_resets(tmp_path: Path) -> None:
    d = bench(tmp_path, "stm32f407vg", "rdp1")
    dfu = Dfu(d)
    try:
        dfu.to_idle()
        assert dfu.upload(0, 4) == bytes([0x00, 0x21, 0x41, 0x92])  # Get Commands still works
        dfu.abort()
        assert usb_error(dfu.upload, 2, 256) == PIPE
        assert dfu.status() == (ERR_VENDOR, 0, ERROR)
        dfu.clrstatus()
        assert dfu.set_address(FLASH) == (ERR_VENDOR, 0, ERROR)  # F4/F7 ROM (Betaflight's observation)
        dfu.clrstatus()
        assert dfu.erase(FLASH) == (ERR_VENDOR, 0, ERROR)
        dfu.clrstatus()
        t0 = dfu.now()
        dfu.dnload(0, bytes([0x92]))
        assert dfu.status() == (OK, 100, DNBUSY)
        # the ROM mass-erases, removes RDP and resets: this device is gone for good
        assert usb_error(dfu.status) == NO_DEVICE
        assert usb_error(dfu.status) == NO_DEVICE
    finally:
        dfu.close()
    with Bench.open(d) as b:
        assert b.chip.rdp_level == 0
        assert b.clock.now - t0 >= 8_000_000_000  # F4 mass erase at x32
        assert b.chip.boot_source == "bootloader"  # BOOT0 still high
    again = Dfu(d)  # the bootloader that came back enumerates anew
    try:
        again.to_idle()
        assert again.set_address(FLASH) == (OK, 0, DNLOAD_IDLE)
        again.abort()
        assert again.upload(2, 64) == b"\xff" * 64
    finally:
        again.close()


# -- leaving ---------------------------------------------------------------------------------------

def test_leave_starts_the_application_and_the_device_disappears(tmp_path: Path) -> None:
    d = bench(tmp_path, "stm32h743zi")
    dfu = Dfu(d)
    try:
        dfu.to_idle()
        assert dfu.erase(FLASH) == (OK, 0, DNLOAD_IDLE)
        assert dfu.set_address(FLASH) == (OK, 0, DNLOAD_IDLE)
        assert dfu.run(2, vectors(1024))[1] == (OK, 0, DNLOAD_IDLE)
        dfu.dnload(2, b"")  # dfu-util sends wBlockNum 2, pydfu 0: both leave
        assert dfu.state() == MANIFEST_SYNC
        assert dfu.status() == (OK, 1, MANIFEST)
        assert usb_error(dfu.status) == NO_DEVICE
    finally:
        dfu.close()
    assert usb.core.find(idVendor=VID, idProduct=PID, backend=pyusb_backend(d)) is None
    with Bench.open(d) as b:
        assert b.chip.boot_source == "flash"


def test_leave_without_application_resets_into_the_bootloader_again(tmp_path: Path) -> None:
    d = bench(tmp_path, "stm32f407vg")
    dfu = Dfu(d)
    try:
        dfu.to_idle()
        dfu.dnload(0, b"")  # leave straight from dfuIDLE; the flash is empty
        assert dfu.status()[2] == MANIFEST
        assert usb_error(dfu.state) == NO_DEVICE
    finally:
        dfu.close()
    again = Dfu(d)
    try:
        assert again.status() == (ERR_FIRMWARE, 0, ERROR)  # a fresh boot of the ROM
    finally:
        again.close()


# -- option bytes ----------------------------------------------------------------------------------

def test_option_bytes_write_reprograms_and_reenumerates(tmp_path: Path) -> None:
    d = bench(tmp_path, "stm32f401re")
    dfu = Dfu(d)
    try:
        dfu.to_idle()
        dfu.dev.set_interface_altsetting(0, 1)
        assert dfu.set_address(0x1FFF_C000) == (OK, 0, DNLOAD_IDLE)
        dfu.abort()
        image = bytearray(dfu.upload(2, 16))
        dfu.abort()
        nwrp = int.from_bytes(image[8:10], "little")
        assert nwrp & 0xFF == 0xFF  # factory: no sector protected
        image[8:10] = (nwrp & ~(1 << 3)).to_bytes(2, "little")  # protect sector 3
        assert dfu.set_address(0x1FFF_C000) == (OK, 0, DNLOAD_IDLE)
        dfu.dnload(2, bytes(image[:8]))  # only the whole area may be written
        dfu.status()
        assert dfu.status() == (ERR_TARGET, 0, ERROR)
        dfu.clrstatus()
        dfu.dnload(2, bytes(image))
        assert dfu.status() == (OK, 100, DNBUSY)  # then the ROM resets (dfu-util's :will-reset)
        assert usb_error(dfu.status) == NO_DEVICE
    finally:
        dfu.close()
    with Bench.open(d) as b:
        assert b.chip.option("nWRP") == 0xFF & ~(1 << 3)  # F401: 8 nWRP bits
        assert b.chip.write_protected(b.chip.sectors()[3])
    again = Dfu(d)
    try:
        again.to_idle()
        assert again.dev.ctrl_transfer(0x81, 10, 0, 0, 1)[0] == 0  # alt setting back to 0
    finally:
        again.close()


# -- persistence -------------------------------------------------------------------------------------

def test_state_and_address_pointer_survive_between_processes(tmp_path: Path) -> None:
    d = bench(tmp_path, "stm32f401re")
    dfu = Dfu(d)
    try:
        dfu.to_idle()
        assert dfu.erase(FLASH + 0x1_0000) == (OK, 0, DNLOAD_IDLE)
        assert dfu.set_address(FLASH + 0x1_0000) == (OK, 0, DNLOAD_IDLE)
        dfu.dnload(2, b"persisted across processes!!")  # stored; its GETSTATUS comes from elsewhere
    finally:
        dfu.close()
    script = f"""
import usb.core
from stflash.sim import pyusb_backend
dev = usb.core.find(idVendor=0x0483, idProduct=0xdf11, backend=pyusb_backend({str(d)!r}))
print(bytes(dev.ctrl_transfer(0xA1, 3, 0, 0, 6)).hex(), bytes(dev.ctrl_transfer(0xA1, 3, 0, 0, 6)).hex())
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0068000004" "00", "0000000005" "00"]  # dfuDNBUSY 104 ms, then done
    again = Dfu(d)  # a third process: dfuDNLOAD-IDLE, same pointer
    try:
        assert again.status() == (OK, 0, DNLOAD_IDLE)
        again.abort()
        assert again.upload(2, 28) == b"persisted across processes!!"
    finally:
        again.close()


def test_every_transfer_is_charged_on_the_virtual_clock_and_traced(tmp_path: Path) -> None:
    d = bench(tmp_path, "stm32h743zi")
    dfu = Dfu(d)
    try:
        t0 = dfu.now()
        dfu.status()
        t1 = dfu.now()
        dfu.upload(0, 4)
        t2 = dfu.now()
    finally:
        dfu.close()
    assert 1_000_000 <= t1 - t0 <= 2_000_000  # one full-speed frame (plus the wait for it)
    assert 1_000_000 <= t2 - t1 <= 2_000_000
    lines = (d / "trace.jsonl").read_text().splitlines()
    assert sum('"what":"control df11"' in line for line in lines) >= 2


def test_h7_option_alternate_is_the_flash_option_registers(tmp_path: Path) -> None:
    d = bench(tmp_path, "stm32h743zi")
    dfu = Dfu(d)
    try:
        dfu.dev.set_interface_altsetting(0, 1)
        assert dfu.set_address(0x5200_201C) == (OK, 0, DNLOAD_IDLE)
        dfu.abort()
        regs = bytearray(dfu.upload(2, 128))
        dfu.abort()
        optsr_cur, optsr_prg = struct.unpack_from("<II", regs)
        assert optsr_cur & 0xFF00 == optsr_prg & 0xFF00 == 0xAA00  # RDP level 0 in both
        struct.pack_into("<I", regs, 4, optsr_prg & ~(1 << 4))  # IWDG1_SW=0: hardware watchdog
        assert dfu.set_address(0x5200_201C) == (OK, 0, DNLOAD_IDLE)
        dfu.dnload(2, bytes(regs))
        assert dfu.status() == (OK, 100, DNBUSY)
        assert usb_error(dfu.status) == NO_DEVICE
    finally:
        dfu.close()
    with Bench.open(d) as b:
        assert b.chip.option("IWDG1_SW") == 0
        assert b.chip.option("RDP") == 0xAA


@pytest.mark.parametrize("part, after", [("stm32f407vg", (ERR_FIRMWARE, 0, ERROR)), ("stm32h743zi", (OK, 0, IDLE))])
def test_usb_bus_reset(tmp_path: Path, part: str, after: tuple[int, int, int]) -> None:
    d = bench(tmp_path, part)
    with Bench.open(d) as b:
        b.chip.rom_program(FLASH + 0x100, bytes(range(32)))
    dfu = Dfu(d)
    try:
        dfu.to_idle()
        assert dfu.set_address(FLASH + 0x100) == (OK, 0, DNLOAD_IDLE)
        dfu.dev.reset()  # the ROM stays in DFU mode, like after its own enumeration
        assert dfu.status() == after
        if after[2] == ERROR:
            dfu.clrstatus()
        assert dfu.upload(2, 4) == bytes(range(4))  # the address pointer survives the bus reset
    finally:
        dfu.close()


def test_ram_above_the_roms_own_area_takes_downloads(tmp_path: Path) -> None:
    dfu = Dfu(bench(tmp_path, "stm32f407vg"))  # AN2606: the F4 ROM keeps 0x20000000-0x20002FFF
    try:
        dfu.to_idle()
        assert dfu.set_address(0x2000_3000) == (OK, 0, DNLOAD_IDLE)
        code = os.urandom(600)
        assert dfu.run(2, code)[1] == (OK, 0, DNLOAD_IDLE)
        dfu.abort()
        assert dfu.upload(2, 600) == code
        dfu.abort()
        assert dfu.set_address(0x2000_2F00) == (ERR_TARGET, 0, ERROR)
    finally:
        dfu.close()


def test_ram_windows_run_on_across_contiguous_regions(tmp_path: Path) -> None:
    """AN2606 gives the F407 ROM's RAM as everything from 0x20003000 on: SRAM1 runs on into SRAM2
    (0x2001C000), and a download across the boundary is taken, as over the UART."""
    dfu = Dfu(bench(tmp_path, "stm32f407vg"))
    try:
        dfu.to_idle()
        assert dfu.set_address(0x2001_BF00) == (OK, 0, DNLOAD_IDLE)
        code = os.urandom(0x200)
        assert dfu.run(2, code)[1] == (OK, 0, DNLOAD_IDLE)
        dfu.abort()
        assert dfu.upload(2, 0x200) == code
    finally:
        dfu.close()
