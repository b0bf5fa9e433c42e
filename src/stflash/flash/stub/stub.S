@ stflash UART stub: started by the USART system bootloader's Go, it takes over the USART the
@ host talks through and programs flash at the wire's speed. The ROM (AN3155) waits for an ACK
@ after every 256-byte frame; here the host streams frames of up to a few KiB into RAM slots while
@ the core erases and programs the ones before, checks each frame's CRC32 itself and answers one
@ byte per frame. It also sums flash ranges with CRC32 on the target, which no F4/H7 ROM offers.
@
@ ARMv6-M instructions only (Cortex-M0+ to M7), position independent. The host writes it and its
@ parameter block with Write Memory and starts it with Go: the first word of the image is the
@ MSP, which the host points at the parameter block (the stack grows down below it), the second
@ the entry. The stub knows nothing about the chip: the host gives the candidate USARTs' registers,
@ the steps that clock and configure them, and, in every frame, the steps that erase and enter program
@ mode (the same flash steps the ST-LINK loader runs). Polling only, no interrupt: every wait
@ (an erase, a program unit, the next frame, a free transmitter) keeps receiving.
@ Build: python3 -m stflash.flash.stub.build (stub.bin beside it).
@
@ Parameter block (host words, the stub's own, then host words again; mirrored in links/uart/stub.py):
    .equ P_SR,       0x00       @ USART status register (SR / ISR)
    .equ P_RXNE,     0x04       @ its "a character is in the data register" bit
    .equ P_TXE,      0x08       @ its "the transmit data register is free" bit
    .equ P_RDR,      0x0C       @ receive data register
    .equ P_TDR,      0x10       @ transmit data register
    .equ P_ERRS,     0x14       @ line error bits in the status register (ORE NE FE PE)
    .equ P_ICR,      0x18       @ where those bits are cleared by writing them (0: reading SR then
                                @ the data register clears them, as on F1/F2/F4 USARTs)
    .equ P_KICK,     0x1C       @ IWDG_KR, refreshed in every wait (0: no watchdog running)
    .equ P_SLOTEND,  0x20       @ end of the slots (SLOT0 + number * STRIDE)
    .equ P_SLOT0,    0x24       @ first slot
    .equ P_STRIDE,   0x28       @ bytes per slot: a state word, then one frame
    .equ P_TABLE,    0x2C       @ 1 KiB for the CRC32 table the stub builds
    .equ P_INIT,     0x30       @ steps that start the USART (clocks, pins, baud rate, format)
    .equ P_NINIT,    0x34
    .equ P_ERASED,   0x38       @ the erased word (blank checks)
    .equ P_MAXFRAME, 0x3C       @ the longest frame a slot holds
    .equ P_SETUPS,   0x40       @ two program setups of 5 words: SR, BUSY, ERRMASK, WIDTH, UNIT
    .equ P_RXSLOT,   0x44       @ stub: the slot being received
    .equ P_RXPOS,    0x48       @ stub: bytes of its frame received
    .equ P_RXNEED,   0x4C       @ stub: the frame's length (0 until its header is in)
    .equ P_RXCRC,    0x50       @ stub: CRC32 register over the frame so far
    .equ P_RXERR,    0x54       @ stub: line errors seen in the frame (bit 31: impossible length)
    .equ P_RESYNC,   0x58       @ stub: 0 framing; else 1 + the 0xA5 bytes seen in a row
    .equ P_PROC,     0x5C       @ stub: the slot to process next
    .equ P_LAST,     0x60       @ stub: sequence number of the last frame processed
    .equ P_DRAIN,    0x64       @ stub: 1 while the frames after a bad one are thrown away
    .equ P_PORTS,    0x68       @ the candidate USARTs: a table of PORT_SIZE entries
    .equ P_NPORTS,   0x6C
    .equ P_WAKE,     0x70       @ rounds over them without the wake pair before the stub gives up
    .equ P_ZERO,     0x74       @ always 0: P_SR points here until a USART is chosen
@ Port (one USART and its pins the ROM may have used; the host configured them all to receive):
    .equ PORT_SR,   0           @ its status, data and error-clear registers (as P_SR..P_TDR, P_ICR)
    .equ PORT_RDR,  4
    .equ PORT_TDR,  8
    .equ PORT_ICR,  12
    .equ PORT_TX,   16          @ steps that give it its TX pin, and their number
    .equ PORT_NTX,  20
    .equ PORT_LAST, 24          @ stub: the last two characters it received
    .equ PORT_SIZE, 32
    .equ WAKE, 0x5CC5           @ the host's wake pair: 0x5C then 0xC5 on the line it is wired to
@ Slot: a state word (0 free, 1 a good frame, 2 a bad one), then the frame as received:
    .equ F_CMD,    4            @ command
    .equ F_NSTEPS, 5            @ steps in the frame (run first)
    .equ F_LEN,    6            @ data bytes (16 bits)
    .equ F_DEST,   8            @ flash address / entry count
    .equ F_SEQ,    12           @ sequence number (16 bits), then two spare bytes
    .equ F_STEPS,  16           @ the steps, 16 bytes each, then the data, then CRC32 (LE)
    .equ HEADER,   12           @ header bytes of a frame
@ Step: kind, address, value, extra
    .equ STEP_STORE,  1         @ [ADDR] = VALUE
    .equ STEP_WAIT,   2         @ until ([ADDR] & VALUE) == 0; then ([ADDR] & EXTRA) != 0 fails
    .equ STEP_SKIP,   3         @ if ([ADDR] & VALUE) == 0, skip the next EXTRA steps
    .equ STEP_MODIFY, 4         @ [ADDR] = ([ADDR] & ~EXTRA) | VALUE
    .equ STEP_UNTIL,  5         @ until ([ADDR] & VALUE) == EXTRA
@ Commands (frame byte 0) and answers (one byte, then what the command returns):
    .equ CMD_PROGRAM0, 0x50     @ steps, then program LEN bytes at DEST with setup 0, and compare
    .equ CMD_PROGRAM1, 0x51     @ the same with setup 1 (the H7's second bank)
    .equ CMD_CHECK,    0x43     @ steps, then DEST entries {address, length}: CRC32 each, or with
                                @ length bit 31 1/0 = all erased or not; answers the words
    .equ CMD_READ,     0x52     @ steps, then the bytes of the entry {address, length}, then their CRC32
    .equ CMD_AFTER,    0x41     @ answer, then the steps (a new line format: the answer goes out in the old one)
    .equ ANS_OK,      0x00
    .equ ANS_FLASH,   0x02      @ + address, status word: a program unit failed
    .equ ANS_VERIFY,  0x03      @ + address, word read: a programmed byte reads back wrong
    .equ ANS_STEP,    0x04      @ + step address, word read: a wait ended with error flags
    .equ ANS_COMMAND, 0x05      @ + 8 zero bytes: unknown command
    .equ ANS_BAD,     0xEE      @ the frame's CRC or length was wrong: everything after it is
                                @ dropped until the host sends >= 4 x 0xA5 then 0x5A
    .equ ANS_RESYNC,  0x3C      @ ... which the stub answers with this byte
    .equ HELLO0, 0x53           @ 'S', the version, the chosen port's index: the stub is listening
    .equ VERSION, 0x02
    .equ RESIDUE, 0xDEBB20E3    @ the CRC32 register after a frame and its own CRC (LE)
    .equ IWDG_REFRESH, 0xAAAA
    .equ AIRCR, 0xE000ED0C
    .equ AIRCR_SYSRESET, 0x05FA0004 @ VECTKEY | SYSRESETREQ

    .syntax unified
    .thumb
    .text

vectors:
    .word 0                     @ MSP: the host puts the parameter block's address here
    .word entry - vectors + 1   @ entry, as an offset: the host adds the load address

entry:
    mov  r7, sp                 @ the parameter block
    ldr  r6, [r7, #P_SLOT0]
    ldr  r4, [r7, #P_INIT]
    ldr  r5, [r7, #P_NINIT]
    bl   run_steps              @ a failing init step has nobody to tell: its answer is lost
    bl   build_table
    ldr  r0, [r7, #P_SLOT0]
    str  r0, [r7, #P_RXSLOT]
    str  r0, [r7, #P_PROC]
    movs r1, #0
    str  r1, [r7, #P_RESYNC]
    str  r1, [r7, #P_DRAIN]
    subs r1, #1
    str  r1, [r7, #P_LAST]      @ the first frame carries sequence 0
    ldr  r2, [r7, #P_SLOTEND]
1:  movs r1, #0
    str  r1, [r0]
    ldr  r1, [r7, #P_STRIDE]
    adds r0, r1
    cmp  r0, r2
    blo  1b
    bl   new_frame

@ ---- which USART: the one the host's wake pair comes in on ----------------------------------------
@ The ROM put back every peripheral it used before the jump (AN3155 3.5), so nothing says which
@ USART and pins the host is wired to: the host's steps made every candidate receive, and the
@ first to receive the pair is the line. No pin is driven before that. Without the pair the stub
@ resets the chip, and the ROM (BOOT0 still high) answers the host again.
    ldr  r6, [r7, #P_WAKE]
wake_round:
    ldr  r4, [r7, #P_PORTS]
    ldr  r5, [r7, #P_NPORTS]
1:  ldr  r0, [r4, #PORT_SR]
    ldr  r1, [r0]
    ldr  r2, [r7, #P_RXNE]
    tst  r1, r2
    beq  3f
    ldr  r2, [r4, #PORT_RDR]
    ldr  r0, [r2]               @ (after SR: this also clears the F1/F2/F4 error flags)
    uxtb r0, r0
    ldr  r2, [r7, #P_ERRS]
    ands r1, r2
    beq  2f
    movs r0, #0                 @ a damaged character breaks the pair
    ldr  r2, [r4, #PORT_ICR]
    cmp  r2, #0
    beq  2f
    str  r1, [r2]
2:  ldr  r1, [r4, #PORT_LAST]
    lsls r1, r1, #8
    orrs r1, r0
    uxth r1, r1
    str  r1, [r4, #PORT_LAST]
    ldr  r2, =WAKE
    cmp  r1, r2
    beq  chosen
3:  adds r4, #PORT_SIZE
    subs r5, #1
    bne  1b
    bl   kick
    subs r6, #1
    bne  wake_round
    ldr  r0, =AIRCR             @ nobody called
    ldr  r1, =AIRCR_SYSRESET
    dsb
    str  r1, [r0]
    dsb
    b    .
    .ltorg
chosen:
    ldr  r0, [r4, #PORT_SR]
    str  r0, [r7, #P_SR]
    ldr  r0, [r4, #PORT_RDR]
    str  r0, [r7, #P_RDR]
    ldr  r0, [r4, #PORT_TDR]
    str  r0, [r7, #P_TDR]
    ldr  r0, [r4, #PORT_ICR]
    str  r0, [r7, #P_ICR]
    ldr  r0, [r7, #P_PORTS]
    subs r6, r4, r0
    lsrs r6, r6, #5             @ its index (PORT_SIZE = 32)
    ldr  r5, [r4, #PORT_NTX]
    ldr  r4, [r4, #PORT_TX]
    bl   run_steps              @ its TX pin
    movs r0, #HELLO0
    bl   send
    movs r0, #VERSION
    bl   send
    movs r0, r6
    bl   send

@ ---- the frames, in the order they came ----------------------------------------------------------
main:
    ldr  r6, [r7, #P_PROC]
1:  ldr  r0, [r6]
    cmp  r0, #0
    bne  2f
    bl   kick
    bl   poll
    b    1b
2:  ldr  r1, [r7, #P_DRAIN]
    cmp  r1, #0
    bne  drop
    cmp  r0, #1
    bne  bad_frame
    ldrb r0, [r6, #F_CMD]       @ sums and reads change nothing: they are done again
    cmp  r0, #CMD_CHECK
    beq  2f
    cmp  r0, #CMD_READ
    beq  2f
    ldrh r0, [r6, #F_SEQ]       @ a frame already done (its answer was lost): answer, do nothing
    ldr  r1, [r7, #P_LAST]
    subs r0, r1
    uxth r0, r0
    beq  duplicate
    lsrs r1, r0, #15
    bne  duplicate
1:  ldrh r0, [r6, #F_SEQ]
    str  r0, [r7, #P_LAST]
2:  movs r4, r6
    adds r4, #F_STEPS
    ldrb r5, [r6, #F_NSTEPS]
    ldrb r0, [r6, #F_CMD]
    cmp  r0, #CMD_AFTER
    bne  1f
    b    after
1:  bl   run_steps              @ returns only when they all ran
    ldrb r0, [r6, #F_CMD]
    cmp  r0, #CMD_PROGRAM0
    beq  program
    cmp  r0, #CMD_PROGRAM1
    beq  program
    cmp  r0, #CMD_CHECK
    bne  1f
    b    check
1:  cmp  r0, #CMD_READ
    bne  1f
    b    read
1:  movs r0, #ANS_COMMAND
    movs r1, #0
    movs r2, #0
    b    answer_error
duplicate:
    movs r0, #ANS_OK
    bl   send
next:
    bl   free_slot
    b    main

bad_frame:                      @ tell the host once, then drop frames until it resynchronises
    movs r0, #ANS_BAD
    bl   send
    movs r0, #1
    str  r0, [r7, #P_DRAIN]
drop:
    bl   free_slot
drain_wait:                     @ every frame received is dropped; done when the stub is framing
    ldr  r0, [r7, #P_RESYNC]    @ again and has nothing of a frame that began before
    cmp  r0, #0
    bne  1f
    ldr  r0, [r7, #P_RXSLOT]
    cmp  r0, r6
    bne  1f
    ldr  r0, [r6]
    cmp  r0, #0
    bne  1f
    movs r0, #0
    str  r0, [r7, #P_DRAIN]
    movs r0, #ANS_RESYNC
    bl   send
    b    main
1:  ldr  r0, [r6]
    cmp  r0, #0
    bne  drop
    bl   kick
    bl   poll
    b    drain_wait

@ free_slot: the slot r6 is free again; r6 = the next one (also in P_PROC); clobbers r0, r1
free_slot:
    push {lr}
    movs r0, #0
    str  r0, [r6]
    movs r0, r6
    bl   slot_after
    movs r6, r0
    str  r6, [r7, #P_PROC]
    pop  {pc}

@ slot_after: r0 = the slot after slot r0 (the slots are a ring); clobbers r1
slot_after:
    ldr  r1, [r7, #P_STRIDE]
    adds r0, r1
    ldr  r1, [r7, #P_SLOTEND]
    cmp  r0, r1
    blo  1f
    ldr  r0, [r7, #P_SLOT0]
1:  bx   lr

@ r0 = answer code, r1 = address, r2 = word: the answer, then the next frame
answer_error:
    push {r1, r2}
    bl   send
    pop  {r0}
    bl   send_word
    pop  {r0}
    bl   send_word
    b    next

@ ---- program: r6 slot ----------------------------------------------------------------------------
@ Across the waits (poll keeps r4-r7 and no routine touches r8-r11): r4 source, r5 flash, r8 setup,
@ r9 end of the data, r10 SR address, r11 BUSY. A unit's stores go out first; the watchdog and the
@ line are served while the controller programs it, and the next unit follows once BSY clears.
program:
    ldr  r0, [r7, #P_SETUPS]
    ldrb r1, [r6, #F_CMD]
    lsls r1, r1, #31
    beq  1f
    adds r0, #20
1:  mov  r8, r0
    ldr  r1, [r0, #0]
    mov  r10, r1                @ SR
    ldr  r1, [r0, #4]
    mov  r11, r1                @ BUSY
    ldrb r4, [r6, #F_NSTEPS]
    lsls r4, r4, #4
    adds r4, #F_STEPS
    adds r4, r6                 @ data
    ldrh r1, [r6, #F_LEN]
    adds r1, r4
    mov  r9, r1
    ldr  r5, [r6, #F_DEST]
unit:
    cmp  r4, r9
    bhs  compare
    mov  r0, r8
    ldr  r3, [r0, #16]          @ UNIT bytes
    ldr  r0, [r0, #12]          @ WIDTH
    cmp  r0, #4
    bne  3f
    lsls r0, r3, #29
    bne  2f
1:  ldm  r4!, {r0, r1}          @ whole double words: two words a turn
    str  r0, [r5]
    str  r1, [r5, #4]
    adds r5, #8
    subs r3, #8
    bne  1b
    b    6f
2:  ldm  r4!, {r0}
    str  r0, [r5]
    adds r5, #4
    subs r3, #4
    bne  2b
    b    6f
3:  cmp  r0, #2
    beq  5f
4:  ldrb r0, [r4]
    strb r0, [r5]
    adds r4, #1
    adds r5, #1
    subs r3, #1
    bne  4b
    b    6f
5:  ldrh r0, [r4]
    strh r0, [r5]
    adds r4, #2
    adds r5, #2
    subs r3, #2
    bne  5b
6:  dsb                         @ the stores reach the controller before SR is read
    bl   kick
7:  mov  r0, r10
    ldr  r0, [r0]
    mov  r1, r11
    tst  r0, r1
    beq  8f
    bl   poll
    b    7b
8:  mov  r1, r8
    ldr  r1, [r1, #8]           @ ERRMASK
    tst  r0, r1
    beq  unit
    movs r2, r0                 @ the unit that failed: its first address, and the status word
    mov  r1, r8
    ldr  r1, [r1, #16]
    subs r1, r5, r1
    movs r0, #ANS_FLASH
    b    answer_error
compare:                        @ every word as the flash now reads it (whole units: whole words),
    ldrb r4, [r6, #F_NSTEPS]    @ two a turn; r4 source and r5 flash stay in registers across poll,
    lsls r4, r4, #4             @ r12 = the last address where two words still fit
    adds r4, #F_STEPS
    adds r4, r6
    ldr  r5, [r6, #F_DEST]
    mov  r0, r9
    subs r0, #8
    mov  r12, r0
1:  cmp  r4, r12
    bhi  2f
    ldm  r4!, {r0, r1}
    ldm  r5!, {r2, r3}
    cmp  r0, r2
    bne  4f
    cmp  r1, r3
    bne  5f
    lsls r0, r5, #27            @ every 32 bytes (bits 4:3 of r5 clear; r5 may be 4 mod 8): the
    lsrs r0, r0, #30            @ line, a character every ~170 cycles at 921600
    bne  1b
    bl   poll
    b    1b
2:  cmp  r4, r9                 @ a last single word
    bhs  3f
    ldm  r4!, {r1}
    ldm  r5!, {r2}
    cmp  r1, r2
    beq  3f
    b    6f
3:  movs r0, #ANS_OK
    bl   send
    b    next
4:  movs r1, r0                 @ the first of the two differs
    movs r3, r2
    subs r5, #4
5:  movs r2, r3
6:  subs r5, #4                 @ r5 the word that differs, r1 and r2 its two values: the first
    eors r1, r2                 @ byte that does
7:  lsls r0, r1, #24
    bne  8f
    lsrs r1, r1, #8
    lsrs r2, r2, #8
    adds r5, #1
    b    7b
8:  movs r1, r5
    uxtb r2, r2
    movs r0, #ANS_VERIFY
    b    answer_error

@ ---- check: DEST entries after the steps ------------------------------------------------------------
check:
    movs r0, #ANS_OK
    bl   send
    ldrb r4, [r6, #F_NSTEPS]
    lsls r4, r4, #4
    adds r4, #F_STEPS
    adds r4, r6                 @ entries
    ldr  r5, [r6, #F_DEST]      @ their number
1:  cmp  r5, #0
    beq  2f
    ldr  r1, [r4, #0]
    ldr  r2, [r4, #4]
    push {r4, r5}
    bl   sum_range
    bl   send_word
    pop  {r4, r5}
    adds r4, #8
    subs r5, #1
    b    1b
2:  b    next

@ ---- read: one entry after the steps; the words, then their CRC32 ------------------------------------
read:
    movs r0, #ANS_OK
    bl   send
    ldrb r4, [r6, #F_NSTEPS]
    lsls r4, r4, #4
    adds r4, #F_STEPS
    adds r4, r6
    ldr  r1, [r4, #0]
    ldr  r2, [r4, #4]
    push {r1, r2}
1:  cmp  r2, #0
    beq  2f
    ldrb r0, [r1]
    push {r1, r2}
    bl   send
    pop  {r1, r2}
    adds r1, #1
    subs r2, #1
    b    1b
2:  pop  {r1, r2}
    bl   sum_range
    bl   send_word
    b    next

@ ---- after: the answer, then the steps (r4, r5) once it has left the transmitter -------------------
after:
    bl   answered
    bl   run_steps
    b    next

@ r1 address, r2 length (bit 31: blank check) -> r0; clobbers r0-r5. The moving address stays in
@ r4 across poll (which keeps r4-r6): a status read now and then inside a loop that works
sum_range:
    push {r6, lr}
    movs r4, r1
    lsls r0, r2, #1
    bcc  crc_range
    lsrs r6, r0, #1
    adds r6, r4                 @ end
    ldr  r5, [r7, #P_ERASED]
1:  lsls r0, r4, #28            @ one word at a time up to a 16-byte boundary
    beq  2f
    cmp  r4, r6
    bhs  5f
    ldm  r4!, {r0}
    cmp  r0, r5
    bne  6f
    b    1b
2:  subs r0, r6, r4             @ then four words a turn
    cmp  r0, #16
    blo  4f
    ldm  r4!, {r0, r1, r2, r3}
    eors r0, r5
    eors r1, r5
    eors r2, r5
    eors r3, r5
    orrs r0, r1
    orrs r0, r2
    orrs r0, r3
    bne  6f
    lsls r0, r4, #27            @ every 32 bytes: the line
    bne  2b
    bl   poll
    b    2b
4:  cmp  r4, r6                 @ and the last ones one at a time
    bhs  5f
    ldm  r4!, {r0}
    cmp  r0, r5
    bne  6f
    b    4b
5:  movs r0, #1
    pop  {r6, pc}
6:  movs r0, #0
    pop  {r6, pc}
crc_range:                      @ a byte at a time up to a word boundary, words, then the last bytes
    adds r6, r2, r4             @ end
    ldr  r5, [r7, #P_TABLE]
    movs r0, #0
    mvns r0, r0
1:  lsls r3, r4, #30
    beq  3f
2:  cmp  r4, r6
    bhs  9f
    ldrb r3, [r4]
    adds r4, #1
    eors r3, r0
    uxtb r3, r3
    lsls r3, r3, #2
    ldr  r3, [r5, r3]
    lsrs r0, r0, #8
    eors r0, r3
    b    1b
3:  subs r3, r6, r4
    cmp  r3, #4
    blo  2b                     @ (fewer than four left: the byte loop ends at r6)
    ldm  r4!, {r1}              @ crc ^= word, then four table steps (reflected: low byte first)
    eors r0, r1
    .rept 4
    uxtb r3, r0
    lsls r3, r3, #2
    ldr  r3, [r5, r3]
    lsrs r0, r0, #8
    eors r0, r3
    .endr
    lsls r3, r4, #28            @ every 16 bytes: the line (and the watchdog)
    bne  3b
    push {r0}
    bl   kick
    bl   poll
    pop  {r0}
    b    3b
9:  mvns r0, r0
    pop  {r6, pc}

@ ---- steps: r4 first, r5 count; clobbers r0-r3 -----------------------------------------------------
run_steps:
    push {lr}
steps_loop:
    cmp  r5, #0
    beq  9f
    bl   poll                   @ a character every ~170 cycles at 921600 on a 16 MHz core
    ldr  r0, [r4, #0]
    ldr  r1, [r4, #4]
    ldr  r2, [r4, #8]
    cmp  r0, #STEP_STORE
    bne  2f
    str  r2, [r1]
    dsb                         @ the store is done before the next step reads anything
    b    8f
2:  cmp  r0, #STEP_MODIFY
    bne  3f
    ldr  r0, [r1]
    ldr  r3, [r4, #12]
    bics r0, r3
    orrs r0, r2
    str  r0, [r1]
    dsb
    b    8f
3:  cmp  r0, #STEP_SKIP
    bne  4f
    ldr  r0, [r1]
    tst  r0, r2
    bne  8f
    ldr  r3, [r4, #12]
    cmp  r3, r5
    blo  0f
    subs r3, r5, #1             @ never past the end
0:  lsls r0, r3, #4
    adds r4, r0
    subs r5, r3
    b    8f
4:  cmp  r0, #STEP_UNTIL
    bne  5f
7:  ldr  r1, [r4, #4]
    ldr  r2, [r4, #8]
    ldr  r0, [r1]
    ands r0, r2
    ldr  r3, [r4, #12]
    cmp  r0, r3
    beq  8f
    bl   kick
    bl   poll
    b    7b
5:  ldr  r0, [r1]               @ STEP_WAIT
    tst  r0, r2
    beq  6f
    bl   kick
    bl   poll
    ldr  r1, [r4, #4]
    ldr  r2, [r4, #8]
    b    5b
6:  ldr  r3, [r4, #12]
    tst  r0, r3
    beq  8f
    movs r2, r0                 @ a wait that ended with error flags: say which step, and the word
    movs r1, r4
    movs r0, #ANS_STEP
    pop  {r3}                   @ (the caller's return is not needed: on to the answer)
    b    answer_error
8:  adds r4, #16
    subs r5, #1
    b    steps_loop
9:  pop  {pc}

@ ---- the line -----------------------------------------------------------------------------------
@ poll: take what the USART received into the frame being received; clobbers r0-r3 only
poll:
    push {r4, r5, r6, lr}
poll_loop:
    ldr  r0, [r7, #P_SR]
    ldr  r1, [r0]
    ldr  r2, [r7, #P_RXNE]
    tst  r1, r2
    bne  2f
    pop  {r4, r5, r6, pc}
2:  ldr  r2, [r7, #P_RDR]
    ldr  r0, [r2]               @ (after SR: this also clears the F1/F2/F4 error flags)
    uxtb r0, r0
    ldr  r2, [r7, #P_ERRS]
    ands r1, r2
    beq  3f
    ldr  r2, [r7, #P_RXERR]
    orrs r2, r1
    str  r2, [r7, #P_RXERR]
    ldr  r2, [r7, #P_ICR]
    cmp  r2, #0
    beq  3f
    str  r1, [r2]               @ ICR: the same bit positions as ISR for PE FE NE ORE
3:  ldr  r1, [r7, #P_RESYNC]
    cmp  r1, #0
    bne  resync_byte
    ldr  r4, [r7, #P_RXSLOT]
    ldr  r5, [r7, #P_RXPOS]
    adds r2, r4, r5
    strb r0, [r2, #F_CMD]
    adds r5, #1
    str  r5, [r7, #P_RXPOS]
    ldr  r1, [r7, #P_RXCRC]     @ crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    eors r0, r1
    uxtb r0, r0
    lsls r0, r0, #2
    ldr  r2, [r7, #P_TABLE]
    ldr  r0, [r2, r0]
    lsrs r1, r1, #8
    eors r1, r0
    str  r1, [r7, #P_RXCRC]
    ldr  r6, [r7, #P_RXNEED]
    cmp  r5, #4
    bne  5f
    ldrb r0, [r4, #F_NSTEPS]    @ the header says how long the frame is
    lsls r0, r0, #4
    ldrb r1, [r4, #F_LEN]
    adds r0, r1
    ldrb r1, [r4, #F_LEN + 1]
    lsls r1, r1, #8
    adds r0, r1
    adds r0, #HEADER + 4
    ldr  r1, [r7, #P_MAXFRAME]
    cmp  r0, r1
    bls  4f
    ldr  r1, [r7, #P_RXERR]     @ longer than a slot: it ends here, bad
    movs r0, #1
    lsls r0, r0, #31
    orrs r1, r0
    str  r1, [r7, #P_RXERR]
    movs r0, #4
4:  str  r0, [r7, #P_RXNEED]
    movs r6, r0
5:  cmp  r5, r6
    bne  poll_loop
    movs r0, #1                 @ complete: good when its CRC and the line were
    ldr  r1, [r7, #P_RXCRC]
    ldr  r2, =RESIDUE
    cmp  r1, r2
    bne  6f
    ldr  r1, [r7, #P_RXERR]
    cmp  r1, #0
    beq  7f
6:  movs r0, #2
    movs r1, #1
    str  r1, [r7, #P_RESYNC]    @ (>0: nothing is framed until the host resynchronises)
7:  str  r0, [r4]
    movs r0, r4
    bl   slot_after
    str  r0, [r7, #P_RXSLOT]
    bl   new_frame
    b    poll_loop
resync_byte:                    @ r1 = 1 + the 0xA5 bytes seen in a row
    cmp  r0, #0xA5
    bne  1f
    adds r1, #1
    str  r1, [r7, #P_RESYNC]
    b    poll_again
1:  cmp  r0, #0x5A
    bne  2f
    cmp  r1, #5
    blo  2f
    movs r1, #0
    str  r1, [r7, #P_RESYNC]
    bl   new_frame
    b    poll_again
2:  movs r1, #1
    str  r1, [r7, #P_RESYNC]
poll_again:
    b    poll_loop

new_frame:                      @ clobbers r0
    movs r0, #0
    str  r0, [r7, #P_RXPOS]
    str  r0, [r7, #P_RXNEED]
    str  r0, [r7, #P_RXERR]
    mvns r0, r0
    str  r0, [r7, #P_RXCRC]
    bx   lr

@ send: the byte r0 once the transmitter is free (receiving meanwhile); clobbers r0-r3
send:
    push {r4, lr}
    movs r4, r0
1:  ldr  r0, [r7, #P_SR]
    ldr  r0, [r0]
    ldr  r1, [r7, #P_TXE]
    tst  r0, r1
    bne  2f
    bl   poll
    b    1b
2:  ldr  r1, [r7, #P_TDR]
    str  r4, [r1]
    pop  {r4, pc}

@ answered: ANS_OK, and wait until its stop bit is out (TC); clobbers r0-r3
answered:
    push {lr}
    movs r0, #ANS_OK
    bl   send
    ldr  r0, [r7, #P_SR]
    movs r2, #0x40              @ TC (bit 6 in SR and ISR alike)
1:  ldr  r1, [r0]
    tst  r1, r2
    beq  1b
    pop  {pc}

@ send_word: r0 little-endian; clobbers r0-r3
send_word:
    push {r4, r5, lr}
    movs r4, r0
    movs r5, #4
1:  uxtb r0, r4
    bl   send
    lsrs r4, r4, #8
    subs r5, #1
    bne  1b
    pop  {r4, r5, pc}

@ kick: refresh the watchdog when one runs; clobbers r0, r1
kick:
    ldr  r0, [r7, #P_KICK]
    cmp  r0, #0
    beq  1f
    ldr  r1, =IWDG_REFRESH
    str  r1, [r0]
1:  bx   lr

@ the CRC32 table (zlib: reflected 0xEDB88320); clobbers r0-r5. The table is linear (T[a ^ b] =
@ T[a] ^ T[b]): eight entries for the powers of two by the bitwise rule, every other one from two
@ that are already there, so the stub listens sooner after Go (some 4 000 cycles, not 15 000)
build_table:
    ldr  r5, [r7, #P_TABLE]
    movs r0, #0
    str  r0, [r5]               @ T[0]
    ldr  r1, =0xEDB88320
    movs r3, r1                 @ T[0x80]
    movs r2, #0x80
1:  lsls r4, r2, #2
    str  r3, [r5, r4]
    lsrs r3, r3, #1             @ T[i / 2] from T[i]: one more step of the bitwise rule
    bcc  2f
    eors r3, r1
2:  lsrs r2, r2, #1
    bne  1b
    movs r2, #3                 @ (1 and 2 are powers of two)
3:  negs r0, r2
    ands r0, r2                 @ the lowest bit of i
    cmp  r0, r2
    beq  4f
    lsls r3, r0, #2
    ldr  r3, [r5, r3]
    eors r0, r2                 @ the other bits
    lsls r0, r0, #2
    ldr  r0, [r5, r0]
    eors r3, r0
    lsls r0, r2, #2
    str  r3, [r5, r0]
4:  adds r2, #1
    lsrs r0, r2, #8
    beq  3b
    bx   lr

    .ltorg
