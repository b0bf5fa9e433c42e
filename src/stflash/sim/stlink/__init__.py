"""The simulated ST-LINK: its USB command set, the SWD debug port and access ports behind it."""
