"""Which chip is behind the probe, like ``st-info --probe``: probe serial and firmware, target
voltage, DP IDCODE, access ports, CPUID, DBGMCU chip id at the address the core implies, flash
size, the chip table's row, and the read-out protection level from the chip's RDP option field.

Observations
------------
Every answer is kept in ``TargetInfo.observations`` (and in ``ConnectFailed.observations`` when
something fails), so ``doctor`` and ``recover`` can reason on what each level said. Register
values are hex strings ("0x2ba01477": ``int(x, 0)`` reads them back); ``None`` means "asked, no
answer". Keys (absent when the step was not reached):

probe level
  ``probe`` label ("ST-LINK/V2-1"), ``probe_kind`` ("V2", "V2-1", "V3"), ``serial``,
  ``firmware`` ("V2J45M31"), ``probe_mode_found`` (the mode a previous session left the probe
  in: "dfu", "mass-storage", "debug", "swim"), ``target_voltage`` (volts, float; ``None`` when
  the firmware cannot measure)
connection
  ``connect_mode``, ``ap``, ``frequency_requested_hz``, ``frequency_hz`` (what the probe runs;
  ``None``: firmware cannot set it), ``enter`` ("ok" or the status of ENTER SWD, e.g.
  "0x09 GET_IDCODE_ERROR": no DP answer), ``dp_idcode`` (hex or ``None``), ``dp_error``,
  ``debug_power`` ("ok" / "not acknowledged (...)"), ``ap_init`` (INIT_AP status),
  ``reset_catch`` / ``halt`` (under-reset and normal: how the core was stopped),
  ``core_state`` ("halted", "running", "sleeping", "locked-up", from DHCSR)
access ports
  ``aps``: {"0": IDR hex / "none" / "error <status>", ... for AP0-AP3}; after a failed core
  access also ``other_core_aps`` ({"3": "cortex-m4 (CPUID 0x410fc241)"}: another AP reaches a
  core) and on an H7 ``chip_id_apb`` (DBGMCU_IDCODE through the debug APB, AP2)
core and chip
  ``cpuid`` (hex), ``core`` ("cortex-m4"; ``None`` if not an ARM Cortex-M), ``cpuid_error`` (the
  core's debug registers did not answer: reading CPUID, or halting it while connecting),
  ``dhcsr`` (hex), ``chip_id_tried`` (["0x5c001000@AP0: 0x10016450", "...: fault"]),
  ``chip_id_address``, ``chip_id_ap``, ``chip_id_raw`` (the DBGMCU_IDCODE word), ``dev_id``,
  ``rev_id``, ``flash_size_kib`` (int) or ``flash_size_error``, ``chip`` (row name or ``None``),
  ``geometry`` (option selecting a non-default bank layout, e.g. "nDBANK=0"),
  ``rdp`` ({"register", "address", "value", "level"}) or ``rdp_error``, ``flash_read``
  ("ok" or "refused: ..."), ``rdp_inferred`` (level 1 deduced from a refused flash read)
diagnosis
  ``diagnosis``: the message of the failure, when there is one
"""

from __future__ import annotations

from ...chips.lookup import chips_for_dev_id
from ...chips.lookup import identify as lookup_chip
from ...chips.model import Chip, OptionField
from ...errors import StflashError, TargetNotRespondingError
from ...target import TargetInfo
from . import diagnosis
from . import protocol as p
from .access import StlinkAccess
from .core import core_name, describe_dhcsr
from .errors import ConnectFailed, StlinkStatusError, TargetNoAnswer, UnknownTarget
from .probe import H7_APB_AP, H7_APB_DBGMCU, StlinkProbe, is_ahb_ap

# DBGMCU_IDCODE by core (stlink.md §7.1, families.md §2.1)
IDCODE_M0 = 0x4001_5800  # F0, L0, G0, C0
IDCODE_M33 = 0xE004_4000  # L5, U5 (H5 UNCONFIRMED)
IDCODE_H7 = 0x5C00_1000  # H7 through the core's AHB-AP
IDCODE_DEFAULT = 0xE004_2000  # F1, F2, F3, F4, F7, L1, L4, G4, WB, WL
GENERIC_ADDRESSES = (IDCODE_DEFAULT, IDCODE_M0, IDCODE_M33, IDCODE_H7)

# Flash-size register values that mean something else (stlink.md §7.2, families.md §2.2):
# L1 cat. 4 (0x436) 0 -> 384 KiB, 1 -> 256 KiB; 0x416/0x427/0x420 read 0 -> 128 KiB.
FLASH_SIZE_QUIRKS: dict[int, dict[int, int]] = {0x436: {0: 384, 1: 256}, 0x416: {0: 128}, 0x427: {0: 128},
                                                0x420: {0: 128}}
FLASH_SIZE_LOW_BYTE = frozenset({0x416, 0x429})  # L1 cat. 1/2 use the low byte only (stlink-org)


def _hex(value: int) -> str:
    return f"{value:#010x}"


def identify(probe: StlinkProbe, *, strict: bool = True) -> TargetInfo:
    """Identify the chip behind the connected probe (call :meth:`StlinkProbe.connect` first).
    Raises :class:`ConnectFailed` / :class:`UnknownTarget` with a diagnosis; with ``strict``
    False returns a ``TargetInfo`` without a chip instead, its observations saying why."""
    access = probe.access
    if access is None:
        raise StflashError("identify() needs a connected probe: call connect() first")
    try:
        return _identify(probe, access)
    except (ConnectFailed, UnknownTarget) as exc:
        if strict:
            raise
        return TargetInfo("stlink", None, probe=_probe_text(probe), serial=probe.serial,
                          observations=exc.observations)


def _probe_text(probe: StlinkProbe) -> str:
    return f"{probe.info.label} {probe.firmware}"


def _fail(probe: StlinkProbe, said: tuple[str, str]) -> ConnectFailed:
    probe.observations["diagnosis"] = said[0]
    return ConnectFailed(said[0], dict(probe.observations), hint=said[1])


def _identify(probe: StlinkProbe, access: StlinkAccess) -> TargetInfo:
    obs = probe.observations
    aps = probe.scan_aps()
    if aps:
        obs["aps"] = aps
    # the core: CPUID and DHCSR through the selected access port
    try:
        cpuid = access.read32(p.CPUID)
        dhcsr = probe.connect_dhcsr  # connect() has just read it
        probe.connect_dhcsr = None
        if dhcsr is None:
            dhcsr = access.read32(p.DHCSR)
    except (StlinkStatusError, TargetNotRespondingError) as exc:
        obs["cpuid_error"] = exc.message
        raise _fail(probe, diagnosis.core_not_answering(probe.scan_for_cores(access.ap), exc.message)) from None
    core = core_name(cpuid)
    obs["cpuid"] = _hex(cpuid)
    obs["core"] = core
    obs["dhcsr"] = _hex(dhcsr)
    obs["core_state"] = describe_dhcsr(dhcsr)
    # the chip id
    dev_id, rev_id = _chip_id(probe, access, core)
    rows = chips_for_dev_id(dev_id)
    # the flash size
    kib = _flash_size(access, dev_id, rows[0].flash_size_register, obs)
    chip = lookup_chip(dev_id, kib, core)
    if chip is None and core is None:
        chip = lookup_chip(dev_id, kib)
    if chip is not None:
        chip = _dual_core(chip, dev_id, kib, aps)
        chip = _geometry(access, chip, obs)
    obs["chip"] = chip.name if chip else None
    if chip is None:
        said = diagnosis.unknown_dev_id(obs)
        obs["diagnosis"] = said[0]
        raise UnknownTarget(said[0], dict(obs), hint=said[1])
    level = _protection(access, chip, obs)
    if level:
        access.protected = (chip.flash_base, chip.flash_end, level)
    return TargetInfo("stlink", chip, dev_id=dev_id, rev_id=rev_id,
                      flash_size=kib * 1024 if kib else chip.flash_size, rdp_level=level,
                      probe=_probe_text(probe), serial=probe.serial, observations=dict(obs))


# -- the chip id ----------------------------------------------------------------------------------------
def chip_id_candidates(core: str | None, dp_idcode: int | None, ap: int) -> list[tuple[int, int]]:
    """(AP, address) pairs where DBGMCU_IDCODE may be, best first: stlink-org's rule from the
    core (M0/M0+ on the APB, M33 at 0xE0044000, M7 with the H7 DP at 0x5C001000, else
    0xE0042000), then every address the chip table gives for this DP IDCODE and core, then the
    rest; on an H7 also the debug APB (AP2, 0xE00E1000), which answers while AP0's bus does not."""
    if core in ("cortex-m0", "cortex-m0+"):
        first = IDCODE_M0
    elif core == "cortex-m33":
        first = IDCODE_M33
    elif core == "cortex-m7" and dp_idcode == diagnosis.H7_DP_IDCODE:
        first = IDCODE_H7
    else:
        first = IDCODE_DEFAULT
    from ...chips.lookup import all_chips

    table = [c.idcode_address for c in all_chips()
             if c.dp_idcode == dp_idcode and (core is None or core in c.cores) and c.idcode_address]
    out: list[tuple[int, int]] = []
    for address in (first, *table, *GENERIC_ADDRESSES):
        if (ap, address) not in out:
            out.append((ap, address))
    if dp_idcode == diagnosis.H7_DP_IDCODE and ap != H7_APB_AP:
        out.append((H7_APB_AP, H7_APB_DBGMCU))
    return out


def _plausible(value: int, ap: int, address: int) -> bool:
    """A DEV_ID the table knows, read where that chip keeps its DBGMCU."""
    rows = chips_for_dev_id(value & 0xFFF)
    if (ap, address) == (H7_APB_AP, H7_APB_DBGMCU):
        return any(c.idcode_address == IDCODE_H7 for c in rows)
    return any(c.idcode_address == address for c in rows)


def _chip_id(probe: StlinkProbe, access: StlinkAccess, core: str | None) -> tuple[int, int]:
    obs = probe.observations
    dpidr_text = obs.get("dp_idcode")
    dpidr = int(dpidr_text, 16) if isinstance(dpidr_text, str) else None
    tried: list[str] = []
    zero: tuple[int, int] | None = None
    unknown: tuple[int, int, int] | None = None
    for ap, address in chip_id_candidates(core, dpidr, access.ap):
        try:
            value = access.read32(address) if ap == access.ap else probe.read_on(ap, address)
        except (StlinkStatusError, TargetNoAnswer) as exc:
            tried.append(f"{_hex(address)}@AP{ap}: {p.status_name(exc.status)}")
            continue
        tried.append(f"{_hex(address)}@AP{ap}: " + ("no answer" if value is None else _hex(value)))
        if value is None:
            continue
        if value & 0xFFF == 0:
            zero = zero or (ap, address)
            continue
        if _plausible(value, ap, address):
            obs["chip_id_tried"] = tried
            obs["chip_id_address"] = _hex(address)
            obs["chip_id_ap"] = ap
            obs["chip_id_raw"] = _hex(value)
            obs["dev_id"] = f"{value & 0xFFF:#05x}"
            obs["rev_id"] = f"{value >> 16:#06x}"
            return value & 0xFFF, value >> 16
        unknown = unknown or (ap, address, value)
    obs["chip_id_tried"] = tried
    if unknown is not None:
        ap, address, value = unknown
        obs.update(chip_id_address=_hex(address), chip_id_ap=ap, chip_id_raw=_hex(value),
                   dev_id=f"{value & 0xFFF:#05x}", rev_id=f"{value >> 16:#06x}", chip=None)
        said = diagnosis.unknown_dev_id(obs)
        obs["diagnosis"] = said[0]
        raise UnknownTarget(said[0], dict(obs), hint=said[1])
    if zero is not None:
        obs.update(chip_id_address=_hex(zero[1]), chip_id_ap=zero[0], chip_id_raw=_hex(0))
        raise _fail(probe, diagnosis.chip_id_zero(obs))
    raise _fail(probe, diagnosis.no_chip_id(obs))


# -- flash size, layout, protection ------------------------------------------------------------------------
def _flash_size(access: StlinkAccess, dev_id: int, register: int, obs: dict[str, object]) -> int | None:
    """KiB from the flash-size register (16 bits; stlink-org reads the aligned word)."""
    try:
        word = access.read32(register & ~3)
    except StflashError as exc:
        obs["flash_size_error"] = exc.message
        return None
    value = (word >> 16) & 0xFFFF if register & 2 else word & 0xFFFF
    if dev_id in FLASH_SIZE_LOW_BYTE:
        value &= 0xFF
    value = FLASH_SIZE_QUIRKS.get(dev_id, {}).get(value, value)
    if value in (0, 0xFFFF):
        obs["flash_size_error"] = f"register {_hex(register)} reads {value:#06x}"
        return None
    obs["flash_size_kib"] = value
    return value


def _dual_core(chip: Chip, dev_id: int, kib: int | None, aps: dict[str, str]) -> Chip:
    """The DEV_ID does not tell single- from dual-core H7s; the AP of the second core does."""
    if chip.dual_core:
        return chip
    for row in chips_for_dev_id(dev_id):
        if not row.dual_core or len(row.access_ports) < 2:
            continue
        if is_ahb_ap(aps.get(str(row.access_ports[1]), "")):  # a MEM-AP where the second core sits
            found = lookup_chip(dev_id, kib, row.cores[1])
            if found is not None:
                return found
    return chip


def read_option(access: StlinkAccess, field: OptionField) -> int:
    """A field's live value (H7: the *_CUR register), from the aligned word that holds it."""
    address = field.current_address or field.address
    word = access.read32(address & ~3)
    return field.extract(word >> (8 * (address & 3)))


def _geometry(access: StlinkAccess, chip: Chip, obs: dict[str, object]) -> Chip:
    """The bank layout the option bytes select (F76x nDBANK=0, G47x DBANK=0...)."""
    for geometry in chip.alt_geometries:
        field = chip.option_field(geometry.option)
        if field is None:
            continue
        try:
            value = read_option(access, field)
        except StflashError:
            continue
        if value == geometry.value:
            obs["geometry"] = f"{geometry.option}={value}"
            return chip.with_options({geometry.option: value})
    return chip


def _protection(access: StlinkAccess, chip: Chip, obs: dict[str, object]) -> int | None:
    """RDP level from the RDP field, and whether the start of flash can be read."""
    level: int | None = None
    field = chip.option_field("RDP")
    if field is not None:
        address = field.current_address or field.address
        try:
            value = read_option(access, field)
            level = field.rdp_level(value)
            obs["rdp"] = {"register": field.register, "address": _hex(address), "value": f"{value:#04x}",
                          "level": level}
        except StflashError as exc:
            obs["rdp_error"] = exc.message
    try:
        access.read32(chip.flash_base)
        obs["flash_read"] = "ok"
    except StflashError as exc:
        obs["flash_read"] = f"refused: {exc.message}"
        if level is None and "flash_size_kib" in obs:  # system memory answers, flash does not: protection
            level = 1
            obs["rdp_inferred"] = 1
    return level
