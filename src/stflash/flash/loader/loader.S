@ stflash flash loader: runs on the target from SRAM while the debug probe streams data into it.
@
@ ARMv6-M instructions only, so one binary runs on Cortex-M0/M0+/M3/M4/M7. Position independent:
@ no absolute address anywhere (literals are PC-relative), so it runs wherever the host puts it.
@ Entry at offset 0 with r0 = the control block; the stack is only touched by a fault. It always
@ ends on BKPT with its status in the control block and r0 = the control block again, so the
@ next run only needs a new PC. Build: python3 -m stflash.flash.loader.build (loader.bin beside it).
@
@ Control block (32-bit words; offsets are mirrored in layout.py, a test checks they agree):
    .equ CB_CMD,       0x00     @ host: 1 program, 2 check (CRC32 / blank)
    .equ CB_STATUS,    0x04     @ loader: 0 running, 1 done, 2 flash error, 3 unknown command, 4 step error
    .equ CB_SR,        0x08     @ program: flash status register address
    .equ CB_BUSY,      0x0C     @ program: unit done when (SR & BUSY) == 0
    .equ CB_ERRMASK,   0x10     @ program: (SR & ERRMASK) != 0 stops with a flash error
    .equ CB_WIDTH,     0x14     @ program: bytes per store: 1, 2 or 4
    .equ CB_UNIT,      0x18     @ program: bytes stored before SR is polled (a multiple of WIDTH)
    .equ CB_KICK,      0x1C     @ IWDG_KR address refreshed after every unit, wait and range (0: none)
    .equ CB_FAIL_ADDR, 0x20     @ loader: flash address of the unit that failed / the step that failed
    .equ CB_FAIL_SR,   0x24     @ loader: the status word as read then
    .equ CB_DONE,      0x28     @ loader: bytes stored (the last unit may be running) / ranges checked,
                                @ with DONE_STOPPED (and DONE_FAILED) set when it stops; the host
                                @ writes DONE_NOT_STARTED, which the loader's first store clears
    .equ CB_COUNT,     0x2C     @ host: chunks in this program run / entries of the check job
    .equ CB_INDEX,     0x30     @ loader: chunks finished
    .equ CB_SLOT0,     0x34     @ program: descriptor of the first buffer
    .equ CB_STRIDE,    0x38     @ program: distance between descriptors
    .equ CB_SLOTEND,   0x3C     @ program: SLOT0 + number of buffers * STRIDE
    .equ CB_FIRST,     0x40     @ program: steps run at once, before the first chunk arrives
    .equ CB_NFIRST,    0x44     @ program: their number
    .equ CB_TABLE,     0x48     @ check: where to build the 1 KiB CRC table (0: no CRC entry)
    .equ CB_LIST,      0x4C     @ check: COUNT entries of {address, length, result}
    .equ CB_ERASED,    0x50     @ check: the erased word (0xFFFFFFFF, or 0 on L0/L1)
    .equ CB_LAST,      0x54     @ program: steps run after the last chunk (out of program mode)
    .equ CB_NLAST,     0x58     @ program: their number
    .equ CB_SEQ0,      0x5C     @ program: this run's first sequence number less one (a stale
                                @ descriptor of an earlier run never matches)
    .equ DONE_STOPPED,     31
    .equ DONE_NOT_STARTED, 30
    .equ DONE_FAILED,      29
    .equ BLANK_FLAG,       31   @ check: length bit 31 asks "all erased?" (result 1/0) instead of a CRC
@ Chunk descriptor (one per buffer, right after the buffer's data and steps): the host writes the
@ data, the steps and the descriptor in one ascending transfer, SEQ last, so a chunk is published
@ complete. The loader never writes a descriptor: a buffer is free again once DONE has passed the
@ chunk's last byte (everything the loader needs from it has been read by then).
    .equ D_STEPS, 0x00          @ address of the first step to run before the data
    .equ D_NSTEPS, 0x04         @ their number
    .equ D_DATA,  0x08          @ RAM address of the bytes
    .equ D_LEN,   0x0C          @ byte count, a multiple of UNIT
    .equ D_DEST,  0x10          @ flash address, UNIT-aligned
    .equ D_SEQ,   0x14          @ SEQ0 + chunk number + 1 (written last)
@ Step (the flash controller work a driver describes: erase a sector, enter program mode):
    .equ S_KIND,   0x0          @ 1 store VALUE at ADDR, 2 wait until (word at ADDR & VALUE) == 0
    .equ S_ADDR,   0x4
    .equ S_VALUE,  0x8
    .equ S_ERRORS, 0xC          @ wait: then (word & ERRORS) != 0 stops with a step error
    .equ STEP_STORE, 1
    .equ STEP_WAIT,  2
    .equ CMD_PROGRAM, 1
    .equ CMD_CHECK,   2
    .equ ST_RUNNING,  0
    .equ ST_DONE,     1
    .equ ST_FLASH_ERROR, 2
    .equ ST_BAD_COMMAND, 3
    .equ ST_STEP_ERROR,  4
    .equ IWDG_REFRESH, 0xAAAA

    .syntax unified
    .thumb
    .text

entry:
    movs r7, r0
    movs r0, #ST_RUNNING
    str  r0, [r7, #CB_STATUS]       @ the host knows the core really runs this code
    movs r0, #0
    str  r0, [r7, #CB_DONE]
    ldr  r0, [r7, #CB_CMD]
    cmp  r0, #CMD_PROGRAM
    beq  program
    cmp  r0, #CMD_CHECK
    bne  1f
    b    check
1:  movs r0, #ST_BAD_COMMAND
finish:                             @ r0 = status
    str  r0, [r7, #CB_STATUS]
    movs r2, #1
    lsls r2, r2, #DONE_STOPPED
    cmp  r0, #ST_DONE
    beq  1f
    movs r3, #1
    lsls r3, r3, #DONE_FAILED
    orrs r2, r3
1:  ldr  r1, [r7, #CB_DONE]
    orrs r1, r2
    dsb                             @ everything before it is visible once the host sees STOPPED
    str  r1, [r7, #CB_DONE]
    movs r0, r7
2:  bkpt #0
    b    2b

@ ---- steps: r4 first step, r5 count; r0-r3 scratch; r6, r7 kept; returns with bx lr -------------
run_steps:
    cmp  r5, #0
    beq  4f
1:  ldr  r0, [r4, #S_KIND]
    ldr  r1, [r4, #S_ADDR]
    ldr  r2, [r4, #S_VALUE]
    cmp  r0, #STEP_WAIT
    beq  2f
    str  r2, [r1]
    dsb                             @ the controller has the store before the next step reads it
    b    3f
2:  mov  r3, r11                    @ an erase can outlast the watchdog: refresh it while waiting
    cmp  r3, #0
    beq  5f
    ldr  r0, =IWDG_REFRESH
    str  r0, [r3]
5:  ldr  r0, [r1]
    tst  r0, r2
    bne  2b
    ldr  r3, [r4, #S_ERRORS]
    tst  r0, r3
    bne  step_error
3:  adds r4, #16
    subs r5, #1
    bne  1b
4:  bx   lr

step_error:                         @ r0 = the word read, r4 = the step
    str  r0, [r7, #CB_FAIL_SR]
    str  r4, [r7, #CB_FAIL_ADDR]
    movs r0, #ST_STEP_ERROR
    b    finish

@ ---- programming ------------------------------------------------------------------------------
@ r7 control block, r6 descriptor, r1 source, r2 flash, r3 end of source, r0/r4/r5 scratch;
@ r8 SR address, r9 busy mask, r10 error mask, r11 IWDG_KR (or 0), r12 unit
@ DONE counts a unit as soon as its stores are out, so the bookkeeping overlaps the flash's own
@ time; after an error or a fault the last unit counted is the one that was not confirmed.
    .macro unit_end again           @ after the stores of one unit; on to \again when it is done
    dsb                             @ the stores reach the controller before SR is read
    mov  r4, r11
    cmp  r4, #0
    beq  1f
    ldr  r0, =IWDG_REFRESH
    str  r0, [r4]
1:  ldr  r5, [r7, #CB_DONE]
    add  r5, r12
    str  r5, [r7, #CB_DONE]
    mov  r4, r8
    mov  r5, r9
2:  ldr  r0, [r4]
    tst  r0, r5
    bne  2b
    mov  r5, r10
    tst  r0, r5
    bne  flash_error
    b    \again
    .endm

program:
    ldr  r0, [r7, #CB_SR]
    mov  r8, r0
    ldr  r0, [r7, #CB_BUSY]
    mov  r9, r0
    ldr  r0, [r7, #CB_ERRMASK]
    mov  r10, r0
    ldr  r0, [r7, #CB_KICK]
    mov  r11, r0
    ldr  r0, [r7, #CB_UNIT]
    mov  r12, r0
    movs r0, #0
    str  r0, [r7, #CB_INDEX]
    ldr  r4, [r7, #CB_FIRST]        @ the first sector's erase runs while the probe sends its data
    ldr  r5, [r7, #CB_NFIRST]
    bl   run_steps
    ldr  r6, [r7, #CB_SLOT0]
next_chunk:
    ldr  r0, [r7, #CB_INDEX]
    ldr  r1, [r7, #CB_COUNT]
    cmp  r0, r1
    bhs  chunks_done
    adds r1, r0, #1
    ldr  r0, [r7, #CB_SEQ0]
    adds r1, r0                     @ the sequence number the next chunk carries
wait_chunk:
    ldr  r0, [r6, #D_SEQ]
    cmp  r0, r1
    bne  wait_chunk
    dmb                             @ the descriptor's other words, the steps and data after SEQ
    ldr  r4, [r6, #D_STEPS]
    ldr  r5, [r6, #D_NSTEPS]
    bl   run_steps
    ldr  r1, [r6, #D_DATA]
    ldr  r3, [r6, #D_LEN]
    adds r3, r1
    ldr  r2, [r6, #D_DEST]
    ldr  r0, [r7, #CB_WIDTH]
    cmp  r0, #4
    beq  unit32
    cmp  r0, #2
    beq  unit16
unit8:
    cmp  r1, r3
    bhs  chunk_done
    mov  r4, r12
1:  ldrb r5, [r1]
    strb r5, [r2]
    adds r1, #1
    adds r2, #1
    subs r4, #1
    bne  1b
    unit_end unit8
unit16:
    cmp  r1, r3
    bhs  chunk_done
    mov  r4, r12
1:  ldrh r5, [r1]
    strh r5, [r2]
    adds r1, #2
    adds r2, #2
    subs r4, #2
    bne  1b
    unit_end unit16
unit32:
    cmp  r1, r3
    bhs  chunk_done
    mov  r4, r12
1:  ldm  r1!, {r5}
    str  r5, [r2]
    adds r2, #4
    subs r4, #4
    bne  1b
    unit_end unit32
chunk_done:
    ldr  r0, [r7, #CB_INDEX]
    adds r0, #1
    str  r0, [r7, #CB_INDEX]
    ldr  r0, [r7, #CB_STRIDE]
    adds r6, r0
    ldr  r0, [r7, #CB_SLOTEND]
    cmp  r6, r0
    blo  next_chunk
    ldr  r6, [r7, #CB_SLOT0]
    b    next_chunk
chunks_done:
    ldr  r4, [r7, #CB_LAST]
    ldr  r5, [r7, #CB_NLAST]
    bl   run_steps
done:
    movs r0, #ST_DONE
    b    finish
flash_error:
    str  r0, [r7, #CB_FAIL_SR]
    mov  r4, r12
    subs r2, r4
    str  r2, [r7, #CB_FAIL_ADDR]
    movs r0, #ST_FLASH_ERROR
    b    finish

@ IWDG refresh when the host gave its key register; clobbers r0 and r4 only
kick:
    ldr  r4, [r7, #CB_KICK]
    cmp  r4, #0
    beq  1f
    ldr  r0, =IWDG_REFRESH
    str  r0, [r4]
1:  bx   lr

@ ---- check: CRC32 (zlib: reflected 0xEDB88320, init and final XOR 0xFFFFFFFF) or blank -------
@ r7 control block, r5 table, r6 list entry, r0 crc, r1 address, r2 end, r3/r4 scratch
    .macro crc_byte                 @ crc = table[(crc ^ r3) & 0xFF] ^ (crc >> 8)
    eors r3, r0
    uxtb r3, r3
    lsls r3, r3, #2
    ldr  r3, [r5, r3]
    lsrs r0, r0, #8
    eors r0, r3
    .endm
    .macro crc_low                  @ the same for the low byte of crc itself
    uxtb r3, r0
    lsls r3, r3, #2
    ldr  r3, [r5, r3]
    lsrs r0, r0, #8
    eors r0, r3
    .endm
    .macro crc_word                 @ one aligned word from r1 (r1 += 4)
    ldm  r1!, {r3}
    eors r0, r3
    crc_low
    crc_low
    crc_low
    crc_low
    .endm

check:
    ldr  r5, [r7, #CB_TABLE]
    cmp  r5, #0
    beq  ranges                     @ blank checks only: no table
    ldr  r6, =0xEDB88320
    movs r2, #0
table_entry:
    movs r3, r2
    movs r4, #8
table_bit:
    lsrs r3, r3, #1
    bcc  1f
    eors r3, r6
1:  subs r4, #1
    bne  table_bit
    lsls r4, r2, #2
    str  r3, [r5, r4]
    adds r2, #1
    lsrs r4, r2, #8
    beq  table_entry
ranges:
    ldr  r6, [r7, #CB_LIST]
range:
    ldr  r0, [r7, #CB_DONE]
    ldr  r1, [r7, #CB_COUNT]
    cmp  r0, r1
    blo  1f
    b    done
1:  ldr  r1, [r6, #0]
    ldr  r2, [r6, #4]
    lsls r0, r2, #1                 @ carry = BLANK_FLAG
    bcc  crc_range
blank:                              @ whole words (the host asks for aligned ranges only)
    lsrs r2, r0, #1
    adds r2, r1                     @ end
    ldr  r3, [r7, #CB_ERASED]
    movs r0, #1
1:  cmp  r1, r2
    bhs  2f
    ldm  r1!, {r4}
    cmp  r4, r3
    beq  1b
    movs r0, #0
2:  b    result
crc_range:
    adds r2, r1
    movs r0, #0
    mvns r0, r0
head:                               @ bytes up to the first aligned word
    cmp  r1, r2
    bne  1f
    b    range_end
1:  lsls r3, r1, #30
    beq  aligned
    ldrb r3, [r1]
    adds r1, #1
    crc_byte
    b    head
aligned:
    subs r4, r2, r1
    lsrs r4, r4, #4
    lsls r4, r4, #4
    adds r4, r1                     @ end of the 16-byte blocks
    cmp  r1, r4
    beq  words
blocks:
    crc_word
    crc_word
    crc_word
    crc_word
    cmp  r1, r4
    bne  blocks
words:
    subs r4, r2, r1
    lsrs r4, r4, #2
    lsls r4, r4, #2
    adds r4, r1                     @ end of the remaining words
tail_words:
    cmp  r1, r4
    beq  tail
    crc_word
    b    tail_words
tail:
    cmp  r1, r2
    beq  range_end
    ldrb r3, [r1]
    adds r1, #1
    crc_byte
    b    tail
range_end:
    mvns r0, r0
result:
    str  r0, [r6, #8]
    adds r6, #12
    ldr  r0, [r7, #CB_DONE]
    adds r0, #1
    str  r0, [r7, #CB_DONE]
    bl   kick
    b    range

    .ltorg
