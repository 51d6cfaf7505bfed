"""Compact clean-room baselines (spec evaluation.md §5): StyleGAN-V-lite, DIGAN-lite (config room for MoCoGAN-HD, TATS).

No upstream code is copied (licences forbid it); each model is written from the papers' descriptions with
the project's own layers (:mod:`lvg.nn.layers`, :mod:`lvg.lowres.discriminator`) and trained through the
shared loop (:mod:`lvg.train.loop`) by :mod:`lvg.baselines.train`.
"""
