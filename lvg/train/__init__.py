"""One training loop for every model: checkpoints, exact resume, DDP, logging, NaN guard.

- :mod:`lvg.train.loop`: the generic loop (:class:`~lvg.train.loop.Algorithm` protocol, real-data stream,
  metrics CSV, sample videos, checkpoints, NaN guard).
- :mod:`lvg.train.checkpoint`: safetensors + JSON checkpoints, atomic, newest usable one found by scanning.
- :mod:`lvg.train.distributed`: torchrun init, rank helpers, gradient all-reduce, replica sync check.
- :mod:`lvg.train.ema`: G_ema with the reference's half-life warm-up.
- :mod:`lvg.train.lowres`: the low-resolution GAN (paper Sec. 3.1, spec model.md §4) and its phase entry
  point :func:`~lvg.train.lowres.run_train_lowres`.

``python -m lvg.train lowres ...`` is the command-line entry, for ``torchrun`` too.
"""
