"""The bench's USB bus: descriptors, simulated devices and a pyusb backend over them."""
