"""Where the loader, its control block, its stack and its buffers sit in the target's RAM, and
the control block's word offsets (the same numbers as the ``.equ`` lines of ``loader.S``)."""

from __future__ import annotations

from dataclasses import dataclass

from ...chips.model import Region

# control block words (loader.S)
CB_CMD, CB_STATUS, CB_SR, CB_BUSY, CB_ERRMASK, CB_WIDTH, CB_UNIT, CB_KICK = range(0x00, 0x20, 4)
CB_FAIL_ADDR, CB_FAIL_SR, CB_DONE, CB_NBUF, CB_INDEX, CB_TABLE, CB_LIST, CB_COUNT = range(0x20, 0x40, 4)
CB_BUFS = 0x40
D_DATA, D_LEN, D_DEST, D_STATE = 0x0, 0x4, 0x8, 0xC
DESCRIPTOR_SIZE = 16
MAX_BUFFERS = 4
CONTROL_SIZE = CB_BUFS + MAX_BUFFERS * DESCRIPTOR_SIZE

B_EMPTY, B_FULL, B_END = 0, 1, 2
CMD_PROGRAM, CMD_CRC = 1, 2
ST_RUNNING, ST_DONE, ST_FLASH_ERROR, ST_BAD_COMMAND = 0, 1, 2, 3
ST_NOT_STARTED = 0xFFFF_FFFF  # written by the host; the loader's first store replaces it

STACK_SIZE = 256  # the loader uses none; room for an exception frame should something fault
BUFFER_STEP = 256  # buffer sizes are multiples of every program unit (2 ... 128 bytes)
MIN_BUFFER = 256
CRC_TABLE_SIZE = 1024
CRC_ENTRY_SIZE = 12  # address, length, result


@dataclass(frozen=True)
class Layout:
    """Addresses in the target's RAM for one loader placement."""

    code: int  # entry point (the loader's first byte)
    control: int
    stack_top: int
    buffers: tuple[int, ...]
    buffer_size: int

    @property
    def work_area(self) -> tuple[int, int]:
        """The buffers as one range (the CRC job's table and list go there)."""
        return self.buffers[0], self.buffer_size * len(self.buffers)

    @property
    def end(self) -> int:
        return self.buffers[-1] + self.buffer_size


def plan_layout(ram: Region, code_size: int, *, buffers: int = 2, max_buffer: int = 16 * 1024) -> Layout | None:
    """Code at the start of ``ram``, then the control block, the stack and ``buffers`` equal
    buffers of at most ``max_buffer`` bytes; None when the buffers would be smaller than
    ``MIN_BUFFER`` (the register path is then as fast)."""
    if not 1 <= buffers <= MAX_BUFFERS:
        raise ValueError(f"{buffers} buffers: the loader takes 1 to {MAX_BUFFERS}")
    control = ram.start + _align(code_size, 16)
    stack_top = _align(control + CONTROL_SIZE + STACK_SIZE, 16)
    free = ram.end - stack_top
    size = min(max_buffer, free // buffers) // BUFFER_STEP * BUFFER_STEP
    if size < MIN_BUFFER:
        return None
    return Layout(ram.start, control, stack_top, tuple(stack_top + i * size for i in range(buffers)), size)


def _align(value: int, step: int) -> int:
    return (value + step - 1) // step * step
