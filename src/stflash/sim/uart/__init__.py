"""The chip's USART system bootloader (AN3155) on the bench.

* ``bootloader``: the ROM as a byte-level state machine over a ``Bench`` (``receive``, ``present``);
* ``baud``: the rate the ROM sets from the host's 0x7F (software or hardware detection, AN2606);
* ``line``: the wire between a host and the ROM on the virtual clock (characters, turnarounds,
  injected faults, other frame formats), and after a Go into RAM between the host and USART1;
* ``ramcode``: the ROM's jump into RAM and running that code while the host waits;
* ``protocol_stflashsim``: the pyserial URL handler ``stflashsim://DIR`` (append
  ``"stflash.sim.uart"`` to ``serial.protocol_handler_packages``);
* ``serve``: the bench's UART on a pseudo-terminal (``stflash sim serve DIR --uart``).
"""

from __future__ import annotations

URL_HANDLER_PACKAGE = __name__  # for serial.protocol_handler_packages
