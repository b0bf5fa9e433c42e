@ stflash flash loader: runs on the target from SRAM while the debug probe streams data into it.
@
@ ARMv6-M instructions only, so one binary runs on Cortex-M0/M0+/M3/M4/M7. Position independent:
@ no absolute address anywhere (literals are PC-relative), so it runs wherever the host puts it.
@ Entry at offset 0 with r0 = the control block; no stack use. It always ends on BKPT with its
@ status in the control block. Build: python3 -m stflash.flash.loader.build (loader.bin beside it).
@
@ Control block (32-bit words; offsets are mirrored in layout.py, a test checks they agree):
    .equ CB_CMD,       0x00     @ host: 1 program, 2 CRC32
    .equ CB_STATUS,    0x04     @ loader: 0 running, 1 done, 2 flash error, 3 unknown command
    .equ CB_SR,        0x08     @ program: flash status register address
    .equ CB_BUSY,      0x0C     @ program: unit done when (SR & BUSY) == 0
    .equ CB_ERRMASK,   0x10     @ program: (SR & ERRMASK) != 0 stops with a flash error
    .equ CB_WIDTH,     0x14     @ program: bytes per store: 1, 2 or 4
    .equ CB_UNIT,      0x18     @ program: bytes stored before SR is polled (a multiple of WIDTH)
    .equ CB_KICK,      0x1C     @ IWDG_KR address refreshed after every unit/range (0: none)
    .equ CB_FAIL_ADDR, 0x20     @ loader: flash address of the unit that failed
    .equ CB_FAIL_SR,   0x24     @ loader: SR as read after that unit
    .equ CB_DONE,      0x28     @ loader: bytes stored (the last unit may be running) / ranges summed
    .equ CB_NBUF,      0x2C     @ program: number of buffer descriptors (1..4)
    .equ CB_INDEX,     0x30     @ loader: descriptor it works on or waits for
    .equ CB_TABLE,     0x34     @ CRC: where to build the 1 KiB table
    .equ CB_LIST,      0x38     @ CRC: COUNT entries of {address, length, result}
    .equ CB_COUNT,     0x3C     @ CRC: number of entries
    .equ CB_BUFS,      0x40     @ program: descriptors, 16 bytes each
@ Buffer descriptor: the host writes DATA, LEN, DEST and then STATE (last word, so a probe writing
@ the descriptor in one ascending transfer publishes it complete).
    .equ D_DATA,  0x0           @ RAM address of the bytes
    .equ D_LEN,   0x4           @ byte count, a multiple of UNIT
    .equ D_DEST,  0x8           @ flash address, UNIT-aligned
    .equ D_STATE, 0xC           @ 0 empty (the host may fill it), 1 full, 2 end of data
    .equ B_EMPTY, 0
    .equ B_FULL,  1
    .equ CMD_PROGRAM, 1
    .equ CMD_CRC,     2
    .equ ST_RUNNING,  0
    .equ ST_DONE,     1
    .equ ST_FLASH_ERROR, 2
    .equ ST_BAD_COMMAND, 3
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
    cmp  r0, #CMD_CRC
    bne  1f
    b    crc
1:  movs r0, #ST_BAD_COMMAND
finish:                             @ r0 = status
    str  r0, [r7, #CB_STATUS]
2:  bkpt #0
    b    2b

@ ---- double-buffered programming ------------------------------------------------------------
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
next_buffer:
    ldr  r0, [r7, #CB_INDEX]
    lsls r6, r0, #4
    adds r6, #CB_BUFS
    adds r6, r7
wait_full:
    ldr  r0, [r6, #D_STATE]
    cmp  r0, #B_EMPTY
    beq  wait_full
    dmb                             @ the descriptor's other words after its state
    cmp  r0, #B_FULL
    bne  done
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
    bhs  buffer_done
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
    bhs  buffer_done
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
    bhs  buffer_done
    mov  r4, r12
1:  ldm  r1!, {r5}
    str  r5, [r2]
    adds r2, #4
    subs r4, #4
    bne  1b
    unit_end unit32
buffer_done:
    movs r0, #B_EMPTY
    str  r0, [r6, #D_STATE]         @ the host may refill it
    ldr  r0, [r7, #CB_INDEX]
    adds r0, #1
    ldr  r4, [r7, #CB_NBUF]
    cmp  r0, r4
    blo  1f
    movs r0, #0
1:  str  r0, [r7, #CB_INDEX]
    b    next_buffer
flash_error:
    str  r0, [r7, #CB_FAIL_SR]
    mov  r4, r12
    subs r2, r4
    str  r2, [r7, #CB_FAIL_ADDR]
    movs r0, #ST_FLASH_ERROR
    b    finish
done:
    movs r0, #ST_DONE
    b    finish

@ IWDG refresh when the host gave its key register; clobbers r0 and r4 only
kick:
    ldr  r4, [r7, #CB_KICK]
    cmp  r4, #0
    beq  1f
    ldr  r0, =IWDG_REFRESH
    str  r0, [r4]
1:  bx   lr

@ ---- CRC32 (zlib: reflected 0xEDB88320, init and final XOR 0xFFFFFFFF) ------------------------
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

crc:
    ldr  r5, [r7, #CB_TABLE]
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
    ldr  r6, [r7, #CB_LIST]
range:
    ldr  r0, [r7, #CB_DONE]
    ldr  r1, [r7, #CB_COUNT]
    cmp  r0, r1
    bhs  done
    ldr  r1, [r6, #0]
    ldr  r2, [r6, #4]
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
    str  r0, [r6, #8]
    adds r6, #12
    ldr  r0, [r7, #CB_DONE]
    adds r0, #1
    str  r0, [r7, #CB_DONE]
    bl   kick
    b    range

    .ltorg
