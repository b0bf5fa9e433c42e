"""Diagnosis and recovery, built on the links: what a board's answers mean, and the ladder that
brings it back (``stflash probe``'s diagnosis, ``stflash recover``, the target part of ``doctor``)."""

from ..errors import ConsentRequiredError
from .diagnose import Cause, Diagnosis, diagnose
from .ladder import RecoverOptions, recover
from .report import RecoveryReport, Step

__all__ = ["Cause", "ConsentRequiredError", "Diagnosis", "RecoverOptions", "RecoveryReport", "Step", "diagnose",
           "recover"]
