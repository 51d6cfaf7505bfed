"""Compact clean-room baselines (spec evaluation.md §5): StyleGAN-V-lite and DIGAN-lite
(:mod:`lvg.baselines.styleganv`, :mod:`lvg.baselines.digan`), MoCoGAN-HD-lite (:mod:`lvg.baselines.mocoganhd`)
and TATS-lite (:mod:`lvg.baselines.tats`).

No upstream code is copied (licences forbid it); each model is written from the papers' descriptions with
the project's own layers (:mod:`lvg.nn.layers`, :mod:`lvg.lowres.discriminator`) and trained through the
shared loop (:mod:`lvg.train.loop`) by :mod:`lvg.baselines.train`.
"""

METHODS = ("styleganv", "digan", "mocoganhd", "tats")  # config keys baselines.<method>; modules lvg.baselines.<method>
