"""The simulated USB DFU (DfuSe) system bootloader."""
