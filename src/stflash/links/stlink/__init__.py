"""stflash's own ST-LINK link: USB transport, the probe's command set, DP/AP and memory access,
core control, connect modes and identification (stlink.md; families.md for the chip facts).

Use::

    probe = StlinkProbe.open(backend, serial, sleep=sleep)
    access = probe.connect(mode="normal", frequency=4_000_000, ap=0)   # a DebugAccess
    info = identify(probe)                                             # a TargetInfo
    ...
    probe.close()
"""

from __future__ import annotations

from .access import StlinkAccess
from .errors import ConnectFailed, MemoryFault, ProbeGone, StlinkStatusError, TargetNoAnswer, UnknownTarget
from .identify import identify
from .probe import CONNECT_MODES, StlinkProbe
from .transport import ProbeInfo, find_probes, normalize_serial, select_probe

__all__ = [
    "CONNECT_MODES", "ConnectFailed", "MemoryFault", "ProbeGone", "ProbeInfo", "StlinkAccess", "StlinkProbe",
    "StlinkStatusError", "TargetNoAnswer", "UnknownTarget", "find_probes", "identify", "normalize_serial",
    "select_probe",
]
