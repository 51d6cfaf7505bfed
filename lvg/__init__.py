"""lvg: LongVideoGAN as a reproducible research workflow."""

__version__ = "0.1.0"
