"""USB identities stflash recognises on the bus (data, not logic)."""

from __future__ import annotations

ST_VID = 0x0483
DFU_PID = 0xDF11

# PID -> (probe generation, label)
STLINK_PIDS: dict[int, tuple[str, str]] = {
    0x3744: ("V1", "ST-LINK/V1"),
    0x3748: ("V2", "ST-LINK/V2"),
    0x374A: ("V2-1", "ST-LINK/V2-1 (audio)"),
    0x374B: ("V2-1", "ST-LINK/V2-1"),
    0x3752: ("V2-1", "ST-LINK/V2-1 (no MSD)"),
    0x374D: ("V3-loader", "STLINK-V3 USB loader"),
    0x374E: ("V3", "STLINK-V3E"),
    0x374F: ("V3", "STLINK-V3S"),
    0x3753: ("V3", "STLINK-V3 (2 VCP)"),
    0x3754: ("V3", "STLINK-V3E (no MSD)"),
    0x3755: ("V3-loader", "STLINK-V3PWR USB loader"),
    0x3757: ("V3", "STLINK-V3PWR"),
}

# (VID, PID) -> adapter chip, for USB-serial adapters people wire to USART1
SERIAL_ADAPTERS: dict[tuple[int, int], str] = {
    (0x0403, 0x6001): "FTDI FT232R",
    (0x0403, 0x6010): "FTDI FT2232",
    (0x0403, 0x6011): "FTDI FT4232",
    (0x0403, 0x6014): "FTDI FT232H",
    (0x0403, 0x6015): "FTDI FT-X",
    (0x10C4, 0xEA60): "Silicon Labs CP210x",
    (0x1A86, 0x7523): "WCH CH340",
    (0x1A86, 0x55D4): "WCH CH9102",
    (0x067B, 0x2303): "Prolific PL2303",
}
