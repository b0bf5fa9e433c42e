"""Memory images and the firmware file formats they are read from and written to."""

from .file import DfuSuffix, ImageFile, Target
from .io import detect_format, load, save
from .model import Image, Segment

__all__ = ["DfuSuffix", "Image", "ImageFile", "Segment", "Target", "detect_format", "load", "save"]
