"""Where the loader, its control block, its stack and its buffers sit in the target's RAM, and
the control block's word offsets (the same numbers as the ``.equ`` lines of ``loader.S``).

Each buffer (a "slot") holds one chunk: its data, the steps to run before the data (erasing the
sector it starts, for instance) and, last, its descriptor. The host writes all three in one
ascending transfer that ends with the descriptor's sequence number, so a chunk is published
complete and one USB write fills a slot.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...chips.model import Region

# control block words (loader.S)
CB_CMD, CB_STATUS, CB_SR, CB_BUSY, CB_ERRMASK, CB_WIDTH, CB_UNIT, CB_KICK = range(0x00, 0x20, 4)
CB_FAIL_ADDR, CB_FAIL_SR, CB_DONE, CB_COUNT, CB_INDEX, CB_SLOT0, CB_STRIDE, CB_SLOTEND = range(0x20, 0x40, 4)
CB_FIRST, CB_NFIRST, CB_TABLE, CB_LIST, CB_ERASED, CB_LAST, CB_NLAST, CB_SEQ0 = range(0x40, 0x60, 4)
CONTROL_SIZE = 0x60

# the progress word (CB_DONE): a count in the low bits, flags on top
DONE_STOPPED, DONE_NOT_STARTED, DONE_FAILED = 31, 30, 29
COUNT_MASK = (1 << DONE_FAILED) - 1
BLANK_FLAG = 31  # check entries: length bit 31 asks for a blank check instead of a CRC

# chunk descriptor (at the end of each slot)
D_STEPS, D_NSTEPS, D_DATA, D_LEN, D_DEST, D_SEQ = range(0x00, 0x18, 4)
DESCRIPTOR_SIZE = 0x18
# step
S_KIND, S_ADDR, S_VALUE, S_ERRORS = range(0x0, 0x10, 4)
STEP_SIZE = 16
STEP_STORE, STEP_WAIT = 1, 2

CMD_PROGRAM, CMD_CHECK = 1, 2
ST_RUNNING, ST_DONE, ST_FLASH_ERROR, ST_BAD_COMMAND, ST_STEP_ERROR = 0, 1, 2, 3, 4

MAX_BUFFERS = 8  # more slots only shorten each one: the probe's per-write cost grows
STACK_SIZE = 256  # the loader uses none; room for an exception frame should something fault
BUFFER_STEP = 256  # buffer sizes are multiples of every program unit (2 ... 128 bytes)
MIN_BUFFER = 256
STEP_ROOM = 32 * STEP_SIZE  # steps that fit in a slot besides its data (a chunk with more is cut)
CRC_TABLE_SIZE = 1024
CRC_ENTRY_SIZE = 12  # address, length, result


@dataclass(frozen=True)
class Layout:
    """Addresses in the target's RAM for one loader placement. The control block is followed by
    ``step_room`` bytes for the steps a program run starts and ends with (``first_steps``), then
    the slots: slot ``i`` spans ``[buffers[i], buffers[i] + slot_size)``, ``buffer_size`` bytes
    of data, ``step_room`` bytes of steps, then the descriptor."""

    code: int  # entry point (the loader's first byte)
    control: int
    stack_top: int
    buffers: tuple[int, ...]
    buffer_size: int
    step_room: int = STEP_ROOM

    @property
    def slot_size(self) -> int:
        return self.buffer_size + self.step_room + DESCRIPTOR_SIZE

    def descriptor(self, slot: int) -> int:
        return self.buffers[slot] + self.buffer_size + self.step_room

    @property
    def first_steps(self) -> int:
        """Where a program run's first and last steps go (written with the control block)."""
        return self.control + CONTROL_SIZE

    @property
    def work_area(self) -> tuple[int, int]:
        """Everything after the control block as one range (a check job's list and CRC table,
        written and read back with the control block)."""
        return self.first_steps, self.end - self.first_steps

    @property
    def end(self) -> int:
        return self.buffers[-1] + self.slot_size


def plan_layout(ram: Region, code_size: int, *, buffers: int | None = None, max_buffer: int = 16 * 1024,
                step_room: int = STEP_ROOM) -> Layout | None:
    """Code at the start of ``ram``, then the stack, the control block and equal slots of at most
    ``max_buffer`` data bytes each: ``buffers`` of them, or as many as the RAM holds (2 to
    ``MAX_BUFFERS``, halving the buffer size before going below 2). None when a buffer would be
    smaller than ``MIN_BUFFER`` (the register path is then as fast)."""
    if buffers is not None and not 1 <= buffers <= MAX_BUFFERS:
        raise ValueError(f"{buffers} buffers: the loader takes 1 to {MAX_BUFFERS}")
    stack_top = _align(ram.start + code_size + STACK_SIZE, 16)
    control = stack_top  # what follows the control block is written with it in one transfer
    first = control + CONTROL_SIZE + step_room
    free = ram.end - first
    overhead = step_room + DESCRIPTOR_SIZE
    if buffers is None:
        size = max_buffer // BUFFER_STEP * BUFFER_STEP
        count = min(MAX_BUFFERS, free // (size + overhead)) if size else 0
        if count < 2:
            count = 2
            size = min(size, (free // 2 - overhead)) // BUFFER_STEP * BUFFER_STEP
    else:
        count = buffers
        size = min(max_buffer, free // count - overhead) // BUFFER_STEP * BUFFER_STEP
    if size < MIN_BUFFER:
        return None
    stride = _align(size + overhead, 8)
    return Layout(ram.start, control, stack_top, tuple(first + i * stride for i in range(count)), size,
                  stride - size - DESCRIPTOR_SIZE)


def _align(value: int, step: int) -> int:
    return (value + step - 1) // step * step
