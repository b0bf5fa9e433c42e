"""USB DFU (DfuSe) link: the STM32 system bootloader on the chip's own USB port."""
