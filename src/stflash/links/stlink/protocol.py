"""ST-LINK command bytes, reply sizes, modes and status codes, as the host sends and reads them
(stlink.md §2-§4), plus the Cortex-M debug registers the link drives (stlink.md §5.1).

Written from the reference note; the simulated probe keeps its own copy of these numbers so the
two sides cannot share a mistake.
"""

from __future__ import annotations

CMD_SIZE = 16  # every command block is zero-padded to 16 bytes

# -- top-level commands (byte 0) -------------------------------------------------------------------
GET_VERSION = 0xF1
DEBUG_COMMAND = 0xF2
DFU_COMMAND = 0xF3
SWIM_COMMAND = 0xF4
GET_CURRENT_MODE = 0xF5
GET_TARGET_VOLTAGE = 0xF7
GET_VERSION_EX = 0xFB

DFU_EXIT = 0x07
SWIM_EXIT = 0x01

# -- GET_CURRENT_MODE answers -----------------------------------------------------------------------
MODE_DFU = 0x00
MODE_MASS = 0x01
MODE_DEBUG = 0x02
MODE_SWIM = 0x03
MODE_BOOTLOADER = 0x04
MODE_NAMES = {MODE_DFU: "dfu", MODE_MASS: "mass-storage", MODE_DEBUG: "debug", MODE_SWIM: "swim",
              MODE_BOOTLOADER: "bootloader"}

# -- DEBUG_COMMAND (0xF2) sub-commands the link uses ----------------------------------------------------
READMEM_32BIT = 0x07
WRITEMEM_32BIT = 0x08
READMEM_8BIT = 0x0C
WRITEMEM_8BIT = 0x0D
EXIT = 0x21
APIV2_ENTER = 0x30
APIV2_READ_IDCODES = 0x31
APIV2_READREG = 0x33
APIV2_WRITEREG = 0x34
APIV2_WRITEDEBUGREG = 0x35
APIV2_READDEBUGREG = 0x36
APIV2_GETLASTRWSTATUS = 0x3B
APIV2_DRIVE_NRST = 0x3C
APIV2_GETLASTRWSTATUS2 = 0x3E
SWD_SET_FREQ = 0x43
READ_DAP_REG = 0x45
WRITE_DAP_REG = 0x46
READMEM_16BIT = 0x47
WRITEMEM_16BIT = 0x48
INIT_AP = 0x4B
CLOSE_AP_DBG = 0x4C
SET_COM_FREQ = 0x61
GET_COM_FREQ = 0x62

ENTER_SWD = 0xA3  # APIV2_ENTER parameter: SWD, no reset
NRST_LOW, NRST_HIGH, NRST_PULSE = 0, 1, 2
INIT_AP_NO_CORE = 0  # INIT_AP type byte (pyOCD sends 0; 1 = "Cortex-M core")
COM_SWD = 0  # SET/GET_COM_FREQ protocol byte
DP_PORT = 0xFFFF  # READ/WRITE_DAP_REG port that selects the DP

# -- status codes (first byte of most replies) ----------------------------------------------------------
OK = 0x80
FAULT = 0x81
UNKNOWN_ERROR = 0x01
NO_DEVICE_CONNECTED = 0x05
CMD_WAIT = 0x07
CMD_ERROR = 0x08
GET_IDCODE_ERROR = 0x09
ALIGNMENT_ERROR = 0x0A
DBG_POWER_ERROR = 0x0B
WRITE_VERIF_ERROR = 0x0D
SWD_AP_WAIT = 0x10
SWD_AP_FAULT = 0x11
SWD_AP_ERROR = 0x12
SWD_AP_PARITY_ERROR = 0x13
SWD_DP_WAIT = 0x14
SWD_DP_FAULT = 0x15
SWD_DP_ERROR = 0x16
SWD_DP_PARITY_ERROR = 0x17
SWD_AP_WDATA_ERROR = 0x18
SWD_AP_STICKY_ERROR = 0x19
SWD_AP_STICKYORUN_ERROR = 0x1A
BAD_AP = 0x1D
TOO_MANY_AP = 0x29
CONF_CHANGED = 0x40
FREQ_NOT_SUPPORTED = 0x41
UNKNOWN_CMD = 0x42

STATUS_NAMES = {
    OK: "OK", FAULT: "FAULT", UNKNOWN_ERROR: "UNKNOWN_ERROR", 0x02: "SPI_ERROR", 0x03: "DMA_ERROR",
    0x04: "UNKNOWN_JTAG_CHAIN", NO_DEVICE_CONNECTED: "NO_DEVICE_CONNECTED", 0x06: "INTERNAL_ERROR",
    CMD_WAIT: "CMD_WAIT", CMD_ERROR: "COMMAND_ERROR", GET_IDCODE_ERROR: "GET_IDCODE_ERROR",
    ALIGNMENT_ERROR: "ALIGNMENT_ERROR", DBG_POWER_ERROR: "DBG_POWER_ERROR", 0x0C: "WRITE_ERROR",
    WRITE_VERIF_ERROR: "WRITE_VERIF_ERROR", 0x0E: "ALREADY_OPENED_IN_OTHER_MODE",
    SWD_AP_WAIT: "SWD_AP_WAIT", SWD_AP_FAULT: "SWD_AP_FAULT", SWD_AP_ERROR: "SWD_AP_ERROR",
    SWD_AP_PARITY_ERROR: "SWD_AP_PARITY_ERROR", SWD_DP_WAIT: "SWD_DP_WAIT", SWD_DP_FAULT: "SWD_DP_FAULT",
    SWD_DP_ERROR: "SWD_DP_ERROR", SWD_DP_PARITY_ERROR: "SWD_DP_PARITY_ERROR",
    SWD_AP_WDATA_ERROR: "SWD_AP_WDATA_ERROR", SWD_AP_STICKY_ERROR: "SWD_AP_STICKY_ERROR",
    SWD_AP_STICKYORUN_ERROR: "SWD_AP_STICKYORUN_ERROR", BAD_AP: "BAD_AP", 0x20: "SWV_NOT_AVAILABLE",
    TOO_MANY_AP: "TOO_MANY_AP", CONF_CHANGED: "CONF_CHANGED", FREQ_NOT_SUPPORTED: "FREQ_NOT_SUPPORTED",
    UNKNOWN_CMD: "UNKNOWN_CMD",
}
WAIT_STATUSES = frozenset({SWD_AP_WAIT, SWD_DP_WAIT, CMD_WAIT})
# a bus error on the target's side of a memory access (pyOCD's list: 0x01 comes from older firmware)
FAULT_STATUSES = frozenset({UNKNOWN_ERROR, SWD_AP_FAULT, SWD_DP_FAULT, SWD_AP_WDATA_ERROR, SWD_AP_STICKY_ERROR,
                            SWD_AP_ERROR})
# nobody drives SWDIO: the target is unpowered, its pins are taken, or the debug port is off
NO_ANSWER_STATUSES = frozenset({GET_IDCODE_ERROR, SWD_DP_ERROR, SWD_DP_PARITY_ERROR, SWD_AP_PARITY_ERROR,
                                NO_DEVICE_CONNECTED, DBG_POWER_ERROR})


def status_name(code: int) -> str:
    return f"{code:#04x} {STATUS_NAMES.get(code, 'unknown status')}"


# -- DP and MEM-AP registers (ADIv5) --------------------------------------------------------------------
DP_DPIDR = 0x0  # read; write = ABORT
DP_ABORT = 0x0
DP_CTRL_STAT = 0x4
AP_IDR = 0xFC
ABORT_CLEAR_ALL = 0x1E  # STKCMPCLR | STKERRCLR | WDERRCLR | ORUNERRCLR
CSYSPWRUPREQ, CDBGPWRUPREQ = 1 << 30, 1 << 28
CSYSPWRUPACK, CDBGPWRUPACK = 1 << 31, 1 << 29
CTRL_STICKY = (1 << 1) | (1 << 4) | (1 << 5) | (1 << 7)  # STICKYORUN, STICKYCMP, STICKYERR, WDATAERR (ADIv5 B2.2.2)

# -- Cortex-M debug registers (ARMv7-M / ARMv6-M ARM, C1.6) ---------------------------------------------
CPUID = 0xE000_ED00
AIRCR = 0xE000_ED0C
DFSR = 0xE000_ED30
DHCSR = 0xE000_EDF0
DCRSR = 0xE000_EDF4
DCRDR = 0xE000_EDF8
DEMCR = 0xE000_EDFC

DBGKEY = 0xA05F_0000
C_DEBUGEN, C_HALT, C_STEP, C_MASKINTS = 1, 2, 4, 8
S_REGRDY, S_HALT, S_SLEEP, S_LOCKUP, S_RETIRE_ST, S_RESET_ST = (1 << 16, 1 << 17, 1 << 18, 1 << 19, 1 << 24,
                                                               1 << 25)
REGWNR = 1 << 16
VC_CORERESET, TRCENA = 1, 1 << 24
DFSR_VCATCH = 1 << 3
DFSR_ALL = 0x1F
AIRCR_SYSRESETREQ = 0x05FA_0004

# CPUID PARTNO -> core name (the names chips/ uses)
CORES = {0xC20: "cortex-m0", 0xC60: "cortex-m0+", 0xC23: "cortex-m3", 0xC24: "cortex-m4", 0xC27: "cortex-m7",
         0xD21: "cortex-m33"}
