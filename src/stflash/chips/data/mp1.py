"""STM32MP15 (RM0436): Cortex-A7 MPU with a Cortex-M4; no internal flash (boots from external media).

Programming goes through the ROM USB DFU and the flash-layout (TSV) process; the debug port has an
AXI-AP (AP0), the Cortex-A7 debug APB (AP1) and the Cortex-M4 (AP2).
"""

from __future__ import annotations

from ..model import Chip, FlashKind, Region
from .common import CORE_A7, CORE_M4, DPID_V2, IDCODE_MP15, KIB, boot, ram

_BL_MP15 = boot(0, 0, "", uart_version=0, dfu_pins="USB OTG HS (high-speed PHY)", dfu_version=0x0200)

CHIPS: tuple[Chip, ...] = (
    Chip(
        name="STM32MP157",
        family="MP1",
        dev_id=0x500,
        description="MP15x",
        reference_manual="RM0436",
        cores=(CORE_A7, CORE_A7, CORE_M4),
        flash_kind=FlashKind.NONE,
        banks=(),
        write_unit=1,
        erased_value=0xFF,
        ram=(
            ram("SYSRAM", 0x2FFC_0000, 256),
            ram("MCU SRAM1", 0x1000_0000, 128),
            ram("MCU SRAM2", 0x1002_0000, 128),
            ram("MCU SRAM3", 0x1004_0000, 64),
            ram("MCU SRAM4", 0x1005_0000, 64),
            ram("RETRAM", 0x3800_0000, 64),
        ),
        system_memory=Region("boot ROM", 0x0000_0000, 128 * KIB),
        option_bytes=None,
        otp=None,
        flash_registers=0,
        idcode_address=IDCODE_MP15,
        flash_size_register=0,
        uid_address=0x5C00_5234,
        dp_idcode=DPID_V2,
        bootloader=_BL_MP15,
        aliases=("STM32MP153",),
        access_ports=(1, 1, 2),
        notes=(
            "DEV_ID read through AP1 at 0xE0081000. The ROM enumerates as 0483:DF11 'DFU in HS Mode "
            "@Device ID /0x500' and takes the FSBL (partition 0x01); TF-A and U-Boot re-enumerate for the "
            "following phases. The ROM's UART boot protocol is not modelled here. OTP lives in BSEC "
            "(U-Boot virtual partition 0xF2). SRAM and boot-ROM addresses are from memory of RM0436."
        ),
    ),
)
