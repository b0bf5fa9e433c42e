"""Unmodified libusb programs (st-flash, st-info, dfu-util ...) on the bench's USB devices.

``stflash sim run DIR -- COMMAND`` runs COMMAND under umockdev's preload library: a fake sysfs and
``/dev/bus/usb`` hold the bench's ST-LINK and (while the chip runs its bootloader) its DFU device,
and every usbdevfs ioctl the program makes on those nodes is answered by the bench's device models,
the same objects the pyusb backend serves.

Two processes share the work, because umockdev's GObject bindings (``gi``) live in Debian's own
``/usr/bin/python3`` while stflash may be installed in another interpreter:

* the *bench side* (:mod:`.bridge`, in the stflash process) owns the bench: which devices are on the
  bus, their descriptors, and each transfer on the device models;
* the *testbed side* (:mod:`.testbed`, in an interpreter that has ``gi``) builds the umockdev
  testbed, runs the program, turns its URBs into transfers for the bench side and the answers back
  into URBs.

They talk over a socket pair with the frames of :mod:`.frames`; :mod:`.run` starts them.
"""
