@ The bench's scenario firmware: one position-independent Thumb program (ARMv6-M subset, so every
@ STM32 core runs it) driven by a table the bench appends for each part and scenario.
@
@ Table, right after the code (word aligned):
@   .word delay     loop iterations before acting (two cycles each in the core model)
@   .word count     number of register writes that follow
@   count x { .word address, .word clear, .word set }      *address = (*address & ~clear) | set
@   .word finish    0: stay in "b .", 1: deep sleep (SCR.SLEEPDEEP, WFI), 2: lock up (UDF with
@                   no HardFault handler: the vector table holds 0 there)
@
@ Build (the bytes are committed in __init__.py; tests/sim/test_core_scenarios.py rebuilds them):
@   arm-none-eabi-as -mcpu=cortex-m0 -mthumb scenario.s -o scenario.o
@   arm-none-eabi-ld -Ttext=0x08000040 --entry=0 -o scenario.elf scenario.o
@   arm-none-eabi-objcopy -O binary scenario.elf scenario.bin
    .syntax unified
    .thumb
reset:
    adr  r7, table
    ldr  r0, [r7]
1:  subs r0, #1
    bne  1b
    ldr  r1, [r7, #4]
    adds r7, #8
2:  cmp  r1, #0
    beq  3f
    ldr  r2, [r7]
    ldr  r3, [r2]
    ldr  r4, [r7, #4]
    bics r3, r4
    ldr  r4, [r7, #8]
    orrs r3, r4
    str  r3, [r2]
    adds r7, #12
    subs r1, #1
    b    2b
3:  ldr  r0, [r7]
    cmp  r0, #1
    beq  sleep
    cmp  r0, #2
    beq  lockup
spin:
    b    spin
sleep:
    ldr  r2, =0xE000ED10    @ SCR
    movs r3, #4             @ SLEEPDEEP
    str  r3, [r2]
4:  wfi
    b    4b
lockup:
    udf  #0
    .ltorg
    .align 2
table:
