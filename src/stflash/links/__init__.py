"""Wire protocols: ST-LINK (SWD over USB), USB DFU (DfuSe) and the UART bootloader (AN3155)."""
