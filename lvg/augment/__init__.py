"""Augmentations for the discriminators: DiffAugment and time stretching (spec model.md §5)."""

from lvg.augment.diffaugment import (
    DIFFAUGMENT_POLICY,
    DiffAugmentParams,
    diff_augment,
    sample_diffaugment_params,
)
from lvg.augment.pipeline import VideoAugment, VideoAugmentParams
from lvg.augment.time_stretch import TimeStretchParams, sample_time_stretch_params, time_stretch

__all__ = [
    "DIFFAUGMENT_POLICY",
    "DiffAugmentParams",
    "TimeStretchParams",
    "VideoAugment",
    "VideoAugmentParams",
    "diff_augment",
    "sample_diffaugment_params",
    "sample_time_stretch_params",
    "time_stretch",
]
