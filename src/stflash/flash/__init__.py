"""Flash planning and the per-family flash controller drivers used through a debug probe."""

from .plan import FlashPlan, SectorWork, check_fits, check_range, plan_write

__all__ = ["FlashPlan", "SectorWork", "check_fits", "check_range", "plan_write"]
