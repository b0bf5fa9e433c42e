"""The virtual bench: simulated ST-LINK, DFU and UART bootloaders on simulated STM32s."""
