"""The USART system bootloader (AN3155) on the bench, byte for byte, through the pyserial URL
handler ``stflashsim://DIR`` — the way any pyserial host sees it."""

from __future__ import annotations

from pathlib import Path

import pytest
import serial
from uart_programs import ACK, Opener, addr, bench_of, rom_started, xor

from stflash.sim.uart.commands import stm32_crc
from stflash.sim.uart.frames import Framing

NACK = b"\x1f"
CHAR_NS = 95_486  # one 8E1 character at 115200 baud: 11 bits
TURN_NS = 1_000_000  # the bench adapter's default turnaround latency


def block(data: bytes) -> bytes:
    """N, data, checksum (Write Memory)."""
    head = bytes([len(data) - 1]) + data
    return head + bytes([xor(head)])


def rom_char_ns(port: serial.SerialBase) -> int:
    """One 8E1 character at the rate the ROM measured on 0x7F (a little off the host's 115200: its
    frames are read, and its answers sent, at that rate)."""
    return Framing().char_ns(int(bench_of(port).board.link_state["uart"]["baud"]))


def x(port: serial.SerialBase, data: bytes | list[int], n: int) -> bytes:
    port.write(bytes(data))
    return port.read(n)


def command(port: serial.SerialBase, code: int) -> bytes:
    return x(port, [code, code ^ 0xFF], 1)


def synced(port: serial.SerialBase) -> serial.SerialBase:
    rom_started(port)  # after a reset: the ROM takes its start-up time before it listens
    assert x(port, [0x7F], 1) == ACK
    return port


def read_memory(port: serial.SerialBase, address: int, length: int) -> bytes:
    assert command(port, 0x11) == ACK
    assert x(port, addr(address), 1) == ACK
    n = length - 1
    reply = x(port, [n, n ^ 0xFF], length + 1)
    assert reply[:1] == ACK, reply
    return reply[1:]


def write_memory(port: serial.SerialBase, address: int, data: bytes) -> bytes:
    """The three answers of a Write Memory."""
    return command(port, 0x31) + x(port, addr(address), 1) + x(port, block(data), 1)


# -- identification ------------------------------------------------------------------------------
@pytest.mark.parametrize(("part", "reply"), [
    # AN3155 3.1 example (V3.1), F1 with Erase 0x43 (V2.2), WB with V3.2
    ("stm32f401re", "790b3100010211213144637382927" + "9"),
    ("stm32f103rb", "790b2200010211213143637382927" + "9"),
    ("stm32wb55rg", "790b3200010211213144637382927" + "9"),
])
def test_get_lists_the_commands_of_the_protocol_version(open_port: Opener, part: str, reply: str) -> None:
    port = synced(open_port(part))
    assert x(port, [0x00, 0xFF], 15).hex() == reply


def test_get_checksum_only_with_protocol_v33(open_port: Opener) -> None:
    port = synced(open_port())
    assert command(port, 0xA1) == NACK  # no current part speaks V3.3
    bench_of(port).board.uart_get_checksum = True
    assert x(port, [0x00, 0xFF], 16).hex() == "790c330001021121314463738292a179"


def test_get_version_and_get_id(open_port: Opener) -> None:
    port = synced(open_port("stm32g071rb"))
    assert x(port, [0x01, 0xFE], 5).hex() == "7931000079"
    assert x(port, [0x02, 0xFD], 5).hex() == "7901046079"  # PID = DEV_ID 0x460


# -- synchronisation ----------------------------------------------------------------------------------
def test_second_sync_byte_is_a_command_byte_then_a_nack(open_port: Opener) -> None:
    port = synced(open_port())
    assert x(port, [0x7F], 1) == b""  # idle: taken as a command byte, the ROM waits for its complement
    assert x(port, [0x7F], 1) == NACK  # 7F 7F: wrong complement
    assert x(port, [0x02, 0xFD], 5).hex() == "7901043379"  # back to waiting for a command


def test_a_first_byte_other_than_0x7f_leaves_the_rom_deaf_until_reset(open_port: Opener) -> None:
    port = open_port()
    assert x(port, [0x00], 1) == b""
    assert x(port, [0x7F], 1) == b""  # wrong baud rate measured: nothing intelligible comes back
    bench_of(port).press_reset()
    synced(port)


@pytest.mark.parametrize(("part", "startup_ms"), [("stm32f401re", 74.5), ("stm32g071rb", 0.39), ("stm32h743zi", 53.975)])
def test_the_rom_listens_only_after_its_start_up_time(open_port: Opener, part: str, startup_ms: float) -> None:
    """AN2606 "Bootloader startup timings": a 0x7F sent sooner after NRST is released is lost,
    and one sent later is answered."""
    port = open_port(part, wiring="dtr=!nrst")
    bench = bench_of(port)
    startup = round(startup_ms * 1e6)
    port.dtr = True
    port.dtr = False  # NRST released: the ROM starts
    released = bench.clock.now
    bench.host_wait(startup - 200_000)  # 0.2 ms short
    assert x(port, [0x7F], 1) == b""  # lost: nobody listened yet, and the ROM is not made deaf
    assert x(port, [0x7F], 1) == ACK  # 0.5 s later
    assert bench.clock.now - released > startup
    # and from the start-up time on, not later: a 0x7F sent 0.2 ms after it is answered at once
    port.dtr = True
    port.dtr = False
    released = bench.clock.now
    bench.host_wait(startup + 200_000)
    sent = bench.clock.now
    assert x(port, [0x7F], 1) == ACK
    assert startup < sent - released
    assert bench.clock.now - sent < CHAR_NS + rom_char_ns(port) + TURN_NS + 2_000  # its frame, the ACK's, the latency


def test_a_0x7f_the_rom_starts_listening_in_the_middle_of_is_measured_wrong(open_port: Opener) -> None:
    port = open_port("stm32g071rb", wiring="dtr=!nrst")
    bench = bench_of(port)
    port.dtr = True
    port.dtr = False
    port.write(b"\x7f")  # its 95 us frame spans the 0.39 ms mark
    bench.host_wait(390_000 - 50_000 - (bench.clock.now - bench.chip.reset_ns))
    port.write(b"\x7f")
    assert port.read(2) == b""  # the first was lost, the second made the ROM measure nonsense
    assert x(port, [0x7F], 1) == b""  # deaf until the next reset
    port.dtr = True
    port.dtr = False
    rom_started(port)
    assert x(port, [0x7F], 1) == ACK


def test_unknown_commands_and_bad_complements_are_nacked(open_port: Opener) -> None:
    port = synced(open_port("stm32f103rb"))
    assert x(port, [0x44, 0xBB], 1) == NACK  # V2.2 has Erase, not Extended Erase
    assert x(port, [0xFF, 0x00], 1) == NACK  # stm32flash's resync frame
    assert x(port, [0x11, 0xEF], 1) == NACK
    assert x(port, [0x50, 0xAF], 1) == NACK  # Special: V4.0 parts only


def test_no_answer_without_power_under_reset_or_running_flash(open_port: Opener) -> None:
    port = open_port(scenarios=())
    bench = bench_of(port)
    assert bench.chip.boot_source == "flash"
    start = bench.clock.now
    assert x(port, [0x7F], 1) == b""
    assert bench.clock.now - start == 500_000_000  # the read waited its timeout, on the virtual clock
    bench.set("boot0", "1")
    bench.set("nrst", "0")
    assert x(port, [0x7F], 1) == b""  # held in reset
    bench.set("nrst", "1")  # released: the reset samples BOOT0=1
    synced(port)
    bench.set("power", "0")
    assert command(port, 0x00) == b""


def test_a_reset_elsewhere_ends_the_session(open_port: Opener) -> None:
    port = synced(open_port())
    port.write(b"\x11")  # half a command
    bench_of(port).press_reset()
    rom_started(port)
    assert x(port, [0xEE], 1) == b""  # the new ROM run is not synchronised: 0xEE made it deaf
    assert x(port, [0x7F], 1) == b""
    bench_of(port).press_reset()
    synced(port)


def test_a_half_received_command_survives_between_processes(open_port: Opener) -> None:
    port = synced(open_port())
    port.write(b"\x11")
    port.close()
    again = open_port(create=False)
    assert x(again, [0xEE], 1) == ACK  # the same ROM run, still waiting for the complement


# -- Read Memory --------------------------------------------------------------------------------------
def test_read_memory_areas_and_checks(open_port: Opener) -> None:
    port = synced(open_port())
    bench = bench_of(port)
    chip = bench.chip
    assert read_memory(port, chip.chip.bootloader.id_address, 1) == bytes([0xD1])  # N = 0: one byte
    assert read_memory(port, 0x2000_3000, 4) == bytes(4)  # RAM above the ROM's 12 KB
    assert command(port, 0x11) == ACK and x(port, addr(0x2000_0000), 1) == NACK  # the ROM's own RAM
    assert command(port, 0x11) == ACK and x(port, addr(0x6000_0000), 1) == NACK  # nothing there
    assert command(port, 0x11) == ACK and x(port, addr(0x0800_0000)[:4] + b"\x00", 1) == NACK  # checksum
    assert command(port, 0x11) == ACK and x(port, addr(0x0800_0000), 1) == ACK
    assert x(port, [0x0F, 0x0F], 1) == NACK  # N, ~N does not match
    # the start address is what is checked: a 256-byte read from the OTP area runs on into the
    # unique ID (what stm32loader does on an F401, uart.md 3.4) ...
    data = read_memory(port, 0x1FFF_7A00, 256)
    assert data[0x10:0x1C] == chip.rom_read(0x1FFF_7A10, 12)
    # ... while the unique ID itself is not an address the ROM accepts
    assert command(port, 0x11) == ACK and x(port, addr(0x1FFF_7A10), 1) == NACK


# -- Write Memory -------------------------------------------------------------------------------------
def test_write_memory_to_flash_ram_and_refusals(open_port: Opener) -> None:
    port = synced(open_port())
    chip = bench_of(port).chip
    assert write_memory(port, 0x0800_0000, bytes(range(16))) == ACK * 3
    assert chip.rom_read(0x0800_0000, 16) == bytes(range(16))
    assert write_memory(port, 0x2000_4000, b"RAM!") == ACK * 3
    assert read_memory(port, 0x2000_4000, 4) == b"RAM!"
    assert write_memory(port, 0x0800_0100, b"abcdef") == ACK * 2 + NACK  # not a multiple of 4
    assert command(port, 0x31) + x(port, addr(0x0800_0200), 1) == ACK * 2
    bad = bytearray(block(b"abcd"))
    bad[-1] ^= 1
    assert x(port, bad, 1) == NACK  # checksum
    assert command(port, 0x31) + x(port, addr(0x1FFF_0000), 1) == ACK + NACK  # system memory
    assert command(port, 0x31) + x(port, addr(0x2000_2FFC), 1) == ACK + NACK  # the ROM's RAM
    assert command(port, 0x31) + x(port, addr(0x1FFF_C008), 1) == ACK + NACK  # option bytes: base only
    assert chip.rom_read(0x0800_0100, 8) == b"\xff" * 8


def test_ecc_flash_refuses_a_second_write(open_port: Opener) -> None:
    port = synced(open_port("stm32l476rg"))
    assert write_memory(port, 0x0800_0000, bytes(8)) == ACK * 3
    assert write_memory(port, 0x0800_0000, b"\x01" * 8) == ACK * 2 + NACK  # PROGERR
    assert write_memory(port, 0x0800_0104, bytes(8)) == ACK * 2 + NACK  # L4: 8-byte aligned (AN2606 Table 7)


def test_f4_virtual_byte_selects_the_program_width(open_port: Opener) -> None:
    port = synced(open_port())
    clock = bench_of(port).clock
    data = bytes(range(256))

    def cost(address: int) -> int:
        start = clock.now
        assert write_memory(port, address, data) == ACK * 3
        return clock.now - start

    # the ROM reads the last character of each of the 3 frames at its own rate
    wire = 268 * CHAR_NS + 3 * (rom_char_ns(port) - CHAR_NS) + 3 * TURN_NS
    assert cost(0x0800_0000) == wire + 256 * 16_000  # lowest voltage range: one byte per operation
    assert write_memory(port, 0xFFFF_0000, b"\x03\xff\xff\xff") == ACK * 3  # 2.7-3.6 V: x32
    assert cost(0x0800_0100) == wire + 64 * 16_000
    assert write_memory(port, 0xFFFF_0000, b"\x05\xff\xff\xff") == ACK * 2 + NACK
    assert write_memory(port, 0xFFFF_0000, b"\x03\x00\xff\xff") == ACK * 2 + NACK


def test_the_virtual_byte_exists_on_f2_f4_f7_only(open_port: Opener) -> None:
    port = synced(open_port("stm32g071rb"))
    assert command(port, 0x31) + x(port, addr(0xFFFF_0000), 1) == ACK + NACK


def test_write_memory_timing(open_port: Opener) -> None:
    """A 256-byte Write Memory at 115200: 268 characters of 11 bits, 3 turnarounds, programming."""
    port = synced(open_port("stm32f103rb"))
    clock = bench_of(port).clock
    start = clock.now
    assert write_memory(port, 0x0800_0000, bytes(256)) == ACK * 3
    rom = rom_char_ns(port)  # the ROM reads each frame's last character at its own rate
    assert clock.now - start == 268 * CHAR_NS + 3 * (rom - CHAR_NS) + 3 * TURN_NS + 128 * 52_500  # F1: 128 halfwords


def test_ftdi_latency_and_low_latency_mode(open_port: Opener) -> None:
    port = synced(open_port(scenarios=("bootloader-only", "ftdi-latency")))
    bench = bench_of(port)
    assert bench.scenario_active("ftdi-latency")
    clock = bench.clock
    start = clock.now
    assert x(port, [0x01, 0xFE], 5) == bytes.fromhex("7931000079")
    # two characters out; the ROM reads the second at its rate, sends five at its rate, the host
    # has the last one a character (at its rate) after it started
    rom = rom_char_ns(port)
    answer = 2 * CHAR_NS + 5 * rom
    assert clock.now - start == answer + 16_000_000
    port.set_low_latency_mode(True)
    assert bench.board.uart_latency_us == 1000 and not bench.scenario_active("ftdi-latency")
    start = clock.now
    x(port, [0x01, 0xFE], 5)
    assert clock.now - start == answer + TURN_NS
    port.set_low_latency_mode(False)
    assert bench.board.uart_latency_us == 16_000


def test_a_read_shorter_than_the_erase_times_out(open_port: Opener) -> None:
    """F4 mass erase at the ROM's x8 width: 16 s (timing-model.md); a 5 s read sees nothing yet."""
    port = synced(open_port(timeout=5))
    clock = bench_of(port).clock
    start = clock.now
    assert command(port, 0x44) == ACK
    assert x(port, b"\xff\xff\x00", 1) == b""  # after 5 s
    assert port.read(1) == b"" and port.read(1) == b""  # 10 s, 15 s
    assert port.read(1) == ACK  # the ROM answered at 16 s
    assert 16_000_000_000 < clock.now - start < 16_100_000_000


# -- erase ---------------------------------------------------------------------------------------------
def test_extended_erase_pages_and_special_codes(open_port: Opener) -> None:
    port = synced(open_port("stm32l476rg", timeout=60))
    chip = bench_of(port).chip
    for base in (0x0800_0000, 0x0800_0800, 0x0808_0000):
        assert write_memory(port, base, b"\x00" * 8) == ACK * 3
    pages = b"\x00\x00" + b"\x00\x01"  # N = 0 (one page), page 1
    assert command(port, 0x44) + x(port, pages + bytes([xor(pages)]), 1) == ACK * 2
    assert chip.rom_read(0x0800_0800, 8) == b"\xff" * 8 and chip.rom_read(0x0800_0000, 8) == bytes(8)
    assert command(port, 0x44) + x(port, b"\xff\xfd\x02", 1) == ACK * 2  # bank 2
    assert chip.rom_read(0x0808_0000, 8) == b"\xff" * 8 and chip.rom_read(0x0800_0000, 8) == bytes(8)
    assert command(port, 0x44) + x(port, b"\xff\xf0\x0f", 1) == ACK + NACK  # reserved code
    assert command(port, 0x44) + x(port, b"\xff\xff\x01", 1) == ACK + NACK  # checksum
    too_far = b"\x00\x00\x02\x00"  # page 512: the part has 2 x 256
    assert command(port, 0x44) + x(port, too_far + bytes([xor(too_far)]), 1) == ACK + NACK
    assert command(port, 0x44) + x(port, b"\xff\xff\x00", 1) == ACK * 2
    assert chip.rom_read(0x0800_0000, 8) == b"\xff" * 8


def test_single_bank_part_has_no_bank_2(open_port: Opener) -> None:
    port = synced(open_port(timeout=60))
    assert command(port, 0x44) + x(port, b"\xff\xfd\x02", 1) == ACK + NACK
    assert command(port, 0x44) + x(port, b"\xff\xfe\x01", 1) == ACK * 2


def test_l0_l1_have_no_mass_erase(open_port: Opener) -> None:
    for part in ("stm32l053r8", "stm32l152re"):
        port = synced(open_port(part))
        assert command(port, 0x44) + x(port, b"\xff\xff\x00", 1) == ACK + NACK


def test_erase_0x43_of_protocol_v22(open_port: Opener) -> None:
    port = synced(open_port("stm32f103rb"))
    chip = bench_of(port).chip
    assert write_memory(port, 0x0800_0400, bytes(4)) == ACK * 3
    assert command(port, 0x43) + x(port, b"\xff\x01", 1) == ACK * 2  # 0xFF + not 0x00: ACK, no erase
    assert chip.rom_read(0x0800_0400, 4) == bytes(4)
    assert command(port, 0x43) + x(port, b"\x00\x01\x01", 1) == ACK * 2  # page 1
    assert chip.rom_read(0x0800_0400, 4) == b"\xff" * 4
    assert write_memory(port, 0x0800_0000, bytes(4)) == ACK * 3
    assert command(port, 0x43) + x(port, b"\xff\x00", 1) == ACK * 2  # global erase
    assert chip.rom_read(0x0800_0000, 4) == b"\xff" * 4


# -- protection and the resets they cause -------------------------------------------------------------------
def test_write_protect_resets_and_writes_to_protected_sectors_are_silently_dropped(open_port: Opener) -> None:
    port = synced(open_port())
    bench = bench_of(port)
    resets = bench.chip.reset_count
    assert command(port, 0x63) + x(port, b"\x00\x01\x01", 1) == ACK * 2  # protect sector 1
    assert bench.chip.reset_count > resets
    assert command(port, 0x00) == b""  # after the reset: unsynchronised, 0x00 is garbage to it
    bench.press_reset()
    synced(port)
    assert bench.chip.write_protected(bench.chip.sectors()[1])
    assert write_memory(port, 0x0800_4000, b"abcd") == ACK * 3  # AN3155 3.6: no error ...
    assert bench.chip.rom_read(0x0800_4000, 4) == b"\xff" * 4  # ... and nothing written
    assert x(port, [0x73, 0x8C], 2) == ACK * 2
    synced(port)
    assert write_memory(port, 0x0800_4000, b"abcd") == ACK * 3
    assert bench.chip.rom_read(0x0800_4000, 4) == b"abcd"


def test_reset_with_boot0_low_leaves_the_bootloader(open_port: Opener) -> None:
    port = synced(open_port())
    bench = bench_of(port)
    bench.set("boot0", "0")  # jumper removed while the bootloader runs
    assert x(port, [0x73, 0x8C], 2) == ACK * 2  # Write Unprotect: the ROM resets the chip
    assert bench.chip.boot_source == "flash"
    assert x(port, [0x7F], 1) == b""


def test_readout_protection_level_1_and_unprotect(open_port: Opener) -> None:
    port = synced(open_port(timeout=60))
    bench = bench_of(port)
    assert write_memory(port, 0x0800_0000, b"data") == ACK * 3
    assert x(port, [0x82, 0x7D], 2) == ACK * 2
    synced(port)
    assert bench.chip.rdp_level == 1
    assert x(port, [0x01, 0xFE], 5) == bytes.fromhex("7931000079")
    assert x(port, [0x02, 0xFD], 5) == bytes.fromhex("7901043379")
    assert len(x(port, [0x00, 0xFF], 15)) == 15
    for code in (0x11, 0x21, 0x31, 0x44, 0x63, 0x73, 0x82):
        assert command(port, code) == NACK, hex(code)
    assert x(port, [0x92, 0x6D], 2) == ACK * 2
    synced(port)
    assert bench.chip.rdp_level == 0
    assert read_memory(port, 0x0800_0000, 4) == b"\xff" * 4  # the regression erased the flash


def test_f1_readout_unprotect_erases_too(open_port: Opener) -> None:
    port = synced(open_port("stm32f103rb"))
    bench = bench_of(port)
    assert write_memory(port, 0x0800_0000, b"data") == ACK * 3
    assert x(port, [0x82, 0x7D], 2) == ACK * 2
    synced(port)
    assert bench.chip.option("RDP") != 0xA5
    assert x(port, [0x92, 0x6D], 2) == ACK * 2
    synced(port)
    assert bench.chip.option("RDP") == 0xA5
    assert bench.chip.rom_read(0x0800_0000, 4) == b"\xff" * 4


def test_option_bytes_written_at_the_base_then_reset(open_port: Opener) -> None:
    port = synced(open_port())
    bench = bench_of(port)
    image = bytearray(read_memory(port, 0x1FFF_C000, 16))
    assert bench.chip.option("nRST_STOP") == 1
    image[0] &= ~0x40  # nRST_STOP (OPTCR bit 6) in the first slot
    assert write_memory(port, 0x1FFF_C000, bytes(image)) == ACK * 3
    assert command(port, 0x00) == b""  # the ROM reset: no longer synchronised
    bench.press_reset()
    synced(port)
    assert bench.chip.option("nRST_STOP") == 0
    assert read_memory(port, 0x1FFF_C000, 16)[:2] == bytes(image[:2])


def test_f1_option_area_is_erased_then_written(open_port: Opener) -> None:
    port = synced(open_port("stm32f103rb"))
    bench = bench_of(port)
    # RDP=0xA5 (unprotected), USER=0xFF; WRP0 (bytes 8-9) left out -> erased -> 0xFF: unprotected
    assert write_memory(port, 0x1FFF_F800, bytes.fromhex("a55aff00ff00ff00")) == ACK * 3
    bench.press_reset()
    synced(port)
    assert bench.chip.option("RDP") == 0xA5 and bench.chip.option("DATA0") == 0xFF
    assert read_memory(port, 0x1FFF_F800, 4) == bytes.fromhex("a55aff00")


# -- Go ----------------------------------------------------------------------------------------------------
def test_go_to_flash_runs_the_application(open_port: Opener) -> None:
    port = synced(open_port())
    bench = bench_of(port)
    assert command(port, 0x21) + x(port, addr(0x0800_0000), 1) == ACK * 2
    assert bench.chip.boot_source == "flash"
    assert x(port, [0x7F], 1) == b""  # the bootloader is gone


# A reset routine like stm32flash's -R code (uart.md 8.8), linked at 0x20003000: its vector table
# (MSP 0x20002000, PC 0x20003009), then ``ldr r0, =AIRCR; ldr r1, =VECTKEY | SYSRESETREQ; str r1,
# [r0]; b .`` (arm-none-eabi-as -mcpu=cortex-m0 output).
RESET_STUB = bytes.fromhex("0020002009300020014802490160fee70ced00e00400fa05")


def test_go_to_ram_runs_the_code_there(open_port: Opener) -> None:
    """The ROM jumps into RAM (AN3155 3.5): the core runs the reset routine, whose AIRCR write
    resets the chip, and with BOOT0 still high the ROM starts again."""
    port = synced(open_port())
    bench = bench_of(port)
    resets = bench.chip.reset_count
    assert write_memory(port, 0x2000_3000, RESET_STUB) == ACK * 3
    assert command(port, 0x21) + x(port, addr(0x2000_3000), 1) == ACK * 2
    assert bench.chip.reset_count == resets + 1 and bench.chip.boot_source == "bootloader"
    assert "AIRCR.SYSRESETREQ" in bench.chip.events[-1][1]
    synced(port)  # a new ROM run
    assert command(port, 0x21) + x(port, addr(0x1FFF_0000), 1) == ACK + NACK  # system memory: no


def test_go_to_ram_without_code_leaves_the_rom_silent(open_port: Opener) -> None:
    """Zeroed RAM holds no vector table (PC 0, Thumb bit clear): the core faults into lockup, no
    reset comes, and nobody answers on the UART until the next one."""
    port = synced(open_port())
    bench = bench_of(port)
    resets = bench.chip.reset_count
    assert command(port, 0x21) + x(port, addr(0x2000_3000), 1) == ACK * 2
    assert x(port, [0x7F], 1) == b""
    assert bench.chip.reset_count == resets and bench.chip.boot_source == "ram"
    assert bench.chip.cores[0] is not None and bench.chip.cores[0].state == "lockup"


# -- Get Checksum (V3.3, AN3155 3.13 form) --------------------------------------------------------------------
def test_get_checksum(open_port: Opener) -> None:
    port = synced(open_port())
    bench_of(port).board.uart_get_checksum = True
    assert write_memory(port, 0x0800_0000, (0x12345678).to_bytes(4, "little") * 2) == ACK * 3
    answers = command(port, 0xA1) + x(port, addr(0x0800_0000), 1) + x(port, addr(1), 1)
    answers += x(port, addr(0x04C1_1DB7), 1)
    reply = x(port, addr(0xFFFF_FFFF), 7)
    assert answers == ACK * 4 and reply[:2] == ACK * 2
    assert reply[2:6] == (0xDF8A_8A2B).to_bytes(4, "big")  # ST's example: CRC of 0x12345678
    assert reply[6] == xor(reply[2:6])
    assert stm32_crc((0x12345678).to_bytes(4, "little")) == 0xDF8A_8A2B
    assert command(port, 0xA1) + x(port, addr(0x0800_0000), 1) + x(port, addr(0), 1) == ACK * 2 + NACK


# -- faults ----------------------------------------------------------------------------------------------------
def test_faults_fire_once(open_port: Opener) -> None:
    port = synced(open_port())
    bench = bench_of(port)
    bench.set("uart-nack-after", "2")
    assert bench.describe()["faults"] == {"uart-nack-after": 2}
    assert x(port, [0x01, 0xFE], 5) == bytes.fromhex("7931000079")[:4] + NACK  # 2nd ACK from now
    assert x(port, [0x01, 0xFE], 5) == bytes.fromhex("7931000079")
    bench.set("uart-drop-after", "2")
    assert x(port, [0x02, 0xFD], 5) == b""  # 0xFD lost: the ROM waits for the complement
    assert x(port, [0x02], 1) == NACK  # 0x02, 0x02
    bench.set("uart-corrupt-after", "1")
    assert x(port, [0x02, 0xFD], 5) == NACK  # 0x03, 0xFD
    assert x(port, [0x02, 0xFD], 5) == bytes.fromhex("7901043379")
    assert bench.board.faults == {}


def test_a_nack_instead_of_ack_aborts_the_command(open_port: Opener) -> None:
    port = synced(open_port())
    bench = bench_of(port)
    bench.set("uart-nack-after", "1")
    assert command(port, 0x31) == NACK
    assert x(port, [0x02, 0xFD], 5) == bytes.fromhex("7901043379")  # back at command wait


# -- the host's line settings and modem lines ------------------------------------------------------------------
def test_an_8n1_host_syncs_but_is_then_misheard(open_port: Opener) -> None:
    """uart.md 13.2: without parity 0x7F/0x79 works, then 0x01 0xFE gets no answer (back-to-back
    characters are one bit short; the next start bit is read as the stop bit)."""
    port = open_port(parity="N")
    assert x(port, [0x7F], 1) == ACK
    assert x(port, [0x01, 0xFE], 5) == b""


def test_a_baud_change_after_sync_is_garbage(open_port: Opener) -> None:
    port = synced(open_port())
    port.baudrate = 57600
    # the ROM samples two ~115200-baud characters out of 0x01 0xFE sent at 57600 and NACKs them;
    # its 0x1F at twice the rate reads as one other character at 57600
    back = x(port, [0x01, 0xFE], 5)
    assert len(back) == 1 and back not in (ACK, NACK)
    port.baudrate = 115200
    assert x(port, [0x01, 0xFE], 5) == bytes.fromhex("7931000079")


def test_rts_dtr_drive_nrst_and_boot0(open_port: Opener) -> None:
    # stm32loader's default wiring on a TTL adapter: DTR -> NRST, RTS -> BOOT0, both active low
    port = open_port(scenarios=(), wiring="dtr=!nrst,rts=!boot0")
    bench = bench_of(port)
    assert bench.board.nrst_held and not bench.board.boot0  # the tty asserted both lines at open
    port.rts = False  # BOOT0 high
    assert bench.board.boot0 and x(port, [0x7F], 1) == b""  # still held in reset
    port.dtr = False  # NRST released: reset with BOOT0 = 1
    assert not bench.board.nrst_held and bench.chip.boot_source == "bootloader"
    synced(port)
    port.rts = True
    port.dtr = True
    port.dtr = False  # reset pulse with BOOT0 low: the application (empty flash here) runs
    assert bench.chip.boot_source == "flash"


def test_break_while_synchronised_is_a_zero_character(open_port: Opener) -> None:
    port = synced(open_port())
    port.send_break(0.01)
    assert x(port, [0xFF], 1) == ACK  # 0x00 (the break) + 0xFF = Get
    assert len(port.read(14)) == 14


def test_read_without_timeout_refuses_to_hang(open_port: Opener) -> None:
    port = synced(open_port(timeout=None))
    with pytest.raises(serial.SerialException, match="block forever"):
        port.read(1)
    port.write(b"\x01\xfe")
    assert port.in_waiting >= 1  # the answer has started to arrive
    assert port.read(5) == bytes.fromhex("7931000079")


def test_trace_records_both_directions(open_port: Opener, tmp_path: Path) -> None:
    port = synced(open_port())
    x(port, [0x02, 0xFD], 5)
    port.close()
    lines = (tmp_path / "stm32f401re" / "trace.jsonl").read_text().splitlines()
    import json

    records = [json.loads(line) for line in lines]
    assert [(r["dir"], r["bytes"], r.get("what")) for r in records] == [
        ("out", 1, "0x7F"), ("in", 1, "sync"), ("out", 2, "Get ID"), ("in", 5, "Get ID")]
    out, back = records[2], records[3]
    assert out["end_ns"] - out["start_ns"] == 2 * CHAR_NS
    rom = rom_char_ns(port)
    assert back["start_ns"] == out["end_ns"] + rom - CHAR_NS  # the ROM read the complement at its rate
    assert back["end_ns"] - back["start_ns"] == 4 * rom + CHAR_NS + TURN_NS


@pytest.mark.parametrize(("part", "code", "protected"), [
    ("stm32f103rb", 1, [4, 5, 6, 7]),  # one WRP bit per 4 pages of 1 KB
    ("stm32f401re", 1, [1]),  # one nWRP bit per sector
    ("stm32l053r8", 1, list(range(32, 64))),  # one WRP bit per 4 KB (32 pages of 128 B)
    ("stm32l476rg", 3, [3]),  # a WRP area of pages
    ("stm32g071rb", 3, [3]),
    ("stm32h743zi", 9, [9]),  # bank 2, sector 1: WPSN2 bit 1
])
def test_write_protect_per_family(open_port: Opener, part: str, code: int, protected: list[int]) -> None:
    port = synced(open_port(part))
    chip = bench_of(port).chip
    assert command(port, 0x63) + x(port, bytes([0, code, code]), 1) == ACK * 2
    assert [s.index for s in chip.sectors() if chip.write_protected(s)] == protected
    synced(port)
    assert x(port, [0x73, 0x8C], 2) == ACK * 2
    assert not any(chip.write_protected(s) for s in chip.sectors())


def test_otp_and_data_eeprom(open_port: Opener) -> None:
    port = synced(open_port())
    assert write_memory(port, 0x1FFF_7800, b"OTP!") == ACK * 3  # F4 OTP block 0
    assert read_memory(port, 0x1FFF_7800, 4) == b"OTP!"
    l0 = synced(open_port("stm32l053r8"))
    assert write_memory(l0, 0x0808_0000, b"\x12\x34\x56\x78") == ACK * 3
    assert write_memory(l0, 0x0808_0000, b"\x00\x00\x00\x01") == ACK * 3  # the word is replaced
    assert read_memory(l0, 0x0808_0000, 4) == b"\x00\x00\x00\x01"


def test_rdp_level_2_has_no_bootloader(open_port: Opener) -> None:
    port = open_port(scenarios=("bootloader-only", "rdp2"))
    assert bench_of(port).board.boot0 and bench_of(port).chip.boot_source == "flash"
    assert x(port, [0x7F], 1) == b""


def test_faults_are_set_and_shown_through_the_cli(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = str(tmp_path / "b")
    assert run_cli("sim", "new", d, "--chip", "stm32f401re").code == 0
    r = run_cli("--json", "sim", "set", d, "uart-drop-after=3", "uart-nack-after=1")
    assert r.code == 0
    assert r.json["faults"] == {"uart-drop-after": 3, "uart-nack-after": 1}  # type: ignore[index]
    assert "uart-corrupt-after" in run_cli("sim", "set", d, "bogus=1").err


def test_power_lost_while_programming_silences_the_rom(open_port: Opener) -> None:
    port = synced(open_port())
    bench = bench_of(port)
    bench.set("power-loss-during", "program@2")
    assert write_memory(port, 0x0800_0000, bytes(16)) == ACK * 2  # no final ACK: the supply failed
    assert not bench.board.powered
    assert x(port, [0x7F], 1) == b""
    bench.set("power", "1")
    synced(port)  # powered again: a new ROM run (BOOT0 still high)
