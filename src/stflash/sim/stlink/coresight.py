"""The access ports of each part and the CoreSight ROM tables and component identification
registers behind them, as a debugger discovers them.

Values are the ones real parts show to pyOCD and probe-rs (their discovery logs in public issues:
pyOCD #611 L476, #1148/#1404/#1499 H743/H745, #1368 H730, #480 L072, probe-rs #1349/#3088/#3404 H7;
a published pyOCD session log of an F746 and of an F103), and ARM's identification register layout
(ADIv5 §D1: PIDR0-7, CIDR0-3, DEVARCH, DEVTYPE, DEVID). Component *functions* (SCS, DWT, FPB...)
are the core model's; this module only answers the identification words and the ROM tables,
which are read-only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from ...chips.model import Chip, FlashKind

# JEP106 designers: (continuation count, identity code)
ARM = (4, 0x3B)
ST = (0, 0x20)

CLASS_ROM = 0x1
CLASS_CORESIGHT = 0x9
CLASS_GENERIC = 0xE  # the ARMv6-M/ARMv7-M "generic IP" class of SCS, DWT, FPB, ITM
CLASS_SYSTEM = 0xF

ARCHITECT_ARM = 0x23B
ID_BLOCK = 0xFBC  # DEVARCH .. CIDR3: what a debugger reads to identify a component


@dataclass(frozen=True)
class ApKind:
    """One MEM-AP design: its IDR and how its CSW and TAR behave."""

    name: str
    idr: int
    csw_reset: int
    csw_writable: int  # CSW bits a debugger can change
    sizes: tuple[int, ...]  # CSW.Size codes implemented (0 = 8 bit, 1 = 16 bit, 2 = 32 bit)
    wrap: int  # TAR auto-increment only carries inside blocks of this size
    window: tuple[int, int] | None = None  # [start, end) the AP's bus decodes; None = 4 GiB


# Cortex-M3/M4 AHB-AP (variant 1): 4 KiB auto-increment page, MasterType bit (pyOCD AP_4K_WRAP,
# AP_MSTRTYPE; OpenOCD uses 4 KiB blocks on M3/M4). CSW reads 0x23000040 after reset (BMP log).
AHB_AP_M3 = ApKind("AHB-AP (Cortex-M3 r1)", 0x1477_0011, 0x2300_0040, 0x2F00_0037, (0, 1, 2), 0x1000)
AHB_AP_M3M4 = ApKind("AHB-AP (Cortex-M3/M4)", 0x2477_0011, 0x2300_0040, 0x2F00_0037, (0, 1, 2), 0x1000)
AHB_AP_M0 = ApKind("AHB-AP (Cortex-M0)", 0x0477_0021, 0x0300_0040, 0x0F00_0037, (0, 1, 2), 0x400)
AHB_AP_M0P = ApKind("AHB-AP (Cortex-M0+)", 0x0477_0031, 0x0300_0040, 0x0F00_0037, (0, 1, 2), 0x400)
AHB_AP_M7 = ApKind("AHB-AP (Cortex-M7)", 0x7477_0001, 0x0300_0040, 0x0F00_0037, (0, 1, 2), 0x400)
# CoreSight SoC-400 AHB-AP of the H7: HPROT[3:0] and HNONSEC implemented, SPIDEN (bit 23) reads 1
# (pyOCD logs "default HPROT=3 HNONSEC=0 ... implemented HPROT=f HNONSEC=1").
AHB_AP_H7 = ApKind("AHB-AP (SoC-400)", 0x8477_0001, 0x0380_0040, 0x4F00_0037, (0, 1, 2), 0x400)
AHB_AP_H7_D3 = ApKind("AHB-AP (SoC-400, D3)", 0x8477_0001, 0x4380_0040, 0x4F00_0037, (0, 1, 2), 0x400)
# APB-AP to the H7 debug APB (APB-D): 32-bit accesses only, DbgSwEnable in bit 31.
APB_AP_H7 = ApKind("APB-AP (APB-D)", 0x5477_0002, 0x8000_0042, 0x8000_0030, (2,), 0x400,
                   (0xE00E_0000, 0xE010_0000))
AHB5_AP_M33 = ApKind("AHB5-AP (Cortex-M33)", 0x1477_0015, 0x0380_0040, 0x4F00_0037, (0, 1, 2), 0x400)
# STM32MP15x: AP roles from OpenOCD's stm32mp15x.cfg; the IDR values are UNCONFIRMED.
AXI_AP_MP1 = ApKind("AXI-AP (MP1)", 0x0477_0004, 0x0000_0042, 0x7F00_6037, (0, 1, 2), 0x400)
APB_AP_MP1 = ApKind("APB-AP (MP1 debug)", 0x5477_0002, 0x8000_0042, 0x8000_0030, (2,), 0x400)

BASE_NOT_PRESENT = 0x0000_0002  # ADIv5 format, entry not present (H7 AP1: "ROM tables not present")


@dataclass(frozen=True)
class ApSpec:
    kind: ApKind
    base: int  # MEM-AP BASE register
    core: int | None  # index into chip.cores whose bus this AP reaches; None for system/debug APs


@dataclass
class Topology:
    """Everything identification-related a debugger can read behind one DP."""

    aps: dict[int, ApSpec] = field(default_factory=dict)
    words: dict[int, dict[int, int]] = field(default_factory=dict)  # ap -> word address -> value
    ranges: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # ap -> read-only ranges

    def overlay(self, ap: int, address: int) -> int | None:
        """The identification/ROM-table word at ``address`` (word aligned) seen through ``ap``, or
        None when the address is ordinary memory."""
        for start, end in self.ranges.get(ap, ()):
            if start <= address < end:
                return self.words.get(ap, {}).get(address, 0)
        return None


# -- identification words ------------------------------------------------------------------------
def id_words(base: int, designer: tuple[int, int], part: int, cls: int, *, rev: int = 0,
             devtype: int = 0, devid: int = 0, devarch: int = 0, memtype: int | None = None) -> dict[int, int]:
    """PIDR0-7, CIDR0-3 (and DEVARCH/DEVID/DEVTYPE or a ROM table's MEMTYPE) of one component."""
    cont, code = designer
    pidr = [
        part & 0xFF,
        ((part >> 8) & 0xF) | ((code & 0xF) << 4),
        ((code >> 4) & 0x7) | 0x08 | ((rev & 0xF) << 4),
        0,
        cont & 0xF,
    ]
    words = {
        base + 0xFE0: pidr[0], base + 0xFE4: pidr[1], base + 0xFE8: pidr[2], base + 0xFEC: pidr[3],
        base + 0xFD0: pidr[4], base + 0xFD4: 0, base + 0xFD8: 0, base + 0xFDC: 0,
        base + 0xFF0: 0x0D, base + 0xFF4: (cls & 0xF) << 4, base + 0xFF8: 0x05, base + 0xFFC: 0xB1,
    }
    if cls == CLASS_ROM:
        words[base + 0xFCC] = 1 if memtype is None else memtype  # MEMTYPE.SYSMEM: memory on this bus
    elif cls == CLASS_CORESIGHT:
        words[base + 0xFBC] = devarch
        words[base + 0xFC8] = devid
        words[base + 0xFCC] = devtype
    return words


def _devarch(archid: int) -> int:
    return (ARCHITECT_ARM << 21) | (1 << 20) | archid


def entry(target: int, table: int, present: bool = True) -> int:
    """A 32-bit-format ROM table entry: signed offset to the component, format and present bits."""
    return ((target - table) & 0xFFFF_F000) | 0x2 | int(present)


@dataclass(frozen=True)
class Component:
    address: int
    designer: tuple[int, int]
    part: int
    cls: int
    devtype: int = 0
    devid: int = 0
    archid: int = 0


@dataclass
class _Builder:
    words: dict[int, int] = field(default_factory=dict)
    ranges: list[tuple[int, int]] = field(default_factory=list)

    def component(self, c: Component) -> None:
        self.words.update(id_words(c.address, c.designer, c.part, c.cls, devtype=c.devtype, devid=c.devid,
                                   devarch=_devarch(c.archid) if c.archid else 0))
        self.ranges.append((c.address + ID_BLOCK, c.address + 0x1000))

    def table(self, base: int, designer: tuple[int, int], part: int,
              entries: list[tuple[int, bool]]) -> None:
        """A class 1 ROM table; ``entries`` are (component address, present) in order."""
        for i, (target, present) in enumerate(entries):
            self.words[base + 4 * i] = entry(target, base, present)
        self.words[base + 4 * len(entries)] = 0  # end marker
        self.words.update(id_words(base, designer, part, CLASS_ROM))
        self.ranges.append((base, base + 0x1000))


SCS, DWT, FPB, ITM, TPIU, ETM = 0xE000_E000, 0xE000_1000, 0xE000_2000, 0xE000_0000, 0xE004_0000, 0xE004_1000

# Core components per Cortex-M (part numbers as pyOCD's component table and discovery logs show).
_V7M_PARTS = {  # SCS, DWT, FPB, ITM
    "cortex-m3": (0x000, 0x002, 0x003, 0x001),
    "cortex-m4": (0x00C, 0x002, 0x003, 0x001),
    "cortex-m7": (0x00C, 0x002, 0x00E, 0x001),
}
_TPIU = {"cortex-m3": (0x923, 0xCA0), "cortex-m4": (0x9A1, 0xCA1), "cortex-m7": (0x9A9, 0xCA1)}
_ETM = {"cortex-m3": 0x924, "cortex-m4": 0x925}


def _v7m_core(b: _Builder, core: str) -> list[Component]:
    scs, dwt, fpb, itm = _V7M_PARTS[core]
    parts = [Component(SCS, ARM, scs, CLASS_GENERIC), Component(DWT, ARM, dwt, CLASS_GENERIC),
             Component(FPB, ARM, fpb, CLASS_GENERIC), Component(ITM, ARM, itm, CLASS_GENERIC)]
    for c in parts:
        b.component(c)
    return parts


def _m3m4_table(b: _Builder, core: str, dev_id: int, *, tpiu: bool = True, etm: bool = True) -> None:
    """STM32 with a Cortex-M3/M4: ST's ROM table at 0xE00FF000 (designer ST, part = DEV_ID) lists
    the core's components directly (pyOCD logs: F103 part=410, L476 part=415)."""
    _v7m_core(b, core)
    tp, devid = _TPIU[core]
    if tpiu:
        b.component(Component(TPIU, ARM, tp, CLASS_CORESIGHT, devtype=0x11, devid=devid))
    if etm:
        b.component(Component(ETM, ARM, _ETM[core], CLASS_CORESIGHT, devtype=0x13))
    b.table(0xE00F_F000, ST, dev_id,
            [(SCS, True), (DWT, True), (FPB, True), (ITM, True), (TPIU, tpiu), (ETM, etm)])


def _m7_core_rom(b: _Builder) -> None:
    """The Cortex-M7 core ROM table at 0xE00FF000 (ARM part 0x4C7): SCS, DWT, FPB, ITM; its TPIU and
    ETM entries are marked not present (the ETM hangs off the processor table)."""
    _v7m_core(b, "cortex-m7")
    b.table(0xE00F_F000, ARM, 0x4C7,
            [(SCS, True), (DWT, True), (FPB, True), (ITM, True), (TPIU, False), (ETM, False)])


M7_ETM = Component(ETM, ARM, 0x975, CLASS_CORESIGHT, devtype=0x13, archid=0x4A13)
CS400_CTI = 0x906


def _f7(b: _Builder, dev_id: int) -> None:
    """F7: ST table 0xE00FD000 -> Cortex-M7 processor table 0xE00FE000 (0x4C8) -> core table; the
    TPIU (0x9A9) sits in ST's table (published pyOCD log of an F746)."""
    _m7_core_rom(b)
    b.component(M7_ETM)
    b.table(0xE00F_E000, ARM, 0x4C8, [(0xE00F_F000, True), (ETM, True)])
    b.component(Component(TPIU, ARM, 0x9A9, CLASS_CORESIGHT, devtype=0x11, devid=0xCA1))
    b.table(0xE00F_D000, ST, dev_id, [(0xE00F_E000, True), (TPIU, True)])


def _h7_m7(b: _Builder, dev_id: int) -> None:
    """H7 AP0: ST table 0xE00FE000 (part = DEV_ID) -> M7 core table, M7 ETM, CTI at 0xE0043000."""
    _m7_core_rom(b)
    b.component(M7_ETM)
    b.component(Component(0xE004_3000, ARM, CS400_CTI, CLASS_CORESIGHT, devtype=0x14, devid=0x40800))
    b.table(0xE00F_E000, ST, dev_id, [(0xE00F_F000, True), (ETM, True), (0xE004_3000, True)])


def _h7_apb_d(b: _Builder, dev_id: int) -> None:
    """H7 AP2, the debug APB: system ROM table 0xE00E0000 (SWO, funnel, timestamp generator) and a
    second ST table 0xE00F0000 (CTI, funnel, ETF, TPIU), as pyOCD's H743/H750 logs list them."""
    comps = [
        Component(0xE00E_3000, ARM, 0x914, CLASS_CORESIGHT, devtype=0x11, devid=0xEA0),  # SWO
        Component(0xE00E_4000, ARM, 0x908, CLASS_CORESIGHT, devtype=0x12, devid=0x32),  # funnel
        Component(0xE00E_5000, ARM, 0x101, CLASS_SYSTEM),  # timestamp generator
        Component(0xE00F_1000, ARM, CS400_CTI, CLASS_CORESIGHT, devtype=0x14, devid=0x40800),
        Component(0xE00F_3000, ARM, 0x908, CLASS_CORESIGHT, devtype=0x12, devid=0x34),  # funnel
        Component(0xE00F_4000, ARM, 0x961, CLASS_CORESIGHT, devtype=0x32, devid=0x380),  # ETF
        Component(0xE00F_5000, ARM, 0x912, CLASS_CORESIGHT, devtype=0x11, devid=0xA0),  # TPIU
    ]
    for c in comps:
        b.component(c)
    b.table(0xE00F_0000, ST, 0x001, [(0xE00F_1000, True), (0xE00F_2000, False), (0xE00F_3000, True),
                                      (0xE00F_4000, True), (0xE00F_5000, True), (0xE00F_6000, False),
                                      (0xE00F_7000, False), (0xE00F_8000, False)])
    b.table(0xE00E_0000, ST, dev_id, [(0xE00E_1000, False), (0xE00E_2000, False), (0xE00E_3000, True),
                                      (0xE00E_4000, True), (0xE00E_5000, True), (0xE00F_0000, True)])


def _m0(b: _Builder, dev_id: int, plus: bool) -> None:
    """Cortex-M0 (F0): ST table at 0xE00FF000 with SCS/DWT/BPU. Cortex-M0+ (L0, G0): ST table at
    0xF0000000 pointing to the core table 0xE00FF000 (ARM part 0x4C0) (pyOCD log of an L072)."""
    for c in (Component(SCS, ARM, 0x008, CLASS_GENERIC), Component(DWT, ARM, 0x00A, CLASS_GENERIC),
              Component(FPB, ARM, 0x00B, CLASS_GENERIC)):
        b.component(c)
    core = [(SCS, True), (DWT, True), (FPB, True)]
    if plus:
        b.table(0xE00F_F000, ARM, 0x4C0, core)
        b.table(0xF000_0000, ST, dev_id, [(0xE00F_F000, True)])
    else:
        b.table(0xE00F_F000, ST, dev_id, core)


def _m33(b: _Builder, dev_id: int) -> None:
    """Cortex-M33 (L5/U5/H5): ST table 0xE00FE000 -> core table 0xE00FF000 (0x4C9) whose components
    identify by DEVARCH (pyOCD log of a U5)."""
    comps = [Component(SCS, ARM, 0xD21, CLASS_CORESIGHT, archid=0x2A04),
             Component(DWT, ARM, 0xD21, CLASS_CORESIGHT, archid=0x1A02),
             Component(FPB, ARM, 0xD21, CLASS_CORESIGHT, archid=0x1A03),
             Component(ITM, ARM, 0xD21, CLASS_CORESIGHT, devtype=0x43, archid=0x1A01)]
    for c in comps:
        b.component(c)
    b.table(0xE00F_F000, ARM, 0x4C9, [(c.address, True) for c in comps])
    b.table(0xE00F_E000, ST, dev_id, [(0xE00F_F000, True)])


def _finish(topo: Topology, ap: int, spec: ApSpec, b: _Builder | None) -> None:
    topo.aps[ap] = spec
    if b is not None:
        topo.words[ap] = b.words
        topo.ranges[ap] = b.ranges


def _core_ap(chip: Chip, core: str) -> tuple[ApKind, int, _Builder]:
    """AP kind, BASE and tables of a part whose AP reaches a single Cortex-M."""
    b = _Builder()
    dev = chip.dev_id
    if core == "cortex-m0":
        _m0(b, dev, plus=False)
        return AHB_AP_M0, 0xE00F_F003, b
    if core == "cortex-m0+":
        _m0(b, dev, plus=True)
        return AHB_AP_M0P, 0xF000_0003, b
    if core == "cortex-m33":
        _m33(b, dev)
        return AHB5_AP_M33, 0xE00F_E003, b
    if core == "cortex-m7":
        _f7(b, dev)
        return AHB_AP_M7, 0xE00F_D003, b
    _m3m4_table(b, core, dev)
    return (AHB_AP_M3 if chip.family.upper() == "F1" else AHB_AP_M3M4), 0xE00F_F003, b


@lru_cache(maxsize=64)
def _topology(chip: Chip) -> Topology:
    topo = Topology()
    if chip.flash_kind is FlashKind.H7:
        m7 = _Builder()
        _h7_m7(m7, chip.dev_id)
        _finish(topo, 0, ApSpec(AHB_AP_H7, 0xE00F_E003, 0), m7)
        _finish(topo, 1, ApSpec(AHB_AP_H7_D3, BASE_NOT_PRESENT, None), None)
        apb = _Builder()
        _h7_apb_d(apb, chip.dev_id)
        _finish(topo, 2, ApSpec(APB_AP_H7, 0xE00E_0003, None), apb)
        if chip.dual_core:
            m4 = _Builder()
            _m3m4_table(m4, "cortex-m4", chip.dev_id, tpiu=False)
            _finish(topo, 3, ApSpec(AHB_AP_M3M4, 0xE00F_F003, 1), m4)
        return topo
    if chip.family.upper() == "MP1":
        _finish(topo, 0, ApSpec(AXI_AP_MP1, BASE_NOT_PRESENT, None), None)
        _finish(topo, 1, ApSpec(APB_AP_MP1, BASE_NOT_PRESENT, 0), None)
        m4 = _Builder()
        _m3m4_table(m4, "cortex-m4", chip.dev_id, tpiu=False, etm=False)
        m4_index = len(chip.cores) - 1
        _finish(topo, 2, ApSpec(AHB_AP_H7, 0xE00F_F003, m4_index), m4)
        return topo
    for index, (core, ap) in enumerate(zip(chip.cores, chip.access_ports, strict=False)):
        if ap in topo.aps:
            continue
        kind, base, b = _core_ap(chip, core)
        _finish(topo, ap, ApSpec(kind, base, index), b)
    return topo


def topology(chip: Chip) -> Topology:
    """The APs (by APSEL) and identification words of ``chip``."""
    return _topology(chip)
