"""Characters on a UART wire: frame formats, their duration, and what a receiver set to another
format or baud rate makes of them.

The ROM speaks 8E1 (uart.md 1.1). A host that uses the same format and rate is passed straight
through; otherwise the sender's frames are laid out as a waveform and sampled the way a USART
does (falling edge = start bit, every bit sampled in its middle), so a wrong format gives the
garbage real hardware gives: e.g. an 8N1 host's 0x7F still syncs (its stop bit lands where the
ROM samples parity and 0x7F has odd weight), but back-to-back bytes run into each other
(the next start bit is sampled as the stop bit: a framing error, and the rest of that character
is lost) — the "0x7F/0x79 works, then 0x01 0xFE gets no answer" report of uart.md 13.2.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

NS_PER_S = 1_000_000_000


@dataclass(frozen=True)
class Framing:
    """One character format: data bits, parity ("N", "E", "O", "M", "S") and stop bits."""

    data_bits: int = 8
    parity: str = "E"
    stop_bits: float = 1.0

    @property
    def bits(self) -> float:
        """Bit times one character occupies: start + data + parity + stop."""
        return 1 + self.data_bits + (0 if self.parity == "N" else 1) + self.stop_bits

    def char_ns(self, baud: float) -> int:
        return round(self.bits * NS_PER_S / baud)

    def parity_bit(self, value: int) -> int | None:
        ones = bin(value & ((1 << self.data_bits) - 1)).count("1")
        return {"N": None, "E": ones & 1, "O": (ones & 1) ^ 1, "M": 1, "S": 0}[self.parity]


ROM_FRAMING = Framing(8, "E", 1.0)  # every AN2606 USART configuration table: 8 bits, even parity, 1 stop


@dataclass(frozen=True)
class Char:
    """A character as a receiver saw it."""

    value: int
    end_ns: int  # when the receiver had it (end of its frame)
    parity_error: bool = False
    framing_error: bool = False
    parity: int | None = None  # the parity bit as sampled (a USART hands it over in the word's MSB)


# a character on the wire: (value, start_ns, its format, its rate in bits per second)
Wire = tuple[int, int, Framing, float]


def transcode(
    chars: list[tuple[int, int]], tx: Framing, tx_baud: float, rx: Framing, rx_baud: float,
    breaks: list[tuple[int, int]] | None = None,
) -> list[Char]:
    """What a receiver set to ``rx``/``rx_baud`` reads from ``chars`` ((value, start_ns) pairs, in
    order, sent with ``tx``/``tx_baud``). ``breaks`` are (start_ns, end_ns) spans held low."""
    if tx == rx and not breaks and samples_in_place(tx, tx_baud, rx_baud):
        span = rx.char_ns(rx_baud)
        return [Char(v, s + span, parity=rx.parity_bit(v)) for v, s in chars]
    low = low_spans([(v, s, tx, tx_baud) for v, s in chars], breaks or [])
    if not low:
        return []
    return sample(low, rx, rx_baud)[0]


def samples_in_place(framing: Framing, tx_baud: float, rx_baud: float) -> bool:
    """Does a receiver at ``rx_baud`` sample every bit of a character sent at ``tx_baud`` inside that
    bit? Its k-th sample, (k + 1/2) of its bit times after the start edge, must fall in the sender's
    k-th bit for every bit up to the stop bit; each character restarts on its own start edge, so
    then every character reads back unchanged (the same answer ``sample`` gives, without the cost)."""
    if tx_baud == rx_baud:
        return True
    ratio = tx_baud / rx_baud  # the receiver's bit time in the sender's bit times
    last = framing.bits - 1  # the stop bit's position
    return all(k <= (k + 0.5) * ratio < k + 1 for k in range(int(last) + 1))


def low_spans(chars: list[Wire], breaks: list[tuple[int, int]]) -> list[tuple[float, float]]:
    """The line's low spans (start, end) in ns, merged and sorted (idle is high); each character
    is laid out in its own format and rate."""
    spans: list[tuple[float, float]] = [(float(a), float(b)) for a, b in breaks]
    for value, start, tx, baud in chars:
        bit = NS_PER_S / baud
        levels = [0] + [(value >> i) & 1 for i in range(tx.data_bits)]
        p = tx.parity_bit(value)
        if p is not None:
            levels.append(p)
        t = float(start)
        for level in levels:
            if level == 0:
                spans.append((t, t + bit))
            t += bit
    spans.sort()
    merged: list[tuple[float, float]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1] + 1e-6:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _level(low: list[tuple[float, float]], t: float) -> int:
    i = bisect_right(low, (t, float("inf"))) - 1
    return 0 if i >= 0 and low[i][0] <= t < low[i][1] else 1


def sample(low: list[tuple[float, float]], rx: Framing, baud: float, search_from: float = float("-inf"),
           until: float = float("inf")) -> tuple[list[Char], float]:
    """The characters a receiver reads from the line, looking for start bits from ``search_from``
    on and keeping only those whose frame has ended by ``until``; also where it looks for the next
    start bit (a receiver that samples in steps goes on from there)."""
    bit = NS_PER_S / baud
    out: list[Char] = []
    for a, _b in low:
        if a < search_from:
            continue  # not a falling edge the receiver is waiting for
        # low spans are merged, so every span start is a 1 -> 0 edge
        start = a
        if start + rx.bits * bit > until:
            break  # this character (and every later one) is not complete yet
        if _level(low, start + bit / 2) != 0:
            continue  # a glitch shorter than half a bit is not a start bit
        value = 0
        for i in range(rx.data_bits):
            value |= _level(low, start + (1.5 + i) * bit) << i
        pos = 1 + rx.data_bits
        parity_error = False
        parity: int | None = None
        expected = rx.parity_bit(value)
        if expected is not None:
            parity = _level(low, start + (pos + 0.5) * bit)
            parity_error = parity != expected
            pos += 1
        stop_at = start + (pos + 0.5) * bit
        framing_error = _level(low, stop_at) == 0
        out.append(Char(value, round(start + rx.bits * bit), parity_error, framing_error, parity))
        search_from = stop_at
        if framing_error:
            # the line is low at the stop sample: the next start needs a new falling edge
            search_from = next((b for a2, b in low if a2 <= stop_at < b), stop_at)
            search_from += 1e-6
    return out, search_from
