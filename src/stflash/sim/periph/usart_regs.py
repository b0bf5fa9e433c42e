"""The two USART register layouts of the modelled families, decoded onto ``usart.Usart``.

Legacy (F1/F2/F4; RM0090, RM0368 USART registers): SR 0x00, DR 0x04, BRR 0x08, CR1 0x0C, CR2 0x10,
CR3 0x14, GTPR 0x18. SR resets to 0x0000_00C0 (TXE, TC). PE, FE, NF, ORE and IDLE are cleared by a
read of SR followed by a read of DR; RXNE by a read of DR (or writing 0 to it); TC by a read of SR
followed by a write to DR (or writing 0 to it). CR1: UE 13, M 12 (9-bit word), PCE 10, PS 9, TE 3,
RE 2, OVER8 15. Any register may be written while UE = 1.

Modern (H7: RM0433, G0: RM0444 USART registers): CR1 0x00, CR2 0x04, CR3 0x08, BRR 0x0C, GTPR 0x10,
RTOR 0x14, RQR 0x18, ISR 0x1C, ICR 0x20, RDR 0x24, TDR 0x28, PRESC 0x2C. ISR resets to
0x0080_00C0 (TXFE [UNCONFIRMED outside FIFO mode], TC, TXE); TEACK/REACK (21/22) follow TE/RE while UE = 1. PE, FE, ORE, IDLE and TC
are cleared through ICR (PECF 0, FECF 1, ORECF 3, IDLECF 4, TCCF 6); RXNE by reading RDR or RQR.RXFRQ
(bit 3); RQR.TXFRQ (bit 4) empties TDR; a write to TDR clears TC. CR1: UE 0, RE 2, TE 3, PS 9, PCE
10, M0 12, OVER8 15, M1 28 (M1:M0 = 00 8-bit, 01 9-bit, 10 7-bit word), FIFOEN 29; CR3.OVRDIS 12
(a character received while RXNE is set overwrites RDR and ORE stays clear). Clearing UE discards
what is in progress and puts ISR back to its reset value. The word-format and rate fields (CR1 M,
PCE, PS, OVER8, FIFOEN; CR2; most of CR3; BRR; PRESC) can only be written while UE = 0: writes to
them while UE = 1 are ignored here.

Both: CR2.STOP[13:12] (00 1, 01 0.5, 10 2, 11 1.5 stop bits); with parity the word's MSB is the
parity bit (sent in its place, read back in RDR/DR). Baud rate = kernel clock / PRESC / USARTDIV with
USARTDIV = BRR (OVER8 = 0, at least 16) or 8 x BRR[15:4] + BRR[2:0] (OVER8 = 1, at least 8).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..uart.frames import Framing

if TYPE_CHECKING:
    from .usart import Usart

# status bits, the same in SR and ISR
PE, FE, ORE, IDLE, RXNE, TC, TXE = 1 << 0, 1 << 1, 1 << 3, 1 << 4, 1 << 5, 1 << 6, 1 << 7
TEACK, REACK, TXFE = 1 << 21, 1 << 22, 1 << 23
ERRORS = PE | FE | (1 << 2) | ORE | IDLE  # what the legacy SR-then-DR sequence clears

L_SR, L_DR, L_BRR, L_CR1, L_CR2, L_CR3, L_GTPR = 0x00, 0x04, 0x08, 0x0C, 0x10, 0x14, 0x18
L_UE, L_M, L_PCE, L_PS, L_TE, L_RE = 1 << 13, 1 << 12, 1 << 10, 1 << 9, 1 << 3, 1 << 2

M_CR1, M_CR2, M_CR3, M_BRR, M_GTPR, M_RTOR, M_RQR, M_ISR, M_ICR, M_RDR, M_TDR, M_PRESC = range(0, 0x30, 4)
M_UE, M_RE, M_TE, M_PS, M_PCE, M_M0, M_M1, M_FIFOEN = 1, 1 << 2, 1 << 3, 1 << 9, 1 << 10, 1 << 12, 1 << 28, 1 << 29
OVER8 = 1 << 15
RXFRQ, TXFRQ = 1 << 3, 1 << 4
OVRDIS = 1 << 12
ICR_CLEARS = {0: "pe", 1: "fe", 3: "ore", 4: "idle", 6: "tc"}
# fields the modern USART only takes while UE = 0
M_CR1_LOCKED = M_M0 | M_M1 | OVER8 | M_PCE | M_PS | M_FIFOEN | (1 << 11) | (0x3FF << 16)  # + WAKE, DEAT, DEDT
M_CR3_LOCKED = 0x0000_FF3A | OVRDIS  # OVRDIS, ONEBIT, CTSE, RTSE, DEM, DEP, HDSEL, SCEN, IREN, ...

STOP_BITS = {0: 1.0, 1: 0.5, 2: 2.0, 3: 1.5}
PRESC = (1, 2, 4, 6, 8, 10, 12, 16, 32, 64, 128, 256)
# CR2/CR3 bits that change what is on the wire or how it flows, which the model does not follow
UNSUPPORTED_CR2 = {11: "CLKEN (synchronous mode)", 14: "LINEN (LIN mode)"}
UNSUPPORTED_CR2_MODERN = {15: "SWAP", 16: "RXINV", 17: "TXINV", 18: "DATAINV", 19: "MSBFIRST",
                          20: "ABREN (auto-baud)"}
UNSUPPORTED_CR3 = {1: "IREN (IrDA)", 3: "HDSEL (half-duplex)", 5: "SCEN (smartcard)", 6: "DMAR (DMA)",
                   7: "DMAT (DMA)", 8: "RTSE (flow control)", 9: "CTSE (flow control)"}


# -- configuration ----------------------------------------------------------------------------------
def enables(u: Usart) -> tuple[bool, bool, bool]:
    """UE, TE, RE."""
    if u.modern:
        return bool(u.cr1 & M_UE), bool(u.cr1 & M_TE), bool(u.cr1 & M_RE)
    return bool(u.cr1 & L_UE), bool(u.cr1 & L_TE), bool(u.cr1 & L_RE)


def framing(u: Usart) -> tuple[Framing, str]:
    """The character format CR1/CR2 select, and why it cannot be used ("" when it can)."""
    problem = ""
    if u.modern:
        m = (u.cr1 >> 27 & 2) | (u.cr1 >> 12 & 1)  # M1:M0
        word = {0: 8, 1: 9, 2: 7}.get(m, 8)
        if m == 3:
            problem = "M1:M0 = 11 (reserved word length)"
        pce, odd = u.cr1 & M_PCE, u.cr1 & M_PS
    else:
        word = 9 if u.cr1 & L_M else 8
        pce, odd = u.cr1 & L_PCE, u.cr1 & L_PS
    parity = ("O" if odd else "E") if pce else "N"
    return Framing(word - (1 if pce else 0), parity, STOP_BITS[u.cr2 >> 12 & 3]), problem


def divisor(u: Usart) -> float | None:
    """Kernel clock cycles per bit (PRESC included); None below the divider's minimum."""
    brr = u.brr & 0xFFFF
    over8 = u.cr1 & OVER8
    div = 8 * (brr >> 4) + (brr & 7) if over8 else brr
    if div < (8 if over8 else 16):
        return None
    scale = PRESC[min(u.presc & 0xF, len(PRESC) - 1)] if u.modern else 1
    return float(div * scale)


def unsupported(u: Usart) -> str:
    """The first enabled feature the model does not follow, or ""."""
    cr2 = dict(UNSUPPORTED_CR2)
    if u.modern:
        cr2.update(UNSUPPORTED_CR2_MODERN)
        if u.fifo and u.cr1 & M_FIFOEN:
            return "FIFOEN (FIFO mode is not modelled)"
    for bit, name in cr2.items():
        if u.cr2 >> bit & 1:
            return f"CR2.{name} is not modelled"
    for bit, name in UNSUPPORTED_CR3.items():
        if u.cr3 >> bit & 1:
            return f"CR3.{name} is not modelled"
    return ""


def overrun_disabled(u: Usart) -> bool:
    return u.modern and bool(u.cr3 & OVRDIS)


# -- status -----------------------------------------------------------------------------------------------
def status(u: Usart) -> int:
    value = (PE * u.pe | FE * u.fe | ORE * u.ore | IDLE * u.idle | RXNE * u.rxne | TC * u.tc
             | TXE * (u.tdr is None))
    if u.modern:
        ue, te, re = enables(u)
        # TXFE: [UNCONFIRMED] outside FIFO mode taken as "TDR empty" (it is 1 in ISR's reset value)
        value |= TEACK * (ue and te) | REACK * (ue and re) | TXFE * (u.tdr is None)
    return value


# -- accesses ---------------------------------------------------------------------------------------------
def read(u: Usart, off: int) -> int:
    if u.modern:
        return _read_modern(u, off)
    if off == L_SR:
        value = status(u)
        u.sr_seen = value & ERRORS
        u.tc_seq = True
        return value
    if off == L_DR:
        return _take(u)
    return {L_BRR: u.brr, L_CR1: u.cr1, L_CR2: u.cr2, L_CR3: u.cr3, L_GTPR: u.gtpr}.get(off, 0)


def _read_modern(u: Usart, off: int) -> int:
    if off == M_ISR:
        return status(u)
    if off == M_RDR:
        return _take(u)
    return {M_CR1: u.cr1, M_CR2: u.cr2, M_CR3: u.cr3, M_BRR: u.brr, M_GTPR: u.gtpr, M_RTOR: u.rtor,
            M_PRESC: u.presc}.get(off, 0)


def _take(u: Usart) -> int:
    """A read of RDR (DR): RXNE clears; on the legacy USART it ends an SR-then-DR sequence."""
    u.rxne = False
    if not u.modern and u.sr_seen >= 0:
        seen = u.sr_seen
        u.pe &= not seen & PE
        u.fe &= not seen & FE
        u.ore &= not seen & ORE
        u.idle &= not seen & IDLE
        u.sr_seen = -1
    return u.rdr


def write(u: Usart, off: int, lane: int, mask: int) -> None:
    if u.modern:
        _write_modern(u, off, lane, mask)
        return
    if off == L_SR:
        cleared = ~lane & mask  # RXNE and TC are rc_w0; the other bits are read-only
        if cleared & RXNE:
            u.rxne = False
        if cleared & TC:
            u.tc = False
        return
    if off == L_DR:
        if u.tc_seq:
            u.tc = False
            u.tc_seq = False
        u.write_data(lane)
        return
    names = {L_BRR: "brr", L_CR1: "cr1", L_CR2: "cr2", L_CR3: "cr3", L_GTPR: "gtpr"}
    if off in names:
        name = names[off]
        setattr(u, name, (getattr(u, name) & ~mask) | lane)
        u.reconfigure()


def _write_modern(u: Usart, off: int, lane: int, mask: int) -> None:
    ue = bool(u.cr1 & M_UE)
    if off == M_TDR:
        u.tc = False
        u.write_data(lane)
    elif off == M_ICR:
        for bit, name in ICR_CLEARS.items():
            if lane >> bit & 1:
                setattr(u, name, False)
    elif off == M_RQR:
        if lane & RXFRQ:
            u.rxne = False
        if lane & TXFRQ:
            u.tdr = None
    elif off == M_CR1:
        value = (u.cr1 & ~mask) | lane
        if ue:
            value = (value & ~M_CR1_LOCKED) | (u.cr1 & M_CR1_LOCKED)
        u.cr1 = value
        if ue and not value & M_UE:
            _disable(u)
        u.reconfigure()
    elif off in (M_CR2, M_CR3, M_BRR, M_PRESC, M_GTPR, M_RTOR):
        name = {M_CR2: "cr2", M_CR3: "cr3", M_BRR: "brr", M_PRESC: "presc", M_GTPR: "gtpr", M_RTOR: "rtor"}[off]
        locked = {M_CR2: 0xFFFF_FFFF, M_CR3: M_CR3_LOCKED, M_BRR: 0xFFFF_FFFF, M_PRESC: 0xFFFF_FFFF}.get(off, 0)
        old = getattr(u, name)
        value = (old & ~mask) | lane
        if ue:
            value = (value & ~locked) | (old & locked)
        setattr(u, name, value)
        u.reconfigure()


def _disable(u: Usart) -> None:
    """Modern UE cleared: what was in progress is discarded and ISR returns to its reset value."""
    u.rxne = u.pe = u.fe = u.ore = u.idle = False
    u.tc = True
    u.tdr = None
    u.shift = None
    u.idle_at = None
