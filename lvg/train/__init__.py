"""One training loop for every model: checkpoints, exact resume, DDP, logging, NaN guard.

- :mod:`lvg.train.loop`: the generic loop (:class:`~lvg.train.loop.Algorithm` protocol, real-data stream,
  metrics CSV, sample videos, checkpoints, NaN guard).
- :mod:`lvg.train.gan`: the GAN step's shared pieces (losses, R1, lazy-R1 Adam, batch split, RNG streams,
  the :class:`~lvg.train.gan.GANAlgorithm` base).
- :mod:`lvg.train.section`: what every training config section shares (fields from the schema).
- :mod:`lvg.train.checkpoint`: safetensors + JSON checkpoints, atomic, newest usable one found by scanning.
- :mod:`lvg.train.distributed`: torchrun init, rank helpers, gradient all-reduce, replica sync check.
- :mod:`lvg.train.ema`: G_ema with the reference's half-life warm-up.
- :mod:`lvg.train.lowres`: the low-resolution GAN (paper Sec. 3.1, spec model.md §4) and its phase entry
  point :func:`~lvg.train.lowres.run_train_lowres`.
- :mod:`lvg.train.superres`: the super-resolution GAN (spec model.md §6-8),
  :func:`~lvg.train.superres.run_train_superres`.

The baselines train through the same loop (:mod:`lvg.baselines`). ``python -m lvg.train <model> ...`` is
the command-line entry, for ``torchrun`` too.
"""
